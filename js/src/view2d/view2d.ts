// The 2D view: the same graph as the 3D scene, drawn left to right with Canvas 2D (no WebGL
// context). Dense layers and their inputs are columns of neurons with colored connections (as in
// TF Playground); every other layer is a rounded box colored by kind. Conv layers (and image
// inputs) with recorded feature maps show the probe sample's maps as a grid of channel tiles in
// their box or above their neuron column, as the 3D view's channel planes do, in every color mode.
// Geometry is cached: changing the epoch, the sample or the color mode only recolors (the tiles
// are redrawn from the decoded maps into a small canvas atlas); pan / zoom only repaints.
import { breaksForWidth, chooseBreaks, displayGraph, displayRanks, layoutLayers, mapGrid, wrapLayout, type EdgeRoute } from "../layout/layout2d";
import { mapShape, mapSource } from "../data/maps";
import { createWheelHint, isZoomWheel } from "../util/wheel";
import type { Camera2D, LayerInfo } from "../data/types";
import type { SubView, ViewContext } from "../data/view";
import { fmtInt } from "../util/format";
import { gridLayout, tileSize } from "../util/grid";
import { haloText, paintBadges, paintColumn, paintTiles } from "./paint";
import { rebuildConnections } from "./connections";
import { FONT, F_NAME, F_SUB, F_CHIP, NEURON_CAP, neuronCap, shownCount, MAX_LAYERS_FOR_NEURONS, R, PITCH, BODY_W, HEADER, THUMB, CHIP_H, CHIP_GAP, BOX_H, STRIP_H, MAP_TOP, MAP_NOTE, MAP_TILE_PX, INPUT_TILE, BIG_GRAPH_TILES, GAP_NEURONS, GAP, MIN_FIT_ZOOM, READABLE_ZOOM, inkOf, type Chip, type MapTiles, type NodeGeom, measure, truncate, fitName, compactLabel, tint, roundRectPath, routePath, imageDims } from "./geometry";
import { hostOf, type View2DState } from "./state";
import { BLOCK_KIND, changedAt, expandNode, hierarchyOf, nodeLabel } from "../layout/hierarchy";
import { fmtCount } from "../util/format";
import { hitTest, tooltipFor } from "./hit";
import { recolor } from "./colors";
import { kindColor } from "../data/kinds";
import { Disposer, listen } from "../util/dom";

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
  };

  const is2d = () => ctx.state().mode === "2d";
  const FADE_MS = 320;
  const reveal = { ids: new Set<string>(), t0: 0 };
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
    const c = g2d;
    c.setTransform(1, 0, 0, 1, 0, 0);
    c.clearRect(0, 0, canvas.width, canvas.height);
    const ink = vs.ink;
    c.fillStyle = ink.bg;
    c.fillRect(0, 0, canvas.width, canvas.height);
    c.setTransform(vs.dpr * vs.zoom, 0, 0, vs.dpr * vs.zoom, vs.dpr * vs.tx, vs.dpr * vs.ty);
    const st = ctx.state();
    const selHost = st.layer ? hostOf(vs, st.layer) : "";
    const hoverHost = vs.hover ? vs.hover.layer && hostOf(vs, vs.hover.layer) : "";
    // viewport in world coords (for culling)
    const vx0 = -vs.tx / vs.zoom;
    const vy0 = -vs.ty / vs.zoom;
    const vx1 = (vs.cssW - vs.tx) / vs.zoom;
    const vy1 = (vs.cssH - vs.ty) / vs.zoom;
    const visible = (x: number, y: number, w: number, h: number) => x + w >= vx0 && x <= vx1 && y + h >= vy0 && y <= vy1;
    const px = 1 / vs.zoom; // one screen pixel in world units

    // edges (not those replaced by neuron connections)
    const neuronEdge = new Set(vs.conns.filter((s) => s.n > 0).map((s) => `${s.src}\u0000${s.layer}`));
    c.lineCap = "round";
    for (const e of vs.edgePaths) {
      if (neuronEdge.has(`${e.route.from}\u0000${e.route.to}`)) continue;
      const hi = selHost !== "" && (e.route.from === selHost || e.route.to === selHost);
      c.strokeStyle = hi ? ink.edgeHi : ink.edge;
      c.fillStyle = hi ? ink.edgeHi : ink.edge;
      c.lineWidth = Math.max(hi ? 2 : 1.4, (hi ? 1.6 : 1) * px);
      c.stroke(e.path);
      c.fill(e.arrow);
    }
    // neuron connections
    for (const b of vs.buckets) {
      c.globalAlpha = b.alpha;
      c.strokeStyle = b.stroke;
      c.lineWidth = Math.max(b.width, 0.6 * px);
      c.stroke(b.path);
    }
    c.globalAlpha = 1;
    if (vs.hover?.conn) {
      const { set, k } = vs.hover.conn;
      c.strokeStyle = ink.strong;
      c.lineWidth = Math.max(2.5, 2 * px);
      c.beginPath();
      c.moveTo(set.x1[k], set.y1[k]);
      c.lineTo(set.x2[k], set.y2[k]);
      c.stroke();
    }

    // nodes an expand / collapse just showed fade in over FADE_MS
    const fresh = reveal.ids;
    const fade = fresh.size ? Math.min(1, 0.15 + (performance.now() - reveal.t0) / FADE_MS) : 1;
    if (fade >= 1) fresh.clear();
    // full labels from zoom 0.75; below that, names only, at a constant on-screen size
    const showText = vs.zoom >= 0.75;
    const compactText = !showText && vs.zoom >= 0.2;
    const compactFont = `600 ${10.5 / vs.zoom}px ${FONT}`;
    for (const n of vs.nodes) {
      if (!visible(n.x - 10, n.y - 10, n.w + 20, n.h + 20)) continue;
      c.globalAlpha = fresh.has(n.id) ? fade : 1;
      const selected = n.id === selHost;
      const hovered = n.id === hoverHost;
      const kc = kindColor(vs.graphRef ?? store.graph, n.layer.kind);
      if (n.column) paintColumn(vs, c, n, selected, hovered, showText, compactText ? compactFont : "", st, px);
      else {
        c.beginPath();
        roundRectPath(c, n.x, n.y, n.w, n.h, 7);
        c.fillStyle = tint(kc, hovered ? 0.74 : 0.84, ink.paper);
        c.fill();
        c.lineWidth = selected ? 2.5 : 1.2;
        c.strokeStyle = selected ? ink.select : kc;
        c.stroke();
        // kind accent
        c.save();
        c.beginPath();
        roundRectPath(c, n.x, n.y, n.w, n.h, 7);
        c.clip();
        c.fillStyle = kc;
        c.fillRect(n.x, n.y, 5, n.h);
        if (n.strip.length) {
          const sx = n.x + 12;
          const sw = n.w - 20;
          const sy = n.y + n.h - STRIP_H - 5;
          const cw = sw / n.strip.length;
          for (let k = 0; k < n.strip.length; k++) {
            c.fillStyle = n.strip[k];
            c.fillRect(sx + k * cw, sy, cw + 0.3, STRIP_H);
          }
        }
        c.restore();
        if (n.maps) paintTiles(vs, c, n, showText, st, px);
        if (showText) {
          c.fillStyle = ink.text;
          c.font = F_NAME;
          c.textBaseline = "alphabetic";
          c.textAlign = "left";
          c.fillText(n.name, n.x + 13, n.y + 18);
          c.fillStyle = ink.subtext;
          c.font = F_SUB;
          c.fillText(n.sub, n.x + 13, n.y + 33);
        } else if (compactText) {
          c.fillStyle = ink.text;
          c.font = compactFont;
          c.textBaseline = "middle";
          c.textAlign = "left";
          const label = compactLabel(nodeLabel(n.layer), compactFont, n.w - 16);
          // a box with tiles: the name in its header (haloed where it runs over the tiles)
          if (label && n.maps) haloText(c, label, n.x + 10, n.y + MAP_TOP / 2, px, ink.halo);
          else if (label) c.fillText(label, n.x + 10, n.y + (n.h - (n.strip.length ? STRIP_H + 5 : 0)) / 2);
          c.textBaseline = "alphabetic";
        }
        if (selected) {
          c.beginPath();
          roundRectPath(c, n.x - 4, n.y - 4, n.w + 8, n.h + 8, 10);
          c.strokeStyle = ink.selectHalo;
          c.lineWidth = 3;
          c.stroke();
        }
      }
    }
    c.globalAlpha = 1;
    if (fade < 1) schedule(); // nodes an expand just showed fade in
    // health tags (after every node, so none is hidden under a neighbour)
    if (vs.zoom >= 0.3) {
      for (const n of vs.nodes) {
        if (n.badges.length && visible(n.x - 20, n.y - 24, n.w + 40, n.h + 24)) paintBadges(c, n, ink.bg);
      }
    }
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
    const nz = Math.max(0.03, Math.min(5, vs.zoom * f));
    const k = nz / vs.zoom;
    vs.tx = sx - (sx - vs.tx) * k;
    vs.ty = sy - (sy - vs.ty) * k;
    vs.zoom = nz;
    shareView();
    schedule();
  }

  // ---- the shared camera (`_camera["2d"]`): the user's pan / zoom is written (a linked view
  // follows); a linked view's is applied, and kept over re-layouts (until this user moves)
  const validView = (c: Camera2D | undefined): Camera2D | null =>
    c && [c.zoom, c.tx, c.ty].every(Number.isFinite) && c.zoom > 0 ? { zoom: c.zoom, tx: c.tx, ty: c.ty } : null;
  let shared: Camera2D | null = validView(ctx.camera()["2d"]);
  function takeShared(): void {
    if (!shared) return;
    vs.zoom = shared.zoom;
    vs.tx = shared.tx;
    vs.ty = shared.ty;
    vs.fitted = true;
  }
  function shareView(): void {
    shared = { zoom: vs.zoom, tx: vs.tx, ty: vs.ty };
    ctx.setCamera("2d", shared);
  }

  function zoomBy(f: number): void {
    zoomAt(f, vs.cssW / 2, vs.cssH / 2);
  }

  function ensureVisible(layer: string): void {
    const host = hostOf(vs, layer);
    const n = vs.nodeById.get(host);
    if (!n || vs.cssW <= 0) return;
    const sx0 = n.x * vs.zoom + vs.tx;
    const sy0 = n.y * vs.zoom + vs.ty;
    const sx1 = (n.x + n.w) * vs.zoom + vs.tx;
    const sy1 = (n.y + n.h) * vs.zoom + vs.ty;
    if (sx0 >= 0 && sy0 >= 0 && sx1 <= vs.cssW && sy1 <= vs.cssH) return;
    if (vs.zoom < 0.4) vs.zoom = 0.7;
    vs.tx = vs.cssW / 2 - (n.x + n.w / 2) * vs.zoom;
    vs.ty = vs.cssH / 2 - (n.y + Math.min(n.h, vs.cssH / vs.zoom - 40) / 2) * vs.zoom;
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
    reveal.ids = still ? new Set() : new Set(vs.nodes.map((n) => n.id).filter((id) => !oldNodes.has(id)));
    reveal.t0 = performance.now();
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
    const clamp = (t: number, size: number, view: number, lo: number) =>
      size <= view - lo - 16 ? lo + (view - lo - 16 - size) / 2 : Math.min(lo, Math.max(view - 16 - size, t));
    vs.tx = clamp(vs.tx, lay.width * vs.zoom, vs.cssW, 16);
    vs.ty = clamp(vs.ty, lay.height * vs.zoom, vs.cssH, 36);
  }

  function selectLayer(name: string): void {
    vs.selectingHere = true;
    try {
      ctx.select(name);
    } finally {
      vs.selectingHere = false;
    }
  }

  // ---- input
  let down: { x: number; y: number; tx: number; ty: number; id: number; moved: boolean } | null = null;
  const local = (e: MouseEvent) => {
    const r = canvas.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  };
  const onPointerDown = (e: PointerEvent) => {
    if (e.button !== 0) return;
    const p = local(e);
    down = { x: p.x, y: p.y, tx: vs.tx, ty: vs.ty, id: e.pointerId, moved: false };
    try {
      canvas.setPointerCapture(e.pointerId);
    } catch {
      /* synthetic events have no active pointer */
    }
  };
  const onPointerMove = (e: PointerEvent) => {
    const p = local(e);
    if (down && e.pointerId === down.id) {
      const dx = p.x - down.x;
      const dy = p.y - down.y;
      if (!down.moved && dx * dx + dy * dy > 16) {
        down.moved = true;
        canvas.classList.add("nnviz-dragging");
        ctx.hideTooltip();
      }
      if (down.moved) {
        hideHint();
        vs.tx = down.tx + dx;
        vs.ty = down.ty + dy;
        shareView();
        schedule();
        return;
      }
    }
    const h = hitTest(vs, p.x, p.y);
    const same =
      (h === null && vs.hover === null) ||
      (h !== null && vs.hover !== null && h.layer === vs.hover.layer && h.neuron === vs.hover.neuron &&
        h.channel === vs.hover.channel && h.conn?.set === vs.hover.conn?.set && h.conn?.k === vs.hover.conn?.k);
    if (!same) {
      vs.hover = h;
      canvas.classList.toggle("nnviz-pointing", h !== null);
      schedule();
    }
    if (h) {
      const [title, rows] = tooltipFor(vs, h);
      ctx.showTooltip(e.clientX, e.clientY, title, rows);
    } else ctx.hideTooltip();
  };
  const onPointerUp = (e: PointerEvent) => {
    if (!down || e.pointerId !== down.id) return;
    const wasDrag = down.moved;
    down = null;
    canvas.classList.remove("nnviz-dragging");
    try {
      canvas.releasePointerCapture(e.pointerId);
    } catch {
      /* not captured */
    }
    if (wasDrag) return;
    const p = local(e);
    const h = hitTest(vs, p.x, p.y);
    if (h) activate(h.layer);
    else selectLayer("");
  };
  const onPointerLeave = () => {
    if (vs.hover) {
      vs.hover = null;
      canvas.classList.remove("nnviz-pointing");
      schedule();
    }
    ctx.hideTooltip();
  };
  // a plain wheel scrolls the notebook (with a hint); ctrl / cmd + wheel (and a trackpad pinch)
  // zooms; shift + wheel and horizontal swipes pan along the graph
  const wheelHint = createWheelHint(el);
  const onWheel = (e: WheelEvent) => {
    const p = local(e);
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? vs.cssH : 1;
    if (isZoomWheel(e)) {
      e.preventDefault();
      hideHint();
      wheelHint.hide();
      // a pinch sends small deltas: scale them up, as for a ctrl + wheel
      const k = e.ctrlKey && Math.abs(e.deltaY * unit) < 50 ? 0.01 : 0.0015;
      zoomAt(Math.exp(-e.deltaY * unit * k), p.x, p.y);
      return;
    }
    if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
      e.preventDefault();
      hideHint();
      vs.tx -= (e.shiftKey && !e.deltaX ? e.deltaY : e.deltaX) * unit;
      shareView();
      schedule();
      return;
    }
    wheelHint.flash(); // the page scrolls
  };
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "f") fitAll();
    else if (e.key === "+" || e.key === "=") zoomBy(1.25);
    else if (e.key === "-") zoomBy(0.8);
    else if (e.key === "Escape") selectLayer("");
    else return;
    e.preventDefault();
  };
  const d = new Disposer(); // run once by destroy(), in reverse order
  d.add(listen(canvas, "pointerdown", onPointerDown));
  d.add(listen(canvas, "pointermove", onPointerMove));
  d.add(listen(canvas, "pointerup", onPointerUp));
  d.add(listen(canvas, "pointercancel", onPointerUp));
  d.add(listen(canvas, "pointerleave", onPointerLeave));
  d.add(listen(canvas, "wheel", onWheel, { passive: false }));
  d.add(() => wheelHint.dispose());
  d.add(listen(canvas, "keydown", onKey));

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
    shared = v;
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
      } else if (h > 0 && w > 0 && (rewrap() || shared === null)) {
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
