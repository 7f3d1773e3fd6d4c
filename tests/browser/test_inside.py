"""The "inside the network" panel (js/src/panels/inside/) on real recorded runs, in headless
Chromium.

scripts/make_probe_state.py trains small torch models (digits MLP, two-moons MLP, small CNN,
a token model) and dumps their widget state; js/dev/inside.html mounts the panel alone on a
Store built from each dump. Checks: weight images and the decision boundary change with the
epoch (pixels), the label / prediction text, feature maps and filters, a sequence heatmap,
hostile layer names rendered as text, and that scrubbing repaints without rebuilding the DOM.
The same images in the 2D view (js/src/view2d/): conv layers' feature maps as channel tiles,
on the whole widget of the dev harness page (js/dev/: the synthetic CNN, and the real one).
Screenshots go to test-artifacts/ (look at them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
JS = REPO / "js"
PAGE_DIR = JS / "test-dist" / "inside"
STATE_DIR = JS / "test-dist" / "probe-state"
SCRIPT = REPO / "scripts" / "make_probe_state.py"
ORIGIN = "http://inside.test"
RUNS = ("digits", "moons", "cnn", "seq", "lm")

# pixels of the first canvas matching a selector: a hash, the shares of "ink" (darker than near
# white) and of colored (not grey) pixels, and the RGBA bytes
PIXELS = """
([sel, raw]) => {
  const c = document.querySelector(sel);
  if (!c || !c.width || !c.height) return null;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let hash = 0, ink = 0, colored = 0;
  for (let k = 0; k < d.length; k += 4) {
    hash = (hash * 31 + d[k] * 7 + d[k + 1] * 3 + d[k + 2]) % 1000000007;
    if (d[k + 3] > 0 && (d[k] + d[k + 1] + d[k + 2]) / 3 < 235) ink++;
    const mx = Math.max(d[k], d[k + 1], d[k + 2]), mn = Math.min(d[k], d[k + 1], d[k + 2]);
    if (d[k + 3] > 0 && mx - mn > 40) colored++;
  }
  const n = d.length / 4;
  const data = raw ? Array.from(d) : null;
  return { w: c.width, h: c.height, hash, ink: ink / n, colored: colored / n, data };
}
"""


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _stale(outputs: list[Path], inputs: list[Path]) -> bool:
    if not all(p.exists() for p in outputs):
        return True
    newest = max(p.stat().st_mtime for p in inputs)
    return min(p.stat().st_mtime for p in outputs) < newest


@pytest.fixture(scope="module")
def inside_page() -> Path:
    """js/test-dist/inside/: the page, its bundle and the state dumps (rebuilt when stale)."""
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    esbuild = JS / "node_modules" / ".bin" / "esbuild"
    if not esbuild.exists():
        if shutil.which("npm") is None:
            _missing("npm is not installed: cannot bundle the inside page")
        subprocess.run(["npm", "ci"], cwd=JS, check=True)
    PAGE_DIR.mkdir(parents=True, exist_ok=True)
    sources = [*(JS / "src").rglob("*.ts"), JS / "dev" / "inside.ts"]
    bundle = PAGE_DIR / "inside.js"
    if _stale([bundle], sources):
        subprocess.run(
            [
                str(esbuild),
                "dev/inside.ts",
                "--bundle",
                "--format=iife",
                "--target=es2020",
                f"--outfile={bundle}",
                "--log-level=warning",
            ],
            cwd=JS,
            check=True,
        )
    shutil.copyfile(JS / "dev" / "inside.html", PAGE_DIR / "inside.html")
    states = [STATE_DIR / f"{r}.json" for r in RUNS]
    py_inputs = [SCRIPT, *(REPO / "nnviz_widget").rglob("*.py")]
    if _stale(states, py_inputs):
        subprocess.run([sys.executable, str(SCRIPT), str(STATE_DIR)], cwd=REPO, check=True)
    return PAGE_DIR


def _serve(route: Any) -> None:
    name = route.request.url.split("?")[0].rsplit("/", 1)[-1] or "inside.html"
    _fulfill(route, (STATE_DIR if name.endswith(".json") else PAGE_DIR) / name)


def _fulfill(route: Any, path: Path) -> None:
    """Answer a page request with the file (404 when missing)."""
    if not path.exists():
        route.fulfill(status=404, body="not found")
        return
    ctype = {".html": "text/html", ".json": "application/json"}.get(path.suffix, "text/javascript")
    route.fulfill(status=200, body=path.read_bytes(), headers={"content-type": ctype})


@pytest.fixture()
def inside(page: Any, inside_page: Path) -> Iterator[Any]:
    page.route(f"{ORIGIN}/**", _serve)
    page.goto(f"{ORIGIN}/inside.html")
    page.wait_for_function("window.insideLoaded === true")
    yield page
    assert page.nnviz_errors == [], page.nnviz_errors
    assert page.nnviz_dialogs == [], page.nnviz_dialogs


def load(page: Any, run: str, **opts: Any) -> list[int]:
    """Mount the panel on a run's dump; returns its recorded epochs."""
    page.evaluate("async ([url, o]) => { await nnvizInside.load(url, o); }", [f"{run}.json", opts])
    return list(page.evaluate("nnvizInside.current().epochs()"))


