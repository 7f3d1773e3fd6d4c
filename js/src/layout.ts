// Pure layout functions: graph -> ranks and positions. No DOM, no three.js (unit-tested in node).
import type { GraphInfo } from "./types";

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
