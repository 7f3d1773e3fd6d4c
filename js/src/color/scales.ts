// Color scales (pure). Diverging for signed values: sign = hue, magnitude = intensity.

export type RGB = [number, number, number]; // 0..1

/** Color of non-finite values (NaN / Inf): a loud magenta that no scale produces. */
export const NAN_COLOR: RGB = [1.0, 0.0, 1.0];
/** Neutral (zero) color: a light grey that reads on the white background. */
export const ZERO_COLOR: RGB = [0.86, 0.87, 0.89];
const NEG: RGB = [0.13, 0.4, 0.85]; // blue
const POS: RGB = [0.86, 0.2, 0.13]; // red

/** Diverging scale: v in [-range, range] -> blue .. grey .. red. Non-finite -> NAN_COLOR. */
export function diverging(v: number, range: number, out: RGB = [0, 0, 0]): RGB {
  if (!Number.isFinite(v)) {
    out[0] = NAN_COLOR[0]; out[1] = NAN_COLOR[1]; out[2] = NAN_COLOR[2];
    return out;
  }
  const r = range > 0 ? range : 1;
  let t = Math.min(1, Math.abs(v) / r);
  t = Math.sqrt(t); // perceptual boost: small weights stay visible
  const end = v < 0 ? NEG : POS;
  out[0] = ZERO_COLOR[0] + (end[0] - ZERO_COLOR[0]) * t;
  out[1] = ZERO_COLOR[1] + (end[1] - ZERO_COLOR[1]) * t;
  out[2] = ZERO_COLOR[2] + (end[2] - ZERO_COLOR[2]) * t;
  return out;
}

const SEQ_LO: RGB = [0.93, 0.94, 0.96];
const SEQ_HI: RGB = [0.45, 0.1, 0.55]; // purple

/** Sequential scale for non-negative values (gradient norms, activations' magnitude). */
export function sequential(v: number, max: number, out: RGB = [0, 0, 0]): RGB {
  if (!Number.isFinite(v)) {
    out[0] = NAN_COLOR[0]; out[1] = NAN_COLOR[1]; out[2] = NAN_COLOR[2];
    return out;
  }
  const t = max > 0 ? Math.min(1, Math.max(0, v / max)) : 0;
  out[0] = SEQ_LO[0] + (SEQ_HI[0] - SEQ_LO[0]) * t;
  out[1] = SEQ_LO[1] + (SEQ_HI[1] - SEQ_LO[1]) * t;
  out[2] = SEQ_LO[2] + (SEQ_HI[2] - SEQ_LO[2]) * t;
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
