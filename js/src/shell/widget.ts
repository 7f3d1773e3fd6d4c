// The widget shell: `render` (once per view) builds the DOM shell, the ViewContext and the
// sub-views; it returns a cleanup that removes exactly what the view added. The model-level part
// (`initialize`) is shell/model.ts.
import { badgesAttr, layerBadges } from "../data/badges";
import { createChart } from "../panels/chart";
import { Disposer, h, injectStyle, listen, shareStyles } from "../util/dom";
import { createInside } from "../panels/inside/inside";
import { createLegend } from "../panels/legend";
import { createPanel } from "../panels/panel";
import { installPngHandler } from "./png";
import { createScene3D } from "../view3d/scene3d";
import { styleSheet } from "../styles/styles";
import { themeVars, type Theme } from "../styles/theme";
import { currentTheme, watchTheme } from "../styles/watch";
import { useScales } from "../color/scales";
import type { AnyModel, CameraState, Mode, ProbeInfo, ViewState } from "../data/types";
import { createView2D } from "../view2d/view2d";
import type { SubView, TooltipRows, ViewContext } from "../data/view";
import { fmtCount, fmtInt } from "../util/format";

import { createControls, hosted, type Controls } from "./controls";
import { createBreadcrumb } from "./breadcrumb";
import { TRAIT_OF, readState, setup } from "./model";

/** The main view of each `mode`. */
const VIEWS: Record<Mode, (ctx: ViewContext) => SubView> = { "3d": createScene3D, "2d": createView2D };

