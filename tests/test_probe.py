"""The probe batch: activations per epoch, health numbers, decision boundary (torch and Keras)."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import nnviz_widget as nnv
from nnviz_widget.graph import Layer
from nnviz_widget.probe import boundary_arrays, layer_health, reduce_activation

torch = pytest.importorskip("torch")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def mlp2d(hidden: int = 6, out: int = 1) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(2, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, out)
    )


def test_torch_activations_match_manual_forward() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))
    x = torch.randn(40, 64)
    viz = nnv.NNViz(model, inputs=x)
    assert "32" in viz._notice or viz._probe["n"] == 32  # cut to the default limit with a note
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for e in range(2):
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
        viz.record(e)
    with torch.no_grad():
        h = model[0](x[:32])
        expect = {"0": h, "1": torch.relu(h), "2": model(x[:32])}
    for name, want in expect.items():
        got = viz.history.activations(name, 1)
        np.testing.assert_allclose(got, want.numpy(), atol=2e-2, rtol=1e-2)
    # the probe itself is recorded once
    np.testing.assert_allclose(viz.history.activations("input", 1), x[:32].numpy(), atol=1e-2)
    assert viz._probe["image_shape"] == [8, 8]  # 64 inputs read as an 8x8 image


def test_torch_cnn_feature_maps_channels_first() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 8 * 8, 3),
    )
    x = torch.randn(5, 1, 8, 8)
    viz = nnv.NNViz(model, inputs=x)
    got = viz.history.activations("0", -1)
    with torch.no_grad():
        np.testing.assert_allclose(got, model[0](x).numpy(), atol=1e-2, rtol=1e-2)


def test_keras_activations_channels_last_become_channels_first() -> None:
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ]
    )
    x = np.random.default_rng(0).normal(size=(5, 8, 8, 1)).astype("float32")
    viz = nnv.NNViz(model, inputs=x)
    conv = model.layers[0]
    got = viz.history.activations(conv.name, -1)
    want = np.moveaxis(np.asarray(conv(x)), -1, 1)
    assert got.shape == (5, 4, 8, 8)
    assert viz._probe["image_shape"] == [8, 8, 1]  # Keras images stay (H, W, C)
    np.testing.assert_allclose(got, want, atol=1e-2, rtol=1e-2)


def test_keras_seed_mlp_activations() -> None:
    keras = pytest.importorskip("keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = keras.Sequential(
            [
                keras.layers.Dense(10, activation="relu", input_shape=(2,)),
                keras.layers.Dense(1, activation="sigmoid"),
            ]
        )
    x = np.random.default_rng(1).normal(size=(16, 2)).astype("float32")
    viz = nnv.NNViz(model, inputs=x)
    d1 = model.layers[0]
    np.testing.assert_allclose(
        viz.history.activations(d1.name, -1), np.asarray(d1(x)), atol=1e-2, rtol=1e-2
    )
    assert viz.recorder._boundary is not None  # 2-D input: boundary on by default
    viz2 = nnv.NNViz(model, inputs=x, labels=(x[:, 0] > 0).astype("float32"))
    viz2.record(0)  # a single sigmoid output with 0/1 labels: binary cross-entropy gradients
    assert np.isfinite(viz2.history.stats(d1.name)["grad_norm"][0])


def test_dead_relu_layer_reports_one() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].bias.fill_(-1.0)  # never positive: every unit dead
    viz = nnv.NNViz(model, inputs=torch.randn(16, 4))
    viz.record(0)
    table = viz.health()
    assert table.at("1", 0)["dead"] == 1.0
    assert ("1", 0) in table.flags() and "dead" in table.flags()[("1", 0)]
    assert "dead" in viz.figure("health").data[0].name
    # print() in a terminal: the table as aligned text, flagged cells marked
    text = str(table).splitlines()
    assert text[0].split() == ["layer", "\\", "epoch", "0"]
    row = next(line for line in text if line.startswith("1 "))
    assert row.split()[1:] == ["!", "dead", "100%"]
    assert text[-1] == "! 1 @ 0: dead"
    col = text[1].index("  -") + 2  # the rule's second column: every row's cell starts there
    assert text[0][col] == "0" and row[col] == "!" and text[0][col - 1] == " "
    assert repr(table) == "HealthTable(3 layers x 1 epochs, 1 flags)"
    assert "<table>" in table._repr_html_()


def test_an_empty_model_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="the model has no layers"):
        nnv.NNViz(torch.nn.Sequential(), inputs=torch.randn(4, 3))


def test_constructed_health_cases() -> None:
    relu = Layer(0, "r", "activation", "ReLU", detail={"activation": "relu"})
    acts = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, 0.0]])
    assert layer_health(relu, acts)["dead"] == pytest.approx(2 / 3)
    sig = Layer(1, "s", "activation", "Sigmoid", detail={"activation": "sigmoid"})
    acts = np.array([[0.01, 0.5], [0.99, 0.999]])
    assert layer_health(sig, acts)["saturated"] == pytest.approx(0.75)
    tanh = Layer(2, "t", "activation", "Tanh", detail={"activation": "tanh"})
    assert layer_health(tanh, np.array([[-1.0, 0.0]]))["saturated"] == pytest.approx(0.5)
    conv = Layer(3, "c", "conv", "Conv2d", detail={"activation": "relu"})
    maps = np.zeros((2, 3, 4, 4))
    maps[0, 1, 2, 2] = 1.0  # only channel 1 fires, once
    assert layer_health(conv, maps)["dead"] == pytest.approx(2 / 3)
    nan = np.array([[np.nan, 1.0]])
    assert layer_health(relu, nan)["act_nonfinite"] == 1


def test_reduce_activation_budget() -> None:
    a = np.random.default_rng(0).normal(size=(32, 500)).astype(np.float32)
    arrays, info = reduce_activation("big", a, 32 * 100)
    assert info.mode == "units" and arrays["act"].shape == (32, 100)
    _, info2 = reduce_activation("big", a, 32 * 100)
    np.testing.assert_array_equal(info.index, info2.index)  # the same units every epoch
    maps = np.ones((32, 8, 16, 16), np.float32)
    arrays, info = reduce_activation("conv", maps, 8 * 16 * 16 * 3 + 32 * 8)
    assert info.mode == "maps" and info.samples == 3
    assert arrays["act_mean"].shape == (32, 8)


def test_boundary_grid_equals_model_outputs() -> None:
    model = mlp2d()
    x = torch.randn(20, 2)
    viz = nnv.NNViz(model, inputs=x)
    viz.record(0)
    snap = viz.recorder.snapshots[-1]
    meta, res = snap.boundary_meta, snap.boundary_meta["res"]
    assert res == 100 and meta["mode"] == "regression"
    b = viz.recorder._boundary
    grid = torch.from_numpy(b.grid())
    with torch.no_grad():
        want = model(grid).numpy().reshape(res, res)
    np.testing.assert_allclose(
        snap.boundary["value"].astype(np.float32), want, atol=2e-2, rtol=1e-2
    )
    # each hidden neuron's own field, on a smaller grid
    assert snap.fields["1"].shape == (6, b.field_res, b.field_res)
    with torch.no_grad():
        fields = torch.tanh(model[0](torch.from_numpy(b.grid(b.field_res)))).numpy()
    np.testing.assert_allclose(
        snap.fields["1"].astype(np.float32),
        fields.T.reshape(6, b.field_res, b.field_res),
        atol=2e-2,
    )


def test_multiclass_boundary_argmax_and_confidence() -> None:
    out = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 5.0], [0.1, 0.2, 0.0], [0.0, 3.0, 0.0]])
    arrays, meta = boundary_arrays(out, 2)
    assert meta["mode"] == "multiclass" and meta["classes"] == 3
    np.testing.assert_array_equal(arrays["class"].ravel(), [0, 2, 1, 1])
    assert arrays["confidence"].max() <= 1.0 and arrays["confidence"][0, 1] > 0.95


def test_boundary_on_non_2d_model_is_an_error() -> None:
    model = torch.nn.Linear(3, 1)
    with pytest.raises(ValueError, match="2 features"):
        nnv.NNViz(model, inputs=torch.randn(4, 3), boundary=True)
    viz = nnv.NNViz(model, inputs=torch.randn(4, 3))  # auto: off, no error
    assert viz.recorder._boundary is None


def test_bad_probe_errors_at_construction() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(784, 10))
    with pytest.raises(ValueError, match="784"):
        nnv.NNViz(model, inputs=torch.randn(4, 100))


def test_two_input_probe_tuple() -> None:
    class Two(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = torch.nn.Linear(3, 4)
            self.b = torch.nn.Linear(5, 4)

        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return self.a(x) + self.b(y)

    viz = nnv.NNViz(Two(), inputs=(torch.randn(6, 3), torch.randn(6, 5)))
    viz.record(0)
    assert viz.history.activations("a", 0).shape == (6, 4)
    assert viz.history.activations("b", 0).shape == (6, 4)


def test_nan_activations_counted() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU())
    with torch.no_grad():
        model[0].weight[0, 0] = float("nan")
    viz = nnv.NNViz(model, inputs=torch.randn(4, 2), boundary=False)
    viz.record(0)
    assert viz.health().at("1", 0)["act_nonfinite"] >= 4


def test_sequence_task_shows_no_single_label_or_prediction() -> None:
    """A per-position task (output (N, T, C), labels (N, T)) has no one class per sample: no
    label line, no flattened index as the prediction, and the labels still give the probe's
    gradients their loss."""
    torch.manual_seed(0)

    class Tagger(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Embedding(5, 8)
            self.out = torch.nn.Linear(8, 5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.out(self.embed(x))

    x = torch.randint(0, 5, (4, 6))
    viz = nnv.NNViz(Tagger(), inputs=x, labels=x.flip(1))
    viz.record(0)
    assert viz._probe["n"] == 4 and viz._probe["labels"] is None
    # token inputs: the likeliest token per position (snap.top) and, per sample, the one after
    # its last position; never an index into the flattened (positions x classes) output
    for s in viz.recorder.snapshots:
        assert len(s.preds) == 4 and all(0 <= p < 5 for p in s.preds)
        assert s.top["ids"].shape == (4, 6, 3)
    assert np.isfinite(viz.history.stats("out")["grad_norm"][0])
    # one class per sample, given as (N, 1): still one label per sample
    viz2 = nnv.NNViz(
        mlp2d(out=2), inputs=torch.randn(4, 2), labels=torch.tensor([[0], [1], [1], [0]])
    )
    assert viz2._probe["labels"] == [0, 1, 1, 0]
    assert len(viz2.recorder.snapshots[0].preds) == 4
