"""The real widget bundle on a page of fake anywidget models (js/dev/), in headless Chromium.

Fast checks of the browser side without a kernel: rendering, hover, selection, scrubbing, 2D
mode, hostile layer names, 30 views sharing one WebGL context, and cleanup. Screenshots go to
test-artifacts/ (look at them).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

ORIGIN = "http://nnviz.test"

# Counts the canvases that got a WebGL context (whatever asked for it), and those still live.
COUNT_WEBGL = """
(() => {
  const orig = HTMLCanvasElement.prototype.getContext;
  const seen = new WeakSet();
  const contexts = [];
  window.__webglCanvases = () => contexts.length;
  window.__webglLive = () => contexts.filter((c) => !c.isContextLost()).length;
  HTMLCanvasElement.prototype.getContext = function (type, ...rest) {
    const ctx = orig.call(this, type, ...rest);
    if (ctx && /webgl/.test(String(type)) && !seen.has(this)) {
      seen.add(this);
      contexts.push(ctx);
    }
    return ctx;
  };
})();
"""

# Pixel statistics of the visible canvas of the n-th view (what the user sees).
CANVAS_STATS = """
([i]) => {
  const c = document.querySelectorAll('.nnviz-root .nnviz-canvas')[i];
  const g = c.getContext('2d');
  const d = g.getImageData(0, 0, c.width, c.height).data;
  let n = 0, s = 0, s2 = 0, ink = 0, hash = 0;
  for (let k = 0; k < d.length; k += 4) {
    const v = (d[k] + d[k + 1] + d[k + 2]) / 3;
    n++; s += v; s2 += v * v;
    if (v < 235) ink++;
    hash = (hash * 31 + d[k] * 7 + d[k + 1] * 3 + d[k + 2]) % 1000000007;
  }
  const mean = s / n;
  return { w: c.width, h: c.height, mean, variance: s2 / n - mean * mean, ink: ink / n, hash };
}
"""


def _serve(dev: Path, bundle: Path) -> Any:
    def handler(route: Any) -> None:
        name = route.request.url.split("?")[0].rsplit("/", 1)[-1] or "index.html"
        path = bundle if name == "widget.js" else dev / name
        if not path.exists():
            route.fulfill(status=404, body="not found")
            return
        ctype = "text/html" if name.endswith(".html") else "text/javascript"
        route.fulfill(status=200, body=path.read_bytes(), headers={"content-type": ctype})

    return handler


@pytest.fixture()
def harness(page: Any, dev_pages: Path, widget_bundle: Path) -> Any:
    """The dev page with the real bundle loaded (no view mounted yet)."""
    page.add_init_script(COUNT_WEBGL)
    page.route(f"{ORIGIN}/**", _serve(dev_pages, widget_bundle))
    page.goto(f"{ORIGIN}/index.html")
    page.wait_for_function("window.nnvizLoaded === true")
    return page


def mount(page: Any, run: str, n: int = 1, traits: dict[str, Any] | None = None) -> None:
    """Mount n views of new models holding the synthetic run `run`; wait until all are ready."""
    page.evaluate(
        """async ([run, n, traits]) => {
            window.mounted = window.mounted || [];
            const cells = document.getElementById('cells');
            for (let i = 0; i < n; i++) {
              const st = nnvizDev.state(run);
              st.traits = { ...(st.traits || {}), ...traits };
              window.mounted.push(await nnvizDev.mount(nnvizWidget, cells, st));
            }
        }""",
        [run, n, traits or {}],
    )
    page.wait_for_function(
        "n => [...document.querySelectorAll('.nnviz-root')]"
        ".filter(r => r.dataset.ready === '1').length >= n",
        arg=len(page.query_selector_all(".nnviz-root")),
        timeout=30000,
    )


def root_data(page: Any, i: int = 0) -> dict[str, str]:
    return page.evaluate("i => ({...document.querySelectorAll('.nnviz-root')[i].dataset})", i)


def set_trait(page: Any, name: str, value: Any, i: int = 0) -> None:
    page.evaluate("([i, k, v]) => window.mounted[i].model.set(k, v)", [i, name, value])


def wait_frame_after(page: Any, frame: str, i: int = 0) -> None:
    page.wait_for_function(
        "([i, f]) => document.querySelectorAll('.nnviz-root')[i].dataset.frame !== f",
        arg=[i, frame],
    )


def canvas_stats(page: Any, i: int = 0) -> dict[str, float]:
    return page.evaluate(CANVAS_STATS, [i])


def find_hover(page: Any, i: int = 0, want: str | None = None) -> tuple[float, float, str] | None:
    """Sweep the pointer over the view's canvas until the tooltip shows; returns (x, y, title)."""
    box = page.query_selector_all(".nnviz-root .nnviz-canvas")[i].bounding_box()
    for fy in (0.5, 0.4, 0.6, 0.3, 0.7, 0.45, 0.55):
        for fx in (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8, 0.35, 0.65, 0.25, 0.75):
            x, y = box["x"] + box["width"] * fx, box["y"] + box["height"] * fy
            page.mouse.move(x, y)
            page.wait_for_timeout(40)
            tip = page.query_selector_all(".nnviz-tooltip")[i]
            if tip.is_visible():
                title = tip.query_selector(".nnviz-tooltip-title").inner_text()
                if want is None or title.startswith(want):
                    return x, y, title
    return None