def set_state(page: Any, **patch: Any) -> None:
    before = page.evaluate("document.querySelector('.nnviz-inside').dataset.draws")
    if not page.evaluate("p => nnvizInside.current().set(p)", patch):
        return  # nothing changed: nothing to repaint
    page.wait_for_function(
        "b => document.querySelector('.nnviz-inside').dataset.draws !== b", arg=before
    )


def pixels(page: Any, selector: str, raw: bool = False) -> dict[str, Any]:
    """A canvas's pixel summary; ``raw``: with its RGBA bytes."""
    px = page.evaluate(PIXELS, [selector, raw])
    assert px is not None, f"no drawn canvas {selector}"
    return dict(px)


def changed_share(a: dict[str, Any], b: dict[str, Any]) -> float:
    assert (a["w"], a["h"]) == (b["w"], b["h"])
    da, db = a["data"], b["data"]
    n = len(da) // 4
    diff = sum(
        1
        for k in range(0, len(da), 4)
        if abs(da[k] - db[k]) + abs(da[k + 1] - db[k + 1]) + abs(da[k + 2] - db[k + 2]) > 12
    )
    return diff / n


def parts(page: Any) -> list[str]:
    return str(page.evaluate("document.querySelector('.nnviz-inside').dataset.parts")).split(",")


def test_digits_weight_images_change_with_the_epoch(inside: Any, artifacts: Path) -> None:
    page = inside
    epochs = load(page, "digits", epoch=-1)
    assert epochs[0] == -1 and len(epochs) == 7
    assert parts(page) == ["probe", "layer", "health"]
    # nothing selected: the first dense layer on the image input, as images
    title = page.inner_text(".nnviz-inside [data-part=layer]")
    assert "incoming weights of fc1" in title
    canvas = page.query_selector("canvas.nnviz-inside-weights")
    first = pixels(page, "canvas.nnviz-inside-weights", raw=True)
    assert first["w"] > 40 and first["h"] > 30  # 32 tiles of 8x8 with gaps
    page.locator("#panel").screenshot(path=str(artifacts / "inside-digits-epoch0.png"))
    set_state(page, epoch=epochs[-1])
    last = pixels(page, "canvas.nnviz-inside-weights", raw=True)
    assert changed_share(first, last) > 0.3, (
        "weight images should change between init and the last epoch"
    )
    # scrubbing repaints the same canvas (no DOM rebuild)
    assert page.evaluate("c => c === document.querySelector('canvas.nnviz-inside-weights')", canvas)
    page.locator("#panel").screenshot(path=str(artifacts / "inside-digits-last.png"))
    # "change since init": all grey (zero) at init, colored structure at the last epoch
    page.click(".nnviz-inside-toggle button[data-mode=delta]")
    delta_last = pixels(page, "canvas.nnviz-inside-weights", raw=True)
    assert delta_last["hash"] != last["hash"]
    set_state(page, epoch=-1)
    delta_init = pixels(page, "canvas.nnviz-inside-weights")
    assert delta_init["colored"] < 0.01 < 0.3 < delta_last["colored"]
    # each epoch its own picture
    hashes = set()
    page.click(".nnviz-inside-toggle button[data-mode=weight]")
    for e in epochs:
        set_state(page, epoch=e)
        hashes.add(pixels(page, "canvas.nnviz-inside-weights")["hash"])
    assert len(hashes) == len(epochs)


