"""The exported page (``viz.to_html``) from file:// in headless Chromium with the network off.

Every request that is not a file:// URL is aborted and counted: the page must make none. The
view renders, the epoch slider scrubs, play advances the epoch, the layer select and the 2D /
color controls drive the view. For comparison, ipywidgets' ``embed_minimal_html`` page of the
same widget loads require.js and the widget manager from CDNs, so offline it stays blank.
Screenshots go to test-artifacts/ (look at them).
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nnviz_widget as nnv
from nnviz_widget.controls import CHOICES
from nnviz_widget.graph import Graph
from nnviz_widget.recorder import Recorder
from tests.fakes import FakeModel, patch_adapt

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
STANDALONE = REPO / "nnviz_widget" / "static" / "standalone.js"

# Pixel statistics of the view's visible canvas (3D: .nnviz-canvas, 2D: .nnviz-view2d-canvas).
CANVAS_STATS = """
() => {
  const c = document.querySelector(
    '.nnviz-root canvas.nnviz-canvas, .nnviz-root canvas.nnviz-view2d-canvas');
  const g = c.getContext('2d');
  const d = g.getImageData(0, 0, c.width, c.height).data;
  let n = 0, s = 0, s2 = 0, hash = 0;
  for (let k = 0; k < d.length; k += 4) {
    const v = (d[k] + d[k + 1] + d[k + 2]) / 3;
    n++; s += v; s2 += v * v;
    hash = (hash * 31 + d[k] * 7 + d[k + 1] * 3 + d[k + 2]) % 1000000007;
  }
  const mean = s / n;
  return { w: c.width, h: c.height, variance: s2 / n - mean * mean, hash };
}
"""


@pytest.fixture(scope="session")
def standalone_bundle(widget_bundle: Path) -> Path:
    if not STANDALONE.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: cannot build the standalone bundle")
        subprocess.run([npm, "run", "build"], cwd=REPO / "js", check=True)
    assert STANDALONE.exists()
    return STANDALONE


class Offline:
    """Routes every request: file:// goes through, anything else is aborted and counted."""

    def __init__(self, page: Any) -> None:
        self.blocked: list[str] = []
        page.route("**/*", self._route)

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith("file://"):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()


def run_of(epochs: int = 5, sizes: tuple[int, ...] = (24, 16, 6)) -> Recorder:
    m = FakeModel(sizes)
    rec = Recorder(m)
    for e in range(epochs):
        m.step(lr=0.3, seed=e)
        rec.record(e, loss=1.0 / (e + 1), accuracy=0.5 + 0.1 * e)
    return rec


