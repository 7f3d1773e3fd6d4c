// "Inside the network": the probe sample (image + label + prediction), the decision boundary of
// a 2-D-input model with each hidden neuron's field, the selected layer's images (feature maps,
// first-layer filters, a dense layer's incoming weights read as images, sequence heatmaps,
// attention layers' mean attention over heads) and a training-health strip. Built once per data / layer change; scrubbing the epoch or the sample
// only repaints the existing canvases (putImageData), no DOM rebuild.
// Layer names are untrusted: every string from the model goes through textContent.
import { css as cssColor, type RGB } from "../../color/scales";
import { h, injectStyle } from "../../util/dom";
import { insideCss } from "../../styles/inside";
import { modeRange, modeValues } from "../../color/modes";
import { BOUNDARY_HIGH, BOUNDARY_LOW, boundaryImage, classColor, divergingImage, fieldImage, finiteRange, grayscaleImage, gridImage, heatmapImage, makeImage, maxAbs, planeToPixel, putImage, quantileAbs, rgbImage, sequentialImage, type Img, type Place } from "../../color/images";
import { HEALTH_COLORS, hasHealth, healthBadges, healthLine, healthState, mergedHealth, type HealthState } from "../../data/health";
import type { Store } from "../../data/store";
import type { LayerInfo, ProbeInfo, Snapshot } from "../../data/types";
import type { SubView, ViewContext } from "../../data/view";
import { gridLayout, type GridLayout } from "../../util/grid";

export { healthBadges, mergedHealth } from "../../data/health";

/** Most tiles in one grid (feature maps, filters, weight images); the rest are counted in a note. */
export const MAX_TILES = 64;
const PROBE_CSS = 96; // px, the probe image's longer side
const BOUNDARY_CSS = 220; // px, the decision boundary's side
const FIELD_CSS = 36; // px, one neuron's field tile
const GRID_MAX_H = 240; // px, tallest image grid
const HEALTH_ROW = 11; // px, one health strip row
const ATTN_CELL_MAX = 28; // px, one query x key cell of an attention map
const ATTN_MAX_H = 240; // px, tallest attention map

type Draw = () => void;

interface Part {
  el: HTMLElement;
  draw: Draw;
}

function pxCanvas(cls = ""): HTMLCanvasElement {
  const c = document.createElement("canvas");
  c.className = `nnviz-inside-px ${cls}`.trim();
  return c;
}

function sizeCss(c: HTMLCanvasElement, w: number, hh: number): void {
  c.style.width = `${Math.round(w)}px`;
  c.style.height = `${Math.round(hh)}px`;
}

/** Integer scale when the image can be shown at 2x or more, else the exact fit. */
function fitScale(w: number, hh: number, maxW: number, maxH: number, maxScale = 12): number {
  const s = Math.min(maxW / Math.max(w, 1), maxH / Math.max(hh, 1), maxScale);
  return s >= 2 ? Math.floor(s) : Math.max(s, 0.25);
}

/** Largest on-screen side of one tile in an image grid (px): small kernels get big, 28x28 stays 1-2x. */
export const MAX_TILE_CSS = 56;

/** The grid of n tiles of h x w that shows the tiles biggest within maxW x maxH (each tile at
 *  most MAX_TILE_CSS px): its layout and the CSS scale (an integer from 2x up). */
export function fitGrid(n: number, th: number, tw: number, maxW: number, maxH: number): { grid: GridLayout; scale: number } {
  const maxScale = Math.max(1, Math.min(16, MAX_TILE_CSS / Math.max(th, tw, 1)));
  let best: { grid: GridLayout; scale: number } | null = null;
  for (let cols = 1; cols <= Math.max(1, n); cols++) {
    const g = gridLayout(n, th, tw, cols, 1);
    const s = fitScale(g.width, g.height, maxW, maxH, maxScale);
    if (!best || s > best.scale + 1e-9 || (Math.abs(s - best.scale) < 1e-9 && g.rows < best.grid.rows)) {
      best = { grid: g, scale: s };
    }
  }
  return best!;
}

function fmtAxis(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a >= 100 || (a > 0 && a < 0.01) ? v.toExponential(1) : String(Number(v.toFixed(2)));
}

function fmtLabel(v: number | undefined): string {
  if (v === undefined || v === null) return "–";
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3)));
}

type ActEntry = NonNullable<ReturnType<Snapshot["acts"]["get"]>>;

/** Where a layer's activations live at an epoch: this snapshot, else the last earlier one with them. */
function actAt(store: Store, layer: string, epoch: number): ActEntry | null {
  for (let j = store.indexAt(epoch); j >= 0; j--) {
    const a = store.snapshots[j].acts.get(layer);
    if (a) return a;
  }
  return null;
}

/** The snapshot with a decision boundary shown at an epoch (thinned epochs fall back). */
function boundaryAt(store: Store, epoch: number): Snapshot | null {
  for (let j = store.indexAt(epoch); j >= 0; j--) if (store.snapshots[j].boundary) return store.snapshots[j];
  return null;
}

function fieldsAt(store: Store, epoch: number): Snapshot | null {
  for (let j = store.indexAt(epoch); j >= 0; j--) if (store.snapshots[j].fields.size) return store.snapshots[j];
  return null;
}

