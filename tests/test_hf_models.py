"""Hugging Face transformers at their default config: traced exactly (residual adds are edges),
tensor plumbing folded into the module that owns it, GPT-2's ``Conv1D`` read as a dense layer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import nnviz_widget as nnv  # noqa: E402

from .models_hf import tiny_gpt2, tiny_llama  # noqa: E402

pytestmark = pytest.mark.torch


def _gpt2() -> Any:
    return tiny_gpt2()


def _llama() -> Any:
    return tiny_llama()


def _ancestors(graph: Any, name: str) -> set[str]:
    preds: dict[str, set[str]] = {}
    for a, b in graph.edges:
        preds.setdefault(b, set()).add(a)
    seen: set[str] = set()
    todo = [name]
    while todo:
        for a in preds.get(todo.pop(), ()):
            if a not in seen:
                seen.add(a)
                todo.append(a)
    return seen


@pytest.mark.parametrize("make", [_gpt2, _llama], ids=["gpt2", "llama"])
def test_default_config_exports_exactly_with_residual_edges(make: Any) -> None:
    model = make()
    graph = nnv.NNViz(model, inputs=torch.randint(0, 100, (2, 8))).graph
    assert not graph.approximate, graph.notes
    assert not any("failed" in n for n in graph.notes), graph.notes
    assert sum(p.numel() for p in model.parameters()) == sum(layer.params for layer in graph)
    # each block's residual add takes the block's input as well as the sublayer's output
    names = {layer.name for layer in graph}
    blocks = sorted({layer.parent for layer in graph if layer.kind == "merge" and layer.parent})
    assert blocks, "no residual adds"
    adds = [layer for layer in graph if layer.kind == "merge" and layer.op == "add"]
    residual = 0
    for add in adds:
        ins = [a for a, b in graph.edges if b == add.name]
        if len(ins) == 2 and (
            ins[0] in _ancestors(graph, ins[1]) or ins[1] in _ancestors(graph, ins[0])
        ):
            residual += 1
    assert residual >= 2 * 2, (residual, names)
    # and the first block's first residual takes exactly what its first norm takes: its input
    norm = next(layer for layer in graph if layer.kind == "norm" and layer.parent)
    block, feed = norm.parent, {a for a, b in graph.edges if b == norm.name}
    assert any(
        {a for a, b in graph.edges if b == add.name} & feed for add in adds if add.parent == block
    ), (block, feed)


def test_plumbing_folds_into_its_module() -> None:
    graph = nnv.NNViz(_gpt2(), inputs=torch.randint(0, 100, (2, 8))).graph
    plumbing = [
        layer.name for layer in graph if layer.op in ("view", "transpose", "split", "reshape")
    ]
    assert plumbing == []
    # the attention still gets its input from the qkv projection
    attn = [layer for layer in graph if layer.kind == "attention"]
    assert len(attn) == 2
    for a in attn:
        assert (f"{a.parent}.c_attn", a.name) in graph.edges


def test_a_cnn_keeps_its_top_level_flatten() -> None:
    from torch import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)
            self.fc = nn.Linear(2 * 6 * 6, 3)

        def forward(self, x: Any) -> Any:
            return self.fc(self.conv(x).view(x.shape[0], -1))

    graph = nnv.NNViz(Net(), inputs=torch.randn(2, 1, 8, 8)).graph
    assert any(layer.kind == "reshape" for layer in graph)


def test_gpt2_conv1d_is_a_dense_layer_in_linear_orientation() -> None:
    model = _gpt2()
    viz = nnv.NNViz(model, inputs=torch.randint(0, 100, (2, 8)), max_bytes=64 << 20)
    viz.record(0, loss=1.0)
    layer = viz.graph["transformer.h.0.mlp.c_fc"]
    assert layer.kind == "dense"
    assert layer.units == 128
    assert layer.param_shapes["weight"] == (128, 32)
    w = viz.history.weights("transformer.h.0.mlp.c_fc", 0)
    expect = model.transformer.h[0].mlp.c_fc.weight.detach().numpy().T
    np.testing.assert_allclose(
        w, expect.astype(np.float16).astype(np.float32), rtol=1e-3, atol=1e-3
    )


def test_a_fresh_gpt2_carries_no_health_badge() -> None:
    """At init no layer is flagged: a LayerNorm's few gain/bias gradients are not compared with
    a weight matrix's (that was a 'vanishing' badge on every LayerNorm)."""
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(n_layer=4, n_embd=64, n_head=2, vocab_size=100, n_positions=32)
    model = transformers.GPT2LMHeadModel(cfg)
    ids = torch.randint(0, 100, (4, 16))
    viz = nnv.NNViz(model, inputs=ids)
    model(input_ids=ids, labels=ids).loss.backward()
    viz.record(0, loss=1.0)
    table = viz.history.health()
    assert np.isfinite(table["grad_ratio"]).sum() >= 8  # the ratios were computed
    assert table.flags() == {}