def test_probe_label_and_prediction(inside: Any, artifacts: Path) -> None:
    page = inside
    state = page.evaluate("async () => (await (await fetch('digits.json')).json()).traits._probe")
    load(page, "digits", epoch=-1, sample=3)
    facts = page.inner_text(".nnviz-inside [data-part=probe]")
    label = state["labels"][3]
    assert "sample 3 of 16" in facts
    assert f"label {label}" in facts
    pred = page.query_selector(".nnviz-inside-pred")
    assert pred.inner_text().startswith("predicted ")
    # the probe image: an 8x8 digit, drawn
    img = pixels(page, "canvas.nnviz-inside-probe-img")
    assert (img["w"], img["h"]) == (8, 8) and img["ink"] > 0.1
    # at the last epoch the trained model gets most probe samples right: green text with a tick
    epochs = page.evaluate("nnvizInside.current().epochs()")
    right = 0
    for s in range(16):
        set_state(page, epoch=epochs[-1], sample=s)
        el = page.query_selector(".nnviz-inside-pred")
        ok = el.get_attribute("data-correct") == "1"
        right += ok
        cls = el.get_attribute("class") or ""
        assert ("nnviz-inside-ok" in cls) == ok and ("nnviz-inside-bad" in cls) == (not ok)
        color = page.evaluate("e => getComputedStyle(e).color", el)
        assert color == ("rgb(19, 115, 51)" if ok else "rgb(180, 35, 24)")
    assert right >= 12
    set_state(page, sample=3)
    page.locator("#panel").screenshot(path=str(artifacts / "inside-digits-sample3.png"))


def test_moons_boundary_changes_with_the_epoch(inside: Any, artifacts: Path) -> None:
    page = inside
    epochs = load(page, "moons", epoch=-1, sample=5)
    assert parts(page) == ["boundary", "fields", "health"]
    b0 = pixels(page, "canvas.nnviz-inside-boundary", raw=True)
    assert (b0["w"], b0["h"]) == (100, 100)
    dots = pixels(page, "canvas.nnviz-inside-points")
    assert dots["ink"] > 0.01, "the probe points are drawn on top"
    f0 = pixels(page, "canvas.nnviz-inside-field")
    assert page.locator("canvas.nnviz-inside-field").count() == 16  # two hidden layers of 8
    page.locator("#panel").screenshot(path=str(artifacts / "inside-moons-epoch0.png"))
    set_state(page, epoch=epochs[-1])
    b1 = pixels(page, "canvas.nnviz-inside-boundary", raw=True)
    assert changed_share(b0, b1) > 0.3, "the boundary should change between init and the last epoch"
    assert pixels(page, "canvas.nnviz-inside-field")["hash"] != f0["hash"]
    # the trained boundary separates: both classes' colors cover a good share of the plane
    d = b1["data"]
    blue = sum(1 for k in range(0, len(d), 4) if d[k + 2] > d[k] + 60)
    orange = sum(1 for k in range(0, len(d), 4) if d[k] > d[k + 2] + 60)
    assert blue > 1500 and orange > 1500, (blue, orange)
    text = page.inner_text(".nnviz-inside [data-part=boundary]")
    assert "sample 5 of 32" in text and "label" in text and "predicted" in text
    hashes = set()
    for e in epochs:
        set_state(page, epoch=e)
        hashes.add(pixels(page, "canvas.nnviz-inside-boundary")["hash"])
    assert len(hashes) >= len(epochs) - 1
    page.locator("#panel").screenshot(path=str(artifacts / "inside-moons-last.png"))


