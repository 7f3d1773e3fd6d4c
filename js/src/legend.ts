// Color legend: what the colors mean in the current mode (scale, range, NaN color).
import { NAN_COLOR, css, diverging, sequential, type RGB } from "./colors";
import { fmt } from "./histogram";
import type { SubView, ViewContext } from "./view";

export const legendCss = `
.nnviz-legend { box-sizing: border-box; display: flex; flex-wrap: wrap; align-items: center; align-content: flex-start; gap: 4px 12px;
  padding: 4px 8px; background: #fff; color: #1f2933;
  font: 12px/1.35 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
.nnviz-legend-title { font-weight: 600; flex: 1 1 100%; }
.nnviz-legend-sub { color: #6b7686; font-weight: 400; margin-left: 4px; }
.nnviz-legend-scale { display: inline-flex; align-items: center; gap: 5px; font-variant-numeric: tabular-nums;
  flex: 1 1 220px; max-width: 340px; min-width: 0; }
.nnviz-legend-bar { display: inline-block; flex: 1 1 auto; min-width: 48px; height: 10px; border-radius: 3px;
  border: 1px solid #d5dae1; }
.nnviz-legend-num { color: #3b4654; font-size: 11.5px; min-width: 2ch; white-space: nowrap; }
.nnviz-legend-note { color: #6b7686; font-size: 11.5px; }
.nnviz-legend-nan { display: inline-flex; align-items: center; gap: 4px; color: #6b7686; font-size: 11.5px; }
.nnviz-legend-swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; }
`;

/** CSS gradient of a scale sampled at `n` stops. */
function gradient(fn: (t: number) => RGB, n = 13): string {
  const stops: string[] = [];
  for (let k = 0; k < n; k++) {
    const t = k / (n - 1);
    stops.push(`${css(fn(t))} ${(t * 100).toFixed(1)}%`);
  }
  return `linear-gradient(to right, ${stops.join(", ")})`;
}

const DIVERGING_BG = gradient((t) => diverging(2 * t - 1, 1));
const SEQUENTIAL_BG = gradient((t) => sequential(t, 1));

function span(cls: string, text = ""): HTMLSpanElement {
  const s = document.createElement("span");
  s.className = cls;
  s.textContent = text;
  return s;
}

