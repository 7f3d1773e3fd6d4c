// Details panel: the selected layer (definition, stats at the current epoch, a histogram of its
// weights), or a summary of the model when nothing is selected. All model text via textContent.
import { css, diverging, type RGB } from "../color/scales";
import { histBars, histRange, maxDensity, niceTicks } from "../layout/plot";
import type { LayerInfo, LayerStats, Snapshot } from "../data/types";
import { h } from "../util/dom";
import type { SubView, ViewContext } from "../data/view";
import { fmt, fmtInt, fmtShape, fmtTick } from "../util/format";
import { kindColor, kindInfo } from "../data/kinds";

const HIST_H = 84;

/** Label / value rows: plain divs in a two-column grid (no dl/dt/dd: host pages style those). */
function props(rows: [string, string][]): HTMLElement {
  const grid = h("div", "nnviz-panel-props");
  for (const [k, v] of rows) {
    grid.appendChild(h("div", "nnviz-panel-key", k));
    grid.appendChild(h("div", "nnviz-panel-val", v));
  }
  return grid;
}

function detailText(v: unknown): string {
  if (typeof v === "string") return v;
  try {
    const s = JSON.stringify(v);
    return s.length > 60 ? s.slice(0, 59) + "…" : s;
  } catch {
    return String(v);
  }
}

