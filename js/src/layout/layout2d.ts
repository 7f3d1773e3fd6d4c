// Pure 2D layout (no DOM): a layered, left-to-right drawing of the graph (Sugiyama style).
//  1. displayGraph: which layers are drawn as neuron columns (dense layers and the layers whose
//     neurons feed them, as graph.neuron_source says) and which pass-through layers
//     (ReLU, Dropout, Flatten ...) fold into such a column as small "chips".
//  2. ranks from rankLayers (longest path), one column per rank.
//  3. edges spanning several ranks get a dummy node per rank they cross, so they are routed
//     around nodes, never through them.
//  4. order within each rank: barycenter sweeps down and up, keeping the order with the fewest
//     crossings.
//  5. y: nodes pulled towards their neighbours (least squares, order and spacing kept: isotonic
//     regression), so chains are straight and merges sit between their inputs.
//  6. routes: polylines whose odd segments are cubic curves inside the gaps between columns.
import { rankLayers, echoOutputs, hostEdges } from "./common";
import type { GraphInfo, LayerInfo } from "../data/types";
import { gridLayout, tileOrigin, type GridLayout } from "../util/grid";
import { kindInfo } from "../data/kinds";

export interface Pt {
  x: number;
  y: number;
}


export interface DisplayNode {
  /** The host layer's name (also the node id). */
  id: string;
  layer: LayerInfo;
  /** Neuron count for a neuron column; 0 for a box. */
  neurons: number;
  /** Pass-through layers folded into this neuron column, in graph order. */
  attached: string[];
}

export interface DisplayGraph {
  nodes: DisplayNode[];
  /** Edges between display nodes (deduplicated, no self loops). */
  edges: [string, string][];
  /** Every layer name -> the display node that shows it (itself, or its column). */
  hostOf: Map<string, string>;
  /** Dense layer -> the column whose neurons feed it (only where both are columns). */
  neuronSource: Map<string, string>;
}

/** Number of elements of a per-sample shape; null when a dimension is unknown. */
export function numel(shape: ArrayLike<number | null> | null | undefined): number | null {
  if (!shape) return null;
  let n = 1;
  for (let i = 0; i < shape.length; i++) {
    const s = shape[i];
    if (s === null || s === undefined || !Number.isFinite(s)) return null;
    n *= s;
  }
  return n;
}

function neuronCount(layer: LayerInfo, asDense: boolean): number {
  if (asDense) {
    const w = layer.param_shapes?.weight;
    const n = layer.units ?? (w && w.length ? w[0] : null);
    if (n && n > 0) return n;
  }
  const n = numel(layer.output_shape) ?? layer.units;
  return n && n > 0 ? n : 0;
}

/**
 * The graph as drawn in 2D. With `neurons` (default true) dense layers with a neuron source become
 * neuron columns, and pass-through layers right after a column with the same element count fold
 * into it. Layer order (topological) is kept.
 */
