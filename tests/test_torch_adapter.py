"""TorchAdapter: graph extraction (export / fx / execution order), params, grads, activations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from nnviz_widget.adapters import adapt  # noqa: E402
from nnviz_widget.adapters.torch import MAX_PROBE_SAMPLES, TorchAdapter  # noqa: E402
from nnviz_widget.graph import KINDS, Graph  # noqa: E402

from . import models_torch as mt  # noqa: E402

pytestmark = pytest.mark.torch


def _seeded(build: Callable[[], nn.Module]) -> nn.Module:
    torch.manual_seed(0)
    return build()


def _x(*shape: int) -> Any:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(1))


def _tokens(n: int, length: int, vocab: int) -> Any:
    return torch.randint(0, vocab, (n, length), generator=torch.Generator().manual_seed(2))


# (id, model builder, probe builder): every model the adapter must handle.
CASES: list[tuple[str, Callable[[], nn.Module], Callable[[], Any]]] = [
    ("mlp", mt.MLP, lambda: _x(4, 1, 28, 28)),
    ("cnn", mt.SmallCNN, lambda: _x(4, 1, 28, 28)),
    ("resnet", mt.ResNetTiny, lambda: _x(2, 1, 8, 8)),
    ("two_inputs", mt.TwoBranch, lambda: (_x(2, 3), _x(2, 5))),
    ("transformer", mt.transformer, lambda: _x(2, 5, 16)),
    ("data_dependent", mt.DataDependent, lambda: _x(3, 4)),
    ("own_param", mt.WithScaledBlock, lambda: _x(2, 6)),
    ("own_param_root", mt.Scaled, lambda: _x(2, 6)),
    ("tied", mt.TiedLM, lambda: _tokens(2, 7, 20)),
    ("unknown", mt.WithMystery, lambda: _x(2, 4)),
    ("lstm", mt.LSTMClassifier, lambda: _tokens(2, 7, 30)),
    ("unused", mt.WithUnused, lambda: _x(2, 4)),
    ("conv_transpose", mt.Upsampler, lambda: _x(2, 4, 3, 3)),
]

_GRAPHS: dict[str, tuple[nn.Module, TorchAdapter, Graph]] = {}


def built(case: str) -> tuple[nn.Module, TorchAdapter, Graph]:
    """Model, adapter and graph of a case, built once per test session (export costs ~0.1 s)."""
    if case not in _GRAPHS:
        _, build, probe = next(c for c in CASES if c[0] == case)
        model = _seeded(build)
        adapter = TorchAdapter(model, inputs=probe())
        _GRAPHS[case] = (model, adapter, adapter.graph())
    return _GRAPHS[case]


def _torch_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


# ---------------------------------------------------------------------- invariants, every model


@pytest.mark.parametrize("case", [c[0] for c in CASES])
def test_graph_invariants(case: str) -> None:
    model, adapter, g = built(case)
    assert g.framework == "torch"
    assert g.total_params == _torch_count(model)
    names = g.names
    assert len(set(names)) == len(names)
    assert all(layer.kind in KINDS for layer in g)
    assert [layer.id for layer in g] == list(range(len(g)))
    pos = {n: i for i, n in enumerate(names)}
    for a, b in g.edges:
        assert pos[a] < pos[b], f"edge {a} -> {b} breaks topological order"
        assert a != b
    assert len(set(g.edges)) == len(g.edges)
    assert sum(1 for layer in g if layer.kind == "input") >= 1
    assert any(layer.kind == "output" for layer in g)
    # parameters() matches the graph's param_shapes, float32 copies
    params = adapter.parameters()
    assert set(params) == {layer.name for layer in g if layer.param_shapes}
    for name, arrays in params.items():
        assert {k: v.shape for k, v in arrays.items()} == g[name].param_shapes
        assert all(v.dtype == np.float32 for v in arrays.values())
    assert sum(v.size for arrays in params.values() for v in arrays.values()) == g.total_params
    assert _no_hooks(model)
    g.to_dict()  # JSON-ready, neuron_source computed for every layer


# ---------------------------------------------------------------------- specific graphs


def test_mlp_graph() -> None:
    _, _, g = built("mlp")
    assert g.model_name == "MLP"
    assert not g.approximate
    assert g.names == ["x", "view", "fc1", "relu", "fc2", "output"]
    assert g.edges == [("x", "view"), ("view", "fc1"), ("fc1", "relu"), ("relu", "fc2"),
                       ("fc2", "output")]  # fmt: skip
    assert [layer.kind for layer in g] == [
        "input", "reshape", "dense", "activation", "dense", "output",
    ]  # fmt: skip
    assert g.total_params == 101_770
    assert g["x"].output_shape == (1, 28, 28)
    assert g["view"].output_shape == (784,)
    assert g["fc1"].output_shape == (128,)
    assert g["fc1"].input_shapes == [(784,)]
    assert g["fc1"].units == 128
    assert g["fc1"].param_shapes == {"weight": (128, 784), "bias": (128,)}
    assert g["fc1"].params == 100_480
    assert g["relu"].detail == {"activation": "relu"}
    assert g["output"].output_shape == (10,)
    assert g.neuron_source("fc2") == "fc1"
    # through the view (a pass-through reshape) to the 784 input neurons
    assert g.neuron_source("fc1") in ("x", "view")


def test_cnn_graph() -> None:
    _, _, g = built("cnn")
    assert not g.approximate
    assert [layer.kind for layer in g] == [
        "input", "conv", "norm", "activation", "pool", "reshape", "dense", "output",
    ]  # fmt: skip
    conv = g["conv"]
    assert conv.units == 8
    assert conv.detail["dim"] == 2
    assert conv.detail["kernel_size"] == [3, 3]
    assert conv.detail["stride"] == [1, 1]
    assert conv.param_shapes["weight"] == (8, 1, 3, 3)
    assert conv.output_shape == (8, 28, 28)
    assert g["pool"].output_shape == (8, 14, 14)
    assert g["flatten"].output_shape == (8 * 14 * 14,)
    assert g["bn"].param_shapes == {"weight": (8,), "bias": (8,)}  # no running stats
    assert g.neuron_source("fc") == "pool"


def test_residual_skip_is_a_real_edge() -> None:
    _, _, g = built("resnet")
    assert not g.approximate
    add = g["add"]
    assert add.kind == "merge"
    assert add.detail == {"op": "add"}
    assert add.parent == "block"
    assert set(g.predecessors("add")) == {"block.conv2", "stem"}  # stem output = block input
    assert g["block.conv1"].parent == "block"
    assert g["stem"].parent is None
    assert g["flatten"].kind == "reshape"  # torch.flatten, a functional op
    assert g.successors("stem") == ["block.conv1", "add"]


def test_two_inputs_and_cat() -> None:
    _, _, g = built("two_inputs")
    assert [layer.name for layer in g if layer.kind == "input"] == ["left", "right"]
    assert g["left"].output_shape == (3,)
    assert g["cat"].kind == "merge"
    assert g["cat"].detail == {"op": "concat"}
    assert set(g.predecessors("cat")) == {"a", "b"}
    assert g.predecessors("a") == ["left"]
    assert g.predecessors("b") == ["right"]


def test_kwargs_probe() -> None:
    model = _seeded(mt.TwoBranch)
    g = TorchAdapter(model, inputs={"left": _x(2, 3), "right": _x(2, 5)}).graph()
    assert not g.approximate
    assert set(g.predecessors("cat")) == {"a", "b"}
    assert g.predecessors("b") == ["right"]


def test_transformer_exports() -> None:
    model, _, g = built("transformer")
    assert not g.approximate, g.notes
    attn = [layer for layer in g if layer.kind == "attention"]
    assert [a.name for a in attn] == ["layers.0.self_attn", "layers.1.self_attn"]
    assert attn[0].units == 16
    assert attn[0].parent == "layers.0"
    assert set(attn[0].param_shapes) == {
        "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias",
    }  # fmt: skip
    assert "layers.0.self_attn.out_proj" not in g.names  # inside the attention node
    # both residual adds of each layer are merges with two inputs
    adds = [layer.name for layer in g if layer.kind == "merge"]
    assert len(adds) == 4
    assert all(len(g.predecessors(a)) == 2 for a in adds)
    assert set(g.predecessors(adds[0])) == {"src", "layers.0.dropout1"}  # the skip from input
    assert g["output"].output_shape == (5, 16)
    assert g.total_params == _torch_count(model)


def test_data_dependent_control_flow_is_approximate() -> None:
    _, _, g = built("data_dependent")
    assert g.approximate
    assert any("torch.export" in n and "torch.fx" in n for n in g.notes)
    assert not any("Error" in n or "failed (" in n for n in g.notes), g.notes  # no raw exceptions
    assert g.names == ["x", "fc1", "fc2", "output"]
    assert g.edges == [("x", "fc1"), ("fc1", "fc2"), ("fc2", "output")]
    assert g["fc1"].output_shape == (8,)


def test_tracing_is_quiet(capfd: pytest.CaptureFixture[str]) -> None:
    TorchAdapter(_seeded(mt.DataDependent), inputs=_x(3, 4)).graph()
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_fx_used_when_export_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_export(self: TorchAdapter) -> Any:
        raise RuntimeError("export unavailable")

    monkeypatch.setattr(TorchAdapter, "_trace_export", no_export)
    model = _seeded(mt.ResNetTiny)
    g = TorchAdapter(model, inputs=_x(2, 1, 8, 8)).graph()
    assert not g.approximate
    assert set(g.predecessors("add")) == {"block.conv2", "stem"}
    assert g["add"].output_shape == (4, 8, 8)
    assert g.total_params == _torch_count(model)


_CHAINS: list[tuple[str, Callable[[], nn.Module], Callable[[], Any]]] = [
    (
        "mlp",
        lambda: nn.Sequential(
            nn.Flatten(), nn.Linear(12, 8), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8, 3)
        ),
        lambda: _x(2, 3, 4),
    ),
    (
        "cnn_nested",
        lambda: nn.Sequential(
            nn.Conv2d(3, 4, 3),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.GELU()),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(4, 2),
        ),
        lambda: _x(2, 3, 9, 9),
    ),
    (
        "tokens",
        lambda: nn.Sequential(nn.Embedding(10, 4), nn.LayerNorm(4), nn.Linear(4, 10)),
        lambda: _tokens(2, 5, 10),
    ),
]


@pytest.mark.parametrize("case", [c[0] for c in _CHAINS])
def test_plain_sequential_skips_tracing_with_the_same_graph(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An nn.Sequential of layer modules is chained in call order without torch.export, and
    that graph is exactly the one export gives."""
    _, build, probe = next(c for c in _CHAINS if c[0] == case)
    model, x = _seeded(build), probe()
    traced: list[str] = []
    export = TorchAdapter._trace_export
    monkeypatch.setattr(
        TorchAdapter, "_trace_export", lambda self: traced.append("export") or export(self)
    )
    fast = TorchAdapter(model, inputs=x).graph()
    assert traced == [] and not fast.approximate
    monkeypatch.setattr(TorchAdapter, "_plain_chain", lambda self, run: False)
    exported = TorchAdapter(model, inputs=x).graph()
    assert traced == ["export"] and not exported.approximate
    assert fast.to_dict() == exported.to_dict()


