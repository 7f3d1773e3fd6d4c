// The 2D view's sizes, fonts and geometry records (columns, boxes, connection sets, hits), and its
// pure helpers: text fitting, paths, which neurons a column shows, hit distances.
import { parseColor, type Theme } from "../styles/theme";
import { segmentKind, type DisplayNode, type EdgeRoute, type MapGrid } from "../layout/layout2d";
import { type Badge } from "../data/badges";
import { type Img } from "../color/images";
import type { Store } from "../data/store";
import type { LayerInfo } from "../data/types";
import { type GridLayout } from "../util/grid";

export const FONT = `system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif`;
export const F_NAME = `600 12px ${FONT}`;
export const F_SUB = `11px ${FONT}`;
export const F_SMALL = `10px ${FONT}`;
export const F_CHIP = `10.5px ${FONT}`;
export const F_BADGE = `600 10px ${FONT}`;
export const BADGE_H = 14;

/** Neurons shown per column at most (the strongest-connected ones); fewer in a short view. */
export const NEURON_CAP = 32;
export const NEURON_MIN = 10;
/** How many neurons a column shows in a view `height` px tall: a column fits at zoom 1. */
export function neuronCap(height: number): number {
  if (!(height > 0)) return NEURON_CAP;
  return Math.max(NEURON_MIN, Math.min(NEURON_CAP, Math.floor((height - 150) / 15)));
}
/** Neurons a column of `total` shows: all when only a few would be hidden. */
export function shownCount(total: number, cap: number): number {
  return total <= Math.min(NEURON_CAP, cap + 6) ? total : Math.min(total, cap);
}
/** Graphs with more layers than this are drawn with boxes only (as the 3D view does). */
export const MAX_LAYERS_FOR_NEURONS = 60;
export const R = 5.5; // neuron radius
export const PITCH = 15; // neuron spacing
export const BODY_W = 2 * R + 14; // width of a neuron column's body
export const HEADER = 34; // column header (name + op)
export const THUMB = 56; // the probe image above an image-shaped input column
export const CHIP_H = 17;
export const CHIP_GAP = 4;
export const BOX_H = 48;
export const STRIP_H = 5;
export const STRIP_CELLS = 48;
export const MAP_TOP = 40; // a box's tile grid starts below its name and op
export const MAP_NOTE = 14; // room for the "+16 more" line under a tile grid
export const MAP_TILE_PX = 64; // an atlas tile's side at most (bigger maps are subsampled)
export const INPUT_TILE = 44; // the probe image's tile in an image input's box
export const BIG_GRAPH_TILES = 4; // tiles per layer in graphs drawn with boxes only
export const GAP_NEURONS = 150; // gap between two neuron columns joined by connections
export const GAP = 40;
/** Below this zoom a whole-graph fit is unreadable: show the start of the graph at READABLE_ZOOM. */
export const MIN_FIT_ZOOM = 0.4;
export const READABLE_ZOOM = 0.9;

/** The 2D view's colors, from the host's theme (inkOf). */
export interface Ink {
  dark: boolean;
  bg: string;
  text: string;
  subtext: string;
  edge: string;
  edgeHi: string;
  select: string;
  /** the halo around a selected node */
  selectHalo: string;
  /** strong marks: the hovered connection, a hovered neuron's ring */
  strong: string;
  /** a neuron's ring */
  ring: string;
  /** connections of a layer without values, thumbnails' frames */
  noneLine: string;
  /** halos behind text, notes over tiles */
  halo: string;
  /** what kind colors are tinted toward for fills: white on light, the background on dark */
  paper: [number, number, number];
}

/** The 2D view's colors for a theme. */
export function inkOf(t: Theme): Ink {
  const bg = parseColor(t.bg) ?? [255, 255, 255, 1];
  return {
    dark: t.dark,
    bg: t.bg,
    text: t.fg,
    subtext: t.muted,
    edge: t.edge,
    edgeHi: t.edgeHi,
    select: t.select,
    selectHalo: t.dark ? "rgba(124,176,255,0.4)" : "rgba(29,78,216,0.35)",
    strong: t.ink,
    ring: t.dark ? "#9aa3ae" : "#56606e",
    noneLine: t.dark ? "#4a5261" : "#c3c9d1",
    halo: t.overlay,
    paper: t.dark ? [bg[0], bg[1], bg[2]] : [255, 255, 255],
  };
}

