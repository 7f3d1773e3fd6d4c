"""Scale benchmark: construction, recording and the exported page's frames, from the seed MLP to
10,000 layers.

For each model it prints
  NNViz()    the whole construction (graph extraction, parameters, the init snapshot, encoding);
             the seed MLP also the first construction of the process apart ("cold": torch.export
             imports its tracing machinery then),
  record()   one ``viz.record()`` and the ``flush()`` after it, right after a training step, and
             that step's own time (GPT-2: a batch of 8 x 128 tokens, Adam),
  bytes      what the history holds after the records, against ``max_bytes``,
  frame      headless Chromium on the page ``viz.to_html()`` writes (file://): navigation start
             to the view's first painted frame (``.nnviz-root[data-ready="1"]``),
  orbit      a drag on the 3D canvas: the median time from a pointer move to its painted frame
             (the frame counter moved and a 1-pixel read of the canvas returned),
each with its ratio against the seed MLP (784-128-10) measured in the same run. No assertions:
numbers to read and compare.

Models: the seed MLP; GPT-2 small (transformers ``GPT2Config()``, 124M parameters, built without
download, ~150 layers); Keras ResNet50 (``weights=None``, ~180 layers); generated chains of
Linear + ReLU of about 1,000 and 10,000 layers (``nn.Sequential``).

Usage: python bench/scale.py [--models mlp,gpt2,resnet50,chain1k,chain10k] [--repeat N]
       [--no-browser] [--orbit-moves N] [--lm-probe SEQUENCES]
The default set takes a few minutes on 2 cores; ``--models mlp,chain1k`` well under one.

Measured on the shared 2-core machine (loaded by other work, so absolute times drift by 2x from
run to run: read the ratios), before -> after the changes of the issue "Slow at size":

* A quiet minute, after (``--models mlp,chain1k,chain10k --repeat 1``): seed MLP NNViz() 0.36 s
  cold (first of the process), 0.03 s warm, first frame 2.0 s, orbit 260 ms; 1,002 layers 0.19 s,
  1.8 s, 80 ms; 10,002 layers NNViz() 3.9 s, record 1.7 s, first frame 7.2 s, orbit 425 ms.
* 1,002-layer chain: NNViz() 16.4 s -> 0.4-1.1 s (34x -> 1.5-3x the MLP): a plain ``nn.Sequential``
  is chained in call order instead of exported; graph lookups indexed.
* 10,002-layer chain: NNViz() 27 s -> 11.7 s, record 10.9 -> 5.2 s; its page's first frame
  95 s -> 16 s (CDP profile), of which labels 82 s -> 0.7 s (grid + estimated sizes + batched
  measuring). What is left of the first frame (profile, same machine): the inside panel's health
  strips, one canvas per layer (panels/inside/health.ts, ~4.6 s), creating the WebGL context under
  SwiftShader (~1.5 s), decoding the snapshots (~1.5 s with base64), building the scene (~1.3 s,
  of which the 10,002 label elements 0.6 s), the first paint (~3 s), GC (~1 s). Orbit frames are
  ~450 ms (1.4x the MLP's 20,000 lines): ~75% is ``drawImage`` of the shared WebGL canvas, i.e.
  SwiftShader filling the pixels; placing the labels costs ~25 ms a frame.
* GPT-2 small, probed with the whole 8 x 128 batch: NNViz() 270 s -> 144 s (654x -> 237x the
  MLP), record()+flush() 50% -> 35% of a training step: the probe-gradient pass is a plain call
  now. What is left: the init probe gradients (forward + backward), torch.export, the shape pass,
  the probe pass (the 8 x 128 x 50,257 logits are captured), two flat float32 copies of the 124M
  parameters / gradients. With ``--lm-probe 1`` (one sequence of 128 tokens, a quieter minute):
  NNViz() 18 s (95x the MLP), record()+flush() 4.2 s = 35% of an 11.9 s step. So a record costs
  what the parameter count sets (~34 ns a parameter: the flat float32 copies of parameters and
  gradients ~1.8 s, float64 stats and histograms ~1.5 s, float16 samples ~1 s, in a warm
  profile), not the probe: its share of a step falls as 1 / tokens per step, under 5% from about
  7,000 tokens a step (56 x 128); under 5% at 8 x 128 needs a record that reads only the sampled
  entries and computes the stats in torch.
* The seed MLP: 0.3-0.6 s warm; the first NNViz() of a process takes ~1.8 s, torch.export
  importing its machinery.
* Keras ResNet50: NNViz() 18.5 -> 15.5 s (45x -> 25x the MLP), unchanged code: ~73% of it is
  tracing the probe and probe-gradient ``tf.function`` s at construction (``keras/run.py``
  ``_prepare``, by design: tracing is then not paid inside the loop); <= 2 s needs that tracing
  deferred (to the first record, or a thread).
* Keras ResNet50 (2 probe images of 224 x 224): its history holds 228% of ``max_bytes`` after
  init + one epoch: ``probe.reduce_activation`` keeps at least one sample's feature maps per conv
  layer whatever the budget.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
STANDALONE = REPO / "nnviz_widget" / "static" / "standalone.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--disable-gpu", "--enable-unsafe-swiftshader", "--no-sandbox"]
FRAME_TIMEOUT_MS = 120_000


# ---------------------------------------------------------------------------------------------
# models: each returns (model, probe inputs, one training step or None)

Case = tuple[Any, Any, Callable[[], None] | None]


def _torch_step(model: Any, x: Any, loss_of: Callable[[Any, Any], Any]) -> Callable[[], None]:
    import torch

    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> None:
        opt.zero_grad()
        loss_of(model, x).backward()
        opt.step()

    return step


def mlp() -> Case:
    import torch

    sys.path.insert(0, str(Path(__file__).parent))
    from _common import torch_mlp

    torch.manual_seed(0)
    model = torch_mlp()
    x = torch.randn(32, 784)
    y = torch.randint(0, 10, (32,))
    step = _torch_step(model, x, lambda m, x: torch.nn.functional.cross_entropy(m(x), y))
    return model, x, step


#: sequences of the training batch GPT-2 is probed with (--lm-probe): a record's probe pass is a
#: forward of that many sequences, so its share of a step grows with it
LM_PROBE = [8]


def gpt2() -> Case:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config())
    ids = torch.randint(0, model.config.vocab_size, (8, 128))
    step = _torch_step(model, ids, lambda m, x: m(input_ids=x, labels=x).loss)
    return model, ids[: LM_PROBE[0]], step


def resnet50() -> Case:
    import keras
    import numpy as np

    model = keras.applications.ResNet50(weights=None)
    return model, np.zeros((2, 224, 224, 3), "float32"), None


def chain(blocks: int, width: int = 8) -> Callable[[], Case]:
    def build() -> Case:
        import torch
        from torch import nn

        torch.manual_seed(0)
        model = nn.Sequential(
            *[m for _ in range(blocks) for m in (nn.Linear(width, width), nn.ReLU())]
        )
        x = torch.randn(16, width)
        return model, x, _torch_step(model, x, lambda m, x: m(x).square().mean())

    return build


MODELS: dict[str, tuple[str, Callable[[], Case]]] = {
    "mlp": ("seed MLP 784-128-10", mlp),
    "gpt2": ("GPT-2 small (124M)", gpt2),
    "resnet50": ("Keras ResNet50", resnet50),
    "chain1k": ("chain 500 x (Linear, ReLU)", chain(500)),
    "chain10k": ("chain 5000 x (Linear, ReLU)", chain(5000)),
}


# ---------------------------------------------------------------------------------------------


@dataclass
class Row:
    key: str
    label: str
    layers: int = 0
    params: int = 0
    cold_s: float | None = None
    build_s: float | None = None
    record_s: float | None = None
    flush_s: float | None = None
    step_s: float | None = None
    held: int = 0
    max_bytes: int = 0
    frame_ms: float | None = None
    orbit_ms: float | None = None
    page: Path | None = None
    notes: list[str] = field(default_factory=list)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def measure(row: Row, build: Callable[[], Case], repeat: int, out_dir: Path, cold: bool) -> None:
    import nnviz_widget as nnv

    model, inputs, step = build()
    builds = []
    viz = None
    for i in range(repeat + (1 if cold else 0)):
        t, viz = _timed(lambda: nnv.NNViz(model, inputs=inputs))
        if cold and i == 0:
            row.cold_s = t
        else:
            builds.append(t)
    assert viz is not None
    row.build_s = statistics.median(builds)
    row.layers, row.params = len(viz.graph.layers), viz.graph.total_params
    records, flushes, steps = [], [], []
    if step is not None:
        step()  # the optimizer's state is made on the first step: not a step to time
    for epoch in range(repeat):
        if step is not None:
            t, _ = _timed(step)
            steps.append(t)
        t, _ = _timed(lambda e=epoch: viz.record(e, loss=1.0 / (e + 1)))
        records.append(t)
        t, _ = _timed(viz.flush)
        flushes.append(t)
    row.record_s, row.flush_s = statistics.median(records), statistics.median(flushes)
    row.step_s = statistics.median(steps) if steps else None
    row.held, row.max_bytes = viz.recorder.nbytes, viz.recorder.max_bytes
    row.page = viz.to_html(out_dir / f"{row.key}.html", overwrite=True)


# ---------------------------------------------------------------------------------------------
# the browser: the exported page from file://

WAIT_READY = """async (timeout) => {
  const t0 = performance.now();
  while (document.querySelector('.nnviz-root')?.dataset.ready !== '1') {
    if (performance.now() - t0 > timeout) throw new Error('no data-ready="1"');
    await new Promise(requestAnimationFrame);
  }
  return performance.now();  // since navigation start
}"""

# after a real pointer move (page.mouse): wait for the frame it caused and read one pixel
WAIT_FRAME = """async ([before, timeout]) => {
  const root = document.querySelector('.nnviz-root');
  const t0 = performance.now();
  while (root.dataset.frame === before) {
    if (performance.now() - t0 > timeout) return null;
    await new Promise(requestAnimationFrame);
  }
  root.querySelector('.nnviz-canvas').getContext('2d').getImageData(0, 0, 1, 1);
  return performance.now() - window.__moveAt;
}"""

MOVE_CLOCK = """() => { window.addEventListener('pointermove',
  () => { window.__moveAt = performance.now(); }, {capture: true}); }"""


def browser_frames(rows: list[Row], moves: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for row in rows:
                if row.page is None:
                    continue
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                errors: list[str] = []
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                try:
                    page.goto(row.page.as_uri(), timeout=FRAME_TIMEOUT_MS)
                    row.frame_ms = page.evaluate(WAIT_READY, FRAME_TIMEOUT_MS)
                    row.orbit_ms = _orbit(page, moves)
                except Exception as exc:  # a benchmark reports what it could not measure
                    row.notes.append(
                        "browser: " + (errors[-1] if errors else str(exc)).splitlines()[0][:140]
                    )
                finally:
                    page.close()
        finally:
            browser.close()


def _orbit(page: Any, moves: int) -> float | None:
    """Median pointer-move -> painted-frame time of a left-button drag across the 3D canvas."""
    page.evaluate(MOVE_CLOCK)
    box = page.locator(".nnviz-root .nnviz-canvas").first.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    times = []
    for k in range(moves):
        before = page.evaluate("document.querySelector('.nnviz-root').dataset.frame")
        page.mouse.move(x + 6 * (k + 1), y + 2 * (k + 1))
        t = page.evaluate(WAIT_FRAME, [before, 10_000])
        if t is not None:
            times.append(t)
    page.mouse.up()
    return statistics.median(times) if times else None


# ---------------------------------------------------------------------------------------------


def _s(v: float | None, scale: float = 1.0, fmt: str = "{:,.2f}") -> str:
    return "-" if v is None else fmt.format(v * scale)


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or not b else f"{a / b:,.1f}x"


def report(rows: list[Row]) -> None:
    header = (
        f"{'model':<28} {'layers':>6} {'params':>12} {'NNViz() s':>10} {'record s':>9} "
        f"{'flush s':>8} {'step s':>7} {'held MB':>8} {'frame ms':>9} {'orbit ms':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.label:<28} {r.layers:>6,} {r.params:>12,} {_s(r.build_s):>10} "
            f"{_s(r.record_s, fmt='{:,.3f}'):>9} {_s(r.flush_s, fmt='{:,.3f}'):>8} "
            f"{_s(r.step_s):>7} {r.held / 1e6:>8.1f} {_s(r.frame_ms, fmt='{:,.0f}'):>9} "
            f"{_s(r.orbit_ms, fmt='{:,.1f}'):>9}"
        )
    for r in rows:
        if r.cold_s is not None:
            print(f"  {r.label}: first NNViz() of the process (cold) {r.cold_s:.2f} s")
        if r.step_s and r.record_s is not None and r.flush_s is not None:
            share = (r.record_s + r.flush_s) / r.step_s
            print(f"  {r.label}: record()+flush() = {share:.1%} of a training step")
        if r.max_bytes:
            print(f"  {r.label}: history holds {r.held / r.max_bytes:.1%} of max_bytes")
        for note in r.notes:
            print(f"  note ({r.key}): {note}")
    base = rows[0] if rows else None
    if base is None or len(rows) < 2:
        return
    print(f"\nratios against {base.label}, same run:")
    print(f"  {'model':<28} {'layers':>8} {'NNViz()':>8} {'record':>8} {'frame':>8} {'orbit':>8}")
    for r in rows[1:]:
        rec = None if r.record_s is None else r.record_s + (r.flush_s or 0)
        base_rec = None if base.record_s is None else base.record_s + (base.flush_s or 0)
        print(
            f"  {r.label:<28} {_ratio(r.layers, base.layers):>8} "
            f"{_ratio(r.build_s, base.build_s):>8} {_ratio(rec, base_rec):>8} "
            f"{_ratio(r.frame_ms, base.frame_ms):>8} {_ratio(r.orbit_ms, base.orbit_ms):>8}"
        )
    print(
        "goals (2 cores): NNViz() <= 0.5 s for the seed MLP, <= 2 s for GPT-2 small and ResNet50;"
        " record() < 5% of a GPT-2 step (8 x 128 tokens); 10,000 layers: first frame <= 3 s,"
        " orbit <= 100 ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--models", default="mlp,gpt2,resnet50,chain1k,chain10k")
    parser.add_argument("--repeat", type=int, default=2, help="constructions and records (median)")
    parser.add_argument("--no-browser", action="store_true", help="skip the page's frames")
    parser.add_argument("--orbit-moves", type=int, default=8, help="pointer moves of the drag")
    parser.add_argument("--build", action="store_true", help="npm run build first")
    parser.add_argument("--lm-probe", type=int, default=8, help="GPT-2 probe: sequences of 128")
    args = parser.parse_args(argv)
    LM_PROBE[0] = max(1, min(8, args.lm_probe))
    keys = [k.strip() for k in args.models.split(",") if k.strip()]
    unknown = [k for k in keys if k not in MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {','.join(MODELS)}")
    if "mlp" in keys:  # the baseline goes first
        keys.remove("mlp")
    keys.insert(0, "mlp")
    if args.build:
        subprocess.run(["npm", "run", "--silent", "build"], cwd=REPO / "js", check=True)
    if not STANDALONE.exists():
        print(f"{STANDALONE} is missing: cd js && npm run build", file=sys.stderr)
        return 1
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="nnviz-scale-") as tmp:
        for key in keys:
            label, build = MODELS[key]
            row = Row(key, label)
            rows.append(row)
            try:
                measure(row, build, max(1, args.repeat), Path(tmp), cold=key == "mlp")
            except Exception as exc:
                row.notes.append(f"{type(exc).__name__}: {exc}"[:160])
            print(f"  measured {label}", file=sys.stderr)
        if not args.no_browser:
            browser_frames(rows, args.orbit_moves)
    report(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