def test_mlp_renders_scrubs_hovers_selects(harness: Any, artifacts: Path) -> None:
    page = harness
    mount(page, "mlp")
    data = root_data(page)
    assert data["ready"] == "1"
    assert data["mode"] == "3d"
    assert data["layers"] == "6"  # input, flatten, fc1, relu, fc2 and the adapter's "output"
    assert data["connectionsDrawn"] == "20000"
    assert data["connectionsTotal"] == "101632"
    assert data["lod"] == "neurons"
    assert data["epoch"] == "2"
    header = page.inner_text(".nnviz-header")
    assert "showing 20,000 of 101,632 connections" in header
    assert "MLP" in header
    stats = canvas_stats(page)
    assert stats["w"] > 300 and stats["h"] > 200
    assert stats["variance"] > 100, stats  # not blank
    assert 0.03 < stats["ink"] < 0.8, stats
    page.query_selector(".nnviz-root").screenshot(path=str(artifacts / "fake-mlp.png"))

    # hover: a tooltip with text
    hit = find_hover(page)
    assert hit is not None, "no tooltip anywhere over the model"
    x, y, title = hit
    assert title
    page.query_selector(".nnviz-root").screenshot(path=str(artifacts / "fake-mlp-hover.png"))

    # click selects the hovered layer (a connection selects the layer that owns its weight)
    page.mouse.click(x, y)
    page.wait_for_function("() => document.querySelector('.nnviz-root').dataset.layer !== ''")
    layer = root_data(page)["layer"]
    assert title.startswith(layer)
    model = page.evaluate(
        "() => ({layer: mounted[0].model.get('layer'), idx: mounted[0].model.get('_layer_index')})"
    )
    names = ["input", "flatten", "fc1", "relu", "fc2", "output"]
    assert model == {"layer": layer, "idx": names.index(layer) + 1}  # 0 = no layer
    page.mouse.move(5, 5)
    page.query_selector(".nnviz-root").screenshot(path=str(artifacts / "fake-mlp-selected.png"))
    # click on empty space clears
    box = page.query_selector(".nnviz-canvas").bounding_box()
    page.mouse.click(box["x"] + 6, box["y"] + box["height"] - 30)
    page.wait_for_function("() => document.querySelector('.nnviz-root').dataset.layer === ''")

    # scrubbing: the epoch changes the picture, one frame
    before = canvas_stats(page)
    frame = root_data(page)["frame"]
    set_trait(page, "epoch", -1)
    wait_frame_after(page, frame)
    assert root_data(page)["epoch"] == "-1"
    after = canvas_stats(page)
    assert after["hash"] != before["hash"]
    page.query_selector(".nnviz-root").screenshot(path=str(artifacts / "fake-mlp-init.png"))

    # color modes
    for mode in ("delta", "gradient", "activation"):
        frame = root_data(page)["frame"]
        set_trait(page, "epoch", 1)
        set_trait(page, "color_by", mode)
        wait_frame_after(page, frame)
        assert root_data(page)["colorBy"] == mode
        page.query_selector(".nnviz-root").screenshot(path=str(artifacts / f"fake-mlp-{mode}.png"))
    # activation mode: another probe sample lights other neurons
    before = canvas_stats(page)
    frame = root_data(page)["frame"]
    set_trait(page, "sample", 1)
    wait_frame_after(page, frame)
    assert canvas_stats(page)["hash"] != before["hash"]
    page.query_selector(".nnviz-root").screenshot(path=str(artifacts / "fake-mlp-activation-1.png"))
    assert page.nnviz_errors == []


