// The 2D view's pan / zoom arithmetic: pure functions on a view transform (screen = world * zoom + t).
import type { Camera2D } from "../data/types";
import type { Hit } from "./geometry";

/** A view transform: screen x = world x * zoom + tx (likewise y). */
export interface View2 {
  zoom: number;
  tx: number;
  ty: number;
}

/** The zoom limits of the 2D view. */
export const MIN_ZOOM = 0.03;
export const MAX_ZOOM = 5;

/** A shared camera usable as a view (finite, positive zoom), copied; null otherwise. */
export function validView(c: Camera2D | undefined): Camera2D | null {
  return c && [c.zoom, c.tx, c.ty].every(Number.isFinite) && c.zoom > 0 ? { zoom: c.zoom, tx: c.tx, ty: c.ty } : null;
}

/** Zoom `v` by `f` (clamped to MIN_ZOOM..MAX_ZOOM) keeping screen point (sx, sy) still. */
export function zoomAbout(v: View2, f: number, sx: number, sy: number): void {
  const nz = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, v.zoom * f));
  const k = nz / v.zoom;
  v.tx = sx - (sx - v.tx) * k;
  v.ty = sy - (sy - v.ty) * k;
  v.zoom = nz;
}

/** Pan (and zoom in, when far out) `v` so the box (x, y, w, h) is centred in a w x h view,
 *  unless it is already wholly visible. */
export function showBox(v: View2, box: { x: number; y: number; w: number; h: number }, viewW: number, viewH: number): void {
  const sx0 = box.x * v.zoom + v.tx;
  const sy0 = box.y * v.zoom + v.ty;
  const sx1 = (box.x + box.w) * v.zoom + v.tx;
  const sy1 = (box.y + box.h) * v.zoom + v.ty;
  if (sx0 >= 0 && sy0 >= 0 && sx1 <= viewW && sy1 <= viewH) return;
  if (v.zoom < 0.4) v.zoom = 0.7;
  v.tx = viewW / 2 - (box.x + box.w / 2) * v.zoom;
  v.ty = viewH / 2 - (box.y + Math.min(box.h, viewH / v.zoom - 40) / 2) * v.zoom;
}

/** The pan `t` along one axis kept so a graph of screen `size` fills a `view` starting at `lo`:
 *  centred when it fits, else no empty screen beyond either end (16 px margin). */
export function clampPan(t: number, size: number, view: number, lo: number): number {
  return size <= view - lo - 16 ? lo + (view - lo - 16 - size) / 2 : Math.min(lo, Math.max(view - 16 - size, t));
}

/** Whether two hover hits point at the same thing (layer, neuron, map tile, connection). */
export function sameHit(a: Hit | null, b: Hit | null): boolean {
  if (a === null || b === null) return a === b;
  return a.layer === b.layer && a.neuron === b.neuron && a.channel === b.channel &&
    a.conn?.set === b.conn?.set && a.conn?.k === b.conn?.k;
}
