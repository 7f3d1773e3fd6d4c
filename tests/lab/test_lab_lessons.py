"""Every lesson notebook in notebooks/, as the test session executed it (nbclient with its widget
state: tests/notebook_runs.py, the run tests/test_notebooks.py checks), opened in JupyterLab
(headless Chromium) without running a cell: every NNViz view paints a frame that is not blank
from the saved state alone, every plotly figure draws. One screenshot per lesson:
test-artifacts/lesson_<notebook>.png (the output holding the lesson's first view).

Each lesson is executed once per session, not a second time with Run All in Lab (CI's time
limit): the live path in Lab is tested by test_lab_quickstart.py (lesson 1, Run All, scrub, live
training) and test_lab_compare.py (two views live). scripts/screenshots.py makes the README
gallery with Run All in Lab."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from ..notebook_runs import NOTEBOOKS
from .conftest import ARTIFACTS, LabServer
from .labtools import lesson_expectations, run_lesson, trust_notebook

pytestmark = [pytest.mark.lab, pytest.mark.browser, pytest.mark.torch, pytest.mark.keras]

LESSONS = NOTEBOOKS  # the notebooks tests/notebook_runs.py executes


def _scenario(
    browser: Any, server: LabServer, name: str, expect: dict[str, int], shot: Path
) -> dict[str, Any]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        return run_lesson(page, server, name, expect, shot, saved=True)
    finally:
        page.close()


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_renders_in_lab(
    path: Path, lab_server: LabServer, in_browser: Any, notebook_runs: Any
) -> None:
    shot = ARTIFACTS / f"lesson_{path.stem}.png"
    shot.with_name(shot.stem + "_failure.png").unlink(missing_ok=True)
    run = notebook_runs(path)
    assert not run.error, f"{path.name} failed under nbclient:\n{run.error[-3000:]}"
    saved = lab_server.root_dir / f"saved_{path.name}"
    shutil.copy(run.path, saved)
    trust_notebook(lab_server, saved)  # nbclient does not sign: Lab would show text reprs
    expect = lesson_expectations(path)
    assert expect["views"] >= 1, f"{path.name} shows no NNViz"
    report = in_browser(_scenario, lab_server, saved.name, expect, shot)
    print(f"{path.name}: opened in {report['run_s']} s, {len(report['views'])} views painted")
    if path.stem == "06_attention":  # the attention lesson opens on its point
        first = report["first_view"]
        assert first["tab"] == "inside" and first["parts"].startswith("layer,probe"), first
        assert first["task"] == "position" and "next token" not in first["inside"], first
        assert "no weights" not in first["legend"] and "Inside tab" in first["legend"], first
        assert {"embed", "pos", "attn", "readout"} <= set(first["labels"]), first
