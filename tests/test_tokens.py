"""Language models look like language models: token ids in, the likeliest next tokens out,
tokens x features activations, per-head attention of ``scaled_dot_product_attention``, and no
health badge on a freshly built GPT-2 or Llama (tiny configs, built with no download)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import nnviz_widget as nnv  # noqa: E402
from nnviz_widget.snapshot import INIT_EPOCH  # noqa: E402
from nnviz_widget.wire import decode_snapshot, encode_snapshot  # noqa: E402

from .models_hf import tiny_gpt2, tiny_llama  # noqa: E402

pytestmark = pytest.mark.torch

VOCAB = 100


class FakeTokenizer:
    """What the widget needs of a tokenizer: ``decode(ids)`` (Hugging Face's, one id at a time)."""

    def __init__(self) -> None:
        self.calls = 0

    def decode(self, ids: list[int]) -> str:
        self.calls += 1
        return "".join(f" w{i}" for i in ids)


class ConvertOnly:
    """A tokenizer with only ``convert_ids_to_tokens`` (returns the tokens' own spelling)."""

    def convert_ids_to_tokens(self, ids: list[int]) -> list[str]:
        return [f"Ġt{i}" for i in ids]


def _gpt2(attn: str = "sdpa") -> Any:
    return tiny_gpt2(vocab=VOCAB, attn=attn).eval()


def _llama(attn: str = "sdpa") -> Any:
    return tiny_llama(vocab=VOCAB, attn=attn).eval()


MODELS = [_gpt2, _llama]
IDS = ["gpt2", "llama"]


def _ids(b: int = 3, t: int = 7) -> Any:
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, VOCAB, (b, t), generator=g)


class LM:
    """One model, its probe ids, its tokenizer and its view, built once per module (export is
    the slow part); tests that train build their own."""

    def __init__(self, make: Any) -> None:
        self.make, self.model, self.ids, self.tok = make, make(), _ids(), FakeTokenizer()
        self.viz = nnv.NNViz(self.model, inputs=self.ids, tokenizer=self.tok)


@pytest.fixture(scope="module", params=MODELS, ids=IDS)
def lm(request: Any) -> LM:
    return LM(request.param)


def test_token_probe_is_tokens_not_an_image(lm: LM) -> None:
    probe, ids = lm.viz._probe, lm.ids
    assert probe["image_shape"] is None
    assert probe["tokens"]["ids"] == ids.tolist()
    assert probe["tokens"]["text"] == [[f" w{i}" for i in row] for row in ids.tolist()]


def test_without_a_tokenizer_the_ids_alone() -> None:
    from torch import nn

    ids = _ids()
    viz = nnv.NNViz(nn.Sequential(nn.Embedding(VOCAB, 4), nn.Linear(4, 2)), inputs=ids)
    assert viz._probe["tokens"] == {"ids": ids.tolist(), "text": None, "task": "next"}
    assert viz._probe["image_shape"] is None


def test_the_task_says_next_token_or_per_position_target() -> None:
    """What the output at a position is, for the view's words: the next token (no targets, the
    ids themselves as Hugging Face takes them, or the ids shifted by one) or a per-position target
    (a reverser's), sent with the targets so the view can mark each position right or wrong."""
    from torch import nn

    from nnviz_widget.probe import token_task

    ids = _ids().numpy()
    assert token_task(ids, None, 2) == {"task": "next"}
    assert token_task(ids, ids, 2) == {"task": "next"}
    shifted = np.concatenate([ids[:, 1:], np.full((len(ids), 1), -100)], axis=1)
    assert token_task(ids, shifted, 2) == {"task": "next"}
    assert token_task(ids, ids[:, :3], 2) == {"task": "next"}  # not one target per position
    rev = ids[:, ::-1].copy()
    assert token_task(ids, rev, 2) == {"task": "position", "targets": rev[:2].tolist()}
    model = nn.Sequential(nn.Embedding(VOCAB, 4), nn.Linear(4, VOCAB))
    viz = nnv.NNViz(model, inputs=_ids(), labels=_ids().flip(1))
    assert viz._probe["tokens"]["task"] == "position"
    assert viz._probe["tokens"]["targets"] == _ids().flip(1).tolist()
    assert viz._probe["labels"] is None  # still no one label per sample


