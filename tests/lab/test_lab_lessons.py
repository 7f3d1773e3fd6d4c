"""Every lesson notebook in notebooks/, opened in JupyterLab (headless Chromium) and run with
Run All: no cell fails, every NNViz view paints a frame that is not blank, every plotly figure
draws. One screenshot per lesson: test-artifacts/lesson_<notebook>.png (the output holding the
lesson's first view). scripts/screenshots.py makes the README gallery the same way."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from .conftest import ARTIFACTS, REPO, LabServer
from .labtools import lesson_expectations, run_lesson

pytestmark = [pytest.mark.lab, pytest.mark.browser, pytest.mark.torch, pytest.mark.keras]

LESSONS = sorted((REPO / "notebooks").glob("*.ipynb"))


def _scenario(
    browser: Any, server: LabServer, name: str, expect: dict[str, int], shot: Path
) -> dict[str, Any]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        return run_lesson(page, server, name, expect, shot)
    finally:
        page.close()


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_renders_in_lab(path: Path, lab_server: LabServer, in_browser: Any) -> None:
    shot = ARTIFACTS / f"lesson_{path.stem}.png"
    shot.with_name(shot.stem + "_failure.png").unlink(missing_ok=True)
    shutil.copy(path, lab_server.root_dir / path.name)
    expect = lesson_expectations(path)
    assert expect["views"] >= 1, f"{path.name} shows no NNViz"
    report = in_browser(_scenario, lab_server, path.name, expect, shot)
    print(f"{path.name}: ran in {report['run_s']} s, {len(report['views'])} views painted")
    if path.stem == "06_attention":  # the attention lesson opens on its point
        first = report["first_view"]
        assert first["tab"] == "inside" and first["parts"].startswith("layer,probe"), first
        assert first["task"] == "position" and "next token" not in first["inside"], first
        assert "no weights" not in first["legend"] and "Inside tab" in first["legend"], first
        assert {"embed", "pos", "attn", "readout"} <= set(first["labels"]), first
