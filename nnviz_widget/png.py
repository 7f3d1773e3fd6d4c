"""``to_png``: ask the live view in the browser for its canvas over the comm, and write it."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .runfile import atomic_write

PNG_TIMEOUT = 5.0
_DISPLAY_FIRST = (
    "show the widget first: put `viz` as the last expression of a cell, run it, and call "
    "to_png once the view is on screen"
)


def _kernel() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    ip = get_ipython()
    return getattr(ip, "kernel", None) if ip is not None else None


def _decode_png(reply: dict[str, Any]) -> bytes:
    url = reply.get("data")
    prefix = "data:image/png;base64,"
    if not isinstance(url, str) or not url.startswith(prefix):
        raise RuntimeError("the view answered without a PNG image")
    try:
        png = base64.b64decode(url[len(prefix) :], validate=True)
    except binascii.Error as e:
        raise RuntimeError(f"the view's PNG could not be decoded ({e})") from e
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        raise RuntimeError("the view answered with something that is not a PNG image")
    return png


def to_png(
    viz: Any, path: str | os.PathLike[str], overwrite: bool = False, timeout: float = PNG_TIMEOUT
) -> Path:
    """Ask the live view (in the browser) for what it shows now and write it as a PNG.

    Sends ``{"type": "png", "id": ...}`` to the view; the view answers with a data URL. While
    waiting, the kernel's incoming messages are pumped (see ``_pump``), so this works within a
    running cell. Raises RuntimeError when no view answers within ``timeout`` seconds."""
    target = Path(path).expanduser()
    if not overwrite and target.exists():
        raise FileExistsError(f"{target} exists; pass overwrite=True to replace it")
    kernel = _kernel()
    if kernel is None or getattr(viz, "comm", None) is None:
        raise RuntimeError(
            f"to_png needs the widget on screen in a running notebook: {_DISPLAY_FIRST}"
        )
    viz.flush()
    rid = secrets.token_hex(8)
    replies: list[dict[str, Any]] = []

    def on_msg(_widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "png" and content.get("id") == rid:
            replies.append(content)

    viz.on_msg(on_msg)
    try:
        viz.send({"type": "png", "id": rid})
        _pump(kernel, lambda: bool(replies), timeout)
    finally:
        viz.on_msg(on_msg, remove=True)
    if not replies:
        raise RuntimeError(
            f"no view of this widget answered within {timeout:g} s: {_DISPLAY_FIRST}"
        )
    reply = replies[0]
    if reply.get("error"):
        raise RuntimeError(f"the view could not make a PNG: {reply['error']}")
    png = _decode_png(reply)
    return atomic_write(target, lambda f: f.write(png), overwrite)


def _pump(kernel: Any, done: Callable[[], bool], timeout: float) -> None:
    """Handle the kernel's incoming messages until ``done()`` or ``timeout`` seconds pass.

    A cell blocks the kernel's event loop, so the view's answer would only be read after the
    cell. ipykernel 7 (which dropped ``do_one_iteration``): the messages are read off the main
    shell's socket here (``_ShellPump``). Older kernels: the jupyter-ui-poll package, which
    drives ``do_one_iteration``, when it is installed."""
    deadline = time.monotonic() + timeout
    pump = _ShellPump.for_kernel(kernel)
    if pump is not None:
        with pump:
            while not done() and time.monotonic() < deadline:
                pump.once(min(0.05, max(0.0, deadline - time.monotonic())))
        return
    try:
        from jupyter_ui_poll import ui_events
    except ImportError:
        ui_events = None
    if ui_events is None or not hasattr(kernel, "do_one_iteration"):
        while not done() and time.monotonic() < deadline:
            time.sleep(0.02)
        return
    with ui_events() as poll:
        while not done() and time.monotonic() < deadline:
            poll(10)
            time.sleep(0.02)


_TASKS: set[Any] = set()  # replayed requests (a reference keeps each task alive)


class _ShellPump:
    """Reads shell messages on the kernel's main thread while a cell runs (ipykernel 7).

    Comm messages are dispatched at once (the view's answer is one); any other request (say an
    execute_request queued by "run all") is held and handed back to the kernel's own handler,
    in order, when the pump closes: the kernel runs it after this cell, as it would have."""

    def __init__(self, kernel: Any, socket: Any) -> None:
        self.kernel = kernel
        self.socket = socket
        self.held: list[Any] = []

    @classmethod
    def for_kernel(cls, kernel: Any) -> _ShellPump | None:
        if not callable(getattr(kernel, "shell_main", None)) or not hasattr(kernel, "comm_manager"):
            return None  # not ipykernel 7
        try:
            thread = getattr(kernel, "shell_channel_thread", None)
            if thread is not None:
                socket = thread.manager.get_shell_channel_to_subshell_pair(None).to_socket
            else:
                socket = kernel.shell_stream.socket
        except Exception:
            return None
        if socket is None or getattr(kernel, "session", None) is None:
            return None
        return cls(kernel, socket)

    def __enter__(self) -> _ShellPump:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.replay()

    def once(self, wait: float) -> None:
        import zmq

        if not self.socket.poll(int(wait * 1000), zmq.POLLIN):
            return
        while True:
            try:
                frames = self.socket.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            self.handle(frames)

    def handle(self, frames: Any) -> None:
        k = self.kernel
        try:
            idents, rest = k.session.feed_identities(frames, copy=False)
            # peek (content=False records no signature, so a held message replays cleanly)
            is_comm = k.session.deserialize(rest, content=False, copy=False)["msg_type"] == (
                "comm_msg"
            )
        except Exception:
            is_comm = False
        if not is_comm:
            self.held.append(frames)
            return
        try:
            msg = k.session.deserialize(rest, content=True, copy=False)
        except Exception:
            return  # what the kernel does with an invalid message: log and drop it
        k.comm_manager.comm_msg(None, idents, msg)

    def replay(self) -> None:
        if not self.held:
            return
        import asyncio

        held, self.held = self.held, []
        for frames in held:  # one task each, created in order: the kernel's lock keeps it
            task = asyncio.ensure_future(self.kernel.shell_main(None, frames))
            _TASKS.add(task)
            task.add_done_callback(_TASKS.discard)