class _Residual(nn.Sequential):
    def forward(self, x: Any) -> Any:
        return x + super().forward(x)


@pytest.mark.parametrize(
    "build",
    [
        lambda: nn.Sequential(nn.Linear(4, 4), nn.Identity(), nn.Linear(4, 2)),  # traces no op
        lambda: (lambda lin: nn.Sequential(lin, nn.ReLU(), lin))(nn.Linear(4, 4)),  # twice
        lambda: _Residual(nn.Linear(4, 4)),  # its own forward
    ],
    ids=["identity", "shared", "subclass"],
)
def test_other_sequentials_are_traced(build: Callable[[], nn.Module]) -> None:
    adapter = TorchAdapter(_seeded(build), inputs=_x(2, 4))
    assert not adapter._plain_chain(adapter._forward())


def test_container_with_own_parameter() -> None:
    _, adapter, g = built("own_param")
    holder = g["block"]
    assert holder.kind == "other"
    assert holder.op == "Scaled"
    assert holder.params == 3
    assert holder.param_shapes == {"scale": (3,)}
    assert holder.parent == "block"  # inside its block: a collapsed block holds it
    assert g["block.fc"].params == 21
    assert set(g.predecessors("mul")) == {"block", "block.fc"}
    np.testing.assert_array_equal(adapter.parameters()["block"]["scale"], np.ones(3))
    # at the top level the holder is named after the model class
    _, _, g_root = built("own_param_root")
    assert g_root["Scaled"].param_shapes == {"scale": (3,)}


