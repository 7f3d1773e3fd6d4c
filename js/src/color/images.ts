// Arrays -> RGBA pixel buffers (pure; no DOM except `putImage`, which takes a canvas).
// Used by the "inside the network" panel: probe images, weight / filter images, feature-map grids,
// decision boundaries and sequence heatmaps. Every function can write into an existing image (at
// an x, y offset) so a redraw while scrubbing allocates nothing.
import { NAN_COLOR, diverging, scales, sequential, type RGB, type ScalePalette } from "./scales";
import { tileOrigin, type GridLayout } from "../util/grid";

/** An RGBA image: `data` holds width * height * 4 bytes, row 0 at the top. */
export interface Img {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

/** A new image filled with one color (default: transparent). */
export function makeImage(width: number, height: number, fill?: RGB, alpha = 255): Img {
  const w = Math.max(0, Math.floor(width));
  const hh = Math.max(0, Math.floor(height));
  const data = new Uint8ClampedArray(w * hh * 4);
  if (fill) fillRect({ width: w, height: hh, data }, 0, 0, w, hh, fill, alpha);
  return { width: w, height: hh, data };
}

/** Fill a rectangle of `img` (clipped) with one color. */
export function fillRect(img: Img, x: number, y: number, w: number, h: number, c: RGB, alpha = 255): void {
  const r = Math.round(c[0] * 255), g = Math.round(c[1] * 255), b = Math.round(c[2] * 255);
  const x0 = Math.max(0, x), y0 = Math.max(0, y);
  const x1 = Math.min(img.width, x + w), y1 = Math.min(img.height, y + h);
  for (let yy = y0; yy < y1; yy++) {
    let p = (yy * img.width + x0) * 4;
    for (let xx = x0; xx < x1; xx++, p += 4) {
      img.data[p] = r; img.data[p + 1] = g; img.data[p + 2] = b; img.data[p + 3] = alpha;
    }
  }
}

function put(img: Img, x: number, y: number, c: RGB): void {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  const p = (y * img.width + x) * 4;
  img.data[p] = Math.round(c[0] * 255);
  img.data[p + 1] = Math.round(c[1] * 255);
  img.data[p + 2] = Math.round(c[2] * 255);
  img.data[p + 3] = 255;
}

/** Where a tile of an image goes inside a bigger image. */
export interface Place {
  img: Img;
  x: number;
  y: number;
}

function target(width: number, height: number, at?: Place): Place {
  return at ?? { img: makeImage(width, height), x: 0, y: 0 };
}

/** Min and max of the finite values (lo = hi = 0 when there are none). */
export function finiteRange(values: ArrayLike<number>, offset = 0, count = values.length - offset): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (let i = offset; i < offset + count; i++) {
    const v = values[i];
    if (Number.isFinite(v)) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return lo <= hi ? [lo, hi] : [0, 0];
}

/** The largest |finite value| (0 when there is none): a symmetric range for diverging colors. */
export function maxAbs(values: ArrayLike<number>, offset = 0, count = values.length - offset): number {
  let m = 0;
  for (let i = offset; i < offset + count; i++) {
    const a = Math.abs(values[i]);
    if (a > m && Number.isFinite(a)) m = a;
  }
  return m;
}

/**
 * A robust symmetric range: the q-quantile of |finite values| over several arrays (at most
 * `cap` values read, evenly strided), so a few outliers don't wash out every image. Falls back
 * to the max when the quantile is 0.
 */
export function quantileAbs(arrays: ArrayLike<number>[], q = 0.99, cap = 50000): number {
  const total = arrays.reduce((n, a) => n + a.length, 0);
  if (!total) return 0;
  const stride = Math.max(1, Math.ceil(total / cap));
  const vals: number[] = [];
  let max = 0;
  let k = 0;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++, k++) {
      const v = Math.abs(a[i]);
      if (!Number.isFinite(v)) continue;
      if (v > max) max = v;
      if (k % stride === 0) vals.push(v);
    }
  }
  if (!vals.length) return 0;
  vals.sort((x, y) => x - y);
  const r = vals[Math.min(vals.length - 1, Math.floor(q * (vals.length - 1)))];
  return r > 0 ? r : max;
}

