// anywidget entry. `initialize` (once per widget model): the Store, decoding of the snapshot
// child widgets, and the layer <-> _layer_index / mode <-> _mode_index mirrors. `render` (once per
// view): the DOM shell, the ViewContext and the sub-views; it returns a cleanup that removes
// exactly what the view added.
import { badgesAttr, layerBadges } from "./badges";
import { createChart } from "./chart";
import { decodeChild } from "./decode";
import { Disposer, fmtCount, fmtInt, h, injectStyle, listen } from "./dom";
import { createInside } from "./inside";
import { createLegend } from "./legend";
import { createPanel } from "./panel";
import { installPngHandler } from "./png";
import { createScene3D } from "./scene3d";
import { Store } from "./store";
import { STYLE } from "./style";
import type { ChunkHeader, ColorBy, GraphInfo, Mode, ProbeInfo, Snapshot, SnapshotHeader, ViewState } from "./types";
import { createView2D } from "./view2d";
import type { SubView, TooltipRows, ViewContext } from "./view";

// ------------------------------------------------------------------------------------------------
// The slice of anywidget's model API used here.
type Callback = (...args: unknown[]) => void;
export interface AnyModel {
  get(name: string): any; // eslint-disable-line @typescript-eslint/no-explicit-any
  set(name: string, value: unknown): void;
  on(event: string, cb: Callback): void;
  off(event?: string | null, cb?: Callback | null): void;
  save_changes(): void;
  send?(content: unknown, callbacks?: unknown, buffers?: unknown[]): void;
  widget_manager: { get_model(id: string): Promise<AnyModel> | AnyModel };
}

const MODES: Mode[] = ["3d", "2d"];
const COLOR_BYS: ColorBy[] = ["weight", "delta", "gradient", "activation"];
const DELTA_REFS = ["previous", "init"];

/**
 * Named traits and the index traits that mirror them (types.ts): `none` = index 0 means
 * "nothing" and i + 1 means values[i] (the layer dropdown); otherwise the index is values' own.
 */
const MIRRORS: { trait: string; index: string; values: (g: GraphInfo) => string[]; none: boolean }[] = [
  { trait: "layer", index: "_layer_index", values: (g) => g.layers.map((l) => l.name), none: true },
  { trait: "mode", index: "_mode_index", values: () => MODES, none: false },
  { trait: "color_by", index: "_color_index", values: () => COLOR_BYS, none: false },
  { trait: "delta_ref", index: "_delta_index", values: () => DELTA_REFS, none: false },
];
const EMPTY_GRAPH: GraphInfo = {
  framework: "", model_name: "", approximate: false, notes: [], data_format: "channels_first", layers: [], edges: [], neuron_source: {}, total_params: 0,
};

/** Model-level state, shared by every view of one widget model. */
interface Shared {
  store: Store;
  /** resolves once the snapshots known at the last change are decoded and in the store */
  loaded: Promise<void>;
  isLoaded: boolean;
  cache: Map<string, Snapshot[]>;
  error: string;
  dispose: () => void;
}

const SHARED = new WeakMap<AnyModel, Shared>();

function graphOf(model: AnyModel): GraphInfo {
  const g = model.get("_graph");
  if (!g || typeof g !== "object" || !Array.isArray(g.layers)) return EMPTY_GRAPH;
  return { ...EMPTY_GRAPH, ...g } as GraphInfo;
}

function toDataView(v: unknown): DataView | null {
  if (!v) return null;
  if (v instanceof DataView) return v;
  if (v instanceof ArrayBuffer) return new DataView(v);
  if (ArrayBuffer.isView(v)) return new DataView(v.buffer, v.byteOffset, v.byteLength);
  return null;
}

