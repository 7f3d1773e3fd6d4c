// The 2D view's colors: connections and neurons in the current color mode (color/modes.ts),
// feature-map tiles and the probe thumbnail, health badges; rewritten on epoch / mode /
// selection changes only.
import { ColorTally, NAN_COLOR, css, diverging, sequential, type RGB } from "../color/scales";
import { layerBadges, onePerFlag, type Badge } from "../data/badges";
import { finiteRange, gridImage, inkGray, putImage, quantileAbs, resampledImage, rgbImage } from "../color/images";
import { featureMaps } from "../data/maps";
import { blockColoring, coloring as layerColoring, modeRange, modeValues, type LayerColoring } from "../color/modes";
import type { ViewState } from "../data/types";
import { channelOf } from "../layout/common";
import { STRIP_CELLS, type Column, type MapTiles, type NodeGeom, type Bucket, unitActivations } from "./geometry";
import { hostOf, type View2DState } from "./state";

// ---- colors (on epoch / mode / selection changes)
/** The probe sample's image above an input column (one small canvas, redrawn on change). */
export function updateThumb(vs: View2DState, n: NodeGeom, c: Column, st: ViewState): void {
  const img = c.image!;
  const a = vs.store.activation(n.id, st.epoch, st.sample);
  if (!a || a.index) {
    img.key = "";
    return;
  }
  const key = `${st.sample}|${a.values.byteOffset}|${a.values.length}`;
  if (key === img.key && img.canvas) return;
  img.key = key;
  const cv = img.canvas ?? (img.canvas = document.createElement("canvas"));
  cv.width = img.w;
  cv.height = img.h;
  const g = cv.getContext("2d");
  if (!g) return;
  const data = g.createImageData(img.w, img.h);
  const v = a.values;
  const planes = Math.max(1, Math.floor(v.length / (img.w * img.h)));
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < v.length; i++) if (Number.isFinite(v[i])) { lo = Math.min(lo, v[i]); hi = Math.max(hi, v[i]); }
  const span = hi > lo ? hi - lo : 1;
  const per = img.w * img.h;
  // channels first (torch) or last (Keras): RGB when 3 planes, else the first plane as ink
  const hwc = n.layer.output_shape.length === 3 && n.layer.output_shape[2] === planes && planes > 1;
  for (let p = 0; p < per; p++) {
    const o = 4 * p;
    if (planes === 3) {
      for (let k = 0; k < 3; k++) {
        const x = hwc ? v[p * 3 + k] : v[k * per + p];
        data.data[o + k] = Number.isFinite(x) ? Math.round(255 * ((x - lo) / span)) : 0;
      }
    } else {
      const x = v[p];
      const g8 = Number.isFinite(x) ? Math.round(255 * (0.97 - 0.9 * Math.min(1, Math.max(0, (x - lo) / span)))) : 0;
      data.data[o] = data.data[o + 1] = data.data[o + 2] = g8;
      if (!Number.isFinite(x)) { data.data[o] = 255; data.data[o + 2] = 255; }
    }
    data.data[o + 3] = 255;
  }
  g.putImageData(data, 0, 0);
}
/** A map source's scale across every epoch (so tiles compare while scrubbing). */
export function mapRange(vs: View2DState, layer: string): { lo: number; hi: number; abs: number } {
  let r = vs.mapRanges.get(layer);
  if (!r) {
    let lo = Infinity;
    let hi = -Infinity;
    const arrays: Float32Array[] = [];
    for (const snap of vs.store.snapshots) {
      const a = snap.acts.get(layer);
      if (!a) continue;
      const [l0, h0] = finiteRange(a.act);
      lo = Math.min(lo, l0);
      hi = Math.max(hi, h0);
      arrays.push(a.act);
    }
    r = { lo: Number.isFinite(lo) ? lo : 0, hi: Number.isFinite(hi) ? hi : 0, abs: quantileAbs(arrays, 0.99) };
    vs.mapRanges.set(layer, r);
  }
  return r;
}
/**
 * The tiles of the current sample and epoch (a layer's box or column): the atlas is rewritten
 * only when other maps are shown (another epoch or sample); values from the decoded snapshot,
 * colored as in the 3D view: signed maps diverging, non-negative ones (after a ReLU) sequential,
 * the probe image as ink; NaN in the NaN color.
 */
