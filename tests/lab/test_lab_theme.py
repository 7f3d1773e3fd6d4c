"""JupyterLab Dark: a shown widget follows Lab's theme switch live (no re-render): its background
turns dark and its text light, and back. Screenshot: test-artifacts/lab_theme_dark.png."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import ARTIFACTS, LabServer
from .labtools import cell_errors, open_notebook, run_all, wait_all_executed, write_notebook

pytestmark = [pytest.mark.lab, pytest.mark.browser, pytest.mark.torch]

# scoped to this test's notebook: Lab restores the other tests' notebooks as hidden tabs
ROOT = "[data-nnviz-test='theme'] .jp-OutputArea-output .nnviz-root"
CELLS = [
    "import torch\n"
    "from torch import nn\n"
    "import nnviz_widget as nnv\n"
    "torch.manual_seed(0)\n"
    "model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))\n"
    "viz = nnv.NNViz(model, inputs=torch.randn(4, 6))\n"
    "viz.record(0, loss=1.0)\n"
    "viz",
]

LOOK = """
(sel) => {
  const lum = (css) => {
    const m = css.match(/[\\d.]+/g).map(Number);
    return (0.2126 * m[0] + 0.7152 * m[1] + 0.0722 * m[2]) / 255;
  };
  const r = document.querySelector(sel);
  const cs = getComputedStyle(r);
  return { theme: r.dataset.theme, bg: lum(cs.backgroundColor), fg: lum(cs.color) };
}
"""


def _theme(page: Any, name: str) -> None:
    page.evaluate(
        "name => window.jupyterapp.commands.execute('apputils:change-theme', {theme: name})", name
    )


def _scenario(browser: Any, server: LabServer) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    open_notebook(page, server, "theme.ipynb")
    page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.node.setAttribute('data-nnviz-test', 'theme')"
    )
    run_all(page)
    wait_all_executed(page)
    assert cell_errors(page) == []
    page.wait_for_selector(f"{ROOT}[data-ready='1']", timeout=60_000)
    assert page.evaluate(LOOK, ROOT)["theme"] == "light"
    page.evaluate("sel => { document.querySelector(sel).__kept = 1; }", ROOT)
    try:
        _theme(page, "JupyterLab Dark")
        page.wait_for_function(
            "sel => document.querySelector(sel).dataset.theme === 'dark'", arg=ROOT, timeout=20_000
        )
        page.wait_for_timeout(500)
        v = page.evaluate(LOOK, ROOT)
        assert v["bg"] < 0.2 and v["fg"] > 0.7, v
        # the same view, re-themed: not rendered again
        assert page.evaluate("sel => document.querySelector(sel).__kept", ROOT) == 1
        page.locator(ROOT).screenshot(path=str(ARTIFACTS / "lab_theme_dark.png"))
    finally:
        # the theme is a user setting of the session's server: leave it light for other tests
        _theme(page, "JupyterLab Light")
    page.wait_for_function(
        "sel => document.querySelector(sel).dataset.theme === 'light'", arg=ROOT, timeout=20_000
    )
    v = page.evaluate(LOOK, ROOT)
    assert v["bg"] > 0.9 and v["fg"] < 0.3, v
    page.close()


def test_lab_dark_theme_rethemes_the_widget(lab_server: LabServer, in_browser: Any) -> None:
    write_notebook(lab_server.root_dir / "theme.ipynb", CELLS)
    in_browser(_scenario, lab_server)
