// The 2D view: the same graph as the 3D scene, drawn left to right with Canvas 2D (no WebGL
// context). Dense layers and their inputs are columns of neurons with colored connections (as in
// TF Playground); every other layer is a rounded box colored by kind. Conv layers (and image
// inputs) with recorded feature maps show the probe sample's maps as a grid of channel tiles in
// their box or above their neuron column, as the 3D view's channel planes do, in every color mode.
// Geometry is cached: changing the epoch, the sample or the color mode only recolors (the tiles
// are redrawn from the decoded maps into a small canvas atlas); pan / zoom only repaints.
import { breaksForWidth, chooseBreaks, displayGraph, displayRanks, layoutLayers, mapGrid, wrapLayout, type EdgeRoute } from "../layout/layout2d";
import { mapShape, mapSource } from "../data/maps";
import type { LayerInfo } from "../data/types";
import type { SubView, ViewContext } from "../data/view";
import { fmtInt } from "../util/format";
import { gridLayout, tileSize } from "../util/grid";
import { rebuildConnections } from "./connections";
import { F_NAME, F_SUB, F_CHIP, NEURON_CAP, neuronCap, shownCount, MAX_LAYERS_FOR_NEURONS, R, PITCH, BODY_W, HEADER, THUMB, CHIP_H, CHIP_GAP, BOX_H, STRIP_H, MAP_TOP, MAP_NOTE, MAP_TILE_PX, INPUT_TILE, BIG_GRAPH_TILES, GAP_NEURONS, GAP, MIN_FIT_ZOOM, READABLE_ZOOM, inkOf, type Chip, type MapTiles, type NodeGeom, measure, truncate, fitName, routePath, imageDims } from "./geometry";
import { hostOf, type View2DState } from "./state";
import { BLOCK_KIND, changedAt, expandNode, hierarchyOf, nodeLabel } from "../layout/hierarchy";
import { fmtCount } from "../util/format";
import { attachInput } from "./input";
import { drawScene } from "./draw";
import { clampPan, showBox, validView, zoomAbout } from "./transform";
import { recolor } from "./colors";
import { Disposer } from "../util/dom";