def test_cnn_filters_and_feature_maps(inside: Any, artifacts: Path) -> None:
    page = inside
    load(page, "cnn", sample=2)
    text = page.inner_text(".nnviz-inside [data-part=layer]")
    assert "filters of conv1" in text
    assert "feature maps of conv1 (after relu1) for sample 2" in text
    maps = pixels(page, "canvas.nnviz-inside-maps")
    assert maps["ink"] > 0.05
    filters = pixels(page, "canvas.nnviz-inside-filters")
    assert (filters["w"], filters["h"]) in ((3 * 4 + 3, 3 * 2 + 1), (3 * 8 + 7, 3))
    set_state(page, sample=7)
    assert "for sample 7" in page.inner_text(".nnviz-inside [data-part=layer]")
    assert pixels(page, "canvas.nnviz-inside-maps")["hash"] != maps["hash"]
    set_state(page, layer="conv2")
    assert "feature maps of conv2" in page.inner_text(".nnviz-inside [data-part=layer]")
    assert "filters" not in page.inner_text(
        ".nnviz-inside [data-part=layer]"
    )  # only the first conv
    page.locator("#panel").screenshot(path=str(artifacts / "inside-cnn-conv2.png"))


def test_sequence_heatmap_and_health_strip(inside: Any, artifacts: Path) -> None:
    page = inside
    epochs = load(page, "seq", layer="relu", sample=1)
    text = page.inner_text(".nnviz-inside [data-part=layer]")
    assert "output of relu for sample 1 (tokens × features)" in text
    hm = pixels(page, "canvas.nnviz-inside-heatmap")
    assert (hm["w"], hm["h"]) == (16, 10)
    health = page.inner_text(".nnviz-inside [data-part=health]")
    assert health.splitlines()[-1].startswith(f"epoch {epochs[-1]}: dead ")
    # clicking a cell of the strip jumps to that epoch
    strip = page.query_selector("canvas.nnviz-inside-hstrip")
    box = strip.bounding_box()
    page.mouse.click(box["x"] + 2, box["y"] + box["height"] / 2)
    page.wait_for_function("document.querySelector('.nnviz-inside').dataset.epoch === '-1'")
    assert page.inner_text(".nnviz-inside [data-part=health]").splitlines()[-1].startswith("init:")
    page.locator("#panel").screenshot(path=str(artifacts / "inside-seq.png"))


