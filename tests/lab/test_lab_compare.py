"""nnv.compare in JupyterLab: two tiny torch runs side by side (same init, different learning
rates). One slider scrubs both views in the browser (both canvases change); with "link views"
ticked, orbiting one 3D view moves the other's camera; the color dropdown's "A − B" shows one
view of the difference, whose colors are neither run's.
Saved (issue 14): the same notebook executed by nbclient with its widget state, re-opened in
Lab without running a cell: both views paint, the shared slider (jslinked in the browser) moves
both views' epochs and pixels, and the 2D/3D toggle switches both, with no widget in the kernel.
Screenshots: test-artifacts/lab_compare_*.png.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import ARTIFACTS, LabServer
from .labtools import (
    _JS_SHUTDOWN,
    cell_errors,
    largest_canvas,
    open_notebook,
    pixel_stats,
    run_all,
    trust_notebook,
    write_notebook,
)
from .test_lab_saved_state import _JS_KERNEL_COMMS, _JS_KERNEL_IDLE, _execute, nbformat

pytestmark = [pytest.mark.lab, pytest.mark.browser, pytest.mark.torch]

NOTEBOOK = "lab_compare.ipynb"
CELLS = [
    "import torch\n"
    "import nnviz_widget as nnv\n"
    "\n"
    "def run(lr):\n"
    "    torch.manual_seed(0)  # the same init: A − B starts at zero\n"
    "    m = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))\n"
    "    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))\n"
    "    viz = nnv.NNViz(m, inputs=x)\n"
    "    opt = torch.optim.SGD(m.parameters(), lr=lr)\n"
    "    for e in range(3):\n"
    "        for _ in range(30):\n"
    "            opt.zero_grad()\n"
    "            loss = torch.nn.functional.cross_entropy(m(x), y)\n"
    "            loss.backward()\n"
    "            opt.step()\n"
    "        viz.record(e, loss=loss.item())\n"
    "    return viz\n"
    "\n"
    "cmp = nnv.compare(run(1.0), run(0.01), names=('lr 1.0', 'lr 0.01'))\n"
    "cmp",
]

BOX = ".jp-OutputArea-output .nnviz-controls"
ROOTS = f"{BOX} .nnviz-root:not(.nnviz-compare-chart)"  # the views, not the metrics chart

# A color histogram (15-bit keys) of a PNG without its most common color (the background), as
# shares of the rest: two pictures' colors compared whatever their sizes.
_JS_COLORS = """async (b64) => {
  const img = new Image();
  img.src = 'data:image/png;base64,' + b64;
  await img.decode();
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext('2d');
  g.drawImage(img, 0, 0);
  const px = g.getImageData(0, 0, c.width, c.height).data;
  const counts = {};
  for (let i = 0; i < px.length; i += 4) {
    const k = (px[i] >> 3) << 10 | (px[i + 1] >> 3) << 5 | (px[i + 2] >> 3);
    counts[k] = (counts[k] || 0) + 1;
  }
  let top = null;
  for (const k in counts) if (top === null || counts[k] > counts[top]) top = k;
  delete counts[top];
  const n = Object.values(counts).reduce((a, b) => a + b, 0);
  for (const k in counts) counts[k] /= n;
  return counts;
}"""


def _colors(page: Any, png: bytes) -> dict[str, float]:
    import base64

    return dict(page.evaluate(_JS_COLORS, base64.b64encode(png).decode()))


def _color_distance(a: dict[str, float], b: dict[str, float]) -> float:
    """Half the L1 distance of two color histograms: 0 the same colors, 1 none shared."""
    return 0.5 * sum(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b))


def _canvas(page: Any, i: int) -> Any:
    """The largest <canvas> of the i-th view in the comparison (the network, not the chart)."""
    best = largest_canvas(page.locator(ROOTS).nth(i))
    assert best is not None, f"view {i} has no canvas"
    return best


def _wait_views(page: Any, n: int, attr: str = "", value: str = "") -> None:
    page.wait_for_function(
        """([sel, n, attr, value]) => {
          const roots = [...document.querySelectorAll(sel)];
          return roots.length === n && roots.every((el) => el.dataset.ready === '1' &&
            (!attr || el.getAttribute(attr) === value));
        }""",
        arg=[ROOTS, n, attr, value],
        timeout=60_000,
        polling=250,
    )
    page.wait_for_timeout(400)  # let the compositor present the frame


def _frames(page: Any) -> list[str]:
    return list(page.eval_on_selector_all(ROOTS, "els => els.map((el) => el.dataset.frame)"))


def _wait_new_frames(page: Any, before: list[str]) -> None:
    page.wait_for_function(
        """([sel, before]) => [...document.querySelectorAll(sel)]
          .every((el, i) => el.dataset.frame !== before[i])""",
        arg=[ROOTS, before],
        timeout=20_000,
    )
    page.wait_for_timeout(400)


def _scenario(browser: Any, server: LabServer) -> dict[str, Any]:
    report: dict[str, Any] = {}
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page_errors: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    try:
        open_notebook(page, server, NOTEBOOK)
        run_all(page)
        page.locator(BOX).first.wait_for(timeout=120_000)
        _wait_views(page, 2, "data-epoch", "2")
        assert cell_errors(page) == []
        box = page.locator(BOX).first
        box.scroll_into_view_if_needed()
        box.screenshot(path=str(ARTIFACTS / "lab_compare_epoch2.png"))
        at2 = [_canvas(page, i).screenshot() for i in range(2)]

        # one slider scrubs both runs, in the browser: back to init, both canvases change
        frames = _frames(page)
        handle = box.locator(".widget-slider .noUi-handle").first
        handle.focus()
        page.keyboard.press("Home")
        _wait_views(page, 2, "data-epoch", "-1")
        _wait_new_frames(page, frames)
        box.screenshot(path=str(ARTIFACTS / "lab_compare_init.png"))
        at_init = [_canvas(page, i).screenshot() for i in range(2)]
        report["scrub"] = [
            pixel_stats(page, x, y)["differing"] for x, y in zip(at2, at_init, strict=True)
        ]
        assert all(d > 0.001 for d in report["scrub"]), report
        page.keyboard.press("End")
        _wait_views(page, 2, "data-epoch", "2")

        # link views: orbiting the left 3D view turns the right one's camera too
        box.locator(".widget-checkbox input").first.check()
        page.wait_for_timeout(500)  # the kernel makes the links
        right_before = _canvas(page, 1).screenshot()
        left = _canvas(page, 0).bounding_box()
        cx, cy = left["x"] + left["width"] / 2, left["y"] + left["height"] / 2
        frames = _frames(page)
        page.mouse.move(cx, cy)
        page.mouse.down()
        page.mouse.move(cx + 160, cy + 40, steps=8)
        page.mouse.up()
        _wait_new_frames(page, frames)
        page.wait_for_timeout(300)
        report["camera"] = pixel_stats(page, right_before, _canvas(page, 1).screenshot())
        assert report["camera"]["differing"] > 0.01, report
        box.screenshot(path=str(ARTIFACTS / "lab_compare_linked_camera.png"))

        # ... and in 2D: zooming the left view (ctrl + wheel) zooms the right one as much
        box.locator(".widget-toggle-button", has_text="2D").first.click()
        _wait_views(page, 2, "data-mode", "2d")
        zoom = page.locator(ROOTS).nth(1).get_attribute("data-zoom")
        left = _canvas(page, 0).bounding_box()
        page.mouse.move(left["x"] + left["width"] / 2, left["y"] + left["height"] / 2)
        page.keyboard.down("Control")
        page.mouse.wheel(0, -300)
        page.keyboard.up("Control")
        page.wait_for_function(
            """([sel, z]) => {
              const [a, b] = [...document.querySelectorAll(sel)].map((el) => el.dataset.zoom);
              return a === b && b !== z;
            }""",
            arg=[ROOTS, zoom],
            timeout=10_000,
        )
        page.wait_for_timeout(300)
        box.screenshot(path=str(ARTIFACTS / "lab_compare_linked_2d.png"))
        box.locator(".widget-toggle-button", has_text="3D").first.click()
        _wait_views(page, 2, "data-mode", "3d")

        # A − B: one view in the box, its colors neither run's
        colors_a, colors_b = (_colors(page, _canvas(page, i).screenshot()) for i in range(2))
        box.locator("select").first.select_option(label="color: A − B")
        _wait_views(page, 1, "data-epoch", "2")
        assert box.locator(".widget-label", has_text="lr 1.0 − lr 0.01").count() == 1
        box.screenshot(path=str(ARTIFACTS / "lab_compare_difference.png"))
        colors_d = _colors(page, _canvas(page, 0).screenshot())
        report["difference_vs"] = {
            "a": _color_distance(colors_d, colors_a),
            "b": _color_distance(colors_d, colors_b),
            "a_vs_b": _color_distance(colors_a, colors_b),
        }
        assert report["difference_vs"]["a"] > 0.2 and report["difference_vs"]["b"] > 0.2, report
        # the A − B view scrubs with the same slider (no kernel): init, same start, is neutral
        frames = _frames(page)
        box.locator(".widget-slider .noUi-handle").first.focus()
        page.keyboard.press("Home")
        _wait_views(page, 1, "data-epoch", "-1")
        _wait_new_frames(page, frames)
        box.screenshot(path=str(ARTIFACTS / "lab_compare_difference_init.png"))
        colors_d0 = _colors(page, _canvas(page, 0).screenshot())
        report["difference_init_vs_2"] = _color_distance(colors_d0, colors_d)
        assert report["difference_init_vs_2"] > 0.1, report
        assert not page_errors, page_errors
        return report
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "lab_compare_failure.png"))
        raise
    finally:
        page.evaluate(_JS_SHUTDOWN)  # the kernel holds torch: free it now
        page.close()


def test_compare_in_lab(lab_server: LabServer, in_browser: Any) -> None:
    (ARTIFACTS / "lab_compare_failure.png").unlink(missing_ok=True)
    write_notebook(lab_server.root_dir / NOTEBOOK, CELLS)
    report = in_browser(_scenario, lab_server)
    print("compare report:", report)


SAVED = "lab_compare_saved.ipynb"


def _saved_scenario(browser: Any, server: LabServer) -> dict[str, Any]:
    report: dict[str, Any] = {}
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page_errors: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    try:
        # a workspace of its own: in the default one Lab would restore this notebook, with its
        # saved views, as a hidden tab in every later test's page (their `.nnviz-root` lookups)
        page.goto(f"{server.url}/lab/workspaces/nnviz-saved-compare/tree/{SAVED}")
        _wait_views(page, 2, "data-epoch", "2")  # from the saved state: nothing runs
        box = page.locator(BOX).first
        box.scroll_into_view_if_needed()
        box.screenshot(path=str(ARTIFACTS / "lab_compare_saved.png"))
        at2 = [_canvas(page, i).screenshot() for i in range(2)]
        report["painted"] = [pixel_stats(page, png) for png in at2]
        assert all(s["nonBackground"] > 0.01 for s in report["painted"]), report
        frames = _frames(page)
        box.locator(".widget-slider .noUi-handle").first.focus()
        page.keyboard.press("Home")
        _wait_views(page, 2, "data-epoch", "-1")
        _wait_new_frames(page, frames)
        box.screenshot(path=str(ARTIFACTS / "lab_compare_saved_init.png"))
        report["scrub"] = [
            pixel_stats(page, png, _canvas(page, i).screenshot())["differing"]
            for i, png in enumerate(at2)
        ]
        assert all(d > 0.001 for d in report["scrub"]), report
        box.locator(".widget-toggle-button", has_text="2D").first.click()  # a jslink too
        _wait_views(page, 2, "data-mode", "2d")
        page.wait_for_function(_JS_KERNEL_IDLE, timeout=60_000, polling=250)
        report["kernel_widget_comms"] = page.evaluate(_JS_KERNEL_COMMS)
        assert report["kernel_widget_comms"] == 0, report
        assert not page_errors, page_errors
        return report
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "lab_compare_failure.png"))
        raise
    finally:
        page.evaluate(_JS_SHUTDOWN)
        page.close()


def test_saved_compare_scrubs_without_kernel(lab_server: LabServer, in_browser: Any) -> None:
    (ARTIFACTS / "lab_compare_failure.png").unlink(missing_ok=True)
    path = lab_server.root_dir / SAVED
    write_notebook(path, CELLS)
    nbformat.write(_execute(nbformat.read(str(path), as_version=4), lab_server.root_dir), path)
    trust_notebook(lab_server, path)
    report = in_browser(_saved_scenario, lab_server)
    print("saved compare report:", report)