def test_weight_tying_counts_once() -> None:
    model, adapter, g = built("tied")
    assert _torch_count(model) == 20 * 8 + 8 * 8 + 8
    assert g["embed"].params == 160
    assert g["decoder"].params == 0
    assert g["decoder"].detail["tied"] == {"weight": "embed.weight"}
    assert "decoder" not in adapter.parameters()


def test_unknown_module_is_other() -> None:
    _, _, g = built("unknown")
    m = g["mystery"]
    assert (m.kind, m.op, m.params) == ("other", "Mystery", 4)
    assert g.predecessors("mystery") == ["fc"]


def test_lstm_is_recurrent() -> None:
    _, _, g = built("lstm")
    lstm = g["lstm"]
    assert lstm.kind == "recurrent"
    assert lstm.units == 12
    assert lstm.detail["cell"] == "lstm"
    assert lstm.output_shape == (7, 12)  # first output of (out, (h, c))
    assert "weight_ih_l0" in lstm.param_shapes
    assert g["embed"].kind == "embedding"
    assert g["embed"].units == 8
    assert g.predecessors("lstm") == ["embed"]


def test_unused_module_still_counted() -> None:
    _, _, g = built("unused")
    assert g["spare"].params == 20
    assert g.predecessors("spare") == [] and g.successors("spare") == []
    assert any("spare" in n for n in g.notes)


