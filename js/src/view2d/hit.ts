// The 2D view's hit testing (what is under a point: a connection, a neuron, a tile, a box) and
// the tooltip rows for it.
import { mapTileAt } from "../layout/layout2d";
import { finiteRange } from "../color/images";
import { featureMaps } from "../data/maps";
import { colorMode, modeValues } from "../color/modes";
import type { TooltipRows } from "../data/view";
import { fmt, fmtInt, fmtShape } from "../util/format";
import { R, BODY_W, type ConnSet, type Hit, unitActivations, segDist2 } from "./geometry";
import { hostOf, type View2DState } from "./state";
import { blockRows } from "../data/blocks";

// ---- hit testing
export function hitTest(vs: View2DState, sx: number, sy: number): Hit | null {
  const x = (sx - vs.tx) / vs.zoom;
  const y = (sy - vs.ty) / vs.zoom;
  for (const n of vs.nodes) {
    const ch = n.maps ? mapTileAt(n.maps.grid, x - n.maps.gx, y - n.maps.gy) : -1;
    if (ch >= 0) return { layer: n.id, channel: ch };
  }
  for (const n of vs.nodes) {
    const col = n.column;
    if (!col) continue;
    for (const chip of col.chips) {
      if (x >= chip.x && x <= chip.x + chip.w && y >= chip.y && y <= chip.y + chip.h) return { layer: chip.layer };
    }
    if (Math.abs(x - col.cx) <= BODY_W / 2 && y >= col.bodyTop - 2 && y <= col.bodyBottom + 2) {
      let best = -1;
      let bd = Infinity;
      for (let k = 0; k < col.ys.length; k++) {
        const d = Math.abs(col.ys[k] - y);
        if (d < bd) {
          bd = d;
          best = k;
        }
      }
      if (best >= 0 && bd <= R + 2 && Math.abs(x - col.cx) <= R + 2) return { layer: n.id, neuron: col.shown[best] };
      return { layer: n.id };
    }
    // the label above the column
    if (x >= n.x && x <= n.x + n.w && y >= n.y && y < col.bodyTop) return { layer: n.id };
  }
  for (const n of vs.nodes) {
    if (!n.column && x >= n.x && x <= n.x + n.w && y >= n.y && y <= n.y + n.h) return { layer: n.id };
  }
  const tol = Math.max(3, 5 / vs.zoom);
  let best: { set: ConnSet; k: number } | null = null;
  let bd = tol * tol;
  for (const set of vs.conns) {
    if (!set.n || x < set.x1[0] - tol || x > set.x2[0] + tol) continue;
    for (let k = 0; k < set.n; k++) {
      const d = segDist2(x, y, set.x1[k], set.y1[k], set.x2[k], set.y2[k]);
      if (d < bd) {
        bd = d;
        best = { set, k };
      }
    }
  }
  if (best) return { layer: best.set.layer, conn: best };
  return null;
}
export function tooltipFor(vs: View2DState, h: Hit): [string, TooltipRows] {
  const st = vs.ctx.state();
  const block = vs.hier?.blocks.get(h.layer);
  if (block) return [block.label, blockRows(vs.store, st.epoch, block)];
  const l = vs.store.layer(h.layer);
  const snap = vs.store.at(st.epoch);
  const label = snap?.label ?? "";
  if (h.conn) {
    const { set, k } = h.conn;
    const rows: TooltipRows = [
      ["from", `${set.src} · neuron ${set.i[k]}`],
      ["to", `${set.layer} · neuron ${set.o[k]}`],
    ];
    const w = vs.store.weight(set.layer, st.epoch);
    if (w) rows.push(["weight", fmt(w[set.j[k]], 4)]);
    if (st.colorBy !== "weight") {
      const v = modeValues(vs.store, set.layer, st.epoch, st);
      rows.push([colorMode(st.colorBy)?.label(st, "connections") ?? st.colorBy, v ? fmt(v[set.j[k]], 4) : "not recorded"]);
    }
    if (label) rows.push(["at", label]);
    return [`${set.layer} · weight [${set.o[k]}, ${set.i[k]}]`, rows];
  }
  const m = vs.nodeById.get(h.layer)?.maps;
  if (m && h.channel !== undefined) {
    // one feature-map tile: the channel's map for the sample
    const rows: TooltipRows = [["channel", `${h.channel} of ${fmtInt(m.channels)}`], ["map", `${m.mh}×${m.mw} · sample ${st.sample}`]];
    if (m.source !== h.layer) rows.push(["after", m.source]);
    const v = m.showing ? featureMaps(vs.store, m.source, st.epoch, st.sample) : null;
    const per = m.mh * m.mw;
    if (v && v.length >= (h.channel + 1) * per) {
      let sum = 0;
      let k = 0;
      let nan = 0;
      for (let i = h.channel * per; i < (h.channel + 1) * per; i++) {
        if (Number.isFinite(v[i])) {
          sum += v[i];
          k++;
        } else nan++;
      }
      const [lo, hi] = finiteRange(v, h.channel * per, per);
      rows.push(["mean", k ? fmt(sum / k, 4) : "—"], ["range", `${fmt(lo, 3)} … ${fmt(hi, 3)}`]);
      if (nan) rows.push(["NaN / Inf", fmtInt(nan)]);
    } else rows.push(["map", `not kept for sample ${st.sample}`]);
    if (label) rows.push(["at", label]);
    return [m.rgb ? `${h.layer} · sample ${st.sample}` : `${h.layer} · channel ${h.channel}`, rows];
  }
  const rows: TooltipRows = [];
  if (l) {
    rows.push(["kind", l.kind], ["op", l.op], ["output", fmtShape(l.output_shape)], ["params", fmtInt(l.params)]);
    if (l.units !== null) rows.push(["units", fmtInt(l.units)]);
  }
  if (m && h.neuron === undefined) {
    const what = m.input ? "probe image" : "feature maps";
    rows.push([what, m.showing
      ? `${m.input ? "" : `${m.grid.n} of ${fmtInt(m.channels)} channels · `}sample ${st.sample}${m.source !== h.layer ? ` · after ${m.source}` : ""}`
      : `not kept for sample ${st.sample}`]);
  }
  if (h.neuron !== undefined) {
    const b = vs.store.weight(h.layer, st.epoch, "bias");
    rows.unshift(["neuron", `${h.neuron} of ${fmtInt(vs.nodeById.get(h.layer)?.column?.total ?? 0)}`]);
    if (b && h.neuron < b.length) rows.push(["bias", fmt(b[h.neuron], 4)]);
    const a = unitActivations(vs.store, h.layer, st.epoch, st.sample);
    if (a && h.neuron < a.length) rows.push([`activation (sample ${st.sample})`, fmt(a[h.neuron], 4)]);
    if (label) rows.push(["at", label]);
    return [h.layer, rows];
  }
  const dn = vs.dg?.nodes.find((d) => d.id === h.layer);
  if (dn && dn.attached.length) rows.push(["then", dn.attached.map((a) => vs.store.layer(a)?.op ?? a).join(" → ")]);
  for (const b of vs.nodeById.get(hostOf(vs, h.layer))?.badges ?? []) rows.push(["health", b.title]);
  const host = vs.dg?.hostOf.get(h.layer);
  if (host && host !== h.layer) rows.push(["applied to", host]);
  return [h.layer, rows];
}
