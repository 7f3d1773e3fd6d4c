// Metrics chart: every recorded metric over epochs (Canvas 2D), a legend, NaN/Inf markers, and a
// cursor at the current epoch; clicking or dragging on it moves the epoch. Losses share the left
// axis (log when they span decades); metrics that live in [0, 1] (accuracy ...) get the right one.
import { logTicks, niceTicks } from "../layout/plot";
import type { Store } from "../data/store";
import type { SubView, ViewContext } from "../data/view";
import { fmt, fmtTick } from "../util/format";
import { Disposer, listen } from "../util/dom";

// ---------------------------------------------------------------------------------------------
// Pure helpers (unit-tested)

export interface Scale {
  (v: number): number;
  invert(px: number): number;
  domain: [number, number];
  log: boolean;
}

/** Linear map [d0, d1] -> [r0, r1] (a degenerate domain maps to the middle of the range). */
export function linearScale(d0: number, d1: number, r0: number, r1: number): Scale {
  const span = d1 - d0;
  const f = ((v: number) => (span === 0 ? (r0 + r1) / 2 : r0 + ((v - d0) / span) * (r1 - r0))) as Scale;
  f.invert = (px: number) => (r1 === r0 ? d0 : d0 + ((px - r0) / (r1 - r0)) * span);
  f.domain = [d0, d1];
  f.log = false;
  return f;
}

/** Log10 map [d0, d1] (both > 0) -> [r0, r1]; values <= 0 map to NaN. */
export function logScale(d0: number, d1: number, r0: number, r1: number): Scale {
  const l0 = Math.log10(d0);
  const l1 = Math.log10(d1);
  const lin = linearScale(l0, l1, r0, r1);
  const f = ((v: number) => (v > 0 ? lin(Math.log10(v)) : NaN)) as Scale;
  f.invert = (px: number) => 10 ** lin.invert(px);
  f.domain = [d0, d1];
  f.log = true;
  return f;
}

/** The recorded epoch nearest to `e` (ties: the earlier one); NaN when there are none. */
export function nearestEpoch(epochs: readonly number[], e: number): number {
  let best = NaN;
  let bd = Infinity;
  for (const x of epochs) {
    const d = Math.abs(x - e);
    if (d < bd || (d === bd && x < best)) {
      bd = d;
      best = x;
    }
  }
  return best;
}

export type Axis = "left" | "right";

/**
 * Which y axis each metric uses: names with "loss" on the left; metrics whose finite values all
 * lie in [0, 1] (accuracy, AUC ...) on the right; anything else on the left. When only one group
 * exists it is drawn on the left.
 */
export function metricAxes(series: Map<string, number[]>): Map<string, Axis> {
  const out = new Map<string, Axis>();
  for (const [name, values] of series) {
    const finite = values.filter((v) => Number.isFinite(v));
    const unit = finite.length > 0 && finite.every((v) => v >= 0 && v <= 1);
    out.set(name, /loss/i.test(name) || !unit ? "left" : "right");
  }
  const axes = new Set(out.values());
  if (!axes.has("left")) for (const k of out.keys()) out.set(k, "left");
  return out;
}

export interface YDomain {
  lo: number;
  hi: number;
  log: boolean;
}

/**
 * A y domain for values (non-finite ignored): log10 when all are > 0 and they span more than
 * `logRatio` (decades of loss), else linear, starting at 0 when the values are positive and not
 * far from it, padded 6%. `unit` pins [0, 1] (right axis of accuracies).
 */
export function yDomain(values: readonly number[], opts: { unit?: boolean; logRatio?: number } = {}): YDomain {
  if (opts.unit) return { lo: 0, hi: 1, log: false };
  const finite = values.filter((v) => Number.isFinite(v));
  if (!finite.length) return { lo: 0, hi: 1, log: false };
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  const ratio = opts.logRatio ?? 30;
  if (lo > 0 && hi / lo > ratio) {
    return { lo: 10 ** Math.floor(Math.log10(lo)), hi: 10 ** Math.ceil(Math.log10(hi)), log: true };
  }
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    return { lo: lo - pad, hi: hi + pad, log: false };
  }
  if (lo > 0 && lo < 0.35 * hi) lo = 0;
  const pad = (hi - lo) * 0.06;
  return { lo: lo === 0 ? 0 : lo - pad, hi: hi + pad, log: false };
}

