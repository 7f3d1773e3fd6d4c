"""The seed models trained for 10 epochs each, recorded through NNViz (torch loop, Keras fit)."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import nnviz_widget as nnv

torch = pytest.importorskip("torch")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class SeedMLP(torch.nn.Module):
    """Linear(784,128) -> ReLU -> Linear(128,10), flattening its input."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(784, 128)
        self.relu = torch.nn.ReLU()
        self.fc2 = torch.nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.relu(self.fc1(x.view(x.size(0), -1))))


def test_torch_seed_mlp_ten_epochs() -> None:
    torch.manual_seed(0)
    model = SeedMLP()
    x = torch.randn(64, 1, 28, 28)
    y = torch.randint(0, 10, (64,))
    viz = nnv.NNViz(model, inputs=x[:16])
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    init_fc1 = model.fc1.weight.detach().numpy().copy()
    for epoch in range(10):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        grad_fc1 = float(model.fc1.weight.grad.norm() ** 2 + model.fc1.bias.grad.norm() ** 2) ** 0.5
        opt.step()
        viz.record(epoch, loss=loss.item(), accuracy=0.1 * epoch)
    h = viz.history
    assert h.epochs == list(range(10))
    assert h.metrics["loss"][-1] < h.metrics["loss"][0]
    # the loop left .grad on the parameters: those are what gets recorded
    assert h.stats("fc1")["grad_norm"][-1] == pytest.approx(grad_fc1, rel=1e-4)
    w = h.weights("fc1", 9)
    np.testing.assert_allclose(w, model.fc1.weight.detach().numpy(), atol=2e-3)
    assert not np.allclose(h.weights("fc1", 9), init_fc1, atol=1e-4)
    np.testing.assert_allclose(
        h.init.weights["fc1"]["weight"].astype(np.float32), init_fc1, atol=2e-3
    )
    ratios = h.stats("fc2")["update_ratio"]
    assert np.all(ratios > 0) and np.all(ratios < 1)
    # in the browser: init and every epoch (a fast loop's are sent in batches, the rest
    # when the cell ends)
    assert [h["epoch"] for h, _ in viz._snapshot_parts()] == [-1, *range(10)]
    assert viz.epoch == 9


def test_torch_gradients_on_probe_when_no_grad() -> None:
    torch.manual_seed(0)
    model = SeedMLP()
    viz = nnv.NNViz(model, inputs=torch.randn(8, 784))
    viz.record(0, loss=1.0)
    g = viz.history.stats("fc1")["grad_norm"][0]
    assert np.isfinite(g) and g > 0
    assert model.fc1.weight.grad is None  # the user's .grad untouched


def test_torch_errors_are_clear() -> None:
    with pytest.raises(ValueError, match=r"inputs=.*input_shape="):
        nnv.NNViz(SeedMLP())
    with pytest.raises(ValueError, match="fc1"):
        nnv.NNViz(SeedMLP(), inputs=torch.randn(2, 100))


def test_torch_model_changed_shape_names_layer() -> None:
    model = SeedMLP()
    viz = nnv.NNViz(model, input_shape=(784,))
    model.fc2 = torch.nn.Linear(128, 5)
    with pytest.raises(ValueError, match="'fc2'"):
        viz.record(0)


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


@pytest.mark.parametrize("n_in,hidden", [(784, 64), (2, 10)])
def test_keras_seed_models_ten_epochs(keras, n_in: int, hidden: int) -> None:
    keras.utils.set_random_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # keras 3 warns about input_shape= on a layer
        model = keras.Sequential(
            [
                keras.layers.Dense(hidden, activation="relu", input_shape=(n_in,)),
                keras.layers.Dense(1, activation="sigmoid"),
            ]
        )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, n_in)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("float32")
    viz = nnv.NNViz(model, inputs=x[:32], labels=y[:32])
    hist = model.fit(
        x,
        y,
        epochs=10,
        batch_size=32,
        validation_split=0.2,
        verbose=0,
        callbacks=[viz.keras_callback()],
    )
    assert not viz.recorder.pending  # on_train_end flushed: the view has every epoch
    assert [head["epoch"] for head, _ in viz._children.parts()] == [-1, *range(10)]
    h = viz.history
    assert h.epochs == list(range(10))
    for key, values in hist.history.items():
        np.testing.assert_allclose(h.metrics[key], values, rtol=1e-6, err_msg=key)
    assert {"loss", "val_loss", "accuracy", "val_accuracy"} <= set(h.metrics)
    first = model.layers[0].name  # keras numbers names per session: dense, dense_2, ...
    assert np.all(np.isfinite(h.stats(first)["grad_norm"]))
    kernel = model.layers[0].get_weights()[0]
    np.testing.assert_allclose(h.weights(first, 9), kernel.T, atol=3e-3, rtol=3e-3)
    # a second fit continues the numbering
    model.fit(x, y, epochs=2, verbose=0, callbacks=[viz.keras_callback()])
    assert h.epochs[-2:] == [10, 11]
