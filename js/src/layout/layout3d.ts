// Pure 3D layout: graph -> boxes (one per layer), neuron grids, edge paths. No DOM, no three.js.
// Units: one neuron spacing = 1. Layers run along +x by rank (rankLayers); layers sharing a rank
// spread in z; long graphs fold into rows (boustrophedon) along z so they stay readable.
import { echoOutputs, knownNumel, rankLayers } from "./common";
import type { GraphInfo, LayerInfo, Shape } from "../data/types";
import { kindInfo } from "../data/kinds";

export type Vec3 = [number, number, number];

/** How a layer is drawn. */
export type Style = "neurons" | "planes" | "block" | "plate";

export interface NeuronGrid {
  count: number;
  rows: number;
  cols: number;
  spacing: number;
  radius: number;
}

export interface PlaneStack {
  drawn: number;     // planes drawn (capped)
  total: number;     // channels
  pitch: number;     // x distance between planes
  thickness: number; // x thickness of one plane
  /** the layer's units as (channel, row, column), when its shape is known: a dense layer fed by
   *  this stack draws its connections from the planes' pixels (unitPosition) */
  units?: { c: number; h: number; w: number; hwc: boolean };
}

export interface LayerBox {
  name: string;
  index: number;     // index into graph.layers
  kind: string;
  rank: number;
  row: number;       // fold row (0 when the graph is not folded)
  dir: 1 | -1;       // +1: data flows towards +x in this row; -1 in mirrored rows
  style: Style;
  center: Vec3;
  size: Vec3;        // full extent along x, y, z
  grid?: NeuronGrid;
  planes?: PlaneStack;
  /** larger = more important (labels are placed by priority): 10 x the kind's label_tier + log10(1 + params) */
  weight: number;
  /** an "output" node that only repeats its single predecessor's values: drawn as a thin plate
   *  flush behind it, never a neuron grid of its own, and the last to get a label */
  echo: boolean;
}

export interface EdgePath {
  from: string;
  to: string;
  points: Vec3[];
}

export interface Layout3D {
  boxes: LayerBox[];
  byName: Map<string, LayerBox>;
  edges: EdgePath[];
  min: Vec3;
  max: Vec3;
  /** "neurons": small graph, neurons and connections drawn; "blocks": every layer is a block. */
  lod: "neurons" | "blocks";
  rows: number;
}

export interface Layout3DOptions {
  /** a layer with more units than this is drawn as a block (default 1024) */
  maxNeurons?: number;
  /** a graph with more layers than this draws blocks only (default 60) */
  maxLayersForNeurons?: number;
  /** conv channel planes drawn at most (default 16) */
  maxPlanes?: number;
  /** layers whose channel planes show feature maps: fewer planes (maxMapPlanes, default 8),
   *  spaced wider, so each map can be seen */
  mapped?: ReadonlySet<string>;
  maxMapPlanes?: number;
}

/**
 * Channels and spatial size of a per-sample shape: CHW when the graph says channels_first (torch),
 * HWC for channels_last (Keras); without a hint, guessed from `units` and the shape.
 */
export function spatial(layer: LayerInfo, format?: GraphInfo["data_format"]): { c: number; h: number; w: number } | null {
  const s = (layer.output_shape ?? []).map((d) => (typeof d === "number" && d > 0 ? d : 1));
  if (s.length < 3) return null;
  if (channelsLast(layer, format)) {
    // (H, W, C) or (D, H, W, C): the leading dims are spatial
    const c = s[s.length - 1];
    const sp = s.slice(0, -1);
    return { c, h: sp[0], w: sp.slice(1).reduce((x, y) => x * y, 1) };
  }
  return { c: s[0], h: s[1], w: s.slice(2).reduce((x, y) => x * y, 1) };
}

/** Whether a layer's per-sample shape is (H, W, C) rather than (C, H, W) (see spatial). */
function channelsLast(layer: LayerInfo, format?: GraphInfo["data_format"]): boolean {
  if (format === "channels_last") return true;
  if (format === "channels_first") return false;
  const s = (layer.output_shape ?? []).map((d) => (typeof d === "number" && d > 0 ? d : 1));
  const units = layer.units ?? null;
  const [a, b] = s;
  const c = s[s.length - 1];
  return units !== null ? c === units && a !== units : a === b && c !== b;
}

