"""The module tree on models no one here wrote, built from config with no download (tiny
configs): Hugging Face GPT-2, Llama, BERT, ViT; keras.applications ResNet50 and MobileNetV2.
Each counts every parameter, opens collapsed at the blocks a user expects (one signature per
repeated block), round-trips expand / collapse, keeps the cut in the widget's state, records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import nnviz_widget as nnv  # noqa: E402
from nnviz_widget import hierarchy as h  # noqa: E402

from . import models_torch as mt  # noqa: E402
from .models_hf import tiny_gpt2, tiny_llama  # noqa: E402


def _gpt2() -> tuple[Any, Any]:
    return tiny_gpt2(n_layer=5), torch.randint(0, 100, (2, 8))


def _llama() -> tuple[Any, Any]:
    return tiny_llama(n_layer=4), torch.randint(0, 100, (2, 8))


def _bert() -> tuple[Any, Any]:
    cfg = transformers.BertConfig(
        hidden_size=32,
        num_hidden_layers=5,
        num_attention_heads=2,
        intermediate_size=64,
        vocab_size=100,
        max_position_embeddings=32,
    )
    return transformers.BertModel(cfg), torch.randint(0, 100, (2, 8))


def _vit() -> tuple[Any, Any]:
    cfg = transformers.ViTConfig(
        hidden_size=32,
        num_hidden_layers=5,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=16,
        patch_size=8,
    )
    return transformers.ViTModel(cfg), torch.randn(2, 3, 16, 16)


#: model -> (its repeated block class, how many, the top-level nodes around the blocks)
HF = {
    "gpt2": (_gpt2, "GPT2Block", 5, ["transformer.wte", "transformer.ln_f", "lm_head"]),
    "llama": (_llama, "LlamaDecoderLayer", 4, ["model.embed_tokens", "model.norm", "lm_head"]),
    "bert": (_bert, "BertLayer", 5, ["embeddings", "pooler"]),
    "vit": (_vit, "ViTLayer", 5, ["embeddings", "layernorm", "pooler"]),
}


def _loss(out: Any) -> Any:
    logits = getattr(out, "logits", None)
    t = logits if logits is not None else out.last_hidden_state
    return t.float().pow(2).mean()


@pytest.mark.torch
@pytest.mark.parametrize("name", list(HF))
def test_hugging_face_models_open_at_their_blocks(name: str, tmp_path: Path) -> None:
    make, block_cls, n_blocks, around = HF[name]
    torch.manual_seed(0)
    model, x = make()
    viz = nnv.NNViz(model, inputs=x)
    g = viz.graph
    assert not g.approximate, g.notes
    assert g.total_params == sum(p.numel() for p in model.parameters())
    assert len(g) > h.COLLAPSE_ABOVE  # big enough to open collapsed
    blocks = [m for m in g.modules if m.cls == block_cls]
    assert len(blocks) == n_blocks
    assert len({m.signature for m in blocks}) == 1  # one roll-up: "GPT2Block × 5"
    assert all(h.block_totals(g)[m.path] > 0 for m in blocks)
    # the view opens at the top-level blocks: the blocks and what is around them
    shown = h.visible(g, viz.expanded)
    assert [p for p in shown if p in {m.path for m in blocks}] == [m.path for m in blocks]
    assert set(around) <= set(shown), shown
    assert len(shown) < len(g) / 2
    # a block expands in place and collapses back
    before = list(viz.expanded)
    viz.expand(blocks[1].path)
    opened = h.visible(g, viz.expanded)
    assert blocks[1].path not in opened and len(opened) > len(shown)
    viz.collapse(blocks[1].path)
    assert viz.expanded == before and h.visible(g, viz.expanded) == shown
    # a few epochs record
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for epoch in range(2):
        opt.zero_grad()
        loss = _loss(model(x))
        loss.backward()
        opt.step()
        viz.record(epoch, loss=loss.item())
    assert viz.history.epochs == [0, 1]
    # the module tree reaches the browser and the run file
    assert [m["path"] for m in viz._graph["modules"]] == [m.path for m in g.modules]
    viz.save(tmp_path / "run.nnviz")
    back = nnv.load(tmp_path / "run.nnviz")
    assert back.graph.modules == g.modules and back.expanded == viz.expanded


@pytest.mark.torch
def test_the_cut_is_widget_state_and_depth_drives_it() -> None:
    torch.manual_seed(0)
    model, x = _gpt2()
    viz = nnv.NNViz(model, inputs=x)
    g = viz.graph
    assert viz.expanded == ["transformer"]  # it holds nearly every layer: open from the start
    assert viz.depth == -1
    assert "nodes shown" in repr(viz)
    viz.depth = 2  # the blocks open too (their attn / mlp stay closed)
    assert viz.expanded == ["transformer", *[f"transformer.h.{i}" for i in range(5)]]
    assert set(h.visible(g, viz.expanded)) >= {"transformer.h.0.attn", "transformer.h.0.ln_1"}
    viz.collapse("transformer.h.0")  # a cut by hand is no depth cut
    assert viz.depth == -1 and "transformer.h.0" not in viz.expanded
    viz.depth = 0
    assert viz.expanded == [] and h.visible(g, []) == [
        "input_ids",
        "transformer",
        "lm_head",
        "output",
    ]
    viz.expand("transformer.h.3")  # its enclosing module opens with it
    assert viz.expanded == ["transformer", "transformer.h.3"]
    viz.collapse("transformer.h")  # a container: every block inside closes
    assert viz.expanded == ["transformer"]
    # synced: a saved notebook and the exported page keep the cut
    state = viz.get_state()
    assert state["expanded"] == ["transformer"] and state["depth"] == -1
    assert viz._page_state()["traits"]["expanded"] == ["transformer"]
    assert f"{len(h.visible(g, viz.expanded))} nodes shown" in repr(viz)
    with pytest.raises(ValueError, match=r"no module 'transformer\.h\.9'.*did you mean"):
        viz.expand("transformer.h.9")
    with pytest.raises(ValueError, match="no module 'lm_head'"):
        viz.collapse("lm_head")  # a layer, not a module
    with pytest.raises(Exception, match="expanded: no module 'nope'"):
        viz.expanded = ["nope"]
    with pytest.raises(Exception, match="depth is -1"):
        viz.depth = -2
    assert nnv.NNViz(model, inputs=x, depth=1).expanded == ["transformer"]


class _StagedCNN(torch.nn.Module):
    """stem -> a ModuleList of two residual blocks -> pool -> head: 13 layers."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.stages = torch.nn.ModuleList([mt.ResidualBlock(4), mt.ResidualBlock(4)])
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.head = torch.nn.Linear(4, 3)

    def forward(self, x: Any) -> Any:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.head(torch.flatten(self.pool(x), 1))