def test_conv_transpose_weight_is_canonical() -> None:
    model, adapter, g = built("conv_transpose")
    up = g["up"]
    assert up.units == 6
    assert up.param_shapes["weight"] == (6, 2, 2, 2)  # (out, in/groups, kH, kW)
    w = adapter.parameters()["up"]["weight"]
    raw = model.up.weight.detach().numpy()  # (in=4, out/groups=3, 2, 2)
    # group 1, output channel 4 (3 + 1) reads input channel 2 (2 + 0) at raw[2, 1]
    np.testing.assert_array_equal(w[4, 0], raw[2, 1])
    np.testing.assert_array_equal(w[0, 1], raw[1, 0])


def test_module_named_like_the_input() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.x = nn.Linear(3, 2)

        def forward(self, x: Any) -> Any:
            return self.x(x)

    g = TorchAdapter(_seeded(Net), inputs=_x(2, 3)).graph()
    assert g.names == ["input_x", "x", "output"]


def test_module_named_output() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.output = nn.Linear(3, 2)

        def forward(self, x: Any) -> Any:
            return self.output(x)

    g = TorchAdapter(_seeded(Net), inputs=_x(2, 3)).graph()
    assert g["output"].kind == "dense"
    assert [layer.name for layer in g if layer.kind == "output"] == ["output_2"]


def test_several_outputs() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(3, 2)
            self.b = nn.Linear(3, 4)

        def forward(self, x: Any) -> Any:
            return self.a(x), self.b(x)

    g = TorchAdapter(_seeded(Net), inputs=_x(2, 3)).graph()
    assert g["output_0"].output_shape == (2,)
    assert g["output_1"].output_shape == (4,)
    assert g.predecessors("output_1") == ["b"]


def test_shared_module_called_twice() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.again = self.fc  # the same module under a second name

        def forward(self, x: Any) -> Any:
            return self.again(torch.relu(self.fc(x)))

    model = _seeded(Net)
    g = TorchAdapter(model, inputs=_x(2, 4)).graph()
    assert g.total_params == _torch_count(model) == 20
    assert "again" not in g.names
    assert ("relu", "fc") in g.edges and ("fc", "relu") in g.edges  # a loop, not a crash


def test_leaf_model() -> None:
    model = _seeded(lambda: nn.Linear(5, 3))
    g = TorchAdapter(model, inputs=_x(2, 5)).graph()
    assert g.names == ["input", "Linear", "output"]
    assert g.total_params == 18


