"""Runs from a cluster: ``Recorder(..., path=...)`` rewrites its file atomically at every
record (rank 0 only under torch.distributed), and ``nnv.follow(path)`` shows it live."""

from __future__ import annotations

import sys
import threading
import types
from pathlib import Path

import pytest

import nnviz_widget as nnv
from nnviz_widget import runfile
from nnviz_widget.recorder import Recorder

from .fakes import FakeModel, patch_adapt


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> None:
    patch_adapt(monkeypatch)


def _fake_torch(rank: int) -> types.ModuleType:
    torch = types.ModuleType("torch")
    torch.distributed = types.SimpleNamespace(  # type: ignore[attr-defined]
        is_available=lambda: True, is_initialized=lambda: True, get_rank=lambda: rank
    )
    return torch


# ------------------------------------------------------------------------------------------------
# the writer


def test_a_recorder_with_a_path_rewrites_it_at_every_record(fake: None, tmp_path: Path) -> None:
    path = tmp_path / "run.nnviz"
    path.write_bytes(b"an older run")  # this run's file: replaced
    m = FakeModel((8, 4, 2))
    rec = Recorder(m, path=path)
    assert nnv.load_recorder(path).history.epochs == []  # the graph and init, at once
    for e in range(3):
        m.step(seed=e)
        rec.record(e, loss=1.0 / (e + 1))
        assert nnv.load_recorder(path).history.epochs == list(range(e + 1))
        assert rec.pending == []
    m.step(seed=9)
    with pytest.warns(UserWarning, match="replacing it"):
        rec.record(2, loss=0.125)
    back = nnv.load_recorder(path).history
    assert back.epochs == [0, 1, 2] and back.metrics["loss"][-1] == 0.125
    assert [p.name for p in tmp_path.iterdir()] == ["run.nnviz"]  # no temporary file left


def test_other_ranks_record_nothing_and_never_touch_the_file(
    fake: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "run.nnviz"
    writes: list[Path] = []
    real = runfile.atomic_write
    monkeypatch.setattr(runfile, "atomic_write", lambda p, *a: writes.append(p) or real(p, *a))
    monkeypatch.setitem(sys.modules, "torch", _fake_torch(rank=1))
    m = FakeModel((8, 4, 2))
    rec = Recorder(m, path=path)
    m.step()
    rec.record(0, loss=1.0)
    rec.flush()
    assert rec.history.epochs == [] and writes == [] and not path.exists()
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setitem(sys.modules, "torch", _fake_torch(rank=0))
    rec.record(1, loss=0.5)
    assert writes == [path] and nnv.load_recorder(path).history.epochs == [1]


def test_a_reader_never_sees_a_torn_file(fake: None, tmp_path: Path) -> None:
    """nnv.load in a loop while the writer records many times: every load is a whole run."""
    path = tmp_path / "run.nnviz"
    m = FakeModel((64, 32, 10))
    rec = Recorder(m, path=path)
    done = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for e in range(60):
                m.step(seed=e)
                rec.record(e, loss=1.0 / (e + 1))
        except BaseException as e:  # reported by the main thread
            errors.append(e)
        finally:
            done.set()

    seen: set[int] = set()
    writer = threading.Thread(target=write)
    writer.start()
    try:
        while not done.is_set():
            viz = nnv.load(path)  # a RunFileError here is a torn file: the test fails
            seen.add(len(viz.history.epochs))
            viz.close()
    finally:
        writer.join()
    assert errors == []
    assert nnv.load_recorder(path).history.epochs == list(range(60))
    assert len(seen) > 1  # the reads overlapped the writes
