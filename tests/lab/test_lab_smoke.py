"""The Lab fixtures themselves, with plain ipywidgets: server up, notebook opened and run,
a widget rendered, a <select> and a slider driven. If this fails, test_lab_quickstart's
failure is about the set-up, not nnviz."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import ARTIFACTS, LabServer
from .labtools import cell_errors, open_notebook, run_all, wait_all_executed, write_notebook

pytestmark = [pytest.mark.lab, pytest.mark.browser]

CELLS = [
    "import ipywidgets as w\n"
    "dd = w.Dropdown(options=[('none', 0), ('fc1', 1)], description='Layer')\n"
    "s = w.IntSlider(min=0, max=4, value=4, description='Epoch')\n"
    "mirror = w.IntText()\n"
    "w.jslink((s, 'value'), (mirror, 'value'))\n"
    "box = w.VBox([dd, s, mirror])\n"
    "box.add_class('smoke-box')\n"
    "box",
]


def _scenario(browser: Any, server: LabServer) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    open_notebook(page, server, "smoke.ipynb")
    run_all(page)
    wait_all_executed(page)
    assert cell_errors(page) == []
    box = page.locator(".smoke-box")
    box.wait_for(timeout=30_000)
    box.locator("select").select_option(label="fc1")
    assert box.locator("select").input_value() == "fc1"
    handle = box.locator(".noUi-handle").first
    handle.focus()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        "() => document.querySelector('.smoke-box .widget-readout').textContent.trim() === '2'",
        timeout=10_000,
    )
    mirror = box.locator("input[type=number]")
    page.wait_for_function("(el) => el.value === '2'", arg=mirror.element_handle(), timeout=10_000)
    box.screenshot(path=str(ARTIFACTS / "lab_smoke.png"))
    page.close()


def test_lab_runs_a_widget_notebook(lab_server: LabServer, in_browser: Any) -> None:
    write_notebook(lab_server.root_dir / "smoke.ipynb", CELLS)
    in_browser(_scenario, lab_server)