def test_tokenizer_text_prefers_decode_then_convert_ids_to_tokens() -> None:
    from nnviz_widget.probe import TokenText

    assert TokenText(FakeTokenizer())([3, 4]) == [" w3", " w4"]
    assert TokenText(ConvertOnly())(np.array([[5]])) == ["Ġt5"]


def test_a_tokenizer_without_either_method_is_one_clear_error() -> None:
    with pytest.raises(TypeError, match=r"decode\(ids\) or convert_ids_to_tokens"):
        nnv.NNViz(_gpt2(), inputs=_ids(), tokenizer=object())


def test_the_prediction_is_the_top_tokens_per_position(lm: LM) -> None:
    model, ids, tok, viz = lm.model, lm.ids, lm.tok, lm.viz
    with torch.no_grad():
        logits = model(ids).logits
    probs = torch.softmax(logits, -1)
    top_p, top_i = probs.topk(3, dim=-1)
    got_i, got_p = viz.history.next_tokens(INIT_EPOCH)
    assert got_i.shape == (3, 7, 3)
    np.testing.assert_array_equal(got_i, top_i.numpy())
    np.testing.assert_allclose(got_p, top_p.numpy(), atol=1e-3)
    snap = viz.recorder.snapshots[0]
    # "predicted" is the token after the last one, not an index into (positions x vocabulary)
    assert snap.preds == logits[:, -1].argmax(-1).tolist()
    assert all(p < VOCAB for p in snap.preds)
    assert set(snap.tokens) == set(got_i.ravel().tolist()) | set(snap.preds)
    assert snap.tokens[snap.preds[0]] == f" w{snap.preds[0]}"
    # each id is decoded once, whatever the number of epochs
    calls = tok.calls
    viz.record(100, loss=1.0)
    viz.record(101, loss=1.0)
    viz.flush()
    assert tok.calls == calls
    # on the wire: the arrays as binary, the text as JSON strings
    header, data = encode_snapshot(snap)
    assert {
        (a["kind"], a["param"], a["dtype"]) for a in header["arrays"] if a["kind"] == "top"
    } == {
        ("top", "ids", "uint32"),
        ("top", "p", "float16"),
    }
    back = decode_snapshot(header, data)
    np.testing.assert_array_equal(back["arrays"][("top", "", "ids")], got_i)
    assert back["tokens"] == snap.tokens


def test_the_run_file_keeps_the_tokens_and_not_the_tokenizer(lm: LM, tmp_path: Path) -> None:
    viz = lm.viz
    path = tmp_path / "lm.nnviz"
    viz.save(path)
    loaded = nnv.load(path)
    assert loaded._probe["tokens"] == viz._probe["tokens"]
    for a, b in zip(loaded.recorder.snapshots, viz.recorder.snapshots, strict=True):
        assert a.tokens == b.tokens
        np.testing.assert_array_equal(a.top["ids"], b.top["ids"])
    import zipfile

    with zipfile.ZipFile(path) as zf:
        manifest = zf.read("manifest.json").decode()
    assert "FakeTokenizer" not in manifest


def test_token_layers_are_tokens_by_features(lm: LM) -> None:
    viz = lm.viz
    snap = viz.recorder.snapshots[0]
    emb = next(layer.name for layer in viz.graph.layers if layer.kind == "embedding")
    assert snap.act_info[emb].shape == [7, 32]
    for name in [layer.name for layer in viz.graph.layers if layer.kind == "attention"]:
        # the attention op's output as its output projection reads it: tokens x (heads * dim)
        assert snap.act_info[name].shape == [7, 32]


def test_sdpa_attention_per_head_matches_the_eager_models_own(lm: LM) -> None:
    model, ids, viz = lm.model, lm.ids, lm.viz
    eager = lm.make("eager")
    eager.load_state_dict(model.state_dict())
    with torch.no_grad():
        want = eager(ids, output_attentions=True).attentions
    names = [layer.name for layer in viz.graph.layers if layer.kind == "attention"]
    assert len(names) == 2
    for name, w in zip(names, want, strict=True):
        heads = viz.history.attention(name, INIT_EPOCH, heads=True)
        assert heads.shape == (3, 2, 7, 7)
        np.testing.assert_allclose(heads, w.numpy(), atol=2e-3)
        np.testing.assert_allclose(
            viz.history.attention(name, INIT_EPOCH), w.mean(1).numpy(), atol=2e-3
        )
        assert np.allclose(np.triu(heads[0, 0], 1), 0)  # causal