export interface GrayOptions {
  /** value range mapped to the gray ramp; auto (the finite min..max of the image) when absent */
  lo?: number;
  hi?: number;
  /** dark ink on white (hi = black), as a digit on paper; default false (hi = white) */
  ink?: boolean;
  /** where the image starts in `values` (default 0) */
  offset?: number;
  /** distance between adjacent pixels' values (default 1; C for the first channel of (H, W, C)) */
  step?: number;
}

/**
 * Grayscale image of `h * w` values (row-major, row 0 at the top), auto-ranged unless lo/hi are
 * given. A constant image is mid gray. NaN / Inf -> NAN_COLOR.
 */
export function grayscaleImage(values: ArrayLike<number>, h: number, w: number, opts: GrayOptions = {}, at?: Place): Img {
  const off = opts.offset ?? 0;
  const step = opts.step ?? 1;
  let [lo, hi] = step === 1 ? finiteRange(values, off, h * w) : finiteRange(values, off, h * w * step);
  if (opts.lo !== undefined) lo = opts.lo;
  if (opts.hi !== undefined) hi = opts.hi;
  const t = target(w, h, at);
  const c: RGB = [0, 0, 0];
  const span = hi - lo;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = values[off + (y * w + x) * step];
      if (!Number.isFinite(v)) {
        put(t.img, t.x + x, t.y + y, NAN_COLOR);
        continue;
      }
      let g = span > 0 ? (v - lo) / span : 0.5;
      g = Math.min(1, Math.max(0, g));
      if (opts.ink) g = 1 - g;
      c[0] = c[1] = c[2] = g;
      put(t.img, t.x + x, t.y + y, c);
    }
  }
  return t.img;
}

/**
 * Color image from channels-first values (3, h, w), auto-ranged over all channels together.
 * NaN in any channel -> NAN_COLOR.
 */
export function rgbImage(values: ArrayLike<number>, h: number, w: number, offset = 0, at?: Place): Img {
  const n = h * w;
  const [lo, hi] = finiteRange(values, offset, 3 * n);
  const span = hi - lo;
  const t = target(w, h, at);
  const c: RGB = [0, 0, 0];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = offset + y * w + x;
      const r = values[i], g = values[i + n], b = values[i + 2 * n];
      if (!Number.isFinite(r) || !Number.isFinite(g) || !Number.isFinite(b)) {
        put(t.img, t.x + x, t.y + y, NAN_COLOR);
        continue;
      }
      c[0] = span > 0 ? (r - lo) / span : 0.5;
      c[1] = span > 0 ? (g - lo) / span : 0.5;
      c[2] = span > 0 ? (b - lo) / span : 0.5;
      put(t.img, t.x + x, t.y + y, c);
    }
  }
  return t.img;
}

export interface ScaleOptions {
  /** where the image starts in `values` (default 0) */
  offset?: number;
  /** distance between horizontally adjacent values (default 1); vertical stride is w * step */
  step?: number;
  /** scales.ts's square-root intensity boost (as the graph views use); default false: linear,
   *  so faint values (e.g. initialisation noise) stay faint next to what was learned */
  boost?: boolean;
}

/**
 * The diverging scale of scales.ts (same endpoints and zero grey) with linear intensity:
 * v in [-range, range] -> blue .. grey .. red. Non-finite -> NAN_COLOR.
 */
export function divergingLinear(v: number, range: number, out: RGB = [0, 0, 0], pal: ScalePalette = scales()): RGB {
  if (!Number.isFinite(v)) {
    out[0] = NAN_COLOR[0]; out[1] = NAN_COLOR[1]; out[2] = NAN_COLOR[2];
    return out;
  }
  const r = range > 0 ? range : 1;
  const t = Math.min(1, Math.abs(v) / r);
  const end = v < 0 ? pal.neg : pal.pos;
  const z = pal.zero;
  out[0] = z[0] + (end[0] - z[0]) * t;
  out[1] = z[1] + (end[1] - z[1]) * t;
  out[2] = z[2] + (end[2] - z[2]) * t;
  return out;
}

