"""Scrubbing cost in headless Chromium: epoch change -> painted frame, nnviz vs plotly.

The 784-128-10 MLP (20,000 drawn connections: nnviz's draw budget) in nnviz's 3D view, and the
same 20,000 connections as a plotly Scatter3d figure scrubbed with its own frames
(``Plotly.animate``), in the same browser, same canvas size, pixel ratio 1. A frame counts as
painted once a 1-pixel read of the canvas returns after the change (one rAF would only measure
queuing). Goal: nnviz >= 20x faster. Prints ratios; asserts nothing.

Under a software rasterizer (this machine: SwiftShader) a frame of 20,000 blended lines costs
~70 ms of pixel filling, so nnviz keeps slow frames (js/src/view3d/renderer.ts) and shows them
again when the user scrubs back to an epoch already shown (or rendered ahead while the view sat
still: js/src/view3d/ahead.ts); a GPU renders the frame in ~1 ms and keeps
nothing. Both cases are timed and printed apart: "rendered" is an epoch's first paint,
"revisited" one served from a kept frame.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
JS = REPO / "js"
BUNDLE = REPO / "nnviz_widget" / "static" / "widget.js"
DEV = JS / "test-dist" / "dev"
ORIGIN = "http://nnviz.bench"
ARGS = ["--headless", "--disable-gpu", "--enable-unsafe-swiftshader", "--no-sandbox"]
W = 900  # page width for the nnviz view; plotly gets the canvas size nnviz ended up with
CHANGES = 12

NNVIZ_SCRUB = """async ([n, epochs]) => {
  const m = window.mounted[0];
  const root = document.querySelector('.nnviz-root');
  const canvas = root.querySelector('.nnviz-canvas');
  const ctx = canvas.getContext('2d');
  const times = [];
  for (let k = 0; k < n; k++) {
    const before = root.dataset.frame;
    const hits = window.__nnviz.keptHits || 0;
    const t0 = performance.now();
    m.model.set('epoch', epochs[k % epochs.length]);
    while (root.dataset.frame === before) await new Promise(requestAnimationFrame);
    ctx.getImageData(0, 0, 1, 1);  // the paint has landed
    const kept = (window.__nnviz.keptHits || 0) > hits;
    times.push([performance.now() - t0, kept]);
    await new Promise(r => setTimeout(r, 30));
  }
  return times;
}"""

PLOTLY_SCRUB = """async (n) => {
  const gd = document.getElementById('plot');
  const names = gd._transitionData._frames.map(f => f.name);
  const cv = gd.querySelector('canvas');
  const gl = cv.getContext('webgl') || cv.getContext('webgl2');
  const px = new Uint8Array(4);
  const times = [];
  for (let k = 0; k < n; k++) {
    const t0 = performance.now();
    await Plotly.animate(gd, [names[(k + 1) % names.length]],
      {transition: {duration: 0}, frame: {duration: 0, redraw: true}, mode: 'immediate'});
    await new Promise(requestAnimationFrame);
    if (gl) gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px);
    times.push(performance.now() - t0);
    await new Promise(r => setTimeout(r, 30));
  }
  return times;
}"""


def build() -> None:
    subprocess.run(["npm", "run", "--silent", "build"], cwd=JS, check=True)
    subprocess.run(["node", "build.mjs", "--dev"], cwd=JS, check=True)


def plotly_page(w: int, h: int, n: int = 20000) -> str:
    """The same ``n`` connections of a 784-128-10 MLP (the strongest of fc1, all of fc2) as
    nnviz draws, one frame per epoch."""
    import numpy as np
    import plotly.graph_objects as go
    from plotly.offline import get_plotlyjs

    rng = np.random.default_rng(0)
    w1 = [rng.normal(0, 0.05, (128, 784)) for _ in range(4)]
    w2 = [rng.normal(0, 0.2, (10, 128)) for _ in range(4)]

    def grid(n: int, x: float) -> np.ndarray:
        side = int(np.ceil(np.sqrt(n)))
        i = np.arange(n)
        return np.stack([np.full(n, x), i % side, i // side], axis=1).astype(float)

    p0, p1, p2 = grid(784, 0), grid(128, 10), grid(10, 20)
    keep = np.argsort(-np.abs(w1[-1]).ravel())[: n - 1280]  # the draw budget
    out_i, in_i = np.unravel_index(keep, (128, 784))
    src = np.concatenate([p0[in_i], p1[np.repeat(np.arange(128), 10)]])
    dst = np.concatenate([p1[out_i], p2[np.tile(np.arange(10), 128)]])
    nan = np.full_like(src, np.nan)
    pts = np.stack([src, dst, nan], axis=1).reshape(-1, 3)

    def colors(e: int) -> list[float]:
        v = np.concatenate([w1[e].ravel()[keep], w2[e].T.ravel()])
        return np.repeat(v, 3).round(4).tolist()

    line = {"colorscale": "RdBu", "cmin": -0.2, "cmax": 0.2, "width": 1}
    fig = go.Figure(
        data=[
            go.Scatter3d(
                x=pts[:, 0],
                y=pts[:, 1],
                z=pts[:, 2],
                mode="lines",
                line={**line, "color": colors(0)},
            )
        ],
        frames=[
            go.Frame(data=[go.Scatter3d(line={**line, "color": colors(e)})], name=str(e))
            for e in range(4)
        ],
        layout={
            "width": w,
            "height": h,
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
            "showlegend": False,
        },
    )
    div = fig.to_html(
        include_plotlyjs=False,
        full_html=False,
        div_id="plot",
        config={"plotGlPixelRatio": 1, "staticPlot": False},
    )
    return (
        f"<html><body style='margin:0'><script>{get_plotlyjs()}</script>{div}"
        "<script>window.plotReady = true</script></body></html>"
    )


def serve(page: Any) -> None:
    def handler(route: Any) -> None:
        name = route.request.url.split("?")[0].rsplit("/", 1)[-1] or "index.html"
        path = BUNDLE if name == "widget.js" else DEV / name
        if not path.exists():
            route.fulfill(status=404, body="")
            return
        ctype = "text/html" if name.endswith(".html") else "text/javascript"
        route.fulfill(status=200, body=path.read_bytes(), headers={"content-type": ctype})

    page.route(f"{ORIGIN}/**", handler)


def nnviz_run(ctx: Any, ahead: bool) -> tuple[list[int], str, list[tuple[float, bool]], int]:
    """Mount the 784-128-10 view in a fresh page and scrub it. With ``ahead`` the view first sits
    still for a few seconds (a user reading it), so idle-time rendering ahead (software
    rasterizers only, js/src/view3d/ahead.ts) has run; without it, every epoch's first paint
    renders."""
    page = ctx.new_page()
    serve(page)
    page.goto(f"{ORIGIN}/index.html")
    page.wait_for_function("window.nnvizLoaded === true")
    page.evaluate(
        """async (ahead) => {
          window.__nnviz = {ahead};
          window.mounted = [await nnvizDev.mount(nnvizWidget, document.getElementById('cells'),
                                                 nnvizDev.state('mlp'), {width: 1240})];
        }""",
        ahead,
    )
    page.wait_for_function(
        "document.querySelector('.nnviz-root')?.dataset.ready === '1'", timeout=60000
    )
    if ahead:
        page.wait_for_timeout(3000)
    size = page.evaluate(
        "(() => { const c = document.querySelector('.nnviz-canvas');"
        " return [c.width, c.height]; })()"
    )
    drawn = page.evaluate("document.querySelector('.nnviz-root').dataset.connectionsDrawn")
    times = page.evaluate(NNVIZ_SCRUB, [CHANGES, [0, 1, 2, -1]])
    rendered_ahead = page.evaluate("window.__nnviz.aheadFrames || 0")
    page.close()
    return size, drawn, times, rendered_ahead


def main() -> None:
    from playwright.sync_api import sync_playwright

    build()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        ctx = browser.new_context(viewport={"width": W + 340, "height": 900}, device_scale_factor=1)
        size, drawn, nn, _ = nnviz_run(ctx, ahead=False)
        _, _, warm, n_ahead = nnviz_run(ctx, ahead=True)

        page2 = ctx.new_page()
        page2.set_content(plotly_page(*size, int(drawn)), timeout=120000)
        page2.wait_for_function(
            "window.plotReady === true && document.querySelector('#plot canvas')", timeout=120000
        )
        page2.wait_for_timeout(500)
        pl = page2.evaluate(PLOTLY_SCRUB, max(4, CHANGES // 3))
        browser.close()

    rendered = [t for t, kept in nn if not kept]
    revisits = [t for t, kept in nn if kept]
    b = statistics.median(pl)
    print(f"784-128-10 MLP, {drawn} connections drawn, canvas {size[0]}x{size[1]} at pixel ratio 1")
    print("  nnviz  epoch change -> painted frame:")
    for what, ts in (
        ("rendered (an epoch not shown before)", rendered),
        ("revisited (kept frame)", revisits),
        (f"after 3 s still ({n_ahead} rendered ahead)", [t for t, _ in warm]),
    ):
        if ts:
            each = json.dumps([round(t) for t in ts])
            a = statistics.median(ts)
            print(f"    {what:38s} median {a:7.1f} ms   {b / a:5.1f}x faster than plotly  ({each})")
    each = json.dumps([round(t) for t in pl])
    print(f"  plotly frame change -> painted frame: median {b:7.1f} ms  ({each})")
    print("goal: >= 20x faster than plotly")


if __name__ == "__main__":
    sys.exit(main())