export function createInside(ctx: ViewContext, probe: () => ProbeInfo | null = () => null): SubView {
  injectStyle("nnviz-inside-style", insideCss);
  const store = ctx.store;
  const el = h("div", "nnviz-inside");
  el.setAttribute("aria-label", "inside the network");
  let width = 300;
  let parts: Part[] = [];
  let draws = 0;
  let weightMode: "weight" | "delta" = "weight"; // weight images: raw, or the change since init
  // fixed ranges per layer across epochs (reset when the data changes)
  const actRanges = new Map<string, { lo: number; abs: number }>();
  const fieldRanges = new Map<string, number>();

  const st = () => ctx.state();
  const epochNow = () => st().epoch;
  const probeInfo = (): ProbeInfo | null => {
    const p = probe();
    return p && typeof p === "object" && Number(p.n) > 0 ? p : null;
  };
  const sampleNow = () => {
    const p = probeInfo();
    const s = Math.max(0, Math.floor(Number(st().sample ?? 0)) || 0);
    return p ? Math.min(s, p.n - 1) : s;
  };
  const avail = () => Math.max(120, width - 22);

  /** A layer's activations' fixed range across epochs: the sign of the smallest value (to pick
   *  a sequential or diverging scale) and the 99th percentile of |values| (robust to outliers). */
  function actRange(layer: string): { lo: number; abs: number } {
    let r = actRanges.get(layer);
    if (!r) {
      let lo = Infinity;
      const arrays: Float32Array[] = [];
      for (const s of store.snapshots) {
        const a = s.acts.get(layer);
        if (!a) continue;
        lo = Math.min(lo, finiteRange(a.act)[0]);
        arrays.push(a.act);
      }
      r = { lo: Number.isFinite(lo) ? lo : 0, abs: quantileAbs(arrays, 0.99) };
      actRanges.set(layer, r);
    }
    return r;
  }

  function fieldRange(layer: string): number {
    let r = fieldRanges.get(layer);
    if (r === undefined) {
      r = 0;
      for (const s of store.snapshots) {
        const f = s.fields.get(layer);
        if (f) r = Math.max(r, maxAbs(f));
      }
      fieldRanges.set(layer, r);
    }
    return r;
  }

  function section(name: string, right?: HTMLElement): { sec: HTMLElement; head: HTMLElement } {
    const sec = h("div", "nnviz-inside-section");
    const head = h("div", "nnviz-inside-h");
    head.appendChild(h("span", undefined, name));
    if (right) {
      right.classList.add("nnviz-inside-h-right");
      head.appendChild(right);
    }
    sec.appendChild(head);
    return { sec, head };
  }

  /** "label 7 · predicted 7" spans, green when right, red when wrong. */
  function predictionFacts(box: HTMLElement): Draw {
    const sampleEl = h("span");
    const labelEl = h("span");
    const predEl = h("span", "nnviz-inside-pred");
    box.append(sampleEl, labelEl, predEl);
    return () => {
      const p = probeInfo();
      const s = sampleNow();
      sampleEl.textContent = p ? `sample ${s} of ${p.n}` : "";
      const label = p?.labels?.[s];
      labelEl.textContent = label === undefined ? "" : `label ${fmtLabel(label)}`;
      labelEl.style.display = label === undefined ? "none" : "";
      const pred = store.at(epochNow())?.pred?.[s];
      if (pred === undefined) {
        predEl.textContent = "";
        predEl.style.display = "none";
        return;
      }
      predEl.style.display = "";
      // right / wrong only for class labels (a regression target is not a class)
      const right = label === undefined || !Number.isInteger(label) ? null : label === pred;
      predEl.textContent = `predicted ${fmtLabel(pred)}${right === null ? "" : right ? " ✓" : " ✗"}`;
      predEl.className = `nnviz-inside-pred${right === null ? "" : right ? " nnviz-inside-ok" : " nnviz-inside-bad"}`;
      predEl.dataset.correct = right === null ? "" : right ? "1" : "0";
    };
  }

  // -- the probe input as an image (or, for other inputs, its label and prediction) ----------
  function probePart(): Part | null {
    const p = probeInfo();
    if (!p) return null;
    const hasImage = !!p.input && !!p.image_shape && p.image_shape.length >= 2 && !!actAt(store, p.input, epochNow());
    if (!hasImage) {
      if (!p.labels && !store.snapshots.some((s) => s.pred.length)) return null;
      const { sec } = section("probe input");
      const facts = h("div", "nnviz-inside-facts");
      sec.appendChild(facts);
      return { el: sec, draw: predictionFacts(facts) };
    }
    if (!p.input || !p.image_shape) return null;
    const [ih, iw, ic = 1] = p.image_shape;
    const { sec } = section("probe input");
    const row = h("div", "nnviz-inside-probe");
    const canvas = pxCanvas("nnviz-inside-probe-img");
    const s = fitScale(iw, ih, PROBE_CSS, PROBE_CSS);
    sizeCss(canvas, iw * s, ih * s);
    const facts = h("div", "nnviz-inside-facts");
    row.append(canvas, facts);
    sec.appendChild(row);
    const drawFacts = predictionFacts(facts);
    let img: Img | null = null;
    const draw = () => {
      const a = store.activation(p.input!, epochNow(), sampleNow());
      if (!a) return;
      const v = a.values;
      const n = ih * iw;
      img = img ?? makeImage(iw, ih);
      const at: Place = { img, x: 0, y: 0 };
      // channels first (C, H, W) after the recorder's canonical(); (H, W, C) when it stayed last
      const last = a.shape.length === 3 && a.shape[2] === ic && a.shape[0] === ih && ic > 1;
      if (ic === 3 && v.length >= 3 * n && !last) rgbImage(v, ih, iw, 0, at);
      else if (last) grayscaleImage(v, ih, iw, { ink: true, step: ic }, at);
      else grayscaleImage(v, ih, iw, { ink: true }, at);
      putImage(canvas, img);
      drawFacts();
    };
    return { el: sec, draw };
  }

  // -- decision boundary + probe points ----------------------------------------------------
  function boundaryPart(): Part | null {
    const first = boundaryAt(store, epochNow()) ?? store.snapshots.find((s) => s.boundary) ?? null;
    if (!first?.boundary) return null;
    const meta = first.boundary.meta;
    const epochEl = h("span");
    const { sec } = section("decision boundary", epochEl);
    const size = Math.min(BOUNDARY_CSS, avail() - 34);
    const plot = h("div", "nnviz-inside-plot");
    const yaxis = h("div", "nnviz-inside-yaxis");
    const [x0, x1, y0, y1] = meta.extent;
    yaxis.append(h("span", undefined, fmtAxis(y1)), h("span", undefined, "y"), h("span", undefined, fmtAxis(y0)));
    yaxis.style.height = `${size + 2}px`;
    const box = h("div", "nnviz-inside-box");
    box.style.width = `${size + 2}px`;
    box.style.height = `${size + 2}px`;
    const canvas = pxCanvas("nnviz-inside-boundary");
    sizeCss(canvas, size, size);
    const dots = document.createElement("canvas");
    dots.className = "nnviz-inside-points";
    sizeCss(dots, size, size);
    box.append(canvas, dots);
    const xaxis = h("div", "nnviz-inside-xaxis");
    xaxis.append(h("span", undefined, fmtAxis(x0)), h("span", undefined, "x"), h("span", undefined, fmtAxis(x1)));
    plot.append(yaxis, box, xaxis);
    sec.appendChild(plot);

    const keys = h("div", "nnviz-inside-keys");
    const key = (color: RGB, text: string, dot = false) => {
      const k = h("span", "nnviz-inside-key");
      const sw = h("span", dot ? "nnviz-inside-dot" : "nnviz-inside-swatch");
      sw.style.background = cssColor(color);
      k.append(sw, document.createTextNode(text));
      keys.appendChild(k);
    };
    if (meta.mode === "multiclass") {
      for (let c = 0; c < Math.min(meta.classes, 10); c++) key(classColor(c), `class ${c}`);
    } else if (meta.mode === "binary") {
      const labelled = !!probeInfo()?.labels;
      key(BOUNDARY_LOW, labelled ? "class 0 (output → 0)" : "output → 0");
      key(BOUNDARY_HIGH, labelled ? "class 1 (output → 1)" : "output → 1");
    } else {
      key(BOUNDARY_LOW, "low");
      key(BOUNDARY_HIGH, "high");
    }
    sec.appendChild(keys);
    const facts = h("div", "nnviz-inside-facts");
    facts.style.marginTop = "3px";
    sec.appendChild(facts);
    const drawFacts = predictionFacts(facts);

    let img: Img | null = null;
    // regression: one value range over every epoch, so colors compare while scrubbing
    let reg: { lo?: number; hi?: number } | null = null;
    const regressionRange = () => {
      if (!reg) {
        let lo = Infinity, hi = -Infinity;
        for (const s of store.snapshots) {
          const m = s.boundary?.meta;
          if (m?.mode !== "regression") continue;
          const a = Number(m.lo), b = Number(m.hi);
          if (Number.isFinite(a)) lo = Math.min(lo, a);
          if (Number.isFinite(b)) hi = Math.max(hi, b);
        }
        reg = hi > lo ? { lo, hi } : {};
      }
      return reg;
    };
    const draw = () => {
      const snap = boundaryAt(store, epochNow());
      if (!snap?.boundary) return;
      const b = snap.boundary;
      epochEl.textContent = snap.label;
      img = img && img.width === b.meta.res ? img : makeImage(b.meta.res, b.meta.res);
      boundaryImage(b, b.meta.mode === "regression" ? regressionRange() : {}, { img, x: 0, y: 0 });
      putImage(canvas, img);
      drawPoints(b.meta.extent, b.meta.mode);
      drawFacts();
    };

    function drawPoints(extent: [number, number, number, number], mode: string) {
      const dpr = Math.max(1, Math.min(3, globalThis.devicePixelRatio || 1));
      const px = Math.round(size * dpr);
      if (dots.width !== px) dots.width = px;
      if (dots.height !== px) dots.height = px;
      const g = dots.getContext("2d");
      if (!g) return;
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.clearRect(0, 0, size, size);
      const p = probeInfo();
      if (!p?.input) return;
      const a = actAt(store, p.input, epochNow());
      if (!a || a.info.shape.reduce((x, y) => x * y, 1) !== 2) return;
      const pts = a.act;
      const n = Math.min(a.info.samples, pts.length / 2);
      const cur = sampleNow();
      const colorOf = (i: number): string => {
        const lab = p.labels?.[i];
        if (lab === undefined || !Number.isInteger(lab)) return "#4b5563";
        if (mode === "multiclass") return cssColor(classColor(lab));
        return cssColor(lab ? BOUNDARY_HIGH : BOUNDARY_LOW);
      };
      const order = [...Array(n).keys()].filter((i) => i !== cur);
      if (cur < n) order.push(cur); // the current sample on top
      for (const i of order) {
        const [x, y] = planeToPixel(pts[2 * i], pts[2 * i + 1], extent, size, size);
        if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
        const on = i === cur;
        g.beginPath();
        g.arc(x, y, on ? 5.5 : 3.5, 0, Math.PI * 2);
        g.fillStyle = colorOf(i);
        g.fill();
        g.lineWidth = on ? 2 : 1;
        g.strokeStyle = on ? "#111827" : "#ffffff";
        g.stroke();
      }
    }
    return { el: sec, draw };
  }

  // -- per-neuron fields (TF Playground's tiles) -------------------------------------------
  function fieldsPart(): Part | null {
    const snap = fieldsAt(store, epochNow()) ?? store.snapshots.find((s) => s.fields.size) ?? null;
    if (!snap) return null;
    const layers = store.graph.layers;
    const order = new Map(layers.map((l, i) => [l.name, i]));
    const lastDense = layers.reduce((m, l, i) => (l.kind === "dense" ? i : m), -1);
    const succ = (name: string): LayerInfo[] =>
      store.graph.edges.filter(([a]) => a === name).map(([, b]) => store.layer(b)).filter((l): l is LayerInfo => !!l);
    const rows: { layer: LayerInfo; label: string }[] = [];
    for (const l of layers) {
      if (!snap.fields.has(l.name)) continue;
      const i = order.get(l.name) ?? 0;
      if (lastDense >= 0 && i > lastDense) continue; // after the last dense layer: the output
      if (l.kind === "dense") {
        const act = succ(l.name).find((x) => x.kind === "activation" && snap.fields.has(x.name));
        if (act) continue; // shown after its activation (what the next layer sees)
        rows.push({ layer: l, label: l.name });
      } else {
        const pre = store.graph.edges.find(([, b]) => b === l.name)?.[0];
        rows.push({ layer: l, label: pre && snap.fields.has(pre) ? `${pre} → ${l.name}` : l.name });
      }
    }
    if (!rows.length) return null;
    const res = snap.boundary?.meta.field_res ?? Math.round(Math.sqrt((snap.fields.get(rows[0].layer.name)?.length ?? 0) / Math.max(1, rows[0].layer.units ?? 1)));
    const { sec } = section("neurons over the input plane");
    const box = h("div", "nnviz-inside-fields");
    sec.appendChild(box);
    const draws: Draw[] = [];
    for (const { layer, label } of rows) {
      const name = h("div", "nnviz-inside-field-name", label);
      const tiles = h("div", "nnviz-inside-tiles");
      const f0 = snap.fields.get(layer.name)!;
      const units = Math.floor(f0.length / (res * res));
      const canvases: HTMLCanvasElement[] = [];
      // one row when it fits (tiles from 22 px up to FIELD_CSS), else wrap at FIELD_CSS
      const fit = Math.floor((avail() - 3 * (units - 1)) / Math.max(units, 1)) - 2;
      const tile = fit >= 22 ? Math.min(FIELD_CSS, fit) : FIELD_CSS;
      for (let u = 0; u < units; u++) {
        const c = pxCanvas("nnviz-inside-field");
        sizeCss(c, tile, tile);
        c.title = `${layer.name} · neuron ${u}`;
        tiles.appendChild(c);
        canvases.push(c);
      }
      box.append(name, tiles);
      const act = String(layer.detail?.activation ?? "").toLowerCase();
      const imgs = canvases.map(() => makeImage(res, res));
      draws.push(() => {
        const s = fieldsAt(store, epochNow());
        const f = s?.fields.get(layer.name);
        if (!f) return;
        let center = 0;
        let half = fieldRange(layer.name);
        if (act === "sigmoid" || act === "hard_sigmoid") [center, half] = [0.5, 0.5];
        else if (act === "tanh") half = 1;
        for (let u = 0; u < canvases.length && (u + 1) * res * res <= f.length; u++) {
          fieldImage(f, res, center, half, u * res * res, { img: imgs[u], x: 0, y: 0 });
          putImage(canvases[u], imgs[u]);
        }
      });
    }
    sec.appendChild(h("div", "nnviz-inside-note", "each tile: one neuron's output at every point of the plot above"));
    return { el: sec, draw: () => draws.forEach((d) => d()) };
  }

  // -- the selected (or default) layer's images --------------------------------------------
  function firstConv(): LayerInfo | undefined {
    return store.graph.layers.find((l) => l.kind === "conv");
  }

  function imageDense(l: LayerInfo | undefined): boolean {
    const p = probeInfo();
    const img = p?.image_shape;
    if (!l || l.kind !== "dense" || !p?.input || !img || img.length < 2) return false;
    if (store.graph.neuron_source[l.name] !== p.input) return false;
    const shape = store.fullShape(l.name);
    const pixels = img.reduce((a, b) => a * b, 1);
    return !!shape && shape.length === 2 && shape[1] === pixels;
  }

  function defaultLayer(): LayerInfo | undefined {
    return store.graph.layers.find((l) => imageDense(l)) ?? firstConv();
  }

  /** A titled grid of tiles in one canvas; `fill(at, i)` paints tile i for the current state. */
  function gridBlock(box: HTMLElement, cls: string, title: string, n: number, th: number, tw: number,
    fill: (i: number, at: Place) => boolean, total = n): Draw {
    box.appendChild(h("div", "nnviz-inside-title", title));
    const { grid, scale } = fitGrid(n, th, tw, avail(), GRID_MAX_H);
    const canvas = pxCanvas(cls);
    sizeCss(canvas, grid.width * scale, grid.height * scale);
    box.appendChild(canvas);
    if (total > n) box.appendChild(h("div", "nnviz-inside-note", `first ${n} of ${total}`));
    let img: Img | null = null;
    return () => {
      let ok = true;
      img = gridImage(grid, (i, at) => {
        if (!fill(i, at)) ok = false;
      }, img ?? undefined);
      canvas.style.visibility = ok ? "" : "hidden";
      putImage(canvas, img);
    };
  }

  function layerPart(): Part | null {
    const selected = st().layer;
    const l = selected ? store.layer(selected) : defaultLayer();
    if (!l) return null;
    const { sec } = section(selected ? "selected layer" : "inside a layer", h("span", undefined, selected ? "" : "select a layer for more"));
    const draws: Draw[] = [];
    const p = probeInfo();

    // filters of the first conv layer: (out, in, kh, kw), mean over the input channels
    const wshape = store.fullShape(l.name);
    if (l.kind === "conv" && firstConv()?.name === l.name && wshape && wshape.length === 4 && !store.sampleIndices(l.name)) {
      const [out, cin, kh, kw] = wshape;
      const n = Math.min(out, MAX_TILES);
      const per = kh * kw;
      const scratch = new Float32Array(per);
      draws.push(gridBlock(sec, "nnviz-inside-filters", `filters of ${l.name}${cin > 1 ? ` (mean of ${cin} input channels)` : ""}`, n, kh, kw, (i, at) => {
        const w = store.weight(l.name, epochNow());
        if (!w || w.length < out * cin * per) return false;
        scratch.fill(0);
        for (let c = 0; c < cin; c++) {
          const base = (i * cin + c) * per;
          for (let k = 0; k < per; k++) scratch[k] += w[base + k] / cin;
        }
        divergingImage(scratch, kh, kw, modeRange(store, l.name, { colorBy: "weight" }), {}, at);
        return true;
      }, out));
    }

    // a dense layer reading the image input: each neuron's incoming weights as an image, or
    // what training changed since init (the init noise taken away)
    if (imageDense(l) && p?.image_shape && wshape && !store.sampleIndices(l.name)) {
      const [ih, iw, ic = 1] = p.image_shape;
      const [out, fanIn] = wshape;
      const n = Math.min(out, MAX_TILES);
      const last = store.graph.data_format === "channels_last";
      const plane = ih * iw;
      const scratch = new Float32Array(plane);
      const toggle = h("div", "nnviz-inside-toggle");
      const buttons = (["weight", "delta"] as const).map((m) => {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = m === "weight" ? "weights" : "change since init";
        b.dataset.mode = m;
        toggle.appendChild(b);
        return b;
      });
      sec.appendChild(toggle);
      let cache: { epoch: number; mode: string; values: Float32Array | null; range: number } | null = null;
      const current = () => {
        const e = epochNow();
        if (!cache || cache.epoch !== e || cache.mode !== weightMode) {
          const values = weightMode === "delta" ? modeValues(store, l.name, e, { colorBy: "delta", deltaRef: "init" }) : store.weight(l.name, e);
          const range = weightMode === "delta" ? modeRange(store, l.name, { colorBy: "delta", deltaRef: "init" }) : modeRange(store, l.name, { colorBy: "weight" });
          cache = { epoch: e, mode: weightMode, values, range };
        }
        return cache;
      };
      const drawGrid = gridBlock(sec, "nnviz-inside-weights", "", n, ih, iw, (i, at) => {
        const { values: w, range } = current();
        if (!w || w.length < out * fanIn) return false;
        if (ic === 1) {
          divergingImage(w, ih, iw, range, { offset: i * fanIn }, at);
          return true;
        }
        for (let k = 0; k < plane; k++) {
          let sum = 0;
          for (let c = 0; c < ic; c++) sum += w[i * fanIn + (last ? k * ic + c : c * plane + k)];
          scratch[k] = sum / ic;
        }
        divergingImage(scratch, ih, iw, range, {}, at);
        return true;
      }, out);
      const title = toggle.nextElementSibling as HTMLElement;
      const note = h("div", "nnviz-inside-note");
      sec.appendChild(note);
      const drawAll = () => {
        for (const b of buttons) b.classList.toggle("nnviz-inside-on", b.dataset.mode === weightMode);
        title.textContent = weightMode === "delta"
          ? `what ${l.name}'s incoming weights learned since init, one image per neuron`
          : `incoming weights of ${l.name}, one image per neuron`;
        note.textContent = weightMode === "delta"
          ? "weights now minus weights at init; red: grew, blue: shrank"
          : "red: input there excites the neuron; blue: inhibits it";
        drawGrid();
      };
      for (const b of buttons) {
        b.addEventListener("click", () => {
          weightMode = b.dataset.mode === "delta" ? "delta" : "weight";
          drawAll();
        });
      }
      draws.push(drawAll);
    }

    // feature maps (C, H, W) for the current sample; a conv followed by its own activation
    // layer (torch's Conv2d -> ReLU) shows the maps after it, as Keras' Conv2D(activation=) does
    const latestEpoch = store.latest()?.epoch ?? epochNow();
    const next = store.graph.edges.filter(([x]) => x === l.name).map(([, y]) => store.layer(y));
    const after = l.kind === "conv" && next.length === 1 && next[0]?.kind === "activation" && actAt(store, next[0].name, latestEpoch)
      ? next[0] : null;
    const mapsOf = after ?? l;
    const a0 = actAt(store, mapsOf.name, latestEpoch);
    if (a0 && (a0.info.mode === "full" || a0.info.mode === "maps") && a0.info.shape.length === 3 && l.kind !== "input") {
      const [cch, mh, mw] = a0.info.shape;
      const n = Math.min(cch, MAX_TILES);
      const block = h("div");
      const draw = gridBlock(block, "nnviz-inside-maps", "", n, mh, mw, (i, at) => {
        const a = actAt(store, mapsOf.name, epochNow());
        const s = sampleNow();
        if (!a || s >= a.info.samples) return false;
        const r = actRange(mapsOf.name);
        const offset = s * cch * mh * mw + i * mh * mw;
        if (r.lo >= 0) sequentialImage(a.act, mh, mw, r.abs, { offset }, at);
        else divergingImage(a.act, mh, mw, r.abs, { offset }, at);
        return true;
      }, cch);
      const titleNode = block.firstChild as HTMLElement;
      const note = h("div", "nnviz-inside-note");
      block.appendChild(note);
      sec.appendChild(block);
      draws.push(() => {
        const s = sampleNow();
        titleNode.textContent = `feature maps of ${l.name}${after ? ` (after ${after.name})` : ""} for sample ${s}`;
        const a = actAt(store, mapsOf.name, epochNow());
        note.textContent = a && s >= a.info.samples ? `feature maps were kept for the first ${a.info.samples} probe samples only` : "";
        note.style.display = note.textContent ? "" : "none";
        draw();
      });
    }

    const a1 = actAt(store, l.name, latestEpoch);
    // sequences: (tokens, features) as a heatmap
    if (a1 && a1.info.mode === "full" && a1.info.shape.length === 2 && l.kind !== "input") {
      const [tok, feat] = a1.info.shape;
      const titleNode = h("div", "nnviz-inside-title");
      const canvas = pxCanvas("nnviz-inside-heatmap");
      const sW = avail() / feat;
      const sH = Math.min(Math.max(sW, 160 / tok), 12, 200 / tok);
      sizeCss(canvas, avail(), Math.max(tok * sH, 8));
      sec.append(titleNode, canvas, h("div", "nnviz-inside-note", `rows: ${tok} tokens · columns: ${feat} features`));
      let img: Img | null = null;
      draws.push(() => {
        const s = sampleNow();
        titleNode.textContent = `output of ${l.name} for sample ${s} (tokens × features)`;
        const a = actAt(store, l.name, epochNow());
        if (!a || s >= a.info.samples) return;
        const r = actRange(l.name);
        img = img ?? makeImage(feat, tok);
        heatmapImage(a.act, tok, feat, { scale: r.lo >= 0 ? "sequential" : "diverging", range: r.abs, offset: s * tok * feat }, { img, x: 0, y: 0 });
        putImage(canvas, img);
      });
    }

    // attention layers: the current sample's attention averaged over heads (queries x keys)
    const attnShape = l.kind === "attention" ? store.attentionShape(l.name) : null;
    if (attnShape) draws.push(attentionBlock(sec, l.name, attnShape[1], attnShape[2]));

    if (!draws.length) return null;
    return { el: sec, draw: () => draws.forEach((d) => d()) };
  }

  /** A queries x keys heatmap of a layer's mean attention over heads for the current sample at
   *  the current epoch, on a fixed 0..max scale across epochs (so scrubbing compares). */
  function attentionBlock(sec: HTMLElement, name: string, tq: number, tk: number): Draw {
    const titleNode = h("div", "nnviz-inside-title");
    const cell = Math.max(1, Math.min(ATTN_CELL_MAX, (avail() - 30) / tk, ATTN_MAX_H / tq));
    const w = tk * cell;
    const hh = tq * cell;
    const plot = h("div", "nnviz-inside-plot");
    const yaxis = h("div", "nnviz-inside-yaxis");
    yaxis.append(h("span", undefined, "0"), h("span", undefined, "query"), h("span", undefined, String(tq - 1)));
    yaxis.style.height = `${Math.round(hh) + 2}px`;
    const box = h("div", "nnviz-inside-box");
    box.style.width = `${Math.round(w) + 2}px`;
    box.style.height = `${Math.round(hh) + 2}px`;
    const canvas = pxCanvas("nnviz-inside-attention");
    sizeCss(canvas, w, hh);
    canvas.dataset.queries = String(tq);
    canvas.dataset.keys = String(tk);
    box.appendChild(canvas);
    const xaxis = h("div", "nnviz-inside-xaxis");
    xaxis.append(h("span", undefined, "0"), h("span", undefined, "key"), h("span", undefined, String(tk - 1)));
    plot.append(yaxis, box, xaxis);
    const note = h("div", "nnviz-inside-note");
    sec.append(titleNode, plot, note);
    let max = 0;
    for (const snap of store.snapshots) {
      const a = snap.acts.get(name)?.attn;
      if (a) max = Math.max(max, maxAbs(a));
    }
    const range = max > 0 ? max : 1;
    let img: Img | null = null;
    let shown: Float32Array | null = null;
    canvas.addEventListener("mousemove", (e) => {
      const r = canvas.getBoundingClientRect();
      const j = Math.floor(((e.clientX - r.left) / Math.max(1, r.width)) * tk);
      const i = Math.floor(((e.clientY - r.top) / Math.max(1, r.height)) * tq);
      const v = shown && i >= 0 && i < tq && j >= 0 && j < tk ? shown[i * tk + j] : undefined;
      canvas.title = v === undefined ? "" : `query ${i} → key ${j}: ${v.toFixed(3)}`;
    });
    return () => {
      const s = sampleNow();
      const e = epochNow();
      titleNode.textContent = `mean attention over heads of ${name} for sample ${s}`;
      const a = store.attention(name, e, s);
      shown = a ? a.values : null;
      canvas.dataset.sample = String(s);
      canvas.dataset.epoch = a ? String(a.epoch) : "";
      canvas.style.visibility = a ? "" : "hidden";
      const kept = store.at(e)?.acts.get(name)?.attnShape?.[0] ?? store.attentionShape(name)?.[0] ?? 0;
      const notes = [`rows: ${tq} queries · columns: ${tk} keys · each row sums to 1 · darker = more attention (scale 0–${range.toFixed(2)})`];
      if (!a && s >= kept) notes.push(`attention maps were kept for the first ${kept} probe samples only`);
      else if (!a) notes.push("no attention map recorded at this epoch");
      else if (store.at(e) && a.epoch !== store.at(e)!.epoch) notes.push(`shown from epoch ${a.epoch} (this epoch was thinned)`);
      note.textContent = notes.join(" — ");
      if (!a) return;
      img = img ?? makeImage(tk, tq);
      heatmapImage(a.values, tq, tk, { scale: "sequential", range }, { img, x: 0, y: 0 });
      putImage(canvas, img);
    };
  }

  // -- training health ---------------------------------------------------------------------
  const mergedHealthAt = (snap: Snapshot, name: string) => mergedHealth(store.graph, snap.health, name);

  function healthPart(): Part | null {
    const snaps = store.snapshots;
    if (!snaps.length) return null;
    const selected = st().layer;
    const names = selected
      ? [selected]
      : store.graph.layers.map((l) => l.name).filter((n) => snaps.some((s) => hasHealth(s.health[n])));
    const rows = names
      .map((name) => ({ name, cells: snaps.map((s) => (selected ? mergedHealthAt(s, name) : s.health[name] ?? null)) }))
      .filter((r) => r.cells.some((c) => hasHealth(c)));
    if (!rows.length) return null;
    const { sec } = section("training health", h("span", undefined, `${snaps.length} epochs`));
    const grid = h("div", "nnviz-inside-health");
    const n = snaps.length;
    const stripW = Math.max(40, avail() - (selected ? 0 : 90));
    // whole pixels per epoch when they fit, else fractional: the strip never overflows
    const cellW = stripW / n >= 2 ? Math.min(16, Math.floor(stripW / n)) : stripW / n;
    const strips: { canvas: HTMLCanvasElement; states: HealthState[] }[] = [];
    for (const r of rows) {
      if (!selected) grid.appendChild(h("span", "nnviz-inside-hname", r.name)).setAttribute("title", r.name);
      const canvas = document.createElement("canvas");
      canvas.className = "nnviz-inside-hstrip";
      sizeCss(canvas, Math.max(1, Math.round(cellW * n)), HEALTH_ROW);
      canvas.title = `${r.name}: click an epoch to go there`;
      grid.appendChild(canvas);
      strips.push({ canvas, states: r.cells.map((c) => healthState(c)) });
    }
    if (selected) grid.style.gridTemplateColumns = "auto";
    sec.appendChild(grid);
    // keys for the states that occur (plus ok)
    const seen = new Set<HealthState>(["ok"]);
    for (const s of strips) for (const x of s.states) if (x !== "none") seen.add(x);
    const keys = h("div", "nnviz-inside-keys");
    for (const stt of ["ok", "dead", "saturated", "vanishing", "exploding", "nan"] as HealthState[]) {
      if (!seen.has(stt)) continue;
      const k = h("span", "nnviz-inside-key");
      const sw = h("span", "nnviz-inside-swatch");
      sw.style.background = HEALTH_COLORS[stt];
      k.append(sw, document.createTextNode(stt === "nan" ? "NaN" : stt));
      keys.appendChild(k);
    }
    sec.appendChild(keys);
    const line = h("div", "nnviz-inside-hline");
    sec.appendChild(line);

    const onClick = (e: MouseEvent) => {
      const c = e.currentTarget as HTMLCanvasElement;
      const rect = c.getBoundingClientRect();
      const i = Math.floor(((e.clientX - rect.left) / Math.max(1, rect.width)) * n);
      if (i >= 0 && i < n) ctx.setEpoch(snaps[i].epoch);
    };
    for (const s of strips) s.canvas.addEventListener("click", onClick);

    const draw = () => {
      const cur = store.indexAt(epochNow());
      const dpr = Math.max(1, Math.min(3, globalThis.devicePixelRatio || 1));
      for (const s of strips) {
        const W = Math.round(Math.max(1, Math.round(cellW * n)) * dpr);
        const H = Math.round(HEALTH_ROW * dpr);
        if (s.canvas.width !== W) s.canvas.width = W;
        if (s.canvas.height !== H) s.canvas.height = H;
        const g = s.canvas.getContext("2d");
        if (!g) continue;
        g.setTransform(dpr, 0, 0, dpr, 0, 0);
        g.clearRect(0, 0, cellW * n, HEALTH_ROW);
        const gap = cellW >= 5 ? 1 : 0;
        for (let i = 0; i < n; i++) {
          g.fillStyle = HEALTH_COLORS[s.states[i]];
          g.fillRect(i * cellW, 1, cellW - gap, HEALTH_ROW - 2);
        }
        if (cur >= 0) {
          // the current epoch: a dark ring with a white inner ring (visible on every state color)
          const x = cur * cellW;
          const w = Math.max(2, cellW - gap);
          g.strokeStyle = "#111827";
          g.lineWidth = 1.5;
          g.strokeRect(x + 0.75, 0.75, Math.max(0.5, w - 1.5), HEALTH_ROW - 1.5);
          if (w >= 6) {
            g.strokeStyle = "#ffffff";
            g.lineWidth = 1;
            g.strokeRect(x + 2, 2, w - 4, HEALTH_ROW - 4);
          }
        }
      }
      const snap = cur >= 0 ? snaps[cur] : null;
      if (!snap) return;
      if (selected) {
        const hh = mergedHealthAt(snap, selected);
        const b = healthBadges(hh);
        const txt = healthLine(hh);
        line.textContent = `${snap.label}: ${txt || "nothing recorded"}${b.length ? ` — ${b.join(", ")}` : ""}`;
        line.classList.toggle("nnviz-inside-warn", b.length > 0);
      } else {
        const flagged = rows
          .map((r) => [r.name, healthBadges(snap.health[r.name])] as const)
          .filter(([, b]) => b.length);
        line.textContent = flagged.length
          ? `${snap.label}: ${flagged.map(([nm, b]) => `${nm} ${b.join("/")}`).join(" · ")}`
          : `${snap.label}: no warnings`;
        line.classList.toggle("nnviz-inside-warn", flagged.length > 0);
      }
    };
    return { el: sec, draw };
  }

  // -- build / draw ------------------------------------------------------------------------
  function rebuild() {
    el.replaceChildren();
    parts = [];
    actRanges.clear();
    fieldRanges.clear();
    const names: string[] = [];
    const add = (name: string, make: () => Part | null) => {
      try {
        const p = make();
        if (p) {
          p.el.dataset.part = name;
          el.appendChild(p.el);
          parts.push(p);
          names.push(name);
        }
      } catch (err) {
        console.error(`nnviz: the ${name} part failed`, err);
      }
    };
    if (store.snapshots.length) {
      const bnd = store.snapshots.some((s) => s.boundary);
      if (bnd) add("boundary", boundaryPart);
      else add("probe", probePart);
      add("fields", fieldsPart);
      add("layer", layerPart);
      add("health", healthPart);
    }
    el.dataset.parts = names.join(",");
    if (!names.length) el.appendChild(h("div", "nnviz-inside-note", "nothing recorded from the probe batch yet"));
  }

  function draw() {
    for (const p of parts) {
      try {
        p.draw();
      } catch (err) {
        console.error("nnviz: drawing inside the network failed", err);
      }
    }
    el.dataset.epoch = String(epochNow());
    el.dataset.sample = String(sampleNow());
    el.dataset.layer = st().layer;
    el.dataset.draws = String(++draws);
  }

  rebuild();
  draw();

  const offState = ctx.onState((changed) => {
    if (changed.has("layer")) {
      rebuild();
      draw();
    } else if (changed.has("epoch") || changed.has("sample")) {
      draw();
    }
  });
  const offData = store.on(() => {
    rebuild();
    draw();
  });

  return {
    el,
    resize(w: number) {
      if (!(w > 0) || Math.abs(w - width) < 8) return;
      width = w;
      rebuild();
      draw();
    },
    destroy() {
      offState();
      offData();
      el.replaceChildren();
      parts = [];
    },
  };
}