def test_mirrors_and_2d_mode(harness: Any, artifacts: Path) -> None:
    page = harness
    mount(page, "mlp-sampled")
    assert root_data(page)["connectionsTotal"] == "101632"

    # the jslinked index traits and the named traits stay equal, in both directions
    # (_layer_index: 0 = no layer, i + 1 = layers[i])
    def get(name: str) -> Any:
        return page.evaluate("k => mounted[0].model.get(k)", name)

    set_trait(page, "_layer_index", 3)
    assert get("layer") == "fc1"
    assert root_data(page)["layer"] == "fc1"
    set_trait(page, "layer", "fc2")
    assert get("_layer_index") == 5
    set_trait(page, "layer", "")
    assert get("_layer_index") == 0
    set_trait(page, "_color_index", 2)
    assert get("color_by") == "gradient"
    assert root_data(page)["colorBy"] == "gradient"
    set_trait(page, "color_by", "delta")
    assert get("_color_index") == 1
    set_trait(page, "_delta_index", 1)
    assert get("delta_ref") == "init"
    set_trait(page, "delta_ref", "previous")
    assert get("_delta_index") == 0
    set_trait(page, "color_by", "weight")
    set_trait(page, "_mode_index", 1)
    assert get("mode") == "2d"
    page.wait_for_selector(".nnviz-root[data-mode='2d'] .nnviz-view2d")
    assert page.query_selector(".nnviz-scene3d") is None
    page.wait_for_timeout(300)
    page.query_selector(".nnviz-root").screenshot(path=str(artifacts / "fake-mlp-2d.png"))
    set_trait(page, "mode", "3d")
    assert get("_mode_index") == 0
    page.wait_for_selector(".nnviz-root[data-mode='3d'] .nnviz-scene3d")
    # no ping-pong: each user change wrote the mirror once
    log = page.evaluate("() => mounted[0].model.log.map(([k]) => k)")
    assert log.count("_layer_index") == 3 and log.count("layer") == 3, log
    assert page.nnviz_errors == []


def test_hostile_layer_names_are_text(harness: Any, artifacts: Path) -> None:
    page = harness
    mount(page, "xss")
    evil = "<img src=x onerror=alert(1)>"
    page.wait_for_timeout(200)
    root = page.query_selector(".nnviz-root")
    assert root.get_attribute("data-layer") == evil
    text = root.inner_text()
    assert evil in text  # shown as text (label / panel)
    assert "<b>bold</b> model" in page.inner_text(".nnviz-header")
    assert page.query_selector(".nnviz-root img") is None
    assert page.query_selector(".nnviz-root b") is None
    assert page.evaluate("() => document.images.length") == 0
    hit = find_hover(page, want=evil)
    if hit is not None:
        assert page.query_selector(".nnviz-tooltip img") is None
    root.screenshot(path=str(artifacts / "fake-xss.png"))
    assert page.nnviz_dialogs == []


def test_many_views_share_one_webgl_context(harness: Any, artifacts: Path) -> None:
    page = harness
    mount(page, "small", n=30)
    ready = page.evaluate(
        "() => [...document.querySelectorAll('.nnviz-root')].map(r => r.dataset.ready)"
    )
    assert ready == ["1"] * 30
    # one live WebGL context for all 30; under a software rasterizer (SwiftShader here) the
    # renderer drops its first, antialiased context once for one without multisampling
    software = page.evaluate("() => window.__nnviz.software")
    assert page.evaluate("() => window.__webglLive()") == 1
    assert page.evaluate("() => window.__webglCanvases()") == (2 if software else 1)
    assert page.evaluate("() => window.__nnvizRendererCount") == 1
    assert page.evaluate("() => window.__nnviz.created") == (2 if software else 1)
    # every view painted something
    for i in (0, 14, 29):
        assert canvas_stats(page, i)["variance"] > 50
    page.screenshot(path=str(artifacts / "fake-30-views.png"))
    assert page.nnviz_errors == []


