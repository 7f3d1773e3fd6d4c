"""``nnv.follow(path)``: a view of a run that another process (a training script on a cluster
node, under ``nnv.Recorder(..., path=path)``) is writing, updated live as the file grows.

No server and no port: the notebook polls the file. Each look is one ``os.stat``; the file is
read only when its (inode, size, mtime) changed, and then without the arrays of the epochs the
view already holds. New epochs go to the browser through the recorder's "batch" event, as
recorded ones do; a run written again from its start (the script restarted) replaces the view's
run in place; another model in the file stops the following with a notice. In a Jupyter kernel
the polling is a task on the kernel's asyncio loop (the file is read in a worker thread, the
view is changed on the kernel's thread); elsewhere (a script, a test) a daemon thread. Either
stops when the view is closed (``viz.close()``).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import Any

from .recorder import Recorder, load_recorder
from .runfile import Run, RunFileError, read
from .snapshot import Snapshot
from .widget import NNViz
from .wire import encode_number

_READ_ERRORS = (OSError, RunFileError)


def _fingerprint(snap: Snapshot) -> tuple[Any, ...]:
    """What tells two recordings of an epoch apart without their arrays (NaN equals NaN)."""

    def enc(d: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
        return tuple(sorted((k, encode_number(v)) for k, v in d.items()))

    stats = tuple(sorted((layer, enc(st)) for layer, st in snap.stats.items()))
    return (snap.epoch, snap.label, enc(snap.metrics), stats)


class Follower:
    """Keeps ``viz`` (an NNViz over a loaded run) equal to the run in ``path``."""

    def __init__(self, viz: NNViz, path: Path, interval: float, key: tuple[int, ...]) -> None:
        self.viz = viz
        self.path = path
        self.interval = interval
        self._key = key  # (inode, size, mtime_ns) of the file last read
        self._stopped = threading.Event()
        self._stale = False  # the file holds another run: nothing more is taken from it
        self._note = ""  # what stays in the notice once reads work again
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None
        #: reads of the file so far (a changed stat); a test checks that idle polls read nothing
        self.reads = 0

    # -- one look at the file --
    def _changed(self) -> tuple[tuple[int, ...], Run] | None:
        """The file's run when it changed since the last look; None when it did not. Raises
        OSError / RunFileError for a missing or bad file (the notice says it)."""
        st = os.stat(self.path)
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        if key == self._key:
            return None
        self._key = key  # a bad file is read again only once it changes again
        self.reads += 1
        snaps = self.viz.recorder.snapshots
        return key, read(self.path, since=snaps[-1].epoch)

    def _apply(self, run: Run) -> None:
        """Take the file's new epochs (and a re-recorded last one) into the view."""
        rec: Recorder = self.viz.recorder
        held = rec.snapshots
        if run.graph.to_dict() != rec.graph.to_dict():
            return self._restarted("it now holds another model")
        mine = {s.epoch: _fingerprint(s) for s in held}
        theirs = {s.epoch: s for s in run.snapshots}
        last = held[-1]
        grown = last.epoch in theirs and all(
            s.epoch in theirs and _fingerprint(theirs[s.epoch]) == mine[s.epoch] for s in held[:-1]
        )
        if not grown:  # the same model recorded again from its start: show the new run
            self.viz._show_recorder(load_recorder(self.path))
            self._note = f"{self.path.name} was written again from the start: showing the new run"
            self._say(self._note)
            return None
        if len(held) > 1 and _fingerprint(theirs[last.epoch]) != mine[last.epoch]:
            # the script recorded its last epoch again: that epoch's arrays are needed too
            full = read(self.path, since=held[-2].epoch)
            rec.drop_last()
            rec.extend([s for s in full.snapshots if s.epoch > rec.snapshots[-1].epoch])
        else:
            rec.extend([s for s in run.snapshots if s.epoch > last.epoch])
        self._say(self._note)  # a read that worked clears an error, not the restart's note
        return None

    def _restarted(self, why: str) -> None:
        self._stale = True
        self._say(
            f"{self.path} now holds a different run ({why}): "
            f"nnv.follow({str(self.path)!r}) again to show it"
        )

    def _say(self, text: str) -> None:
        if self.viz._live_notice != text:
            self.viz._live_notice = text
            self.viz._update_notice()

    def poll(self) -> bool:
        """One look; True when the view changed. Never raises: a missing, half-copied or bad
        file shows in the view's notice and is looked at again at the next poll."""
        if self._stale:
            return False
        try:
            got = self._changed()
            if got is None:
                return False
            self._apply(got[1])
            return not self._stale
        except FileNotFoundError:
            self._say(f"{self.path} is gone; still watching it")
        except _READ_ERRORS as e:
            self._say(f"can't read {self.path} ({e}); still watching it")
        except Exception as e:  # never let the poll die in the kernel: say it instead
            self._say(f"following {self.path} failed ({type(e).__name__}: {e}); still watching")
        return False

    # -- the loop --
    def start(self) -> None:
        try:
            loop = asyncio.get_running_loop()  # a Jupyter kernel's thread
        except RuntimeError:
            loop = None
        if loop is not None:
            self._task = loop.create_task(self._run_async())
        else:
            self._thread = threading.Thread(
                target=self._run_thread, name=f"nnviz-follow {self.path.name}", daemon=True
            )
            self._thread.start()
        self.viz._on_close.append(self.stop)

    def stop(self) -> None:
        """Stop polling (the view keeps what it has)."""
        self._stopped.set()
        if self._task is not None:
            self._task.cancel()

    @property
    def running(self) -> bool:
        if self._task is not None:
            return not self._task.done()
        return self._thread is not None and self._thread.is_alive()

    def _run_thread(self) -> None:
        while not self._stopped.wait(self.interval):
            self.poll()

    async def _run_async(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopped.is_set():
            await asyncio.sleep(self.interval)
            if self._stale or self._stopped.is_set():
                continue
            try:  # the file is read off the kernel's thread; the view changes on it
                got = await loop.run_in_executor(None, self._changed)
                if got is not None:
                    self._apply(got[1])
            except asyncio.CancelledError:
                raise
            except FileNotFoundError:
                self._say(f"{self.path} is gone; still watching it")
            except _READ_ERRORS as e:
                self._say(f"can't read {self.path} ({e}); still watching it")
            except Exception as e:
                self._say(f"following {self.path} failed ({type(e).__name__}: {e}); still watching")


def follow(
    path: str | os.PathLike[str], *, interval: float = 2.0, wait: float = 60.0, **kwargs: Any
) -> NNViz:
    """A view of the run a training script writes to ``path`` (``nnv.Recorder(model, ...,
    path=path)``, on this machine or another one sharing the filesystem), updated live as the
    file grows: the file is looked at every ``interval`` seconds (one ``os.stat`` when nothing
    changed). Closing the view (``viz.close()``) stops it; ``viz.follower.stop()`` too.

    The first read waits up to ``wait`` seconds for the file to appear (the script writes it at
    ``Recorder(...)``); after that, FileNotFoundError. ``kwargs`` are NNViz's view options
    (``mode``, ``color_by``, ``height``, ...)."""
    if not interval > 0:
        raise ValueError(f"interval must be > 0 seconds, got {interval!r}")
    p = Path(path).expanduser()
    deadline = time.monotonic() + max(0.0, wait)
    while True:
        try:
            st = os.stat(p)
            rec = load_recorder(p)
            break
        except _READ_ERRORS as e:
            # not there yet, or caught mid-copy (a file replaced by rsync, an NFS cache): retry
            if time.monotonic() >= deadline:
                if isinstance(e, FileNotFoundError):
                    raise FileNotFoundError(
                        f"no run at {p} after {wait:g} s: start the training script first (it "
                        "writes the file at nnv.Recorder(model, ..., path=...)), or pass a "
                        "longer wait="
                    ) from None
                raise
            time.sleep(min(interval, 0.5))
    viz = NNViz(rec, **kwargs)
    follower = Follower(viz, p, float(interval), (st.st_ino, st.st_size, st.st_mtime_ns))
    viz.follower = follower
    follower.start()
    return viz