export function createPanel(ctx: ViewContext): SubView {
  const store = ctx.store;
  const el = h("div", "nnviz-panel");
  el.setAttribute("aria-live", "polite");
  const staticPart = h("div");
  const dynamicPart = h("div");
  el.append(staticPart, dynamicPart);
  let width = 280;
  let shownLayer: string | null = null;
  let canvas: HTMLCanvasElement | null = null;
  let statsBox: HTMLElement | null = null;
  let nonfiniteBox: HTMLElement | null = null;
  let epochHead: HTMLElement | null = null;

  function renderStatic(): void {
    const layer = ctx.state().layer;
    const l = layer ? store.layer(layer) : undefined;
    staticPart.replaceChildren();
    dynamicPart.replaceChildren();
    canvas = null;
    statsBox = null;
    nonfiniteBox = null;
    epochHead = null;
    shownLayer = l ? l.name : null;
    if (!l) {
      renderSummary();
      return;
    }
    renderLayer(l);
    renderDynamic();
  }

  function renderSummary(): void {
    const g = store.graph;
    const title = h("div", "nnviz-panel-title");
    title.appendChild(h("span", "nnviz-panel-name", g.model_name || "model"));
    staticPart.appendChild(title);
    staticPart.appendChild(h("div", "nnviz-panel-op", g.framework ? `${g.framework} model` : "model"));
    const epochs = store.epochs();
    const trained = epochs.filter((e) => e >= 0).length;
    staticPart.appendChild(
      props([
        ["parameters", fmtInt(g.total_params)],
        ["layers", fmtInt(g.layers.length)],
        ["recorded", epochs.length ? `${trained} epoch${trained === 1 ? "" : "s"}${epochs.includes(-1) ? " + init" : ""}` : "nothing yet"],
      ]),
    );
    const counts = new Map<string, number>();
    for (const l of g.layers) counts.set(l.kind, (counts.get(l.kind) ?? 0) + 1);
    const kinds = h("div", "nnviz-panel-kinds");
    for (const [kind, n] of [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) {
      const k = h("span", "nnviz-panel-kind");
      const dot = h("span", "nnviz-panel-dot");
      dot.style.background = kindColor(g, kind);
      k.append(dot, document.createTextNode(`${kind} ${n}`));
      kinds.appendChild(k);
    }
    staticPart.appendChild(kinds);
    if (g.approximate) {
      staticPart.appendChild(h("div", "nnviz-panel-warn", "Topology guessed from execution order: edges may be approximate."));
    }
    for (const note of g.notes ?? []) staticPart.appendChild(h("div", "nnviz-panel-note", note));
    staticPart.appendChild(h("div", "nnviz-panel-hint", "Click a layer or pick one above to see its details."));
  }

  function renderLayer(l: LayerInfo): void {
    const title = h("div", "nnviz-panel-title");
    const chip = h("span", "nnviz-panel-chip", l.kind);
    chip.style.background = kindColor(store.graph, l.kind);
    title.append(h("span", "nnviz-panel-name", l.name), chip);
    staticPart.appendChild(title);
    staticPart.appendChild(h("div", "nnviz-panel-op", l.op));
    const rows: [string, string][] = [];
    const out = fmtShape(l.output_shape);
    if (l.input_shapes?.length) rows.push(["shape", `${l.input_shapes.map(fmtShape).join(" + ")} → ${out}`]);
    else rows.push(["output", out]);
    if (l.units !== null && l.units !== undefined) {
      rows.push([kindInfo(store.graph, l.kind).units_label, fmtInt(l.units)]);
    }
    const parts = Object.entries(l.param_shapes ?? {}).map(([name, shape]) => `${name} ${fmtShape(shape)}`);
    rows.push(["params", parts.length ? `${fmtInt(l.params)} (${parts.join(", ")})` : fmtInt(l.params)]);
    if (l.parent) rows.push(["inside", l.parent]);
    for (const [k, v] of Object.entries(l.detail ?? {}).slice(0, 6)) rows.push([k.replace(/_/g, " "), detailText(v)]);
    staticPart.appendChild(props(rows));
  }

  function renderDynamic(): void {
    if (!shownLayer) return;
    const st = ctx.state();
    const snap = store.at(st.epoch);
    const s = snap?.stats[shownLayer];
    if (!epochHead) {
      epochHead = h("div", "nnviz-panel-h");
      statsBox = h("div", "nnviz-panel-stats");
      nonfiniteBox = h("div", "nnviz-panel-nonfinite");
      dynamicPart.append(epochHead, statsBox, nonfiniteBox);
    }
    epochHead.textContent = snap ? `at ${snap.label}` : "not recorded yet";
    statsBox!.replaceChildren();
    nonfiniteBox!.replaceChildren();
    nonfiniteBox!.classList.remove("nnviz-warn");
    if (!snap) return;
    if (!s) {
      const l = store.layer(shownLayer);
      nonfiniteBox!.style.display = "";
      nonfiniteBox!.textContent = l && l.params === 0 ? "No parameters." : "No statistics recorded for this layer.";
      removeHist();
      return;
    }
    const stat = (label: string, value: string, title?: string) => {
      const d = h("div", "nnviz-panel-stat");
      d.append(h("span", undefined, label), h("span", undefined, value));
      if (title) d.title = title;
      statsBox!.appendChild(d);
    };
    stat("mean", fmt(s.mean), `min ${fmt(s.min)}, max ${fmt(s.max)}`);
    stat("std", fmt(s.std));
    stat("L2 norm", fmt(s.norm));
    stat("grad norm", s.grad_norm === null || s.grad_norm === undefined ? "–" : fmt(s.grad_norm), "L2 norm of the gradient");
    stat("update ratio", s.update_ratio === null || s.update_ratio === undefined ? "–" : fmt(s.update_ratio),
      "‖W − W_prev‖ / ‖W_prev‖ since the previous snapshot (around 1e-3 is typical)");
    const nf = s.nonfinite ?? 0;
    const bad = nf > 0 || !Number.isFinite(nf);
    stat("NaN / Inf", bad ? (Number.isFinite(nf) ? fmtInt(nf) : "some") : "0", "parameter values that are NaN or ±Inf");
    if (bad) {
      statsBox!.lastElementChild?.classList.add("nnviz-warn");
      nonfiniteBox!.classList.add("nnviz-warn");
      nonfiniteBox!.textContent = `⚠ ${Number.isFinite(nf) ? fmtInt(nf) : "some"} NaN/Inf value${nf === 1 ? "" : "s"} in this layer`;
      nonfiniteBox!.style.display = "";
    } else nonfiniteBox!.style.display = "none";
    drawHist(snap, s);
  }

  function removeHist(): void {
    if (canvas) {
      canvas.previousElementSibling?.remove();
      canvas.remove();
      canvas = null;
    }
  }

  function drawHist(snap: Snapshot, s: LayerStats): void {
    const layer = shownLayer!;
    const counts = snap.hists.get(layer);
    if (!counts) {
      removeHist();
      return;
    }
    if (!canvas) {
      dynamicPart.appendChild(h("div", "nnviz-panel-h", "weights histogram"));
      canvas = document.createElement("canvas");
      canvas.className = "nnviz-panel-hist";
      canvas.setAttribute("role", "img");
      dynamicPart.appendChild(canvas);
    }
    const dpr = window.devicePixelRatio || 1;
    const W = Math.max(120, width - 24);
    const H = HIST_H;
    canvas.style.width = `${W}px`;
    canvas.style.height = `${H}px`;
    canvas.width = Math.round(W * dpr);
    canvas.height = Math.round(H * dpr);
    canvas.setAttribute("aria-label", `histogram of ${layer}'s parameters at ${snap.label}`);
    const c = canvas.getContext("2d");
    if (!c) return;
    c.setTransform(dpr, 0, 0, dpr, 0, 0);
    c.clearRect(0, 0, W, H);
    const th = ctx.theme();
    const ranges: { lo: number; hi: number }[] = [];
    for (const sn of store.snapshots) {
      const x = sn.stats[layer];
      if (x && sn.hists.has(layer)) ranges.push({ lo: x.hist_lo, hi: x.hist_hi });
    }
    const [xLo, xHi] = histRange(ranges);
    const padL = 6;
    const padR = 6;
    const plotW = W - padL - padR;
    const plotH = H - 20;
    const first = store.snapshots.find((sn) => sn.hists.has(layer) && sn.stats[layer]);
    const firstStats = first?.stats[layer];
    let yMax = maxDensity(counts, s.hist_lo, s.hist_hi);
    if (first && firstStats && first !== snap) yMax = Math.max(yMax, maxDensity(first.hists.get(layer)!, firstStats.hist_lo, firstStats.hist_hi));
    const absMax = Math.max(Math.abs(xLo), Math.abs(xHi)) || 1;
    const rgb: RGB = [0, 0, 0];
    // bars colored like the weights they count
    const bars = histBars(counts, s.hist_lo, s.hist_hi, xLo, xHi, plotW, plotH, yMax);
    const bw = (s.hist_hi - s.hist_lo) / counts.length;
    let bi = 0;
    for (let i = 0; i < counts.length && bi < bars.length; i++) {
      if (!(counts[i] > 0) || !Number.isFinite(counts[i])) continue;
      const b = bars[bi++];
      c.fillStyle = css(diverging(s.hist_lo + (i + 0.5) * bw, absMax, rgb));
      c.fillRect(padL + b.x, b.y, b.w, b.h);
    }
    // the first snapshot as a reference outline
    if (first && firstStats && first !== snap) {
      // the first snapshot's histogram as a step outline
      const fc = first.hists.get(layer)!;
      const ref = histBars(fc, firstStats.hist_lo, firstStats.hist_hi, xLo, xHi, plotW, plotH, yMax);
      c.strokeStyle = th.dark ? "rgba(230,232,235,0.7)" : "rgba(31,41,51,0.7)";
      c.lineWidth = 1.25;
      c.beginPath();
      let prevEnd = NaN;
      for (const b of ref) {
        const x0 = padL + b.x;
        if (!(Math.abs(x0 - prevEnd) < 0.5)) {
          if (Number.isFinite(prevEnd)) c.lineTo(prevEnd, plotH);
          c.moveTo(x0, plotH);
        }
        c.lineTo(x0, b.y);
        c.lineTo(x0 + b.w, b.y);
        prevEnd = x0 + b.w;
      }
      if (Number.isFinite(prevEnd)) c.lineTo(prevEnd, plotH);
      c.stroke();
    }
    // axis
    c.strokeStyle = th.axis;
    c.lineWidth = 1;
    c.beginPath();
    c.moveTo(padL, plotH + 0.5);
    c.lineTo(padL + plotW, plotH + 0.5);
    c.stroke();
    const ticks = niceTicks(xLo, xHi, Math.max(2, Math.floor(plotW / 60)));
    const step = ticks.length > 1 ? ticks[1] - ticks[0] : 0;
    c.fillStyle = th.muted;
    c.font = `10.5px system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif`;
    c.textBaseline = "top";
    for (const t of ticks) {
      const x = padL + ((t - xLo) / (xHi - xLo)) * plotW;
      c.beginPath();
      c.moveTo(Math.round(x) + 0.5, plotH);
      c.lineTo(Math.round(x) + 0.5, plotH + 4);
      c.stroke();
      const label = fmtTick(t, step);
      const tw = c.measureText(label).width;
      c.textAlign = x - tw / 2 < 0 ? "left" : x + tw / 2 > W ? "right" : "center";
      c.fillText(label, x, plotH + 6);
    }
    if (xLo < 0 && xHi > 0) {
      const x0 = padL + ((0 - xLo) / (xHi - xLo)) * plotW;
      c.strokeStyle = th.edge;
      c.setLineDash([2, 2]);
      c.beginPath();
      c.moveTo(Math.round(x0) + 0.5, 0);
      c.lineTo(Math.round(x0) + 0.5, plotH);
      c.stroke();
      c.setLineDash([]);
    }
    if (first && first !== snap) {
      c.textAlign = "right";
      c.textBaseline = "top";
      c.fillStyle = th.muted;
      c.fillText(`outline: ${first.label}`, W - 2, 1);
    }
  }

  const offState = ctx.onState((changed) => {
    if (changed.has("layer")) renderStatic();
    else if (changed.has("epoch")) renderDynamic();
  });
  const offData = store.on(() => renderStatic());
  const offTheme = ctx.onTheme(() => renderStatic());
  renderStatic();

  return {
    el,
    resize(w: number, hgt: number) {
      width = Math.max(140, Math.floor(w));
      el.style.width = `${Math.floor(w)}px`;
      el.style.height = `${Math.max(0, Math.floor(hgt))}px`;
      if (shownLayer) renderDynamic();
    },
    destroy() {
      offState();
      offData();
      offTheme();
      el.remove();
    },
  };
}
