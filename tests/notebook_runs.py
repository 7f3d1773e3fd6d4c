"""Each notebook in notebooks/ executed once per test session (nbclient, the venv's python3
kernel, widget state stored): tests/test_notebooks.py checks what it printed and showed, and
tests/lab/test_lab_lessons.py opens the same executed copy in JupyterLab, from its saved state.
Running every lesson once instead of twice keeps CI inside its time limit; the live Run All in
Lab is tested by tests/lab/test_lab_quickstart.py and test_lab_compare.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbclient
import nbformat

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_S = 300


@dataclass
class Executed:
    """One notebook's run: the executed notebook (`nb`, also written to `path`), or the error
    that stopped it."""

    nb: Any
    path: Path
    error: str = ""


class NotebookRuns:
    """Runs a notebook the first time it is asked for, in a directory of its own (files the
    notebook writes go there), and keeps the result for the session."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._done: dict[Path, Executed] = {}

    def __call__(self, source: Path) -> Executed:
        if source not in self._done:
            self._done[source] = self._run(source)
        return self._done[source]

    def _run(self, source: Path) -> Executed:
        workdir = self.root / source.stem
        workdir.mkdir(parents=True, exist_ok=True)
        nb = nbformat.read(source, as_version=4)
        client = nbclient.NotebookClient(
            nb,
            kernel_name="python3",  # the venv's kernelspec; its argv "python" is sys.executable
            timeout=CELL_TIMEOUT_S,
            startup_timeout=120,
            resources={"metadata": {"path": str(workdir)}},
            store_widget_state=True,
        )
        error = ""
        try:
            client.execute()
        except nbclient.exceptions.CellExecutionError as exc:
            error = str(exc)
        path = workdir / source.name
        nbformat.write(nb, str(path))
        return Executed(nb, path, error)
