"""Shared fixtures: a comm that records every message a widget sends (bytes included)."""

from __future__ import annotations

import json
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
