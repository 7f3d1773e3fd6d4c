"""Attention layers: the heads' mean attention recorded on the probe batch (issue 4, part 5).

Torch: ``nn.MultiheadAttention`` is made to return its weights during the probe pass only
(``need_weights=True``); the model's own output must not change. Keras: ``MultiHeadAttention``,
``Attention`` and ``AdditiveAttention`` are called once more with ``return_attention_scores=True``
(or their scores taken from the output where the model asked for them).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nnviz_widget as nnv
from nnviz_widget.recorder import Recorder
from nnviz_widget.snapshot import INIT_EPOCH
from nnviz_widget.wire import decode_snapshot, encode_snapshot

F16_TOL = 2e-3  # the maps travel as float16


# --------------------------------------------------------------------------------------- torch


def _encoder(seed: int = 0) -> Any:
    import torch
    from torch import nn

    torch.manual_seed(seed)
    layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, batch_first=True)
    return nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()


def _probe(n: int = 4, t: int = 5) -> Any:
    import torch

    return torch.randn(n, t, 16, generator=torch.Generator().manual_seed(1))


def _manual_maps(model: Any, x: Any) -> dict[str, np.ndarray]:
    """Each self_attn's weights computed by hand: its input captured with a plain hook, then
    the module called directly with need_weights=True (mean over heads)."""
    import torch
    from torch import nn

    inputs: dict[str, Any] = {}
    handles = []
    for name, m in model.named_modules():
        if isinstance(m, nn.MultiheadAttention):

            def hook(_m: Any, args: tuple[Any, ...], name: str = name) -> None:
                inputs.setdefault(name, args[0].detach().clone())

            handles.append(m.register_forward_pre_hook(hook))
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    out = {}
    with torch.no_grad():
        for name, q in inputs.items():
            mha = model.get_submodule(name)
            _, w = mha(q, q, q, need_weights=True, average_attn_weights=True)
            out[name] = w.numpy()
    return out


@pytest.mark.torch
def test_torch_encoder_maps_match_a_manual_computation() -> None:
    torch = pytest.importorskip("torch")
    model, x = _encoder(), _probe()
    with torch.no_grad():
        before = model(x).clone()
    viz = nnv.NNViz(model, inputs=x)
    attn_layers = [layer.name for layer in viz.graph.layers if layer.kind == "attention"]
    assert attn_layers == ["layers.0.self_attn", "layers.1.self_attn"]
    manual = _manual_maps(model, x)
    for name in attn_layers:
        w = viz.history.attention(name, INIT_EPOCH)
        assert w.shape == (4, 5, 5)
        assert w.dtype == np.float32
        np.testing.assert_allclose(w.sum(axis=-1), 1.0, atol=F16_TOL)
        np.testing.assert_allclose(w, manual[name], atol=F16_TOL)
    # the model is left as it was: no hooks, the same output
    with torch.no_grad():
        after = model(x)
    assert torch.equal(before, after)
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks


@pytest.mark.torch
def test_torch_probe_pass_output_is_the_models_own() -> None:
    torch = pytest.importorskip("torch")
    from nnviz_widget.adapters.torch import TorchAdapter

    model, x = _encoder(), _probe()
    with torch.no_grad():
        ref = model(x).numpy()
    adapter = TorchAdapter(model, inputs=x)
    acts = adapter.activations()
    assert set(adapter.attention) == {"layers.0.self_attn", "layers.1.self_attn"}
    np.testing.assert_allclose(acts["output"], ref, rtol=0, atol=1e-6)
    # the attention layer's own activation is its output tensor, not the weights
    assert acts["layers.0.self_attn"].shape == (4, 5, 16)


@pytest.mark.torch
def test_torch_maps_scrub_with_training() -> None:
    torch = pytest.importorskip("torch")
    model, x = _encoder(), _probe()
    rec = Recorder(model, inputs=x)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for epoch in range(2):
        model.train()
        for _ in range(3):
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
        model.eval()
        rec.record(epoch, loss=1.0)
    name = "layers.0.self_attn"
    w0, w1 = rec.history.attention(name, 0), rec.history.attention(name, 1)
    assert not np.allclose(w0, rec.history.attention(name, INIT_EPOCH))
    assert not np.allclose(w0, w1)
    np.testing.assert_allclose(w1, _manual_maps(model, x)[name], atol=F16_TOL)


@pytest.mark.torch
def test_torch_caller_asking_for_per_head_weights_is_left_alone() -> None:
    torch = pytest.importorskip("torch")
    from torch import nn

    class PerHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.att = nn.MultiheadAttention(8, 2, batch_first=True)
            self.fc = nn.Linear(8, 3)

        def forward(self, t: Any) -> Any:
            out, w = self.att(t, t, t, need_weights=True, average_attn_weights=False)
            assert w.shape[1] == 2  # the caller gets the per-head weights it asked for
            return self.fc(out).mean(1) + w.sum((1, 2, 3)).unsqueeze(1)

    torch.manual_seed(0)
    model = PerHead().eval()
    x = torch.randn(3, 4, 8)
    with torch.no_grad():
        ref = model(x)
        _, per_head = model.att(x, x, x, need_weights=True, average_attn_weights=False)
    rec = Recorder(model, inputs=x)
    w = rec.history.attention("att", INIT_EPOCH)
    np.testing.assert_allclose(w, per_head.mean(1).numpy(), atol=F16_TOL)
    with torch.no_grad():
        assert torch.equal(model(x), ref)


@pytest.mark.torch
def test_torch_positional_need_weights_false() -> None:
    torch = pytest.importorskip("torch")
    from torch import nn

    class Positional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.att = nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, t: Any) -> Any:
            out, w = self.att(t, t, t, None, False)  # need_weights=False, positionally
            assert w is None  # still what the caller asked for
            return out

    torch.manual_seed(0)
    model = Positional().eval()
    x = torch.randn(2, 6, 8)
    rec = Recorder(model, inputs=x)
    w = rec.history.attention("att", INIT_EPOCH)
    assert w.shape == (2, 6, 6)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=F16_TOL)


@pytest.mark.torch
def test_torch_functional_attention_is_skipped_silently() -> None:
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F
    from torch import nn

    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv = nn.Linear(8, 24)

        def forward(self, t: Any) -> Any:
            q, k, v = self.qkv(t).chunk(3, dim=-1)
            return F.scaled_dot_product_attention(q, k, v)

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        rec = Recorder(Functional().eval(), inputs=torch.randn(2, 5, 8))
    assert not any("attn" in a for a in rec.snapshots[0].acts.values())
    with pytest.raises(KeyError, match="no attention maps"):
        rec.history.attention("qkv", INIT_EPOCH)


@pytest.mark.torch
def test_torch_maps_within_the_budget() -> None:
    pytest.importorskip("torch")
    model, x = _encoder(), _probe(4, 20)
    rec = Recorder(model, inputs=x, max_bytes=1000)  # the smallest snapshot budget
    w = rec.history.attention("layers.0.self_attn", INIT_EPOCH)
    assert w.shape[1:] == (20, 20)
    assert 1 <= w.shape[0] < 4  # the first samples that fit (at least one)
    full = Recorder(model, inputs=x).history.attention("layers.0.self_attn", INIT_EPOCH)
    np.testing.assert_array_equal(w, full[: w.shape[0]])


@pytest.mark.torch
def test_torch_maps_on_the_wire_and_in_a_saved_run(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    model, x = _encoder(), _probe()
    rec = Recorder(model, inputs=x)
    rec.record(0, loss=1.0)
    rec.flush()
    header, data = encode_snapshot(rec.snapshots[-1])
    refs = [a for a in header["arrays"] if a["param"] == "attn"]
    assert [(a["layer"], a["kind"], a["dtype"], a["shape"]) for a in refs] == [
        ("layers.0.self_attn", "act", "float16", [4, 5, 5]),
        ("layers.1.self_attn", "act", "float16", [4, 5, 5]),
    ]
    back = decode_snapshot(header, data)["arrays"]
    np.testing.assert_array_equal(
        back[("act", "layers.1.self_attn", "attn")],
        rec.snapshots[-1].acts["layers.1.self_attn"]["attn"],
    )
    # the plain activations are still there, unchanged in meaning
    assert back[("act", "layers.1.self_attn", "act")].shape == (4, 5, 16)
    path = rec.save(tmp_path / "run.nnviz")
    assert path is not None
    loaded = nnv.load(path)
    for epoch in (INIT_EPOCH, 0):
        np.testing.assert_array_equal(
            loaded.history.attention("layers.0.self_attn", epoch),
            rec.history.attention("layers.0.self_attn", epoch),
        )


# --------------------------------------------------------------------------------------- keras


def _np(x: Any) -> np.ndarray:
    """A Keras tensor as numpy on any backend (torch tensors may require grad)."""
    import keras

    return np.asarray(keras.ops.convert_to_numpy(x))


def _keras_functional() -> tuple[Any, Any, np.ndarray]:
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    inp = keras.Input((5, 16))
    mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=8, name="mha")
    a = mha(inp, inp)
    x = keras.layers.LayerNormalization()(keras.layers.Add()([inp, a]))
    out = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling1D()(x))
    probe = np.random.default_rng(0).normal(size=(4, 5, 16)).astype("float32")
    return keras.Model(inp, out), mha, probe


@pytest.mark.keras
def test_keras_functional_maps_match_return_attention_scores() -> None:
    model, mha, x = _keras_functional()
    before = _np(model(x))
    rec = Recorder(model, inputs=x)
    w = rec.history.attention("mha", INIT_EPOCH)
    assert w.shape == (4, 5, 5)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=F16_TOL)
    _, scores = mha(x, x, return_attention_scores=True)
    np.testing.assert_allclose(w, _np(scores).mean(axis=1), atol=F16_TOL)
    np.testing.assert_array_equal(_np(model(x)), before)
    # the layer's activation is its output, not the scores
    assert rec.history.activations("mha", INIT_EPOCH).shape == (4, 5, 16)


@pytest.mark.keras
def test_keras_subclassed_maps() -> None:
    keras = pytest.importorskip("keras")

    class Sub(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.att = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
            self.d = keras.layers.Dense(2)

        def call(self, t: Any) -> Any:
            return self.d(self.att(t, t))

    keras.utils.set_random_seed(0)
    model = Sub()
    x = np.random.default_rng(0).normal(size=(3, 6, 8)).astype("float32")
    before = _np(model(x))
    rec = Recorder(model, inputs=x)
    name = next(layer.name for layer in rec.graph.layers if layer.kind == "attention")
    w = rec.history.attention(name, INIT_EPOCH)
    _, scores = model.att(x, x, return_attention_scores=True)
    np.testing.assert_allclose(w, _np(scores).mean(axis=1), atol=F16_TOL)
    np.testing.assert_array_equal(_np(model(x)), before)


# ------------------------------------------------------- keras Attention / AdditiveAttention


def _keras_dot_product(cls_name: str, **kwargs: Any) -> tuple[Any, Any, Any, np.ndarray]:
    """A functional model with a ``keras.layers.<cls_name>`` over a (tokens, features) input:
    queries from the first 4 tokens, values from all 6 (so Tq != Tv). Returns the model, the
    attention layer, a model giving the layer's inputs [q, v], and the probe."""
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 5))
    q = keras.layers.Dense(8, name="q")(keras.layers.Cropping1D((0, 2))(inp))
    v = keras.layers.Dense(8, name="v")(inp)
    att = getattr(keras.layers, cls_name)(name="att", **kwargs)
    a = att([q, v])
    out = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling1D()(a))
    probe = np.random.default_rng(0).normal(size=(4, 6, 5)).astype("float32")
    return keras.Model(inp, out), att, keras.Model(inp, [q, v]), probe