export function displayGraph(graph: GraphInfo, opts: { neurons?: boolean } = {}): DisplayGraph {
  const useNeurons = opts.neurons ?? true;
  const byName = new Map(graph.layers.map((l) => [l.name, l]));
  const columns = new Map<string, number>();
  const neuronSource = new Map<string, string>();
  if (useNeurons) {
    for (const [dense, src] of Object.entries(graph.neuron_source ?? {})) {
      const d = byName.get(dense);
      const s = byName.get(src);
      if (!d || !s || d === s) continue;
      const nd = neuronCount(d, true);
      const ns = columns.get(src) ?? neuronCount(s, s.kind === "dense");
      if (!nd || !ns) continue;
      columns.set(dense, nd);
      if (!columns.has(src)) columns.set(src, ns);
      neuronSource.set(dense, src);
    }
  }
  const preds = new Map<string, string[]>();
  for (const [a, b] of graph.edges) {
    if (!byName.has(a) || !byName.has(b)) continue;
    const list = preds.get(b);
    if (list) list.push(a);
    else preds.set(b, [a]);
  }
  const echoes = echoOutputs(graph);
  const hostOf = new Map<string, string>();
  const nodes: DisplayNode[] = [];
  const nodeOf = new Map<string, DisplayNode>();
  for (const layer of graph.layers) {
    const n = columns.get(layer.name);
    if (n) {
      const node: DisplayNode = { id: layer.name, layer, neurons: n, attached: [] };
      nodes.push(node);
      nodeOf.set(layer.name, node);
      hostOf.set(layer.name, layer.name);
      continue;
    }
    const ps = preds.get(layer.name) ?? [];
    if ((kindInfo(graph, layer.kind).pass_through || echoes.has(layer.name)) && ps.length === 1) {
      const host = hostOf.get(ps[0]);
      const hostNode = host !== undefined ? nodeOf.get(host) : undefined;
      if (hostNode && hostNode.neurons > 0) {
        const size = numel(layer.output_shape);
        if (size === null || size === hostNode.neurons) {
          hostNode.attached.push(layer.name);
          hostOf.set(layer.name, hostNode.id);
          continue;
        }
      }
    }
    const node: DisplayNode = { id: layer.name, layer, neurons: 0, attached: [] };
    nodes.push(node);
    nodeOf.set(layer.name, node);
    hostOf.set(layer.name, layer.name);
  }
  const edges = hostEdges(graph.edges, hostOf);
  return { nodes, edges, hostOf, neuronSource };
}

/** Ranks (columns) of a display graph: longest path from the inputs, via rankLayers. */
export function displayRanks(dg: DisplayGraph, graph?: GraphInfo): Map<string, number> {
  const g = {
    framework: graph?.framework ?? "",
    model_name: graph?.model_name ?? "",
    approximate: false,
    notes: [],
    data_format: graph?.data_format ?? "channels_first",
    layers: dg.nodes.map((n) => n.layer),
    edges: dg.edges,
    neuron_source: {},
    total_params: 0,
    kinds: graph?.kinds ?? {},
  } satisfies GraphInfo;
  return rankLayers(g);
}

/**
 * Indices of the `cap` neurons with the highest score (e.g. sum of |w| of their connections),
 * returned in increasing index order; all of them when there are at most `cap`. Non-finite
 * scores count as lowest; ties go to the lower index.
 */