export function render({ model, el }: { model: AnyModel; el: HTMLElement }): () => void {
  injectStyle("nnviz-style", styleSheet());
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

  // theme: the page's (styles/watch.ts, one watcher per page), as CSS variables on the root and
  // the color scales' palette; then the views repaint what they drew with its colors
  let theme: Theme = currentTheme();
  const themeSubs = new Set<(t: Theme) => void>();
  // the root, and the view's own controls (outside it) once built
  const themed: HTMLElement[] = [root];
  const paintTheme = (node: HTMLElement) => {
    for (const [k, v] of themeVars(theme)) node.style.setProperty(k, v);
    node.style.colorScheme = theme.dark ? "dark" : "light";
  };
  const applyTheme = () => {
    for (const node of themed) paintTheme(node);
    root.dataset.theme = theme.dark ? "dark" : "light";
    useScales(theme.dark);
  };
  applyTheme();
  d.add(watchTheme((t) => {
    theme = t;
    applyTheme();
    for (const cb of [...themeSubs]) cb(t);
  }));

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

  // the shared camera (`_camera`): this view's user moves are written at most every 60 ms; a
  // change it did not write (a linked view's, through a jslink) goes to the views to apply
  const camSubs = new Set<(c: CameraState) => void>();
  let camPending: CameraState | null = null;
  let camTimer = 0;
  let camWritten = "";
  const readCamera = (): CameraState => {
    const c = model.get("_camera");
    return c && typeof c === "object" ? (c as CameraState) : {};
  };
  const writeCamera = () => {
    camTimer = 0;
    if (!camPending) return;
    const value = { ...readCamera(), ...camPending };
    camPending = null;
    camWritten = JSON.stringify(value);
    model.set("_camera", value);
    model.save_changes();
  };
  const onCameraTrait = () => {
    const c = readCamera();
    if (JSON.stringify(c) === camWritten) return; // our own write coming back
    for (const cb of [...camSubs]) cb(c);
  };
  model.on("change:_camera", onCameraTrait);
  d.add(() => model.off("change:_camera", onCameraTrait));
  d.add(() => {
    if (camTimer) clearTimeout(camTimer);
  });

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
    setExpanded(paths: string[]) {
      model.set("expanded", [...paths]);
      model.save_changes();
    },
    onState(cb) {
      subs.add(cb);
      return () => subs.delete(cb);
    },
    showTooltip,
    hideTooltip,
    setData,
    theme: () => theme,
    onTheme(cb) {
      themeSubs.add(cb);
      return () => themeSubs.delete(cb);
    },
    camera: readCamera,
    setCamera(mode, value) {
      camPending = { ...(camPending ?? {}), [mode]: value };
      if (!camTimer) camTimer = window.setTimeout(writeCamera, 60);
    },
    onCamera(cb) {
      camSubs.add(cb);
      return () => camSubs.delete(cb);
    },
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
    mainView = mount(VIEWS[mode], main);
    sizeOf(main);
    if (mode === "2d") ctx.requestFrame();
  };
  showMode();
  subs.add((changed) => {
    if (changed.has("mode")) showMode();
  });
  // the open module path above the view (graphs with a module tree); a click collapses
  const crumbs = createBreadcrumb(ctx);
  main.appendChild(crumbs.el);
  d.add(() => crumbs.destroy());
  mount(createPanel, paneDetails);
  const probe = (): ProbeInfo | null => {
    const p = model.get("_probe");
    return p && typeof p === "object" ? (p as ProbeInfo) : null;
  };
  const inside = mount((c) => createInside(c, probe), paneInside);
  mount(createLegend, legendBox);
  mount(createChart, chartBox);

  // tabs: "Inside" first when the run has something to show there at a glance (a decision
  // boundary, image-shaped input, or the selected layer's attention maps); until the user picks
  // a tab, the default follows the data and the selection
  let tab: "details" | "inside" = "details";
  let tabChosen = false;
  const selectedMaps = () => {
    const layer = ctx.state().layer;
    return !!layer && !!store.attentionShape(layer);
  };
  const wantsInside = () =>
    !!inside && (!!probe()?.image_shape || store.snapshots.some((sn) => sn.boundary !== null) || selectedMaps());
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
  d.add(ctx.onState((changed) => {
    if (changed.has("layer")) defaultTab();
  }));
  const onProbe = () => defaultTab();
  model.on("change:_probe", onProbe);
  d.add(() => model.off("change:_probe", onProbe));

  // viz.to_png(): the kernel asks, this view answers with its visible canvas (3D or 2D)
  d.add(installPngHandler(model, () => main.querySelector<HTMLCanvasElement>("canvas.nnviz-canvas, canvas.nnviz-view2d-canvas")));

  // sizes
  // the view's own controls, where no ipywidgets controls stand around it (marimo): decided once
  // the view is on the page (a Jupyter box inserts its children after rendering them); built
  // only then, so a view in Jupyter adds no listeners for them
  let own: Controls | null = null;
  const epochs = () => store.snapshots.map((sn) => sn.epoch);
  const placeControls = () => {
    if (!el.isConnected) return;
    shareStyles(el); // marimo renders into a shadow root, which the page's <style>s don't reach
    const bare = !hosted(el);
    if (bare && !own) {
      own = createControls(model, epochs());
      own.top.classList.add("nnviz-own-controls");
      own.bottom.classList.add("nnviz-own-controls");
      for (const node of [own.top, own.bottom]) {
        themed.push(node);
        paintTheme(node);
      }
      el.insertBefore(own.top, root);
      el.appendChild(own.bottom);
      shareStyles(el);
    }
    if (own) own.top.style.display = own.bottom.style.display = bare ? "" : "none";
  };
  d.add(store.on(() => own?.setEpochs(epochs())));
  d.add(() => own?.destroy());

  const observer = new ResizeObserver((entries) => {
    for (const e of entries) {
      const box = e.target as HTMLElement;
      if (box === root) {
        root.classList.toggle("nnviz-narrow", root.clientWidth < 640);
        placeControls();
      } else sizeOf(box);
    }
  });
  for (const box of [root, main, paneDetails, paneInside, legendBox, chartBox]) observer.observe(box);
  d.add(() => observer.disconnect());
  root.classList.toggle("nnviz-narrow", el.clientWidth > 0 && el.clientWidth < 640);
  defaultTab();
  for (const box of [main, paneDetails, paneInside, legendBox, chartBox]) sizeOf(box);
  placeControls();

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
    themeSubs.clear();
    d.run();
  };
}