def _check_wire(rec: Recorder, name: str, shape: list[int]) -> None:
    rec.flush()
    header, data = encode_snapshot(rec.snapshots[-1])
    refs = [a for a in header["arrays"] if a["param"] == "attn"]
    assert [(a["layer"], a["kind"], a["dtype"], a["shape"]) for a in refs] == [
        (name, "act", "float16", shape)
    ]
    back = decode_snapshot(header, data)["arrays"]
    np.testing.assert_array_equal(back[("act", name, "attn")], rec.snapshots[-1].acts[name]["attn"])
    np.testing.assert_allclose(back[("act", name, "attn")], rec.history.attention(name, 0), atol=0)


@pytest.mark.keras
@pytest.mark.parametrize(
    ("cls_name", "kwargs"),
    [("Attention", {}), ("Attention", {"use_scale": True}), ("AdditiveAttention", {})],
)
def test_keras_dot_product_and_additive_attention_maps(cls_name: str, kwargs: Any) -> None:
    from nnviz_widget.adapters.keras import KerasAdapter

    model, att, qv, x = _keras_dot_product(cls_name, **kwargs)
    before = _np(model(x))
    rec = Recorder(model, inputs=x)
    w = rec.history.attention("att", INIT_EPOCH)
    assert w.shape == (4, 4, 6)  # (samples, Tq, Tv): no heads axis to average
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=F16_TOL)
    q, v = qv(x)
    _, scores = att([q, v], return_attention_scores=True)
    np.testing.assert_allclose(w, _np(scores), atol=F16_TOL)
    np.testing.assert_array_equal(_np(model(x)), before)  # the model's own output
    # the layer's activation is its output, not the scores
    assert rec.history.activations("att", INIT_EPOCH).shape == (4, 4, 8)
    rec.record(0, loss=1.0)
    _check_wire(rec, "att", [4, 4, 6])
    # the probe pass stays eager (its scores are read in numpy): nothing compiled
    adapter = KerasAdapter(model, inputs=x)
    adapter.activations()
    adapter.gradients()
    assert adapter._has_attention() and not adapter._fns
    np.testing.assert_allclose(adapter.attention["att"], _np(scores), atol=1e-6)


