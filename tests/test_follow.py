"""Runs from a cluster: ``Recorder(..., path=...)`` rewrites its file atomically at every
record (rank 0 only under torch.distributed), and ``nnv.follow(path)`` shows it live."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import nnviz_widget as nnv
from nnviz_widget import runfile
from nnviz_widget.recorder import Recorder

from .fakes import FakeModel, patch_adapt

REPO = Path(__file__).resolve().parents[1]


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
            for e in range(40):
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
    assert nnv.load_recorder(path).history.epochs == list(range(40))
    assert len(seen) > 1  # the reads overlapped the writes


# ------------------------------------------------------------------------------------------------
# the reader: nnv.follow


def _until(cond: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Wait for ``cond`` (a generous bound: a hang fails, a slow machine does not)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.02)


def test_follow_shows_epochs_as_the_file_grows(fake: None, tmp_path: Path) -> None:
    path = tmp_path / "run.nnviz"
    m = FakeModel((8, 4, 2))
    rec = Recorder(m, path=path)
    viz = nnv.follow(path, interval=0.02)
    try:
        assert viz.history.epochs == [] and viz.follower.running
        sent = len(viz._snapshots)
        for e in range(3):
            m.step(seed=e)
            rec.record(e, loss=1.0 / (e + 1))
            _until(lambda e=e: viz.history.epochs == list(range(e + 1)), f"epoch {e} shows")
            _until(lambda e=e: viz.epoch == e, f"the view follows to epoch {e}")
        assert len(viz._snapshots) > sent  # new snapshots went out as batches
        np.testing.assert_allclose(
            viz.history.weights("fc1", 2), m.params["fc1"]["weight"], atol=1e-2, rtol=1e-2
        )
        # nothing changed: a poll is one stat and reads nothing
        reads = viz.follower.reads
        assert not viz.follower.poll() and viz.follower.reads == reads
        viz.epoch = 0  # scrubbed back: a new epoch arrives without moving the view
        m.step(seed=7)
        rec.record(3, loss=0.2)
        _until(lambda: viz.history.epochs[-1] == 3, "epoch 3 shows")
        assert viz.epoch == 0
        # the script records its last epoch again: the view takes the new one
        with pytest.warns(UserWarning, match="replacing it"):
            rec.record(3, loss=0.1)
        _until(lambda: viz.history.metrics["loss"][-1] == 0.1, "the re-recorded epoch 3")
        assert viz.history.epochs == [0, 1, 2, 3] and viz._notice == ""
    finally:
        viz.close()
    _until(lambda: not viz.follower.running, "closing the view stops the polling")


def test_follow_tolerates_a_missing_or_bad_file(fake: None, tmp_path: Path) -> None:
    path = tmp_path / "run.nnviz"
    with pytest.raises(FileNotFoundError, match=r"no run at .* start the training script"):
        nnv.follow(path, wait=0)
    m = FakeModel((8, 4, 2))
    later = threading.Timer(0.2, lambda: Recorder(m, path=path))
    later.start()
    viz = nnv.follow(path, interval=0.02, wait=60)  # waits for the script to write it
    try:
        later.join()
        viz.follower.stop()  # looked at by hand below
        follower = viz.follower
        path.write_bytes(b"PK\x03\x04 half a file")
        assert not follower.poll()
        assert "can't read" in viz._notice and "still watching" in viz._notice
        path.unlink()
        assert not follower.poll() and "is gone" in viz._notice
        rec = Recorder(m, path=path)  # the same run back (same model, same init)
        m.step()
        rec.record(0, loss=1.0)
        assert follower.poll() and viz.history.epochs == [0] and viz._notice == ""
        viz.controls()
        for e in range(1, 4):
            m.step(seed=e)
            rec.record(e, loss=1.0)
        assert follower.poll() and viz._controls.slider.max == 3
        m.step(seed=3)  # the script restarted: the same model, recorded again from the start
        again = Recorder(m, path=path)
        for e in range(2):
            m.step(seed=10 + e)
            again.record(e, loss=5.0 + e)
        assert follower.poll()
        assert viz.history.epochs == [0, 1] and list(viz.history.metrics["loss"]) == [5.0, 6.0]
        assert viz.epoch == 1 and "written again from the start" in viz._notice
        assert len(viz._snapshots) == 3  # every snapshot of the new run sent again
        assert (viz._controls.slider.min, viz._controls.slider.max) == (-1, 1)
        again.record(2, loss=7.0)
        assert follower.poll() and viz.history.epochs == [0, 1, 2]
        assert "written again from the start" in viz._notice  # the note stays
        other = Recorder(FakeModel((8, 5, 2)), path=path)  # another model in the file
        other.record(0, loss=2.0)
        assert not follower.poll()
        assert "now holds a different run" in viz._notice and "nnv.follow(" in viz._notice
        assert viz.history.epochs == [0, 1, 2]
    finally:
        viz.close()


def test_follow_on_a_running_event_loop(fake: None, tmp_path: Path) -> None:
    """In a Jupyter kernel the polling is a task on the kernel's asyncio loop."""
    path = tmp_path / "run.nnviz"
    m = FakeModel((8, 4, 2))
    rec = Recorder(m, path=path)

    async def main() -> list[int]:
        viz = nnv.follow(path, interval=0.02)
        assert viz.follower._task is not None and viz.follower._thread is None
        for e in range(2):
            m.step(seed=e)
            await asyncio.to_thread(rec.record, e, loss=1.0)
        deadline = time.monotonic() + 60
        while viz.history.epochs != [0, 1] and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        viz.close()
        await asyncio.sleep(0.05)
        assert not viz.follower.running
        return viz.history.epochs

    assert asyncio.run(main()) == [0, 1]


