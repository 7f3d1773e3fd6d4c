// Pure helpers for small plots: histogram bins -> bar geometry, "nice" axis ticks, compact
// number formatting. No DOM (unit-tested in node; used by panel.ts, chart.ts, legend.ts, view2d.ts).

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

const SUFFIX: [number, string][] = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];

/**
 * Compact number: 3 significant digits, exponent form for tiny/huge values, "NaN" / "∞" for
 * non-finite ones, "0" for zero. e.g. 0.000123 -> "1.23e-4", 0.0123 -> "0.0123", 1234.5 -> "1235".
 */
export function fmt(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined) return "–";
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
  if (v === 0) return "0";
  const a = Math.abs(v);
  const sign = v < 0 ? "−" : "";
  if (a >= 1e5 || a < 1e-3) {
    const [m, e] = a.toExponential(digits - 1).split("e");
    return `${sign}${trimZeros(m)}e${Number(e)}`;
  }
  if (a >= 10 ** digits) return sign + Math.round(a).toString();
  return sign + trimZeros(a.toPrecision(digits));
}

/** Tick label: like fmt, but short (2 significant digits unless the step needs more). */
export function fmtTick(v: number, step?: number): string {
  if (v === 0) return "0";
  if (step && step > 0 && Math.abs(v) >= 1e-3 && Math.abs(v) < 1e5) {
    let decimals = 0;
    while (decimals < 6 && Math.abs(Math.round(step * 10 ** decimals) - step * 10 ** decimals) > 1e-6 * 10 ** decimals) decimals++;
    const s = v.toFixed(decimals);
    return s.startsWith("-") ? "−" + s.slice(1) : s;
  }
  return fmt(v, 2);
}

/** Integer with thousands separators (parameter counts): 101770 -> "101,770". */
export function fmtInt(n: number): string {
  if (!Number.isFinite(n)) return fmt(n);
  const s = Math.round(Math.abs(n)).toString();
  return (n < 0 ? "−" : "") + s.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Large counts as 1.2k / 3.4M (short labels). */
export function fmtCount(n: number): string {
  if (!Number.isFinite(n)) return fmt(n);
  const a = Math.abs(n);
  for (const [k, s] of SUFFIX) if (a >= k) return `${trimZeros((n / k).toPrecision(a / k >= 100 ? 3 : 2))}${s}`;
  return Math.round(n).toString();
}

/** Per-sample shape as text: [64, 16, 16] -> "64×16×16", null dims -> "?", [] -> "scalar". */
export function fmtShape(shape: ArrayLike<number | null> | null | undefined): string {
  if (!shape) return "?";
  if (shape.length === 0) return "scalar";
  const parts: string[] = [];
  for (let i = 0; i < shape.length; i++) parts.push(shape[i] === null ? "?" : String(shape[i]));
  return parts.join("×");
}

function trimZeros(s: string): string {
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}
