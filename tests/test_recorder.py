"""Recorder: snapshots, stats, the pending batch and flush(), budget, thinning and the errors,
on a framework-free model."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from nnviz_widget.recorder import MAX_PENDING, Recorder, allocate, thin_order
from nnviz_widget.snapshot import HIST_BINS, INIT_EPOCH, Snapshot, layer_stats

from .fakes import FakeModel, patch_adapt


@pytest.fixture(autouse=True)
def _fake(monkeypatch: pytest.MonkeyPatch) -> None:
    patch_adapt(monkeypatch)


def test_init_snapshot_and_record() -> None:
    m = FakeModel((4, 3, 2))
    rec = Recorder(m)
    assert [s.epoch for s in rec.snapshots] == [INIT_EPOCH]
    assert rec.history.epochs == []
    m.step()
    rec.record(0, loss=1.5, accuracy=0.4)
    m.step(seed=2)
    rec.record(1, loss=1.0, val_loss=1.2)
    h = rec.history
    assert h.epochs == [0, 1]
    np.testing.assert_array_equal(h.metrics["loss"], [1.5, 1.0])
    assert np.isnan(h.metrics["val_loss"][0]) and h.metrics["val_loss"][1] == 1.2
    np.testing.assert_allclose(h.weights("fc1", 1), m.params["fc1"]["weight"], atol=1e-3, rtol=1e-3)
    st = h.stats("fc1")
    assert set(st) >= {"mean", "std", "norm", "grad_norm", "update_ratio"}
    assert st["update_ratio"].shape == (2,) and np.all(st["update_ratio"] > 0)


def test_stats_match_numpy_and_ignore_nonfinite() -> None:
    w = np.array([[1.0, -2.0], [np.nan, 4.0]], np.float32)
    stats, hist = layer_stats({"weight": w}, None, None)
    vals = np.array([1.0, -2.0, 4.0])
    assert stats["mean"] == pytest.approx(vals.mean())
    assert stats["std"] == pytest.approx(vals.std())
    assert stats["norm"] == pytest.approx(np.linalg.norm(vals))
    assert stats["nonfinite"] == 1
    assert hist.shape == (HIST_BINS,) and hist.sum() == 3


def test_update_ratio_definition() -> None:
    prev = {"weight": np.ones((2, 2), np.float32)}
    cur = {"weight": np.full((2, 2), 1.5, np.float32)}
    stats, _ = layer_stats(cur, prev, 0.25)
    assert stats["update_ratio"] == pytest.approx(0.5)
    assert stats["grad_norm"] == 0.25


def test_gradients_recorded_as_norms() -> None:
    m = FakeModel((4, 3, 2))
    rec = Recorder(m)
    m.grads = {"fc1": {"weight": np.full((3, 4), 2.0, np.float32)}}
    rec.record(0, loss=1.0)
    assert rec.history.stats("fc1")["grad_norm"][0] == pytest.approx(2.0 * math.sqrt(12))
    assert math.isnan(rec.history.stats("fc2")["grad_norm"][0])


def test_allocate_water_fills() -> None:
    assert allocate({"a": 10, "b": 20}, 100) == {"a": 10, "b": 20}
    got = allocate({"a": 10, "b": 1000, "c": 1000}, 210)
    assert got == {"a": 10, "b": 100, "c": 100}


def test_large_layer_keeps_a_fixed_sample() -> None:
    m = FakeModel((200, 100, 2))  # fc1 has 20,000 weights
    rec = Recorder(m, max_bytes=32 * 20_000)  # one snapshot may hold 20 kB = 10k values
    idx = rec.sample_indices("fc1")
    assert idx is not None and idx.size < 20_000
    assert rec.sample_indices("fc2") is None  # small layers stay whole
    m.step()
    rec.record(0)
    m.step(seed=3)
    rec.record(1)
    for e in (0, 1):
        got = rec.history.weights("fc1", e)
        assert got.shape == idx.shape  # same indices every epoch
    np.testing.assert_allclose(
        rec.history.weights("fc1", 1), m.params["fc1"]["weight"].ravel()[idx], rtol=1e-3, atol=1e-3
    )


def test_thin_order_keeps_first_last_and_spread() -> None:
    assert thin_order([0, 1]) is None
    assert thin_order([0, 5, 6, 10]) == 2  # 6 sits between 5 and 10, the closest pair
    epochs = list(range(10))
    kept = list(epochs)
    while len(kept) > 4:
        i = thin_order(kept)
        assert i is not None
        kept.pop(i)
    assert kept[0] == 0 and kept[-1] == 9


def test_budget_thins_older_epochs_and_keeps_stats() -> None:
    m = FakeModel((100, 50, 2))
    per = (100 * 50 + 50 + 50 * 2 + 2) * 2
    rec = Recorder(m, max_bytes=per * 32)
    assert rec.sample_indices("fc1") is None  # one epoch fits whole
    for e in range(60):
        m.step(seed=e)
        rec.record(e, loss=1.0 / (e + 1))
    rec.flush()
    assert rec.nbytes <= rec.max_bytes
    thinned = rec.thinned_epochs
    assert thinned and 59 not in thinned and INIT_EPOCH not in thinned
    assert len(rec.history.epochs) == 60  # metrics and stats of every epoch kept
    assert np.isfinite(rec.history.stats("fc1")["norm"]).all()
    with pytest.raises(KeyError, match="thinned"):
        rec.history.weights("fc1", thinned[0])


def test_pending_work_is_done_by_flush_and_equals_immediate() -> None:
    """record() reads the model at once and keeps what it read in ``pending``; flush() makes
    the whole batch into plain snapshots and emits one event with it. Same numbers as doing it
    at once; reading the history flushes first."""
    m = FakeModel((6, 5, 3))
    rec = Recorder(m)
    events: list[tuple[str, list[Snapshot]]] = []
    rec.subscribe(lambda event, snaps: events.append((event, list(snaps))))
    assert not rec.pending and len(rec.snapshots) == 1  # init is complete at once
    read = []
    for e in range(3):
        m.step(seed=e)
        read.append({k: v.copy() for k, v in m.params["fc1"].items()})
        rec.record(e, loss=1.0)
    m.step(seed=9)  # the model moves on: what was read at record() time is what counts
    assert [r.epoch for r in rec.pending] == [0, 1, 2] and len(rec.snapshots) == 1
    assert [e for e, _ in events] == ["record"] * 3
    rec.flush()
    assert not rec.pending and [e for e, _ in events][3:] == ["batch"]  # one event, the batch
    a, b, c = events[-1][1]
    assert rec.snapshots[1:] == [a, b, c]
    want, hist = layer_stats(read[1], read[0], None)
    assert b.stats["fc1"] == want
    np.testing.assert_array_equal(b.hists["fc1"], hist)
    np.testing.assert_allclose(b.weights["fc1"]["weight"], read[1]["weight"], atol=1e-3)
    np.testing.assert_allclose(c.weights["fc1"]["weight"], read[2]["weight"], atol=1e-3)
    assert c.stats["fc1"] == layer_stats(read[2], read[1], None)[0]
    # immediate: a flush after every record gives the same snapshots
    m2 = FakeModel((6, 5, 3))
    rec2 = Recorder(m2)
    for e in range(3):
        m2.step(seed=e)
        rec2.record(e, loss=1.0)
        rec2.flush()
    for s, t in zip(rec.snapshots, rec2.snapshots, strict=True):
        assert s.stats == t.stats and s.health == t.health
        for layer, params in s.weights.items():
            for k, arr in params.items():
                np.testing.assert_array_equal(arr, t.weights[layer][k])
    # a history read flushes what is pending
    m.step(seed=10)
    rec.record(3, loss=0.5)
    assert rec.pending and rec.history.epochs == [0, 1, 2, 3] and not rec.pending


def test_pending_work_is_bounded_and_survives_an_interrupt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    m = FakeModel()
    rec = Recorder(m)
    for e in range(MAX_PENDING):
        rec.record(e, loss=1.0)
    assert not rec.pending, "no view flushes them: done in bulk"
    assert len(rec.snapshots) == MAX_PENDING + 1
    rec.record(MAX_PENDING, loss=1.0)
    rec.record(MAX_PENDING + 1, loss=1.0)
    calls = []
    real = rec._probe_snapshot

    def interrupted(*args: object) -> None:
        calls.append(1)
        if len(calls) == 2:  # the second snapshot of the batch
            raise KeyboardInterrupt
        real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(rec, "_probe_snapshot", interrupted)
    with pytest.raises(KeyboardInterrupt):
        rec.flush()
    # nothing recorded is lost, nothing half made is kept: the batch is still pending
    assert [r.epoch for r in rec.pending] == [MAX_PENDING, MAX_PENDING + 1]
    assert rec.snapshots[-1].epoch == MAX_PENDING - 1
    rec.flush()
    assert not rec.pending and rec.snapshots[-1].stats["fc1"]["norm"] > 0
    assert len(rec.history.epochs) == MAX_PENDING + 2


def test_record_errors_and_replace() -> None:
    m = FakeModel()
    rec = Recorder(m)
    rec.record(0, loss=1.0)
    rec.record(3, loss=0.5)
    with pytest.warns(UserWarning, match="already recorded"):
        rec.record(3, loss=0.4)
    assert rec.history.epochs == [0, 3]
    assert rec.history.metrics["loss"][-1] == 0.4
    with pytest.raises(ValueError, match="lower than the last recorded epoch 3"):
        rec.record(2)
    with pytest.raises(TypeError, match="'acc'"):
        rec.record(4, acc="high")
    with pytest.raises(TypeError, match="epoch must be an int"):
        rec.record(4.5)  # type: ignore[arg-type]
    assert rec.history.epochs == [0, 3]  # nothing lost by the errors


def test_nan_metric_is_recorded() -> None:
    rec = Recorder(FakeModel())
    rec.record(0, loss=float("nan"))
    rec.record(1, loss=np.float32(np.inf))
    loss = rec.history.metrics["loss"]
    assert np.isnan(loss[0]) and np.isinf(loss[1])


def test_nan_weights_counted_not_crashing() -> None:
    m = FakeModel()
    rec = Recorder(m)
    m.params["fc1"]["weight"][0, 0] = np.nan
    m.params["fc1"]["weight"][0, 1] = np.inf
    rec.record(0)
    st = rec.history.stats("fc1")
    assert st["nonfinite"][0] == 2 and np.isfinite(st["mean"][0])


def test_changed_shape_names_the_layer() -> None:
    m = FakeModel((4, 3, 2))
    rec = Recorder(m)
    m.params["fc2"]["weight"] = np.zeros((5, 3), np.float32)
    with pytest.raises(ValueError, match=r"'fc2'.*changed shape"):
        rec.record(0)


def test_keyboard_interrupt_keeps_recorded_epochs() -> None:
    m = FakeModel()
    rec = Recorder(m)
    with pytest.raises(KeyboardInterrupt):
        for e in range(10):
            rec.record(e, loss=1.0)
            if e == 4:
                raise KeyboardInterrupt
    assert rec.history.epochs == [0, 1, 2, 3, 4]


def test_no_warning_on_normal_use() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec = Recorder(FakeModel())
        rec.record(0, loss=1)
