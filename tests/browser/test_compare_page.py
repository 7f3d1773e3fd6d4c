"""The exported comparison page (``cmp.to_html``) from file:// with the network off: both views
render, the page's one slider scrubs both, "link views" links their cameras, the A − B view is
on the page once the comparison showed it. No request leaves file://, none fails.
Screenshots: test-artifacts/compare-page*.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import nnviz_widget as nnv
from nnviz_widget.recorder import Recorder
from tests.browser.test_export_page import CANVAS_STATS, Offline, standalone_bundle
from tests.fakes import FakeModel, patch_adapt

__all__ = ["standalone_bundle"]  # the session fixture, shared with test_export_page


def _run(epochs: int, lr: float) -> nnv.NNViz:
    m = FakeModel((24, 16, 6))
    rec = Recorder(m)
    for e in range(epochs):
        m.step(lr=lr, seed=e)
        rec.record(e, loss=1.0 / (e + 1))
    return nnv.NNViz(rec)


pytestmark = pytest.mark.browser


def _frames(page: Any, n: int) -> list[Any]:
    """The page's view frames, once each view painted."""
    page.wait_for_function(
        """n => {
          const fs = [...document.querySelectorAll('iframe.nnviz-compare-frame')];
          return fs.length === n && fs.every((f) => {
            const r = f.contentDocument && f.contentDocument.querySelector('.nnviz-root');
            return r && r.dataset.ready === '1' && f.contentWindow.nnvizPage;
          });
        }""",
        arg=n,
        timeout=30_000,
    )
    frames = [f for f in page.frames if f != page.main_frame]
    assert len(frames) == n
    return frames


def _epoch(frame: Any) -> str:
    return str(frame.evaluate("() => document.querySelector('.nnviz-root').dataset.epoch"))


def _wait_epoch(frame: Any, epoch: str) -> None:
    frame.wait_for_function(
        "e => document.querySelector('.nnviz-root').dataset.epoch === e", arg=epoch
    )
    frame.wait_for_timeout(300)  # the frame for it painted


def test_comparison_page_works_offline(
    page: Any,
    standalone_bundle: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    artifacts: Path,
) -> None:
    patch_adapt(monkeypatch)
    cmp = nnv.compare(_run(3, 0.3), _run(5, 0.05), names=("short", "long"))
    cmp.color_by = "difference"
    out = cmp.to_html(tmp_path / "cmp.html")
    net = Offline(page)
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto(out.as_uri())
    a, b, d = _frames(page, 3)
    for f in (a, b, d):
        stats = f.evaluate(CANVAS_STATS)
        assert stats["w"] > 200 and stats["variance"] > 100, stats  # not blank
    assert [_epoch(f) for f in (a, b, d)] == ["2", "4", "2"]  # each run's last
    page.screenshot(path=str(artifacts / "compare-page.png"), full_page=True)

    # the page's one slider scrubs every view: back to init, each picture changes
    before = [f.evaluate(CANVAS_STATS)["hash"] for f in (a, b, d)]
    page.focus("#nnviz-compare-epoch")
    page.keyboard.press("Home")
    for f in (a, b, d):
        _wait_epoch(f, "-1")
    after = [f.evaluate(CANVAS_STATS)["hash"] for f in (a, b, d)]
    assert all(x != y for x, y in zip(before, after, strict=True)), (before, after)
    assert page.inner_text("#nnviz-compare-label") == "init"
    page.keyboard.press("End")
    for f in (a, b, d):
        _wait_epoch(f, "4")  # past a run's end, it shows its last epoch

    # link views: orbiting the first view's camera turns the second's
    page.check("#nnviz-compare-link")
    still = b.evaluate(CANVAS_STATS)["hash"]
    box = a.locator("canvas.nnviz-canvas").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 150, cy + 30, steps=8)
    page.mouse.up()
    b.wait_for_function("() => !!(window.nnvizPage.model.get('_camera') || {})['3d']")
    b.wait_for_timeout(400)
    assert b.evaluate(CANVAS_STATS)["hash"] != still
    page.screenshot(path=str(artifacts / "compare-page-linked.png"), full_page=True)

    assert net.blocked == [] and failed == [], (net.blocked, failed)
    assert page.nnviz_errors == []
