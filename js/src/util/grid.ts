// Grid arithmetic for tiled images (pure numbers, no pixels): where tile i of a grid goes, and the
// size of a tile showing an h x w map. The 2D layout and the image code both use it.

/** A grid of n tiles of h x w with `gap`-px gaps: cols x rows, and where tile i goes. */
export interface GridLayout {
  n: number;
  cols: number;
  rows: number;
  tileW: number;
  tileH: number;
  gap: number;
  width: number;
  height: number;
}

/**
 * Lay out n tiles of h x w. `cols` defaults to a near-square grid that prefers wide
 * (ceil(sqrt(n * h / w))). Tiles fill row by row, left to right.
 */
export function gridLayout(n: number, h: number, w: number, cols?: number, gap = 1): GridLayout {
  const c = Math.max(1, Math.min(Math.max(n, 1), Math.floor(cols ?? Math.ceil(Math.sqrt((Math.max(n, 1) * h) / Math.max(w, 1))))));
  const r = Math.max(1, Math.ceil(n / c));
  return {
    n, cols: c, rows: r, tileW: w, tileH: h, gap,
    width: c * w + (c - 1) * gap,
    height: r * h + (r - 1) * gap,
  };
}

/** Top-left pixel of tile i in a grid. */
export function tileOrigin(g: GridLayout, i: number): [number, number] {
  const col = i % g.cols;
  const row = Math.floor(i / g.cols);
  return [col * (g.tileW + g.gap), row * (g.tileH + g.gap)];
}

/**
 * The pixel size (th, tw) of a tile showing an h x w map: the map's own size, or, when a side is
 * over `max`, the largest size within max x max with the same aspect (at least 1 px a side).
 */
export function tileSize(h: number, w: number, max: number): [number, number] {
  const hh = Math.max(1, Math.floor(h));
  const ww = Math.max(1, Math.floor(w));
  const m = Math.max(1, Math.floor(max));
  if (hh <= m && ww <= m) return [hh, ww];
  const s = m / Math.max(hh, ww);
  return [Math.max(1, Math.min(m, Math.round(hh * s))), Math.max(1, Math.min(m, Math.round(ww * s)))];
}