/** Grid dims for n neurons: the image's own H x W when the shape is one image plane, else near-square. */
export function gridDims(n: number, shape?: Shape | null): { rows: number; cols: number } {
  if (shape) {
    const s = shape.filter((d): d is number => typeof d === "number");
    const planes = s.filter((d) => d > 1);
    if (s.length >= 2 && planes.length === 2 && planes[0] * planes[1] === n) {
      return { rows: planes[0], cols: planes[1] };
    }
  }
  const cols = Math.max(1, Math.ceil(Math.sqrt(n)));
  const rows = Math.max(1, Math.ceil(n / cols));
  return { rows, cols };
}

/** Position of neuron k of a neuron box (row-major over the grid, in the box's y-z plane). */
export function neuronPosition(box: LayerBox, k: number, out: Vec3 = [0, 0, 0]): Vec3 {
  const g = box.grid;
  if (!g) {
    out[0] = box.center[0]; out[1] = box.center[1]; out[2] = box.center[2];
    return out;
  }
  const row = Math.floor(k / g.cols);
  const col = k - row * g.cols;
  out[0] = box.center[0];
  out[1] = box.center[1] + ((g.rows - 1) / 2 - row) * g.spacing;
  out[2] = box.center[2] + (col - (g.cols - 1) / 2) * g.spacing * box.dir;
  return out;
}

/**
 * Position of unit k of a layer that feeds drawn connections: a neuron of a neuron box, or a
 * pixel of a channel plane stack (channel c's plane at row y, column x, as its feature map is
 * drawn; channels past the drawn planes start from the stack's face, its last plane). Null for
 * other boxes or a k out of range.
 */
export function unitPosition(box: LayerBox, k: number, out: Vec3 = [0, 0, 0]): Vec3 | null {
  if (box.grid) return k >= 0 && k < box.grid.count ? neuronPosition(box, k, out) : null;
  const p = box.planes;
  const u = p?.units;
  if (!p || !u || k < 0 || k >= u.c * u.h * u.w) return null;
  let c: number, y: number, x: number;
  if (u.hwc) {
    c = k % u.c;
    const yx = Math.floor(k / u.c);
    y = Math.floor(yx / u.w);
    x = yx - y * u.w;
  } else {
    c = Math.floor(k / (u.h * u.w));
    const yx = k - c * u.h * u.w;
    y = Math.floor(yx / u.w);
    x = yx - y * u.w;
  }
  const plane = Math.min(c, p.drawn - 1);
  const x0 = box.center[0] - (box.dir * (box.size[0] - p.thickness)) / 2;
  out[0] = x0 + box.dir * plane * p.pitch;
  out[1] = box.center[1] + box.size[1] / 2 - ((y + 0.5) / u.h) * box.size[1];
  out[2] = box.center[2] - (box.dir * box.size[2]) / 2 + box.dir * ((x + 0.5) / u.w) * box.size[2];
  return out;
}

/** Whether drawn connections can start from this box's units (neurons or mapped channel planes). */
export function feedsConnections(box: LayerBox): boolean {
  return box.style === "neurons" || (box.style === "planes" && !!box.planes?.units);
}

