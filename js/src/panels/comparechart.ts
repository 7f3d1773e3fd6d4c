// The comparison's metrics chart (compare.py's CompareChart): every metric of both runs in one
// chart, drawn by the per-view chart (chart.ts) over a store of its own: one series per run and
// metric, the metric's color, solid for the first run and dashed for the second. Its `epoch` is
// jslinked to the comparison's slider in the browser, so the cursor follows scrubbing with no
// kernel (a saved notebook), and clicking the chart moves both views.
import type { AnyModel, GraphInfo, Snapshot, ViewState } from "../data/types";
import { Store } from "../data/store";
import type { ViewContext, TooltipRows } from "../data/view";
import { createChart, paletteColor } from "./chart";
import { Disposer, h, injectStyle } from "../util/dom";
import { styleSheet } from "../styles/styles";
import { themeVars, type Theme } from "../styles/theme";
import { currentTheme, watchTheme } from "../styles/watch";

/** What compare.py sends: run names, each run's metric names and epoch count; the values (float64:
 *  per run its epochs, then each metric at them, NaN where not recorded) in `_values`. */
export interface CompareRuns {
  names: string[];
  metrics: string[][];
  n: number[];
}

/** The series' name: metric, then run ("loss · plain"). */
export const seriesName = (metric: string, run: string): string => `${metric} · ${run}`;

/** Snapshots of a store with one metric per run and metric, at the union of both runs' epochs. */
export function compareSnapshots(runs: CompareRuns, values: Float64Array): Snapshot[] {
  const byEpoch = new Map<number, Record<string, number>>();
  let off = 0;
  runs.names.forEach((run, r) => {
    const n = runs.n[r] ?? 0;
    const epochs = values.subarray(off, off + n);
    off += n;
    for (const metric of runs.metrics[r] ?? []) {
      const vs = values.subarray(off, off + n);
      off += n;
      epochs.forEach((e, i) => {
        if (Number.isNaN(vs[i])) return; // not recorded at that epoch
        const m = byEpoch.get(e) ?? {};
        m[seriesName(metric, run)] = vs[i];
        byEpoch.set(e, m);
      });
    }
    for (const e of epochs) if (!byEpoch.has(e)) byEpoch.set(e, {});
  });
  return [...byEpoch.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([epoch, metrics]) => ({ epoch, label: epoch < 0 ? "init" : `epoch ${epoch}`, metrics }) as unknown as Snapshot);
}

/** A series' style: the metric's color (the same in both runs), dashed for the second run. */
export function compareStyle(runs: CompareRuns): (name: string, names: readonly string[], dark: boolean) => { color: string; dashed: boolean } {
  const metrics: string[] = [];
  for (const ms of runs.metrics) for (const m of ms) if (!metrics.includes(m)) metrics.push(m);
  return (name, _names, dark) => {
    for (let r = 0; r < runs.names.length; r++) {
      for (const m of runs.metrics[r] ?? []) {
        if (seriesName(m, runs.names[r]) === name) return { color: paletteColor(metrics.indexOf(m), dark), dashed: r > 0 };
      }
    }
    return { color: paletteColor(0, dark), dashed: false };
  };
}

function bytesOf(v: unknown): Float64Array {
  if (v instanceof DataView) return new Float64Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
  if (ArrayBuffer.isView(v)) return new Float64Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
  if (v instanceof ArrayBuffer) return new Float64Array(v.slice(0));
  return new Float64Array(0);
}

/** The series in legend order: each metric (first run's order first), run A then run B. */
export function seriesOrder(runs: CompareRuns): string[] {
  const metrics: string[] = [];
  for (const ms of runs.metrics) for (const m of ms) if (!metrics.includes(m)) metrics.push(m);
  const out: string[] = [];
  for (const m of metrics) runs.names.forEach((run, r) => (runs.metrics[r] ?? []).includes(m) && out.push(seriesName(m, run)));
  return out;
}

/** A store whose metric names keep the comparison's order (not the alphabet). */
class CompareStore extends Store {
  order: string[] = [];
  metricNames(): string[] {
    const have = new Set(super.metricNames());
    return this.order.filter((n) => have.has(n));
  }
}

