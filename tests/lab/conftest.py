"""A real JupyterLab server and headless Chromium, for tests that run a notebook in Lab.

Fixtures:
  lab_server  (session) a JupyterLab server (also serving Notebook 7 at /notebooks/ and Voilà
              at /voila/render/: their server extensions) on a free loopback port, no token,
              with temporary config/data/runtime directories and a temporary root directory;
              tests write the notebook they open into `lab_server.root_dir`. The venv's
              share/jupyter stays on JUPYTER_PATH, so the ipywidgets, anywidget and plotly lab
              extensions load.
  in_browser  a function `in_browser(fn, *args)` that runs `fn(browser, *args)` with a
              Playwright Chromium (Debian's /usr/bin/chromium; never `playwright install`).

Chromium missing: skipped locally, a failure when CI=true.

Why `in_browser` runs `fn` in a thread of its own: Playwright's sync API refuses to start while
another sync Playwright is live in the same thread (it leaves an asyncio loop running there),
and tests/browser may keep one open for the whole session. A thread of our own, with its own
Playwright, works whatever the other fixtures do.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--disable-gpu", "--enable-unsafe-swiftshader", "--no-sandbox"]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
STARTUP_TIMEOUT_S = 90

T = TypeVar("T")

# Lab settings for a quiet, deterministic session: no news/update toast, every cell attached to
# the DOM (the default "contentVisibility" windowing skips laying out cells off screen).
USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; CI=true, so this is a failure, not a skip")
    pytest.skip(message)


@dataclass
class LabServer:
    url: str
    root_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_status(server: LabServer) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"JupyterLab exited with {server.process.returncode}:\n{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(server.url + "/api/status", timeout=5) as response:
                if response.status == 200:
                    json.load(response)
                    return
        except (urllib.error.URLError, OSError, ValueError) as error:
            last_error = error
        time.sleep(0.25)
    raise RuntimeError(
        f"JupyterLab did not answer /api/status in {STARTUP_TIMEOUT_S}s ({last_error}):\n"
        f"{server.log_tail()}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # the server shuts its kernels down on SIGTERM
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        # The server runs in a process group of its own (start_new_session): end that group.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextmanager
def start_lab_server(base: Path, env_extra: dict[str, str] | None = None) -> Iterator[LabServer]:
    """A JupyterLab server with its directories under `base` (see the module docstring); also
    used by scripts/screenshots.py. `env_extra` goes into the server's (and kernels') env."""
    root_dir = base / "root"
    config_dir = base / "config"
    data_dir = base / "data"
    runtime_dir = base / "runtime"
    for directory in (root_dir, config_dir, data_dir, runtime_dir):
        directory.mkdir()
    user_settings = config_dir / "lab" / "user-settings"
    for name, settings in USER_SETTINGS.items():
        path = user_settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))

    venv_share = Path(sys.prefix) / "share" / "jupyter"
    jupyter_path = [str(venv_share)]
    if os.environ.get("JUPYTER_PATH"):
        jupyter_path.append(os.environ["JUPYTER_PATH"])
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(config_dir),
        JUPYTER_DATA_DIR=str(data_dir),
        JUPYTER_RUNTIME_DIR=str(runtime_dir),
        JUPYTER_PATH=os.pathsep.join(jupyter_path),
        IPYTHONDIR=str(base / "ipython"),
        PYTHONUNBUFFERED="1",
    )
    env.update(env_extra or {})
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        f"--ServerApp.root_dir={root_dir}",
        f"--LabApp.workspaces_dir={base / 'workspaces'}",
        "--LabApp.expose_app_in_browser=True",
        "--JupyterNotebookApp.expose_app_in_browser=True",  # Notebook 7 at /notebooks/...
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
    ]
    log_path = base / "lab.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=root_dir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LabServer(f"http://127.0.0.1:{port}", root_dir, log_path, process)
    try:
        _wait_for_status(server)
        yield server
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    base = tmp_path_factory.mktemp("lab")
    try:
        with start_lab_server(base) as server:
            yield server
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        if (base / "lab.log").exists():  # also when the server did not start
            shutil.copy(base / "lab.log", ARTIFACTS / "lab_server.log")


def _run_in_own_thread(fn: Callable[..., T], *args: Any) -> T:
    from playwright.sync_api import sync_playwright

    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
                )
                try:
                    outcome["value"] = fn(browser, *args)
                finally:
                    browser.close()
        except BaseException as error:  # re-raised in the test's thread, pytest.fail included
            outcome["error"] = error

    thread = threading.Thread(target=target, name="lab-playwright", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


@pytest.fixture
def in_browser() -> Callable[..., Any]:
    require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    return _run_in_own_thread