def test_functional_sdpa_in_a_plain_module_is_recorded() -> None:
    from torch import nn

    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv = nn.Linear(8, 24)

        def forward(self, t: Any) -> Any:
            q, k, v = (u.view(2, 5, 2, 4).transpose(1, 2) for u in self.qkv(t).chunk(3, dim=-1))
            return nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2)

    torch.manual_seed(0)
    x = torch.randn(2, 5, 8)
    model = Functional().eval()
    rec = nnv.Recorder(model, inputs=x)
    name = next(layer.name for layer in rec.graph.layers if layer.kind == "attention")
    q, k, _ = (u.view(2, 5, 2, 4).transpose(1, 2) for u in model.qkv(x).detach().chunk(3, -1))
    want = torch.softmax(q @ k.transpose(-2, -1) / 2.0, -1)
    np.testing.assert_allclose(rec.history.attention(name, INIT_EPOCH, heads=True), want, atol=2e-3)


def _train_step(viz: Any, model: Any, ids: Any, epoch: int) -> None:
    model.train()
    out = model(ids, labels=ids)
    model.zero_grad()
    out.loss.backward()
    viz.record(epoch, loss=out.loss.item())


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_fresh_models_carry_no_health_badge(make: Any, attn: str) -> None:
    model, ids = make(attn), _ids(4, 12)
    viz = nnv.NNViz(model, inputs=ids)
    if make is _llama:  # eager attention (matmul -> softmax -> matmul) is told the same way
        from nnviz_widget.probe import score_only

        assert len(score_only(viz.graph)) == 4
    _train_step(viz, model, ids, 0)
    table = viz.health()
    assert table.flags() == {}
    # the ratios are there (judged), only the attention scores' projections are not
    judged = [n for i, n in enumerate(table.layers) if not np.isnan(table["grad_ratio"][i, 0])]
    assert len(judged) >= 8, judged


def test_query_key_projections_are_score_only_and_values_are_not(lm: LM) -> None:
    from nnviz_widget.probe import score_only

    got = score_only(lm.viz.graph)
    if lm.make is _llama:
        assert got == {f"model.layers.{i}.self_attn.{p}_proj" for i in range(2) for p in "qk"}
    else:  # GPT-2's fused c_attn also makes the values: judged as any layer
        assert got == set()


def test_parameter_total_is_the_frameworks(lm: LM) -> None:
    model, viz = lm.model, lm.viz
    total = model.num_parameters()
    assert total == sum(p.numel() for p in model.parameters())
    assert viz.graph.total_params == total
    assert f"{total:,} params" in repr(viz)


def test_a_non_token_model_is_unchanged() -> None:
    from torch import nn

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        viz = nnv.NNViz(nn.Sequential(nn.Linear(4, 3)), inputs=torch.randn(5, 4))
    assert "tokens" not in viz._probe
    assert not viz.recorder.snapshots[0].top


@pytest.mark.keras
def test_keras_int_inputs_into_an_embedding_are_tokens() -> None:
    keras = pytest.importorskip("keras")
    inp = keras.Input(shape=(7,), dtype="int32")
    out = keras.layers.Dense(20)(keras.layers.Embedding(20, 8)(inp))
    model = keras.Model(inp, out)
    ids = np.random.default_rng(0).integers(0, 20, (3, 7)).astype("int32")
    viz = nnv.NNViz(model, inputs=ids, tokenizer=FakeTokenizer())
    assert viz._probe["tokens"]["text"][0] == [f" w{i}" for i in ids[0]]
    logits = np.asarray(model(ids))
    got_i, _ = viz.history.next_tokens(INIT_EPOCH)
    np.testing.assert_array_equal(got_i[..., 0], logits.argmax(-1))
    assert viz.recorder.snapshots[0].preds == logits[:, -1].argmax(-1).tolist()
