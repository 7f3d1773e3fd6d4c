// Per-kind properties from the graph's `kinds` table (LAYER_KINDS in graph.py: the one list of kinds).

import type { GraphInfo, KindInfo } from "./types";

/** What a kind missing from the table (a graph from elsewhere) is drawn as: a plain grey block. */
const UNKNOWN: KindInfo = {
  color: "#a0a0a0", pass_through: false, neurons: false, feeds_dense: false, label_tier: 3, block_depth: 2, units_label: "units",
};

/** The properties of `kind`: its entry of `graph.kinds`, else the "other" entry, else a grey block. */
export function kindInfo(graph: Pick<GraphInfo, "kinds">, kind: string): KindInfo {
  const kinds = graph.kinds ?? {};
  return Object.prototype.hasOwnProperty.call(kinds, kind) ? kinds[kind] : kinds.other ?? UNKNOWN;
}

/** The color ("#rrggbb") of a kind's blocks, boxes and chips. */
export function kindColor(graph: Pick<GraphInfo, "kinds">, kind: string): string {
  return kindInfo(graph, kind).color;
}
