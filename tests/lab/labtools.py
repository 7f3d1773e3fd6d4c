"""Helpers for driving a notebook in JupyterLab with Playwright (used by tests/lab/test_*.py)."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

if TYPE_CHECKING:
    from .conftest import LabServer

# The notebook panel that shows `name`, once its kernel is up and idle.
_JS_NOTEBOOK_READY = """(name) => {
  const app = window.jupyterapp;
  const w = app && app.shell.currentWidget;
  if (!w || !w.context || w.context.path !== name || !w.content) return false;
  const kernel = w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle' && w.content.widgets.length > 0;
}"""

# Every code cell executed and the kernel idle again.
_JS_ALL_EXECUTED = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
  const cells = w.content.widgets.filter((c) => c.model.type === 'code');
  const done = cells.every((c) => c.model.executionCount !== null);
  return !!kernel && kernel.status === 'idle' && done;
}"""

_JS_ERRORS = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const errors = [];
  for (const c of w.content.widgets) {
    if (c.model.type !== 'code') continue;
    for (const o of c.model.outputs.toJSON()) {
      if (o.output_type !== 'error') continue;
      errors.push(o.ename + ': ' + o.evalue + '\\n' + (o.traceback || []).join('\\n'));
    }
  }
  return errors;
}"""

_JS_RUN_ALL = """() => {
  const commands = window.jupyterapp.commands;
  const id = commands.hasCommand('runmenu:run-all') ? 'runmenu:run-all' : 'notebook:run-all-cells';
  void commands.execute(id);  // resolves when every cell ran: waited for separately
  return id;
}"""

# Decode PNGs in the browser (no imaging library needed in Python) and compare pixels.
_JS_PIXELS = """async ([a, b]) => {
  const decode = async (b64) => {
    const img = new Image();
    img.src = 'data:image/png;base64,' + b64;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    return ctx.getImageData(0, 0, canvas.width, canvas.height);
  };
  const A = await decode(a);
  const counts = new Map();
  const px = A.data;
  for (let i = 0; i < px.length; i += 4) {
    const key = (px[i] >> 3) << 10 | (px[i + 1] >> 3) << 5 | (px[i + 2] >> 3);
    counts.set(key, (counts.get(key) || 0) + 1);
  }
  const n = px.length / 4;
  const top = Math.max(...counts.values());
  const out = { width: A.width, height: A.height, colors: counts.size, nonBackground: 1 - top / n };
  if (b) {
    const B = await decode(b);
    if (B.width !== A.width || B.height !== A.height) {
      out.differing = 1;
    } else {
      let diff = 0;
      for (let i = 0; i < px.length; i += 4) {
        if (Math.abs(px[i] - B.data[i]) + Math.abs(px[i + 1] - B.data[i + 1]) +
            Math.abs(px[i + 2] - B.data[i + 2]) > 24) diff++;
      }
      out.differing = diff / n;
    }
  }
  return out;
}"""


def write_notebook(path: Path, cells: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, str(path))


def open_notebook(page: Any, server: LabServer, name: str, timeout_ms: int = 90_000) -> None:
    """Open `name` (relative to the server's root) and wait for its kernel to be idle."""
    page.goto(f"{server.url}/lab/tree/{name}")
    page.wait_for_function("() => !!window.jupyterapp", timeout=timeout_ms)
    page.wait_for_function(_JS_NOTEBOOK_READY, arg=name, timeout=timeout_ms, polling=250)


def run_all(page: Any) -> str:
    """Run → Run All Cells; returns the command id used. Does not wait."""
    return str(page.evaluate(_JS_RUN_ALL))


def wait_all_executed(page: Any, timeout_ms: int = 120_000) -> None:
    page.wait_for_function(_JS_ALL_EXECUTED, timeout=timeout_ms, polling=250)


def cell_errors(page: Any) -> list[str]:
    """The error outputs of every code cell (ANSI colours stripped)."""
    return [re.sub(r"\x1b\[[0-9;]*m", "", e) for e in page.evaluate(_JS_ERRORS)]


def pixel_stats(page: Any, png: bytes, other: bytes | None = None) -> dict[str, float]:
    """width, height, colors (distinct, 15-bit), nonBackground (share of pixels that differ
    from the most common colour) and, with `other`, differing (share of pixels that differ)."""
    a = base64.b64encode(png).decode()
    b = base64.b64encode(other).decode() if other is not None else None
    return dict(page.evaluate(_JS_PIXELS, [a, b]))


def trust_notebook(server: LabServer, path: Path) -> None:
    """Sign `path` with the Lab server's notary (what File > Trust Notebook does), so Lab renders
    its unsafe outputs, widget views included. The fixture keeps the server's Jupyter data
    directory (its notebook secret and signature database) beside its root directory."""
    from nbformat.sign import NotebookNotary

    notary = NotebookNotary(data_dir=str(server.root_dir.parent / "data"))
    nb = nbformat.read(str(path), as_version=4)
    notary.sign(nb)
    notary.close()