/**
 * Diverging image of signed values (weights, filters, pre-activations): v in [-range, range]
 * -> blue .. grey .. red. Give the same `range` for every epoch so images compare.
 */
export function divergingImage(values: ArrayLike<number>, h: number, w: number, range: number, opts: ScaleOptions = {}, at?: Place): Img {
  const off = opts.offset ?? 0;
  const step = opts.step ?? 1;
  const color = opts.boost ? diverging : divergingLinear;
  const t = target(w, h, at);
  const c: RGB = [0, 0, 0];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      color(values[off + (y * w + x) * step], range, c);
      put(t.img, t.x + x, t.y + y, c);
    }
  }
  return t.img;
}

/** Sequential image of non-negative values (post-ReLU maps): 0 .. max -> pale .. purple. */
export function sequentialImage(values: ArrayLike<number>, h: number, w: number, max: number, opts: ScaleOptions = {}, at?: Place): Img {
  const off = opts.offset ?? 0;
  const step = opts.step ?? 1;
  const t = target(w, h, at);
  const c: RGB = [0, 0, 0];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      sequential(values[off + (y * w + x) * step], max, c);
      put(t.img, t.x + x, t.y + y, c);
    }
  }
  return t.img;
}

/** Background of grids (the gaps): white. */
export const GRID_BG: RGB = [1, 1, 1];

/**
 * Many small images in one: tile i is drawn by `draw(i, place)` (e.g. a `divergingImage` with
 * `at`). The gaps and unused cells are GRID_BG. Reuses `into` when its size matches.
 */
export function gridImage(g: GridLayout, draw: (i: number, at: Place) => void, into?: Img): Img {
  const img = into && into.width === g.width && into.height === g.height ? into : makeImage(g.width, g.height);
  fillRect(img, 0, 0, img.width, img.height, GRID_BG);
  for (let i = 0; i < g.n; i++) {
    const [x, y] = tileOrigin(g, i);
    draw(i, { img, x, y });
  }
  return img;
}

// --- feature-map tiles (the 2D view's conv boxes) -------------------------------------------

/**
 * One map of h x w values (row-major from `offset`) drawn into th x tw pixels, nearest-sampled
 * (a bigger map is subsampled, a smaller one repeats its values), each value colored by `color`
 * (e.g. scales.ts `diverging` or `sequential` with a fixed range; they give NaN the NaN color).
 */
export function resampledImage(
  values: ArrayLike<number>, h: number, w: number, th: number, tw: number,
  color: (v: number, out: RGB) => RGB, offset = 0, at?: Place,
): Img {
  const t = target(tw, th, at);
  const c: RGB = [0, 0, 0];
  for (let y = 0; y < th; y++) {
    const row = offset + Math.min(h - 1, Math.floor((y * h) / th)) * w;
    for (let x = 0; x < tw; x++) {
      color(values[row + Math.min(w - 1, Math.floor((x * w) / tw))], c);
      put(t.img, t.x + x, t.y + y, c);
    }
  }
  return t.img;
}

/**
 * Dark ink on paper (how the views draw a probe image): lo -> near white (0.97), hi -> near
 * black (0.07), clamped; a flat range (hi <= lo) is paper. Non-finite -> NAN_COLOR.
 */
export function inkGray(v: number, lo: number, hi: number, out: RGB = [0, 0, 0]): RGB {
  if (!Number.isFinite(v)) {
    out[0] = NAN_COLOR[0]; out[1] = NAN_COLOR[1]; out[2] = NAN_COLOR[2];
    return out;
  }
  const t = hi > lo ? Math.min(1, Math.max(0, (v - lo) / (hi - lo))) : 0;
  out[0] = out[1] = out[2] = 0.97 - 0.9 * t;
  return out;
}

// --- decision boundaries ---------------------------------------------------------------------

