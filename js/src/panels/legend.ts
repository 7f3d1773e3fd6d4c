// Color legend: what the colors mean in the current mode (scale, range, NaN color).
import { hierarchyOf } from "../layout/hierarchy";
import { NAN_COLOR, css, diverging, sequential, type RGB } from "../color/scales";
import type { SubView, ViewContext } from "../data/view";
import { h } from "../util/dom";
import { coloring, coloringShows, colorMode } from "../color/modes";
import { fmt } from "../util/format";

/** CSS gradient of a scale sampled at `n` stops. */
function gradient(fn: (t: number) => RGB, n = 13): string {
  const stops: string[] = [];
  for (let k = 0; k < n; k++) {
    const t = k / (n - 1);
    stops.push(`${css(fn(t))} ${(t * 100).toFixed(1)}%`);
  }
  return `linear-gradient(to right, ${stops.join(", ")})`;
}

// the scales' palette follows the theme: the bars are drawn from the palette in use
const divergingBg = () => gradient((t) => diverging(2 * t - 1, 1));
const sequentialBg = () => gradient((t) => sequential(t, 1));

const span = (cls: string, text = ""): HTMLSpanElement => h("span", cls, text);

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
  const blocks = span("nnviz-legend-note");
  el.append(title, scale, note, nan, width, blocks);
  el.setAttribute("aria-live", "polite");

  // per (colorBy, deltaRef): the largest range over layers (ranges are fixed across epochs)
  const maxCache = new Map<string, { kind: "values" | "scalar" | "none"; max: number }>();

  function layerScale(layer: string): { kind: "values" | "scalar" | "none"; max: number } {
    const st = ctx.state();
    // the latest snapshot says whether the layer has per-connection values or one per layer
    const c = coloring(store, layer, store.latest()?.epoch ?? 0, st);
    if (c.kind === "values") return { kind: "values", max: c.range };
    if (c.kind === "scalar") return { kind: "scalar", max: c.max };
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
    title.replaceChildren();
    const { head, detail } = colorMode(st.colorBy)?.title(store, st.epoch, st) ?? { head: st.colorBy, detail: "" };
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
      // say what the layer does show: no connections of its own (an attention layer's weights,
      // as in_proj, are not drawn as lines), its box in its kind color; where it has attention
      // maps, what it learned is there
      const maps = store.attentionShape(sel) ? "; its attention map: Inside tab" : "";
      scope = `${sel}: no connections drawn (kind color)${maps} · scale: all layers`;
    }
    if (s.kind === "none") {
      scale.style.display = "none";
      note.textContent = st.colorBy === "activation" ? "activations not recorded" : "nothing recorded for this mode yet";
    } else {
      scale.style.display = "";
      if (s.kind === "values") {
        bar.style.background = divergingBg();
        lo.textContent = s.max > 0 ? `−${fmt(s.max)}` : "0";
        hi.textContent = s.max > 0 ? `+${fmt(s.max)}` : "0";
        bar.title = "blue: negative · grey: zero · red: positive";
      } else {
        bar.style.background = sequentialBg();
        lo.textContent = "0";
        hi.textContent = fmt(s.max);
        bar.title = coloringShows(st.colorBy, "scalar");
      }
      const shows = coloringShows(st.colorBy, s.kind);
      note.textContent = `${shows} · ${scope}`;
      // what else is lit, and how: lines carry weight x input, the input shows the probe itself
      if (st.colorBy === "activation") note.textContent = "lines: weight × input · input: the probe (dark = high)";
    }
    ctx.setData("coloring", s.kind === "none" ? "none" : coloringShows(st.colorBy, s.kind));
    width.textContent = st.mode === "2d" ? "line width ∝ |weight|" : "";
    width.style.display = st.mode === "2d" ? "" : "none";
    // collapsed blocks are colored by one aggregate each (sequential: pale = low, dark = high)
    const shown = hierarchyOf(store.graph, st.expanded).blocks.size > 0;
    blocks.textContent = shown ? `blocks: ${colorMode(st.colorBy)?.blockShows ?? ""}, pale → dark` : "";
    blocks.style.display = shown ? "" : "none";
  }

  const offState = ctx.onState((changed) => {
    if (
      changed.has("colorBy") || changed.has("deltaRef") || changed.has("layer") || changed.has("epoch") || changed.has("mode") || changed.has("expanded") ||
      (changed.has("sample") && ctx.state().colorBy === "activation")
    ) {
      render();
    }
  });
  const offData = store.on(() => {
    maxCache.clear();
    render();
  });
  const offTheme = ctx.onTheme(() => render());
  render();

  return {
    el,
    resize(w: number) {
      el.style.width = `${Math.max(0, Math.floor(w))}px`;
    },
    destroy() {
      offState();
      offData();
      offTheme();
      el.remove();
    },
  };
}