export function updateTiles(vs: View2DState, m: MapTiles, st: ViewState): void {
  const values = featureMaps(vs.store, m.source, st.epoch, st.sample);
  const per = m.mh * m.mw;
  if (!values || values.length < m.channels * per) {
    m.showing = false;
    return;
  }
  m.showing = true;
  if (m.canvas && m.buf === values.buffer && m.off === values.byteOffset) return;
  m.buf = values.buffer;
  m.off = values.byteOffset;
  const r = mapRange(vs, m.source);
  const color = m.input
    ? (v: number, out: RGB) => inkGray(v, r.lo, r.hi, out)
    : r.lo < 0
      ? (v: number, out: RGB) => diverging(v, r.abs, out)
      : (v: number, out: RGB) => sequential(v, r.abs, out);
  m.img = gridImage(m.atlas, (i, at) => {
    if (m.rgb) rgbImage(values, m.mh, m.mw, 0, at);
    else resampledImage(values, m.mh, m.mw, m.th, m.tw, color, i * per, at);
  }, m.img ?? undefined);
  putImage(m.canvas ?? (m.canvas = document.createElement("canvas")), m.img);
}
/** The values a column's neurons show in a mode: the sample's activation per unit (channel
 *  means of an image-shaped layer, one per column neuron), else the mode's per-neuron values. */
