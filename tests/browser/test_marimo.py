"""The widget in marimo (`mo.ui.anywidget(viz)`): a real `marimo run` server on a small notebook
(a tiny torch MLP, a few records), opened in headless Chromium. The view paints, its own
controls (no ipywidgets in marimo) scrub and play, and a button that records another epoch
reaches the view live; in marimo's dark theme the view is dark. marimo renders each anywidget
in a shadow root; Playwright's CSS locators pierce it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, REPO
from tests.lab.labtools import pixel_stats

pytestmark = [pytest.mark.browser, pytest.mark.torch]

NOTEBOOK = """
import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo
    import torch
    import nnviz_widget as nnv

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    x = torch.randn(16, 2)
    viz = nnv.NNViz(model, inputs=x, sync_interval=0, mode="2d")
    opt = torch.optim.SGD(model.parameters(), lr=0.5)

    def step(epoch):
        loss = ((model(x) - x[:, :1]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        viz.record(epoch, loss=float(loss))

    for e in range(3):
        step(e)
    mo.ui.anywidget(viz)
    return mo, step, viz


@app.cell
def _(mo):
    button = mo.ui.button(label="record another epoch", value=0, on_click=lambda v: v + 1)
    button
    return (button,)


@app.cell
def _(button, step, viz):
    if button.value:
        step(2 + button.value)
        viz.flush()
    return
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def marimo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("marimo")
    (root / "nb.py").write_text(NOTEBOOK, encoding="utf-8")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "marimo", "run", "--headless", "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port), "nb.py"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(root / "marimo.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.1)
        else:
            pytest.fail("marimo run did not start")
        assert proc.poll() is None, (root / "marimo.log").read_text()
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# The view's root inside marimo's shadow root: its theme and the lightness of its colors (and
# of its own controls' text).
_LOOK = """() => {
  const lum = (css) => {
    const m = css.match(/[\\d.]+/g).map(Number);
    return (0.2126 * m[0] + 0.7152 * m[1] + 0.0722 * m[2]) / 255;
  };
  const s = document.querySelector('marimo-anywidget').shadowRoot;
  const r = s.querySelector('.nnviz-root');
  const cs = getComputedStyle(r);
  const ctl = getComputedStyle(s.querySelector('.nnviz-own-controls'));
  return { theme: r.dataset.theme, bg: lum(cs.backgroundColor), fg: lum(cs.color),
           controls: lum(ctl.color), body: [...document.body.classList] };
}"""

_READY = """() => { const w = document.querySelector('marimo-anywidget');
  const r = w && w.shadowRoot && w.shadowRoot.querySelector('.nnviz-root');
  return !!r && r.dataset.ready === '1'; }"""


def _main_png(page: Any) -> bytes:
    return bytes(page.locator(".nnviz-root .nnviz-main").screenshot())


def test_marimo_renders_scrubs_plays_updates_live_and_follows_dark(
    marimo_app: str, page: Any, widget_bundle: Path
) -> None:
    page.goto(marimo_app)
    root = page.locator(".nnviz-root")
    root.wait_for(timeout=60_000)
    page.wait_for_function(
        "() => { const w = document.querySelector('marimo-anywidget');"
        " const r = w && w.shadowRoot && w.shadowRoot.querySelector('.nnviz-root');"
        " return !!r && r.dataset.ready === '1' && r.dataset.epoch === '2'; }",
        timeout=60_000,
    )
    # marimo's dark theme (from the URL; its config's `display.theme` otherwise) in a second
    # page, loading while the light one is tested (a marimo session takes seconds to start).
    # Not before the light one is ready: `marimo run` runs sessions as threads, and two threads
    # importing torch at once break its import (RuntimeError ... "RpcBackendOptions")
    dark = page.context.new_page()
    dark_errors: list[str] = []
    dark.on("pageerror", lambda exc: dark_errors.append(f"pageerror: {exc}"))
    dark.goto(f"{marimo_app}/?theme=dark")
    # the view paints: the 2D view draws the network on its background
    first = _main_png(page)
    assert pixel_stats(page, first)["nonBackground"] > 0.02

    # its own controls (marimo has no ipywidgets box around it), with the recorded range
    slider = page.locator(".nnviz-own-controls .nnviz-page-slider")
    assert slider.get_attribute("min") == "-1" and slider.get_attribute("max") == "2"
    slider.focus()
    page.keyboard.press("Home")  # scrub back to init
    page.wait_for_function(
        "() => document.querySelector('marimo-anywidget').shadowRoot"
        ".querySelector('.nnviz-root').dataset.epoch === '-1'",
        timeout=10_000,
    )
    page.wait_for_timeout(300)
    scrubbed = _main_png(page)
    assert pixel_stats(page, scrubbed, first)["differing"] > 0.001

    # play runs from init to the last epoch, then stops
    page.locator(".nnviz-own-controls .nnviz-page-play").click()
    page.wait_for_function(
        "() => { const s = document.querySelector('marimo-anywidget').shadowRoot;"
        " return s.querySelector('.nnviz-root').dataset.epoch === '2'"
        " && s.querySelector('.nnviz-page-play').getAttribute('aria-pressed') === 'false'; }",
        timeout=15_000,
    )

    # a live update: the button's cell records epoch 3, which reaches the view and the slider
    page.get_by_role("button", name="record another epoch").click()
    page.wait_for_function(
        "() => { const s = document.querySelector('marimo-anywidget').shadowRoot;"
        " return s.querySelector('.nnviz-root').dataset.epoch === '3'"
        " && s.querySelector('.nnviz-page-slider').max === '3'; }",
        timeout=20_000,
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "marimo.png"), full_page=True)
    assert page.nnviz_errors == []

    # the dark page: marimo marks <body> with `dark-theme`, which the view (in its shadow root)
    # reads; its root is dark, its text light, and the 2D view draws on the dark background
    dark.wait_for_function(_READY, timeout=60_000)
    v = dark.evaluate(_LOOK)
    assert "dark-theme" in v["body"], v
    assert v["theme"] == "dark" and v["bg"] < 0.2 and v["fg"] > 0.7, v
    assert v["controls"] > 0.7, v  # the own controls (outside the root) follow it
    assert pixel_stats(dark, _main_png(dark))["nonBackground"] > 0.02
    dark.screenshot(path=str(ARTIFACTS / "marimo_dark.png"), full_page=True)
    assert dark_errors == []
