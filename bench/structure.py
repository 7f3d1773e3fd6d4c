"""Structure benchmark: how long a model takes to become a widget, and its first frame.

For each model it prints
  extract   the adapter's graph extraction alone (adapt(model, inputs).graph()),
  NNViz()   the whole widget construction: extraction, parameters, the init snapshot, encoding,
  frame     the first frame in headless Chromium: from the view's render() call to
            `.nnviz-root[data-ready="1"]`, on a page that holds the widget's state (see below),
and then each model's ratios against the baseline measured in the same run, the seed MLP
(784-128-10). No assertions: numbers to read and compare, not thresholds.

The page: the built bundle (nnviz_widget/static/widget.js) loaded as an ES module, driven by a
minimal stand-in for anywidget's model (get/set/on/off/save_changes, widget_manager.get_model
for the snapshot children) that holds the Python widget's synced state, bytes included. This
measures the view alone, without JupyterLab or a kernel. Chromium is Debian's /usr/bin/chromium
(headless, software WebGL through SwiftShader), driven by Playwright.

Usage: python bench/structure.py [--repeat N] [--models mlp,resnet,keras] [--no-browser]
"""

from __future__ import annotations

import argparse
import base64
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "nnviz_widget" / "static" / "widget.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--disable-gpu", "--enable-unsafe-swiftshader", "--no-sandbox"]
ORIGIN = "http://nnviz-bench.invalid"
FRAME_TIMEOUT_MS = 30_000


# ---------------------------------------------------------------------------------------------
# models


def mlp() -> tuple[Any, Any]:
    """The seed MLP: Linear(784,128) -> ReLU -> Linear(128,10), forward flattens."""
    import torch
    from torch import nn

    class MLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(784, 128)
            self.relu = nn.ReLU()
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc2(self.relu(self.fc1(x.flatten(1))))

    torch.manual_seed(0)
    return MLP(), torch.randn(8, 1, 28, 28)