export function layout3d(graph: GraphInfo, opts: Layout3DOptions = {}): Layout3D {
  const maxNeurons = opts.maxNeurons ?? 1024;
  const maxLayers = opts.maxLayersForNeurons ?? 60;
  const maxPlanes = opts.maxPlanes ?? 16;
  const layers = graph.layers ?? [];
  const lod: "neurons" | "blocks" = layers.length <= maxLayers ? "neurons" : "blocks";
  const big = lod === "blocks";
  // side length (in neuron spacings) for a spatial extent of v: linear for small v, then soft.
  const side = big
    ? (v: number) => 1.2 + 1.4 * Math.log2(1 + Math.max(0, v))
    : (v: number) => (v <= 24 ? Math.max(1.5, v) : 24 + 6 * Math.log2(v / 24));

  const sources = new Set(Object.values(graph.neuron_source ?? {}));
  const rank = rankLayers(graph);
  const echoes = echoOutputs(graph);

  const boxes: LayerBox[] = layers.map((layer, index) => {
    const info = kindInfo(graph, layer.kind);
    const n = knownNumel(layer.output_shape) || (layer.units ?? 0);
    const sp = spatial(layer, graph.data_format);
    let [sy, sz] = sp ? [side(sp.h), side(sp.w)] : [side(Math.sqrt(Math.max(n, 1))), side(Math.sqrt(Math.max(n, 1)))];
    let sx: number;
    let style: Style;
    let grid: NeuronGrid | undefined;
    let planes: PlaneStack | undefined;
    const echo = echoes.has(layer.name) && !sources.has(layer.name);
    // a conv layer with recorded feature maps keeps its channel planes even when it feeds a
    // dense layer (its connections then start from the planes' pixels)
    const mappedConv = layer.kind === "conv" && !!sp && !!opts.mapped?.has(layer.name);
    const neuronish =
      !echo && !big && !mappedConv && n >= 1 && n <= maxNeurons && (info.neurons || sources.has(layer.name)) &&
      (!sp || sp.c === 1 || layer.kind !== "input" || n <= 256);
    if (neuronish) {
      const { rows, cols } = gridDims(n, layer.output_shape);
      grid = { count: n, rows, cols, spacing: 1, radius: 0.3 };
      style = "neurons";
      sy = rows + 0.6;
      sz = cols + 0.6;
      sx = 0.5;
    } else if (sp && (layer.kind === "conv" || (layer.kind === "input" && sp.c > 1))) {
      const maps = !big && !!opts.mapped?.has(layer.name);
      const drawn = Math.max(1, Math.min(sp.c, maps ? opts.maxMapPlanes ?? 8 : maxPlanes));
      const pitch = big ? 0.22 : maps ? Math.max(0.45, 0.2 * Math.max(sy, sz)) : 0.45;
      const thickness = big ? 0.1 : 0.16;
      planes = { drawn, total: sp.c, pitch, thickness };
      if (maps) planes.units = { c: sp.c, h: sp.h, w: sp.w, hwc: channelsLast(layer, graph.data_format) };
      style = "planes";
      sx = (drawn - 1) * pitch + thickness;
    } else if (echo || info.pass_through) {
      style = "plate";
      sx = big ? 0.3 : 0.25;
      if (layer.kind === "reshape") {
        sy *= 0.8;
        sz *= 0.8;
      }
    } else {
      style = "block";
      const k = layer.kind;
      sx = info.block_depth;
      if (big) sx *= 0.8;
      if (k === "merge") {
        sy = Math.min(sy, big ? 2.5 : 3);
        sz = Math.min(sz, big ? 2.5 : 3);
      }
    }
    const weight = 10 * info.label_tier + (layer.params > 0 ? Math.log10(1 + layer.params) : 0) - (echo ? 1 : 0);
    return {
      name: layer.name, index, kind: layer.kind, rank: rank.get(layer.name) ?? 0, row: 0, dir: 1 as const,
      style, center: [0, 0, 0] as Vec3, size: [sx, sy, sz] as Vec3, grid, planes, weight, echo,
    };
  });
  // an echo output takes its predecessor's face (so it reads as the end of that layer)
  for (const b of boxes) {
    if (!b.echo) continue;
    const pred = (graph.edges ?? []).find(([, to]) => to === b.name)?.[0];
    const p = pred !== undefined ? boxes.find((q) => q.name === pred) : undefined;
    if (p) {
      b.size[1] = p.size[1];
      b.size[2] = p.size[2];
    }
  }

  // Ranks: x extent and z spread.
  const nRanks = boxes.reduce((m, b) => Math.max(m, b.rank + 1), 0);
  const byRank: LayerBox[][] = Array.from({ length: nRanks }, () => []);
  for (const b of boxes) byRank[b.rank].push(b);
  const zGap = big ? 1.5 : 3;
  const rankW: number[] = byRank.map((bs) => bs.reduce((m, b) => Math.max(m, b.size[0]), 0));
  const rankH: number[] = byRank.map((bs) => bs.reduce((m, b) => Math.max(m, b.size[1], b.size[2]), 0));
  const rankZ: number[] = byRank.map((bs) => bs.reduce((s, b) => s + b.size[2], 0) + zGap * Math.max(0, bs.length - 1));
  // gaps crossed by a fan of drawn connections get room; the others stay compact
  const fan = new Array<boolean>(nRanks).fill(false); // fan[r]: between rank r-1 and r
  const boxOf = new Map(boxes.map((b) => [b.name, b]));
  for (const [dst, src] of Object.entries(graph.neuron_source ?? {})) {
    const D = boxOf.get(dst);
    const S = boxOf.get(src);
    if (!D || !S || D.style !== "neurons" || !feedsConnections(S)) continue;
    for (let r = S.rank + 1; r <= D.rank; r++) fan[r] = true;
  }
  const xStart: number[] = [];
  let x = 0;
  for (let r = 0; r < nRanks; r++) {
    if (r > 0) {
      const hgt = Math.max(rankH[r - 1], rankH[r]);
      const echoRank = byRank[r].length > 0 && byRank[r].every((b) => b.echo);
      const gap = echoRank ? 0.35 : big ? 1.4 : fan[r] ? Math.max(3, 0.7 * hgt) : Math.max(2.5, 0.3 * hgt);
      x += gap;
    }
    xStart.push(x);
    x += rankW[r];
  }
  const totalX = x;

  // Fold long graphs into rows along z.
  const maxZ = rankZ.reduce((m, v) => Math.max(m, v), 0);
  const pitch = maxZ + (big ? 5 : 8);
  let rows = 1;
  if (nRanks > 16 && totalX > 3 * pitch) {
    rows = Math.max(1, Math.round(Math.sqrt(totalX / (1.6 * pitch))));
  }
  const rowLen = totalX / rows;
  const rankRow: number[] = xStart.map((s) => Math.min(rows - 1, Math.floor(s / Math.max(rowLen, 1e-9) + 1e-9)));
  const rowStart: number[] = Array(rows).fill(Infinity);
  for (let r = 0; r < nRanks; r++) rowStart[rankRow[r]] = Math.min(rowStart[rankRow[r]], xStart[r]);
  let rowWidth = 0;
  for (let r = 0; r < nRanks; r++) rowWidth = Math.max(rowWidth, xStart[r] + rankW[r] - rowStart[rankRow[r]]);

  for (let r = 0; r < nRanks; r++) {
    const row = rankRow[r];
    const dir: 1 | -1 = row % 2 === 0 ? 1 : -1;
    const local = xStart[r] - rowStart[row] + rankW[r] / 2;
    const cx = dir === 1 ? local : rowWidth - local;
    const members = byRank[r];
    let z = -rankZ[r] / 2;
    for (const b of members) {
      b.row = row;
      b.dir = dir;
      b.center[0] = cx;
      b.center[1] = 0;
      b.center[2] = row * pitch + (z + b.size[2] / 2) * dir;
      z += b.size[2] + zGap;
    }
  }

  // Center the whole thing at the origin (x and z).
  const mid: Vec3 = [rowWidth / 2, 0, ((rows - 1) * pitch) / 2];
  for (const b of boxes) {
    b.center[0] -= mid[0];
    b.center[2] -= mid[2];
  }

  const byName = new Map(boxes.map((b) => [b.name, b]));
  const edges = edgePaths(graph, byName, byRank, big);

  const min: Vec3 = [Infinity, Infinity, Infinity];
  const max: Vec3 = [-Infinity, -Infinity, -Infinity];
  const grow = (p: Vec3) => {
    for (let i = 0; i < 3; i++) {
      if (p[i] < min[i]) min[i] = p[i];
      if (p[i] > max[i]) max[i] = p[i];
    }
  };
  for (const b of boxes) {
    grow([b.center[0] - b.size[0] / 2, b.center[1] - b.size[1] / 2, b.center[2] - b.size[2] / 2]);
    grow([b.center[0] + b.size[0] / 2, b.center[1] + b.size[1] / 2, b.center[2] + b.size[2] / 2]);
  }
  for (const e of edges) for (const p of e.points) grow(p);
  if (!boxes.length) {
    min.fill(-1);
    max.fill(1);
  }
  return { boxes, byName, edges, min, max, lod, rows };
}

