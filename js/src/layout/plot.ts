// Pure helpers for small plots: histogram bins -> bar geometry, "nice" axis ticks. No DOM
// (unit-tested in node; used by the panels).

export interface Bar {
  x: number; // left edge, px
  y: number; // top edge, px
  w: number;
  h: number;
}

/**
 * Union of the histogram ranges of a layer over snapshots, so the x axis stays fixed while the
 * epoch changes. Non-finite bounds are ignored; an empty or degenerate range is widened to a
 * small interval around its value so it can still be drawn.
 */
export function histRange(ranges: Iterable<{ lo: number; hi: number }>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of ranges) {
    if (Number.isFinite(r.lo)) lo = Math.min(lo, r.lo);
    if (Number.isFinite(r.hi)) hi = Math.max(hi, r.hi);
  }
  if (!(lo <= hi)) return [-1, 1];
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    return [lo - pad, hi + pad];
  }
  return [lo, hi];
}

/** Largest bin density (count / bin width) of a histogram over [lo, hi]; 0 when empty. */
export function maxDensity(counts: ArrayLike<number>, lo: number, hi: number): number {
  const n = counts.length;
  if (!n || !(hi > lo)) return 0;
  const bw = (hi - lo) / n;
  let m = 0;
  for (let i = 0; i < n; i++) {
    const c = counts[i];
    if (Number.isFinite(c) && c > m) m = c;
  }
  return m / bw;
}

/**
 * Bars of a histogram with `counts.length` equal bins over [lo, hi], drawn on an x axis that spans
 * [xLo, xHi] mapped to [0, width] px and a y axis of densities (count / bin width) from 0 at
 * `height` px up to `yMax` at 0 px (default: this histogram's own max density). Empty bins are
 * left out; bars are at least 1 px wide so a narrow spike stays visible.
 */
export function histBars(
  counts: ArrayLike<number>,
  lo: number,
  hi: number,
  xLo: number,
  xHi: number,
  width: number,
  height: number,
  yMax?: number,
): Bar[] {
  const n = counts.length;
  const bars: Bar[] = [];
  if (!n || !(hi >= lo) || !(xHi > xLo) || width <= 0 || height <= 0) return bars;
  const span = hi > lo ? hi - lo : 1e-12;
  const bw = span / n;
  let top = yMax !== undefined && yMax > 0 ? yMax : 0;
  if (!top) for (let i = 0; i < n; i++) if (Number.isFinite(counts[i]) && counts[i] / bw > top) top = counts[i] / bw;
  if (!(top > 0)) return bars;
  const sx = width / (xHi - xLo);
  for (let i = 0; i < n; i++) {
    const c = counts[i];
    if (!(c > 0) || !Number.isFinite(c)) continue;
    const x0 = (lo + i * bw - xLo) * sx;
    const x1 = (lo + (i + 1) * bw - xLo) * sx;
    const h = Math.min(height, ((c / bw) / top) * height);
    const w = Math.max(1, x1 - x0);
    bars.push({ x: x0, y: height - h, w, h });
  }
  return bars;
}

/**
 * About `maxTicks` round tick values (1, 2, 2.5, 5 x 10^k steps) covering [lo, hi], inside it.
 * Returns [] for a non-finite range; [lo] for an empty one.
 */
export function niceTicks(lo: number, hi: number, maxTicks = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / Math.max(1, maxTicks);
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = mag;
  for (const m of [1, 2, 2.5, 5, 10]) {
    step = m * mag;
    if (step >= raw) break;
  }
  const out: number[] = [];
  const start = Math.ceil(lo / step - 1e-9) * step;
  for (let v = start; v <= hi + step * 1e-9; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
    if (out.length > 100) break;
  }
  return out;
}

/** Ticks for a log axis: powers of ten within [lo, hi] (both > 0), thinned to about maxTicks. */
export function logTicks(lo: number, hi: number, maxTicks = 5): number[] {
  if (!(lo > 0) || !(hi > 0) || !Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  const a = Math.ceil(Math.log10(lo) - 1e-9);
  const b = Math.floor(Math.log10(hi) + 1e-9);
  if (b < a) return niceTicks(lo, hi, maxTicks);
  const every = Math.max(1, Math.ceil((b - a + 1) / maxTicks));
  const out: number[] = [];
  for (let e = a; e <= b; e += every) out.push(10 ** e);
  return out;
}
