"""Light and dark: the exported page follows ``prefers-color-scheme`` (emulated by Playwright).

Dark: the widget's background is dark, its text light, the 3D and 2D canvases are painted on a
dark background and show the network on it; switching the scheme back re-themes the live view
without rendering it again. Screenshots in test-artifacts/theme-*.png (look at them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import nnviz_widget as nnv
from tests.browser.test_export_page import run_of, standalone_bundle
from tests.fakes import patch_adapt

pytestmark = pytest.mark.browser

__all__ = ["standalone_bundle"]  # the fixture, shared with test_export_page.py

# The root's computed colors as luminance (0 black .. 1 white) and the canvas: the corner pixel
# (the background) and how many pixels differ clearly from it (the drawing).
LOOK = """
() => {
  const lum = (css) => {
    const m = css.match(/[\\d.]+/g).map(Number);
    const lin = (v) => {
      v /= 255;
      return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * lin(m[0]) + 0.7152 * lin(m[1]) + 0.0722 * lin(m[2]);
  };
  const root = document.querySelector('.nnviz-root');
  const cs = getComputedStyle(root);
  const c = root.querySelector('canvas.nnviz-canvas, canvas.nnviz-view2d-canvas');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const bg = [d[0], d[1], d[2]];
  let drawn = 0;
  for (let k = 0; k < d.length; k += 4) {
    const diff = Math.abs(d[k] - bg[0]) + Math.abs(d[k + 1] - bg[1]) + Math.abs(d[k + 2] - bg[2]);
    if (diff > 60) drawn++;
  }
  const chart = root.querySelector('.nnviz-chart');
  return {
    theme: root.dataset.theme, bg: lum(cs.backgroundColor), fg: lum(cs.color),
    chartBg: lum(getComputedStyle(chart).backgroundColor),
    canvasBg: lum(`rgb(${bg.join(',')})`), drawn: drawn / (d.length / 4), frame: root.dataset.frame,
  };
}
"""


@pytest.fixture
def exported(standalone_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    patch_adapt(monkeypatch)
    viz = nnv.NNViz(run_of())
    return viz.to_html(tmp_path / "run.html", title="themed run")


def look(page: Any) -> dict[str, Any]:
    return page.evaluate(LOOK)


def assert_dark(v: dict[str, Any]) -> None:
    assert v["theme"] == "dark", v
    assert v["bg"] < 0.05 and v["chartBg"] < 0.05, v  # dark panels
    assert v["fg"] > 0.6, v  # light text
    assert v["canvasBg"] < 0.05, v  # the canvas is painted dark
    assert v["drawn"] > 0.01, v  # and shows the network on it


def assert_light(v: dict[str, Any]) -> None:
    assert v["theme"] == "light", v
    assert v["bg"] > 0.9 and v["chartBg"] > 0.9 and v["fg"] < 0.1 and v["canvasBg"] > 0.9, v
    assert v["drawn"] > 0.01, v


def test_exported_page_follows_the_color_scheme(page: Any, exported: Path, artifacts: Path) -> None:
    page.emulate_media(color_scheme="dark")
    page.goto(exported.as_uri())
    page.wait_for_selector(".nnviz-root[data-ready='1']", timeout=30000)
    assert_dark(look(page))
    page_bg = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert page_bg == "rgb(20, 22, 26)"
    page.select_option(".nnviz-page-layer", "fc1")
    page.wait_for_function("() => document.querySelector('.nnviz-root').dataset.layer === 'fc1'")
    page.wait_for_timeout(200)
    page.screenshot(path=str(artifacts / "theme-dark-3d.png"), full_page=True)

    # 2D, dark
    page.click(".nnviz-page-mode button[data-mode='2d']")
    page.wait_for_selector(".nnviz-root[data-mode='2d'] .nnviz-view2d")
    page.wait_for_timeout(300)
    assert_dark(look(page))
    page.screenshot(path=str(artifacts / "theme-dark-2d.png"), full_page=True)

    # the scheme changes while the page is open: the same view re-themes (no new render)
    page.evaluate("() => { document.querySelector('.nnviz-root').__kept = 1; }")
    page.emulate_media(color_scheme="light")
    page.wait_for_function("() => document.querySelector('.nnviz-root').dataset.theme === 'light'")
    page.wait_for_timeout(300)
    assert page.evaluate("() => document.querySelector('.nnviz-root').__kept") == 1
    assert_light(look(page))
    page.screenshot(path=str(artifacts / "theme-light-2d.png"), full_page=True)

    # and back to dark in 3D: the scene's background follows too
    page.click(".nnviz-page-mode button[data-mode='3d']")
    page.emulate_media(color_scheme="dark")
    page.wait_for_function("() => document.querySelector('.nnviz-root').dataset.theme === 'dark'")
    page.wait_for_timeout(400)
    assert_dark(look(page))
    assert page.nnviz_errors == []


def test_exported_page_stays_light_by_default(page: Any, exported: Path) -> None:
    page.emulate_media(color_scheme="light")
    page.goto(exported.as_uri())
    page.wait_for_selector(".nnviz-root[data-ready='1']", timeout=30000)
    assert_light(look(page))
    assert page.nnviz_errors == []