@pytest.mark.keras
def test_keras_attention_maps_follow_the_weights() -> None:
    """Each record reads the maps anew (no compiled pass that would skip them)."""
    model, att, qv, x = _keras_dot_product("Attention")
    rec = Recorder(model, inputs=x)
    rec.record(0, loss=1.0)
    dense_q = model.get_layer("q")
    dense_q.kernel.assign(dense_q.kernel * 3.0)  # sharper attention
    rec.record(1, loss=1.0)
    w0, w1 = rec.history.attention("att", 0), rec.history.attention("att", 1)
    assert not np.allclose(w0, w1, atol=1e-2)
    q, v = qv(x)
    _, scores = att([q, v], return_attention_scores=True)
    np.testing.assert_allclose(w1, _np(scores), atol=F16_TOL)


@pytest.mark.keras
def test_keras_functional_attention_asking_for_its_scores() -> None:
    """Where the model itself asks for the scores, they are taken from the layer's output."""
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    inp = keras.Input((5, 4))
    q = keras.layers.Dense(6, name="q")(inp)
    att = keras.layers.Attention(name="att")
    a, scores = att([q, q], return_attention_scores=True)
    flat = keras.layers.Flatten()(scores)
    out = keras.layers.Concatenate()([keras.layers.GlobalAveragePooling1D()(a), flat])
    model = keras.Model(inp, out)
    x = np.random.default_rng(1).normal(size=(3, 5, 4)).astype("float32")
    before = _np(model(x))
    rec = Recorder(model, inputs=x)
    w = rec.history.attention("att", INIT_EPOCH)
    assert w.shape == (3, 5, 5)
    np.testing.assert_allclose(w.reshape(3, -1), before[:, 6:], atol=F16_TOL)
    np.testing.assert_array_equal(_np(model(x)), before)