def test_destroy_removes_listeners_and_frees_gpu_memory(harness: Any) -> None:
    page = harness
    mount(page, "small")
    geoms_one = page.evaluate("() => __nnviz.memory().geometries")
    mount(page, "mlp")
    assert page.evaluate("() => __nnviz.memory().geometries") > geoms_one
    counts = page.evaluate(
        """async () => {
            const m = mounted[1];
            const afterRender = m.model.listenerCount();
            await m.destroy();
            await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
            return {before: m.listenersBefore, afterInit: m.listenersAfterInit, afterRender,
                    afterDestroy: m.model.listenerCount(),
                    roots: document.querySelectorAll('.nnviz-root').length};
        }"""
    )
    assert counts["afterRender"] > counts["afterInit"] > counts["before"]
    assert counts["afterDestroy"] == counts["before"]
    assert counts["roots"] == 1
    # repaint the remaining view so three.js settles its bookkeeping, then compare
    set_trait(page, "epoch", 0, i=0)
    page.wait_for_timeout(100)
    assert page.evaluate("() => __nnviz.memory().geometries") == geoms_one
    # the last 3D view gone: the shared renderer is disposed
    page.evaluate("() => mounted[0].destroy()")
    assert page.evaluate("() => window.__nnvizRendererCount") == 0


def test_second_view_and_new_epochs(harness: Any) -> None:
    page = harness
    mount(page, "small")
    # a second view of the same model shares its state
    page.evaluate(
        "async () => { window.second = await nnvizDev.renderAgain(nnvizWidget, mounted[0].model, "
        "document.getElementById('cells')); }"
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('.nnviz-root')].every(r => r.dataset.ready === '1')"
    )
    set_trait(page, "layer", "fc1")
    assert [root_data(page, i)["layer"] for i in (0, 1)] == ["fc1", "fc1"]
    # recording an epoch adds one child model: only it is fetched and decoded
    calls = page.evaluate(
        """async () => {
            const mgr = nnvizDev.manager;
            const orig = mgr.get_model.bind(mgr);
            let n = 0;
            mgr.get_model = (id) => { n++; return orig(id); };
            const g = nnvizDev.fixtures.mlpGraph(16, 5, 4, 'TinyMLP');
            const run = nnvizDev.fixtures.runFor(g, { epochs: 4 });
            const last = run[run.length - 1];
            const b64 = nnvizDev.fixtures.toBase64(last.data);
            mounted[0].record({ header: last.header, data_b64: b64 });
            await new Promise(r => setTimeout(r, 50));
            mgr.get_model = orig;
            return n;
        }"""
    )
    assert calls == 1
    page.wait_for_function("() => document.querySelector('.nnviz-chart') !== null")
    epochs = page.evaluate("() => mounted[0].model.get('_snapshots').length")
    assert epochs == 5
    page.evaluate("() => window.second()")
    assert len(page.query_selector_all(".nnviz-root")) == 1
    assert page.nnviz_errors == []


def test_context_loss_recreates_the_renderer(harness: Any) -> None:
    page = harness
    mount(page, "small")
    created = page.evaluate("() => __nnviz.created")
    page.evaluate("() => __nnviz.loseContext()")
    page.wait_for_timeout(100)
    frame = root_data(page)["frame"]
    set_trait(page, "epoch", 0)
    wait_frame_after(page, frame)
    assert page.evaluate("() => __nnviz.created") == created + 1
    assert page.evaluate("() => window.__nnvizRendererCount") == 1
    assert page.evaluate("() => window.__webglLive()") == 1
    assert canvas_stats(page)["variance"] > 50


# JupyterLab's own rules for description lists in output areas (lab/static/index.css), plus the
# kind of generic rules other hosts (themes, Bootstrap, VS Code) put on elements the widget uses.
HOST_CSS = """
.cell dl, .cell dt, .cell dd { display: block; }
.cell dl { width: 100%; overflow: hidden; padding: 0; margin: 0; }
.cell dt { font-weight: bold; float: left; width: 20%; padding: 0; margin: 0; }
.cell dd { float: left; width: 80%; padding: 0; margin: 0; }
.cell div { margin: 3px 5px; }
.cell span { padding: 0 9px; letter-spacing: 2px; }
.cell button { text-transform: uppercase; min-height: 40px; margin: 6px; }
.cell canvas { max-width: 50%; }
.cell { text-align: center; line-height: 2.5; white-space: pre; }
"""


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["width"] - 1
        and b["x"] < a["x"] + a["width"] - 1
        and a["y"] < b["y"] + b["height"] - 1
        and b["y"] < a["y"] + a["height"] - 1
    )


