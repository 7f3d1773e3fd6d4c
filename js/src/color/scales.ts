// Color scales (pure). Diverging for signed values: sign = hue, magnitude = intensity.

export type RGB = [number, number, number]; // 0..1

/** Color of non-finite values (NaN / Inf): a loud magenta that no scale produces. */
export const NAN_COLOR: RGB = [1.0, 0.0, 1.0];
/** The ends and the neutral middle of the scales, for a light or a dark background. */
export interface ScalePalette {
  dark: boolean;
  /** the neutral (zero) color: close to the background, so that small values recede */
  zero: RGB;
  neg: RGB;
  pos: RGB;
  seqLo: RGB;
  seqHi: RGB;
}

/** On white: zero is a light grey, blue and red at full strength, sequential to purple. */
export const LIGHT_SCALES: ScalePalette = {
  dark: false,
  zero: [0.86, 0.87, 0.89],
  neg: [0.13, 0.4, 0.85],
  pos: [0.86, 0.2, 0.13],
  seqLo: [0.93, 0.94, 0.96],
  seqHi: [0.45, 0.1, 0.55],
};

/** On a dark background: zero is a dark grey (not white), the ends lighter so they stand out. */
export const DARK_SCALES: ScalePalette = {
  dark: true,
  zero: [0.25, 0.27, 0.31],
  neg: [0.33, 0.62, 1.0],
  pos: [1.0, 0.43, 0.32],
  seqLo: [0.2, 0.22, 0.26],
  seqHi: [0.82, 0.56, 1.0],
};

let active: ScalePalette = LIGHT_SCALES;

/** The palette of a light or a dark background. */
export function scalePalette(dark: boolean): ScalePalette {
  return dark ? DARK_SCALES : LIGHT_SCALES;
}

/** Use the palette of the page's theme (the shell calls it when the theme changes; a page has
 *  one theme, so one palette serves every view). */
export function useScales(dark: boolean): void {
  active = scalePalette(dark);
}

/** The palette in use. */
export function scales(): ScalePalette {
  return active;
}

/** Neutral (zero) color of the light palette (the default). */
export const ZERO_COLOR: RGB = LIGHT_SCALES.zero;

/** Diverging scale: v in [-range, range] -> blue .. neutral .. red. Non-finite -> NAN_COLOR. */
export function diverging(v: number, range: number, out: RGB = [0, 0, 0], pal: ScalePalette = active): RGB {
  if (!Number.isFinite(v)) {
    out[0] = NAN_COLOR[0]; out[1] = NAN_COLOR[1]; out[2] = NAN_COLOR[2];
    return out;
  }
  const r = range > 0 ? range : 1;
  let t = Math.min(1, Math.abs(v) / r);
  t = Math.sqrt(t); // perceptual boost: small weights stay visible
  const end = v < 0 ? pal.neg : pal.pos;
  const z = pal.zero;
  out[0] = z[0] + (end[0] - z[0]) * t;
  out[1] = z[1] + (end[1] - z[1]) * t;
  out[2] = z[2] + (end[2] - z[2]) * t;
  return out;
}

/** Sequential scale for non-negative values (gradient norms, activations' magnitude). */
export function sequential(v: number, max: number, out: RGB = [0, 0, 0], pal: ScalePalette = active): RGB {
  if (!Number.isFinite(v)) {
    out[0] = NAN_COLOR[0]; out[1] = NAN_COLOR[1]; out[2] = NAN_COLOR[2];
    return out;
  }
  const t = max > 0 ? Math.min(1, Math.max(0, v / max)) : 0;
  const lo = pal.seqLo;
  const hi = pal.seqHi;
  out[0] = lo[0] + (hi[0] - lo[0]) * t;
  out[1] = lo[1] + (hi[1] - lo[1]) * t;
  out[2] = lo[2] + (hi[2] - lo[2]) * t;
  return out;
}

/** CSS string of an RGB triple. */
export function css(c: RGB): string {
  return `rgb(${Math.round(c[0] * 255)},${Math.round(c[1] * 255)},${Math.round(c[2] * 255)})`;
}

/** Fill colors (rgb triples, length 3n) for values with a diverging scale. */
export function fillDiverging(values: ArrayLike<number>, range: number, out: Float32Array): Float32Array {
  const c: RGB = [0, 0, 0];
  for (let i = 0; i < values.length; i++) {
    diverging(values[i], range, c);
    out[3 * i] = c[0]; out[3 * i + 1] = c[1]; out[3 * i + 2] = c[2];
  }
  return out;
}

/**
 * Distinct colors per layer among what a view draws (its data-connection-colors attribute: tests
 * read whether a layer's connections are colored one by one or by one value per layer).
 */
export class ColorTally {
  private seen = new Map<string, Set<string | number>>();
  add(layer: string, color: string | number): void {
    let s = this.seen.get(layer);
    if (!s) this.seen.set(layer, (s = new Set()));
    s.add(color);
  }
  /** "layer:count" joined by "," in the order layers were first seen. */
  attr(): string {
    return [...this.seen].map(([l, s]) => `${l}:${s.size}`).join(",");
  }
}

/** An RGB in [0, 1] as one 24-bit number (for ColorTally). */
export function rgbKey(c: RGB): number {
  const q = (v: number) => Math.max(0, Math.min(255, Math.round(v * 255)));
  return (q(c[0]) << 16) | (q(c[1]) << 8) | q(c[2]);
}
