"""The real thing: JupyterLab + headless Chromium. A notebook builds the seed MLP, shows
`viz = nnv.NNViz(model, inputs=x)` and trains 5 epochs recording each; the test runs it with
Run All, waits for the first painted frame, checks the view is not blank, follows the epoch
live to 4, picks a layer in the controls' selector, moves the epoch slider and sees the view
change, then presses play and sees the epoch run to the end. Screenshots go to
test-artifacts/lab_*.png."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .conftest import ARTIFACTS, LabServer
from .labtools import (
    cell_errors,
    open_notebook,
    pixel_stats,
    run_all,
    wait_all_executed,
    write_notebook,
)

pytestmark = [pytest.mark.lab, pytest.mark.browser, pytest.mark.torch]

NOTEBOOK = "lab_quickstart.ipynb"
EPOCHS = 5
CELLS = [
    # 1: the seed MLP and its widget
    "import time\n"
    "import torch\n"
    "from torch import nn\n"
    "import nnviz_widget as nnv\n"
    "\n"
    "torch.manual_seed(0)\n"
    "\n"
    "class MLP(nn.Module):\n"
    "    def __init__(self):\n"
    "        super().__init__()\n"
    "        self.fc1 = nn.Linear(784, 128)\n"
    "        self.relu = nn.ReLU()\n"
    "        self.fc2 = nn.Linear(128, 10)\n"
    "\n"
    "    def forward(self, x):\n"
    "        return self.fc2(self.relu(self.fc1(x.flatten(1))))\n"
    "\n"
    "model = MLP()\n"
    "x = torch.randn(64, 1, 28, 28)\n"
    "y = torch.randint(0, 10, (64,))\n"
    "viz = nnv.NNViz(model, inputs=x[:8])\n"
    "viz",
    # 2: five epochs, recorded; a pause per epoch so the view is seen to follow live.
    # A large learning rate and fresh random labels each epoch keep the weights moving.
    "opt = torch.optim.SGD(model.parameters(), lr=0.5)\n"
    "loss_fn = nn.CrossEntropyLoss()\n"
    f"for epoch in range({EPOCHS}):\n"
    "    y = torch.randint(0, 10, (64,))\n"
    "    for _ in range(5):\n"
    "        opt.zero_grad()\n"
    "        loss = loss_fn(model(x), y)\n"
    "        loss.backward()\n"
    "        opt.step()\n"
    "    with torch.no_grad():\n"
    "        acc = (model(x).argmax(1) == y).float().mean().item()\n"
    "    viz.record(epoch, loss=loss.item(), val_loss=loss.item() * 1.1, accuracy=acc)\n"
    "    time.sleep(1.0)\n"
    "print('trained', viz.history.epochs)",
]

ROOT = ".jp-OutputArea-output .nnviz-root"
CONTROLS = ".jp-OutputArea-output .nnviz-controls"

# Log every data-epoch value any .nnviz-root takes, from before Run All on.
_JS_WATCH_EPOCHS = """() => {
  window.__nnvizEpochs = [];
  const seen = window.__nnvizEpochs;
  const note = (el) => {
    const e = el.getAttribute('data-epoch');
    if (e !== null && seen[seen.length - 1] !== e) seen.push(e);
  };
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === 'attributes' && r.target.classList.contains('nnviz-root')) note(r.target);
      for (const n of r.addedNodes || []) {
        if (n.nodeType !== 1) continue;
        if (n.classList.contains('nnviz-root')) note(n);
        n.querySelectorAll('.nnviz-root').forEach(note);
      }
    }
  }).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ['data-epoch'],
  });
}"""


def _attr(page: Any, name: str) -> str | None:
    value = page.locator(ROOT).first.get_attribute(name)
    return None if value is None else str(value)


def _wait_attr(page: Any, name: str, value: str, timeout_ms: int = 20_000) -> None:
    page.wait_for_function(
        """([sel, name, value]) => {
          const el = document.querySelector(sel);
          return !!el && el.getAttribute(name) === value;
        }""",
        arg=[ROOT, name, value],
        timeout=timeout_ms,
    )


def _wait_next_frame(page: Any, frame_before: str | None, timeout_ms: int = 10_000) -> None:
    """Wait until the view painted a frame after `frame_before` (its data-frame counter)."""
    page.wait_for_function(
        """([sel, before]) => {
          const el = document.querySelector(sel);
          return !!el && el.getAttribute('data-frame') !== before;
        }""",
        arg=[ROOT, frame_before],
        timeout=timeout_ms,
    )
    page.wait_for_timeout(200)  # let the compositor present it before a screenshot


def _wait_ready(page: Any, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if page.locator(f'{ROOT}[data-ready="1"]').count():
            return
        errors = cell_errors(page)
        if errors:
            pytest.fail("a cell failed:\n" + "\n".join(errors)[-3000:], pytrace=False)
        page.wait_for_timeout(250)
    states = page.evaluate(
        "(sel) => [...document.querySelectorAll(sel)].map((el) => ({...el.dataset}))", ROOT
    )
    pytest.fail(f"no .nnviz-root painted a frame in {timeout_s}s; roots: {states}")


def _main_canvas(page: Any) -> Any:
    """The largest <canvas> in the view (the 3D / 2D drawing, not the chart)."""
    canvases = page.locator(f"{ROOT} canvas")
    best, best_area = None, 0.0
    for i in range(canvases.count()):
        box = canvases.nth(i).bounding_box()
        if box and box["width"] * box["height"] > best_area:
            best, best_area = canvases.nth(i), box["width"] * box["height"]
    assert best is not None, "no <canvas> in the view"
    return best


def _scenario(browser: Any, server: LabServer) -> dict[str, Any]:
    report: dict[str, Any] = {}
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page_errors: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    try:
        open_notebook(page, server, NOTEBOOK)
        page.evaluate(_JS_WATCH_EPOCHS)
        report["command"] = run_all(page)

        # first painted frame (or a cell's error, reported at once)
        _wait_ready(page)
        wait_all_executed(page)
        assert cell_errors(page) == [], cell_errors(page)

        # the epoch followed the training live, up to 4, and so did the slider
        _wait_attr(page, "data-epoch", str(EPOCHS - 1))
        readout = page.locator(f"{CONTROLS} .widget-slider .widget-readout").first
        page.wait_for_function(
            "([el, v]) => el.textContent.trim() === v",
            arg=[readout.element_handle(), str(EPOCHS - 1)],
            timeout=10_000,
        )
        seen = page.evaluate("() => window.__nnvizEpochs")
        report["epochs_seen"] = seen
        assert seen[-1] == str(EPOCHS - 1), seen
        assert len(set(seen)) >= 2, f"the view did not follow training live: {seen}"
        assert [int(e) for e in seen] == sorted(int(e) for e in seen), seen

        # not blank
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / "lab_page.png"))
        # the ipywidgets controls stand around the view: it draws none of its own (as in marimo)
        assert page.locator(".nnviz-own-controls").count() == 0
        controls = page.locator(CONTROLS).first
        controls.screenshot(path=str(ARTIFACTS / "lab_trained.png"))
        canvas_png = _main_canvas(page).screenshot()
        stats = pixel_stats(page, canvas_png)
        report["trained_canvas"] = stats
        assert stats["width"] > 100 and stats["height"] > 100, stats
        assert stats["nonBackground"] > 0.01 and stats["colors"] >= 8, f"blank canvas: {stats}"

        # the layer selector (an ipywidgets Dropdown, jslinked to the view)
        select = page.locator(f"{CONTROLS} select").filter(
            has=page.locator("option", has_text="fc1")
        )
        option = select.first.locator("option", has_text="fc1").first.inner_text().strip()
        layer_before = _attr(page, "data-layer")
        select.first.select_option(label=option)
        _wait_attr(page, "data-layer", "fc1")
        page.wait_for_timeout(1000)  # the selection sticks (no echo from the kernel undoes it)
        controls.screenshot(path=str(ARTIFACTS / "lab_layer_fc1.png"))
        report["layer"] = (layer_before, _attr(page, "data-layer"), select.first.input_value())
        assert report["layer"][1:] == ("fc1", option), f"the selection did not stick: {report}"

        # move the epoch slider to its start (the init snapshot, before training): the view
        # scrubs in the browser
        root_before = page.locator(ROOT).first.screenshot()
        canvas_before = _main_canvas(page).screenshot()
        frame = _attr(page, "data-frame")
        handle = page.locator(f"{CONTROLS} .widget-slider .noUi-handle").first
        handle.focus()
        page.keyboard.press("ArrowLeft")
        _wait_attr(page, "data-epoch", str(EPOCHS - 2))
        page.keyboard.press("Home")
        page.wait_for_function(
            "([sel, last]) => document.querySelector(sel).getAttribute('data-epoch') !== last",
            arg=[ROOT, str(EPOCHS - 2)],
            timeout=10_000,
        )
        page.wait_for_timeout(300)
        shown = readout.inner_text().strip().replace("\u2212", "-")  # the readout's minus sign
        report["scrubbed_to"] = (_attr(page, "data-epoch"), shown)
        assert report["scrubbed_to"][0] == report["scrubbed_to"][1], report
        assert int(report["scrubbed_to"][0]) < EPOCHS - 2, report
        _wait_next_frame(page, frame)
        controls.screenshot(path=str(ARTIFACTS / "lab_scrubbed.png"))
        root_after = page.locator(ROOT).first.screenshot()
        canvas_after = _main_canvas(page).screenshot()
        root_diff = pixel_stats(page, root_before, root_after)["differing"]
        canvas_diff = pixel_stats(page, canvas_before, canvas_after)["differing"]
        report["scrub_diff"] = {"view": root_diff, "canvas": canvas_diff}
        assert root_diff > 0, "moving the slider changed no pixel of the view"
        assert canvas_diff > 0, "moving the slider did not redraw the network"

        # press play: the epoch advances on its own, in the browser, to the last epoch
        start = int(report["scrubbed_to"][0])
        page.locator(f"{CONTROLS} .widget-play button").first.click()
        page.wait_for_function(
            "([sel, last]) => document.querySelector(sel).getAttribute('data-epoch') === last",
            arg=[ROOT, str(EPOCHS - 1)],
            timeout=30_000,
        )
        seen = page.evaluate("() => window.__nnvizEpochs")
        report["played"] = seen[-(EPOCHS - 1 - start) :]
        assert [int(e) for e in report["played"]] == list(range(start + 1, EPOCHS)), seen
        assert not page_errors, page_errors
        return report
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "lab_failure.png"))
        raise
    finally:
        page.close()


def test_quickstart_in_lab(lab_server: LabServer, in_browser: Any) -> None:
    (ARTIFACTS / "lab_failure.png").unlink(missing_ok=True)  # from an earlier failed run
    write_notebook(lab_server.root_dir / NOTEBOOK, CELLS)
    report = in_browser(_scenario, lab_server)
    print("lab report:", report)