def test_host_page_styles_do_not_leak_in(harness: Any, artifacts: Path) -> None:
    page = harness
    page.add_style_tag(content=HOST_CSS)
    mount(page, "mlp")
    # image-shaped probe input: the side column opens on "Inside"; the user can switch
    assert root_data(page)["tab"] == "inside"
    assert page.is_visible(".nnviz-inside") and not page.is_visible(".nnviz-panel")
    page.click(".nnviz-tab[data-tab='details']")
    assert root_data(page)["tab"] == "details"
    assert page.is_visible(".nnviz-panel") and not page.is_visible(".nnviz-inside")
    keys = page.query_selector_all(".nnviz-panel-key")
    vals = page.query_selector_all(".nnviz-panel-val")
    assert len(keys) == len(vals) >= 3
    for k, v in zip(keys, vals, strict=True):
        kb, vb = k.bounding_box(), v.bounding_box()
        assert not _overlap(kb, vb), (k.inner_text(), v.inner_text(), kb, vb)
        assert vb["x"] >= kb["x"] + kb["width"], "value right of its label"
    # the header's parts sit on one line, untouched by the host's paddings / margins
    title = page.query_selector(".nnviz-title").bounding_box()
    meta = page.query_selector(".nnviz-meta").bounding_box()
    assert not _overlap(title, meta) and abs(title["y"] - meta["y"]) < 6
    # the canvases keep the size the view gives them
    canvas = page.query_selector(".nnviz-canvas").bounding_box()
    main = page.query_selector(".nnviz-main").bounding_box()
    assert canvas["width"] > 0.95 * main["width"]
    tab = page.query_selector(".nnviz-tab").bounding_box()
    assert tab["height"] < 32
    page.query_selector(".nnviz-root").screenshot(path=str(artifacts / "fake-host-css.png"))
    assert page.nnviz_errors == []


def _scroll_page(page: Any) -> None:
    page.evaluate(
        "() => { const s = document.createElement('div'); s.style.height = '3000px'; "
        "document.body.appendChild(s); }"
    )


def _pixels(page: Any, selector: str) -> int:
    """Hash of the view's canvas with the pointer off the view (no hover highlight)."""
    page.mouse.move(2, 2)
    page.wait_for_timeout(150)
    return page.evaluate(
        """(sel) => { const c = document.querySelector(sel);
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let h = 0;
            for (let k = 0; k < d.length; k += 4)
              h = (h * 31 + d[k] * 7 + d[k + 1] * 3 + d[k + 2]) % 1000000007;
            return h; }""",
        selector,
    )


def _wheel_checks(page: Any, selector: str) -> None:
    before = _pixels(page, selector)
    box = page.query_selector(selector).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, 240)
    page.wait_for_function("() => window.scrollY > 0")  # the notebook scrolls
    assert page.is_visible(".nnviz-wheel-hint.nnviz-wheel-hint-on")
    assert _pixels(page, selector) == before, "a plain wheel must not zoom"
    # ctrl + wheel zooms (and the page stays put)
    scrolled = page.evaluate("() => window.scrollY")
    box = page.query_selector(selector).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -200)
    page.keyboard.up("Control")
    page.wait_for_timeout(100)
    assert page.evaluate("() => window.scrollY") == scrolled
    assert not page.is_visible(".nnviz-wheel-hint.nnviz-wheel-hint-on")
    assert _pixels(page, selector) != before, "ctrl + wheel zooms"


def test_plain_wheel_scrolls_the_page_ctrl_wheel_zooms(harness: Any) -> None:
    page = harness
    _scroll_page(page)
    mount(page, "small")
    assert root_data(page)["tab"] == "details"  # no probe, no boundary: the details first
    _wheel_checks(page, ".nnviz-canvas")
    page.evaluate("() => window.scrollTo(0, 0)")
    set_trait(page, "mode", "2d")
    page.wait_for_selector(".nnviz-root[data-mode='2d'] .nnviz-view2d-canvas")
    page.wait_for_timeout(200)
    _wheel_checks(page, ".nnviz-view2d-canvas")
    assert page.nnviz_errors == []