/** Ticks for the left axis: about `want` of them, and never fewer than two (a lone "0.4" reads
 *  as no scale at all) unless the domain is a single value. */
export function leftTicks(d: YDomain, want: number): number[] {
  if (d.log) {
    const t = logTicks(d.lo, d.hi, 5);
    return t.length >= 2 ? t : niceTicks(d.lo, d.hi, Math.max(2, want));
  }
  let t = niceTicks(d.lo, d.hi, want);
  for (let k = want + 1; t.length < 2 && k <= want + 8; k++) t = niceTicks(d.lo, d.hi, k);
  return t;
}

/** Integer epoch ticks over [lo, hi] (about maxTicks of them). */
export function epochTicks(lo: number, hi: number, maxTicks = 8): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi <= lo) return [lo];
  const t = niceTicks(lo, hi, maxTicks).filter((v) => Number.isInteger(v));
  const step = t.length > 1 ? t[1] - t[0] : 1;
  if (step < 1 || t.length < 2) {
    const out: number[] = [];
    for (let v = Math.ceil(lo); v <= hi; v++) out.push(v);
    return out;
  }
  return t;
}

/** Color of a metric: "val_x" shares x's color (and is dashed). */
export function metricStyle(name: string, names: readonly string[], dark = false): { color: string; dashed: boolean } {
  const base = name.startsWith("val_") ? name.slice(4) : name;
  const bases: string[] = [];
  for (const n of names) {
    const b = n.startsWith("val_") ? n.slice(4) : n;
    if (!bases.includes(b)) bases.push(b);
  }
  const i = Math.max(0, bases.indexOf(base));
  const pal = dark ? PALETTE_DARK : PALETTE;
  return { color: pal[i % pal.length], dashed: name.startsWith("val_") };
}

const PALETTE = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#0891b2", "#ca8a04", "#db2777", "#4b5563"];
/** The same hues, lighter: they read on a dark background. */
const PALETTE_DARK = ["#6ea8fe", "#fb923c", "#4ade80", "#c084fc", "#22d3ee", "#facc15", "#f472b6", "#a1a9b4"];

// ---------------------------------------------------------------------------------------------

interface Point {
  epoch: number;
  v: number; // NaN / ±Infinity kept
}

function seriesOf(store: Store): Map<string, Point[]> {
  const out = new Map<string, Point[]>();
  for (const name of store.metricNames()) out.set(name, []);
  for (const s of store.snapshots) {
    for (const [k, v] of Object.entries(s.metrics)) out.get(k)?.push({ epoch: s.epoch, v });
  }
  return out;
}

function epochLabel(e: number): string {
  return e < 0 ? "init" : String(e);
}

const FONT = `system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif`;

