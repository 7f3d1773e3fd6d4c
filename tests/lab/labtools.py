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


def open_notebook(
    page: Any, server: LabServer, name: str, timeout_ms: int = 90_000, workspace: str = ""
) -> None:
    """Open `name` (relative to the server's root) and wait for its kernel to be idle. A
    `workspace` of its own keeps Lab from restoring this notebook, as a hidden tab, in every later
    test's page (needed for a notebook with saved views: their `.nnviz-root` would be found)."""
    where = f"lab/workspaces/{workspace}/tree" if workspace else "lab/tree"
    page.goto(f"{server.url}/{where}/{name}")
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


def largest_canvas(view: Any) -> Any:
    """The largest <canvas> inside the locator `view` (a view's network, not its chart), or
    None."""
    canvases = view.locator("canvas")
    best, best_area = None, 0.0
    for j in range(canvases.count()):
        box = canvases.nth(j).bounding_box()
        if box and box["width"] * box["height"] > best_area:
            best, best_area = canvases.nth(j), box["width"] * box["height"]
    return best


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


# A view's root in an output: every `.nnviz-root` but a comparison's metrics chart (it shares
# the views' styles, not their data attributes).
VIEW_ROOT = ".jp-OutputArea-output .nnviz-root:not(.nnviz-compare-chart)"

# Every view's state: painted (data-ready) or not, per view root on the page.
_JS_ROOTS = (
    "() => [...document.querySelectorAll('" + VIEW_ROOT + "')].map((el) => ({...el.dataset}))"
)

_JS_SHUTDOWN = """async () => {
  const w = window.jupyterapp.shell.currentWidget;
  if (w && w.sessionContext) await w.sessionContext.shutdown();
}"""


# What the first view shows before the screenshot script touches it: its tab, the Inside
# panel's parts in order, the legend's words, the 3D labels on show, the token strip's task.
_JS_FIRST_VIEW = """(sel) => {
  const r = document.querySelector(sel);
  const q = (s) => r.querySelector(s);
  return {
    tab: r.dataset.tab,
    parts: q('.nnviz-inside')?.dataset.parts ?? '',
    legend: q('.nnviz-legend')?.textContent ?? '',
    labels: [...r.querySelectorAll('.nnviz-label')].filter((e) => e.style.display !== 'none')
      .map((e) => e.dataset.layer),
    task: q('.nnviz-inside-tokens')?.dataset.task ?? null,
    inside: q('.nnviz-inside')?.textContent ?? '',
  };
}"""


def lesson_expectations(path: Path) -> dict[str, int]:
    """What a lesson notebook must show once run: its NNViz views (one per `nnv.NNViz(` call
    in its code) and its plotly figures (one per `.figure(` call)."""
    nb = nbformat.read(str(path), as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return {"views": code.count("nnv.NNViz("), "figures": code.count(".figure(")}


def run_lesson(
    page: Any,
    server: LabServer,
    name: str,
    expect: dict[str, int],
    screenshot: Path,
    saved: bool = False,
) -> dict[str, Any]:
    """Open notebook `name` in Lab, Run All, and check that it ran without an error and that
    every widget view painted a frame that is not blank and every plotly figure drew. Screenshots
    the output that holds the first view into `screenshot`; shuts the kernel down at the end.
    With `saved`, `name` is an executed (and trusted) notebook: nothing is run, and everything
    must come back from its outputs and saved widget state alone. Returns a report (time to run,
    the views' data attributes, canvas pixel stats)."""
    import time

    report: dict[str, Any] = {"name": name}
    page_errors: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)[:400]))
    t0 = time.monotonic()
    try:
        open_notebook(page, server, name, workspace=f"saved-{Path(name).stem}" if saved else "")
        if not saved:
            run_all(page)
        deadline = time.monotonic() + 300
        while not saved and not page.evaluate(_JS_ALL_EXECUTED):
            errors = cell_errors(page)
            if errors:
                raise AssertionError(f"{name}: a cell failed:\n" + "\n".join(errors)[-3000:])
            if time.monotonic() > deadline:
                raise AssertionError(f"{name}: Run All did not finish in 300 s")
            page.wait_for_timeout(500)
        report["run_s"] = round(time.monotonic() - t0, 1)
        errors = cell_errors(page)
        assert not errors, f"{name}: a cell failed:\n" + "\n".join(errors)[-3000:]

        root = VIEW_ROOT
        page.wait_for_function(
            """([sel, n]) => {
              const roots = [...document.querySelectorAll(sel)];
              return roots.length >= n && roots.every((el) => el.dataset.ready === '1');
            }""",
            arg=[root, expect["views"]],
            timeout=60_000,
            polling=250,
        )
        report["views"] = page.evaluate(_JS_ROOTS)
        assert len(report["views"]) == expect["views"], report["views"]
        # plotly outputs (jupyterlab-plotly's renderer is the output node): each drew its svg
        figures = page.locator(".jp-OutputArea-output.jp-RenderedPlotly")
        report["figures"] = figures.count()
        assert report["figures"] == expect["figures"], report
        for i in range(report["figures"]):
            figures.nth(i).scroll_into_view_if_needed()
            figures.nth(i).locator(".main-svg").first.wait_for(state="attached", timeout=30_000)

        # every view drew something: its largest canvas (the network) is not one flat colour
        report["canvases"] = []
        roots = page.locator(root)
        for i in range(roots.count()):
            view = roots.nth(i)
            view.scroll_into_view_if_needed()
            page.wait_for_timeout(300)
            best = largest_canvas(view)
            assert best is not None, f"{name}: view {i} has no <canvas>"
            stats = pixel_stats(page, best.screenshot())
            report["canvases"].append(stats)
            assert stats["nonBackground"] > 0.01 and stats["colors"] >= 8, (
                f"{name}: view {i} is blank: {stats}"
            )

        # the screenshot shows the first view's "Inside" tab (probe, boundary, maps, attention)
        inside = page.locator(f'{root} .nnviz-tab[data-tab="inside"]').first
        report["first_view"] = page.evaluate(_JS_FIRST_VIEW, root)
        if inside.count() and roots.first.get_attribute("data-tab") != "inside":
            inside.click()
            page.wait_for_timeout(500)
        first = page.locator(".jp-OutputArea-output").filter(has=page.locator(".nnviz-root")).first
        first.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        first.screenshot(path=str(screenshot))
        assert not page_errors, page_errors
        return report
    except Exception:
        page.screenshot(path=str(screenshot.with_name(screenshot.stem + "_failure.png")))
        print(f"{name} report at failure: {report}")
        raise
    finally:
        page.evaluate(_JS_SHUTDOWN)  # each lesson's kernel holds torch/TF: free it now