/** TF Playground's two classes: blue (class 0 / low) and orange (class 1 / high). */
export const BOUNDARY_LOW: RGB = [0.03, 0.47, 0.74];
export const BOUNDARY_HIGH: RGB = [0.96, 0.58, 0.13];
const WHITE: RGB = [1, 1, 1];
/** The most a boundary pixel is colored, so the probe points drawn on top stay visible. */
export const BOUNDARY_MAX_INTENSITY = 0.85;

/** Categorical colors of classes (Tableau 10, class 0 blue and 1 orange as in the binary case). */
export const CLASS_COLORS: RGB[] = [
  [0.122, 0.467, 0.706], [1.0, 0.498, 0.055], [0.173, 0.627, 0.173], [0.839, 0.153, 0.157],
  [0.58, 0.404, 0.741], [0.549, 0.337, 0.294], [0.89, 0.467, 0.761], [0.498, 0.498, 0.498],
  [0.737, 0.741, 0.133], [0.09, 0.745, 0.812],
];

/** Color of class k (cycles past 10). */
export function classColor(k: number): RGB {
  const n = CLASS_COLORS.length;
  return CLASS_COLORS[((Math.floor(k) % n) + n) % n];
}

function mix(a: RGB, b: RGB, t: number, out: RGB): RGB {
  out[0] = a[0] + (b[0] - a[0]) * t;
  out[1] = a[1] + (b[1] - a[1]) * t;
  out[2] = a[2] + (b[2] - a[2]) * t;
  return out;
}

/**
 * Two-sided color around a center: v = center -> white, center - half -> BOUNDARY_LOW,
 * center + half -> BOUNDARY_HIGH (intensity capped at BOUNDARY_MAX_INTENSITY). NaN -> NAN_COLOR.
 */
export function boundaryColor(v: number, center: number, half: number, out: RGB = [0, 0, 0]): RGB {
  if (!Number.isFinite(v)) {
    out[0] = NAN_COLOR[0]; out[1] = NAN_COLOR[1]; out[2] = NAN_COLOR[2];
    return out;
  }
  const t = half > 0 ? Math.max(-1, Math.min(1, (v - center) / half)) : 0;
  return mix(WHITE, t < 0 ? BOUNDARY_LOW : BOUNDARY_HIGH, Math.abs(t) * BOUNDARY_MAX_INTENSITY, out);
}

/** What `boundaryImage` needs (Snapshot.boundary). */
export interface BoundaryData {
  meta: { mode: "binary" | "regression" | "multiclass"; classes: number; res: number; lo?: number | string; hi?: number | string };
  value: ArrayLike<number> | null;
  cls: ArrayLike<number> | null;
  confidence: ArrayLike<number> | null;
}

/**
 * The model's output over the input plane as a res x res image. The wire's row 0 is y0 (the
 * bottom), so it is drawn as the image's last row (y goes up, as on a plot).
 *   binary:     probability around 0.5 (0 -> blue, 0.5 -> white, 1 -> orange)
 *   regression: around the midpoint of lo..hi (meta's unless given)
 *   multiclass: class color with intensity from the confidence (1 / classes -> white, 1 -> full)
 */
