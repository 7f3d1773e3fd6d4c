// The inside panel's shared kit: sizes, small canvas helpers, where a layer's recordings live at
// an epoch, and the context (InsideKit) every part of the panel is built with.
import { h } from "../../util/dom";
import { finiteRange, maxAbs, quantileAbs } from "../../color/images";
import type { Store } from "../../data/store";
import type { ProbeInfo, Snapshot } from "../../data/types";
import type { ViewContext } from "../../data/view";
import { gridLayout, type GridLayout } from "../../util/grid";
import type { ViewState } from "../../data/types";

/** Most tiles in one grid (feature maps, filters, weight images); the rest are counted in a note. */
export const MAX_TILES = 64;
export const PROBE_CSS = 96; // px, the probe image's longer side
export const BOUNDARY_CSS = 220; // px, the decision boundary's side
export const FIELD_CSS = 36; // px, one neuron's field tile
export const GRID_MAX_H = 240; // px, tallest image grid
export const HEALTH_ROW = 11; // px, one health strip row
export const ATTN_CELL_MAX = 28; // px, one query x key cell of an attention map
export const ATTN_MAX_H = 240; // px, tallest attention map

export type Draw = () => void;

export interface Part {
  el: HTMLElement;
  draw: Draw;
}

export function pxCanvas(cls = ""): HTMLCanvasElement {
  const c = document.createElement("canvas");
  c.className = `nnviz-inside-px ${cls}`.trim();
  return c;
}

export function sizeCss(c: HTMLCanvasElement, w: number, hh: number): void {
  c.style.width = `${Math.round(w)}px`;
  c.style.height = `${Math.round(hh)}px`;
}

/** Integer scale when the image can be shown at 2x or more, else the exact fit. */
export function fitScale(w: number, hh: number, maxW: number, maxH: number, maxScale = 12): number {
  const s = Math.min(maxW / Math.max(w, 1), maxH / Math.max(hh, 1), maxScale);
  return s >= 2 ? Math.floor(s) : Math.max(s, 0.25);
}

/** Largest on-screen side of one tile in an image grid (px): small kernels get big, 28x28 stays 1-2x. */
export const MAX_TILE_CSS = 56;

/** The grid of n tiles of h x w that shows the tiles biggest within maxW x maxH (each tile at
 *  most MAX_TILE_CSS px): its layout and the CSS scale (an integer from 2x up). */
export function fitGrid(n: number, th: number, tw: number, maxW: number, maxH: number): { grid: GridLayout; scale: number } {
  const maxScale = Math.max(1, Math.min(16, MAX_TILE_CSS / Math.max(th, tw, 1)));
  let best: { grid: GridLayout; scale: number } | null = null;
  for (let cols = 1; cols <= Math.max(1, n); cols++) {
    const g = gridLayout(n, th, tw, cols, 1);
    const s = fitScale(g.width, g.height, maxW, maxH, maxScale);
    if (!best || s > best.scale + 1e-9 || (Math.abs(s - best.scale) < 1e-9 && g.rows < best.grid.rows)) {
      best = { grid: g, scale: s };
    }
  }
  return best!;
}

export function fmtAxis(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a >= 100 || (a > 0 && a < 0.01) ? v.toExponential(1) : String(Number(v.toFixed(2)));
}

export function fmtLabel(v: number | undefined): string {
  if (v === undefined || v === null) return "–";
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3)));
}

/** A token's text as shown: whitespace made visible where it would vanish (a newline as ↵, a
 *  tab as →); an empty string as ∅. Always rendered with textContent. */
export function showToken(text: string): string {
  if (!text) return "∅";
  return text.replace(/\r?\n/g, "↵").replace(/\t/g, "→");
}

/** The probe's token at position t of sample s: its text where a tokenizer gave one, else "#id". */
export function probeToken(p: ProbeInfo, s: number, t: number): string | null {
  const id = p.tokens?.ids?.[s]?.[t];
  if (id === undefined) return null;
  const text = p.tokens?.text?.[s]?.[t];
  return text === undefined ? `#${id}` : showToken(text);
}

/** A predicted token id's text at a snapshot (the text travels with the snapshot), else "#id". */
export function predToken(snap: Snapshot, id: number): string {
  const text = snap.tokens.get(id);
  return text === undefined ? `#${id}` : showToken(text);
}