def test_health_badges_follow_the_epoch(harness: Any, artifacts: Path) -> None:
    page = harness
    mount(page, "mlp")
    # the fixture's ReLU goes 62% dead and fc2's gradient vanishes at the last epoch
    assert root_data(page)["badges"] == "relu:dead,fc2:vanishing"
    # 3D: the ReLU's flag is on fc1's label (its units), fc2's on its own
    fc1 = page.query_selector(".nnviz-label[data-layer='fc1']")
    assert fc1.get_attribute("data-badges") == "relu:dead"
    assert "dead 62%" in fc1.inner_text()
    assert page.query_selector(".nnviz-label[data-layer='fc2']").get_attribute("data-badges") == (
        "fc2:vanishing"
    )
    assert fc1.is_visible()
    # scrubbing back: no flags at epoch 0
    frame = root_data(page)["frame"]
    set_trait(page, "epoch", 0)
    wait_frame_after(page, frame)
    assert root_data(page)["badges"] == ""
    assert page.query_selector(".nnviz-label[data-layer='fc1']").get_attribute("data-badges") == ""
    set_trait(page, "epoch", 2)
    set_trait(page, "mode", "2d")
    page.wait_for_selector(".nnviz-root[data-mode='2d'] .nnviz-view2d-canvas")
    page.wait_for_timeout(200)
    assert root_data(page)["badges"] == "relu:dead,fc2:vanishing"
    page.query_selector(".nnviz-root").screenshot(path=str(artifacts / "fake-badges-2d.png"))
    assert page.nnviz_errors == []


def test_conv_planes_show_the_samples_feature_maps(harness: Any, artifacts: Path) -> None:
    page = harness
    mount(page, "cnn")
    # the fixture keeps maps for the first 3 of 4 probe samples
    assert root_data(page)["maps"] == "conv1,conv2"
    page.query_selector(".nnviz-root").screenshot(path=str(artifacts / "fake-cnn-maps.png"))
    hashes = [canvas_stats(page)["hash"]]
    # weight mode: only the textures depend on the sample
    for sample in (1, 3):
        frame = root_data(page)["frame"]
        set_trait(page, "sample", sample)
        wait_frame_after(page, frame)
        hashes.append(canvas_stats(page)["hash"])
    assert hashes[0] != hashes[1], "another sample, other feature maps"
    assert root_data(page)["maps"] == "", "no maps recorded for sample 3: the kind color"
    assert hashes[2] not in hashes[:2]
    # the epoch changes the maps too (texture upload, same geometry)
    geoms = page.evaluate("() => __nnviz.memory().geometries")
    frame = root_data(page)["frame"]
    set_trait(page, "sample", 0)
    wait_frame_after(page, frame)
    before = canvas_stats(page)["hash"]
    frame = root_data(page)["frame"]
    set_trait(page, "epoch", -1)
    wait_frame_after(page, frame)
    assert canvas_stats(page)["hash"] != before
    assert page.evaluate("() => __nnviz.memory().geometries") == geoms
    assert page.nnviz_errors == []


def test_png_request_answered_with_the_visible_canvas(harness: Any) -> None:
    page = harness
    mount(page, "small")

    def ask(rid: str) -> dict[str, Any]:
        return page.evaluate(
            """async (rid) => {
                const m = mounted[0].model;
                m.emit('msg:custom', {type: 'png', id: rid}, []);
                await new Promise(r => setTimeout(r, 50));
                return m.sent.find(s => s.id === rid) || null;
            }""",
            rid,
        )

    reply = ask("r3d")
    canvas = page.evaluate(
        "() => { const c = document.querySelector('.nnviz-canvas'); return [c.width, c.height]; }"
    )
    assert reply["data"].startswith("data:image/png;base64,")
    assert [reply["width"], reply["height"]] == canvas
    set_trait(page, "mode", "2d")
    page.wait_for_selector(".nnviz-root[data-mode='2d'] .nnviz-view2d-canvas")
    page.wait_for_timeout(150)
    reply = ask("r2d")
    canvas = page.evaluate(
        "() => { const c = document.querySelector('.nnviz-view2d-canvas');"
        " return [c.width, c.height]; }"
    )
    assert reply["data"].startswith("data:image/png;base64,")
    assert [reply["width"], reply["height"]] == canvas
    assert page.nnviz_errors == []


