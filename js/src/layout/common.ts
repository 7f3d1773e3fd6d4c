// What the 2D and 3D layouts share: ranks, the layers that echo the output, and which bias a
// neuron of a per-token layer shows. Pure: no DOM, no three.js (unit-tested in node).
import type { GraphInfo, LayerInfo, Shape } from "../data/types";

/**
 * Longest-path layering: rank[name] = 1 + max(rank of predecessors), inputs at 0.
 * Layers are in topological order (graph.py guarantees it), so one pass suffices; an edge that
 * points backwards (never expected) is ignored rather than looping.
 */
export function rankLayers(graph: GraphInfo): Map<string, number> {
  const order = new Map(graph.layers.map((l, i) => [l.name, i]));
  const preds = new Map<string, string[]>();
  for (const [a, b] of graph.edges) {
    if ((order.get(a) ?? 0) >= (order.get(b) ?? 0)) continue;
    const list = preds.get(b);
    if (list) list.push(a);
    else preds.set(b, [a]);
  }
  const rank = new Map<string, number>();
  for (const layer of graph.layers) {
    let r = 0;
    for (const p of preds.get(layer.name) ?? []) r = Math.max(r, (rank.get(p) ?? 0) + 1);
    rank.set(layer.name, r);
  }
  return rank;
}

/**
 * Which per-channel value (a bias of `len` entries) neuron k of a layer of n neurons shows: conv
 * outputs hold C x H x W (channels first: k / (H*W)) or H x W x C (channels last: k % C); a dense
 * layer applied per token holds tokens x features (k % features). Null when the lengths don't tile.
 */
export function channelOf(layer: LayerInfo, n: number, len: number, format?: GraphInfo["data_format"]): ((k: number) => number) | null {
  if (len <= 0 || n <= len || n % len !== 0) return null;
  const per = n / len;
  if (layer.kind === "conv" && format !== "channels_last") return (k) => Math.floor(k / per);
  return (k) => k % len;
}

/**
 * "output" layers that merely repeat their single predecessor (same element count): the model's
 * return value, not a layer of its own. Names of such layers.
 */
export function echoOutputs(graph: GraphInfo): Set<string> {
  const preds = new Map<string, string[]>();
  for (const [a, b] of graph.edges ?? []) {
    const l = preds.get(b);
    if (l) l.push(a);
    else preds.set(b, [a]);
  }
  const byName = new Map((graph.layers ?? []).map((l) => [l.name, l]));
  const out = new Set<string>();
  for (const l of graph.layers ?? []) {
    if (l.kind !== "output") continue;
    const ps = preds.get(l.name) ?? [];
    if (ps.length !== 1) continue;
    const p = byName.get(ps[0]);
    if (!p) continue;
    const a = knownNumel(l.output_shape);
    const b = knownNumel(p.output_shape) || (p.units ?? 0);
    if (a === 0 || b === 0 || a === b) out.add(l.name);
  }
  return out;
}

/** Product of the known dims of a shape (unknown dims count as 1; layout2d's `numel` says null); 0 for an empty shape. */
export function knownNumel(shape: Shape | null | undefined): number {
  if (!shape || shape.length === 0) return 0;
  let n = 1;
  for (const s of shape) if (typeof s === "number" && s > 0) n *= s;
  return n;
}

/** The edges between the nodes that host each layer (`hostOf`: layer name -> node id): one per
 * pair of nodes, in first-seen order, none from a node to itself, none touching a layer with no host. */
export function hostEdges(edges: [string, string][], hostOf: Map<string, string>): [string, string][] {
  const seen = new Set<string>();
  const out: [string, string][] = [];
  for (const [a, b] of edges) {
    const ha = hostOf.get(a);
    const hb = hostOf.get(b);
    if (ha === undefined || hb === undefined || ha === hb) continue;
    const key = `${ha}\u0000${hb}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push([ha, hb]);
  }
  return out;
}