/** Render the comparison chart of `model` into `el`; returns its cleanup. */
export function renderCompareChart({ model, el }: { model: AnyModel; el: HTMLElement }): () => void {
  injectStyle("nnviz-style", styleSheet());
  const d = new Disposer();
  const root = h("div", "nnviz-root nnviz-compare-chart");
  const tooltip = h("div", "nnviz-tooltip");
  root.style.position = "relative";
  el.appendChild(root);
  const store = new CompareStore({ layers: [] } as unknown as GraphInfo);
  let runs: CompareRuns = { names: [], metrics: [], n: [] };
  const load = () => {
    runs = (model.get("_runs") as CompareRuns) || runs;
    store.order = seriesOrder(runs);
    store.setSnapshots(compareSnapshots(runs, bytesOf(model.get("_values"))));
    root.dataset.series = String(store.metricNames().length);
  };
  let theme: Theme = currentTheme();
  const themeSubs = new Set<(t: Theme) => void>();
  const applyTheme = () => {
    for (const [k, v] of themeVars(theme)) root.style.setProperty(k, v);
    root.style.colorScheme = theme.dark ? "dark" : "light";
    root.dataset.theme = theme.dark ? "dark" : "light";
  };
  applyTheme();
  d.add(
    watchTheme((t) => {
      theme = t;
      applyTheme();
      for (const cb of [...themeSubs]) cb(t);
    }),
  );
  const subs = new Set<(changed: Set<keyof ViewState>) => void>();
  const onEpoch = () => {
    root.dataset.epoch = String(model.get("epoch"));
    for (const s of [...subs]) s(new Set<keyof ViewState>(["epoch"]));
  };
  const onData = () => load();
  model.on("change:epoch", onEpoch);
  model.on("change:_values", onData);
  model.on("change:_runs", onData);
  d.add(() => {
    model.off("change:epoch", onEpoch);
    model.off("change:_values", onData);
    model.off("change:_runs", onData);
  });
  load();
  root.dataset.epoch = String(model.get("epoch"));
  const hideTooltip = () => {
    tooltip.style.display = "none";
  };
  const ctx: ViewContext = {
    store,
    state: () => ({ epoch: Number(model.get("epoch")) }) as ViewState,
    select: () => undefined,
    setExpanded: () => undefined,
    setEpoch(epoch: number) {
      model.set("epoch", epoch);
      model.save_changes();
    },
    onState(cb) {
      subs.add(cb);
      return () => subs.delete(cb);
    },
    showTooltip(x: number, y: number, title: string, rows: TooltipRows) {
      tooltip.replaceChildren(h("div", "nnviz-tooltip-title", title)); // textContent: run names are text
      const grid = h("div", "nnviz-tooltip-rows");
      for (const [k, v] of rows) grid.append(h("span", "nnviz-tooltip-key", k), h("span", "nnviz-tooltip-val", v));
      tooltip.appendChild(grid);
      tooltip.style.display = "block";
      const rr = root.getBoundingClientRect();
      const left = Math.min(x - rr.left + 14, Math.max(4, rr.width - tooltip.offsetWidth - 4));
      tooltip.style.transform = `translate(${Math.round(left)}px, ${Math.round(y - rr.top + 14)}px)`;
    },
    hideTooltip,
    setData: (key, value) => {
      root.dataset[key] = String(value);
    },
    requestFrame: () => undefined,
    theme: () => theme,
    onTheme(cb) {
      themeSubs.add(cb);
      return () => themeSubs.delete(cb);
    },
    camera: () => ({}),
    setCamera: () => undefined,
    onCamera: () => () => undefined,
  };
  const chart = createChart(ctx, (name, names, dark) => compareStyle(runs)(name, names, dark));
  root.append(chart.el, tooltip);
  hideTooltip();
  const height = () => Number(model.get("height")) || 220;
  const fit = () => chart.resize(root.clientWidth || el.clientWidth || 600, height());
  const ro = typeof ResizeObserver !== "undefined" ? new ResizeObserver(() => fit()) : null;
  ro?.observe(root);
  d.add(() => ro?.disconnect());
  fit();
  requestAnimationFrame(fit); // the width once on the page
  root.dataset.ready = "1";
  return () => {
    chart.destroy();
    d.run();
    root.remove();
  };
}
