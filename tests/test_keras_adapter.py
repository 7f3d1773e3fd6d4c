"""KerasAdapter: graph extraction, canonical parameters, gradients and activations (Keras 3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from nnviz_widget.adapters import adapt  # noqa: E402
from nnviz_widget.adapters.keras import MAX_PROBE, KerasAdapter  # noqa: E402
from nnviz_widget.graph import KINDS  # noqa: E402

from . import models_keras as mk  # noqa: E402

pytestmark = pytest.mark.keras

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def built() -> dict[str, tuple[Any, Any, KerasAdapter]]:
    """Every test model with its probe and adapter, built once for the module."""
    # layer names ("dense", "dense_1", ...) come from session-wide counters: start them afresh
    # whatever other test modules built before this one
    keras.backend.clear_session()
    out = {}
    for name, build in mk.BUILDERS.items():
        model, probe = build()
        out[name] = (model, probe, KerasAdapter(model, inputs=probe))
    return out


def kernel(model: Any, layer: str) -> np.ndarray:
    return np.asarray(model.get_layer(layer).kernel.numpy())


# ------------------------------------------------------------------------ graph, every model


@pytest.mark.parametrize("name", list(mk.BUILDERS))
def test_graph_is_consistent(built: dict[str, Any], name: str) -> None:
    model, _, adapter = built[name]
    g = adapter.graph()
    assert g.framework == "keras"
    assert g.model_name == model.name
    assert g.total_params == model.count_params()
    assert len(set(g.names)) == len(g.names)
    assert all(a in g.names and b in g.names for a, b in g.edges)
    assert all(layer.kind in KINDS for layer in g.layers)
    assert [layer.id for layer in g.layers] == list(range(len(g.layers)))
    # every layer with parameters reports them in param_shapes, and the counts agree
    for layer in g.layers:
        assert layer.params == sum(int(np.prod(s)) for s in layer.param_shapes.values())
    # parameters() covers exactly the layers and names of param_shapes
    params = adapter.parameters()
    for layer in g.layers:
        got = {k: v.shape for k, v in params.get(layer.name, {}).items()}
        assert got == layer.param_shapes, layer.name
        assert all(v.dtype == np.float32 for v in params.get(layer.name, {}).values())
    json.dumps(g.to_dict())  # JSON-ready


# ------------------------------------------------------------------------ specific models


def test_seed_mnist_mlp(built: dict[str, Any]) -> None:
    model, x, adapter = built["seed_mnist_mlp"]
    g = adapter.graph()
    assert [layer.kind for layer in g.layers] == ["input", "dense", "dense", "output"]
    inp, d1, d2, out = g.layers
    assert inp.output_shape == (784,)
    assert (d1.name, d1.units, d1.output_shape, d1.input_shapes) == ("dense", 64, (64,), [(784,)])
    assert d1.detail["activation"] == "relu" and d2.detail["activation"] == "sigmoid"
    assert d1.param_shapes == {"weight": (64, 784), "bias": (64,)}
    assert out.output_shape == (1,)
    assert g.edges == [(inp.name, "dense"), ("dense", d2.name), (d2.name, "output")]
    assert g.neuron_source("dense") == inp.name
    assert not g.approximate

    p = adapter.parameters()
    assert p["dense"]["weight"].shape == (64, 784)
    np.testing.assert_array_equal(p["dense"]["weight"], kernel(model, "dense").T)
    p["dense"]["weight"][:] = 0  # a copy: the model is untouched
    assert np.abs(kernel(model, "dense")).sum() > 0

    acts = adapter.activations()
    w, b = kernel(model, "dense").T, p["dense"]["bias"]
    expected = np.maximum(x @ w.T + b, 0)
    np.testing.assert_allclose(acts["dense"], expected, rtol=1e-4, atol=1e-5)
    assert acts["dense"].dtype == np.float32
    assert acts["output"].shape == (len(x), 1)


def test_seed_xor_mlp(built: dict[str, Any]) -> None:
    _, _, adapter = built["seed_xor_mlp"]
    g = adapter.graph()
    assert [(layer.kind, layer.output_shape) for layer in g.layers] == [
        ("input", (2,)),
        ("dense", (10,)),
        ("dense", (1,)),
        ("output", (1,)),
    ]
    assert g.total_params == 41


def test_small_cnn(built: dict[str, Any]) -> None:
    model, x, adapter = built["small_cnn"]
    g = adapter.graph()
    assert [(layer.name, layer.kind) for layer in g.layers] == [
        ("image", "input"),
        ("conv", "conv"),
        ("bn", "norm"),
        ("pool", "pool"),
        ("flatten", "reshape"),
        ("drop", "dropout"),
        ("fc", "dense"),
        ("output", "output"),
    ]
    conv = g["conv"]
    assert conv.units == 4 and conv.output_shape == (10, 10, 4)
    assert conv.input_shapes == [(12, 12, 1)]
    assert conv.detail["dim"] == 2
    assert conv.detail["kernel_size"] == [3, 3] and conv.detail["strides"] == [1, 1]
    assert conv.detail["activation"] == "relu"
    # (kh, kw, in, out) -> (out, in, kh, kw)
    w = adapter.parameters()["conv"]["weight"]
    assert w.shape == (4, 1, 3, 3)
    np.testing.assert_array_equal(w, np.transpose(kernel(model, "conv"), (3, 2, 0, 1)))
    # BatchNorm counts its moving statistics, as Keras does
    bn = g["bn"]
    assert set(bn.param_shapes) == {"gamma", "beta", "moving_mean", "moving_variance"}
    assert bn.params == 16
    assert g["flatten"].output_shape == (100,)
    assert g.neuron_source("fc") == "pool"  # through Dropout and Flatten
    assert adapter.activations()["pool"].shape == (len(x), 5, 5, 4)


def test_residual_add_has_two_inputs(built: dict[str, Any]) -> None:
    _, _, adapter = built["residual_block"]
    g = adapter.graph()
    add = g["add"]
    assert add.kind == "merge" and add.detail["op"] == "add"
    assert sorted(g.predecessors("add")) == ["fc2", "x"]
    assert add.input_shapes == [(16,), (16,)]
    assert g.successors("x") == ["fc1", "add"]


def test_two_inputs_two_outputs(built: dict[str, Any]) -> None:
    _, probe, adapter = built["two_in_two_out"]
    g = adapter.graph()
    assert [layer.name for layer in g.layers if layer.kind == "input"] == ["a", "b"]
    outs = [layer for layer in g.layers if layer.kind == "output"]
    assert [(o.name, o.output_shape) for o in outs] == [("output_0", (3,)), ("output_1", (1,))]
    assert g.predecessors("output_0") == ["cls"] and g.predecessors("output_1") == ["reg"]
    assert sorted(g.predecessors("cat")) == ["b", "fa"]
    assert g["cat"].detail["op"] == "concat"
    acts = adapter.activations()
    np.testing.assert_allclose(acts["a"], probe[0])
    assert acts["cat"].shape == (7, 11)
    assert acts["output_0"].shape == (7, 3)


def test_nested_sequential_is_expanded(built: dict[str, Any]) -> None:
    model, _, adapter = built["nested_sequential"]
    g = adapter.graph()
    assert g.names == ["x", "inner1", "inner2", "head", "output"]
    assert g["inner1"].parent == "block" and g["inner2"].parent == "block"
    assert g["head"].parent is None
    assert g.edges == [
        ("x", "inner1"),
        ("inner1", "inner2"),
        ("inner2", "head"),
        ("head", "output"),
    ]
    assert g.total_params == model.count_params() == 72 + 36 + 10  # not double counted
    assert set(adapter.activations()) == set(g.names)


def test_subclassed_model_call_order(built: dict[str, Any]) -> None:
    model, _, adapter = built["subclassed"]
    g = adapter.graph()
    assert g.approximate
    assert any("call" in note and "order" in note for note in g.notes)
    assert g.names == ["input", "sub_fc1", "sub_norm", "sub_fc2", "output"]
    assert g.edges == list(zip(g.names[:-1], g.names[1:], strict=True))
    assert g["sub_fc1"].output_shape == (8,) and g["sub_fc1"].input_shapes == [(5,)]
    assert g["sub_norm"].kind == "norm"
    # the temporary wrappers are gone
    assert all("call" not in vars(layer) for layer in model._flatten_layers())
    acts = adapter.activations()
    assert acts["sub_fc2"].shape == (4, 3)
    np.testing.assert_allclose(acts["output"], acts["sub_fc2"])


def test_custom_layer_is_other(built: dict[str, Any]) -> None:
    _, _, adapter = built["custom_layer"]
    scale = adapter.graph()["scale"]
    assert (scale.kind, scale.op, scale.params) == ("other", "Scale", 6)
    assert scale.param_shapes == {"scale": (6,)}


# ------------------------------------------------------------------------ gradients


@pytest.mark.parametrize("name", ["seed_mnist_mlp", "small_cnn", "two_in_two_out", "subclassed"])
def test_gradients_shapes_nonzero_and_weights_unchanged(built: dict[str, Any], name: str) -> None:
    model, _, adapter = built[name]
    before = adapter.parameters()
    grads = adapter.gradients()
    after = adapter.parameters()
    trainable = {id(v) for v in model.trainable_weights}
    assert grads, name
    for layer, gs in grads.items():
        for pname, g in gs.items():
            assert g.shape == before[layer][pname].shape, (layer, pname)
            assert g.dtype == np.float32
        assert any(np.abs(g).sum() > 0 for g in gs.values()), layer
    n_grads = sum(len(gs) for gs in grads.values())
    assert n_grads == len(trainable)
    for layer in before:  # weights and BatchNorm statistics untouched
        for pname in before[layer]:
            np.testing.assert_array_equal(before[layer][pname], after[layer][pname])
    if name == "small_cnn":
        assert set(grads["bn"]) == {"gamma", "beta"}  # moving stats are not trainable


def test_gradients_with_labels_match_hand_computed_bce() -> None:
    model, x = mk.seed_xor_mlp()
    y = np.array([0, 1, 1, 0])
    adapter = KerasAdapter(model, inputs=x, labels=y)
    grads = adapter.gradients()
    # sigmoid output + 0/1 labels: binary cross-entropy, d/d(logit) = (p - y) / N, so the
    # last layer's bias gradient is mean(p - y)
    p = adapter.activations()["output"][:, 0]
    last = adapter.graph().predecessors("output")[0]
    np.testing.assert_allclose(grads[last]["bias"], [np.mean(p - y)], rtol=1e-3, atol=1e-6)


def test_gradients_with_class_labels() -> None:
    model, x = mk.small_cnn()
    y = np.arange(len(x)) % 10
    with_labels = KerasAdapter(model, inputs=x, labels=y).gradients()
    without = KerasAdapter(model, inputs=x).gradients()
    # softmax output + integer labels: cross-entropy, so d/d(logits) = (p - onehot) / N
    acts = KerasAdapter(model, inputs=x).activations()["fc"]
    onehot = np.eye(10)[y]
    np.testing.assert_allclose(
        with_labels["fc"]["bias"], (acts - onehot).mean(axis=0), rtol=1e-3, atol=1e-5
    )
    assert not np.allclose(with_labels["fc"]["bias"], without["fc"]["bias"])


# ------------------------------------------------------------------------ probes and errors


def test_probe_is_cut_to_max() -> None:
    model, _ = mk.seed_xor_mlp()
    x = np.random.default_rng(1).normal(size=(50, 2)).astype("float32")
    adapter = KerasAdapter(model, inputs=x)
    assert adapter.activations()["output"].shape == (MAX_PROBE, 1)
    assert any("32" in note for note in adapter.notes)


def test_bad_probe_names_expected_shape(built: dict[str, Any]) -> None:
    model, _, _ = built["seed_mnist_mlp"]
    with pytest.raises(ValueError, match=r"expected input shape \(784,\).*input_layer"):
        KerasAdapter(model, inputs=np.zeros((2, 10), "float32"))


def test_bad_probe_inside_subclassed_model_names_the_layer(built: dict[str, Any]) -> None:
    model, _, _ = built["subclassed"]
    with pytest.raises(ValueError, match=r"expected input shape \(5,\).*sub_fc1"):
        KerasAdapter(model, inputs=np.zeros((2, 7), "float32"))


def test_unbuilt_model_without_inputs_is_refused() -> None:
    model = keras.Sequential([keras.layers.Dense(3)])
    with pytest.raises(ValueError, match=r"inputs=.*input_shape="):
        KerasAdapter(model)
    with pytest.raises(ValueError, match=r"inputs=.*input_shape="):
        KerasAdapter(mk.TwoLayerNet())


def test_unbuilt_models_are_built_from_input_shape_or_probe() -> None:
    model = keras.Sequential([keras.layers.Dense(3), keras.layers.Dense(2)])
    g = KerasAdapter(model, input_shape=(5,)).graph()
    assert [layer.output_shape for layer in g.layers] == [(5,), (3,), (2,), (2,)]
    assert g.total_params == model.count_params() == 18 + 8
    sub = mk.TwoLayerNet()
    adapter = KerasAdapter(sub, inputs=np.ones((3, 5), "float32"))
    assert adapter.graph().total_params == sub.count_params()


def test_built_model_needs_no_probe(built: dict[str, Any]) -> None:
    model, _, _ = built["small_cnn"]
    adapter = KerasAdapter(model)  # zeros of the model's own input shape
    assert adapter.activations()["conv"].shape == (1, 10, 10, 4)


def test_no_keras_warnings_for_array_probes() -> None:
    model, x = mk.residual_block()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        adapter = KerasAdapter(model, inputs=x)
        adapter.activations()
        adapter.gradients()


def test_adapt_picks_keras(built: dict[str, Any]) -> None:
    for name in ("seed_mnist_mlp", "residual_block", "subclassed"):
        model, probe, _ = built[name]
        assert isinstance(adapt(model, inputs=probe), KerasAdapter)


# ------------------------------------------------------------------------ torch backend


def test_torch_backend_in_subprocess() -> None:
    pytest.importorskip("torch")
    env = {**os.environ, "KERAS_BACKEND": "torch", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, str(HERE / "keras_torch_backend_check.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=HERE.parent,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["backend"] == "torch"
    models = report["models"]
    assert set(models) == set(mk.BUILDERS)
    for name, r in models.items():
        g = r["graph"]
        assert g["total_params"] == r["count_params"], name
        assert r["unchanged"], name
        assert r["grad_nonzero"] and all(r["grad_nonzero"].values()), name
        assert r["act_dtypes"] == ["float32"], name
        for layer in g["layers"]:
            shape = layer["output_shape"]
            if layer["name"] in r["act_shapes"] and None not in shape:
                assert r["act_shapes"][layer["name"]][1:] == shape, (name, layer["name"])
    mnist = models["seed_mnist_mlp"]
    assert mnist["param_shapes"]["dense"] == {"weight": [64, 784], "bias": [64]}
    assert models["subclassed"]["graph"]["approximate"] is True
    res = models["residual_block"]["graph"]
    assert sorted(a for a, b in res["edges"] if b == "add") == ["fc2", "x"]
    nested = models["nested_sequential"]["graph"]
    assert {x["name"]: x["parent"] for x in nested["layers"]}["inner1"] == "block"
    cnn = models["small_cnn"]
    assert cnn["param_shapes"]["conv"]["weight"] == [4, 1, 3, 3]


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.function: TF backend")
def test_compiled_probe_passes_equal_the_eager_ones() -> None:
    """On TensorFlow each record runs the probe pass and the gradient pass as tf.functions
    traced at construction; they give what the eager passes give, and follow the weights."""
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    inp = keras.Input((6,))
    h = keras.layers.Dense(5, activation="tanh", name="h")(inp)
    out = keras.layers.Dense(3, name="o")(h)
    model = keras.Model(inp, out)
    x = np.random.default_rng(0).normal(size=(8, 6)).astype("float32")
    y = np.arange(8) % 3
    adapter = KerasAdapter(model, inputs=x, labels=y)
    adapter.activations()  # the first (eager) pass compiles the next ones
    adapter.gradients()
    fns = list(adapter._fns.values())
    assert len(fns) == 2 and all(
        isinstance(f, tf.types.experimental.PolymorphicFunction) for f in fns
    )
    model.layers[1].kernel.assign(model.layers[1].kernel + 0.5)  # the weights move on
    acts, grads = adapter.activations(), adapter.gradients()
    eager = adapter._run_functional()
    for name, v in eager.items():
        np.testing.assert_allclose(acts[name], np.asarray(v), rtol=1e-5, atol=1e-6)
    with tf.GradientTape() as tape:
        loss = adapter._loss(model(x, training=False))
    ref = tape.gradient(loss, [v.value for _, _, v, _ in adapter._vars])
    flat = [grads[name][canon] for name, canon, _, _ in adapter._vars]
    for got, want in zip(flat, ref, strict=True):  # same values (canonical orientation aside)
        np.testing.assert_allclose(
            np.sort(got.ravel()), np.sort(np.asarray(want).ravel()), rtol=1e-5, atol=1e-7
        )