export interface Chip {
  layer: string;
  x: number;
  y: number;
  w: number;
  h: number;
  label: string;
  full: string;
}

export interface Column {
  header: number; // height above the neurons (name, op, and the probe image of an input column)
  /** an input column that reads as an image (h x w pixels): the probe sample is drawn above it */
  image: { h: number; w: number; canvas: HTMLCanvasElement | null; key: string } | null;
  total: number;
  shown: number[]; // neuron indices, increasing
  cx: number;
  ys: number[]; // center y per shown neuron
  bodyTop: number;
  bodyBottom: number;
  moreY: number | null; // y of the "32 of 784" note
  chips: Chip[];
  fills: string[]; // per shown neuron, for the current epoch / mode
}

/**
 * A layer's feature maps for the probe sample as a grid of channel tiles (a conv's box or neuron
 * column, an image input's box). The tiles are drawn (drawImage) from an atlas canvas holding
 * the same grid at the maps' pixel size, rewritten only when the maps shown change.
 */
export interface MapTiles {
  source: string; // whose maps: the conv's own, or those of the activation right after it
  channels: number;
  mh: number;
  mw: number;
  input: boolean; // the probe image itself: ink on paper
  rgb: boolean; // an RGB input: one color tile
  grid: MapGrid; // world units
  gx: number; // the grid's top left (world)
  gy: number;
  noteY: number; // baseline of the "+N more" line
  atlas: GridLayout; // the same grid in pixels, 1 px gaps
  th: number;
  tw: number;
  canvas: HTMLCanvasElement | null;
  img: Img | null;
  buf: ArrayBufferLike | null; // which maps the atlas holds (buffer + offset)
  off: number;
  showing: boolean; // maps recorded for the current sample (else the tiles show the kind color)
}

export interface NodeGeom {
  id: string;
  layer: LayerInfo;
  display: DisplayNode;
  x: number; // top-left
  y: number;
  w: number;
  h: number;
  name: string; // possibly truncated for drawing
  sub: string;
  column: Column | null;
  strip: string[]; // colors of the box's value strip ([] = none)
  badges: Badge[]; // health flags of the layers this node shows, at the current epoch
  maps: MapTiles | null;
}

/** The drawn connections of one dense layer (between two neuron columns). */
export interface ConnSet {
  layer: string; // the dense layer that owns the weights
  src: string; // the column feeding it
  n: number;
  x1: Float32Array;
  y1: Float32Array;
  x2: Float32Array;
  y2: Float32Array;
  j: Uint32Array; // index into the layer's weight / value arrays
  o: Uint32Array; // output neuron
  i: Uint32Array; // input neuron
  full: number; // connections in the full weight matrix
}

export interface Bucket {
  stroke: string;
  width: number;
  alpha: number;
  rank: number; // draw order (weak first)
  path: Path2D;
}

export interface Hit {
  layer: string;
  neuron?: number;
  channel?: number; // a feature-map tile
  conn?: { set: ConnSet; k: number };
}

let measureCtx: CanvasRenderingContext2D | null = null;
export function measure(text: string, font: string): number {
  if (!measureCtx) measureCtx = document.createElement("canvas").getContext("2d");
  if (!measureCtx) return text.length * 7;
  measureCtx.font = font;
  return measureCtx.measureText(text).width;
}

export function truncate(text: string, font: string, max: number): string {
  if (measure(text, font) <= max) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (measure(text.slice(0, mid) + "…", font) <= max) lo = mid;
    else hi = mid - 1;
  }
  return text.slice(0, lo) + "…";
}

/**
 * A layer name cut to `max` px keeping its most specific part, the last path segment:
 * "encoder.layers.0.fc1" -> "encoder.la…fc1" or "…fc1".
 */
export function fitName(text: string, font: string, max: number): string {
  if (measure(text, font) <= max) return text;
  const cut = Math.max(text.lastIndexOf("."), text.lastIndexOf("/"));
  const tail = cut >= 0 && cut < text.length - 1 ? text.slice(cut + 1) : "";
  if (!tail || measure("…" + tail, font) > max) return truncate(tail || text, font, max);
  let lo = 0;
  let hi = cut;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (measure(text.slice(0, mid) + "…" + tail, font) <= max) lo = mid;
    else hi = mid - 1;
  }
  return text.slice(0, lo) + "…" + tail;
}