def test_adapt_picks_torch() -> None:
    adapter = adapt(_seeded(mt.MLP), input_shape=(784,))
    assert isinstance(adapter, TorchAdapter)
    assert adapter.framework == "torch"


# ---------------------------------------------------------------------- the probe


def test_input_shape_without_inputs() -> None:
    model = _seeded(mt.MLP)
    g = TorchAdapter(model, input_shape=(784,)).graph()
    assert g["x"].output_shape == (784,)
    assert g["fc1"].output_shape == (128,)
    assert g.total_params == 101_770
    g2 = TorchAdapter(_seeded(mt.SmallCNN), input_shape=[1, 28, 28]).graph()
    assert g2["fc"].output_shape == (10,)
    g3 = TorchAdapter(_seeded(mt.TwoBranch), input_shape=[(3,), (5,)]).graph()
    assert g3["cat"].output_shape == (8,)


def test_input_shape_with_embedding_uses_indices() -> None:
    g = TorchAdapter(_seeded(mt.LSTMClassifier), input_shape=(7,)).graph()
    assert g["fc"].output_shape == (3,)


def test_neither_inputs_nor_shape() -> None:
    with pytest.raises(ValueError, match=r"inputs=.*input_shape="):
        TorchAdapter(_seeded(mt.MLP))


def test_wrong_input_shape_names_the_layer() -> None:
    model = _seeded(mt.MLP)
    adapter = TorchAdapter(model, inputs=_x(2, 100))
    with pytest.raises(ValueError, match=r"\(2, 100\).*'fc1' \(Linear, in_features=784") as info:
        adapter.graph()
    assert "mat1 and mat2" in str(info.value)  # the original message is kept
    assert _no_hooks(model)


def test_wrong_channels_name_the_conv() -> None:
    model = _seeded(mt.SmallCNN)
    with pytest.raises(ValueError, match=r"\(2, 3, 28, 28\).*'conv' \(Conv2d"):
        TorchAdapter(model, inputs=_x(2, 3, 28, 28)).graph()


def test_error_outside_any_layer() -> None:
    model = _seeded(mt.TwoBranch)
    with pytest.raises(ValueError, match=r"\(2, 3\).*model TwoBranch.*TypeError"):
        TorchAdapter(model, inputs=_x(2, 3)).graph()  # forward wants two inputs
    assert _no_hooks(model)


def test_numpy_probe_and_batch_cut() -> None:
    model = _seeded(mt.MLP)
    x = np.random.default_rng(0).normal(size=(40, 784))  # float64: converted to float32
    adapter = TorchAdapter(model, inputs=x)
    assert any(str(MAX_PROBE_SAMPLES) in n and "40" in n for n in adapter.notes)
    g = adapter.graph()
    assert any("40" in n for n in g.notes)
    acts = adapter.activations()
    assert acts["fc1"].shape == (MAX_PROBE_SAMPLES, 128)
    assert acts["x"].shape == (MAX_PROBE_SAMPLES, 784)


# ---------------------------------------------------------------------- no side effects


@pytest.mark.parametrize("training", [True, False])
def test_model_state_untouched(training: bool) -> None:
    model = _seeded(mt.SmallCNN)
    model.train(training)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    adapter = TorchAdapter(model, inputs=_x(4, 1, 28, 28))
    adapter.graph()
    adapter.gradients()
    adapter.activations()
    assert all(m.training == training for m in model.modules())
    for k, v in model.state_dict().items():  # BatchNorm running stats included
        assert torch.equal(v, state[k]), k
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(torch.get_rng_state(), rng)
    assert _no_hooks(model)


def test_dropout_model_in_train_mode_keeps_rng() -> None:
    model, adapter, _ = built("transformer")
    assert model.training
    rng = torch.get_rng_state()
    adapter.activations()
    adapter.gradients()
    assert torch.equal(torch.get_rng_state(), rng)


# ---------------------------------------------------------------------- gradients


def _manual_grads(model: nn.Module, loss_fn: Callable[[Any], Any], x: Any) -> dict[str, Any]:
    out = model(x)
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss_fn(out), params)
    return dict(
        zip([n for n, p in model.named_parameters() if p.requires_grad], grads, strict=True)
    )


