"""Per-connection gradients: recorded at the weights' fixed samples, float16, within the byte
budget, thinned like weights, carried by the wire and the run file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import nnviz_widget as nnv
from nnviz_widget.recorder import Recorder
from nnviz_widget.wire import decode_snapshot, encode_snapshot

from .fakes import FakeModel, patch_adapt


def _f16(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float16).astype(np.float32)


@pytest.mark.torch
def test_torch_gradients_equal_param_grad_at_the_sampled_indices() -> None:
    torch = pytest.importorskip("torch")
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(40, 30), nn.ReLU(), nn.Linear(30, 3))
    x = torch.randn(8, 40)
    rec = Recorder(model, inputs=x, max_bytes=32 * 4096)  # 4 kB a snapshot: fc 0 is sampled
    first = model[0]
    idx = rec.sample_indices("0")
    assert idx is not None and 0 < idx.size < first.weight.numel()
    assert rec.sample_indices("2") is None
    model.zero_grad()
    (model(x).pow(2).sum() * 0.01).backward()  # one backward on a known loss, no step
    rec.record(0, loss=1.0)
    h = rec.history
    got = h.gradients("0", 0)
    want = first.weight.grad.detach().numpy().ravel()[idx]
    assert got.shape == idx.shape == h.weights("0", 0).shape  # the weights' fixed sample
    np.testing.assert_array_equal(got, _f16(want))
    np.testing.assert_array_equal(h.gradients("0", 0, "bias"), _f16(first.bias.grad.numpy()))
    np.testing.assert_array_equal(h.gradients("2", 0), _f16(model[2].weight.grad.numpy()))
    assert rec.snapshots[-1].grads["0"]["weight"].dtype == np.float16
    # the norm is of the same gradients
    norm = np.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in first.parameters()))
    assert h.stats("0")["grad_norm"][0] == pytest.approx(norm, rel=1e-5)
    # a conv transpose's gradient is in canonical orientation, like its weight
    t = nn.Sequential(nn.ConvTranspose2d(2, 3, 3))
    xt = torch.randn(2, 2, 4, 4)
    rt = Recorder(t, inputs=xt)
    t.zero_grad()
    t(xt).sum().backward()
    rt.record(0)
    w = rt.history.weights("0", 0)
    g = rt.history.gradients("0", 0)
    assert g.shape == w.shape == (3, 2, 3, 3)
    np.testing.assert_array_equal(g, _f16(t[0].weight.grad.numpy().transpose(1, 0, 2, 3)))


@pytest.mark.torch
def test_torch_gradients_on_the_probe_without_grad_and_off_when_asked() -> None:
    torch = pytest.importorskip("torch")
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3))
    x = torch.randn(5, 4)
    rec = Recorder(model, inputs=x)
    rec.record(0)  # no .grad: computed on the probe (mean square output), .grad untouched
    assert model[0].weight.grad is None
    out = model(x).float().pow(2).mean()
    want = torch.autograd.grad(out, model[0].weight)[0].numpy()
    np.testing.assert_array_equal(rec.history.gradients("0", 0), _f16(want))
    off = Recorder(model, inputs=x, record_gradients=False)
    off.record(0)
    off.flush()
    assert all(not s.grads for s in off.snapshots)
    assert np.isnan(off.history.stats("0")["grad_norm"]).all()


@pytest.mark.keras
def test_keras_gradients_equal_the_probe_gradient() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the check computes the gradient with tf.GradientTape")
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, name="d")])
    x = np.random.default_rng(0).normal(size=(8, 6)).astype(np.float32)
    rec = Recorder(model, inputs=x)
    rec.record(0)
    dense = model.get_layer("d")
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x, training=False)))  # no labels: mean square
    gk, gb = tape.gradient(loss, [dense.kernel.value, dense.bias.value])
    got = rec.history.gradients("d", 0)
    assert got.shape == (4, 6)  # canonical (out, in)
    np.testing.assert_allclose(got, _f16(gk.numpy().T), rtol=2e-3, atol=1e-6)
    np.testing.assert_allclose(rec.history.gradients("d", 0, "bias"), _f16(gb.numpy()), rtol=2e-3)


def test_gradients_share_the_budget_and_are_thinned_like_weights(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    patch_adapt(monkeypatch)
    m = FakeModel((100, 50, 2))
    m.grads = {n: {k: np.full_like(v, 0.5) for k, v in p.items()} for n, p in m.params.items()}
    per = (100 * 50 + 50 + 50 * 2 + 2) * 2  # bytes of one epoch's float16 weights
    rec = Recorder(m, max_bytes=per * 32)
    # weights alone would fit whole; with gradients both share the snapshot's budget
    assert rec.sample_indices("fc1") is not None
    for e in range(40):
        m.step(seed=e)
        m.grads["fc1"]["weight"] = np.full_like(m.params["fc1"]["weight"], float(e))
        rec.record(e, loss=1.0)
    rec.flush()
    kept = [s for s in rec.snapshots if not s.thinned]
    for s in kept:
        w = sum(a.nbytes for p in s.weights.values() for a in p.values())
        g = sum(a.nbytes for p in s.grads.values() for a in p.values())
        assert g == w and w + g <= rec.snapshot_budget
    assert rec.nbytes <= rec.max_bytes
    assert rec.thinned_epochs
    for s in rec.snapshots:
        if s.thinned:
            assert not s.grads and not s.weights
    assert rec.snapshots[-1].grads["fc1"]["weight"][0] == 39.0
    with pytest.raises(KeyError, match="thinned"):
        rec.history.gradients("fc1", rec.thinned_epochs[0])
    # the wire and the run file carry them
    snap = rec.snapshots[-1]
    header, data = encode_snapshot(snap, rec.sampled)
    back = decode_snapshot(header, data)
    np.testing.assert_array_equal(
        back["arrays"][("grad", "fc1", "weight")], snap.grads["fc1"]["weight"]
    )
    assert back["arrays"][("grad", "fc1", "weight")].shape == snap.weights["fc1"]["weight"].shape
    rec.save(tmp_path / "r.nnviz")
    loaded = nnv.load_recorder(tmp_path / "r.nnviz")
    for s, t in zip(rec.snapshots, loaded.snapshots, strict=True):
        assert s.grads.keys() == t.grads.keys()
        for layer, params in s.grads.items():
            for k, a in params.items():
                np.testing.assert_array_equal(a, t.grads[layer][k])
                assert a.dtype == t.grads[layer][k].dtype


def test_vanishing_gradients_are_kept_as_float32_not_zeros(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A deep sigmoid net's first-layer gradients (~1e-9) are below float16's range: stored as
    float16 they would all read 0 (lesson 4's legend said "0 … 0"). Such arrays stay float32;
    ordinary ones stay float16; the wire and the run file carry both."""
    patch_adapt(monkeypatch)
    m = FakeModel((6, 4, 2))
    rng = np.random.default_rng(0)
    m.grads = {n: {k: rng.normal(size=v.shape) for k, v in p.items()} for n, p in m.params.items()}
    m.grads["fc1"]["weight"] *= 1e-9
    rec = Recorder(m)
    rec.record(0, loss=1.0)
    rec.flush()
    snap = rec.snapshots[-1]
    tiny, normal = snap.grads["fc1"]["weight"], snap.grads["fc2"]["weight"]
    assert tiny.dtype == np.float32 and normal.dtype == np.float16
    np.testing.assert_allclose(tiny, m.grads["fc1"]["weight"], rtol=1e-6)
    assert np.float16(m.grads["fc1"]["weight"]).max() == 0  # what float16 would have kept
    header, data = encode_snapshot(snap, rec.sampled)
    np.testing.assert_array_equal(
        decode_snapshot(header, data)["arrays"][("grad", "fc1", "weight")], tiny
    )
    rec.save(tmp_path / "r.nnviz")
    back = nnv.load_recorder(tmp_path / "r.nnviz").snapshots[-1].grads["fc1"]["weight"]
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, tiny)