export function pickNeurons(scores: ArrayLike<number>, cap: number): number[] {
  const n = scores.length;
  const all = Array.from({ length: n }, (_, i) => i);
  if (n <= cap) return all;
  const s = (i: number) => (Number.isFinite(scores[i]) ? scores[i] : -Infinity);
  all.sort((a, b) => s(b) - s(a) || a - b);
  return all.slice(0, Math.max(0, cap)).sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------
// Feature-map tiles inside a layer's box (conv layers, image inputs)

/** A grid of channel tiles in world units (util/grid.ts GridLayout) and what it leaves out. */
export interface MapGrid extends GridLayout {
  /** channels of the layer (tiles shown: `n`, the first ones) */
  channels: number;
  /** channels not shown (the "+N more" note) */
  more: number;
}

export interface MapGridOptions {
  /** most tiles shown (default 16) */
  maxTiles?: number;
  /** most tiles in a row (default 4) */
  maxCols?: number;
  /** the longer side of a tile (default 22) */
  tile?: number;
  /** space between tiles (default 2) */
  gap?: number;
}

/**
 * The tiles of `channels` feature maps of h x w: the first `maxTiles` channels in rows of at most
 * `maxCols` (as few rows as that allows, the columns then spread evenly: 8 tiles -> 4 x 2,
 * 6 -> 3 x 2), each tile with the map's aspect (clamped to 1:4 .. 4:1) and `tile` on its longer
 * side. Tall tiles fit more per row in the same width. Null when there is nothing to show.
 */
export function mapGrid(channels: number, h: number, w: number, opts: MapGridOptions = {}): MapGrid | null {
  const c = Math.floor(channels);
  if (!(c >= 1) || !(h >= 1) || !(w >= 1)) return null;
  const tile = opts.tile ?? 22;
  const gap = opts.gap ?? 2;
  const shown = Math.max(1, Math.min(c, Math.floor(opts.maxTiles ?? 16)));
  const aspect = Math.min(4, Math.max(0.25, w / h));
  const tileW = aspect >= 1 ? tile : tile * aspect;
  const tileH = aspect >= 1 ? tile / aspect : tile;
  const maxCols = Math.max(1, Math.floor(opts.maxCols ?? 4));
  // the width of maxCols square tiles, filled with tiles of this width
  const fit = Math.max(1, Math.floor((maxCols * (tile + gap)) / (tileW + gap) + 1e-9));
  const rows = Math.ceil(shown / fit);
  const cols = Math.ceil(shown / rows);
  return { ...gridLayout(shown, tileH, tileW, cols, gap), channels: c, more: c - shown };
}

/** The tile (channel index) at (x, y) relative to the grid's top left; -1 in a gap or outside. */
export function mapTileAt(g: MapGrid, x: number, y: number): number {
  if (!(x >= 0 && y >= 0 && x <= g.width && y <= g.height)) return -1;
  const col = Math.min(g.cols - 1, Math.floor(x / (g.tileW + g.gap)));
  const row = Math.min(g.rows - 1, Math.floor(y / (g.tileH + g.gap)));
  const i = row * g.cols + col;
  if (i >= g.n) return -1;
  const [tx, ty] = tileOrigin(g, i);
  return x - tx <= g.tileW && y - ty <= g.tileH ? i : -1;
}

// ---------------------------------------------------------------------------------------------
// Layered layout

export interface LNode {
  id: string;
  w: number;
  h: number;
}

export interface LayoutOptions {
  /** Horizontal gap between column r and r+1 (px). Default 56. */
  rankGap?: number | ((rank: number) => number);
  /** Vertical gap between two nodes of a column. Default 20. */
  nodeGap?: number;
  /** Vertical room an edge passing through a column takes. Default 12. */
  dummyGap?: number;
  /** Barycenter half-sweeps (down or up). Default 16. */
  sweeps?: number;
  /** Straightening iterations for y. Default 12. */
  iterations?: number;
  /** Space around the drawing. Default 24. */
  margin?: number;
}

export interface PlacedNode {
  id: string;
  /** center */
  x: number;
  y: number;
  w: number;
  h: number;
  rank: number;
  /** position within its column, top to bottom */
  order: number;
}

/**
 * An edge's path: points p0..pn with segment k (p_k -> p_k+1) a straight line for even k and,
 * for odd k, a cubic curve with horizontal tangents (controls at the horizontal midpoint). The
 * straight parts run inside columns (never into a node), the curves in the gaps between columns.
 */
export interface EdgeRoute {
  from: string;
  to: string;
  points: Pt[];
  /** Per segment: "L" line or "C" curve; absent = alternating L, C, L ... (see above). */
  kinds?: ("L" | "C")[];
}

/** Kind of segment k of a route. */
export function segmentKind(route: EdgeRoute, k: number): "L" | "C" {
  return route.kinds ? route.kinds[k] ?? "L" : k % 2 === 0 ? "L" : "C";
}

export interface Layout2D {
  nodes: Map<string, PlacedNode>;
  routes: EdgeRoute[];
  /** Column extents: left x and width per rank (and top y of its row when wrapped). */
  columns: { x: number; w: number; row?: number }[];
  /** Rows when wrapped (wrapLayout): first rank of each row and the row's vertical extent. */
  rows?: { start: number; top: number; bottom: number }[];
  width: number;
  height: number;
  /** Edge crossings of the final order (between adjacent columns, dummies included). */
  crossings: number;
}

interface Item {
  id: string;
  w: number;
  h: number;
  rank: number;
  dummy: boolean;
  preds: number[];
  succs: number[];
  y: number;
}

/** Lay out nodes left to right by rank. Edges that don't go to a higher rank are not routed. */
export function layoutLayers(
  nodes: LNode[],
  edges: [string, string][],
  rank: Map<string, number>,
  opts: LayoutOptions = {},
): Layout2D {
  const nodeGap = opts.nodeGap ?? 20;
  const dummyGap = opts.dummyGap ?? 12;
  const margin = opts.margin ?? 24;
  const sweeps = opts.sweeps ?? 16;
  const iterations = opts.iterations ?? 12;
  const gapOf = (r: number) => (typeof opts.rankGap === "function" ? opts.rankGap(r) : opts.rankGap ?? 56);

  const items: Item[] = [];
  const index = new Map<string, number>();
  for (const n of nodes) {
    if (index.has(n.id)) continue;
    index.set(n.id, items.length);
    items.push({ id: n.id, w: n.w, h: n.h, rank: Math.max(0, rank.get(n.id) ?? 0), dummy: false, preds: [], succs: [], y: 0 });
  }
  // Chains of items per routed edge (dummies for every rank crossed).
  const chains: { from: string; to: string; chain: number[] }[] = [];
  const seen = new Set<string>();
  for (const [a, b] of edges) {
    const ia = index.get(a);
    const ib = index.get(b);
    if (ia === undefined || ib === undefined) continue;
    const key = `${a}\u0000${b}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const ra = items[ia].rank;
    const rb = items[ib].rank;
    if (rb <= ra) continue;
    const chain = [ia];
    for (let r = ra + 1; r < rb; r++) {
      const d = items.length;
      items.push({ id: `${a}->${b}#${r}`, w: 0, h: 0, rank: r, dummy: true, preds: [], succs: [], y: 0 });
      chain.push(d);
    }
    chain.push(ib);
    for (let k = 0; k + 1 < chain.length; k++) {
      items[chain[k]].succs.push(chain[k + 1]);
      items[chain[k + 1]].preds.push(chain[k]);
    }
    chains.push({ from: a, to: b, chain });
  }

  let maxRank = 0;
  for (const it of items) maxRank = Math.max(maxRank, it.rank);
  let layers: number[][] = Array.from({ length: maxRank + 1 }, () => []);
  for (let i = 0; i < items.length; i++) layers[items[i].rank].push(i);

  // --- ordering: barycenter sweeps, keep the best
  const pos = new Int32Array(items.length);
  const setPos = (ls: number[][]) => {
    for (const l of ls) l.forEach((v, k) => (pos[v] = k));
  };
  setPos(layers);
  const countAll = () => {
    let c = 0;
    for (let r = 0; r < maxRank; r++) c += crossingsBetween(layers[r], items, pos);
    return c;
  };
  let best = layers.map((l) => l.slice());
  let bestC = countAll();
  for (let s = 0; s < sweeps && bestC > 0; s++) {
    const down = s % 2 === 0;
    const rs = down ? range(1, maxRank + 1) : range(maxRank - 1, -1, -1);
    for (const r of rs) {
      const l = layers[r];
      const bary = new Map<number, number>();
      for (const v of l) {
        const nb = down ? items[v].preds : items[v].succs;
        bary.set(v, nb.length ? nb.reduce((acc, u) => acc + pos[u], 0) / nb.length : pos[v]);
      }
      l.sort((a, b) => bary.get(a)! - bary.get(b)! || pos[a] - pos[b]);
      l.forEach((v, k) => (pos[v] = k));
    }
    const c = countAll();
    if (c < bestC) {
      bestC = c;
      best = layers.map((x) => x.slice());
    }
  }
  layers = best;
  setPos(layers);

  // --- x: one column per rank
  const columns: { x: number; w: number }[] = [];
  let x = margin;
  for (let r = 0; r <= maxRank; r++) {
    let w = 0;
    for (const v of layers[r]) if (!items[v].dummy) w = Math.max(w, items[v].w);
    columns.push({ x, w });
    x += w + (r < maxRank ? gapOf(r) : 0);
  }
  const width = x + margin;

  // --- y: pack, then pull towards neighbours keeping order and spacing
  const sep = (a: Item, b: Item) => {
    const g = !a.dummy && !b.dummy ? nodeGap : a.dummy && b.dummy ? dummyGap : Math.max(dummyGap, nodeGap / 2 + 2);
    return (a.h + b.h) / 2 + g;
  };
  for (const l of layers) {
    let y = 0;
    l.forEach((v, k) => {
      if (k > 0) y += sep(items[l[k - 1]], items[v]);
      items[v].y = y;
    });
    const mid = y / 2;
    for (const v of l) items[v].y -= mid;
  }
  const place = (l: number[], desired: number[], weight: number[]) => {
    const off: number[] = [0];
    for (let k = 1; k < l.length; k++) off.push(off[k - 1] + sep(items[l[k - 1]], items[l[k]]));
    const z = desired.map((d, k) => d - off[k]);
    const fit = isotonic(z, weight);
    l.forEach((v, k) => (items[v].y = fit[k] + off[k]));
  };
  for (let it = 0; it < iterations; it++) {
    const mode = it % 3; // 0: from preds (left to right), 1: from succs (right to left), 2: both
    const rs = mode === 1 ? range(maxRank, -1, -1) : range(0, maxRank + 1);
    for (const r of rs) {
      const l = layers[r];
      const desired: number[] = [];
      const weight: number[] = [];
      for (const v of l) {
        const item = items[v];
        const nb = mode === 0 ? item.preds : mode === 1 ? item.succs : [...item.preds, ...item.succs];
        if (nb.length) {
          desired.push(nb.reduce((acc, u) => acc + items[u].y, 0) / nb.length);
          weight.push(item.dummy ? 2 : 1); // long edges straight
        } else {
          desired.push(item.y);
          weight.push(0.25);
        }
      }
      place(l, desired, weight);
    }
  }
  let top = Infinity;
  let bottom = -Infinity;
  for (const it of items) {
    top = Math.min(top, it.y - it.h / 2 - (it.dummy ? dummyGap / 2 : 0));
    bottom = Math.max(bottom, it.y + it.h / 2 + (it.dummy ? dummyGap / 2 : 0));
  }
  if (!Number.isFinite(top)) {
    top = 0;
    bottom = 0;
  }
  const shift = margin - top;
  for (const it of items) it.y += shift;
  const height = bottom - top + 2 * margin;

  const placed = new Map<string, PlacedNode>();
  for (let r = 0; r <= maxRank; r++) {
    layers[r].forEach((v, k) => {
      const it = items[v];
      if (it.dummy) return;
      placed.set(it.id, { id: it.id, x: columns[r].x + columns[r].w / 2, y: it.y, w: it.w, h: it.h, rank: r, order: k });
    });
  }

  // --- routes, with ports spread over the node's side (ordered by where the edge comes from)
  const outPorts = new Map<number, number[]>(); // node item -> chain indices leaving it
  const inPorts = new Map<number, number[]>();
  chains.forEach((c, ci) => {
    push(outPorts, c.chain[0], ci);
    push(inPorts, c.chain[c.chain.length - 1], ci);
  });
  const portY = new Map<string, number>(); // `${ci}:out` / `${ci}:in`
  const spread = (node: number, list: number[], key: "out" | "in") => {
    const it = items[node];
    const other = (ci: number) => {
      const ch = chains[ci].chain;
      return items[key === "out" ? ch[1] : ch[ch.length - 2]].y;
    };
    list.sort((a, b) => other(a) - other(b));
    const k = list.length;
    const step = k > 1 ? Math.min(10, (it.h * 0.6) / (k - 1)) : 0;
    list.forEach((ci, j) => portY.set(`${ci}:${key}`, it.y + (j - (k - 1) / 2) * step));
  };
  for (const [n, list] of outPorts) spread(n, list, "out");
  for (const [n, list] of inPorts) spread(n, list, "in");
  const routes: EdgeRoute[] = chains.map((c, ci) => {
    const a = items[c.chain[0]];
    const b = items[c.chain[c.chain.length - 1]];
    const ya = portY.get(`${ci}:out`) ?? a.y;
    const yb = portY.get(`${ci}:in`) ?? b.y;
    const colA = columns[a.rank];
    const colB = columns[b.rank];
    const points: Pt[] = [
      { x: colA.x + colA.w / 2 + a.w / 2, y: ya },
      { x: colA.x + colA.w, y: ya },
    ];
    for (let k = 1; k + 1 < c.chain.length; k++) {
      const d = items[c.chain[k]];
      const col = columns[d.rank];
      points.push({ x: col.x, y: d.y }, { x: col.x + col.w, y: d.y });
    }
    points.push({ x: colB.x, y: yb }, { x: colB.x + colB.w / 2 - b.w / 2, y: yb });
    return { from: c.from, to: c.to, points };
  });

  return { nodes: placed, routes, columns, width, height, crossings: bestC };
}

