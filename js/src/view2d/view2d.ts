// The 2D view: the same graph as the 3D scene, drawn left to right with Canvas 2D (no WebGL
// context). Dense layers and their inputs are columns of neurons with colored connections (as in
// TF Playground); every other layer is a rounded box colored by kind. Conv layers (and image
// inputs) with recorded feature maps show the probe sample's maps as a grid of channel tiles in
// their box or above their neuron column, as the 3D view's channel planes do, in every color mode.
// Geometry is cached: changing the epoch, the sample or the color mode only recolors (the tiles
// are redrawn from the decoded maps into a small canvas atlas); pan / zoom only repaints.
import { ColorTally, NAN_COLOR, css, diverging, sequential, type RGB } from "../color/scales";
import { breaksForWidth, chooseBreaks, displayGraph, displayRanks, layoutLayers, mapGrid, mapTileAt, pickNeurons, wrapLayout, type DisplayGraph, type EdgeRoute, type Layout2D } from "../layout/layout2d";
import { layerBadges, type Badge } from "../data/badges";
import { finiteRange, gridImage, inkGray, putImage, quantileAbs, resampledImage, rgbImage } from "../color/images";
import { featureMaps, mapShape, mapSource } from "../data/maps";
import { coloring as layerColoring, colorMode, modeRange, modeValues, type LayerColoring } from "../color/modes";
import { createWheelHint, isZoomWheel } from "../util/wheel";
import type { GraphInfo, LayerInfo, ViewState } from "../data/types";
import type { SubView, TooltipRows, ViewContext } from "../data/view";
import { fmt, fmtInt, fmtShape } from "../util/format";
import { channelOf } from "../layout/common";
import { gridLayout, tileOrigin, tileSize } from "../util/grid";
import { FONT, F_NAME, F_SUB, F_SMALL, F_CHIP, F_BADGE, BADGE_H, NEURON_CAP, neuronCap, shownCount, MAX_LAYERS_FOR_NEURONS, R, PITCH, BODY_W, HEADER, THUMB, CHIP_H, CHIP_GAP, BOX_H, STRIP_H, STRIP_CELLS, MAP_TOP, MAP_NOTE, MAP_TILE_PX, INPUT_TILE, BIG_GRAPH_TILES, GAP_NEURONS, GAP, MIN_FIT_ZOOM, READABLE_ZOOM, TEXT, SUBTEXT, EDGE, EDGE_HI, SELECT, NONE_LINE, type Chip, type Column, type MapTiles, type NodeGeom, type ConnSet, type Bucket, type Hit, measure, truncate, fitName, compactLabel, tint, kindColor, roundRectPath, routePath, imageDims, unitActivations, segDist2 } from "./geometry";

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

  // ---- state
  let cssW = 0;
  let cssH = 0;
  let dpr = 1;
  let zoom = 1;
  let tx = 0;
  let ty = 0;
  let fitted = false;
  let graphRef: GraphInfo | null = null;
  let cap = NEURON_CAP;
  let neuronGap = GAP_NEURONS;
  let wideGaps = new Set<number>();
  let layoutRanks = new Map<string, number>();
  let dg: DisplayGraph | null = null;
  let layout: Layout2D | null = null;
  let baseLayout: Layout2D | null = null;
  let breaks: number[] = [];
  /** After "fit": rows chosen to show the whole graph, however small. */
  let overview = false;
  let nodes: NodeGeom[] = [];
  const nodeById = new Map<string, NodeGeom>();
  let edgePaths: { route: EdgeRoute; path: Path2D; arrow: Path2D }[] = [];
  let conns: ConnSet[] = [];
  let buckets: Bucket[] = [];
  let drawn = 0;
  let total = 0;
  let hover: Hit | null = null;
  let raf = 0;
  let destroyed = false;
  let dirtyColors = true;
  let selectingHere = false;
  /** per map source: finite min / max and the 99th percentile of |v| over every epoch */
  const mapRanges = new Map<string, { lo: number; hi: number; abs: number }>();
  /** which layers show which maps (the layout is rebuilt when it changes, e.g. first maps arrive) */
  let mapsKey = "";

  const is2d = () => ctx.state().mode === "2d";

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
    const graph = store.graph;
    graphRef = graph;
    overview = false;
    const big = graph.layers.length > MAX_LAYERS_FOR_NEURONS;
    dg = displayGraph(graph, { neurons: !big });
    mapsKey = currentMapsKey();
    const ranks = displayRanks(dg, graph);
    // neuron columns joined by connections get a wide gap
    const wide = new Set<number>();
    for (const [dense, src] of dg.neuronSource) {
      const rs = ranks.get(src);
      if (rs !== undefined && ranks.get(dense) === rs + 1) wide.add(rs);
    }
    wideGaps = wide;
    layoutRanks = ranks;
    nodes = [];
    nodeById.clear();
    for (const dn of dg.nodes) {
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
        const shown = shownCount(dn.neurons, cap);
        const more = dn.neurons > shown ? 16 : 0;
        h = header + shown * PITCH + 8 + more + chips.length * (CHIP_H + CHIP_GAP) + (chips.length ? 2 : 0);
      } else {
        const dims = l.output_shape.map((d) => (d === null ? "?" : String(d))).join("×");
        sub = `${l.op}${dims ? " · " + dims : ""}`;
        const nameW = measure(l.name, F_NAME);
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
      nodes.push(geom);
      nodeById.set(dn.id, geom);
    }
    neuronGap = neuronGapFor(ranks, wide);
    baseLayout = layoutLayers(
      nodes.map((n) => ({ id: n.id, w: n.w, h: n.h })),
      dg.edges,
      ranks,
      { rankGap: (r) => (wide.has(r) ? neuronGap : GAP) },
    );
    breaks = wantBreaks();
    place();
    rebuildList();
    fitted = false;
  }

  /**
   * Rows to wrap a long graph into (never between neuron columns): so that the whole of it fits
   * the view when that leaves it readable, else rows as wide as the view at a readable zoom, read
   * top to bottom like a page.
   */
  function wantBreaks(): number[] {
    if (!baseLayout || cssW <= 0 || cssH <= 0) return [];
    const canBreak = (r: number) => !wideGaps.has(r - 1);
    const b = chooseBreaks(baseLayout, cssW - 32, cssH - 52, { canBreak, maxZoom: 1 });
    const l = b.length ? wrapLayout(baseLayout, b) : baseLayout;
    if (overview || Math.min((cssW - 32) / l.width, (cssH - 52) / l.height) >= MIN_FIT_ZOOM) return b;
    const wrapped = breaksForWidth(baseLayout, (cssW - 40) / READABLE_ZOOM - 80, canBreak);
    return wrapped;
  }

  /** Node, column and edge geometry from the (wrapped) layout. */
  function place(): void {
    if (!baseLayout) return;
    layout = breaks.length ? wrapLayout(baseLayout, breaks) : baseLayout;
    for (const n of nodes) {
      const p = layout.nodes.get(n.id);
      if (!p) continue;
      n.x = p.x - p.w / 2;
      n.y = p.y - p.h / 2;
      const textMax = n.w - (n.column ? 4 : 22);
      n.name = fitName(n.layer.name, F_NAME, textMax);
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
        const shown = shownCount(c.total, cap);
        c.ys = Array.from({ length: shown }, (_, k) => n.y + c.header + PITCH / 2 + k * PITCH);
        let y = n.y + c.header + shown * PITCH + 2;
        c.moreY = c.total > shown ? y + 7 : null;
        if (c.moreY !== null) y += 16;
        c.bodyBottom = y;
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
    edgePaths = layout.routes.map((r) => {
      // a neuron column is narrower than its label: edges attach to the column's body
      const pts = r.points.map((p) => ({ ...p }));
      const from = nodeById.get(r.from)?.column;
      const to = nodeById.get(r.to)?.column;
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
    if (!wide.size || cssW <= 0) return GAP_NEURONS;
    const colW = new Map<number, number>();
    for (const n of nodes) {
      const r = ranks.get(n.id) ?? 0;
      colW.set(r, Math.max(colW.get(r) ?? 0, n.w));
    }
    let used = 48 + 32; // layout margins + fit padding
    for (const w of colW.values()) used += w;
    used += Math.max(0, colW.size - 1 - wide.size) * GAP;
    return Math.max(90, Math.min(300, (cssW - used) / wide.size));
  }

  function rebuildList(): void {
    list.replaceChildren();
    if (!dg) return;
    for (const dn of dg.nodes) {
      for (const name of [dn.id, ...dn.attached]) {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = name; // untrusted: text only
        b.addEventListener("click", () => selectLayer(name));
        list.appendChild(b);
      }
    }
  }

  /** Which neurons each column shows, and the connections between shown neurons (data changes). */
  function rebuildConnections(): void {
    conns = [];
    total = 0;
    if (!dg) return;
    const latest = store.latest();
    const scores = new Map<string, Float64Array>();
    const scoreOf = (id: string) => {
      let s = scores.get(id);
      if (!s) {
        s = new Float64Array(nodeById.get(id)?.column?.total ?? 0);
        scores.set(id, s);
      }
      return s;
    };
    for (const [dense, src] of dg.neuronSource) {
      const shape = store.fullShape(dense);
      if (shape && shape.length === 2) total += shape[0] * shape[1];
      if (!latest || !shape || shape.length !== 2) continue;
      const w = store.weight(dense, latest.epoch);
      if (!w) continue;
      const idx = store.sampleIndices(dense);
      const nin = shape[1];
      const so = scoreOf(dense);
      const si = scoreOf(src);
      for (let j = 0; j < w.length; j++) {
        const flat = idx ? idx[j] : j;
        const a = Math.abs(w[j]);
        if (!Number.isFinite(a)) continue;
        const o = Math.floor(flat / nin);
        const i = flat - o * nin;
        if (o < so.length) so[o] += a;
        if (i < si.length) si[i] += a;
      }
    }
    for (const n of nodes) {
      const c = n.column;
      if (!c) continue;
      const k = shownCount(c.total, cap);
      const s = scores.get(n.id);
      let any = false;
      if (s) for (let k = 0; k < s.length; k++) if (s[k] > 0) { any = true; break; }
      if (any) c.shown = pickNeurons(s!, k);
      else c.shown = Array.from({ length: k }, (_, q) => Math.floor((q * c.total) / k)); // evenly spread
    }
    const budget = Math.max(0, ctx.state().maxConnections ?? 20000);
    type Cand = { set: number; j: number; o: number; i: number; s: number };
    const cands: Cand[] = [];
    const sets: { layer: string; src: string; full: number }[] = [];
    for (const [dense, src] of dg.neuronSource) {
      const dn = nodeById.get(dense)?.column;
      const sn = nodeById.get(src)?.column;
      const shape = store.fullShape(dense);
      if (!dn || !sn || !shape || shape.length !== 2 || !latest) continue;
      const w = store.weight(dense, latest.epoch);
      if (!w) continue;
      const range = modeRange(store, dense, { colorBy: "weight" }) || 1;
      const nin = shape[1];
      const posO = new Map(dn.shown.map((v, k) => [v, k]));
      const posI = new Map(sn.shown.map((v, k) => [v, k]));
      const setIdx = sets.length;
      sets.push({ layer: dense, src, full: shape[0] * shape[1] });
      const idx = store.sampleIndices(dense);
      if (idx) {
        for (let j = 0; j < idx.length && j < w.length; j++) {
          const o = Math.floor(idx[j] / nin);
          const i = idx[j] - o * nin;
          if (posO.has(o) && posI.has(i)) cands.push({ set: setIdx, j, o, i, s: Math.abs(w[j]) / range });
        }
      } else {
        for (const o of dn.shown) {
          for (const i of sn.shown) {
            const j = o * nin + i;
            if (j < w.length) cands.push({ set: setIdx, j, o, i, s: Math.abs(w[j]) / range });
          }
        }
      }
    }
    let keep = cands;
    if (cands.length > budget) {
      keep = cands
        .map((c, k) => ({ c, k, s: Number.isFinite(c.s) ? c.s : Infinity }))
        .sort((a, b) => b.s - a.s || a.k - b.k)
        .slice(0, budget)
        .map((x) => x.c);
    }
    const per = sets.map(() => [] as Cand[]);
    for (const c of keep) per[c.set].push(c);
    sets.forEach((s, k) => {
      const list = per[k];
      const dn = nodeById.get(s.layer)!.column!;
      const sn = nodeById.get(s.src)!.column!;
      const posO = new Map(dn.shown.map((v, q) => [v, q]));
      const posI = new Map(sn.shown.map((v, q) => [v, q]));
      const set: ConnSet = {
        layer: s.layer, src: s.src, n: list.length, full: s.full,
        x1: new Float32Array(list.length), y1: new Float32Array(list.length),
        x2: new Float32Array(list.length), y2: new Float32Array(list.length),
        j: new Uint32Array(list.length), o: new Uint32Array(list.length), i: new Uint32Array(list.length),
      };
      list.forEach((c, q) => {
        set.x1[q] = sn.cx + R;
        set.y1[q] = sn.ys[posI.get(c.i)!];
        set.x2[q] = dn.cx - R;
        set.y2[q] = dn.ys[posO.get(c.o)!];
        set.j[q] = c.j;
        set.o[q] = c.o;
        set.i[q] = c.i;
      });
      conns.push(set);
    });
    drawn = keep.length;
  }

  // ---- colors (on epoch / mode / selection changes)
  /** The probe sample's image above an input column (one small canvas, redrawn on change). */
  function updateThumb(n: NodeGeom, c: Column, st: ViewState): void {
    const img = c.image!;
    const a = store.activation(n.id, st.epoch, st.sample);
    if (!a || a.index) {
      img.key = "";
      return;
    }
    const key = `${st.sample}|${a.values.byteOffset}|${a.values.length}`;
    if (key === img.key && img.canvas) return;
    img.key = key;
    const cv = img.canvas ?? (img.canvas = document.createElement("canvas"));
    cv.width = img.w;
    cv.height = img.h;
    const g = cv.getContext("2d");
    if (!g) return;
    const data = g.createImageData(img.w, img.h);
    const v = a.values;
    const planes = Math.max(1, Math.floor(v.length / (img.w * img.h)));
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < v.length; i++) if (Number.isFinite(v[i])) { lo = Math.min(lo, v[i]); hi = Math.max(hi, v[i]); }
    const span = hi > lo ? hi - lo : 1;
    const per = img.w * img.h;
    // channels first (torch) or last (Keras): RGB when 3 planes, else the first plane as ink
    const hwc = n.layer.output_shape.length === 3 && n.layer.output_shape[2] === planes && planes > 1;
    for (let p = 0; p < per; p++) {
      const o = 4 * p;
      if (planes === 3) {
        for (let k = 0; k < 3; k++) {
          const x = hwc ? v[p * 3 + k] : v[k * per + p];
          data.data[o + k] = Number.isFinite(x) ? Math.round(255 * ((x - lo) / span)) : 0;
        }
      } else {
        const x = v[p];
        const g8 = Number.isFinite(x) ? Math.round(255 * (0.97 - 0.9 * Math.min(1, Math.max(0, (x - lo) / span)))) : 0;
        data.data[o] = data.data[o + 1] = data.data[o + 2] = g8;
        if (!Number.isFinite(x)) { data.data[o] = 255; data.data[o + 2] = 255; }
      }
      data.data[o + 3] = 255;
    }
    g.putImageData(data, 0, 0);
  }

  /** A map source's scale across every epoch (so tiles compare while scrubbing). */
  function mapRange(layer: string): { lo: number; hi: number; abs: number } {
    let r = mapRanges.get(layer);
    if (!r) {
      let lo = Infinity;
      let hi = -Infinity;
      const arrays: Float32Array[] = [];
      for (const snap of store.snapshots) {
        const a = snap.acts.get(layer);
        if (!a) continue;
        const [l0, h0] = finiteRange(a.act);
        lo = Math.min(lo, l0);
        hi = Math.max(hi, h0);
        arrays.push(a.act);
      }
      r = { lo: Number.isFinite(lo) ? lo : 0, hi: Number.isFinite(hi) ? hi : 0, abs: quantileAbs(arrays, 0.99) };
      mapRanges.set(layer, r);
    }
    return r;
  }

  /**
   * The tiles of the current sample and epoch (a layer's box or column): the atlas is rewritten
   * only when other maps are shown (another epoch or sample); values from the decoded snapshot,
   * colored as in the 3D view: signed maps diverging, non-negative ones (after a ReLU) sequential,
   * the probe image as ink; NaN in the NaN color.
   */
  function updateTiles(m: MapTiles, st: ViewState): void {
    const values = featureMaps(store, m.source, st.epoch, st.sample);
    const per = m.mh * m.mw;
    if (!values || values.length < m.channels * per) {
      m.showing = false;
      return;
    }
    m.showing = true;
    if (m.canvas && m.buf === values.buffer && m.off === values.byteOffset) return;
    m.buf = values.buffer;
    m.off = values.byteOffset;
    const r = mapRange(m.source);
    const color = m.input
      ? (v: number, out: RGB) => inkGray(v, r.lo, r.hi, out)
      : r.lo < 0
        ? (v: number, out: RGB) => diverging(v, r.abs, out)
        : (v: number, out: RGB) => sequential(v, r.abs, out);
    m.img = gridImage(m.atlas, (i, at) => {
      if (m.rgb) rgbImage(values, m.mh, m.mw, 0, at);
      else resampledImage(values, m.mh, m.mw, m.th, m.tw, color, i * per, at);
    }, m.img ?? undefined);
    putImage(m.canvas ?? (m.canvas = document.createElement("canvas")), m.img);
  }

  /** The values a column's neurons show in a mode: the sample's activation per unit (channel
   *  means of an image-shaped layer, one per column neuron), else the mode's per-neuron values. */
  function neuronValues(layer: string, st: ViewState): Float32Array | null {
    if (st.colorBy === "activation") return unitActivations(store, layer, st.epoch, st.sample);
    return modeValues(store, layer, st.epoch, st, "neurons");
  }

  function neuronRange(layer: string, st: ViewState): number {
    if (st.colorBy !== "activation") return modeRange(store, layer, st, "neurons");
    return store.maxAbs(`${layer}|units|${st.sample}`, (s) => unitActivations(store, layer, s.epoch, st.sample));
  }

  function colorOf(c: LayerColoring, j: number, out: RGB): RGB | null {
    if (c.kind === "values") {
      if (j >= c.values.length) return null;
      return diverging(c.values[j], c.range, out);
    }
    if (c.kind === "scalar") return sequential(c.value, c.max, out);
    return null;
  }

  function recolor(): void {
    dirtyColors = false;
    const st = ctx.state();
    const selected = st.layer;
    const selHost = selected ? dg?.hostOf.get(selected) ?? selected : "";
    const selectedOwnsConns = conns.some((s) => s.layer === selHost && s.n > 0);
    const rgb: RGB = [0, 0, 0];
    const map = new Map<string, Bucket>();
    const tally = new ColorTally();
    for (const set of conns) {
      const coloring = layerColoring(store, set.layer, st.epoch, st);
      const w = store.weight(set.layer, st.epoch);
      const wr = modeRange(store, set.layer, { colorBy: "weight" }) || 1;
      const dim = selectedOwnsConns && set.layer !== selHost;
      for (let q = 0; q < set.n; q++) {
        const j = set.j[q];
        let stroke = NONE_LINE;
        let level = 0;
        const col = colorOf(coloring, j, rgb);
        if (col) {
          // quantize so lines batch into a few paths
          if (coloring.kind === "values") {
            const v = coloring.values[j];
            if (!Number.isFinite(v)) {
              stroke = css(NAN_COLOR);
              level = 100;
            } else {
              const t = Math.round(Math.max(-1, Math.min(1, v / (coloring.range || 1))) * 24) / 24;
              stroke = css(diverging(t, 1, rgb));
              level = Math.abs(t) * 24;
            }
          } else {
            stroke = css(col);
            level = 12;
          }
        }
        const wv = w && j < w.length ? Math.abs(w[j]) : 0;
        const wt = Number.isFinite(wv) ? Math.min(1, wv / wr) : 1;
        const width = Math.round((0.5 + 2.6 * wt) * 4) / 4;
        const alpha = dim ? 0.18 : 0.85;
        const key = `${stroke}|${width}|${alpha}`;
        let b = map.get(key);
        if (!b) {
          b = { stroke, width, alpha, rank: (dim ? 0 : 1000) + level * 10 + width, path: new Path2D() };
          map.set(key, b);
        }
        b.path.moveTo(set.x1[q], set.y1[q]);
        b.path.lineTo(set.x2[q], set.y2[q]);
        tally.add(set.layer, stroke);
      }
    }
    ctx.setData("connectionColors", tally.attr());
    buckets = [...map.values()].sort((a, b) => a.rank - b.rank);
    // neuron fills: bias in the current mode, or the probe sample's activation (input columns:
    // the probe's pixels as ink on paper; white where nothing is recorded)
    const badges = new Map<string, Badge[]>();
    for (const b of layerBadges(store, st.epoch)) {
      const host = dg?.hostOf.get(b.layer) ?? b.layer;
      const list = badges.get(host);
      if (list) list.push(b);
      else badges.set(host, [b]);
    }
    const tiles: string[] = []; // "layer:tiles" of the layers showing feature maps
    for (const n of nodes) {
      n.badges = badges.get(n.id) ?? [];
      const c = n.column;
      if (c) {
        const b = neuronValues(n.id, st);
        if (b && st.colorBy === "activation" && n.layer.kind === "input") {
          const [lo, hi] = finiteRange(b);
          c.fills = c.shown.map((idx) => {
            const v = b[idx];
            if (idx >= b.length) return "#ffffff";
            return css(inkGray(v, lo, hi));
          });
        } else {
          const range = b ? neuronRange(n.id, st) : 0;
          // a dense layer applied per token: tokens x features neurons, one bias per feature
          const tiled = b && st.colorBy !== "activation" ? channelOf(n.layer, c.total, b.length, store.graph.data_format) : null;
          c.fills = c.shown.map((idx) => {
            const j = tiled ? tiled(idx) : idx;
            return b && j < b.length ? css(diverging(b[j], range, rgb)) : "#ffffff";
          });
        }
      }
      if (c?.image) updateThumb(n, c, st);
      if (n.maps) {
        updateTiles(n.maps, st);
        if (n.maps.showing) tiles.push(`${n.id}:${n.maps.grid.n}`);
      }
      n.strip = [];
      if (n.maps?.input) {
        // the probe image is the whole story: no strip
      } else if (!c && st.colorBy === "activation") {
        const a = unitActivations(store, n.id, st.epoch, st.sample);
        if (a && a.length) {
          const range = neuronRange(n.id, st);
          const m = Math.min(STRIP_CELLS, a.length);
          for (let k = 0; k < m; k++) n.strip.push(css(diverging(a[Math.floor(((k + 0.5) * a.length) / m)], range, rgb)));
        }
      } else if (!c && n.layer.params > 0) {
        const coloring = layerColoring(store, n.id, st.epoch, st);
        if (coloring.kind === "values" && coloring.values.length) {
          const m = Math.min(STRIP_CELLS, coloring.values.length);
          for (let k = 0; k < m; k++) {
            const j = Math.floor(((k + 0.5) * coloring.values.length) / m);
            n.strip.push(css(diverging(coloring.values[j], coloring.range, rgb)));
          }
        } else if (coloring.kind === "scalar") {
          n.strip.push(css(sequential(coloring.value, coloring.max, rgb)));
        }
      }
    }
    ctx.setData("featureMaps", tiles.join(","));
  }

  // ---- painting
  function schedule(): void {
    if (raf || destroyed) return;
    raf = requestAnimationFrame(() => {
      raf = 0;
      paint();
    });
  }

  function publish(): void {
    if (!is2d()) return;
    ctx.setData("connectionsDrawn", drawn);
    ctx.setData("connectionsTotal", total);
  }

  function paint(): void {
    if (destroyed || !g2d || !is2d() || cssW <= 0 || cssH <= 0) return;
    const want = window.devicePixelRatio || 1;
    if (want !== dpr) {
      dpr = want;
      sizeCanvas();
    }
    if (graphRef !== store.graph) {
      rebuildLayout();
      rebuildConnections();
      dirtyColors = true;
    }
    if (!fitted) initialView();
    if (dirtyColors) recolor();
    const c = g2d;
    c.setTransform(1, 0, 0, 1, 0, 0);
    c.clearRect(0, 0, canvas.width, canvas.height);
    c.fillStyle = "#ffffff";
    c.fillRect(0, 0, canvas.width, canvas.height);
    c.setTransform(dpr * zoom, 0, 0, dpr * zoom, dpr * tx, dpr * ty);
    const st = ctx.state();
    const selHost = st.layer ? dg?.hostOf.get(st.layer) ?? st.layer : "";
    const hoverHost = hover ? hover.layer && (dg?.hostOf.get(hover.layer) ?? hover.layer) : "";
    // viewport in world coords (for culling)
    const vx0 = -tx / zoom;
    const vy0 = -ty / zoom;
    const vx1 = (cssW - tx) / zoom;
    const vy1 = (cssH - ty) / zoom;
    const visible = (x: number, y: number, w: number, h: number) => x + w >= vx0 && x <= vx1 && y + h >= vy0 && y <= vy1;
    const px = 1 / zoom; // one screen pixel in world units

    // edges (not those replaced by neuron connections)
    const neuronEdge = new Set(conns.filter((s) => s.n > 0).map((s) => `${s.src}\u0000${s.layer}`));
    c.lineCap = "round";
    for (const e of edgePaths) {
      if (neuronEdge.has(`${e.route.from}\u0000${e.route.to}`)) continue;
      const hi = selHost !== "" && (e.route.from === selHost || e.route.to === selHost);
      c.strokeStyle = hi ? EDGE_HI : EDGE;
      c.fillStyle = hi ? EDGE_HI : EDGE;
      c.lineWidth = Math.max(hi ? 2 : 1.4, (hi ? 1.6 : 1) * px);
      c.stroke(e.path);
      c.fill(e.arrow);
    }
    // neuron connections
    for (const b of buckets) {
      c.globalAlpha = b.alpha;
      c.strokeStyle = b.stroke;
      c.lineWidth = Math.max(b.width, 0.6 * px);
      c.stroke(b.path);
    }
    c.globalAlpha = 1;
    if (hover?.conn) {
      const { set, k } = hover.conn;
      c.strokeStyle = "#111827";
      c.lineWidth = Math.max(2.5, 2 * px);
      c.beginPath();
      c.moveTo(set.x1[k], set.y1[k]);
      c.lineTo(set.x2[k], set.y2[k]);
      c.stroke();
    }

    // full labels from zoom 0.75; below that, names only, at a constant on-screen size
    const showText = zoom >= 0.75;
    const compactText = !showText && zoom >= 0.2;
    const compactFont = `600 ${10.5 / zoom}px ${FONT}`;
    for (const n of nodes) {
      if (!visible(n.x - 10, n.y - 10, n.w + 20, n.h + 20)) continue;
      const selected = n.id === selHost;
      const hovered = n.id === hoverHost;
      const kc = kindColor(n.layer.kind);
      if (n.column) paintColumn(c, n, selected, hovered, showText, compactText ? compactFont : "", st, px);
      else {
        c.beginPath();
        roundRectPath(c, n.x, n.y, n.w, n.h, 7);
        c.fillStyle = tint(kc, hovered ? 0.74 : 0.84);
        c.fill();
        c.lineWidth = selected ? 2.5 : 1.2;
        c.strokeStyle = selected ? SELECT : kc;
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
        if (n.maps) paintTiles(c, n, showText, st, px);
        if (showText) {
          c.fillStyle = TEXT;
          c.font = F_NAME;
          c.textBaseline = "alphabetic";
          c.textAlign = "left";
          c.fillText(n.name, n.x + 13, n.y + 18);
          c.fillStyle = SUBTEXT;
          c.font = F_SUB;
          c.fillText(n.sub, n.x + 13, n.y + 33);
        } else if (compactText) {
          c.fillStyle = TEXT;
          c.font = compactFont;
          c.textBaseline = "middle";
          c.textAlign = "left";
          const label = compactLabel(n.layer.name, compactFont, n.w - 16);
          // a box with tiles: the name in its header (haloed where it runs over the tiles)
          if (label && n.maps) haloText(c, label, n.x + 10, n.y + MAP_TOP / 2, px);
          else if (label) c.fillText(label, n.x + 10, n.y + (n.h - (n.strip.length ? STRIP_H + 5 : 0)) / 2);
          c.textBaseline = "alphabetic";
        }
        if (selected) {
          c.beginPath();
          roundRectPath(c, n.x - 4, n.y - 4, n.w + 8, n.h + 8, 10);
          c.strokeStyle = "rgba(29,78,216,0.35)";
          c.lineWidth = 3;
          c.stroke();
        }
      }
    }
    // health tags (after every node, so none is hidden under a neighbour)
    if (zoom >= 0.3) {
      for (const n of nodes) {
        if (n.badges.length && visible(n.x - 20, n.y - 24, n.w + 40, n.h + 24)) paintBadges(c, n);
      }
    }
    ctx.setData("zoom", zoom.toFixed(2));
    // the host counts painted frames (data-frame) and marks the view ready after the first
    ctx.setData("frame", 0);
    ctx.setData("ready", 1);
  }

  /** Text with a white halo, readable over the tiles it may run onto (zoomed out). */
  function haloText(c: CanvasRenderingContext2D, text: string, x: number, y: number, px: number): void {
    const fill = c.fillStyle;
    c.lineJoin = "round";
    c.lineWidth = 3 * px;
    c.strokeStyle = "rgba(255,255,255,0.9)";
    c.strokeText(text, x, y);
    c.fillStyle = fill;
    c.fillText(text, x, y);
  }

  /**
   * A layer's feature-map tiles from its atlas (shrunk: smoothed; enlarged: crisp pixels), each
   * framed; without maps for the sample, tiles in the kind color (as the 3D planes) and a note.
   */
  function paintTiles(c: CanvasRenderingContext2D, n: NodeGeom, showText: boolean, st: ViewState, px: number): void {
    const m = n.maps!;
    const g = m.grid;
    const kc = kindColor(n.layer.kind);
    const lw = Math.min(px, 1.2);
    const frame = new Path2D();
    const smooth = zoom * dpr * g.tileW < m.tw;
    c.imageSmoothingEnabled = smooth;
    for (let i = 0; i < g.n; i++) {
      const [ox, oy] = tileOrigin(g, i);
      const x = m.gx + ox;
      const y = m.gy + oy;
      if (m.showing && m.canvas) {
        const [sx, sy] = tileOrigin(m.atlas, i);
        c.drawImage(m.canvas, sx, sy, m.tw, m.th, x, y, g.tileW, g.tileH);
      } else {
        c.fillStyle = tint(kc, 0.6);
        c.fillRect(x, y, g.tileW, g.tileH);
      }
      frame.rect(x - lw / 2, y - lw / 2, g.tileW + lw, g.tileH + lw);
    }
    c.imageSmoothingEnabled = true;
    c.lineWidth = lw;
    c.strokeStyle = tint(kc, 0.35);
    c.stroke(frame);
    if (!showText) return;
    c.font = F_SMALL;
    c.fillStyle = SUBTEXT;
    c.textBaseline = "alphabetic";
    if (g.more) {
      const long = `+${g.more} more channels`;
      c.textAlign = "left";
      c.fillText(measure(long, F_SMALL) <= g.width ? long : `+${g.more} more`, m.gx, m.noteY);
    }
    if (!m.showing) {
      // maps are kept for the first probe samples only
      const lines = ["no maps for", `sample ${st.sample}`];
      const w = Math.max(...lines.map((t) => measure(t, F_SMALL))) + 8;
      const cx = m.gx + g.width / 2;
      const cy = m.gy + g.height / 2;
      c.beginPath();
      roundRectPath(c, cx - w / 2, cy - 13, w, 26, 4);
      c.fillStyle = "rgba(255,255,255,0.88)";
      c.fill();
      c.fillStyle = TEXT;
      c.textAlign = "center";
      c.fillText(lines[0], cx, cy - 2);
      c.fillText(lines[1], cx, cy + 9);
    }
    c.textAlign = "left";
  }

  /** Small colored tags ("dead 62%", "vanishing ∇") on a node's top edge (a column: above its name). */
  function paintBadges(c: CanvasRenderingContext2D, n: NodeGeom): void {
    c.font = F_BADGE;
    const widths = n.badges.map((b) => measure(b.text, F_BADGE) + 10);
    const total = widths.reduce((a, b) => a + b, 0) + 3 * (widths.length - 1);
    let x = n.column ? n.column.cx - total / 2 : n.x + n.w - total + 6;
    const y = n.column ? n.y - BADGE_H - 3 : n.y - BADGE_H / 2 - 1;
    c.textAlign = "center";
    c.textBaseline = "middle";
    n.badges.forEach((b, k) => {
      const w = widths[k];
      c.beginPath();
      roundRectPath(c, x, y, w, BADGE_H, BADGE_H / 2);
      c.fillStyle = b.bg;
      c.fill();
      c.lineWidth = 1;
      c.strokeStyle = "rgba(255,255,255,0.9)";
      c.stroke();
      c.fillStyle = b.fg;
      c.fillText(b.text, x + w / 2, y + BADGE_H / 2 + 0.5);
      x += w + 3;
    });
    c.textAlign = "left";
    c.textBaseline = "alphabetic";
  }

  function paintColumn(
    c: CanvasRenderingContext2D, n: NodeGeom, selected: boolean, hovered: boolean, showText: boolean, compactFont: string,
    st: ViewState, px: number,
  ): void {
    const col = n.column!;
    const kc = kindColor(n.layer.kind);
    const bx = col.cx - BODY_W / 2;
    const bw = BODY_W;
    c.beginPath();
    roundRectPath(c, bx, col.bodyTop, bw, col.bodyBottom - col.bodyTop, 9);
    c.fillStyle = hovered ? tint(kc, 0.8) : tint(kc, 0.9);
    c.fill();
    c.lineWidth = selected ? 2.5 : 1;
    c.strokeStyle = selected ? SELECT : tint(kc, 0.45);
    c.stroke();
    if (selected) {
      c.beginPath();
      roundRectPath(c, bx - 4, col.bodyTop - 4, bw + 8, col.bodyBottom - col.bodyTop + 8, 12);
      c.strokeStyle = "rgba(29,78,216,0.35)";
      c.lineWidth = 3;
      c.stroke();
    }
    if (n.maps) paintTiles(c, n, showText, st, px);
    const hoverNeuron = hover && hover.layer === n.id && hover.neuron !== undefined ? hover.neuron : -1;
    for (let k = 0; k < col.shown.length; k++) {
      c.beginPath();
      c.arc(col.cx, col.ys[k], R, 0, Math.PI * 2);
      c.fillStyle = col.fills[k] ?? "#fff";
      c.fill();
      const hn = col.shown[k] === hoverNeuron;
      c.lineWidth = hn ? 2 : Math.max(1, 0.8 * px);
      c.strokeStyle = hn ? "#111827" : "#56606e";
      c.stroke();
    }
    if (showText) {
      c.textAlign = "center";
      c.textBaseline = "alphabetic";
      c.fillStyle = TEXT;
      c.font = F_NAME;
      c.fillText(n.name, col.cx, n.y + 12);
      c.fillStyle = SUBTEXT;
      c.font = F_SUB;
      c.fillText(n.sub, col.cx, n.y + 25);
      if (col.image?.canvas && col.image.key) {
        const sc = Math.min(THUMB / col.image.w, THUMB / col.image.h);
        const tw = col.image.w * sc, th = col.image.h * sc;
        const x = col.cx - tw / 2, y = n.y + HEADER - 4 + (THUMB - th) / 2;
        c.imageSmoothingEnabled = false;
        c.drawImage(col.image.canvas, x, y, tw, th);
        c.imageSmoothingEnabled = true;
        c.lineWidth = 1;
        c.strokeStyle = "#c3c9d1";
        c.strokeRect(x - 0.5, y - 0.5, tw + 1, th + 1);
        c.font = F_SMALL;
        c.fillStyle = SUBTEXT;
        c.fillText(`sample ${st.sample}`, col.cx, y + th + 10);
      }
      if (col.moreY !== null) {
        c.font = F_SMALL;
        c.fillStyle = SUBTEXT;
        c.fillText(`${col.shown.length} of ${fmtInt(col.total)}`, col.cx, col.moreY + 3);
      }
    } else if (compactFont) {
      c.textAlign = "center";
      c.textBaseline = "alphabetic";
      c.fillStyle = TEXT;
      c.font = compactFont;
      const label = compactLabel(n.layer.name, compactFont, Math.max(n.w, 80 * px));
      // a column with tiles: the name in its header, over them (haloed) when large
      if (label && n.maps) {
        c.textBaseline = "middle";
        haloText(c, label, col.cx, n.y + HEADER / 2 - 4, px);
        c.textBaseline = "alphabetic";
      } else if (label) c.fillText(label, col.cx, col.bodyTop - 3 * px);
    }
    for (const chip of col.chips) {
      const al = store.layer(chip.layer);
      const ck = kindColor(al?.kind ?? "other");
      const sel = st.layer === chip.layer;
      const hov = hover?.layer === chip.layer;
      c.beginPath();
      roundRectPath(c, chip.x, chip.y, chip.w, chip.h, chip.h / 2);
      c.fillStyle = tint(ck, hov ? 0.65 : 0.8);
      c.fill();
      c.lineWidth = sel ? 2.2 : 1;
      c.strokeStyle = sel ? SELECT : ck;
      c.stroke();
      if (showText || compactFont) {
        // zoomed out: the chip's text at the compact on-screen size, when it fits
        const font = showText ? F_CHIP : compactFont.replace(/^600 /, "");
        const label = showText ? chip.label : compactLabel(chip.full, font, chip.w - 4);
        if (label) {
          c.fillStyle = TEXT;
          c.font = font;
          c.textAlign = "center";
          c.textBaseline = "middle";
          c.fillText(label, chip.x + chip.w / 2, chip.y + chip.h / 2 + 0.5);
          c.textBaseline = "alphabetic";
        }
      }
    }
    c.textAlign = "left";
  }

  // ---- view transform
  function sizeCanvas(): void {
    canvas.style.width = `${cssW}px`;
    canvas.style.height = `${cssH}px`;
    canvas.width = Math.max(1, Math.round(cssW * dpr));
    canvas.height = Math.max(1, Math.round(cssH * dpr));
  }

  function fit(): void {
    if (!layout || cssW <= 0 || cssH <= 0) return;
    const pad = 16;
    const top = 36; // leave room for the tools
    zoom = Math.min((cssW - 2 * pad) / layout.width, (cssH - top - pad) / layout.height, 1.6);
    tx = (cssW - layout.width * zoom) / 2;
    ty = top + (cssH - top - pad - layout.height * zoom) / 2;
    fitted = true;
    schedule();
  }

  /** The whole graph in view (re-wrapping a long graph into rows that fit the view). */
  function fitAll(): void {
    hideHint();
    if (!overview) {
      overview = true;
      const nb = wantBreaks();
      if (nb.join() !== breaks.join()) {
        breaks = nb;
        place();
        rebuildConnections();
        dirtyColors = true;
      }
    }
    fit();
  }

  function hideHint(): void {
    hint.style.display = "none";
  }

  /** Fit, unless that makes text unreadable: then show the start of the graph at a readable zoom. */
  function initialView(): void {
    if (!layout) return;
    fit();
    if (zoom < MIN_FIT_ZOOM) {
      // the start of the graph (top left) at a readable zoom
      zoom = READABLE_ZOOM;
      tx = (cssW - Math.min(layout.width * zoom, cssW)) / 2;
      ty = 36 + (cssH - 36 - layout.height * zoom) / 2;
      if (layout.height * zoom > cssH - 36) ty = 32;
    }
    fitted = true;
  }

  function zoomAt(f: number, sx: number, sy: number): void {
    const nz = Math.max(0.03, Math.min(5, zoom * f));
    const k = nz / zoom;
    tx = sx - (sx - tx) * k;
    ty = sy - (sy - ty) * k;
    zoom = nz;
    schedule();
  }

  function zoomBy(f: number): void {
    zoomAt(f, cssW / 2, cssH / 2);
  }

  function ensureVisible(layer: string): void {
    const host = dg?.hostOf.get(layer) ?? layer;
    const n = nodeById.get(host);
    if (!n || cssW <= 0) return;
    const sx0 = n.x * zoom + tx;
    const sy0 = n.y * zoom + ty;
    const sx1 = (n.x + n.w) * zoom + tx;
    const sy1 = (n.y + n.h) * zoom + ty;
    if (sx0 >= 0 && sy0 >= 0 && sx1 <= cssW && sy1 <= cssH) return;
    if (zoom < 0.4) zoom = 0.7;
    tx = cssW / 2 - (n.x + n.w / 2) * zoom;
    ty = cssH / 2 - (n.y + Math.min(n.h, cssH / zoom - 40) / 2) * zoom;
  }

  // ---- hit testing
  function hitTest(sx: number, sy: number): Hit | null {
    const x = (sx - tx) / zoom;
    const y = (sy - ty) / zoom;
    for (const n of nodes) {
      const ch = n.maps ? mapTileAt(n.maps.grid, x - n.maps.gx, y - n.maps.gy) : -1;
      if (ch >= 0) return { layer: n.id, channel: ch };
    }
    for (const n of nodes) {
      const col = n.column;
      if (!col) continue;
      for (const chip of col.chips) {
        if (x >= chip.x && x <= chip.x + chip.w && y >= chip.y && y <= chip.y + chip.h) return { layer: chip.layer };
      }
      if (Math.abs(x - col.cx) <= BODY_W / 2 && y >= col.bodyTop - 2 && y <= col.bodyBottom + 2) {
        let best = -1;
        let bd = Infinity;
        for (let k = 0; k < col.ys.length; k++) {
          const d = Math.abs(col.ys[k] - y);
          if (d < bd) {
            bd = d;
            best = k;
          }
        }
        if (best >= 0 && bd <= R + 2 && Math.abs(x - col.cx) <= R + 2) return { layer: n.id, neuron: col.shown[best] };
        return { layer: n.id };
      }
      // the label above the column
      if (x >= n.x && x <= n.x + n.w && y >= n.y && y < col.bodyTop) return { layer: n.id };
    }
    for (const n of nodes) {
      if (!n.column && x >= n.x && x <= n.x + n.w && y >= n.y && y <= n.y + n.h) return { layer: n.id };
    }
    const tol = Math.max(3, 5 / zoom);
    let best: { set: ConnSet; k: number } | null = null;
    let bd = tol * tol;
    for (const set of conns) {
      if (!set.n || x < set.x1[0] - tol || x > set.x2[0] + tol) continue;
      for (let k = 0; k < set.n; k++) {
        const d = segDist2(x, y, set.x1[k], set.y1[k], set.x2[k], set.y2[k]);
        if (d < bd) {
          bd = d;
          best = { set, k };
        }
      }
    }
    if (best) return { layer: best.set.layer, conn: best };
    return null;
  }

  function tooltipFor(h: Hit): [string, TooltipRows] {
    const st = ctx.state();
    const l = store.layer(h.layer);
    const snap = store.at(st.epoch);
    const label = snap?.label ?? "";
    if (h.conn) {
      const { set, k } = h.conn;
      const rows: TooltipRows = [
        ["from", `${set.src} · neuron ${set.i[k]}`],
        ["to", `${set.layer} · neuron ${set.o[k]}`],
      ];
      const w = store.weight(set.layer, st.epoch);
      if (w) rows.push(["weight", fmt(w[set.j[k]], 4)]);
      if (st.colorBy !== "weight") {
        const v = modeValues(store, set.layer, st.epoch, st);
        rows.push([colorMode(st.colorBy)?.label(st, "connections") ?? st.colorBy, v ? fmt(v[set.j[k]], 4) : "not recorded"]);
      }
      if (label) rows.push(["at", label]);
      return [`${set.layer} · weight [${set.o[k]}, ${set.i[k]}]`, rows];
    }
    const m = nodeById.get(h.layer)?.maps;
    if (m && h.channel !== undefined) {
      // one feature-map tile: the channel's map for the sample
      const rows: TooltipRows = [["channel", `${h.channel} of ${fmtInt(m.channels)}`], ["map", `${m.mh}×${m.mw} · sample ${st.sample}`]];
      if (m.source !== h.layer) rows.push(["after", m.source]);
      const v = m.showing ? featureMaps(store, m.source, st.epoch, st.sample) : null;
      const per = m.mh * m.mw;
      if (v && v.length >= (h.channel + 1) * per) {
        let sum = 0;
        let k = 0;
        let nan = 0;
        for (let i = h.channel * per; i < (h.channel + 1) * per; i++) {
          if (Number.isFinite(v[i])) {
            sum += v[i];
            k++;
          } else nan++;
        }
        const [lo, hi] = finiteRange(v, h.channel * per, per);
        rows.push(["mean", k ? fmt(sum / k, 4) : "—"], ["range", `${fmt(lo, 3)} … ${fmt(hi, 3)}`]);
        if (nan) rows.push(["NaN / Inf", fmtInt(nan)]);
      } else rows.push(["map", `not kept for sample ${st.sample}`]);
      if (label) rows.push(["at", label]);
      return [m.rgb ? `${h.layer} · sample ${st.sample}` : `${h.layer} · channel ${h.channel}`, rows];
    }
    const rows: TooltipRows = [];
    if (l) {
      rows.push(["kind", l.kind], ["op", l.op], ["output", fmtShape(l.output_shape)], ["params", fmtInt(l.params)]);
      if (l.units !== null) rows.push(["units", fmtInt(l.units)]);
    }
    if (m && h.neuron === undefined) {
      const what = m.input ? "probe image" : "feature maps";
      rows.push([what, m.showing
        ? `${m.input ? "" : `${m.grid.n} of ${fmtInt(m.channels)} channels · `}sample ${st.sample}${m.source !== h.layer ? ` · after ${m.source}` : ""}`
        : `not kept for sample ${st.sample}`]);
    }
    if (h.neuron !== undefined) {
      const b = store.weight(h.layer, st.epoch, "bias");
      rows.unshift(["neuron", `${h.neuron} of ${fmtInt(nodeById.get(h.layer)?.column?.total ?? 0)}`]);
      if (b && h.neuron < b.length) rows.push(["bias", fmt(b[h.neuron], 4)]);
      const a = unitActivations(store, h.layer, st.epoch, st.sample);
      if (a && h.neuron < a.length) rows.push([`activation (sample ${st.sample})`, fmt(a[h.neuron], 4)]);
      if (label) rows.push(["at", label]);
      return [h.layer, rows];
    }
    const dn = dg?.nodes.find((d) => d.id === h.layer);
    if (dn && dn.attached.length) rows.push(["then", dn.attached.map((a) => store.layer(a)?.op ?? a).join(" → ")]);
    for (const b of nodeById.get(dg?.hostOf.get(h.layer) ?? h.layer)?.badges ?? []) rows.push(["health", b.title]);
    const host = dg?.hostOf.get(h.layer);
    if (host && host !== h.layer) rows.push(["applied to", host]);
    return [h.layer, rows];
  }

  function selectLayer(name: string): void {
    selectingHere = true;
    try {
      ctx.select(name);
    } finally {
      selectingHere = false;
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
    down = { x: p.x, y: p.y, tx, ty, id: e.pointerId, moved: false };
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
        tx = down.tx + dx;
        ty = down.ty + dy;
        schedule();
        return;
      }
    }
    const h = hitTest(p.x, p.y);
    const same =
      (h === null && hover === null) ||
      (h !== null && hover !== null && h.layer === hover.layer && h.neuron === hover.neuron &&
        h.channel === hover.channel && h.conn?.set === hover.conn?.set && h.conn?.k === hover.conn?.k);
    if (!same) {
      hover = h;
      canvas.classList.toggle("nnviz-pointing", h !== null);
      schedule();
    }
    if (h) {
      const [title, rows] = tooltipFor(h);
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
    const h = hitTest(p.x, p.y);
    selectLayer(h ? h.layer : "");
  };
  const onPointerLeave = () => {
    if (hover) {
      hover = null;
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
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? cssH : 1;
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
      tx -= (e.shiftKey && !e.deltaX ? e.deltaY : e.deltaX) * unit;
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
  canvas.addEventListener("pointerdown", onPointerDown);
  canvas.addEventListener("pointermove", onPointerMove);
  canvas.addEventListener("pointerup", onPointerUp);
  canvas.addEventListener("pointercancel", onPointerUp);
  canvas.addEventListener("pointerleave", onPointerLeave);
  canvas.addEventListener("wheel", onWheel, { passive: false });
  canvas.addEventListener("keydown", onKey);

  // ---- subscriptions
  const offState = ctx.onState((changed) => {
    if (changed.has("maxConnections")) {
      rebuildConnections();
      dirtyColors = true;
    }
    if (changed.has("epoch") || changed.has("colorBy") || changed.has("deltaRef") || changed.has("layer") || changed.has("sample")) {
      dirtyColors = true;
    }
    if (changed.has("layer") && !selectingHere) {
      const l = ctx.state().layer;
      if (l) ensureVisible(l);
    }
    if (changed.has("mode") && !is2d()) ctx.setData("featureMaps", ""); // the 3D view says data-maps
    if (changed.has("mode") || changed.has("maxConnections")) publish();
    schedule();
  });
  const offData = store.on(() => {
    mapRanges.clear();
    for (const n of nodes) if (n.maps) n.maps.buf = null; // redraw the tiles (ranges may change)
    if (cssW <= 0 || cssH <= 0) return; // built on the first resize
    if (graphRef !== store.graph || currentMapsKey() !== mapsKey) rebuildLayout();
    rebuildConnections();
    dirtyColors = true;
    publish();
    schedule();
  });

  // geometry is built on the first resize (it depends on the view's size)

  return {
    el,
    resize(width: number, height: number) {
      const w = Math.max(0, Math.floor(width));
      const h = Math.max(0, Math.floor(height));
      el.style.width = `${w}px`;
      el.style.height = `${h}px`;
      if (w === cssW && h === cssH && dpr === (window.devicePixelRatio || 1)) return;
      const first = cssW <= 0 || cssH <= 0;
      cssW = w;
      cssH = h;
      const want = neuronCap(h);
      const gap = neuronGapFor(layoutRanks, wideGaps);
      const stale = graphRef !== store.graph || want !== cap || Math.abs(gap - neuronGap) > 0.08 * neuronGap;
      if (stale && h > 0 && w > 0) {
        cap = want;
        fitted = false;
        rebuildLayout();
        rebuildConnections();
        dirtyColors = true;
      } else if (h > 0 && w > 0) {
        const nb = wantBreaks();
        if (nb.join() !== breaks.join()) {
          breaks = nb;
          place();
          rebuildConnections();
          dirtyColors = true;
          fitted = false;
        }
      }
      dpr = window.devicePixelRatio || 1;
      sizeCanvas();
      if (first) fitted = false;
      publish();
      schedule();
    },
    destroy() {
      destroyed = true;
      if (raf) cancelAnimationFrame(raf);
      raf = 0;
      offState();
      offData();
      canvas.removeEventListener("pointerdown", onPointerDown);
      canvas.removeEventListener("pointermove", onPointerMove);
      canvas.removeEventListener("pointerup", onPointerUp);
      canvas.removeEventListener("pointercancel", onPointerUp);
      canvas.removeEventListener("pointerleave", onPointerLeave);
      canvas.removeEventListener("wheel", onWheel);
      wheelHint.dispose();
      canvas.removeEventListener("keydown", onKey);
      ctx.hideTooltip();
      el.remove();
      buckets = [];
      conns = [];
      edgePaths = [];
      nodes = [];
    },
  };
}