def resnet(blocks: int = 30, channels: int = 16) -> tuple[Any, Any]:
    """A ResNet-like stack built by hand (torchvision is not available): a conv stem, `blocks`
    residual blocks (conv-bn-relu-conv-bn, + skip, relu: 7 layers each), pooling and a head."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.relu1 = nn.ReLU()
            self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)
            self.relu2 = nn.ReLU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
            return self.relu2(out + x)

    class ResNetLike(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(3, channels, 3, padding=1, bias=False)
            self.stem_bn = nn.BatchNorm2d(channels)
            self.stem_relu = nn.ReLU()
            self.blocks = nn.Sequential(*[Block(channels) for _ in range(blocks)])
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(channels, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.blocks(self.stem_relu(self.stem_bn(self.stem(x))))
            return self.fc(self.pool(x).flatten(1))

    torch.manual_seed(0)
    return ResNetLike(), torch.randn(4, 3, 32, 32)


def keras_seed() -> tuple[Any, Any]:
    """The seed Keras model: Dense(10, relu) on 2 inputs -> Dense(1, sigmoid)."""
    import numpy as np
    from keras import Sequential, layers

    model = Sequential(
        [layers.Input(shape=(2,)), layers.Dense(10, activation="relu"), layers.Dense(1)]
    )
    return model, np.random.default_rng(0).normal(size=(16, 2)).astype("float32")


MODELS: dict[str, tuple[str, Callable[[], tuple[Any, Any]]]] = {
    "mlp": ("seed MLP 784-128-10", mlp),
    "resnet": ("ResNet-like, 30 blocks", resnet),
    "keras": ("Keras seed 2-10-1", keras_seed),
}


# ---------------------------------------------------------------------------------------------
# timing in Python


def _median_ms(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


@dataclass
class Row:
    key: str
    label: str
    layers: int = 0
    params: int = 0
    extract_ms: float | None = None
    build_ms: float | None = None
    frame_ms: float | None = None
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# the page: bundle + a stand-in for anywidget's model

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>nnviz bench</title></head>
<body style="margin:0;background:#fff">
<div id="host" style="width:1100px"></div>
<script type="module">
const STATE = __STATE__;
const CHILDREN = __CHILDREN__;
function toDataView(b64) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new DataView(bytes.buffer);
}
class Model {
  constructor(state, manager) {
    this.state = { ...state };
    this.handlers = new Map();
    this.widget_manager = manager;
  }
  get(name) { return this.state[name]; }
  set(name, value) {
    const old = this.state[name];
    this.state[name] = value;
    if (old !== value) this.emit('change:' + name, value);
  }
  emit(event, value) {
    for (const cb of [...(this.handlers.get(event) || [])]) cb(this, value);
    if (!event.startsWith('change:')) return;
    for (const cb of [...(this.handlers.get('change') || [])]) cb(this);
  }
  on(event, cb) {
    for (const e of event.split(/\\s+/)) {
      if (!this.handlers.has(e)) this.handlers.set(e, new Set());
      this.handlers.get(e).add(cb);
    }
  }
  off(event, cb) {
    for (const e of (event || '').split(/\\s+/)) {
      const set = this.handlers.get(e);
      if (set && cb) set.delete(cb);
    }
  }
  save_changes() {}
  send() {}
}
const children = new Map();
const manager = {
  async get_model(id) {
    const key = String(id).replace(/^IPY_MODEL_/, '');
    if (!children.has(key)) {
      const c = CHILDREN[key];
      if (!c) throw new Error('no model ' + id);
      children.set(key, new Model({ header: c.header, data: toDataView(c.data) }, manager));
    }
    return children.get(key);
  },
};
window.benchResult = (async () => {
  const mod = await import('./widget.js');
  let widget = mod.default;
  if (typeof widget === 'function') widget = await widget();
  const model = new Model(STATE, manager);
  const el = document.getElementById('host');
  const t0 = performance.now();
  const ready = new Promise((resolve) => {
    const check = () => {
      const root = el.querySelector('.nnviz-root');
      if (!root || root.getAttribute('data-ready') !== '1') return false;
      resolve(performance.now());
      return true;
    };
    if (check()) return;
    const obs = new MutationObserver(() => { if (check()) obs.disconnect(); });
    obs.observe(el, { subtree: true, childList: true, attributes: true });
  });
  if (widget.initialize) await widget.initialize({ model, experimental: {} });
  await widget.render({ model, el, experimental: {} });
  const t1 = await ready;
  return { frameMs: t1 - t0, layers: el.querySelector('.nnviz-root').getAttribute('data-layers') };
})();
</script>
</body></html>
"""


def page_for(viz: Any) -> str:
    """The bench page for a built NNViz: its synced traits, the snapshot children's bytes."""
    viz.flush()
    state: dict[str, Any] = {}
    for name in viz.keys:
        if name.startswith(("_model_", "_view_", "_dom_classes", "_esm", "_css", "_anywidget")):
            continue
        if name in ("layout", "tabbable", "tooltip", "comm", "log"):
            continue
        value = getattr(viz, name)
        if name == "_snapshots":
            value = [f"IPY_MODEL_{child.model_id}" for child in value]
        try:
            json.dumps(value)
        except TypeError:
            continue
        state[name] = value
    children = {
        child.model_id: {
            "header": child.header,
            "data": base64.b64encode(bytes(child.data)).decode("ascii"),
        }
        for child in viz._snapshots
    }
    return PAGE.replace("__STATE__", json.dumps(state)).replace(
        "__CHILDREN__", json.dumps(children)
    )


def _extract(adapt: Callable[..., Any], model: Any, inputs: Any) -> Any:
    return adapt(model, inputs).graph()


def _collect(messages: list[str]) -> Callable[[Any], None]:
    def on_error(error: Any) -> None:
        messages.append(str(error))

    return on_error


def _server(html: str, bundle: bytes) -> Callable[[Any], None]:
    """A Playwright route handler serving the page and the bundle from memory."""

    def serve(route: Any) -> None:
        if route.request.url.endswith("/widget.js"):
            route.fulfill(body=bundle, content_type="text/javascript")
        else:
            route.fulfill(body=html, content_type="text/html")

    return serve