function setup(model: AnyModel): Shared {
  const existing = SHARED.get(model);
  if (existing) return existing;
  const store = new Store(graphOf(model));
  const cache = new Map<string, Snapshot[]>(); // child model id -> its snapshot(s)
  let generation = 0;
  let syncLayer = () => {};
  const shared: Shared = { store, loaded: Promise.resolve(), isLoaded: false, cache, error: "", dispose: () => {} };

  async function resolveSnapshots(): Promise<void> {
    const gen = ++generation;
    const refs: unknown = model.get("_snapshots");
    const ids = (Array.isArray(refs) ? refs : []).map((r) => String(r).replace(/^IPY_MODEL_/, ""));
    const snaps: Snapshot[] = [];
    for (const id of ids) {
      let got = cache.get(id);
      if (!got) {
        try {
          const child = await model.widget_manager.get_model(id);
          let header = child.get("header") as SnapshotHeader | ChunkHeader | string;
          if (typeof header === "string") header = JSON.parse(header) as SnapshotHeader | ChunkHeader;
          got = decodeChild(header, toDataView(child.get("data")));
          cache.set(id, got);
        } catch (err) {
          shared.error = `could not read a recorded snapshot: ${(err as Error)?.message ?? err}`;
          console.error("nnviz:", err);
          continue;
        }
      }
      snaps.push(...got);
    }
    if (gen !== generation) return; // a newer change superseded this one
    for (const id of [...cache.keys()]) if (!ids.includes(id)) cache.delete(id);
    store.setSnapshots(snaps);
    shared.isLoaded = true;
  }

  // keep each named trait and its index mirror equal (the ipywidgets controls are jslinked to
  // the index traits); each side only writes when the other differs: no ping-pong
  const mirrorFns: [string, () => void][] = [];
  for (const m of MIRRORS) {
    const fromTrait = () => {
      const values = m.values(store.graph);
      const i = values.indexOf(String(model.get(m.trait) ?? ""));
      const idx = m.none ? (i >= 0 ? i + 1 : 0) : i;
      if (idx < 0) return; // an unknown enum value: leave the index alone
      if (model.get(m.index) !== idx) {
        model.set(m.index, idx);
        model.save_changes();
      }
    };
    const fromIndex = () => {
      const values = m.values(store.graph);
      const idx = Number(model.get(m.index));
      if (!Number.isInteger(idx)) return;
      const value = m.none ? (idx >= 1 && idx <= values.length ? values[idx - 1] : "") : values[idx];
      if (value === undefined) return;
      if ((model.get(m.trait) ?? "") !== value) {
        model.set(m.trait, value);
        model.save_changes();
      }
    };
    mirrorFns.push([`change:${m.trait}`, fromTrait], [`change:${m.index}`, fromIndex]);
    if (m.trait === "layer") syncLayer = fromTrait;
  }
  const onSnapshots = () => {
    shared.loaded = resolveSnapshots();
  };
  const onGraph = () => {
    store.setGraph(graphOf(model));
    syncLayer();
  };
  model.on("change:_snapshots", onSnapshots);
  model.on("change:_graph", onGraph);
  for (const [ev, fn] of mirrorFns) model.on(ev, fn);
  // at start the named traits win (the kernel set them; the indices follow)
  for (let i = 0; i < mirrorFns.length; i += 2) mirrorFns[i][1]();
  onSnapshots();
  shared.dispose = () => {
    model.off("change:_snapshots", onSnapshots);
    model.off("change:_graph", onGraph);
    for (const [ev, fn] of mirrorFns) model.off(ev, fn);
    SHARED.delete(model);
  };
  SHARED.set(model, shared);
  return shared;
}

// ------------------------------------------------------------------------------------------------
// The view.

const TRAIT_OF: Record<keyof ViewState, string> = {
  epoch: "epoch",
  layer: "layer",
  mode: "mode",
  colorBy: "color_by",
  deltaRef: "delta_ref",
  maxConnections: "max_connections",
  sample: "sample",
};

function readState(model: AnyModel): ViewState {
  const num = (v: unknown, dflt: number) => (typeof v === "number" && Number.isFinite(v) ? v : dflt);
  const mode = model.get("mode");
  const colorBy = model.get("color_by");
  return {
    epoch: num(model.get("epoch"), -1),
    layer: String(model.get("layer") ?? ""),
    mode: mode === "2d" ? "2d" : "3d",
    colorBy: (COLOR_BYS.includes(colorBy) ? colorBy : "weight") as ColorBy,
    deltaRef: model.get("delta_ref") === "init" ? "init" : "previous",
    maxConnections: Math.max(0, num(model.get("max_connections"), 20000)),
    sample: Math.max(0, Math.floor(num(model.get("sample"), 0))),
  };
}

