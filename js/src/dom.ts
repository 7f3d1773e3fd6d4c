// Small DOM helpers. Text always goes through textContent (names come from the user's model).

/** Create an element with a class and optional text (set with textContent, never innerHTML). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

/** addEventListener that returns its own removal. */
export function listen<T extends EventTarget>(
  target: T,
  type: string,
  fn: (e: never) => void,
  opts?: AddEventListenerOptions,
): () => void {
  const cb = fn as unknown as EventListener;
  target.addEventListener(type, cb, opts);
  return () => target.removeEventListener(type, cb, opts);
}

/** A bag of cleanups run once, in reverse order. */
export class Disposer {
  private fns: (() => void)[] = [];
  add(fn: () => void): void {
    this.fns.push(fn);
  }
  run(): void {
    const fns = this.fns.reverse();
    this.fns = [];
    for (const fn of fns) {
      try {
        fn();
      } catch (err) {
        console.error("nnviz: cleanup failed", err);
      }
    }
  }
}

/** 101632 -> "101,632" (fixed locale so tests and screenshots agree). */
export function fmtInt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return Math.round(n).toLocaleString("en-US");
}

/** Compact parameter counts: 1234 -> "1.2k", 25_557_032 -> "25.6M". */
export function fmtCount(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return fmtInt(n);
}

/** A number for a tooltip: 3 significant digits, NaN/Inf spelled out. */
export function fmtNum(v: number | null | undefined): string {
  if (v === null || v === undefined) return "–";
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(2);
  return v.toPrecision(3).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
}

/** "(null, 128)" style shape text. */
export function fmtShape(shape: (number | null)[] | null | undefined): string {
  if (!shape || shape.length === 0) return "–";
  return `(${shape.map((d) => (d === null ? "?" : String(d))).join(", ")})`;
}

/** Insert a <style> once per document (by id). */
export function injectStyle(id: string, css: string): void {
  if (typeof document === "undefined" || document.getElementById(id)) return;
  const style = document.createElement("style");
  style.id = id;
  style.textContent = css;
  document.head.appendChild(style);
}