def first_frames(pages: dict[str, str], repeat: int) -> dict[str, float | str]:
    """Median render()->data-ready time per page, in ms (or why there is none)."""
    from playwright.sync_api import sync_playwright

    bundle = BUNDLE.read_bytes()
    results: dict[str, float | str] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for key, html in pages.items():
                times: list[float] = []
                error = ""
                for _ in range(repeat):
                    page = browser.new_page(viewport={"width": 1200, "height": 900})
                    messages: list[str] = []
                    page.on("pageerror", _collect(messages))

                    page.route(f"{ORIGIN}/**", _server(html, bundle))
                    try:
                        page.goto(f"{ORIGIN}/index.html")
                        out = page.evaluate(
                            f"""() => Promise.race([window.benchResult,
                                new Promise((_, no) => setTimeout(
                                    () => no(new Error('no data-ready="1"')),
                                    {FRAME_TIMEOUT_MS}))])"""
                        )
                        times.append(float(out["frameMs"]))
                    except Exception as exc:
                        error = (messages[-1] if messages else str(exc)).splitlines()[0][:120]
                    finally:
                        page.close()
                    if error:
                        break
                results[key] = statistics.median(times) if times else f"n/a: {error}"
        finally:
            browser.close()
    return results


# ---------------------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measure (median)")
    parser.add_argument("--models", default="mlp,resnet", help=f"of {','.join(MODELS)}")
    parser.add_argument("--no-browser", action="store_true", help="skip the first-frame timing")
    args = parser.parse_args(argv)

    import nnviz_widget as nnv
    from nnviz_widget.adapters import adapt

    keys = [k.strip() for k in args.models.split(",") if k.strip()]
    rows: list[Row] = []
    pages: dict[str, str] = {}
    for key in keys:
        label, build = MODELS[key]
        row = Row(key, label)
        rows.append(row)
        try:
            model, inputs = build()
            row.extract_ms, graph = _median_ms(partial(_extract, adapt, model, inputs), args.repeat)
            row.layers, row.params = len(graph.layers), graph.total_params
            row.build_ms, viz = _median_ms(partial(nnv.NNViz, model, inputs=inputs), args.repeat)
            pages[key] = page_for(viz)
        except Exception as exc:  # a benchmark reports what it could not measure
            row.notes.append(f"{type(exc).__name__}: {exc}"[:160])

    if pages and not args.no_browser:
        if not BUNDLE.exists() or not Path(CHROMIUM).exists():
            for row in rows:
                row.notes.append("first frame: no bundle or no chromium")
        else:
            for key, value in first_frames(pages, args.repeat).items():
                row = next(r for r in rows if r.key == key)
                if isinstance(value, float):
                    row.frame_ms = value
                else:
                    row.notes.append("first frame " + value)

    print(
        f"nnviz-widget structure benchmark  (python {platform.python_version()}, "
        f"{platform.machine()}, median of {args.repeat}; bundle {BUNDLE.stat().st_size:,} bytes)"
        if BUNDLE.exists()
        else "nnviz-widget structure benchmark (no bundle built)"
    )
    print()
    header = (
        f"{'model':<26} {'layers':>6} {'params':>10} {'extract ms':>11} {'NNViz() ms':>11} "
        f"{'frame ms':>10}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row.label:<26} {row.layers:>6} {row.params:>10,} {_fmt(row.extract_ms):>11} "
            f"{_fmt(row.build_ms):>11} {_fmt(row.frame_ms):>10}"
        )
    for row in rows:
        for note in row.notes:
            print(f"  note ({row.key}): {note}")

    base = rows[0] if rows else None
    if base is not None and len(rows) > 1:
        print()
        for row in rows[1:]:
            for what, a, b in (
                ("extraction", row.extract_ms, base.extract_ms),
                ("NNViz()", row.build_ms, base.build_ms),
                ("first frame", row.frame_ms, base.frame_ms),
            ):
                if a is not None and b:
                    print(f"{row.label} / {base.label} {what}: {a / b:.1f}x")
            if row.layers and base.layers:
                print(f"{row.label} / {base.label} layers: {row.layers / base.layers:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