/** The k likeliest next tokens at position t of sample s in a snapshot, likeliest first. */
export function topAt(snap: Snapshot | null | undefined, s: number, t: number): { id: number; p: number }[] {
  const top = snap?.top;
  if (!top) return [];
  const [n, T, k] = top.shape;
  if (!(s >= 0 && s < n && t >= 0 && t < T)) return [];
  const out = [];
  for (let j = 0; j < k; j++) out.push({ id: top.ids[(s * T + t) * k + j], p: top.p[(s * T + t) * k + j] });
  return out;
}

/** A per-position task's target at position t of sample s (null: none, or ignored). */
export function targetAt(p: ProbeInfo, s: number, t: number): number | null {
  const v = p.tokens?.targets?.[s]?.[t];
  return v === undefined || v < 0 ? null : v;
}

/** How many positions of sample s the likeliest output matches its target, of those with one. */
export function positionsRight(p: ProbeInfo, snap: Snapshot | null, s: number): { right: number; total: number } {
  let right = 0, total = 0;
  const n = p.tokens?.ids[s]?.length ?? 0;
  for (let t = 0; t < n; t++) {
    const want = targetAt(p, s, t);
    const top = topAt(snap, s, t)[0];
    if (want === null || !top) continue;
    total++;
    if (top.id === want) right++;
  }
  return { right, total };
}

/** Where a language model's top tokens live at an epoch (thinned epochs fall back). */
export function topSnapshot(store: Store, epoch: number): Snapshot | null {
  for (let j = store.indexAt(epoch); j >= 0; j--) if (store.snapshots[j].top) return store.snapshots[j];
  return null;
}

type ActEntry = NonNullable<ReturnType<Snapshot["acts"]["get"]>>;

/** Where a layer's activations live at an epoch: this snapshot, else the last earlier one with them. */
export function actAt(store: Store, layer: string, epoch: number): ActEntry | null {
  for (let j = store.indexAt(epoch); j >= 0; j--) {
    const a = store.snapshots[j].acts.get(layer);
    if (a) return a;
  }
  return null;
}

/** The snapshot with a decision boundary shown at an epoch (thinned epochs fall back). */
export function boundaryAt(store: Store, epoch: number): Snapshot | null {
  for (let j = store.indexAt(epoch); j >= 0; j--) if (store.snapshots[j].boundary) return store.snapshots[j];
  return null;
}

export function fieldsAt(store: Store, epoch: number): Snapshot | null {
  for (let j = store.indexAt(epoch); j >= 0; j--) if (store.snapshots[j].fields.size) return store.snapshots[j];
  return null;
}


/** What every part of the panel shares (the explicit context the parts get). */
export interface InsideKit {
  ctx: ViewContext;
  store: Store;
  /** the panel's width (resize sets it) */
  width: number;
  /** the pane's height (0 until known): the first part's plot fits in it, so its legend shows */
  height: number;
  /** the height the first part's plot may take, with `overhead` px of text around it */
  availH(overhead: number): number;
  /** weight images: raw, or the change since init (the layer part's toggle) */
  weightMode: "weight" | "delta";
  st(): ViewState;
  epochNow(): number;
  probeInfo(): ProbeInfo | null;
  sampleNow(): number;
  /** the width a part's images may take */
  avail(): number;
  actRange(layer: string): { lo: number; abs: number };
  fieldRange(layer: string): number;
  section(name: string, right?: HTMLElement): { sec: HTMLElement; head: HTMLElement };
  predictionFacts(box: HTMLElement): Draw;
  /** forget the fixed ranges (the data changed) */
  clearRanges(): void;
}

