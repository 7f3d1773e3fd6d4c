// The 2D view's picture: one frame of edges, neuron connections, nodes (boxes, columns, tiles,
// labels) and health tags, drawn from the state record under its pan / zoom.
import { kindColor } from "../data/kinds";
import { nodeLabel } from "../layout/hierarchy";
import { FONT, F_NAME, F_SUB, MAP_TOP, STRIP_H, compactLabel, roundRectPath, tint } from "./geometry";
import { haloText, paintBadges, paintColumn, paintTiles } from "./paint";
import { hostOf, type View2DState } from "./state";

/** How long (ms) nodes an expand / collapse just showed take to fade in. */
export const FADE_MS = 320;

/** Draw the whole view on `c` (canvas pixels); true while nodes are still fading in (draw again). */
export function drawScene(vs: View2DState, c: CanvasRenderingContext2D): boolean {
  const { canvas, ctx, store } = vs;
  c.setTransform(1, 0, 0, 1, 0, 0);
  c.clearRect(0, 0, canvas.width, canvas.height);
  const ink = vs.ink;
  c.fillStyle = ink.bg;
  c.fillRect(0, 0, canvas.width, canvas.height);
  c.setTransform(vs.dpr * vs.zoom, 0, 0, vs.dpr * vs.zoom, vs.dpr * vs.tx, vs.dpr * vs.ty);
  const st = ctx.state();
  const selHost = st.layer ? hostOf(vs, st.layer) : "";
  const hoverHost = vs.hover ? vs.hover.layer && hostOf(vs, vs.hover.layer) : "";
  // viewport in world coords (for culling)
  const vx0 = -vs.tx / vs.zoom;
  const vy0 = -vs.ty / vs.zoom;
  const vx1 = (vs.cssW - vs.tx) / vs.zoom;
  const vy1 = (vs.cssH - vs.ty) / vs.zoom;
  const visible = (x: number, y: number, w: number, h: number) => x + w >= vx0 && x <= vx1 && y + h >= vy0 && y <= vy1;
  const px = 1 / vs.zoom; // one screen pixel in world units

  // edges (not those replaced by neuron connections)
  const neuronEdge = new Set(vs.conns.filter((s) => s.n > 0).map((s) => `${s.src}\u0000${s.layer}`));
  c.lineCap = "round";
  for (const e of vs.edgePaths) {
    if (neuronEdge.has(`${e.route.from}\u0000${e.route.to}`)) continue;
    const hi = selHost !== "" && (e.route.from === selHost || e.route.to === selHost);
    c.strokeStyle = hi ? ink.edgeHi : ink.edge;
    c.fillStyle = hi ? ink.edgeHi : ink.edge;
    c.lineWidth = Math.max(hi ? 2 : 1.4, (hi ? 1.6 : 1) * px);
    c.stroke(e.path);
    c.fill(e.arrow);
  }
  // neuron connections
  for (const b of vs.buckets) {
    c.globalAlpha = b.alpha;
    c.strokeStyle = b.stroke;
    c.lineWidth = Math.max(b.width, 0.6 * px);
    c.stroke(b.path);
  }
  c.globalAlpha = 1;
  if (vs.hover?.conn) {
    const { set, k } = vs.hover.conn;
    c.strokeStyle = ink.strong;
    c.lineWidth = Math.max(2.5, 2 * px);
    c.beginPath();
    c.moveTo(set.x1[k], set.y1[k]);
    c.lineTo(set.x2[k], set.y2[k]);
    c.stroke();
  }

  // nodes an expand / collapse just showed fade in over FADE_MS
  const fresh = vs.reveal.ids;
  const fade = fresh.size ? Math.min(1, 0.15 + (performance.now() - vs.reveal.t0) / FADE_MS) : 1;
  if (fade >= 1) fresh.clear();
  // full labels from zoom 0.75; below that, names only, at a constant on-screen size
  const showText = vs.zoom >= 0.75;
  const compactText = !showText && vs.zoom >= 0.2;
  const compactFont = `600 ${10.5 / vs.zoom}px ${FONT}`;
  for (const n of vs.nodes) {
    if (!visible(n.x - 10, n.y - 10, n.w + 20, n.h + 20)) continue;
    c.globalAlpha = fresh.has(n.id) ? fade : 1;
    const selected = n.id === selHost;
    const hovered = n.id === hoverHost;
    const kc = kindColor(vs.graphRef ?? store.graph, n.layer.kind);
    if (n.column) paintColumn(vs, c, n, selected, hovered, showText, compactText ? compactFont : "", st, px);
    else {
      c.beginPath();
      roundRectPath(c, n.x, n.y, n.w, n.h, 7);
      c.fillStyle = tint(kc, hovered ? 0.74 : 0.84, ink.paper);
      c.fill();
      c.lineWidth = selected ? 2.5 : 1.2;
      c.strokeStyle = selected ? ink.select : kc;
      c.stroke();
      // kind accent
      c.save();
      c.beginPath();
      roundRectPath(c, n.x, n.y, n.w, n.h, 7);
      c.clip();
      c.fillStyle = kc;
      c.fillRect(n.x, n.y, 5, n.h);
      if (n.strip.length) {
        const sx = n.x + 12;
        const sw = n.w - 20;
        const sy = n.y + n.h - STRIP_H - 5;
        const cw = sw / n.strip.length;
        for (let k = 0; k < n.strip.length; k++) {
          c.fillStyle = n.strip[k];
          c.fillRect(sx + k * cw, sy, cw + 0.3, STRIP_H);
        }
      }
      c.restore();
      if (n.maps) paintTiles(vs, c, n, showText, st, px);
      if (showText) {
        c.fillStyle = ink.text;
        c.font = F_NAME;
        c.textBaseline = "alphabetic";
        c.textAlign = "left";
        c.fillText(n.name, n.x + 13, n.y + 18);
        c.fillStyle = ink.subtext;
        c.font = F_SUB;
        c.fillText(n.sub, n.x + 13, n.y + 33);
      } else if (compactText) {
        c.fillStyle = ink.text;
        c.font = compactFont;
        c.textBaseline = "middle";
        c.textAlign = "left";
        const label = compactLabel(nodeLabel(n.layer), compactFont, n.w - 16);
        // a box with tiles: the name in its header (haloed where it runs over the tiles)
        if (label && n.maps) haloText(c, label, n.x + 10, n.y + MAP_TOP / 2, px, ink.halo);
        else if (label) c.fillText(label, n.x + 10, n.y + (n.h - (n.strip.length ? STRIP_H + 5 : 0)) / 2);
        c.textBaseline = "alphabetic";
      }
      if (selected) {
        c.beginPath();
        roundRectPath(c, n.x - 4, n.y - 4, n.w + 8, n.h + 8, 10);
        c.strokeStyle = ink.selectHalo;
        c.lineWidth = 3;
        c.stroke();
      }
    }
  }
  c.globalAlpha = 1;
  // health tags (after every node, so none is hidden under a neighbour)
  if (vs.zoom >= 0.3) {
    for (const n of vs.nodes) {
      if (n.badges.length && visible(n.x - 20, n.y - 24, n.w + 40, n.h + 24)) paintBadges(c, n, ink.bg);
    }
  }
  return fade < 1;
}