export function boundaryImage(b: BoundaryData, opts: { lo?: number; hi?: number } = {}, at?: Place): Img {
  const res = b.meta.res;
  const t = target(res, res, at);
  const c: RGB = [0, 0, 0];
  if (b.meta.mode === "multiclass") {
    const k = Math.max(2, b.meta.classes);
    const floor = 1 / k;
    for (let r = 0; r < res; r++) {
      const y = res - 1 - r;
      for (let x = 0; x < res; x++) {
        const i = r * res + x;
        const conf = b.confidence ? b.confidence[i] : 1;
        const cl = b.cls ? b.cls[i] : NaN;
        if (!Number.isFinite(conf) || !Number.isFinite(cl)) {
          put(t.img, t.x + x, t.y + y, NAN_COLOR);
          continue;
        }
        const s = Math.max(0, Math.min(1, (conf - floor) / (1 - floor)));
        mix(WHITE, classColor(cl), 0.12 + s * (BOUNDARY_MAX_INTENSITY - 0.12), c);
        put(t.img, t.x + x, t.y + y, c);
      }
    }
    return t.img;
  }
  let center = 0.5, half = 0.5;
  if (b.meta.mode === "regression") {
    const lo = opts.lo ?? Number(b.meta.lo);
    const hi = opts.hi ?? Number(b.meta.hi);
    if (Number.isFinite(lo) && Number.isFinite(hi) && hi > lo) {
      center = (lo + hi) / 2;
      half = (hi - lo) / 2;
    } else if (b.value) {
      const [l, h] = finiteRange(b.value);
      center = (l + h) / 2;
      half = (h - l) / 2;
    }
  }
  for (let r = 0; r < res; r++) {
    const y = res - 1 - r;
    for (let x = 0; x < res; x++) {
      const v = b.value ? b.value[r * res + x] : NaN;
      boundaryColor(v, center, half, c);
      put(t.img, t.x + x, t.y + y, c);
    }
  }
  return t.img;
}

/**
 * One hidden neuron's output over the input plane (field_res x field_res, row 0 = y0 at the
 * bottom), in the boundary's colors around `center` with a fixed `half` range (TF Playground's
 * neuron tiles). `offset` is where the field starts in `values`.
 */
export function fieldImage(values: ArrayLike<number>, res: number, center: number, half: number, offset = 0, at?: Place): Img {
  const t = target(res, res, at);
  const c: RGB = [0, 0, 0];
  for (let r = 0; r < res; r++) {
    const y = res - 1 - r;
    for (let x = 0; x < res; x++) {
      boundaryColor(values[offset + r * res + x], center, half, c);
      put(t.img, t.x + x, t.y + y, c);
    }
  }
  return t.img;
}

/** Pixel position (in a w x h image of the plane) of a point (px, py) given the extent. */
export function planeToPixel(px: number, py: number, extent: [number, number, number, number], w: number, h: number): [number, number] {
  const [x0, x1, y0, y1] = extent;
  const fx = x1 !== x0 ? (px - x0) / (x1 - x0) : 0.5;
  const fy = y1 !== y0 ? (py - y0) / (y1 - y0) : 0.5;
  return [fx * w, (1 - fy) * h];
}

// --- heatmaps --------------------------------------------------------------------------------

export interface HeatmapOptions {
  /** "diverging" around 0 with `range`, or "sequential" 0..`range`; auto from the signs when absent */
  scale?: "diverging" | "sequential";
  /** fixed range (across epochs); auto (max |v|) when absent */
  range?: number;
  offset?: number;
}

/** rows x cols values (row-major: rows = tokens, cols = features) as an image, row 0 at the top. */
export function heatmapImage(values: ArrayLike<number>, rows: number, cols: number, opts: HeatmapOptions = {}, at?: Place): Img {
  const off = opts.offset ?? 0;
  let scale = opts.scale;
  if (!scale) {
    const [lo] = finiteRange(values, off, rows * cols);
    scale = lo < 0 ? "diverging" : "sequential";
  }
  const range = opts.range ?? maxAbs(values, off, rows * cols);
  return scale === "diverging"
    ? divergingImage(values, rows, cols, range, { offset: off }, at)
    : sequentialImage(values, rows, cols, range, { offset: off }, at);
}

// --- the one DOM helper ----------------------------------------------------------------------

/** Draw an image into a canvas (resizing the canvas to the image's size when they differ). */
export function putImage(canvas: HTMLCanvasElement, img: Img): void {
  if (canvas.width !== img.width) canvas.width = img.width;
  if (canvas.height !== img.height) canvas.height = img.height;
  if (!img.width || !img.height) return;
  const g = canvas.getContext("2d");
  if (!g) return;
  g.putImageData(new ImageData(img.data as Uint8ClampedArray<ArrayBuffer>, img.width, img.height), 0, 0);
}