@pytest.fixture
def exported(
    standalone_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    patch_adapt(monkeypatch)
    viz = nnv.NNViz(run_of())
    yield viz.to_html(tmp_path / "run.html", title="exported run")


def data(page: Any) -> dict[str, str]:
    return page.evaluate("() => ({...document.querySelector('.nnviz-root').dataset})")


def wait_frame_after(page: Any, frame: str) -> None:
    page.wait_for_function(
        "f => document.querySelector('.nnviz-root').dataset.frame !== f", arg=frame
    )


def test_exported_page_works_offline(page: Any, exported: Path, artifacts: Path) -> None:
    net = Offline(page)
    page.goto(exported.as_uri())
    page.wait_for_selector(".nnviz-root[data-ready='1']", timeout=30000)
    d = data(page)
    assert d["epoch"] == "4" and d["mode"] == "3d" and d["layers"] == "5"
    stats = page.evaluate(CANVAS_STATS)
    assert stats["w"] > 300 and stats["h"] > 200
    assert stats["variance"] > 100, stats  # not blank
    assert page.inner_text(".nnviz-page-epoch") == "epoch 4"
    page.screenshot(path=str(artifacts / "export-page.png"), full_page=True)

    # the slider scrubs (keyboard, as a user would): back to init, the picture changes
    before = page.evaluate(CANVAS_STATS)
    frame = d["frame"]
    page.focus(".nnviz-page-slider")
    page.keyboard.press("Home")
    wait_frame_after(page, frame)
    assert data(page)["epoch"] == "-1"
    assert page.inner_text(".nnviz-page-epoch") == "init"
    assert page.evaluate(CANVAS_STATS)["hash"] != before["hash"]
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('.nnviz-root').dataset.epoch === '1'")
    page.screenshot(path=str(artifacts / "export-page-epoch1.png"), full_page=True)

    # play advances the epoch to the end, then stops
    page.click(".nnviz-page-play")
    assert page.get_attribute(".nnviz-page-play", "aria-pressed") == "true"
    page.wait_for_function("() => document.querySelector('.nnviz-root').dataset.epoch === '2'")
    page.wait_for_function(
        "() => document.querySelector('.nnviz-root').dataset.epoch === '4'", timeout=10000
    )
    page.wait_for_function(
        "() => document.querySelector('.nnviz-page-play').getAttribute('aria-pressed') === 'false'"
    )
    assert page.input_value(".nnviz-page-slider") == "4"

    # the layer select drives the view; a click in the view drives the select
    page.select_option(".nnviz-page-layer", "fc1")
    page.wait_for_function("() => document.querySelector('.nnviz-root').dataset.layer === 'fc1'")
    page.screenshot(path=str(artifacts / "export-page-fc1.png"), full_page=True)
    page.evaluate("() => nnvizPage.model.set('layer', 'fc2')")
    assert page.input_value(".nnviz-page-layer") == "fc2"
    page.select_option(".nnviz-page-layer", "")
    page.wait_for_function("() => document.querySelector('.nnviz-root').dataset.layer === ''")

    # 2D and the color mode
    page.click(".nnviz-page-mode button[data-mode='2d']")
    page.wait_for_selector(".nnviz-root[data-mode='2d'] .nnviz-view2d")
    page.select_option(".nnviz-page-color", "delta")
    page.wait_for_function(
        "() => document.querySelector('.nnviz-root').dataset.colorBy === 'delta'"
    )
    assert page.is_visible(".nnviz-page-delta")
    # the page's controls carry Python's words for each choice (controls.CHOICES)
    words = page.eval_on_selector_all(
        ".nnviz-page-color option", "os => os.map(o => o.textContent)"
    )
    assert words == list(CHOICES["color_by"].labels), words
    page.wait_for_timeout(300)
    assert page.evaluate(CANVAS_STATS)["variance"] > 50
    page.screenshot(path=str(artifacts / "export-page-2d-delta.png"), full_page=True)

    assert net.blocked == [], net.blocked
    assert page.nnviz_errors == []


def test_exported_page_of_a_loaded_run(
    page: Any,
    standalone_bundle: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    artifacts: Path,
) -> None:
    """save -> load (no model) -> to_html: the same page."""
    patch_adapt(monkeypatch)
    run_of(epochs=3, sizes=(784, 64, 10)).save(tmp_path / "r.nnviz")
    monkeypatch.undo()
    viz = nnv.load(tmp_path / "r.nnviz")
    path = viz.to_html(tmp_path / "r.html")
    net = Offline(page)
    page.goto(path.as_uri())
    page.wait_for_selector(".nnviz-root[data-ready='1']", timeout=30000)
    assert data(page)["connectionsTotal"] == str(784 * 64 + 64 * 10)
    assert page.evaluate(CANVAS_STATS)["variance"] > 100
    page.screenshot(path=str(artifacts / "export-loaded-mlp.png"), full_page=True)
    assert net.blocked == []
    assert page.nnviz_errors == []


def _renamed(rec: Recorder, names: dict[str, str]) -> Recorder:
    g = rec.graph.to_dict()
    for layer in g["layers"]:
        layer["name"] = names.get(layer["name"], layer["name"])
    g["edges"] = [[names.get(a, a), names.get(b, b)] for a, b in g["edges"]]
    graph = Graph.from_dict(g)

    def keys(d: dict[str, Any]) -> dict[str, Any]:
        return {names.get(k, k): v for k, v in d.items()}

    rec.flush()
    for s in rec.snapshots:
        for group in ("weights", "grads", "stats", "hists", "acts", "act_info", "health", "fields"):
            setattr(s, group, keys(getattr(s, group)))
    samples = {(names.get(k[0], k[0]), k[1]): v for k, v in rec.sampled.items()}
    return Recorder.from_snapshots(graph, rec.snapshots, samples, {"max_bytes": rec.max_bytes})


def test_hostile_names_stay_text(
    page: Any,
    standalone_bundle: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    artifacts: Path,
) -> None:
    patch_adapt(monkeypatch)
    evil = "</script><img src=x onerror=alert(1)>"
    rec = _renamed(run_of(epochs=2), {"fc1": evil, "fc2": "<b>bold</b> & 'q'"})
    path = nnv.to_html(rec, tmp_path / "evil.html", title="<i>title</i>")
    net = Offline(page)
    page.goto(path.as_uri())
    page.wait_for_selector(".nnviz-root[data-ready='1']", timeout=30000)
    options = page.eval_on_selector_all(
        ".nnviz-page-layer option", "os => os.map(o => o.textContent)"
    )
    assert evil in options and "<b>bold</b> & 'q'" in options
    page.select_option(".nnviz-page-layer", evil)
    page.wait_for_function(
        "n => document.querySelector('.nnviz-root').dataset.layer === n", arg=evil
    )
    assert page.title() == "<i>title</i>"
    assert page.evaluate("() => document.images.length") == 0
    assert page.query_selector("b") is None and page.query_selector("i") is None
    page.screenshot(path=str(artifacts / "export-hostile.png"), full_page=True)
    assert page.nnviz_dialogs == []
    assert net.blocked == []  # the <img src=x> never became a request


def test_embed_minimal_html_is_blank_offline(
    page: Any,
    widget_bundle: Path,
    exported: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    artifacts: Path,
) -> None:
    """The baseline: ipywidgets' embed page of the same widget needs CDNs."""
    from ipywidgets.embed import dependency_state, embed_minimal_html

    viz = nnv.NNViz(run_of())
    embed = tmp_path / "embed.html"
    views = [viz.controls()]
    # only this widget's models (without `state`, every widget of the process is embedded)
    state = dependency_state(views, drop_defaults=False)
    embed_minimal_html(str(embed), views=views, state=state, drop_defaults=False, title="embed")
    net = Offline(page)
    page.goto(embed.as_uri())
    page.wait_for_timeout(1500)
    assert any("require" in u for u in net.blocked), net.blocked
    assert any("html-manager" in u for u in net.blocked), net.blocked
    assert page.query_selector(".nnviz-root") is None  # nothing rendered
    page.screenshot(path=str(artifacts / "embed-minimal-offline.png"), full_page=True)
    sizes = {"embed_minimal_html": embed.stat().st_size, "to_html": exported.stat().st_size}
    print("page sizes (bytes):", sizes)


PNG_PAGE = """<!DOCTYPE html><html><body>
<canvas id="hidden" width="0" height="0"></canvas>
<canvas id="shown" width="60" height="40"></canvas>
<script>
const g = document.getElementById('shown').getContext('2d');
g.fillStyle = '#c33'; g.fillRect(5, 5, 30, 20);
window.makeModel = () => {
  const handlers = new Map();
  const m = {
    sent: [],
    on(ev, cb) { if (!handlers.has(ev)) handlers.set(ev, new Set()); handlers.get(ev).add(cb); },
    off(ev, cb) { handlers.get(ev)?.delete(cb); },
    send(c) { m.sent.push(c); },
    emit(ev, ...a) { for (const cb of [...(handlers.get(ev) || [])]) cb(...a); },
    count() { let n = 0; for (const s of handlers.values()) n += s.size; return n; },
  };
  return m;
};
</script>
<script src="png.js"></script>
</body></html>"""


@pytest.fixture(scope="session")
def png_module(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """js/src/shell/png.ts bundled alone (an IIFE exposing window.nnvizPng) next to a test page."""
    esbuild = REPO / "js" / "node_modules" / ".bin" / "esbuild"
    if not esbuild.exists():
        pytest.skip("js/node_modules is not installed")
    out = tmp_path_factory.mktemp("png")
    subprocess.run(
        [
            str(esbuild),
            str(REPO / "js" / "src" / "shell" / "png.ts"),
            "--bundle",
            "--format=iife",
            "--global-name=nnvizPng",
            f"--outfile={out / 'png.js'}",
            "--log-level=warning",
        ],
        check=True,
    )
    (out / "index.html").write_text(PNG_PAGE)
    return out / "index.html"


def test_png_handler_answers_once_per_model(page: Any, png_module: Path) -> None:
    net = Offline(page)
    page.goto(png_module.as_uri())
    result = page.evaluate(
        """async () => {
            const wait = (ms) => new Promise(r => setTimeout(r, ms));
            const hidden = document.getElementById('hidden');
            const shown = document.getElementById('shown');
            const m = makeModel();
            const offA = nnvizPng.installPngHandler(m, () => hidden);  // a hidden view
            const offB = nnvizPng.installPngHandler(m, () => shown);   // a visible one
            m.emit('msg:custom', {type: 'png', id: 'r1'}, []);
            m.emit('msg:custom', {type: 'other'}, []);
            await wait(250);
            const both = m.sent.slice();
            offA(); offB();
            const left = m.count();
            m.emit('msg:custom', {type: 'png', id: 'r2'}, []);
            await wait(150);
            const afterCleanup = m.sent.length;
            const h = makeModel();  // a model whose only view is hidden: an error, once
            nnvizPng.installPngHandler(h, () => hidden);
            nnvizPng.installPngHandler(h, () => null);
            h.emit('msg:custom', {type: 'png', id: 'r3'}, []);
            await wait(250);
            return {both, left, afterCleanup, hiddenOnly: h.sent};
        }"""
    )
    assert len(result["both"]) == 1, result["both"]
    reply = result["both"][0]
    assert reply["type"] == "png" and reply["id"] == "r1"
    assert reply["data"].startswith("data:image/png;base64,")
    assert (reply["width"], reply["height"]) == (60, 40)
    png = base64.b64decode(reply["data"].split(",", 1)[1])
    assert png.startswith(b"\x89PNG")
    assert result["left"] == 0 and result["afterCleanup"] == 1
    assert len(result["hiddenOnly"]) == 1
    assert (
        result["hiddenOnly"][0]["id"] == "r3" and "not visible" in result["hiddenOnly"][0]["error"]
    )
    assert net.blocked == [] and page.nnviz_errors == []


def test_png_carries_the_labels(page: Any, png_module: Path, artifacts: Path) -> None:
    """Labels are HTML over the canvas; the PNG has them drawn in, where the page shows them."""
    page.goto(png_module.as_uri())
    result = page.evaluate(
        """async () => {
            const box = document.createElement('div');
            box.style.cssText = 'position: relative; width: 160px; height: 80px';
            const c = document.createElement('canvas');
            c.width = 320; c.height = 160;  // a 2x device pixel ratio
            c.style.cssText = 'width: 160px; height: 80px; display: block';
            const g = c.getContext('2d'); g.fillStyle = '#fff'; g.fillRect(0, 0, 320, 160);
            const layer = document.createElement('div');
            layer.style.cssText = 'position: absolute; inset: 0';
            const lab = document.createElement('div');
            lab.className = 'nnviz-label';
            lab.style.cssText =
                'position: absolute; left: 90px; top: 40px; font: 14px sans-serif; color: #000';
            const name = document.createElement('span');
            name.className = 'nnviz-label-name'; name.textContent = 'fc1';
            lab.appendChild(name); layer.appendChild(lab);
            box.append(c, layer); document.body.appendChild(box);
            const pixels = async (url) => {
                const img = new Image(); img.src = url; await img.decode();
                const k = document.createElement('canvas'); k.width = 320; k.height = 160;
                const kg = k.getContext('2d'); kg.drawImage(img, 0, 0);
                return kg.getImageData(0, 0, 320, 160).data;
            };
            const withLab = nnvizPng.pngReply('a', c).data;
            layer.remove();
            const without = nnvizPng.pngReply('b', c).data;
            const a = await pixels(withLab), b = await pixels(without);
            let inside = 0, outside = 0;
            for (let y = 0; y < 160; y++) for (let x = 0; x < 320; x++) {
                const i = 4 * (y * 320 + x);
                const dark = a[i] < 128 && b[i] > 200;
                const inLabel = x >= 180 && x < 260 && y >= 80 && y < 120;
                if (dark && inLabel) inside++; else if (!inLabel && a[i] !== b[i]) outside++;
            }
            return {inside, outside, withLab};
        }"""
    )
    (artifacts / "png-with-labels.png").write_bytes(
        base64.b64decode(result["withLab"].split(",", 1)[1])
    )
    assert result["inside"] > 30, result["inside"]  # the text's dark pixels, where the label is
    assert result["outside"] == 0
    assert page.nnviz_errors == []
