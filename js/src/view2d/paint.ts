// The 2D view's painting of a node's parts: neuron columns with their chips, feature-map tiles,
// health badges, haloed text. Pure drawing on a Canvas 2D context from the shared state record.
import { kindColor } from "../data/kinds";
import type { ViewState } from "../data/types";
import { fmtInt } from "../util/format";
import { tileOrigin } from "../util/grid";
import { BADGE_H, BODY_W, F_BADGE, F_CHIP, F_NAME, F_SMALL, F_SUB, HEADER, R, THUMB, compactLabel, measure, roundRectPath, tint, type NodeGeom } from "./geometry";
import type { View2DState } from "./state";

/** Text with a white halo, readable over the tiles it may run onto (zoomed out). */
export function haloText(c: CanvasRenderingContext2D, text: string, x: number, y: number, px: number, halo = "rgba(255,255,255,0.9)"): void {
  const fill = c.fillStyle;
  c.lineJoin = "round";
  c.lineWidth = 3 * px;
  c.strokeStyle = halo;
  c.strokeText(text, x, y);
  c.fillStyle = fill;
  c.fillText(text, x, y);
}

/**
 * A layer's feature-map tiles from its atlas (shrunk: smoothed; enlarged: crisp pixels), each
 * framed; without maps for the sample, tiles in the kind color (as the 3D planes) and a note.
 */
export function paintTiles(vs: View2DState, c: CanvasRenderingContext2D, n: NodeGeom, showText: boolean, st: ViewState, px: number): void {
  const m = n.maps!;
  const g = m.grid;
  const kc = kindColor(vs.graphRef ?? vs.store.graph, n.layer.kind);
  const ink = vs.ink;
  const lw = Math.min(px, 1.2);
  const frame = new Path2D();
  const smooth = vs.zoom * vs.dpr * g.tileW < m.tw;
  c.imageSmoothingEnabled = smooth;
  for (let i = 0; i < g.n; i++) {
    const [ox, oy] = tileOrigin(g, i);
    const x = m.gx + ox;
    const y = m.gy + oy;
    if (m.showing && m.canvas) {
      const [sx, sy] = tileOrigin(m.atlas, i);
      c.drawImage(m.canvas, sx, sy, m.tw, m.th, x, y, g.tileW, g.tileH);
    } else {
      c.fillStyle = tint(kc, 0.6, ink.paper);
      c.fillRect(x, y, g.tileW, g.tileH);
    }
    frame.rect(x - lw / 2, y - lw / 2, g.tileW + lw, g.tileH + lw);
  }
  c.imageSmoothingEnabled = true;
  c.lineWidth = lw;
  c.strokeStyle = tint(kc, 0.35, ink.paper);
  c.stroke(frame);
  if (!showText) return;
  c.font = F_SMALL;
  c.fillStyle = ink.subtext;
  c.textBaseline = "alphabetic";
  if (g.more) {
    const long = `+${g.more} more channels`;
    c.textAlign = "left";
    c.fillText(measure(long, F_SMALL) <= g.width ? long : `+${g.more} more`, m.gx, m.noteY);
  }
  if (!m.showing) {
    // maps are kept for the first probe samples only
    const lines = ["no maps for", `sample ${st.sample}`];
    const w = Math.max(...lines.map((t) => measure(t, F_SMALL))) + 8;
    const cx = m.gx + g.width / 2;
    const cy = m.gy + g.height / 2;
    c.beginPath();
    roundRectPath(c, cx - w / 2, cy - 13, w, 26, 4);
    c.fillStyle = ink.halo;
    c.fill();
    c.fillStyle = ink.text;
    c.textAlign = "center";
    c.fillText(lines[0], cx, cy - 2);
    c.fillText(lines[1], cx, cy + 9);
  }
  c.textAlign = "left";
}

/** Small colored tags ("dead 62%", "vanishing ∇") on a node's top edge (a column: above its name). */
export function paintBadges(c: CanvasRenderingContext2D, n: NodeGeom, edge = "rgba(255,255,255,0.9)"): void {
  c.font = F_BADGE;
  const widths = n.badges.map((b) => measure(b.text, F_BADGE) + 10);
  const total = widths.reduce((a, b) => a + b, 0) + 3 * (widths.length - 1);
  let x = n.column ? n.column.cx - total / 2 : n.x + n.w - total + 6;
  const y = n.column ? n.y - BADGE_H - 3 : n.y - BADGE_H / 2 - 1;
  c.textAlign = "center";
  c.textBaseline = "middle";
  n.badges.forEach((b, k) => {
    const w = widths[k];
    c.beginPath();
    roundRectPath(c, x, y, w, BADGE_H, BADGE_H / 2);
    c.fillStyle = b.bg;
    c.fill();
    c.lineWidth = 1;
    c.strokeStyle = edge;
    c.stroke();
    c.fillStyle = b.fg;
    c.fillText(b.text, x + w / 2, y + BADGE_H / 2 + 0.5);
    x += w + 3;
  });
  c.textAlign = "left";
  c.textBaseline = "alphabetic";
}