function render({ model, el }: { model: AnyModel; el: HTMLElement }): () => void {
  injectStyle("nnviz-style", STYLE);
  const shared = setup(model);
  const store = shared.store;
  const d = new Disposer();

  // DOM shell
  const root = h("div", "nnviz-root");
  const header = h("div", "nnviz-header");
  const title = h("span", "nnviz-title");
  const meta = h("span", "nnviz-meta");
  const approx = h("span", "nnviz-banner", "approximate topology (traced from execution order)");
  const notice = h("span", "nnviz-notice");
  const budget = h("span", "nnviz-budget");
  header.append(title, meta, approx, notice, budget);
  const body = h("div", "nnviz-body");
  const main = h("div", "nnviz-main");
  const side = h("div", "nnviz-side");
  // the side column: "Details" (the layer / model panel) | "Inside" (probe, maps, boundary, health)
  const tabs = h("div", "nnviz-tabs");
  tabs.setAttribute("role", "tablist");
  const tabDetails = h("button", "nnviz-tab", "Details");
  const tabInside = h("button", "nnviz-tab", "Inside");
  for (const [b, name] of [[tabDetails, "details"], [tabInside, "inside"]] as const) {
    b.type = "button";
    b.setAttribute("role", "tab");
    b.dataset.tab = name;
  }
  tabs.append(tabDetails, tabInside);
  const paneDetails = h("div", "nnviz-pane nnviz-pane-details");
  const paneInside = h("div", "nnviz-pane nnviz-pane-inside");
  paneDetails.setAttribute("role", "tabpanel");
  paneInside.setAttribute("role", "tabpanel");
  side.append(tabs, paneDetails, paneInside);
  body.append(main, side);
  const bottom = h("div", "nnviz-bottom");
  const legendBox = h("div", "nnviz-legend-box");
  const chartBox = h("div", "nnviz-chart-box");
  bottom.append(legendBox, chartBox);
  const tooltip = h("div", "nnviz-tooltip");
  tooltip.setAttribute("role", "tooltip");
  root.append(header, body, bottom, tooltip);
  el.appendChild(root);
  d.add(() => root.remove());

  const data: Record<string, string> = {};
  let frames = 0;
  let painted = false;
  const setData = (key: string, value: string | number) => {
    if (key === "frame") {
      // any sub-view's painted frame bumps the one counter
      root.dataset.frame = String(++frames);
      return;
    }
    if (key === "ready") {
      painted = true;
      updateReady();
      return;
    }
    const v = String(value);
    if (data[key] === v) return;
    data[key] = v;
    root.dataset[key] = v;
    if (key === "connectionsDrawn" || key === "connectionsTotal") updateBudget();
  };
  const updateReady = () => {
    root.dataset.ready = painted && shared.isLoaded ? "1" : "0";
  };
  const updateBudget = () => {
    const drawn = Number(data.connectionsDrawn ?? 0);
    const total = Number(data.connectionsTotal ?? 0);
    budget.textContent = total > drawn ? `showing ${fmtInt(drawn)} of ${fmtInt(total)} connections` : "";
    budget.style.display = budget.textContent ? "" : "none";
  };
  updateReady();
  updateBudget();

  const refreshHeader = () => {
    const g = store.graph;
    title.textContent = g.model_name || "model";
    const parts = [g.framework, `${g.layers.length} layers`, `${fmtCount(g.total_params)} params`].filter(Boolean);
    meta.textContent = parts.join(" · ");
    approx.style.display = g.approximate ? "" : "none";
    root.dataset.layers = String(g.layers.length);
    root.dataset.approximate = g.approximate ? "1" : "0";
    const n = String(model.get("_notice") ?? "");
    notice.textContent = shared.error ? [n, shared.error].filter(Boolean).join(" · ") : n;
    notice.style.display = notice.textContent ? "" : "none";
  };
  const refreshState = () => {
    const st = readState(model);
    root.dataset.mode = st.mode;
    root.dataset.layer = st.layer;
    root.dataset.epoch = String(st.epoch);
    root.dataset.colorBy = st.colorBy;
    root.dataset.sample = String(st.sample);
    // health flags at this epoch, "layer:badge,..." (the views draw them on the layers)
    root.dataset.badges = badgesAttr(layerBadges(store, st.epoch));
  };
  const refreshHeight = () => {
    const hgt = Number(model.get("height"));
    const px = Number.isFinite(hgt) && hgt > 120 ? hgt : 520;
    root.style.height = `${px}px`;
    // narrow layout: the panel goes below the view, which keeps most of the height
    root.style.setProperty("--nnviz-main-h", `${Math.max(260, px - 160)}px`);
  };
  refreshHeader();
  refreshState();
  refreshHeight();

  // tooltip (textContent only)
  const showTooltip = (x: number, y: number, titleText: string, rows: TooltipRows) => {
    tooltip.replaceChildren();
    tooltip.appendChild(h("div", "nnviz-tooltip-title", titleText));
    if (rows.length) {
      const grid = h("div", "nnviz-tooltip-rows");
      for (const [k, v] of rows) grid.append(h("span", "nnviz-tooltip-key", k), h("span", "nnviz-tooltip-val", v));
      tooltip.appendChild(grid);
    }
    tooltip.style.display = "block";
    const rr = root.getBoundingClientRect();
    const tw = tooltip.offsetWidth;
    const th = tooltip.offsetHeight;
    let left = x - rr.left + 14;
    let top = y - rr.top + 14;
    if (left + tw > rr.width - 4) left = Math.max(4, x - rr.left - tw - 14);
    if (top + th > rr.height - 4) top = Math.max(4, y - rr.top - th - 14);
    tooltip.style.transform = `translate(${Math.round(left)}px, ${Math.round(top)}px)`;
  };
  const hideTooltip = () => {
    tooltip.style.display = "none";
  };
  hideTooltip();

  // state subscriptions (one model listener per trait for this view)
  const subs = new Set<(changed: Set<keyof ViewState>) => void>();
  for (const key of Object.keys(TRAIT_OF) as (keyof ViewState)[]) {
    const cb = () => {
      refreshState();
      const changed = new Set<keyof ViewState>([key]);
      for (const s of [...subs]) s(changed);
    };
    model.on(`change:${TRAIT_OF[key]}`, cb);
    d.add(() => model.off(`change:${TRAIT_OF[key]}`, cb));
  }
  const onNotice = () => refreshHeader();
  model.on("change:_notice", onNotice);
  d.add(() => model.off("change:_notice", onNotice));
  const onHeight = () => refreshHeight();
  model.on("change:height", onHeight);
  d.add(() => model.off("change:height", onHeight));
  d.add(store.on(() => {
    refreshHeader();
    refreshState();
    updateReady();
  }));

  let frameReq = 0;
  const ctx: ViewContext = {
    store,
    state: () => readState(model),
    select(layer: string) {
      const idx = layer ? store.graph.layers.findIndex((l) => l.name === layer) : -1;
      model.set("layer", idx >= 0 ? layer : "");
      model.set("_layer_index", idx + 1); // 0 = none
      model.save_changes();
    },
    setEpoch(epoch: number) {
      model.set("epoch", epoch);
      model.save_changes();
    },
    onState(cb) {
      subs.add(cb);
      return () => subs.delete(cb);
    },
    showTooltip,
    hideTooltip,
    setData,
    requestFrame() {
      // sub-views that draw with the DOM / 2D canvas paint themselves; this marks the frame
      if (frameReq) return;
      frameReq = requestAnimationFrame(() => {
        frameReq = 0;
        setData("frame", 0);
        if (mainMode === "2d") setData("ready", 1);
      });
    },
  };
  d.add(() => {
    if (frameReq) cancelAnimationFrame(frameReq);
  });

  // sub-views
  const views: { view: SubView; box: HTMLElement }[] = [];
  const mount = (make: (c: ViewContext) => SubView, box: HTMLElement): SubView | null => {
    try {
      const view = make(ctx);
      box.appendChild(view.el);
      views.push({ view, box });
      return view;
    } catch (err) {
      console.error("nnviz: a part of the view failed to build", err);
      box.appendChild(h("div", "nnviz-error", `could not show this part: ${(err as Error)?.message ?? err}`));
      return null;
    }
  };
  const unmount = (view: SubView | null) => {
    if (!view) return;
    const i = views.findIndex((v) => v.view === view);
    if (i >= 0) views.splice(i, 1);
    view.destroy();
    view.el.remove();
  };

  const sizeOf = (box: HTMLElement) => {
    const w = box.clientWidth;
    const hh = box.clientHeight;
    for (const v of views) if (v.box === box) v.view.resize(w, hh);
  };

  let mainView: SubView | null = null;
  let mainMode: Mode | null = null;
  const showMode = () => {
    const mode = readState(model).mode;
    if (mode === mainMode) return;
    unmount(mainView);
    hideTooltip();
    mainMode = mode;
    mainView = mount(mode === "2d" ? createView2D : createScene3D, main);
    sizeOf(main);
    if (mode === "2d") ctx.requestFrame();
  };
  showMode();
  subs.add((changed) => {
    if (changed.has("mode")) showMode();
  });
  mount(createPanel, paneDetails);
  const probe = (): ProbeInfo | null => {
    const p = model.get("_probe");
    return p && typeof p === "object" ? (p as ProbeInfo) : null;
  };
  const inside = mount((c) => createInside(c, probe), paneInside);
  mount(createLegend, legendBox);
  mount(createChart, chartBox);

  // tabs: "Inside" first when the run has something to show there at a glance (a decision
  // boundary, or image-shaped input); until the user picks a tab, the default follows the data
  let tab: "details" | "inside" = "details";
  let tabChosen = false;
  const wantsInside = () =>
    !!inside && (!!probe()?.image_shape || store.snapshots.some((sn) => sn.boundary !== null));
  const showTab = (t: "details" | "inside") => {
    if (!inside) t = "details";
    tab = t;
    root.dataset.tab = t;
    side.classList.toggle("nnviz-side-inside", t === "inside");
    for (const [b, name] of [[tabDetails, "details"], [tabInside, "inside"]] as const) {
      const on = name === t;
      b.classList.toggle("nnviz-tab-on", on);
      b.setAttribute("aria-selected", on ? "true" : "false");
    }
    paneDetails.style.display = t === "details" ? "" : "none";
    paneInside.style.display = t === "inside" ? "" : "none";
    sizeOf(t === "details" ? paneDetails : paneInside);
  };
  tabs.style.display = inside ? "" : "none";
  const defaultTab = () => {
    if (!tabChosen) showTab(wantsInside() ? "inside" : "details");
  };
  d.add(listen(tabDetails, "click", () => {
    tabChosen = true;
    showTab("details");
  }));
  d.add(listen(tabInside, "click", () => {
    tabChosen = true;
    showTab("inside");
  }));
  d.add(store.on(defaultTab));
  const onProbe = () => defaultTab();
  model.on("change:_probe", onProbe);
  d.add(() => model.off("change:_probe", onProbe));

  // viz.to_png(): the kernel asks, this view answers with its visible canvas (3D or 2D)
  d.add(installPngHandler(model, () => main.querySelector<HTMLCanvasElement>("canvas.nnviz-canvas, canvas.nnviz-view2d-canvas")));

  // sizes
  const observer = new ResizeObserver((entries) => {
    for (const e of entries) {
      const box = e.target as HTMLElement;
      if (box === root) root.classList.toggle("nnviz-narrow", root.clientWidth < 640);
      else sizeOf(box);
    }
  });
  for (const box of [root, main, paneDetails, paneInside, legendBox, chartBox]) observer.observe(box);
  d.add(() => observer.disconnect());
  root.classList.toggle("nnviz-narrow", el.clientWidth > 0 && el.clientWidth < 640);
  defaultTab();
  for (const box of [main, paneDetails, paneInside, legendBox, chartBox]) sizeOf(box);

  d.add(listen(root, "pointerleave", () => hideTooltip()));

  // once the snapshots are in, the next painted frame marks the view ready
  let alive = true;
  d.add(() => {
    alive = false;
  });
  void shared.loaded.then(() => {
    if (!alive) return;
    refreshHeader();
    refreshState();
    defaultTab();
    updateReady();
    ctx.requestFrame();
  });

  return () => {
    for (const { view } of [...views].reverse()) {
      try {
        view.destroy();
      } catch (err) {
        console.error("nnviz: destroy failed", err);
      }
    }
    views.length = 0;
    mainView = null;
    subs.clear();
    d.run();
  };
}

export default {
  initialize({ model }: { model: AnyModel }) {
    const shared = setup(model);
    return () => shared.dispose();
  },
  render,
};