# ------------------------------------------------------------------------------------------------
# a real two-process torch.distributed run (gloo, CPU)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Ranks:
    """A two-process run of tests/distributed_run.py, launched as torchrun would."""

    def __init__(self, out: Path, mode: str) -> None:
        pytest.importorskip("torch")
        port = _free_port()
        self.procs = []
        for rank in range(2):
            env = {
                **os.environ,
                "PYTHONPATH": str(REPO),
                "OMP_NUM_THREADS": "1",
                "RANK": str(rank),
                "WORLD_SIZE": "2",
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": str(port),
            }
            cmd = [sys.executable, str(REPO / "tests" / "distributed_run.py"), str(out), mode]
            self.procs.append(
                subprocess.Popen(
                    cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
                )
            )

    def failed(self) -> bool:
        return any(p.poll() not in (None, 0) for p in self.procs)

    def running(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def output(self) -> str:
        return "\n".join(
            p.stdout.read() if p.stdout and p.poll() is not None else "" for p in self.procs
        )

    def wait(self) -> list[int]:
        for p in self.procs:
            p.communicate(timeout=120)
        return [p.returncode for p in self.procs]

    def kill(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.communicate()


@pytest.mark.torch
@pytest.mark.parametrize("mode", ["ddp", "fsdp"])
def test_distributed_run_has_one_writer_and_a_follower_sees_its_epochs(
    tmp_path: Path, mode: str
) -> None:
    """DDP, and FSDP2 (fully_shard: it runs on CPU with gloo; FSDP1 needs an accelerator):
    rank 0 alone writes, the followed view sees each epoch while the run waits for it, and the
    recorded weights are the full parameters (under FSDP gathered from both ranks' shards)."""
    run = _Ranks(tmp_path, mode)
    path = tmp_path / "run.nnviz"
    try:
        _until(lambda: path.exists() or run.failed(), "the run writes its file", 120)
        assert not run.failed(), run.output()
        viz = nnv.follow(path, interval=0.05)
        try:
            for epoch in range(3):
                # rank 0 waits for seen-<epoch>: this epoch arrived while the run was going
                _until(
                    lambda e=epoch: e in viz.history.epochs or run.failed(),
                    f"epoch {epoch} shows in the followed view",
                    120,
                )
                assert run.running(), run.output()
                assert viz.history.epochs == list(range(epoch + 1))
                (tmp_path / f"seen-{epoch}").touch()
            assert run.wait() == [0, 0], run.output()
        finally:
            viz.close()
    finally:
        run.kill()
    writes0 = (tmp_path / "writes-rank0.log").read_text().splitlines()
    assert writes0 == [str(path)] * 4  # at Recorder(...) and at each of the 3 records
    assert not (tmp_path / "writes-rank1.log").exists()  # rank 1 never wrote
    r0 = json.loads((tmp_path / "result-rank0.json").read_text())
    r1 = json.loads((tmp_path / "result-rank1.json").read_text())
    assert r0["epochs"] == [0, 1, 2] and r1["epochs"] == []  # rank 1 recorded nothing
    back = nnv.load(path)
    assert back.history.epochs == [0, 1, 2]
    np.testing.assert_allclose(back.history.metrics["loss"], r0["losses"], rtol=1e-6)
    assert [layer.name for layer in back.graph.layers if layer.kind == "dense"] == ["0", "2"]
    full = {k.removeprefix("module."): np.array(v) for k, v in r0["params"].items()}
    assert full["0.weight"].shape == (16, 4)  # whole, not a rank's shard
    for layer in ("0", "2"):
        for param in ("weight", "bias"):
            np.testing.assert_allclose(
                back.history.weights(layer, 2, param), full[f"{layer}.{param}"], atol=2e-3
            )
    grads = back.history.gradients("0", 2)
    assert grads.shape == (16, 4) and np.abs(grads).max() > 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


@pytest.mark.torch
def test_fsdp1_is_refused_rather_than_recorded_as_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    """FSDP1 (FullyShardedDataParallel) needs an accelerator, so it can't be built here: a
    stand-in class takes its place in torch.distributed.fsdp to check the refusal."""
    torch = pytest.importorskip("torch")
    from torch import nn

    class FullyShardedDataParallel(nn.Sequential):
        pass

    fake_fsdp = types.SimpleNamespace(
        FullyShardedDataParallel=FullyShardedDataParallel, FSDPModule=type("FSDPModule", (), {})
    )
    monkeypatch.setitem(sys.modules, "torch.distributed.fsdp", fake_fsdp)
    model = FullyShardedDataParallel(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    with pytest.raises(TypeError, match=r"FullyShardedDataParallel \(FSDP1\).*fully_shard"):
        Recorder(model, inputs=torch.zeros(2, 4))