/** A name for a small label, or "" when too little of it would be left to be worth showing. */
export function compactLabel(text: string, font: string, max: number): string {
  const t = fitName(text, font, max);
  return t === text || t.replace("…", "").length >= 4 ? t : "";
}

/** `hex` mixed toward `paper` (white by default) by `amount`. */
export function tint(hex: string, amount: number, paper: readonly [number, number, number] = [255, 255, 255]): string {
  const n = parseInt(hex.slice(1), 16);
  const r = (n >> 16) & 255;
  const g = (n >> 8) & 255;
  const b = n & 255;
  const mix = (c: number, p: number) => Math.round(c + (p - c) * amount);
  return `rgb(${mix(r, paper[0])},${mix(g, paper[1])},${mix(b, paper[2])})`;
}

export function roundRectPath(p: CanvasRenderingContext2D | Path2D, x: number, y: number, w: number, h: number, r: number): void {
  const rr = Math.max(0, Math.min(r, w / 2, h / 2));
  p.moveTo(x + rr, y);
  p.arcTo(x + w, y, x + w, y + h, rr);
  p.arcTo(x + w, y + h, x, y + h, rr);
  p.arcTo(x, y + h, x, y, rr);
  p.arcTo(x, y, x + w, y, rr);
  p.closePath();
}

export function routePath(route: EdgeRoute): Path2D {
  const p = new Path2D();
  const pts = route.points;
  if (!pts.length) return p;
  p.moveTo(pts[0].x, pts[0].y);
  for (let k = 0; k + 1 < pts.length; k++) {
    const a = pts[k];
    const b = pts[k + 1];
    if (segmentKind(route, k) === "L") {
      const c = pts[k + 2];
      if (c && segmentKind(route, k + 1) === "L") {
        // round the corner between two lines
        const r = Math.min(8, Math.hypot(b.x - a.x, b.y - a.y) / 2, Math.hypot(c.x - b.x, c.y - b.y) / 2);
        p.arcTo(b.x, b.y, c.x, c.y, r);
      } else p.lineTo(b.x, b.y);
    } else {
      const mx = (a.x + b.x) / 2;
      p.bezierCurveTo(mx, a.y, mx, b.y, b.x, b.y);
    }
  }
  return p;
}

/** Height and width of an input layer that reads as an image: (1|3, H, W), (H, W, 1|3) or a flat
 *  n = s * s (s >= 4, as probe.py's image_shape_for); null otherwise. */
export function imageDims(l: LayerInfo, n: number): { h: number; w: number } | null {
  const s = (l.output_shape ?? []).filter((d): d is number => typeof d === "number");
  const big = s.filter((d) => d > 3);
  if (big.length === 2 && s.length <= 3 && big[0] * big[1] * (s.length === 3 ? s.find((d) => d <= 3) ?? 1 : 1) === n) {
    return { h: big[0], w: big[1] };
  }
  const side = Math.round(Math.sqrt(n));
  return s.length === 1 && side * side === n && side >= 4 ? { h: side, w: side } : null;
}

/** A layer's per-unit activation for one probe sample (channel means for image-shaped layers). */
export function unitActivations(store: Store, layer: string, epoch: number, sample: number): Float32Array | null {
  const a = store.activation(layer, epoch, sample);
  if (!a || a.index) return null;
  if (a.shape.length >= 3) {
    const c = a.shape[0];
    const per = a.values.length / Math.max(1, c);
    const out = new Float32Array(c);
    for (let k = 0; k < c; k++) {
      let s = 0;
      for (let i = k * per; i < (k + 1) * per; i++) s += a.values[i];
      out[k] = s / per;
    }
    return out;
  }
  return a.values;
}


/** Squared distance from a point to a segment (hit testing a connection). */
export function segDist2(px: number, py: number, x1: number, y1: number, x2: number, y2: number): number {
  const dx = x2 - x1;
  const dy = y2 - y1;
  const L = dx * dx + dy * dy;
  let t = L > 0 ? ((px - x1) * dx + (py - y1) * dy) / L : 0;
  t = Math.max(0, Math.min(1, t));
  const ex = x1 + t * dx - px;
  const ey = y1 + t * dy - py;
  return ex * ex + ey * ey;
}
