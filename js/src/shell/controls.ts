// The view's own controls (epoch slider + play, layer, 2D/3D, color mode, delta reference, probe
// sample), wired to the model with the anywidget model API only. In a Jupyter front-end the
// ipywidgets controls of controls.py stand around the view instead; the exported page
// (standalone.ts) and marimo, where no ipywidgets controls exist, use these. Their colors are the
// view's `--nnviz-*` theme where widget.ts sets it on them (marimo), light defaults otherwise.
import type { AnyModel, GraphInfo } from "../data/types";
import { h, injectStyle } from "../util/dom";
import { choiceLabel, choicesOf } from "./model";

type Callback = (...args: unknown[]) => void;

/** The class of an element whose controls stand around the view (controls.py's ipywidgets box,
 * the exported page's host): a view inside one draws no controls of its own. */
export const HOSTED = "nnviz-controls";

/** Whether the view at `el` has controls around it (false until it is on the page). */
export function hosted(el: Element): boolean {
  return el.closest(`.${HOSTED}`) !== null;
}

export const CONTROLS_CSS = `
.nnviz-page-controls { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 14px; margin: 8px 0;
  font: 13px/1.3 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--nnviz-fg, #1f2430); }
.nnviz-page-controls label { display: inline-flex; align-items: center; gap: 6px; }
.nnviz-page-controls select, .nnviz-page-controls button { font: inherit; padding: 3px 6px;
  border: 1px solid var(--nnviz-line2, #c9ced6); border-radius: 4px; background: var(--nnviz-bg, #fff); color: inherit; }
.nnviz-page-controls button { cursor: pointer; min-width: 34px; }
.nnviz-page-controls button[aria-pressed="true"] { background: var(--nnviz-fg, #1f2430); color: var(--nnviz-bg, #fff);
  border-color: var(--nnviz-fg, #1f2430); }
.nnviz-page-controls .nnviz-page-seg { display: inline-flex; }
.nnviz-page-controls .nnviz-page-seg button { border-radius: 0; }
.nnviz-page-controls .nnviz-page-seg button:first-child { border-radius: 4px 0 0 4px; }
.nnviz-page-controls .nnviz-page-seg button:last-child { border-radius: 0 4px 4px 0; }
.nnviz-page-controls input[type=range] { width: 320px; max-width: 60vw; }
.nnviz-page-controls .nnviz-page-epoch { min-width: 64px; font-variant-numeric: tabular-nums; }
@media (prefers-color-scheme: dark) {
  html[data-nnviz-theme="auto"] .nnviz-page-controls { color: #e6e8eb; }
  html[data-nnviz-theme="auto"] .nnviz-page-controls select, html[data-nnviz-theme="auto"] .nnviz-page-controls button {
    background: #1b1e24; border-color: #4a5261; }
  html[data-nnviz-theme="auto"] .nnviz-page-controls button[aria-pressed="true"] { background: #e6e8eb; color: #1b1e24; border-color: #e6e8eb; }
}
`;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const e = h(tag, undefined, text);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function option(value: string, text: string): HTMLOptionElement {
  const o = el("option", { value }, text);
  return o;
}

export interface Controls {
  /** above the view: layer, 2D/3D, color mode, delta reference */
  top: HTMLElement;
  /** below the view: play, epoch slider, probe sample */
  bottom: HTMLElement;
  /** the recorded epochs changed (a live run): the slider and play cover [first, last] */
  setEpochs(epochs: number[]): void;
  destroy(): void;
}