export function createChart(ctx: ViewContext): SubView {
  const store = ctx.store;
  const el = document.createElement("div");
  el.className = "nnviz-chart";
  const legend = document.createElement("div");
  legend.className = "nnviz-chart-legend";
  const canvas = document.createElement("canvas");
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", "metrics over epochs; click to jump to an epoch");
  const empty = document.createElement("div");
  empty.className = "nnviz-chart-empty";
  empty.textContent = "No metrics yet: call viz.record(epoch, loss=...) after each epoch.";
  el.append(legend, canvas, empty);
  const g = canvas.getContext("2d");

  let W = 0;
  let H = 0;
  let series = new Map<string, Point[]>();
  let axes = new Map<string, Axis>();
  const hidden = new Set<string>();
  let epochs: number[] = [];
  let pickable: number[] = [];
  let xs: Scale | null = null;
  let hoverEpoch: number | null = null;
  let dragging = -1;
  let raf = 0;
  let destroyed = false;

  function rebuild(): void {
    series = seriesOf(store);
    const valuesByName = new Map<string, number[]>();
    for (const [k, pts] of series) valuesByName.set(k, pts.map((p) => p.v));
    axes = metricAxes(valuesByName);
    epochs = store.epochs();
    for (const h of [...hidden]) if (!series.has(h)) hidden.delete(h);
    const names = [...series.keys()];
    legend.replaceChildren();
    const hasRight = [...axes.values()].includes("right");
    for (const name of names) {
      const st = metricStyle(name, names, ctx.theme().dark);
      const b = document.createElement("button");
      b.type = "button";
      b.className = "nnviz-chart-item" + (hidden.has(name) ? " nnviz-off" : "");
      b.title = hidden.has(name) ? `show ${name}` : `hide ${name}`;
      const sw = document.createElement("span");
      sw.className = "nnviz-chart-swatch";
      sw.style.borderTopColor = st.color;
      sw.style.borderTopStyle = st.dashed ? "dashed" : "solid";
      b.append(sw, document.createTextNode(name));
      if (hasRight && axes.get(name) === "right") {
        const note = document.createElement("span");
        note.className = "nnviz-chart-axis-note";
        note.textContent = "(right axis)";
        b.appendChild(note);
      }
      b.addEventListener("click", () => {
        if (hidden.has(name)) hidden.delete(name);
        else hidden.add(name);
        rebuild();
        schedule();
      });
      legend.appendChild(b);
    }
    const none = names.length === 0;
    legend.style.display = none ? "none" : "";
    canvas.style.display = none ? "none" : "";
    empty.style.display = none ? "" : "none";
    sizeCanvas();
  }

  function sizeCanvas(): void {
    // the legend above the plot; where it wraps (a narrow chart, e.g. half of a comparison) it
    // would squash the plot to a sliver, so it goes into a column at the plot's left instead
    el.classList.remove("nnviz-chart-side");
    const notes = legend.querySelectorAll<HTMLElement>(".nnviz-chart-axis-note");
    for (const n of notes) n.textContent = "(right axis)";
    const shown = legend.style.display !== "none";
    let legendH = shown ? legend.offsetHeight || 24 : 0;
    let cw = W;
    if (shown && legend.offsetHeight > 30 && W >= 280) {
      el.classList.add("nnviz-chart-side");
      for (const n of notes) n.textContent = "(right)"; // the column stays narrow
      cw = Math.max(120, W - legend.offsetWidth);
      legendH = 0;
    }
    const ch = Math.max(60, H - legendH);
    const dpr = window.devicePixelRatio || 1;
    canvas.style.width = `${cw}px`;
    canvas.style.height = `${ch}px`;
    canvas.width = Math.max(1, Math.round(cw * dpr));
    canvas.height = Math.max(1, Math.round(ch * dpr));
  }

  function schedule(): void {
    if (raf || destroyed) return;
    raf = requestAnimationFrame(() => {
      raf = 0;
      paint();
    });
  }

  function paint(): void {
    if (!g || destroyed || W <= 0 || series.size === 0) return;
    const dpr = window.devicePixelRatio || 1;
    const cw = canvas.width / dpr;
    const ch = canvas.height / dpr;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, cw, ch);
    const th = ctx.theme();
    const hasRight = [...axes.entries()].some(([k, a]) => a === "right" && !hidden.has(k));
    const padL = 48;
    const padR = hasRight ? 40 : 14;
    const padT = 20;
    const padB = 22;
    const x0 = padL;
    const x1 = cw - padR;
    const y0 = padT;
    const y1 = ch - padB;
    if (x1 <= x0 || y1 <= y0) return;
    // x: the epochs that have metrics (the init snapshot usually has none)
    const withMetrics = epochs.filter((e) => [...series.values()].some((pts) => pts.some((p) => p.epoch === e)));
    const span = withMetrics.length ? withMetrics : epochs;
    const eLo = span.length ? span[0] : 0;
    const eHi = span.length ? span[span.length - 1] : 1;
    pickable = span;
    const pad = eHi === eLo ? 0.5 : 0;
    xs = linearScale(eLo - pad, eHi + pad, x0 + 6, x1 - 6);
    const leftVals: number[] = [];
    const rightVals: number[] = [];
    for (const [name, pts] of series) {
      if (hidden.has(name)) continue;
      for (const p of pts) (axes.get(name) === "right" ? rightVals : leftVals).push(p.v);
    }
    const dl = yDomain(leftVals);
    const yl = dl.log ? logScale(dl.lo, dl.hi, y1, y0) : linearScale(dl.lo, dl.hi, y1, y0);
    const yr = linearScale(0, 1, y1, y0);

    // grid + axes
    g.font = `10.5px ${FONT}`;
    g.lineWidth = 1;
    const lt = leftTicks(dl, Math.max(2, Math.floor((y1 - y0) / 28)));
    const lstep = lt.length > 1 ? lt[1] - lt[0] : 0;
    g.textAlign = "right";
    g.textBaseline = "middle";
    for (const t of lt) {
      const y = Math.round(yl(t)) + 0.5;
      g.strokeStyle = th.grid;
      g.beginPath();
      g.moveTo(x0, y);
      g.lineTo(x1, y);
      g.stroke();
      g.fillStyle = th.muted;
      g.fillText(dl.log ? fmt(t, 1) : fmtTick(t, lstep), x0 - 5, y);
    }
    if (hasRight) {
      g.textAlign = "left";
      const few = y1 - y0 < 90;
      for (const t of few ? [0, 0.5, 1] : [0, 0.25, 0.5, 0.75, 1]) {
        const y = Math.round(yr(t)) + 0.5;
        g.fillStyle = th.muted;
        g.fillText(fmtTick(t, few ? 0.5 : 0.25), x1 + 5, y);
      }
    }
    g.strokeStyle = th.axis;
    g.beginPath();
    g.moveTo(x0, y1 + 0.5);
    g.lineTo(x1, y1 + 0.5);
    g.stroke();
    g.textAlign = "center";
    g.textBaseline = "top";
    g.fillStyle = th.muted;
    const et = epochTicks(eLo, eHi, Math.max(2, Math.floor((x1 - x0) / 48)));
    if (eLo < 0 && !et.includes(eLo)) et.unshift(eLo);
    for (const t of et) {
      const x = Math.round(xs(t)) + 0.5;
      g.strokeStyle = th.axis;
      g.beginPath();
      g.moveTo(x, y1);
      g.lineTo(x, y1 + 4);
      g.stroke();
      g.fillText(epochLabel(t), x, y1 + 6);
    }
    g.textAlign = "right";
    g.fillStyle = th.muted;
    g.fillText("epoch", x0 - 5, y1 + 6);

    // lines
    const names = [...series.keys()];
    const bad = new Map<number, string[]>(); // epoch -> metrics that are NaN/Inf there
    for (const [name, pts] of series) {
      if (hidden.has(name)) continue;
      const ys = axes.get(name) === "right" ? yr : yl;
      const st = metricStyle(name, names, th.dark);
      g.strokeStyle = st.color;
      g.fillStyle = st.color;
      g.lineWidth = 2;
      g.setLineDash(st.dashed ? [5, 3] : []);
      g.beginPath();
      let open = false;
      for (const p of pts) {
        const y = ys(p.v);
        if (!Number.isFinite(p.v) || !Number.isFinite(y)) {
          if (!Number.isFinite(p.v)) push(bad, p.epoch, name);
          open = false;
          continue;
        }
        const x = xs(p.epoch);
        if (open) g.lineTo(x, y);
        else g.moveTo(x, y);
        open = true;
      }
      g.stroke();
      g.setLineDash([]);
      // points (lone points need them; few epochs look better with them)
      if (pts.length <= 40) {
        for (const p of pts) {
          const y = ys(p.v);
          if (!Number.isFinite(y)) continue;
          g.beginPath();
          g.arc(xs(p.epoch), y, 2.2, 0, Math.PI * 2);
          g.fill();
        }
      }
    }
    // NaN / Inf markers on the x axis
    g.strokeStyle = th.bad;
    g.lineWidth = 2;
    for (const e of bad.keys()) {
      const x = xs(e);
      const y = y1 - 7;
      g.beginPath();
      g.moveTo(x - 4, y - 4);
      g.lineTo(x + 4, y + 4);
      g.moveTo(x + 4, y - 4);
      g.lineTo(x - 4, y + 4);
      g.stroke();
    }

    // hover line
    if (hoverEpoch !== null && dragging < 0) {
      const x = Math.round(xs(hoverEpoch)) + 0.5;
      g.strokeStyle = th.edge;
      g.lineWidth = 1;
      g.beginPath();
      g.moveTo(x, y0);
      g.lineTo(x, y1);
      g.stroke();
    }
    // cursor at the shown epoch
    const snap = store.at(ctx.state().epoch);
    if (snap) {
      const x = Math.round(xs(Math.max(eLo - pad, Math.min(eHi + pad, snap.epoch)))) + 0.5;
      g.strokeStyle = th.ink;
      g.lineWidth = 1.5;
      g.beginPath();
      g.moveTo(x, y0);
      g.lineTo(x, y1);
      g.stroke();
      for (const [name, pts] of series) {
        if (hidden.has(name)) continue;
        const p = pts.find((q) => q.epoch === snap.epoch);
        if (!p) continue;
        const y = (axes.get(name) === "right" ? yr : yl)(p.v);
        if (!Number.isFinite(y)) continue;
        g.beginPath();
        g.arc(x, y, 4, 0, Math.PI * 2);
        g.fillStyle = th.bg;
        g.fill();
        g.strokeStyle = metricStyle(name, names, th.dark).color;
        g.lineWidth = 2;
        g.stroke();
      }
      const label = snap.label;
      g.font = `600 10.5px ${FONT}`;
      const tw = g.measureText(label).width + 10;
      const lx = Math.min(Math.max(x - tw / 2, x0), x1 - tw);
      g.fillStyle = th.ink;
      g.beginPath();
      g.rect(lx, 0, tw, 13);
      g.fill();
      g.fillStyle = th.bg;
      g.textAlign = "center";
      g.textBaseline = "middle";
      g.fillText(label, lx + tw / 2, 7);
    }
  }

  function epochAt(clientX: number): number {
    if (!xs) return NaN;
    const r = canvas.getBoundingClientRect();
    return nearestEpoch(pickable.length ? pickable : epochs, xs.invert(clientX - r.left));
  }

  const onDown = (e: PointerEvent) => {
    if (e.button !== 0) return;
    const ep = epochAt(e.clientX);
    if (!Number.isFinite(ep)) return;
    dragging = e.pointerId;
    try {
      canvas.setPointerCapture(e.pointerId);
    } catch {
      /* synthetic */
    }
    if (ep !== ctx.state().epoch) ctx.setEpoch(ep);
    ctx.hideTooltip();
  };
  const onMove = (e: PointerEvent) => {
    const ep = epochAt(e.clientX);
    if (!Number.isFinite(ep)) return;
    if (dragging === e.pointerId) {
      if (ep !== store.at(ctx.state().epoch)?.epoch) ctx.setEpoch(ep);
      return;
    }
    if (ep !== hoverEpoch) {
      hoverEpoch = ep;
      schedule();
    }
    const snap = store.snapshots.find((s) => s.epoch === ep);
    const rows: [string, string][] = [];
    for (const name of series.keys()) {
      const v = snap?.metrics[name];
      if (v !== undefined) rows.push([name, fmt(v, 4)]);
    }
    if (rows.length) ctx.showTooltip(e.clientX, e.clientY, snap?.label ?? epochLabel(ep), rows);
    else ctx.hideTooltip();
  };
  const onUp = (e: PointerEvent) => {
    if (dragging !== e.pointerId) return;
    dragging = -1;
    try {
      canvas.releasePointerCapture(e.pointerId);
    } catch {
      /* not captured */
    }
    schedule();
  };
  const onLeave = () => {
    hoverEpoch = null;
    ctx.hideTooltip();
    schedule();
  };
  const d = new Disposer(); // run once by destroy(), in reverse order
  d.add(listen(canvas, "pointerdown", onDown));
  d.add(listen(canvas, "pointermove", onMove));
  d.add(listen(canvas, "pointerup", onUp));
  d.add(listen(canvas, "pointercancel", onUp));
  d.add(listen(canvas, "pointerleave", onLeave));
  d.add(
    ctx.onState((changed) => {
      if (changed.has("epoch")) schedule();
    }),
  );
  d.add(
    store.on(() => {
      rebuild();
      schedule();
    }),
  );
  d.add(
    ctx.onTheme(() => {
      rebuild();
      schedule();
    }),
  );
  rebuild();

  return {
    el,
    resize(width: number, height: number) {
      W = Math.max(0, Math.floor(width));
      H = Math.max(0, Math.floor(height));
      el.style.width = `${W}px`;
      el.style.height = `${H}px`;
      sizeCanvas();
      schedule();
    },
    destroy() {
      destroyed = true;
      if (raf) cancelAnimationFrame(raf);
      d.run();
      ctx.hideTooltip();
      el.remove();
    },
  };
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}
