"""The scikit-learn adapter: a fitted MLPClassifier / MLPRegressor, read with numpy alone."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_moons
from sklearn.neural_network import MLPClassifier, MLPRegressor

import nnviz_widget as nnv
from nnviz_widget.adapters import framework_of


@pytest.fixture(scope="module")
def moons() -> tuple[np.ndarray, np.ndarray]:
    return make_moons(200, noise=0.2, random_state=0)


def _clf(moons: tuple[np.ndarray, np.ndarray], **kw: object) -> MLPClassifier:
    x, y = moons
    m = MLPClassifier(hidden_layer_sizes=(8, 6), random_state=0, alpha=1e-3, **kw)  # type: ignore[arg-type]
    return m.partial_fit(x, y, classes=[0, 1])


def test_graph_parameters_and_activations_are_the_estimators(moons) -> None:
    x, y = moons
    m = _clf(moons)
    assert framework_of(m) == "sklearn"
    viz = nnv.NNViz(m, inputs=x[:16], labels=y[:16])
    g = viz.graph
    assert [(layer.name, layer.kind) for layer in g] == [
        ("input", "input"),
        ("dense_0", "dense"),
        ("relu_0", "activation"),
        ("dense_1", "dense"),
        ("relu_1", "activation"),
        ("dense_2", "dense"),
        ("logistic_2", "activation"),
        ("output", "output"),
    ]
    assert g.total_params == sum(
        w.size + b.size for w, b in zip(m.coefs_, m.intercepts_, strict=True)
    )
    params = viz.recorder.adapter.parameters()
    np.testing.assert_allclose(params["dense_1"]["weight"], m.coefs_[1].T, rtol=1e-6)
    acts = viz.recorder.adapter.activations()
    np.testing.assert_allclose(acts["output"][:, 0], m.predict_proba(x[:16])[:, 1], rtol=1e-5)
    assert viz._probe["labels"] == [int(v) for v in y[:16]]


def test_gradients_equal_sklearns_own_backprop(moons) -> None:
    """The hand-written backward pass against sklearn's (private) one, which trains the model."""
    x, y = moons
    for hidden, activation in (((8, 6), "relu"), ((5,), "tanh"), ((4, 4), "logistic")):
        m = MLPClassifier(hidden_layer_sizes=hidden, activation=activation, random_state=1)
        m.partial_fit(x, y % 2 + (x[:, 0] > 1), classes=[0, 1, 2])  # three classes: softmax
        xp, yp = x[:20], (y % 2 + (x[:, 0] > 1))[:20]
        ours = nnv.Recorder(m, xp, labels=yp).adapter.gradients()
        n_layers = len(m.coefs_)
        acts = [xp] + [np.empty((len(xp), w.shape[1])) for w in m.coefs_]
        deltas = [np.empty_like(a) for a in acts]
        cg = [np.empty_like(w) for w in m.coefs_]
        ig = [np.empty_like(b) for b in m.intercepts_]
        target = m._label_binarizer.transform(yp)
        _, cg, ig = m._backprop(xp, target, None, acts, deltas, cg, ig)
        for i in range(n_layers):
            np.testing.assert_allclose(ours[f"dense_{i}"]["weight"], cg[i].T, atol=1e-6)
            np.testing.assert_allclose(ours[f"dense_{i}"]["bias"], ig[i], atol=1e-6)


def test_epochs_record_with_partial_fit_and_the_boundary_is_drawn(moons) -> None:
    x, y = moons
    m = _clf(moons)
    viz = nnv.NNViz(m, inputs=x[:32], labels=y[:32])
    first = viz.recorder.adapter.parameters()["dense_0"]["weight"].copy()
    for epoch in range(1, 4):
        m.partial_fit(x, y)
        viz.record(epoch, loss=m.loss_)
    viz.flush()
    h = viz.history
    assert h.epochs == [1, 2, 3]
    assert h.metrics["loss"][-1] == pytest.approx(m.loss_)
    assert not np.allclose(viz.recorder.adapter.parameters()["dense_0"]["weight"], first)
    assert h.stats("dense_0")["grad_norm"][-1] > 0
    assert viz.recorder._boundary is not None  # two input features: a decision boundary


def test_regressor_and_clear_errors(moons) -> None:
    x, y = moons
    r = MLPRegressor(hidden_layer_sizes=(5,), random_state=0).partial_fit(x, y.astype(float))
    g = nnv.NNViz(r, inputs=x[:4]).graph
    assert [layer.kind for layer in g] == [
        "input",
        "dense",
        "activation",
        "dense",
        "activation",
        "output",
    ]
    assert nnv.Recorder(r, x[:4]).adapter.gradients()["dense_1"]["weight"].shape == (1, 5)
    with pytest.raises(ValueError, match=r"not fitted yet.*partial_fit"):
        nnv.NNViz(MLPClassifier())
    with pytest.raises(ValueError, match=r"inputs must be \(n_samples, 2\)"):
        nnv.NNViz(r, inputs=np.zeros((3, 5)))