export function createKit(ctx: ViewContext, probe: () => ProbeInfo | null): InsideKit {
  const store = ctx.store;
  // fixed ranges per layer across epochs (reset when the data changes)
  const actRanges = new Map<string, { lo: number; abs: number }>();
  const fieldRanges = new Map<string, number>();
  const st = () => ctx.state();
  const epochNow = () => st().epoch;
  const probeInfo = (): ProbeInfo | null => {
    const p = probe();
    return p && typeof p === "object" && Number(p.n) > 0 ? p : null;
  };
  const sampleNow = () => {
    const p = probeInfo();
    const s = Math.max(0, Math.floor(Number(st().sample ?? 0)) || 0);
    return p ? Math.min(s, p.n - 1) : s;
  };
  const avail = () => Math.max(120, kit.width - 22);
  const availH = (overhead: number) => (kit.height > 0 ? Math.max(120, kit.height - overhead) : Infinity);

  /** A layer's activations' fixed range across epochs: the sign of the smallest value (to pick
   *  a sequential or diverging scale) and the 99th percentile of |values| (robust to outliers). */
  function actRange(layer: string): { lo: number; abs: number } {
    let r = actRanges.get(layer);
    if (!r) {
      let lo = Infinity;
      const arrays: Float32Array[] = [];
      for (const s of store.snapshots) {
        const a = s.acts.get(layer);
        if (!a) continue;
        lo = Math.min(lo, finiteRange(a.act)[0]);
        arrays.push(a.act);
      }
      r = { lo: Number.isFinite(lo) ? lo : 0, abs: quantileAbs(arrays, 0.99) };
      actRanges.set(layer, r);
    }
    return r;
  }

  function fieldRange(layer: string): number {
    let r = fieldRanges.get(layer);
    if (r === undefined) {
      r = 0;
      for (const s of store.snapshots) {
        const f = s.fields.get(layer);
        if (f) r = Math.max(r, maxAbs(f));
      }
      fieldRanges.set(layer, r);
    }
    return r;
  }

  function section(name: string, right?: HTMLElement): { sec: HTMLElement; head: HTMLElement } {
    const sec = h("div", "nnviz-inside-section");
    const head = h("div", "nnviz-inside-h");
    head.appendChild(h("span", undefined, name));
    if (right) {
      right.classList.add("nnviz-inside-h-right");
      head.appendChild(right);
    }
    sec.appendChild(head);
    return { sec, head };
  }

  /** "label 7 · predicted 7" spans, green when right, red when wrong. */
  function predictionFacts(box: HTMLElement): Draw {
    const sampleEl = h("span");
    const labelEl = h("span");
    const predEl = h("span", "nnviz-inside-pred");
    box.append(sampleEl, labelEl, predEl);
    return () => {
      const p = probeInfo();
      const s = sampleNow();
      sampleEl.textContent = p ? `sample ${s} of ${p.n}` : "";
      const label = p?.labels?.[s];
      labelEl.textContent = label === undefined ? "" : `label ${fmtLabel(label)}`;
      labelEl.style.display = label === undefined ? "none" : "";
      const snap = store.at(epochNow());
      const pred = snap?.pred?.[s];
      const tops = p?.tokens ? topSnapshot(store, epochNow()) : null;
      if (p?.tokens?.task === "position") {
        // a per-position task (a reverser, a tagger): how many positions hold their target
        const { right, total } = positionsRight(p, tops, s);
        predEl.style.display = total ? "" : "none";
        const all = right === total;
        predEl.className = `nnviz-inside-pred ${all ? "nnviz-inside-ok" : "nnviz-inside-bad"}`;
        predEl.dataset.correct = all ? "1" : "0";
        predEl.textContent = total ? `output right at ${right} of ${total} positions${all ? " ✓" : ""}` : "";
        return;
      }
      if (p?.tokens && tops && snap && pred !== undefined) {
        // a language model: the token it predicts after the sample's last one
        const ids = p.tokens.ids[s] ?? [];
        const last = Math.max(0, ids.length - 1);
        const ctx: string[] = [];
        for (let t = Math.max(0, ids.length - 4); t < ids.length; t++) ctx.push(probeToken(p, s, t) ?? "");
        const joiner = p.tokens.text ? "" : " ";
        const lead = ids.length > 4 ? "…" : "";
        const top = topAt(tops, s, last)[0];
        const prob = top && top.id === pred ? ` ${top.p.toFixed(2)}` : "";
        predEl.style.display = "";
        predEl.className = "nnviz-inside-pred";
        predEl.dataset.correct = "";
        predEl.textContent = `next token after '${lead}${ctx.join(joiner)}': '${predToken(snap, pred)}'${prob}`;
        return;
      }
      if (pred === undefined) {
        predEl.textContent = "";
        predEl.style.display = "none";
        return;
      }
      predEl.style.display = "";
      // right / wrong only for class labels (a regression target is not a class)
      const right = label === undefined || !Number.isInteger(label) ? null : label === pred;
      predEl.textContent = `predicted ${fmtLabel(pred)}${right === null ? "" : right ? " ✓" : " ✗"}`;
      predEl.className = `nnviz-inside-pred${right === null ? "" : right ? " nnviz-inside-ok" : " nnviz-inside-bad"}`;
      predEl.dataset.correct = right === null ? "" : right ? "1" : "0";
    };
  }


  const kit: InsideKit = {
    ctx, store, width: 300, height: 0, weightMode: "weight", st, epochNow, probeInfo, sampleNow, avail, availH, actRange, fieldRange, section, predictionFacts,
    clearRanges() {
      actRanges.clear();
      fieldRanges.clear();
    },
  };
  return kit;
}