def test_scrubbing_back_shows_kept_frames_never_stale_ones(harness: Any) -> None:
    """Under a software rasterizer a slow frame is kept: an epoch shown again is served from
    it, the same pixels; any other change (color mode, camera) makes the kept ones obsolete."""
    page = harness
    mount(page, "mlp")
    page.evaluate("() => { __nnviz.ahead = false; }")  # only frames shown are kept here

    def show(name: str, value: Any) -> tuple[float, int]:
        frame = root_data(page)["frame"]
        set_trait(page, name, value)
        wait_frame_after(page, frame)
        return canvas_stats(page)["hash"], page.evaluate("() => __nnviz.keptHits || 0")

    assert page.evaluate("() => __nnviz.software") is True  # SwiftShader here: frames are slow
    h0, _ = show("epoch", 0)
    h1, hits = show("epoch", 1)
    assert h1 != h0
    again, hits2 = show("epoch", 0)
    assert (again, hits2) == (h0, hits + 1), "epoch 0 again: its kept frame"
    assert page.evaluate("() => __nnviz.keptBytes()") > 0
    delta, hits3 = show("color_by", "delta")
    assert hits3 == hits2 and delta != h0, "a new color mode renders"
    d1, hits4 = show("epoch", 1)
    assert hits4 == hits3 and d1 != h1, "kept frames of the weight colors are not shown"
    d0, hits5 = show("epoch", 0)
    assert (d0, hits5) == (delta, hits4 + 1)
    # the camera moves: a new frame, not a kept one
    box = page.query_selector(".nnviz-root .nnviz-canvas").bounding_box()
    frame = root_data(page)["frame"]
    page.mouse.move(box["x"] + 200, box["y"] + 150)
    page.mouse.down()
    page.mouse.move(box["x"] + 260, box["y"] + 170, steps=4)
    page.mouse.up()
    wait_frame_after(page, frame)
    moved, _ = show("epoch", 1)
    assert moved not in (d1, h1)
    assert page.nnviz_errors == []


def test_frames_rendered_ahead_equal_fresh_renders(harness: Any) -> None:
    """A view left still renders the other epochs ahead (software rasterizer): scrubbing then
    shows them from kept frames, with the same pixels a fresh render gives, and the page's
    state (shown epoch, data attributes) is left as it was while they were made."""
    page = harness
    mount(page, "mlp")
    frame = root_data(page)["frame"]
    set_trait(page, "color_by", "activation")  # feature maps and probe image in the frames too
    wait_frame_after(page, frame)
    before = root_data(page)
    page.wait_for_function("() => (__nnviz.aheadFrames || 0) >= 3", timeout=30000)
    assert root_data(page) == before

    def show(epoch: int) -> tuple[float, int]:
        frame = root_data(page)["frame"]
        set_trait(page, "epoch", epoch)
        wait_frame_after(page, frame)
        return canvas_stats(page)["hash"], page.evaluate("() => __nnviz.keptHits || 0")

    epochs = [-1, 0, 1]
    hits0 = page.evaluate("() => __nnviz.keptHits || 0")
    shown = [show(e) for e in epochs]
    assert [hits for _, hits in shown] == [hits0 + 1, hits0 + 2, hits0 + 3], "kept frames"
    ahead = [h for h, _ in shown]
    assert len(set(ahead)) == len(epochs)
    # a new view state (another mode and back) with rendering ahead off: every epoch renders
    page.evaluate("() => { __nnviz.ahead = false; }")
    show(2)  # not among those compared: the mode change below renders the shown epoch
    frame = root_data(page)["frame"]
    set_trait(page, "color_by", "weight")
    set_trait(page, "color_by", "activation")
    wait_frame_after(page, frame)
    page.wait_for_timeout(300)  # the repaints of the mode change are done
    hits1 = page.evaluate("() => __nnviz.keptHits")
    fresh = [show(e) for e in epochs]
    assert [hits for _, hits in fresh] == [hits1] * len(epochs), "rendered afresh"
    assert [h for h, _ in fresh] == ahead
    assert page.nnviz_errors == []


