"""Shared fixtures: a comm that records every message a widget sends (bytes included), and the
notebooks executed once per session."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class RecordingComm:
    """Stands in for a kernel comm; keeps what would go over the wire."""

    log: list[tuple[str, dict[str, Any], list[bytes]]]
    comm_id: str = field(default_factory=lambda: f"c{len(_IDS)}")
    kernel: str = "fake"

    def __post_init__(self) -> None:
        _IDS.append(self.comm_id)

    def open(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        self._log("open", data, buffers)

    def send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        self._log("send", data, buffers)

    def _log(self, kind: str, data: Any, buffers: Any) -> None:
        self.log.append((kind, data or {}, [bytes(b) for b in (buffers or [])]))

    def on_msg(self, *a: Any, **k: Any) -> None:
        pass

    def on_close(self, *a: Any, **k: Any) -> None:
        pass

    def close(self, *a: Any, **k: Any) -> None:
        pass


_IDS: list[str] = []


@dataclass
class CommLog:
    messages: list[tuple[str, dict[str, Any], list[bytes]]] = field(default_factory=list)

    def clear(self) -> None:
        self.messages.clear()

    @property
    def binary_bytes(self) -> int:
        return sum(len(b) for _, _, bufs in self.messages for b in bufs)

    @property
    def json_bytes(self) -> int:
        return sum(len(json.dumps(d, default=str)) for _, d, _ in self.messages)


@pytest.fixture(scope="session")
def notebook_runs(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """`notebook_runs(path)`: that notebook executed once per session (tests/notebook_runs.py)."""
    pytest.importorskip("nbclient")
    from .notebook_runs import NotebookRuns

    return NotebookRuns(tmp_path_factory.mktemp("notebooks"))


@pytest.fixture
def comm_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[CommLog]:
    """Every widget created in the test talks to a RecordingComm; returns what was sent."""
    import comm
    import ipywidgets.widgets.widget as wmod

    log = CommLog()

    def create_comm(**kwargs: Any) -> RecordingComm:
        c = RecordingComm(log.messages)
        c._log("open", kwargs.get("data"), kwargs.get("buffers"))
        return c

    monkeypatch.setattr(comm, "create_comm", create_comm)
    monkeypatch.setattr(wmod.comm, "create_comm", create_comm, raising=False)
    yield log


# A run that skips is not a test run: `make test` installs everything every test needs, so a
# skipped test means a missing piece (Chromium, a framework), and the run fails saying which.
# NNVIZ_ALLOW_SKIPS=1 accepts skips for a deliberate partial run (e.g. a venv without torch).
_SKIPPED: list[tuple[str, str]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _SKIPPED.append((report.nodeid, str(reason)))


def _skips_allowed() -> bool:
    return os.environ.get("NNVIZ_ALLOW_SKIPS", "") not in ("", "0")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _SKIPPED and not _skips_allowed() and exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _SKIPPED or _skips_allowed():
        return
    reasons = sorted({r for _, r in _SKIPPED})
    terminalreporter.section("skipped tests fail this run", red=True)
    terminalreporter.write_line(
        f"{len(_SKIPPED)} test(s) were skipped, so this run did not test everything. Reasons:"
    )
    for r in reasons:
        terminalreporter.write_line(f"  - {r}")
    terminalreporter.write_line(
        "`make test` installs what every test needs (Chromium included, as root); "
        "set NNVIZ_ALLOW_SKIPS=1 to accept skips in a deliberate partial run."
    )