export function createView2D(ctx: ViewContext): SubView {
  const store = ctx.store;
  const el = document.createElement("div");
  el.className = "nnviz-view2d";
  const canvas = document.createElement("canvas");
  canvas.className = "nnviz-view2d-canvas";
  canvas.tabIndex = 0;
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", "2D view of the network: layers left to right");
  el.appendChild(canvas);
  const tools = document.createElement("div");
  tools.className = "nnviz-view2d-tools";
  const mkButton = (label: string, title: string, fn: () => void) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.title = title;
    b.setAttribute("aria-label", title);
    b.addEventListener("click", fn);
    tools.appendChild(b);
    return b;
  };
  mkButton("+", "zoom in", () => zoomBy(1.25));
  mkButton("−", "zoom out", () => zoomBy(0.8));
  mkButton("fit", "fit the whole graph", () => fitAll());
  el.appendChild(tools);
  const hint = document.createElement("div");
  hint.className = "nnviz-view2d-hint";
  hint.textContent = "ctrl+scroll to zoom · drag or shift+scroll to pan · click a layer";
  el.appendChild(hint);
  const list = document.createElement("div");
  list.className = "nnviz-sr-only";
  list.setAttribute("aria-label", "layers");
  el.appendChild(list);

  const g2d = canvas.getContext("2d");

  // ---- state: one record the parts (colors.ts, hit.ts) read and write
  const vs: View2DState = {
    ctx,
    store,
    canvas,
    g2d,
    list,
    cssW: 0,
    cssH: 0,
    dpr: 1,
    zoom: 1,
    tx: 0,
    ty: 0,
    fitted: false,
    graphRef: null,
    hier: null,
    cap: NEURON_CAP,
    neuronGap: GAP_NEURONS,
    wideGaps: new Set<number>(),
    layoutRanks: new Map<string, number>(),
    dg: null,
    layout: null,
    baseLayout: null,
    breaks: [],
    overview: false,
    nodes: [],
    nodeById: new Map<string, NodeGeom>(),
    edgePaths: [],
    conns: [],
    buckets: [],
    drawn: 0,
    total: 0,
    hover: null,
    raf: 0,
    destroyed: false,
    dirtyColors: true,
    selectingHere: false,
    mapRanges: new Map(),
    mapsKey: "",
    ink: inkOf(ctx.theme()),
    shared: validView(ctx.camera()["2d"]),
    drag: null,
    reveal: { ids: new Set<string>(), t0: 0 },
  };

  const is2d = () => ctx.state().mode === "2d";
  /** the display graph now: the store's graph cut at the open modules (layout/hierarchy.ts) */
  const hierNow = () => hierarchyOf(store.graph, ctx.state().expanded);

  /** Layers that show feature maps (conv, image input): "layer>source:C,H,W" for each. */
  function currentMapsKey(): string {
    const out: string[] = [];
    for (const l of store.graph.layers) {
      if (l.kind !== "conv" && l.kind !== "input") continue;
      const src = mapSource(store, l.name);
      const sh = src ? mapShape(store, src, true) : null;
      if (src && sh) out.push(`${l.name}>${src}:${sh.join()}`);
    }
    return out.join("|");
  }

  /** The tile grid of a layer's feature maps, or null (not a conv / input, or no maps recorded). */
  function mapTilesFor(l: LayerInfo, column: boolean, big: boolean): MapTiles | null {
    if (l.kind !== "conv" && l.kind !== "input") return null;
    if (column && l.kind === "input") return null; // an input column shows its probe image above it
    const source = mapSource(store, l.name);
    const sh = source ? mapShape(store, source, true) : null;
    if (!source || !sh) return null;
    const [channels, mh, mw] = sh;
    const input = l.kind === "input";
    const rgb = input && channels === 3;
    const grid = input && channels <= 3
      ? mapGrid(rgb ? 1 : channels, mh, mw, { tile: INPUT_TILE })
      : mapGrid(channels, mh, mw, big ? { maxTiles: BIG_GRAPH_TILES } : {});
    if (!grid) return null;
    const [th, tw] = rgb ? [mh, mw] : tileSize(mh, mw, MAP_TILE_PX);
    return {
      source, channels, mh, mw, input, rgb, grid, gx: 0, gy: 0, noteY: 0,
      atlas: gridLayout(grid.n, th, tw, grid.cols, 1), th, tw, canvas: null, img: null, buf: null, off: 0, showing: false,
    };
  }

  // ---- geometry (on graph / data changes)
  function rebuildLayout(): void {
    const hier = hierNow();
    const graph = hier.graph;
    vs.hier = hier;
    vs.graphRef = graph;
    vs.overview = false;
    const big = graph.layers.length > MAX_LAYERS_FOR_NEURONS;
    vs.dg = displayGraph(graph, { neurons: !big });
    vs.mapsKey = currentMapsKey();
    const ranks = displayRanks(vs.dg, graph);
    // neuron columns joined by connections get a wide gap
    const wide = new Set<number>();
    for (const [dense, src] of vs.dg.neuronSource) {
      const rs = ranks.get(src);
      if (rs !== undefined && ranks.get(dense) === rs + 1) wide.add(rs);
    }
    vs.wideGaps = wide;
    vs.layoutRanks = ranks;
    vs.nodes = [];
    vs.nodeById.clear();
    for (const dn of vs.dg.nodes) {
      const l = dn.layer;
      let w: number;
      let h: number;
      let sub: string;
      const chips: Chip[] = [];
      const maps = mapTilesFor(l, dn.neurons > 0, big);
      // a tile grid's height, with the "+N more" line under it when channels are left out
      const mapsH = maps ? maps.grid.height + (maps.grid.more ? MAP_NOTE : 0) : 0;
      let header = HEADER;
      if (dn.neurons > 0) {
        sub = `${l.op} · ${fmtInt(dn.neurons)}`;
        const nameW = Math.min(150, measure(l.name, F_NAME));
        const subW = measure(sub, F_SUB);
        let chipW = 0;
        for (const a of dn.attached) {
          const al = store.layer(a);
          const label = al ? al.op || al.kind : a;
          chipW = Math.max(chipW, measure(label, F_CHIP) + 16);
          chips.push({ layer: a, x: 0, y: 0, w: 0, h: CHIP_H, label, full: label });
        }
        w = Math.max(2 * R + 24, nameW + 8, subW + 8, Math.min(chipW, 150));
        const img = l.kind === "input" ? imageDims(l, dn.neurons) : null;
        if (img) w = Math.max(w, THUMB + 8);
        if (maps) w = Math.max(w, maps.grid.width + 8);
        header = HEADER + (img ? THUMB + 16 : 0) + (maps ? mapsH + 10 : 0);
        const shown = shownCount(dn.neurons, vs.cap);
        const more = dn.neurons > shown ? 16 : 0;
        h = header + shown * PITCH + 8 + more + chips.length * (CHIP_H + CHIP_GAP) + (chips.length ? 2 : 0);
      } else {
        const dims = l.output_shape.map((d) => (d === null ? "?" : String(d))).join("×");
        sub = l.kind === BLOCK_KIND ? `${fmtInt(l.units ?? 0)} layers · ${fmtCount(l.params)} params` : `${l.op}${dims ? " · " + dims : ""}`;
        const nameW = measure(nodeLabel(l), F_NAME);
        const subW = measure(sub, F_SUB);
        w = Math.max(86, Math.min(170, Math.max(nameW, subW) + 26));
        h = BOX_H;
        if (maps) {
          // the tiles under the name, then (a conv) the value strip
          w = Math.max(w, maps.grid.width + 20);
          h = MAP_TOP + mapsH + (maps.input ? 8 : STRIP_H + 14);
        }
      }
      const geom: NodeGeom = {
        id: dn.id, layer: l, display: dn, x: 0, y: 0, w, h, name: l.name, sub, column: null, strip: [], badges: [], maps,
      };
      if (dn.neurons > 0) {
        const img = l.kind === "input" ? imageDims(l, dn.neurons) : null;
        geom.column = {
          header,
          image: img ? { ...img, canvas: null, key: "" } : null,
          total: dn.neurons, shown: [], cx: 0, ys: [], bodyTop: 0, bodyBottom: 0, moreY: null, chips, fills: [],
        };
      }
      vs.nodes.push(geom);
      vs.nodeById.set(dn.id, geom);
    }
    vs.neuronGap = neuronGapFor(ranks, wide);
    vs.baseLayout = layoutLayers(
      vs.nodes.map((n) => ({ id: n.id, w: n.w, h: n.h })),
      vs.dg.edges,
      ranks,
      { rankGap: (r) => (wide.has(r) ? vs.neuronGap : GAP) },
    );
    vs.breaks = wantBreaks();
    place();
    rebuildList();
    vs.fitted = false;
  }

  /**
   * Rows to wrap a long graph into (never between neuron columns): so that the whole of it fits
   * the view when that leaves it readable, else rows as wide as the view at a readable zoom, read
   * top to bottom like a page.
   */
  function wantBreaks(): number[] {
    if (!vs.baseLayout || vs.cssW <= 0 || vs.cssH <= 0) return [];
    const canBreak = (r: number) => !vs.wideGaps.has(r - 1);
    const b = chooseBreaks(vs.baseLayout, vs.cssW - 32, vs.cssH - 52, { canBreak, maxZoom: 1 });
    const l = b.length ? wrapLayout(vs.baseLayout, b) : vs.baseLayout;
    if (vs.overview || Math.min((vs.cssW - 32) / l.width, (vs.cssH - 52) / l.height) >= MIN_FIT_ZOOM) return b;
    const wrapped = breaksForWidth(vs.baseLayout, (vs.cssW - 40) / READABLE_ZOOM - 80, canBreak);
    return wrapped;
  }

  /** Node, column and edge geometry from the (wrapped) layout. */
  function place(): void {
    if (!vs.baseLayout) return;
    vs.layout = vs.breaks.length ? wrapLayout(vs.baseLayout, vs.breaks) : vs.baseLayout;
    for (const n of vs.nodes) {
      const p = vs.layout.nodes.get(n.id);
      if (!p) continue;
      n.x = p.x - p.w / 2;
      n.y = p.y - p.h / 2;
      const textMax = n.w - (n.column ? 4 : 22);
      n.name = fitName(nodeLabel(n.layer), F_NAME, textMax);
      n.sub = truncate(n.sub, F_SUB, textMax);
      const m = n.maps;
      if (m) {
        // boxes: under the name, centered between the kind accent and the right edge; columns:
        // centered above the neurons, under the name
        m.gx = n.column ? p.x - m.grid.width / 2 : n.x + 12 + (n.w - 20 - m.grid.width) / 2;
        m.gy = n.column ? n.y + HEADER - 1 : n.y + MAP_TOP;
        m.noteY = m.gy + m.grid.height + 11;
      }
      const c = n.column;
      if (c) {
        c.cx = p.x;
        c.bodyTop = n.y + c.header - 6;
        const shown = shownCount(c.total, vs.cap);
        c.ys = Array.from({ length: shown }, (_, k) => n.y + c.header + PITCH / 2 + k * PITCH);
        let y = n.y + c.header + shown * PITCH + 2;
        c.bodyBottom = y;
        // the "10 of 32" note under the body, clear of its (selection) outline and above the
        // chips: inside the narrow body the text crossed the outline and touched the chip
        c.moreY = c.total > shown ? y + 12 : null;
        if (c.moreY !== null) y += 16;
        y += 6;
        for (const chip of c.chips) {
          chip.w = Math.min(n.w, Math.max(44, measure(chip.full, F_CHIP) + 16));
          chip.x = p.x - chip.w / 2;
          chip.y = y;
          chip.label = truncate(chip.full, F_CHIP, chip.w - 10);
          y += CHIP_H + CHIP_GAP;
        }
      }
    }
    vs.edgePaths = vs.layout.routes.map((r) => {
      // a neuron column is narrower than its label: edges attach to the column's body
      const pts = r.points.map((p) => ({ ...p }));
      const from = vs.nodeById.get(r.from)?.column;
      const to = vs.nodeById.get(r.to)?.column;
      if (from && pts.length > 1) pts[0].x = from.cx + BODY_W / 2;
      if (to && pts.length > 1) pts[pts.length - 1].x = to.cx - BODY_W / 2;
      const route: EdgeRoute = { ...r, points: pts };
      const last = pts[pts.length - 1];
      const arrow = new Path2D();
      arrow.moveTo(last.x, last.y);
      arrow.lineTo(last.x - 7, last.y - 3.5);
      arrow.lineTo(last.x - 7, last.y + 3.5);
      arrow.closePath();
      return { route, path: routePath(route), arrow };
    });
  }

  /** Gap between neuron columns: wide enough to read the connections, filling the view's width. */
  function neuronGapFor(ranks: Map<string, number>, wide: Set<number>): number {
    if (!wide.size || vs.cssW <= 0) return GAP_NEURONS;
    const colW = new Map<number, number>();
    for (const n of vs.nodes) {
      const r = ranks.get(n.id) ?? 0;
      colW.set(r, Math.max(colW.get(r) ?? 0, n.w));
    }
    let used = 48 + 32; // layout margins + fit padding
    for (const w of colW.values()) used += w;
    used += Math.max(0, colW.size - 1 - wide.size) * GAP;
    return Math.max(90, Math.min(300, (vs.cssW - used) / wide.size));
  }

  function rebuildList(): void {
    list.replaceChildren();
    if (!vs.dg) return;
    for (const dn of vs.dg.nodes) {
      for (const name of [dn.id, ...dn.attached]) {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = name; // untrusted: text only
        b.addEventListener("click", () => activate(name));
        list.appendChild(b);
      }
    }
  }

  // ---- painting
  function schedule(): void {
    if (vs.raf || vs.destroyed) return;
    vs.raf = requestAnimationFrame(() => {
      vs.raf = 0;
      paint();
    });
  }

  function publish(): void {
    if (!is2d()) return;
    if (vs.hier) {
      ctx.setData("nodes", vs.hier.graph.layers.map((l) => l.name).join("|"));
      ctx.setData("blocks", [...vs.hier.blocks.values()].map((b) => b.label).join("|"));
      ctx.setData("expanded", ctx.state().expanded.join("|"));
    }
    ctx.setData("connectionsDrawn", vs.drawn);
    ctx.setData("connectionsTotal", vs.total);
  }

  function paint(): void {
    if (vs.destroyed || !g2d || !is2d() || vs.cssW <= 0 || vs.cssH <= 0) return;
    const want = window.devicePixelRatio || 1;
    if (want !== vs.dpr) {
      vs.dpr = want;
      sizeCanvas();
    }
    if (vs.graphRef !== hierNow().graph) {
      rebuildLayout();
      rebuildConnections(vs);
      vs.dirtyColors = true;
    }
    if (!vs.fitted) {
      initialView();
      takeShared();
    }
    if (vs.dirtyColors) recolor(vs);
    if (drawScene(vs, g2d)) schedule(); // nodes an expand just showed still fade in
    ctx.setData("zoom", vs.zoom.toFixed(2));
    // the host counts painted frames (data-frame) and marks the view ready after the first
    ctx.setData("frame", 0);
    ctx.setData("ready", 1);
  }

  // ---- view transform
  function sizeCanvas(): void {
    canvas.style.width = `${vs.cssW}px`;
    canvas.style.height = `${vs.cssH}px`;
    canvas.width = Math.max(1, Math.round(vs.cssW * vs.dpr));
    canvas.height = Math.max(1, Math.round(vs.cssH * vs.dpr));
  }

  /** px under a fit: the hint line ("ctrl+scroll to zoom ...") sits there, over no node */
  const FIT_BOTTOM = 26;

  function fit(): void {
    if (!vs.layout || vs.cssW <= 0 || vs.cssH <= 0) return;
    const pad = 16;
    const top = 36; // leave room for the tools
    const room = vs.cssH - top - FIT_BOTTOM;
    vs.zoom = Math.min((vs.cssW - 2 * pad) / vs.layout.width, room / vs.layout.height, 1.6);
    vs.tx = (vs.cssW - vs.layout.width * vs.zoom) / 2;
    vs.ty = top + (room - vs.layout.height * vs.zoom) / 2;
    vs.fitted = true;
    schedule();
  }

  /** The whole graph in view (re-wrapping a long graph into rows that fit the view). */
  function fitAll(): void {
    hideHint();
    if (!vs.overview) {
      vs.overview = true;
      rewrap();
    }
    fit();
    shareView();
  }

  /** Re-wrap the graph into the rows the view now wants; true when the rows changed. */
  function rewrap(): boolean {
    const nb = wantBreaks();
    if (nb.join() === vs.breaks.join()) return false;
    vs.breaks = nb;
    place();
    rebuildConnections(vs);
    vs.dirtyColors = true;
    return true;
  }

  function hideHint(): void {
    hint.style.display = "none";
  }

  /** Fit, unless that makes text unreadable: then show the start of the graph at a readable zoom. */
  function initialView(): void {
    if (!vs.layout) return;
    fit();
    if (vs.zoom < MIN_FIT_ZOOM) {
      // the start of the graph (top left) at a readable zoom
      // (the whole height in view when a little less zoom allows: the columns' ends and chips
      // above the hint line)
      const room = vs.cssH - 36 - FIT_BOTTOM;
      vs.zoom = Math.max(MIN_FIT_ZOOM, Math.min(READABLE_ZOOM, room / vs.layout.height));
      vs.tx = (vs.cssW - Math.min(vs.layout.width * vs.zoom, vs.cssW)) / 2;
      vs.ty = 36 + (room - vs.layout.height * vs.zoom) / 2;
      if (vs.layout.height * vs.zoom > room) vs.ty = 32;
    }
    vs.fitted = true;
  }

  function zoomAt(f: number, sx: number, sy: number): void {
    zoomAbout(vs, f, sx, sy);
    shareView();
    schedule();
  }

  // ---- the shared camera (`_camera["2d"]`): the user's pan / zoom is written (a linked view
  // follows); a linked view's is applied, and kept over re-layouts (until this user moves)
  function takeShared(): void {
    const shared = vs.shared;
    if (!shared) return;
    vs.zoom = shared.zoom;
    vs.tx = shared.tx;
    vs.ty = shared.ty;
    vs.fitted = true;
  }
  function shareView(): void {
    vs.shared = { zoom: vs.zoom, tx: vs.tx, ty: vs.ty };
    ctx.setCamera("2d", vs.shared);
  }

  function zoomBy(f: number): void {
    zoomAt(f, vs.cssW / 2, vs.cssH / 2);
  }

  function ensureVisible(layer: string): void {
    const host = hostOf(vs, layer);
    const n = vs.nodeById.get(host);
    if (!n || vs.cssW <= 0) return;
    showBox(vs, n, vs.cssW, vs.cssH);
  }

  /** A click on a node: a collapsed block expands, anything else is selected. */
  function activate(name: string): void {
    const block = vs.hier?.blocks.get(name);
    if (block && vs.hier) {
      ctx.hideTooltip();
      ctx.setExpanded(expandNode(vs.hier, ctx.state().expanded, name));
    } else selectLayer(name);
  }

  /**
   * Expand / collapse: a new layout at the same zoom, panned so that the first layer whose node
   * changed stays where its old node was on screen.
   */
  function relayoutInPlace(): void {
    if (vs.cssW <= 0 || vs.cssH <= 0) return;
    const oldHier = vs.hier;
    const oldNodes = new Map(vs.nodes.map((n) => [n.id, { x: n.x, y: n.y }]));
    const oldDg = vs.dg;
    const { zoom, tx, ty } = vs;
    const hadView = vs.fitted;
    rebuildLayout();
    rebuildConnections(vs);
    vs.dirtyColors = true;
    if (!oldHier || !hadView) return;
    const still = typeof matchMedia === "function" && matchMedia("(prefers-reduced-motion: reduce)").matches;
    vs.reveal.ids = still ? new Set() : new Set(vs.nodes.map((n) => n.id).filter((id) => !oldNodes.has(id)));
    vs.reveal.t0 = performance.now();
    vs.zoom = zoom;
    vs.tx = tx;
    vs.ty = ty;
    vs.fitted = true;
    const at = vs.hier ? changedAt(store.graph, oldHier, vs.hier) : null;
    // (a layer folded into a neuron column is drawn by the column)
    const A = at && oldNodes.get(oldDg?.hostOf.get(at.from) ?? at.from);
    const B = at && vs.nodeById.get(hostOf(vs, at.layer));
    if (A && B) {
      vs.tx -= (B.x - A.x) * vs.zoom;
      vs.ty -= (B.y - A.y) * vs.zoom;
    }
    // ... as far as the graph still fills the view (rows re-wrap: no empty screen beside it)
    const lay = vs.layout;
    if (!lay) return;
    vs.tx = clampPan(vs.tx, lay.width * vs.zoom, vs.cssW, 16);
    vs.ty = clampPan(vs.ty, lay.height * vs.zoom, vs.cssH, 36);
  }

  function selectLayer(name: string): void {
    vs.selectingHere = true;
    try {
      ctx.select(name);
    } finally {
      vs.selectingHere = false;
    }
  }

  // ---- input (input.ts)
  const d = new Disposer(); // run once by destroy(), in reverse order
  attachInput(vs, el, { schedule, hideHint, shareView, zoomAt, zoomBy, fitAll, activate, selectLayer }, d);

  // ---- subscriptions
  d.add(ctx.onState((changed) => {
    if (changed.has("expanded")) relayoutInPlace();
    if (changed.has("maxConnections")) {
      rebuildConnections(vs);
      vs.dirtyColors = true;
    }
    if (changed.has("epoch") || changed.has("colorBy") || changed.has("deltaRef") || changed.has("layer") || changed.has("sample")) {
      vs.dirtyColors = true;
    }
    if (changed.has("layer") && !vs.selectingHere) {
      const l = ctx.state().layer;
      if (l) ensureVisible(l);
    }
    if (changed.has("mode") && !is2d()) ctx.setData("featureMaps", ""); // the 3D view says data-maps
    if (changed.has("mode") || changed.has("maxConnections") || changed.has("expanded")) publish();
    schedule();
  }));
  d.add(store.on(() => {
    vs.mapRanges.clear();
    for (const n of vs.nodes) if (n.maps) n.maps.buf = null; // redraw the tiles (ranges may change)
    if (vs.cssW <= 0 || vs.cssH <= 0) return; // built on the first resize
    if (vs.graphRef !== hierNow().graph || currentMapsKey() !== vs.mapsKey) rebuildLayout();
    rebuildConnections(vs);
    vs.dirtyColors = true;
    publish();
    schedule();
  }));

  d.add(ctx.onCamera((c) => {
    const v = validView(c["2d"]);
    if (!v) return;
    vs.shared = v;
    hideHint();
    if (vs.layout) takeShared();
    schedule();
  }));

  // a new host theme: the colors are read again (the scales' palette has followed: tiles too)
  d.add(ctx.onTheme((t) => {
    vs.ink = inkOf(t);
    for (const n of vs.nodes) if (n.maps) n.maps.buf = null;
    vs.dirtyColors = true;
    schedule();
  }));

  // geometry is built on the first resize (it depends on the view's size)

  return {
    el,
    resize(width: number, height: number) {
      const w = Math.max(0, Math.floor(width));
      const h = Math.max(0, Math.floor(height));
      el.style.width = `${w}px`;
      el.style.height = `${h}px`;
      if (w === vs.cssW && h === vs.cssH && vs.dpr === (window.devicePixelRatio || 1)) return;
      const first = vs.cssW <= 0 || vs.cssH <= 0;
      vs.cssW = w;
      vs.cssH = h;
      const want = neuronCap(h);
      const gap = neuronGapFor(vs.layoutRanks, vs.wideGaps);
      const stale = vs.graphRef !== hierNow().graph || want !== vs.cap || Math.abs(gap - vs.neuronGap) > 0.08 * vs.neuronGap;
      if (stale && h > 0 && w > 0) {
        vs.cap = want;
        vs.fitted = false;
        rebuildLayout();
        rebuildConnections(vs);
        vs.dirtyColors = true;
      } else if (h > 0 && w > 0 && (rewrap() || vs.shared === null)) {
        // new rows, or a view the user never moved (no shared camera): fit the new size. (A
        // host's restyle, e.g. a theme switch, can resize the view twice: the fit must follow.)
        vs.fitted = false;
      }
      vs.dpr = window.devicePixelRatio || 1;
      sizeCanvas();
      if (first) vs.fitted = false;
      publish();
      schedule();
    },
    destroy() {
      vs.destroyed = true;
      if (vs.raf) cancelAnimationFrame(vs.raf);
      vs.raf = 0;
      d.run();
      ctx.hideTooltip();
      el.remove();
      vs.buckets = [];
      vs.conns = [];
      vs.edgePaths = [];
      vs.nodes = [];
    },
  };
}
