"""The widget in Notebook 7 and in Voilà, served by the session's Jupyter server (their server
extensions: /notebooks/... and /voila/render/...): the view renders, the notebook's ipywidgets
slider scrubs it, Play plays, a button that records an epoch in the kernel reaches the view live;
then the same view in a dark theme. One screenshot each in test-artifacts/."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import ARTIFACTS, LabServer
from .labtools import cell_errors, pixel_stats, wait_all_executed, write_notebook

pytestmark = [pytest.mark.lab, pytest.mark.browser, pytest.mark.torch]

CELLS = [
    "import ipywidgets as w\n"
    "import torch\n"
    "import nnviz_widget as nnv\n"
    "torch.manual_seed(0)\n"
    "model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))\n"
    "x = torch.randn(16, 2)\n"
    "y = (x[:, 0] > 0).long()\n"
    "viz = nnv.NNViz(model, inputs=x, labels=y, mode='2d', sync_interval=0, height=440)\n"
    "opt = torch.optim.SGD(model.parameters(), lr=0.5)\n"
    "def step(epoch):\n"
    "    loss = torch.nn.functional.cross_entropy(model(x), y)\n"
    "    opt.zero_grad(); loss.backward(); opt.step()\n"
    "    viz.record(epoch, loss=float(loss.detach()))\n"
    "for e in range(3):\n"
    "    step(e)\n"
    "viz",
    "button = w.Button(description='record another epoch')\n"
    "button.add_class('nnviz-test-record')\n"
    "button.on_click(lambda _: (step(viz.history.epochs[-1] + 1), viz.flush()))\n"
    "button",
]

ROOT = ".nnviz-root"
VIEW = ".nnviz-root .nnviz-view2d-canvas"


def _epoch_is(page: Any, epoch: int, timeout: int = 30_000) -> None:
    page.wait_for_function(
        "(e) => { const r = document.querySelector('.nnviz-root');"
        " return !!r && r.dataset.ready === '1' && r.dataset.epoch === String(e); }",
        arg=epoch,
        timeout=timeout,
    )


def _drive(page: Any, name: str) -> None:
    """Scrub with the ipywidgets slider, play, record live: the same in both front-ends."""
    _epoch_is(page, 2, timeout=120_000)
    page.wait_for_timeout(300)
    first = page.locator(VIEW).screenshot()
    assert pixel_stats(page, first)["nonBackground"] > 0.02, name

    handle = page.locator(".noUi-handle").first  # the epoch IntSlider under the view
    handle.focus()
    page.keyboard.press("Home")
    _epoch_is(page, -1)
    page.wait_for_timeout(300)
    assert pixel_stats(page, page.locator(VIEW).screenshot(), first)["differing"] > 0.001, name

    page.locator(".widget-play button").first.click()  # Play: init -> last epoch
    _epoch_is(page, 2)

    page.locator(".nnviz-test-record").click()  # the kernel records epoch 3
    _epoch_is(page, 3)
    page.locator(ROOT).screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _dark(page: Any, name: str) -> None:
    page.wait_for_function(
        "() => document.querySelector('.nnviz-root')?.dataset.theme === 'dark'", timeout=30_000
    )
    page.wait_for_timeout(300)
    dark = page.locator(ROOT).screenshot(path=str(ARTIFACTS / f"{name}_dark.png"))
    # the view's background follows: most of the view is dark
    bg = page.evaluate(
        "() => getComputedStyle(document.querySelector('.nnviz-root')).backgroundColor"
    )
    rgb = [int(v) for v in bg[bg.index("(") + 1 : bg.index(")")].split(",")[:3]]
    assert sum(rgb) / 3 < 80, (name, bg)
    assert pixel_stats(page, dark)["nonBackground"] > 0.02


def _notebook7(browser: Any, server: LabServer) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{exc} {exc.stack}"[:1500]))
    page.goto(f"{server.url}/notebooks/nb7.ipynb")
    # Notebook 7 itself throws one TypeError reading a settings schema while it starts (in its
    # own notebook_core bundle, with or without this widget): not ours, left out below
    page.wait_for_function("() => !!window.jupyterapp", timeout=90_000)
    page.wait_for_function(
        """() => { const w = window.jupyterapp.shell.currentWidget;
          const k = w && w.sessionContext && w.sessionContext.session
            && w.sessionContext.session.kernel;
          return !!k && k.status === 'idle' && w.content.widgets.length > 0; }""",
        timeout=90_000,
        polling=250,
    )
    page.evaluate("() => { void window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    wait_all_executed(page)
    assert cell_errors(page) == []
    _drive(page, "notebook7")
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme',"
        " {theme: 'JupyterLab Dark'})"
    )
    _dark(page, "notebook7")
    page.evaluate(  # back to light for the other tests of this server (the setting persists)
        "() => window.jupyterapp.commands.execute('apputils:change-theme',"
        " {theme: 'JupyterLab Light'})"
    )
    page.wait_for_function(
        "() => document.querySelector('.nnviz-root')?.dataset.theme === 'light'", timeout=30_000
    )
    page.evaluate(
        "async () => { const w = window.jupyterapp.shell.currentWidget;"
        " if (w && w.sessionContext) await w.sessionContext.shutdown(); }"
    )
    ours = [e for e in errors if "static/notebook/notebook_core" not in e]
    assert not ours, ours
    page.close()


def _voila(browser: Any, server: LabServer) -> None:
    for theme in ("light", "dark"):
        page = browser.new_page(viewport={"width": 1200, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)[:300]))
        page.goto(f"{server.url}/voila/render/voila.ipynb?theme={theme}", timeout=120_000)
        if theme == "light":
            _drive(page, "voila")
        else:
            _epoch_is(page, 2, timeout=120_000)
            _dark(page, "voila")
        assert not errors, errors
        page.close()  # Voilà shuts the page's kernel down


def test_notebook7_renders_scrubs_plays_updates_live_and_goes_dark(
    lab_server: LabServer, in_browser: Any
) -> None:
    write_notebook(lab_server.root_dir / "nb7.ipynb", CELLS)
    in_browser(_notebook7, lab_server)


def test_voila_renders_scrubs_plays_updates_live_and_goes_dark(
    lab_server: LabServer, in_browser: Any
) -> None:
    write_notebook(lab_server.root_dir / "voila.ipynb", CELLS)
    in_browser(_voila, lab_server)