@pytest.mark.torch
def test_a_small_cnn_opens_fully_expanded() -> None:
    torch.manual_seed(0)
    viz = nnv.NNViz(_StagedCNN(), inputs=torch.randn(2, 1, 8, 8))
    g = viz.graph
    assert len(g) <= h.COLLAPSE_ABOVE
    assert [(m.path, m.cls, m.container) for m in g.modules] == [
        ("stages", "ModuleList", True),
        ("stages.0", "ResidualBlock", False),
        ("stages.1", "ResidualBlock", False),
    ]
    assert g.modules[1].signature == g.modules[2].signature
    assert viz.expanded == ["stages.0", "stages.1"]
    assert h.visible(g, viz.expanded) == g.names
    viz.depth = 0
    assert h.visible(g, viz.expanded)[1:4] == ["stem", "stages.0", "stages.1"]


@pytest.fixture(scope="module")
def keras_apps() -> Any:
    keras = pytest.importorskip("keras")
    return keras.applications


@pytest.mark.keras
@pytest.mark.parametrize("name", ["ResNet50", "MobileNetV2"])
def test_keras_applications_open_at_their_named_blocks(name: str, keras_apps: Any) -> None:
    model = getattr(keras_apps, name)(weights=None, input_shape=(64, 64, 3))
    x = np.random.default_rng(0).random((2, 64, 64, 3), dtype=np.float32)
    viz = nnv.NNViz(model, inputs=x)
    g = viz.graph
    assert g.total_params == model.count_params()
    shown = h.visible(g, viz.expanded)
    if name == "ResNet50":  # flat: stages and blocks come from names (conv2_block1_1_conv)
        assert [p for p in shown if p.startswith("conv") and "_" not in p] == [
            "conv2",
            "conv3",
            "conv4",
            "conv5",
        ]
        assert shown[-3:] == ["avg_pool", "predictions", "output"]
        blocks = [m for m in g.modules if m.parent == "conv4"]
        assert len(blocks) == 6 and len({m.signature for m in blocks[1:]}) == 1
        assert g["conv4_block2_1_conv"].parent == "conv4/conv4_block2"
        viz.expand("conv4/conv4_block2")  # its stage opens with it, so it is seen
        assert viz.expanded == ["conv4", "conv4/conv4_block2"]
        viz.expanded = []
        block = "conv4"
    else:  # MobileNetV2: expanded_conv, block_1 ... block_16
        blocks = [p for p in shown if p.startswith(("block_", "expanded_conv"))]
        assert blocks == ["expanded_conv", *[f"block_{i}" for i in range(1, 17)]]
        sig = {m.path: m.signature for m in g.modules}
        assert sig["block_4"] == sig["block_5"] != sig["block_6"]  # block_6 strides (a pad)
        block = "block_4"
    assert len(shown) < 40
    before = list(viz.expanded)
    viz.expand(block)
    assert len(h.visible(g, viz.expanded)) > len(shown)
    viz.collapse(block)
    assert h.visible(g, viz.expanded) == shown and viz.expanded == before
    for epoch in range(2):
        viz.record(epoch, loss=1.0 / (epoch + 1))
    assert viz.history.epochs == [0, 1]