def test_gradients_computed_on_probe_when_absent() -> None:
    model = _seeded(mt.MLP)
    x = _x(4, 1, 28, 28)
    adapter = TorchAdapter(model, inputs=x)
    grads = adapter.gradients()
    assert all(p.grad is None for p in model.parameters())
    expected = _manual_grads(model, lambda o: o.float().pow(2).mean(), x)
    assert set(grads) == {"fc1", "fc2"}
    np.testing.assert_allclose(grads["fc1"]["weight"], expected["fc1.weight"].numpy(), rtol=1e-5)
    np.testing.assert_allclose(grads["fc2"]["bias"], expected["fc2.bias"].numpy(), rtol=1e-5)


def test_gradients_with_class_labels_use_cross_entropy() -> None:
    model = _seeded(mt.MLP)
    x = _x(4, 1, 28, 28)
    y = torch.tensor([0, 3, 9, 1])
    grads = TorchAdapter(model, inputs=x, labels=y.numpy()).gradients()
    expected = _manual_grads(model, lambda o: F.cross_entropy(o, y), x)
    np.testing.assert_allclose(grads["fc2"]["weight"], expected["fc2.weight"].numpy(), rtol=1e-5)


def test_gradients_with_float_targets_use_mse() -> None:
    model = _seeded(mt.TwoBranch)
    left, right, y = _x(2, 3), _x(2, 5), torch.ones(2, 2)
    grads = TorchAdapter(model, inputs=(left, right), labels=y).gradients()
    out = model(left, right)
    expected = torch.autograd.grad(F.mse_loss(out, y), model.head.weight)[0]
    np.testing.assert_allclose(grads["head"]["weight"], expected.numpy(), rtol=1e-5)


def test_gradients_copied_from_grad_when_present() -> None:
    model = _seeded(mt.MLP)
    x = _x(4, 1, 28, 28)
    model(x).sum().backward()
    before = {n: p.grad.clone() for n, p in model.named_parameters()}
    grads = TorchAdapter(model, inputs=x).gradients()
    np.testing.assert_array_equal(grads["fc1"]["weight"], before["fc1.weight"].numpy())
    grads["fc1"]["weight"][:] = 0  # a copy, not a view of .grad
    for n, p in model.named_parameters():
        assert torch.equal(p.grad, before[n])


def test_gradients_leave_partial_grads_alone() -> None:
    model = _seeded(mt.MLP)
    x = _x(4, 1, 28, 28)
    model.fc1.weight.grad = torch.full_like(model.fc1.weight, 7.0)
    grad_obj = model.fc1.weight.grad
    grads = TorchAdapter(model, inputs=x).gradients()  # fc2 has no .grad: computed
    assert model.fc1.weight.grad is grad_obj
    assert torch.all(grad_obj == 7.0)
    assert model.fc2.weight.grad is None
    assert not np.all(grads["fc1"]["weight"] == 7.0)


def test_gradients_keys_and_zeros_for_frozen() -> None:
    _, adapter, _ = built("unused")
    grads = adapter.gradients()
    assert set(grads) == set(adapter.parameters())
    assert np.all(grads["spare"]["weight"] == 0)  # never used: no gradient
    model2 = _seeded(mt.MLP)
    model2.fc1.requires_grad_(False)
    grads2 = TorchAdapter(model2, input_shape=(784,)).gradients()
    assert np.all(grads2["fc1"]["weight"] == 0)
    assert np.any(grads2["fc2"]["weight"] != 0)


# ---------------------------------------------------------------------- activations


def test_activations_match_a_manual_forward() -> None:
    model = _seeded(mt.MLP)
    x = _x(4, 1, 28, 28)
    adapter = TorchAdapter(model, inputs=x)
    acts = adapter.activations()
    with torch.no_grad():
        fc1 = model.fc1(x.view(4, -1))
        out = model(x)
    np.testing.assert_allclose(acts["fc1"], fc1.numpy(), rtol=1e-6)
    np.testing.assert_allclose(acts["relu"], torch.relu(fc1).numpy(), rtol=1e-6)
    np.testing.assert_allclose(acts["output"], out.numpy(), rtol=1e-6)
    assert acts["x"].shape == (4, 1, 28, 28)
    assert all(a.dtype == np.float32 for a in acts.values())
    g = adapter.graph()
    for name, a in acts.items():
        assert a.shape[1:] == g[name].output_shape, name
    assert _no_hooks(model)


