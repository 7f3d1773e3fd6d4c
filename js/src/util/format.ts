// The one set of number and shape formatters every view, panel and tooltip uses (so the 3D
// tooltip, the 2D view and the panels write a value the same way). Pure, no DOM.

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

/**
 * Short ratio for health lines and badges: `sig` significant digits, exponent form outside
 * [0.01, 1e4) ("1.2e-3"), "NaN" / "Inf" / "-Inf". e.g. 0.094 -> "0.094", 0.00123 -> "1.2e-3".
 */
export function fmtRatio(v: number, sig = 2): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "Inf" : "-Inf";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a < 0.01 || a >= 1e4) return v.toExponential(sig - 1).replace("e+", "e");
  return String(Number(v.toPrecision(sig)));
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