/** Epoch slider + play, layer select, 2D/3D, color mode, delta reference, probe sample. */
export function createControls(model: AnyModel, epochs: number[], playInterval = 500): Controls {
  injectStyle("nnviz-controls-style", CONTROLS_CSS);
  const cleanups: (() => void)[] = [];
  const on = (event: string, cb: Callback) => {
    model.on(event, cb);
    cleanups.push(() => model.off(event, cb));
  };
  const set = (name: string, value: unknown) => {
    model.set(name, value);
    model.save_changes();
  };
  const top = el("div", { class: "nnviz-page-controls nnviz-page-top", role: "toolbar", "aria-label": "view controls" });
  const bottom = el("div", { class: "nnviz-page-controls nnviz-page-bottom", role: "toolbar", "aria-label": "timeline" });

  // layer
  const graph = (model.get("_graph") ?? { layers: [] }) as GraphInfo;
  const layerSel = el("select", { class: "nnviz-page-layer", "aria-label": "layer" });
  layerSel.append(option("", "(no layer selected)"));
  for (const l of graph.layers ?? []) layerSel.append(option(l.name, l.name)); // textContent: names are untrusted
  const layerLabel = el("label", {}, "Layer");
  layerLabel.append(layerSel);
  layerSel.addEventListener("change", () => set("layer", layerSel.value));
  const syncLayer = () => {
    layerSel.value = String(model.get("layer") ?? "");
  };
  on("change:layer", syncLayer);
  syncLayer();

  // 2D / 3D
  const seg = el("span", { class: "nnviz-page-seg nnviz-page-mode", role: "group", "aria-label": "view mode" });
  const modeButtons = choicesOf(model).mode.map((m) => {
    const b = el("button", { type: "button", "data-mode": m }, m.toUpperCase());
    b.addEventListener("click", () => set("mode", m));
    seg.append(b);
    return b;
  });
  const syncMode = () => {
    const mode = model.get("mode") === "2d" ? "2d" : "3d";
    for (const b of modeButtons) b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
  };
  on("change:mode", syncMode);
  syncMode();

  // color mode + delta reference
  const colorSel = el("select", { class: "nnviz-page-color", "aria-label": "color by" });
  for (const v of choicesOf(model).color_by) colorSel.append(option(v, choiceLabel(model, "color_by", v, `color: ${v}`)));
  colorSel.addEventListener("change", () => set("color_by", colorSel.value));
  const deltaSel = el("select", { class: "nnviz-page-delta", "aria-label": "delta reference" });
  for (const v of choicesOf(model).delta_ref) deltaSel.append(option(v, choiceLabel(model, "delta_ref", v, `Δ vs ${v}`)));
  deltaSel.addEventListener("change", () => set("delta_ref", deltaSel.value));
  const syncColor = () => {
    colorSel.value = String(model.get("color_by") ?? "weight");
    deltaSel.value = model.get("delta_ref") === "init" ? "init" : "previous";
    deltaSel.style.display = colorSel.value === "delta" ? "" : "none";
  };
  on("change:color_by", syncColor);
  on("change:delta_ref", syncColor);
  syncColor();
  top.append(layerLabel, seg, colorSel, deltaSel);

  // epoch: play + slider over [first, last] recorded epoch, as the notebook's Play + IntSlider
  let lo = -1;
  let hi = -1;
  const play = el("button", { type: "button", class: "nnviz-page-play", "aria-label": "play" }, "▶");
  const slider = el("input", {
    type: "range",
    class: "nnviz-page-slider",
    min: String(lo),
    max: String(hi),
    step: "1",
    "aria-label": "epoch",
  });
  const epochText = el("span", { class: "nnviz-page-epoch", "aria-live": "polite" });
  const epochLabel = el("label", {}, "Epoch");
  epochLabel.append(slider);
  const setEpochs = (list: number[]) => {
    lo = list.length ? Math.min(...list) : -1;
    hi = list.length ? Math.max(...list) : -1;
    slider.min = String(lo);
    slider.max = String(hi);
    slider.value = String(Number(model.get("epoch"))); // a value set past the old max was clamped
  };
  setEpochs(epochs);
  slider.addEventListener("input", () => set("epoch", Number(slider.value)));
  const syncEpoch = () => {
    const e = Number(model.get("epoch"));
    slider.value = String(e);
    epochText.textContent = e < 0 ? "init" : `epoch ${e}`;
  };
  on("change:epoch", syncEpoch);
  syncEpoch();
  let timer = 0;
  const stop = () => {
    if (timer) window.clearInterval(timer);
    timer = 0;
    play.textContent = "▶";
    play.setAttribute("aria-label", "play");
    play.setAttribute("aria-pressed", "false");
  };
  const step = () => {
    const e = Number(model.get("epoch"));
    if (e >= hi) {
      stop();
      return;
    }
    set("epoch", Math.min(hi, e + 1));
    if (Number(model.get("epoch")) >= hi) stop();
  };
  play.addEventListener("click", () => {
    if (timer) {
      stop();
      return;
    }
    if (Number(model.get("epoch")) >= hi) set("epoch", lo); // from the start again
    play.textContent = "❚❚";
    play.setAttribute("aria-label", "pause");
    play.setAttribute("aria-pressed", "true");
    timer = window.setInterval(step, playInterval);
  });
  cleanups.push(stop);
  bottom.append(play, epochLabel, epochText);

  // probe sample (activation mode), like the notebook's "Sample" slider
  const probe = (model.get("_probe") ?? {}) as { n?: number };
  const n = Number(probe.n ?? 0);
  if (n > 1) {
    const sample = el("input", { type: "range", class: "nnviz-page-sample", min: "0", max: String(n - 1), step: "1", "aria-label": "probe sample" });
    const sampleLabel = el("label", {}, "Sample");
    sampleLabel.append(sample);
    sample.addEventListener("input", () => set("sample", Number(sample.value)));
    const syncSample = () => {
      sample.value = String(Number(model.get("sample") ?? 0));
    };
    on("change:sample", syncSample);
    syncSample();
    bottom.append(sampleLabel);
  }

  return {
    top,
    bottom,
    setEpochs,
    destroy() {
      for (const fn of cleanups.reverse()) fn();
      top.remove();
      bottom.remove();
    },
  };
}