def test_activations_before_inplace_relu() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.act = nn.ReLU(inplace=True)

        def forward(self, x: Any) -> Any:
            return self.act(self.fc(x))

    model = _seeded(Net)
    x = _x(3, 4)
    acts = TorchAdapter(model, inputs=x).activations()
    with torch.no_grad():
        expected = model.fc(x)
    assert (expected < 0).any()
    np.testing.assert_allclose(acts["fc"], expected.numpy(), rtol=1e-6)


def test_activations_of_every_module_node() -> None:
    _, adapter, g = built("transformer")
    acts = adapter.activations()
    modules = [layer.name for layer in g if layer.op[0].isupper() and layer.kind != "other"]
    assert set(modules) <= set(acts)
    assert acts["layers.0.self_attn"].shape == (2, 5, 16)


def test_parameters_follow_a_replaced_module_or_parameter() -> None:
    """Parameters are read from the known objects while they are the model's; a module or a
    parameter replaced since is found again by its path."""
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    adapter = TorchAdapter(model, inputs=_x(2, 4))
    before = adapter.parameters()
    np.testing.assert_array_equal(before["0"]["weight"], model[0].weight.detach().numpy())
    with torch.no_grad():
        model[0].weight.add_(1.0)  # in place: same object, new values
    np.testing.assert_array_equal(
        adapter.parameters()["0"]["weight"], model[0].weight.detach().numpy()
    )
    model[0] = nn.Linear(4, 3)  # a new module at the same path
    np.testing.assert_array_equal(
        adapter.parameters()["0"]["weight"], model[0].weight.detach().numpy()
    )
    model[2].bias = nn.Parameter(torch.full((2,), 7.0))  # a new parameter object
    after = adapter.parameters()
    np.testing.assert_array_equal(after["2"]["bias"], [7.0, 7.0])
    for layer in after.values():  # each layer's one flat view, for its statistics
        flat = getattr(layer, "flat", None)
        assert flat is not None
        np.testing.assert_array_equal(flat, np.concatenate([a.ravel() for a in layer.values()]))


def test_probe_pass_leaves_the_modules_as_they_were() -> None:
    """The probe pass wraps captured modules' forward for the pass only: afterwards no module
    has an instance ``forward`` it did not have, and one that had its own keeps it."""
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    own = model[2].forward
    model[2].forward = lambda x: own(x) * 0 + 1.0  # the user's own patch: outputs all ones
    adapter = TorchAdapter(model, inputs=_x(2, 4))
    acts = adapter.activations()
    np.testing.assert_array_equal(acts["2"], np.ones((2, 2), np.float32))
    assert "forward" not in model[0].__dict__ and "forward" not in model[1].__dict__
    assert model[2].__dict__["forward"] is not own and model(_x(2, 4)).eq(1.0).all()
    with pytest.raises(ValueError, match="does not fit"):  # a failing pass unwraps too
        TorchAdapter(model, inputs=_x(2, 5)).activations()
    assert "forward" not in model[0].__dict__ and "forward" not in model[1].__dict__


# ---------------------------------------------------------------------- kept between records
# (the module list, the parameter layout and the probe plan are cached per adapter: each of these
# changes between two records must be seen)


def test_probe_pass_guards_a_module_replaced_between_records() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2))
    adapter = TorchAdapter(model, inputs=_x(5, 4))
    adapter.activations()
    model[1] = nn.BatchNorm1d(3)  # a new module, with buffers of its own, in train mode
    del model[2]  # Sequential re-keys its children: a new _modules dict
    model.append(nn.Dropout(0.5))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    adapter.activations()
    for k, v in model.state_dict().items():  # the new BatchNorm's running stats included
        assert torch.equal(v, state[k]), k
    assert torch.equal(torch.get_rng_state(), rng)  # the new Dropout drew from it
    assert all(m.training for m in model.modules())
    assert _no_hooks(model) and all("forward" not in m.__dict__ for m in model.modules())