function edgePaths(graph: GraphInfo, byName: Map<string, LayerBox>, byRank: LayerBox[][], big: boolean): EdgePath[] {
  const out: EdgePath[] = [];
  for (const [from, to] of graph.edges ?? []) {
    const a = byName.get(from);
    const b = byName.get(to);
    if (!a || !b) continue;
    const start: Vec3 = [a.center[0] + (a.dir * a.size[0]) / 2, a.center[1], a.center[2]];
    const end: Vec3 = [b.center[0] - (b.dir * b.size[0]) / 2, b.center[1], b.center[2]];
    const skip = b.rank - a.rank > 1 || a.row !== b.row;
    if (!skip) {
      out.push({ from, to, points: [start, end] });
      continue;
    }
    // Arc over the layers in between, so a residual edge does not cut through them.
    let top = Math.max(a.center[1] + a.size[1] / 2, b.center[1] + b.size[1] / 2);
    for (let r = a.rank + 1; r < b.rank; r++) {
      for (const m of byRank[r] ?? []) top = Math.max(top, m.center[1] + m.size[1] / 2);
    }
    const lift = top + (big ? 1.2 : 2) - Math.max(start[1], end[1]);
    const pts: Vec3[] = [];
    const n = 12;
    for (let i = 0; i <= n; i++) {
      const t = i / n;
      // a rounded-rectangle-ish profile: rises quickly, flat on top
      const h = Math.min(1, 4 * t * (1 - t) * 1.6);
      pts.push([
        start[0] + (end[0] - start[0]) * t,
        start[1] + (end[1] - start[1]) * t + lift * h,
        start[2] + (end[2] - start[2]) * t,
      ]);
    }
    out.push({ from, to, points: pts });
  }
  return out;
}