export function paintColumn(
  vs: View2DState, c: CanvasRenderingContext2D, n: NodeGeom, selected: boolean, hovered: boolean, showText: boolean, compactFont: string,
  st: ViewState, px: number,
): void {
  const col = n.column!;
  const kc = kindColor(vs.graphRef ?? vs.store.graph, n.layer.kind);
  const ink = vs.ink;
  const bx = col.cx - BODY_W / 2;
  const bw = BODY_W;
  c.beginPath();
  roundRectPath(c, bx, col.bodyTop, bw, col.bodyBottom - col.bodyTop, 9);
  c.fillStyle = hovered ? tint(kc, 0.8, ink.paper) : tint(kc, 0.9, ink.paper);
  c.fill();
  c.lineWidth = selected ? 2.5 : 1;
  c.strokeStyle = selected ? ink.select : tint(kc, 0.45, ink.paper);
  c.stroke();
  if (selected) {
    c.beginPath();
    roundRectPath(c, bx - 4, col.bodyTop - 4, bw + 8, col.bodyBottom - col.bodyTop + 8, 12);
    c.strokeStyle = ink.selectHalo;
    c.lineWidth = 3;
    c.stroke();
  }
  if (n.maps) paintTiles(vs, c, n, showText, st, px);
  const hoverNeuron = vs.hover && vs.hover.layer === n.id && vs.hover.neuron !== undefined ? vs.hover.neuron : -1;
  for (let k = 0; k < col.shown.length; k++) {
    c.beginPath();
    c.arc(col.cx, col.ys[k], R, 0, Math.PI * 2);
    c.fillStyle = col.fills[k] ?? ink.bg;
    c.fill();
    const hn = col.shown[k] === hoverNeuron;
    c.lineWidth = hn ? 2 : Math.max(1, 0.8 * px);
    c.strokeStyle = hn ? ink.strong : ink.ring;
    c.stroke();
  }
  if (showText) {
    c.textAlign = "center";
    c.textBaseline = "alphabetic";
    c.fillStyle = ink.text;
    c.font = F_NAME;
    c.fillText(n.name, col.cx, n.y + 12);
    c.fillStyle = ink.subtext;
    c.font = F_SUB;
    c.fillText(n.sub, col.cx, n.y + 25);
    if (col.image?.canvas && col.image.key) {
      const sc = Math.min(THUMB / col.image.w, THUMB / col.image.h);
      const tw = col.image.w * sc, th = col.image.h * sc;
      const x = col.cx - tw / 2, y = n.y + HEADER - 4 + (THUMB - th) / 2;
      c.imageSmoothingEnabled = false;
      c.drawImage(col.image.canvas, x, y, tw, th);
      c.imageSmoothingEnabled = true;
      c.lineWidth = 1;
      c.strokeStyle = ink.noneLine;
      c.strokeRect(x - 0.5, y - 0.5, tw + 1, th + 1);
      c.font = F_SMALL;
      c.fillStyle = ink.subtext;
      c.fillText(`sample ${st.sample}`, col.cx, y + th + 10);
    }
    if (col.moreY !== null) {
      c.font = F_SMALL;
      c.fillStyle = ink.subtext;
      c.fillText(`${col.shown.length} of ${fmtInt(col.total)}`, col.cx, col.moreY + 3);
    }
  } else if (compactFont) {
    c.textAlign = "center";
    c.textBaseline = "alphabetic";
    c.fillStyle = ink.text;
    c.font = compactFont;
    const label = compactLabel(n.layer.name, compactFont, Math.max(n.w, 80 * px));
    // a column with tiles: the name in its header, over them (haloed) when large
    if (label && n.maps) {
      c.textBaseline = "middle";
      haloText(c, label, col.cx, n.y + HEADER / 2 - 4, px, ink.halo);
      c.textBaseline = "alphabetic";
    } else if (label) c.fillText(label, col.cx, col.bodyTop - 3 * px);
  }
  for (const chip of col.chips) {
    const al = vs.store.layer(chip.layer);
    const ck = kindColor(vs.graphRef ?? vs.store.graph, al?.kind ?? "other");
    const sel = st.layer === chip.layer;
    const hov = vs.hover?.layer === chip.layer;
    c.beginPath();
    roundRectPath(c, chip.x, chip.y, chip.w, chip.h, chip.h / 2);
    c.fillStyle = tint(ck, hov ? 0.65 : 0.8, ink.paper);
    c.fill();
    c.lineWidth = sel ? 2.2 : 1;
    c.strokeStyle = sel ? ink.select : ck;
    c.stroke();
    if (showText || compactFont) {
      // zoomed out: the chip's text at the compact on-screen size, when it fits
      // (a little smaller than the names: a chip is narrower than its column's label)
      const font = showText ? F_CHIP : compactFont.replace(/^600 ([\d.]+)px/, (_, px: string) => `${Number(px) * 0.86}px`);
      const label = showText ? chip.label : compactLabel(chip.full, font, chip.w - 4);
      if (label) {
        c.fillStyle = ink.text;
        c.font = font;
        c.textAlign = "center";
        c.textBaseline = "middle";
        c.fillText(label, chip.x + chip.w / 2, chip.y + chip.h / 2 + 0.5);
        c.textBaseline = "alphabetic";
      }
    }
  }
  c.textAlign = "left";
}