def test_mode_switched_between_records() -> None:
    model = _seeded(mt.SmallCNN)
    adapter = TorchAdapter(model, inputs=_x(4, 1, 28, 28))
    adapter.activations()
    for training in (False, True, False):
        model.train(training)
        model.bn.train(not training)  # a mix of modes, kept as it is
        state = {k: v.clone() for k, v in model.state_dict().items()}
        adapter.activations()
        adapter.gradients()
        assert model.bn.training is (not training)
        assert all(m.training is training for m in model.modules() if m is not model.bn)
        for k, v in model.state_dict().items():
            assert torch.equal(v, state[k]), k


def test_user_hook_added_between_records() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    adapter = TorchAdapter(model, inputs=_x(2, 4))
    adapter.activations()
    seen: list[Any] = []
    handle = model[0].register_forward_hook(lambda _m, _a, out: seen.append(out.clone()))
    acts = adapter.activations()
    assert len(seen) == 1  # the user's hook ran on the probe pass, once
    np.testing.assert_array_equal(acts["0"], seen[0].numpy())
    assert len(model[0]._forward_hooks) == 1  # and is still there
    handle.remove()
    assert _no_hooks(model)


def test_gradient_norms_follow_grad_and_requires_grad() -> None:
    model = _seeded(mt.MLP)
    x = _x(4, 1, 28, 28)
    adapter = TorchAdapter(model, inputs=x)

    def expected(grads: dict[str, Any]) -> dict[str, float]:
        return {
            layer: float(np.sqrt(sum(np.sum(np.square(g, dtype=np.float64)) for g in d.values())))
            for layer, d in grads.items()
        }

    computed = adapter.gradient_norms()  # no .grad yet: on the probe
    assert computed == pytest.approx(expected(adapter.gradients()), rel=1e-5)
    model(x).sum().backward()  # now the loop's .grad
    by_grad = adapter.gradient_norms()
    assert by_grad != pytest.approx(computed, rel=1e-3)
    assert by_grad == pytest.approx(
        expected(
            {
                "fc1": {"w": model.fc1.weight.grad.numpy(), "b": model.fc1.bias.grad.numpy()},
                "fc2": {"w": model.fc2.weight.grad.numpy(), "b": model.fc2.bias.grad.numpy()},
            }
        ),
        rel=1e-5,
    )
    model.fc1.requires_grad_(False)  # frozen: its .grad no longer counts
    frozen = adapter.gradient_norms()
    assert frozen["fc1"] == 0.0 and frozen["fc2"] == pytest.approx(by_grad["fc2"])
    model.fc1.requires_grad_(True)
    model.fc2.bias.grad = None  # one trainable parameter without .grad: all on the probe
    assert adapter.gradient_norms() == pytest.approx(computed, rel=1e-5)
    assert model.fc2.bias.grad is None


def test_parameters_are_copies_whatever_the_dtype_or_count() -> None:
    model = nn.Linear(3, 1, bias=False)  # one parameter
    adapter = TorchAdapter(model, inputs=_x(2, 3))
    before = adapter.parameters()["Linear"]["weight"].copy()
    got = adapter.parameters()["Linear"]["weight"]
    with torch.no_grad():
        model.weight.add_(1.0)
    np.testing.assert_array_equal(got, before)  # not a view of the parameter
    model.double()
    got = adapter.parameters()["Linear"]["weight"]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, model.weight.detach().float().numpy())


def test_parameters_follow_a_parameter_resized_in_place() -> None:
    model = _seeded(mt.WithUnused)
    adapter = TorchAdapter(model, inputs=_x(2, 4))
    assert adapter.parameters()["spare"]["weight"].shape == (4, 4)
    with torch.no_grad():
        model.spare.weight.data = torch.arange(15.0).reshape(5, 3)  # same object, new shape
    params = adapter.parameters()
    np.testing.assert_array_equal(params["spare"]["weight"], np.arange(15.0).reshape(5, 3))
    np.testing.assert_array_equal(params["fc"]["weight"], model.fc.weight.detach().numpy())
    flat = getattr(params["spare"], "flat", None)
    np.testing.assert_array_equal(
        flat, np.concatenate([a.ravel() for a in params["spare"].values()])
    )
