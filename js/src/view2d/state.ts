// The 2D view's shared state record (view2d.ts owns it; colors.ts and hit.ts take it).
import type { Store } from "../data/store";
import type { GraphInfo } from "../data/types";
import type { ViewContext } from "../data/view";
import type { DisplayGraph, EdgeRoute, Layout2D } from "../layout/layout2d";
import type { Hierarchy } from "../layout/hierarchy";
import type { Bucket, ConnSet, Hit, Ink, NodeGeom } from "./geometry";

/** The 2D view's mutable state, shared by its parts (colors.ts, hit.ts and the view). */
/** The node drawing a layer (of the store's graph): its block, or the column it folds into. */
export function hostOf(vs: View2DState, layer: string): string {
  const d = vs.hier?.hostOf.get(layer) ?? layer;
  return vs.dg?.hostOf.get(d) ?? d;
}

export interface View2DState {
  ctx: ViewContext;
  store: Store;
  canvas: HTMLCanvasElement;
  g2d: CanvasRenderingContext2D | null;
  /** the keyboard-reachable list of layers (one button each) */
  list: HTMLElement;
  cssW: number;
  cssH: number;
  dpr: number;
  zoom: number;
  tx: number;
  ty: number;
  fitted: boolean;
  /** the display graph laid out (hier.graph: the store's graph cut at the open modules) */
  graphRef: GraphInfo | null;
  hier: Hierarchy | null;
  cap: number;
  neuronGap: number;
  wideGaps: Set<number>;
  layoutRanks: Map<string, number>;
  dg: DisplayGraph | null;
  layout: Layout2D | null;
  baseLayout: Layout2D | null;
  breaks: number[];
  /** After "fit": rows chosen to show the whole graph, however small. */
  overview: boolean;
  nodes: NodeGeom[];
  nodeById: Map<string, NodeGeom>;
  edgePaths: { route: EdgeRoute; path: Path2D; arrow: Path2D }[];
  conns: ConnSet[];
  buckets: Bucket[];
  drawn: number;
  total: number;
  hover: Hit | null;
  raf: number;
  destroyed: boolean;
  dirtyColors: boolean;
  selectingHere: boolean;
  /** per map source: finite min / max and the 99th percentile of |v| over every epoch */
  mapRanges: Map<string, { lo: number; hi: number; abs: number }>;
  /** the colors of the host's theme (geometry.inkOf) */
  ink: Ink;
  /** which layers show which maps (the layout is rebuilt when it changes, e.g. first maps arrive) */
  mapsKey: string;
}