def test_language_model_tokens_predictions_and_heads(inside: Any, artifacts: Path) -> None:
    """A tiny GPT-2 with a tokenizer: the probe is a strip of words with the predicted next word
    under each, the facts line names the next token after the context, the selected layer's
    heatmap rows are the tokens, and the attention op shows one map per head."""
    page = inside
    epochs = load(page, "lm", epoch=-1, sample=0)
    probe = ".nnviz-inside [data-part=probe]"
    assert page.locator(f"{probe} .nnviz-inside-tok").count() == 10
    first = page.locator(f"{probe} .nnviz-inside-tok-in").all_inner_texts()
    assert [t.strip() for t in first[:6]] == ["the", "cat", "sat", "on", "a", "mat"]
    assert "nnviz-inside-probe-img" not in page.inner_html(probe)  # not drawn as pixels
    set_state(page, epoch=epochs[-1])
    facts = page.inner_text(f"{probe} .nnviz-inside-pred")
    # trained on the repeating pattern "the cat sat on a mat": after "on" comes "a"
    assert facts.startswith("next token after '… the cat sat on': ' a' "), facts
    nexts = page.locator(f"{probe} .nnviz-inside-tok-next").all_inner_texts()
    words = {"the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "big", "red"}
    shown = [t.lstrip("→").strip() for t in nexts]
    assert len(shown) == 10 and set(shown) <= words | {f"{w}{i}" for w in words for i in range(24)}
    assert shown[-1] == "a" and shown[3] == "a", shown  # after each "on"
    page.locator("#panel").screenshot(path=str(artifacts / "inside-lm-tokens.png"))
    # a token layer: tokens x features, the rows labelled with the tokens
    set_state(page, layer="transformer.h.0.mlp.c_fc")
    rows = page.locator(".nnviz-inside [data-part=layer] .nnviz-inside-rows span")
    assert [t.strip() for t in rows.all_inner_texts()[:3]] == ["the", "cat", "sat"]
    assert pixels(page, "canvas.nnviz-inside-heatmap")["h"] == 10
    # the attention op: the mean map and one map per head
    set_state(page, layer="scaled_dot_product_attention")
    text = page.inner_text(".nnviz-inside [data-part=layer]")
    assert "attention per head of scaled_dot_product_attention for sample 0" in text
    heads = pixels(page, "canvas.nnviz-inside-heads")
    assert heads["ink"] > 0.05
    page.locator("#panel").screenshot(path=str(artifacts / "inside-lm-heads.png"))


def test_per_position_task_says_output_and_marks_targets(inside: Any, artifacts: Path) -> None:
    """A per-position token task (the recorder's tokens.task "position", as a reverser's): the
    strip and facts line speak of the output at each position, not of a next token, and mark each
    position against its target; a selected attention layer's map leads the panel."""
    page = inside
    page.evaluate(
        """async () => {
            const st = await (await fetch('lm.json')).json();
            const tok = st.traits._probe.tokens;
            tok.task = 'position';
            // the model's own outputs as targets, but position 2's never predicted: 9 of 10
            tok.targets = tok.ids.map((row) => row.map((_, t) => row[(t + 1) % row.length]));
            tok.targets[0][2] = 23;
            nnvizInside.mount(st, { layer: 'scaled_dot_product_attention', sample: 0 });
        }"""
    )
    assert parts(page)[:2] == ["layer", "probe"]  # the attention map first
    probe = ".nnviz-inside [data-part=probe]"
    assert page.get_attribute(f"{probe} .nnviz-inside-tokens", "data-task") == "position"
    text = page.inner_text(probe)
    assert "next token" not in text and "predicts next" not in text, text
    assert "output at that position" in text
    marks = page.eval_on_selector_all(
        f"{probe} .nnviz-inside-tok", "els => els.map(e => e.dataset.correct)"
    )
    assert len(marks) == 10 and marks[2] == "0", marks
    right = marks.count("1")
    facts = page.inner_text(f"{probe} .nnviz-inside-pred")
    assert facts == f"output right at {right} of 10 positions", facts
    title = page.locator(f"{probe} .nnviz-inside-tok").nth(2).get_attribute("title") or ""
    assert "; output: " in title and "; target '" in title, title
    page.locator("#panel").screenshot(path=str(artifacts / "inside-per-position.png"))


def test_hostile_layer_name_is_text(inside: Any, artifacts: Path) -> None:
    page = inside
    evil = '<img src=x onerror="window.__xss=1">fc1'
    page.evaluate(
        """async (evil) => {
            const st = await (await fetch('digits.json')).json();
            st.snapshots.forEach((s, i) => { if (i >= 4) s.header.health.relu.dead = 0.75; });
            nnvizInside.mount(nnvizInside.renameLayer(st, 'fc1', evil), { layer: evil });
        }""",
        evil,
    )
    panel = page.query_selector(".nnviz-inside")
    assert evil in panel.inner_text()
    assert panel.query_selector("img") is None
    assert page.evaluate("window.__xss") is None
    # the health line of the selected layer carries its activation's dead units
    line = page.inner_text(".nnviz-inside-hline")
    assert "dead 75%" in line and "dead" in line.split("—")[-1]
    assert "nnviz-inside-warn" in (page.get_attribute(".nnviz-inside-hline", "class") or "")
    # nothing selected: the compact strip lists every layer with health, names as text
    page.evaluate("nnvizInside.current().set({ layer: '' })")
    names = page.locator(".nnviz-inside-hname").all_inner_texts()
    assert names == [evil, "relu", "fc2"]
    assert panel.query_selector("img") is None
    page.locator("#panel").screenshot(path=str(artifacts / "inside-hostile-name.png"))


# ---------------------------------------------------------------------------------------------
# Feature maps in the 2D view: the widget bundle on the dev harness page (js/dev/index.html)

DEV_ORIGIN = "http://nnviz.test"

# Keeps the 2D canvas's pixels under a name; returns the shares of tile pixels (the sequential
# scale's strong purples: post-ReLU feature maps) and the count of NaN-colored (magenta) ones.
SNAP_2D = """
(name) => {
  const c = document.querySelector('.nnviz-root .nnviz-view2d-canvas');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  (window.__shots = window.__shots || {})[name] = d;
  let tiles = 0, nan = 0;
  for (let k = 0; k < d.length; k += 4) {
    const r = d[k], g = d[k + 1], b = d[k + 2];
    if (r > 240 && g < 20 && b > 240) nan++;
    else if (b - g > 50 && r - g > 30) tiles++;
  }
  return { tiles: tiles / (d.length / 4), nan };
}
"""

# Share of the tile pixels (in either shot) that changed between two shots.
TILE_DIFF = """
([a, b]) => {
  const A = window.__shots[a], B = window.__shots[b];
  const tile = (d, k) => d[k + 2] - d[k + 1] > 50 && d[k] - d[k + 1] > 30;
  let n = 0, changed = 0;
  for (let k = 0; k < A.length; k += 4) {
    if (!tile(A, k) && !tile(B, k)) continue;
    n++;
    const d = Math.abs(A[k] - B[k]) + Math.abs(A[k + 1] - B[k + 1]) + Math.abs(A[k + 2] - B[k + 2]);
    if (d > 24) changed++;
  }
  return n ? changed / n : 0;
}
"""

# A state whose conv1 channel 0 of sample 0 at the last epoch is NaN (float16 0x7e00).
POISON_CONV1 = """
(st) => {
  const last = st.snapshots[st.snapshots.length - 1];
  const ref = last.header.arrays.find(
    (a) => a.layer === 'conv1' && a.kind === 'act' && a.param === 'act');
  const dv = nnvizDev.fixtures.fromBase64(last.data_b64);
  const [, , h, w] = ref.shape;
  for (let i = 0; i < h * w; i++) dv.setUint16(ref.offset + 2 * i, 0x7e00, true);
  last.data_b64 = nnvizDev.fixtures.toBase64(dv);
  return st;
}
"""


@pytest.fixture()
def widget_page(page: Any, dev_pages: Path, widget_bundle: Path) -> Iterator[Any]:
    """The dev harness page with the real bundle (no view yet); probe states served as JSON."""

    def serve(route: Any) -> None:
        name = route.request.url.split("?")[0].rsplit("/", 1)[-1] or "index.html"
        if name == "widget.js":
            path = widget_bundle
        elif name.endswith(".json"):
            path = STATE_DIR / name
        else:
            path = dev_pages / name
        _fulfill(route, path)

    page.route(f"{DEV_ORIGIN}/**", serve)
    page.goto(f"{DEV_ORIGIN}/index.html")
    page.wait_for_function("window.nnvizLoaded === true")
    yield page
    assert page.nnviz_errors == [], page.nnviz_errors
    assert page.nnviz_dialogs == [], page.nnviz_dialogs


def mount_2d(page: Any, run: str, poison: bool = False) -> None:
    """One widget view in 2D mode, colored by activation: a synthetic run by name, or a probe
    state dump (``*.json``, from scripts/make_probe_state.py)."""
    if poison:
        page.evaluate("() => { window.__poison = " + POISON_CONV1 + "; }")
    page.evaluate(
        """async ([run, poison]) => {
            let st;
            if (run.endsWith('.json')) {
              const d = await (await fetch(run)).json();
              const traits = { _probe: d.traits._probe || null };
              st = { graph: d.traits._graph, snapshots: d.snapshots, traits };
            } else st = nnvizDev.state(run);
            if (poison) st = window.__poison(st);
            st.traits = { ...(st.traits || {}), mode: '2d', color_by: 'activation' };
            const cells = document.getElementById('cells');
            window.mounted = [await nnvizDev.mount(nnvizWidget, cells, st)];
        }""",
        [run, poison],
    )
    page.wait_for_function(
        "() => { const r = document.querySelector('.nnviz-root');"
        " return r && r.dataset.ready === '1' && r.dataset.featureMaps !== undefined; }",
        timeout=30000,
    )


def feature_maps(page: Any) -> dict[str, int]:
    """data-feature-maps of the view root: layer -> tiles drawn for the current sample."""
    attr = page.evaluate("document.querySelector('.nnviz-root').dataset.featureMaps")
    return {k: int(v) for k, v in (e.split(":") for e in str(attr).split(",") if e)}


def set_2d(page: Any, **traits: Any) -> None:
    """Set widget traits and wait for the 2D view's next painted frame."""
    frame = page.evaluate("document.querySelector('.nnviz-root').dataset.frame")
    # all in one task: no frame painted between them shows a mix
    page.evaluate(
        "t => { for (const [k, v] of Object.entries(t)) window.mounted[0].model.set(k, v); }",
        traits,
    )
    page.wait_for_function(
        "f => document.querySelector('.nnviz-root').dataset.frame !== f", arg=frame
    )


def snap_2d(page: Any, name: str) -> dict[str, float]:
    return dict(page.evaluate(SNAP_2D, name))


def tile_diff(page: Any, a: str, b: str) -> float:
    return float(page.evaluate(TILE_DIFF, [a, b]))


def test_2d_view_shows_conv_feature_maps(widget_page: Any, artifacts: Path) -> None:
    page = widget_page
    mount_2d(page, "cnn")  # synthetic: maps of the first 3 of 4 probe samples
    # conv2 has 32 channels: 16 tiles and a "+16 more" note; the input box shows the probe
    assert feature_maps(page) == {"input": 1, "conv1": 16, "conv2": 16}
    shown = snap_2d(page, "e2s0")
    assert shown["tiles"] > 0.001, shown
    assert shown["nan"] == 0
    page.query_selector(".nnviz-root").screenshot(path=str(artifacts / "view2d-cnn-maps.png"))
    # another epoch: other maps (from the decoded snapshots, no kernel)
    set_2d(page, epoch=0)
    snap_2d(page, "e0s0")
    assert tile_diff(page, "e2s0", "e0s0") > 0.2
    # another sample: other maps
    set_2d(page, sample=1)
    snap_2d(page, "e0s1")
    assert tile_diff(page, "e0s0", "e0s1") > 0.2
    assert feature_maps(page) == {"input": 1, "conv1": 16, "conv2": 16}
    # no maps kept for sample 3: the tiles show the kind color (as the 3D planes do)
    set_2d(page, sample=3)
    assert feature_maps(page) == {"input": 1}
    assert snap_2d(page, "e0s3")["tiles"] < shown["tiles"] * 0.1
    # every color mode shows the sample's maps (as the 3D view); the strips follow the mode
    set_2d(page, sample=0, epoch=2, color_by="weight")
    assert feature_maps(page) == {"input": 1, "conv1": 16, "conv2": 16}
    snap_2d(page, "w-e2s0")
    assert tile_diff(page, "e2s0", "w-e2s0") < 0.05


def test_2d_view_feature_maps_nan_in_the_nan_color(widget_page: Any, artifacts: Path) -> None:
    page = widget_page
    mount_2d(page, "cnn", poison=True)
    assert feature_maps(page)["conv1"] == 16
    shot = snap_2d(page, "nan")
    # one NaN tile of 22 x 22 world px at the view's zoom (its inside, away from smoothing)
    zoom = float(page.evaluate("document.querySelector('.nnviz-root').dataset.zoom"))
    assert shot["nan"] >= 0.5 * (22 * zoom - 2) ** 2, (shot, zoom)
    page.query_selector(".nnviz-root").screenshot(path=str(artifacts / "view2d-cnn-nan.png"))


def test_2d_view_real_cnn_maps_above_the_neuron_column(
    widget_page: Any, inside_page: Path, artifacts: Path
) -> None:
    page = widget_page
    mount_2d(page, "cnn.json")
    # conv2 feeds the dense layer: a neuron column with its maps (after relu2) above it
    assert feature_maps(page) == {"t": 1, "conv1": 8, "conv2": 16}
    snap_2d(page, "s0")
    page.query_selector(".nnviz-root").screenshot(path=str(artifacts / "view2d-real-cnn.png"))
    set_2d(page, sample=5)
    snap_2d(page, "s5")
    assert tile_diff(page, "s0", "s5") > 0.2
    set_2d(page, epoch=-1)
    snap_2d(page, "init")
    assert tile_diff(page, "s5", "init") > 0.2