export function neuronValues(vs: View2DState, layer: string, st: ViewState): Float32Array | null {
  if (st.colorBy === "activation") return unitActivations(vs.store, layer, st.epoch, st.sample);
  return modeValues(vs.store, layer, st.epoch, st, "neurons");
}
export function neuronRange(vs: View2DState, layer: string, st: ViewState): number {
  if (st.colorBy !== "activation") return modeRange(vs.store, layer, st, "neurons");
  return vs.store.maxAbs(`${layer}|units|${st.sample}`, (s) => unitActivations(vs.store, layer, s.epoch, st.sample));
}
export function colorOf(vs: View2DState, c: LayerColoring, j: number, out: RGB): RGB | null {
  if (c.kind === "values") {
    if (j >= c.values.length) return null;
    return diverging(c.values[j], c.range, out);
  }
  if (c.kind === "scalar") return sequential(c.value, c.max, out);
  return null;
}
export function recolor(vs: View2DState): void {
  vs.dirtyColors = false;
  const st = vs.ctx.state();
  const selected = st.layer;
  const selHost = selected ? hostOf(vs, selected) : "";
  const selectedOwnsConns = vs.conns.some((s) => s.layer === selHost && s.n > 0);
  const rgb: RGB = [0, 0, 0];
  const map = new Map<string, Bucket>();
  const tally = new ColorTally();
  for (const set of vs.conns) {
    const coloring = layerColoring(vs.store, set.layer, st.epoch, st);
    const w = vs.store.weight(set.layer, st.epoch);
    const wr = modeRange(vs.store, set.layer, { colorBy: "weight" }) || 1;
    const dim = selectedOwnsConns && set.layer !== selHost;
    for (let q = 0; q < set.n; q++) {
      const j = set.j[q];
      let stroke = vs.ink.noneLine;
      let level = 0;
      const col = colorOf(vs, coloring, j, rgb);
      if (col) {
        // quantize so lines batch into a few paths
        if (coloring.kind === "values") {
          const v = coloring.values[j];
          if (!Number.isFinite(v)) {
            stroke = css(NAN_COLOR);
            level = 100;
          } else {
            const t = Math.round(Math.max(-1, Math.min(1, v / (coloring.range || 1))) * 24) / 24;
            stroke = css(diverging(t, 1, rgb));
            level = Math.abs(t) * 24;
          }
        } else {
          stroke = css(col);
          level = 12;
        }
      }
      const wv = w && j < w.length ? Math.abs(w[j]) : 0;
      const wt = Number.isFinite(wv) ? Math.min(1, wv / wr) : 1;
      const width = Math.round((0.5 + 2.6 * wt) * 4) / 4;
      const alpha = dim ? 0.18 : 0.85;
      const key = `${stroke}|${width}|${alpha}`;
      let b = map.get(key);
      if (!b) {
        b = { stroke, width, alpha, rank: (dim ? 0 : 1000) + level * 10 + width, path: new Path2D() };
        map.set(key, b);
      }
      b.path.moveTo(set.x1[q], set.y1[q]);
      b.path.lineTo(set.x2[q], set.y2[q]);
      tally.add(set.layer, stroke);
    }
  }
  vs.ctx.setData("connectionColors", tally.attr());
  vs.buckets = [...map.values()].sort((a, b) => a.rank - b.rank);
  // neuron fills: bias in the current mode, or the probe sample's activation (input columns:
  // the probe's pixels as ink on paper; white where nothing is recorded)
  const badges = new Map<string, Badge[]>();
  for (const b of layerBadges(vs.store, st.epoch)) {
    const host = hostOf(vs, b.layer);
    const list = badges.get(host);
    if (list) list.push(b);
    else badges.set(host, [b]);
  }
  const tiles: string[] = []; // "layer:tiles" of the layers showing feature maps
  for (const n of vs.nodes) {
    const block = vs.hier?.blocks.get(n.id);
    n.badges = block ? onePerFlag(badges.get(n.id) ?? []) : badges.get(n.id) ?? [];
    const c = n.column;
    if (c) {
      const b = neuronValues(vs, n.id, st);
      if (b && st.colorBy === "activation" && n.layer.kind === "input") {
        const [lo, hi] = finiteRange(b);
        c.fills = c.shown.map((idx) => {
          const v = b[idx];
          if (idx >= b.length) return vs.ink.bg;
          return css(inkGray(v, lo, hi));
        });
      } else {
        const range = b ? neuronRange(vs, n.id, st) : 0;
        // a dense layer applied per token: tokens x features neurons, one bias per feature
        const tiled = b && st.colorBy !== "activation" ? channelOf(n.layer, c.total, b.length, vs.store.graph.data_format) : null;
        c.fills = c.shown.map((idx) => {
          const j = tiled ? tiled(idx) : idx;
          return b && j < b.length ? css(diverging(b[j], range, rgb)) : vs.ink.bg;
        });
      }
    }
    if (c?.image) updateThumb(vs, n, c, st);
    if (n.maps) {
      updateTiles(vs, n.maps, st);
      if (n.maps.showing) tiles.push(`${n.id}:${n.maps.grid.n}`);
    }
    n.strip = [];
    if (block) {
      // a collapsed block: its aggregate in the mode (data/blocks.ts), one cell
      const col = blockColoring(vs.store, block.id, block.members, st.epoch, st);
      if (col.kind === "scalar") n.strip.push(css(sequential(col.value, col.max, rgb)));
    } else if (n.maps?.input) {
      // the probe image is the whole story: no strip
    } else if (!c && st.colorBy === "activation") {
      const a = unitActivations(vs.store, n.id, st.epoch, st.sample);
      if (a && a.length) {
        const range = neuronRange(vs, n.id, st);
        const m = Math.min(STRIP_CELLS, a.length);
        for (let k = 0; k < m; k++) n.strip.push(css(diverging(a[Math.floor(((k + 0.5) * a.length) / m)], range, rgb)));
      }
    } else if (!c && n.layer.params > 0) {
      const coloring = layerColoring(vs.store, n.id, st.epoch, st);
      if (coloring.kind === "values" && coloring.values.length) {
        const m = Math.min(STRIP_CELLS, coloring.values.length);
        for (let k = 0; k < m; k++) {
          const j = Math.floor(((k + 0.5) * coloring.values.length) / m);
          n.strip.push(css(diverging(coloring.values[j], coloring.range, rgb)));
        }
      } else if (coloring.kind === "scalar") {
        n.strip.push(css(sequential(coloring.value, coloring.max, rgb)));
      }
    }
  }
  vs.ctx.setData("featureMaps", tiles.join(","));
}