def _colors_of(data: dict[str, str], layer: str) -> int:
    """How many distinct colors the view drew `layer`'s connections in (data-connection-colors)."""
    counts = dict(item.split(":") for item in data.get("connectionColors", "").split(",") if item)
    return int(counts.get(layer, "0"))


def test_gradient_colors_each_connection_in_3d_and_2d(harness: Any, artifacts: Path) -> None:
    """A run carrying per-connection gradients: two connections of one layer get different
    gradient colors in both views, and the legend says what is shown; a run with only the
    per-layer gradient norm colors each layer's connections with one color."""
    page = harness
    mount(page, "mlp", traits={"color_by": "gradient"})
    for mode in ("3d", "2d"):
        frame = root_data(page)["frame"]
        set_trait(page, "mode", mode)
        if mode == "2d":
            wait_frame_after(page, frame)
        page.wait_for_function(
            "m => { const d = document.querySelector('.nnviz-root').dataset;"
            " return d.mode === m && (d.connectionColors || '').includes('fc1:'); }",
            arg=mode,
        )
        data = root_data(page)
        assert data["coloring"] == "gradient per connection", data
        assert _colors_of(data, "fc1") > 1 and _colors_of(data, "fc2") > 1, data["connectionColors"]
        legend = page.inner_text(".nnviz-root .nnviz-legend")
        assert "gradient per connection" in legend, legend
        shot = artifacts / f"fake-gradient-{mode}.png"
        page.query_selector(".nnviz-root").screenshot(path=str(shot))

    mount(page, "mlp-normgrads", traits={"color_by": "gradient"})
    page.wait_for_function(
        "() => (document.querySelectorAll('.nnviz-root')[1].dataset.connectionColors || '')"
        ".includes('fc1:')"
    )
    data = root_data(page, 1)
    assert data["coloring"] == "gradient norm per layer", data
    assert _colors_of(data, "fc1") == 1 and _colors_of(data, "fc2") == 1, data["connectionColors"]
    assert "gradient norm per layer" in page.query_selector_all(".nnviz-legend")[1].inner_text()
    assert page.nnviz_errors == []


def test_enum_indices_follow_the_choices_python_sends(harness: Any) -> None:
    """The index mirrors read their lists from the `_choices` trait, not from the bundle."""
    page = harness
    choices = {
        "mode": ["2d", "3d"],
        "color_by": ["gradient", "weight"],
        "delta_ref": ["init", "previous"],
    }
    mount(page, "small", traits={"_choices": choices, "_color_index": 0})
    set_trait(page, "color_by", "weight")
    assert page.evaluate("() => mounted[0].model.get('_color_index')") == 1
    set_trait(page, "_color_index", 0)
    assert page.evaluate("() => mounted[0].model.get('color_by')") == "gradient"
    set_trait(page, "_mode_index", 0)
    assert page.evaluate("() => mounted[0].model.get('mode')") == "2d"
    page.wait_for_selector(".nnviz-root[data-mode='2d'] .nnviz-view2d")
    set_trait(page, "_delta_index", 0)
    assert page.evaluate("() => mounted[0].model.get('delta_ref')") == "init"
    assert page.nnviz_errors == []


def test_to_png_of_the_3d_view_has_its_labels(harness: Any, artifacts: Path) -> None:
    """The view's answer to to_png has its HTML labels drawn in (looked at: names, kinds and
    health badges where the page shows them)."""
    page = harness
    mount(page, "mlp")
    result = page.evaluate(
        """async () => {
            const m = window.mounted[window.mounted.length - 1].model;
            m.emit('msg:custom', {type: 'png', id: 'labels'}, []);
            const reply = m.sent.find(s => s && s.type === 'png' && s.id === 'labels');
            const roots = document.querySelectorAll('.nnviz-root');
            const root = roots[roots.length - 1];  // the view just mounted
            const canvas = root.querySelector('.nnviz-canvas');
            const labels = [...root.querySelectorAll('.nnviz-label')]
                .filter(l => l.getBoundingClientRect().width > 0).length;
            return {data: reply && reply.data, plain: canvas.toDataURL('image/png'), labels};
        }"""
    )
    assert result["labels"] > 0
    assert result["data"] != result["plain"]  # the canvas alone lacks the labels
    (artifacts / "fake-mlp-to-png.png").write_bytes(
        base64.b64decode(result["data"].split(",", 1)[1])
    )