/** Points along a route (lines sampled every ~4 px, curves with `steps` points), for hit tests and tests. */
export function sampleRoute(route: EdgeRoute, steps = 16): Pt[] {
  const p = route.points;
  const out: Pt[] = p.length ? [p[0]] : [];
  for (let k = 0; k + 1 < p.length; k++) {
    const a = p[k];
    const b = p[k + 1];
    if (segmentKind(route, k) === "L") {
      const n = Math.max(1, Math.min(200, Math.ceil(Math.hypot(b.x - a.x, b.y - a.y) / 4)));
      for (let s = 1; s <= n; s++) out.push({ x: a.x + ((b.x - a.x) * s) / n, y: a.y + ((b.y - a.y) * s) / n });
      continue;
    }
    for (let s = 1; s <= steps; s++) out.push(curvePoint(a, b, s / steps));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Wrapping a long layout into rows (read like text: each row left to right, rows top to bottom)

export interface WrapOptions {
  /** Vertical space between rows, before the room taken by wrapping edges. Default 28. */
  rowGap?: number;
  /** Spacing of parallel wrapping edges. Default 6. */
  lane?: number;
  margin?: number;
}

/**
 * The layout cut into rows at the given ranks (`breaks`: the first rank of every row after the
 * first, increasing). Nodes keep their order and spacing within a row; an edge that continues in
 * the next row leaves its row on the right, runs back through the gap between the rows in its own
 * lane and enters the next row from the left, so it never crosses a node.
 */
export function wrapLayout(base: Layout2D, breaks: number[], opts: WrapOptions = {}): Layout2D {
  const rowGap = opts.rowGap ?? 28;
  const lane = opts.lane ?? 6;
  const margin = opts.margin ?? 24;
  const nr = base.columns.length;
  const starts = [0, ...breaks.filter((b, i, a) => b > 0 && b < nr && (i === 0 || b > a[i - 1]))];
  if (starts.length === 1) return base;
  const rowOfRank = new Int32Array(nr);
  starts.forEach((s, i) => {
    const end = i + 1 < starts.length ? starts[i + 1] : nr;
    for (let r = s; r < end; r++) rowOfRank[r] = i;
  });
  const nRows = starts.length;
  const xStart = starts.map((s) => base.columns[s].x);
  const xEnd = starts.map((_, i) => {
    const last = (i + 1 < nRows ? starts[i + 1] : nr) - 1;
    return base.columns[last].x + base.columns[last].w;
  });
  const rowOfX = (x: number): number => {
    for (let i = nRows - 1; i >= 0; i--) if (x >= xStart[i] - 1e-6) return i;
    return 0;
  };
  // vertical extent of every row: its nodes and the route points inside it
  const top = new Array(nRows).fill(Infinity);
  const bottom = new Array(nRows).fill(-Infinity);
  for (const n of base.nodes.values()) {
    const i = rowOfRank[n.rank];
    top[i] = Math.min(top[i], n.y - n.h / 2);
    bottom[i] = Math.max(bottom[i], n.y + n.h / 2);
  }
  for (const r of base.routes) {
    for (const p of r.points) {
      const i = rowOfX(p.x);
      top[i] = Math.min(top[i], p.y - 6);
      bottom[i] = Math.max(bottom[i], p.y + 6);
    }
  }
  // edges crossing each break, in route order: their lanes
  const crossing: number[] = new Array(nRows).fill(0);
  const laneOf = new Map<string, number>(); // `${route}:${segment}`
  base.routes.forEach((r, ri) => {
    for (let k = 0; k + 1 < r.points.length; k++) {
      if (segmentKind(r, k) !== "C") continue;
      const a = rowOfX(r.points[k].x);
      const b = rowOfX(r.points[k + 1].x);
      if (a !== b) laneOf.set(`${ri}:${k}`, crossing[a]++);
    }
  });
  const maxLanes = Math.max(0, ...crossing);
  const left = margin + (maxLanes ? 14 + maxLanes * lane : 0);
  const dx = xStart.map((x) => left - x);
  const dy: number[] = [];
  let y = margin;
  for (let i = 0; i < nRows; i++) {
    if (!Number.isFinite(top[i])) {
      top[i] = 0;
      bottom[i] = 0;
    }
    dy.push(y - top[i]);
    y += bottom[i] - top[i] + rowGap + crossing[i] * lane;
  }
  const height = y - rowGap - (crossing[nRows - 1] ?? 0) * lane + margin;
  let width = 0;
  for (let i = 0; i < nRows; i++) width = Math.max(width, xEnd[i] + dx[i] + margin);
  width += maxLanes ? 12 + maxLanes * lane : 0;

  const nodes = new Map<string, PlacedNode>();
  for (const n of base.nodes.values()) {
    const i = rowOfRank[n.rank];
    nodes.set(n.id, { ...n, x: n.x + dx[i], y: n.y + dy[i] });
  }
  const move = (p: Pt, i: number): Pt => ({ x: p.x + dx[i], y: p.y + dy[i] });
  const routes: EdgeRoute[] = base.routes.map((r, ri) => {
    const pts: Pt[] = [];
    const kinds: ("L" | "C")[] = [];
    if (!r.points.length) return { ...r };
    pts.push(move(r.points[0], rowOfX(r.points[0].x)));
    for (let k = 0; k + 1 < r.points.length; k++) {
      const kind = segmentKind(r, k);
      const b = r.points[k + 1];
      const key = `${ri}:${k}`;
      const ln = laneOf.get(key);
      if (ln === undefined) {
        pts.push(move(b, rowOfX(b.x)));
        kinds.push(kind);
        continue;
      }
      const a = r.points[k];
      const ia = rowOfX(a.x);
      const ib = rowOfX(b.x);
      const a2 = move(a, ia);
      const b2 = move(b, ib);
      const right = xEnd[ia] + dx[ia] + 12 + ln * lane;
      const chY = bottom[ia] + dy[ia] + rowGap / 2 + ln * lane;
      const leftX = left - 14 - ln * lane;
      pts.push({ x: right, y: a2.y }, { x: right, y: chY }, { x: leftX, y: chY }, { x: leftX, y: b2.y }, b2);
      kinds.push("L", "L", "L", "L", "L");
    }
    return { from: r.from, to: r.to, points: pts, kinds };
  });
  const columns = base.columns.map((c, r) => ({ x: c.x + dx[rowOfRank[r]], w: c.w, row: rowOfRank[r] }));
  const rows = starts.map((s, i) => ({ start: s, top: top[i] + dy[i], bottom: bottom[i] + dy[i] }));
  return { nodes, routes, columns, rows, width, height, crossings: base.crossings };
}

/**
 * Cuts so that every row is at most `maxWidth` wide (greedy, in rank order; a single column wider
 * than that gets a row of its own). Only before ranks for which `canBreak(rank)` holds.
 */
export function breaksForWidth(base: Layout2D, maxWidth: number, canBreak: (rank: number) => boolean = () => true): number[] {
  const breaks: number[] = [];
  const cols = base.columns;
  if (!cols.length) return breaks;
  let rowStart = cols[0].x;
  for (let r = 1; r < cols.length; r++) {
    if (cols[r].x + cols[r].w - rowStart > maxWidth && canBreak(r)) {
      breaks.push(r);
      rowStart = cols[r].x;
    }
  }
  return breaks;
}

/**
 * Where to cut a layout into rows so that it fits a `viewW` x `viewH` box at the largest zoom
 * (up to `maxZoom`); [] when one row is best (or wrapping gains less than 20%). Cuts only before
 * ranks for which `canBreak(rank)` holds.
 */
export function chooseBreaks(
  base: Layout2D,
  viewW: number,
  viewH: number,
  opts: WrapOptions & { maxZoom?: number; canBreak?: (rank: number) => boolean; maxRows?: number } = {},
): number[] {
  const nr = base.columns.length;
  if (nr < 3 || !(viewW > 0) || !(viewH > 0)) return [];
  const maxZoom = opts.maxZoom ?? 1;
  const can = opts.canBreak ?? (() => true);
  const zoomOf = (l: Layout2D) => Math.min(viewW / l.width, viewH / l.height, maxZoom);
  let best: number[] = [];
  const z1 = zoomOf(base);
  let bestZ = z1;
  const first = base.columns[0].x;
  const total = base.columns[nr - 1].x + base.columns[nr - 1].w - first;
  const maxRows = Math.min(opts.maxRows ?? 24, nr);
  for (let k = 2; k <= maxRows; k++) {
    const breaks = breaksForWidth(base, (total / k) * 1.02, can);
    if (!breaks.length) continue;
    const z = zoomOf(wrapLayout(base, breaks, opts));
    if (z > bestZ * 1.03) {
      bestZ = z;
      best = breaks;
    }
  }
  return bestZ >= z1 * 1.2 ? best : [];
}

/** Point at t on the curve segment a -> b (horizontal tangents, controls at the mid x). */
export function curvePoint(a: Pt, b: Pt, t: number): Pt {
  const mx = (a.x + b.x) / 2;
  const u = 1 - t;
  const x = u * u * u * a.x + 3 * u * u * t * mx + 3 * u * t * t * mx + t * t * t * b.x;
  const y = u * u * u * a.y + 3 * u * u * t * a.y + 3 * u * t * t * b.y + t * t * t * b.y;
  return { x, y };
}

/** Crossings between the edges leaving column `l` (to the next column). */
function crossingsBetween(l: number[], items: Item[], pos: Int32Array): number {
  const pairs: [number, number][] = [];
  for (const u of l) for (const v of items[u].succs) pairs.push([pos[u], pos[v]]);
  pairs.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let c = 0;
  for (let i = 0; i < pairs.length; i++) {
    for (let j = i + 1; j < pairs.length; j++) {
      if (pairs[j][0] > pairs[i][0] && pairs[j][1] < pairs[i][1]) c++;
    }
  }
  return c;
}

/** Weighted least-squares nondecreasing fit (pool adjacent violators). */
export function isotonic(z: number[], w: number[]): number[] {
  const vals: number[] = [];
  const wts: number[] = [];
  const lens: number[] = [];
  for (let i = 0; i < z.length; i++) {
    vals.push(z[i]);
    wts.push(w[i] > 0 ? w[i] : 1e-6);
    lens.push(1);
    while (vals.length > 1 && vals[vals.length - 2] > vals[vals.length - 1]) {
      const v2 = vals.pop()!;
      const w2 = wts.pop()!;
      const l2 = lens.pop()!;
      const k = vals.length - 1;
      const wt = wts[k] + w2;
      vals[k] = (vals[k] * wts[k] + v2 * w2) / wt;
      wts[k] = wt;
      lens[k] += l2;
    }
  }
  const out: number[] = [];
  for (let b = 0; b < vals.length; b++) for (let j = 0; j < lens[b]; j++) out.push(vals[b]);
  return out;
}

function range(a: number, b: number, step = 1): number[] {
  const out: number[] = [];
  if (step > 0) for (let i = a; i < b; i += step) out.push(i);
  else for (let i = a; i > b; i += step) out.push(i);
  return out;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}