@pytest.mark.keras
@pytest.mark.parametrize("asks", [False, True])
def test_keras_subclassed_dot_product_attention(asks: bool) -> None:
    """A subclassed model's Attention (with dropout: the extra call runs in inference mode);
    where the model asks for the scores itself, they are taken from the layer's output."""
    keras = pytest.importorskip("keras")

    class Sub(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.q = keras.layers.Dense(8)
            self.v = keras.layers.Dense(8)
            self.att = keras.layers.Attention(use_scale=True, dropout=0.5)
            self.d = keras.layers.Dense(2)

        def call(self, t: Any, training: Any = None) -> Any:
            qv = [self.q(t[:, :3]), self.v(t)]
            if asks:
                a, scores = self.att(qv, training=training, return_attention_scores=True)
                return self.d(a) + keras.ops.sum(scores, axis=(1, 2))[:, None]
            return self.d(self.att(qv, training=training))

    keras.utils.set_random_seed(0)
    model = Sub()
    x = np.random.default_rng(0).normal(size=(3, 7, 5)).astype("float32")
    before = _np(model(x))
    rec = Recorder(model, inputs=x)
    name = next(layer.name for layer in rec.graph.layers if layer.kind == "attention")
    w = rec.history.attention(name, INIT_EPOCH)
    assert w.shape == (3, 3, 7)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=F16_TOL)
    _, scores = model.att([model.q(x[:, :3]), model.v(x)], return_attention_scores=True)
    np.testing.assert_allclose(w, _np(scores), atol=F16_TOL)
    np.testing.assert_array_equal(_np(model(x)), before)
    rec.record(0, loss=1.0)
    _check_wire(rec, name, [3, 3, 7])
