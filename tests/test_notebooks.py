"""Every notebook in notebooks/ runs top to bottom without an error (nbclient, the venv's
python3 kernel, once per session: tests/notebook_runs.py), and is committed without outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")

from .notebook_runs import NOTEBOOKS  # noqa: E402

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert not dirty, (
        f"{path.name}: code cells {dirty} carry outputs or execution counts; clear them "
        "(jupyter nbconvert --clear-output --inplace) before committing"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path: Path, notebook_runs: Any) -> None:
    run = notebook_runs(path)  # executed once per session; the Lab lesson test opens it too
    if run.error:
        pytest.fail(f"{path.name} failed:\n{run.error}", pytrace=False)
    nb = run.nb
    if "nnviz_widget" in "".join(c.source for c in nb.cells if c.cell_type == "code"):
        views = [
            output
            for cell in nb.cells
            if cell.cell_type == "code"
            for output in cell.get("outputs", [])
            if WIDGET_VIEW in output.get("data", {})
        ]
        assert views, f"{path.name} imports nnviz_widget but displayed no widget"