export function createLegend(ctx: ViewContext): SubView {
  const store = ctx.store;
  const el = document.createElement("div");
  el.className = "nnviz-legend";
  const title = span("nnviz-legend-title");
  const sub = span("nnviz-legend-sub");
  const scale = span("nnviz-legend-scale");
  const lo = span("nnviz-legend-num");
  const bar = span("nnviz-legend-bar");
  const hi = span("nnviz-legend-num");
  scale.append(lo, bar, hi);
  const note = span("nnviz-legend-note");
  const nan = span("nnviz-legend-nan");
  const sw = span("nnviz-legend-swatch");
  sw.style.background = css(NAN_COLOR);
  nan.append(sw, document.createTextNode("NaN / Inf"));
  const width = span("nnviz-legend-note");
  el.append(title, scale, note, nan, width);
  el.setAttribute("aria-live", "polite");

  // per (colorBy, deltaRef): the largest range over layers (ranges are fixed across epochs)
  const maxCache = new Map<string, { kind: "values" | "scalar" | "none"; max: number }>();

  function scalarMax(layer: string): number {
    let m = 0;
    for (const s of store.snapshots) {
      const g = s.stats[layer]?.grad_norm;
      if (g !== null && g !== undefined && Number.isFinite(g)) m = Math.max(m, g);
    }
    return m;
  }

  function layerScale(layer: string): { kind: "values" | "scalar" | "none"; max: number } {
    const st = ctx.state();
    const r = store.range(layer, st.colorBy, st.deltaRef, st.sample);
    if (store.values(layer, store.latest()?.epoch ?? 0, st.colorBy, st.deltaRef, st.sample)) return { kind: "values", max: r };
    if (st.colorBy === "gradient") {
      const m = scalarMax(layer);
      if (store.snapshots.some((s) => s.stats[layer]?.grad_norm != null)) return { kind: "scalar", max: m };
    }
    return { kind: "none", max: 0 };
  }

  function overall(): { kind: "values" | "scalar" | "none"; max: number } {
    const st = ctx.state();
    const key = `${st.colorBy}|${st.deltaRef}|${st.colorBy === "activation" ? st.sample : 0}`;
    const hit = maxCache.get(key);
    if (hit) return hit;
    let values = 0;
    let anyValues = false;
    let scalar = 0;
    let anyScalar = false;
    for (const l of store.graph.layers) {
      if (!l.params) continue;
      const s = layerScale(l.name);
      if (s.kind === "values") {
        anyValues = true;
        values = Math.max(values, s.max);
      } else if (s.kind === "scalar") {
        anyScalar = true;
        scalar = Math.max(scalar, s.max);
      }
    }
    const out = anyValues
      ? { kind: "values" as const, max: values }
      : anyScalar
        ? { kind: "scalar" as const, max: scalar }
        : { kind: "none" as const, max: 0 };
    maxCache.set(key, out);
    return out;
  }

  function render(): void {
    const st = ctx.state();
    const i = store.indexAt(st.epoch);
    const snap = i >= 0 ? store.snapshots[i] : null;
    const at = snap ? snap.label : "";
    title.replaceChildren();
    let head = "";
    let detail = "";
    switch (st.colorBy) {
      case "weight":
        head = at ? `weight at ${at}` : "weight";
        break;
      case "delta": {
        head = st.deltaRef === "init" ? "Δ since init" : "Δ since previous epoch";
        const ref = st.deltaRef === "init" ? store.snapshots[0] : i > 0 ? store.snapshots[i - 1] : snap;
        if (snap && ref) detail = ref === snap ? `(${at}: no change yet)` : `(${ref.label} → ${at})`;
        break;
      }
      case "gradient":
        head = at ? `gradient at ${at}` : "gradient";
        break;
      case "activation":
        head = `activation of sample ${st.sample}`;
        detail = at ? `(${at})` : "";
        break;
      default:
        head = st.colorBy;
    }
    title.textContent = head;
    if (detail) {
      sub.textContent = detail;
      title.appendChild(sub);
    }
    const sel = st.layer && store.layer(st.layer) ? st.layer : "";
    let s = sel ? layerScale(sel) : overall();
    let scope = sel ? `scale of ${sel}, fixed over epochs` : "largest over layers; each layer keeps its own scale";
    if (sel && s.kind === "none") {
      s = overall();
      scope = `${sel} has no ${st.colorBy === "weight" ? "weights" : "values"} in this mode; largest over layers shown`;
    }
    if (s.kind === "none") {
      scale.style.display = "none";
      note.textContent = st.colorBy === "activation" ? "activations not recorded" : "nothing recorded for this mode yet";
    } else {
      scale.style.display = "";
      if (s.kind === "values") {
        bar.style.background = DIVERGING_BG;
        lo.textContent = s.max > 0 ? `−${fmt(s.max)}` : "0";
        hi.textContent = s.max > 0 ? `+${fmt(s.max)}` : "0";
        bar.title = "blue: negative · grey: zero · red: positive";
      } else {
        bar.style.background = SEQUENTIAL_BG;
        lo.textContent = "0";
        hi.textContent = fmt(s.max);
        bar.title = "gradient norm per layer";
      }
      note.textContent = s.kind === "scalar" ? `gradient norm per layer · ${scope}` : scope;
      // what else is lit, and how: lines carry weight x input, the input shows the probe itself
      if (st.colorBy === "activation") note.textContent = "lines: weight × input · input: the probe (dark = high)";
    }
    width.textContent = st.mode === "2d" ? "line width ∝ |weight|" : "";
    width.style.display = st.mode === "2d" ? "" : "none";
  }

  const offState = ctx.onState((changed) => {
    if (
      changed.has("colorBy") || changed.has("deltaRef") || changed.has("layer") || changed.has("epoch") || changed.has("mode") ||
      (changed.has("sample") && ctx.state().colorBy === "activation")
    ) {
      render();
    }
  });
  const offData = store.on(() => {
    maxCache.clear();
    render();
  });
  render();

  return {
    el,
    resize(w: number) {
      el.style.width = `${Math.max(0, Math.floor(w))}px`;
    },
    destroy() {
      offState();
      offData();
      el.remove();
    },
  };
}
