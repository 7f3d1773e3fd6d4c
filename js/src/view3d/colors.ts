// The 3D view's colors for one view state: neurons (bias / delta / gradient, or the probe image on
// the input), boxes (kind colors, tinted in delta / gradient modes) and connections. Only color
// attributes are rewritten: scrubbing epochs costs no geometry.
import { BufferAttribute, Color } from "three";
import { blockColoring, coloring, modeRange, modeValues, type LayerColoring } from "../color/modes";
import { NAN_COLOR, diverging, rgbKey, scales, sequential, type ColorTally, type RGB } from "../color/scales";
import { kindColor } from "../data/kinds";
import type { Store } from "../data/store";
import type { ViewState } from "../data/types";
import { channelOf } from "../layout/common";
import { NEUTRAL_NEURON, hexRGB, mix, srgbEncode, type Built } from "./geometry";

/** Write the colors of `built` for `st`; `tally` (when given) counts the connections' colors per layer. */
export function writeColors(store: Store, built: Built, st: ViewState, tally: ColorTally | null): void {
  const { graph, layout } = built;
  const selIdx = st.layer ? layout.byName.get(st.layer)?.index ?? -1 : -1;
  const c = new Color();
  const rgb: RGB = [0, 0, 0];

  // neurons: bias (or its delta / gradient) on the diverging scale
  if (built.neurons) {
    const attr = built.neurons.geometry.getAttribute("ncolor") as BufferAttribute;
    const out = attr.array as Float32Array;
    for (const [li, start] of built.neuronStart) {
      const box = layout.boxes[li];
      const name = graph.layers[li].name;
      const vals = modeValues(store, name, st.epoch, st, "neurons");
      const range = vals ? modeRange(store, name, st, "neurons") : 0;
      const n = box.grid!.count;
      const base = box.kind === "input" ? NEUTRAL_NEURON : mix(NEUTRAL_NEURON, hexRGB(kindColor(graph, box.kind)), 0.35);
      // the input layer in "activation" mode shows the probe image itself: dark ink on paper
      const image = st.colorBy === "activation" && box.kind === "input" && vals !== null;
      let lo = 0, span = 1;
      if (image) {
        let a = Infinity, b = -Infinity;
        for (let i = 0; i < vals!.length; i++) {
          const v = vals![i];
          if (Number.isFinite(v)) { if (v < a) a = v; if (v > b) b = v; }
        }
        lo = Number.isFinite(a) ? a : 0;
        span = b > a ? b - a : 1;
      }
      // a dense layer applied per token has n = tokens x features neurons and one bias per feature
      const tiled = vals && st.colorBy !== "activation" ? channelOf(graph.layers[li], n, vals.length, graph.data_format) : null;
      for (let i = 0; i < n; i++) {
        if (vals && (tiled || i < vals.length)) {
          if (image) {
            const v = vals[i];
            if (!Number.isFinite(v)) { rgb[0] = NAN_COLOR[0]; rgb[1] = NAN_COLOR[1]; rgb[2] = NAN_COLOR[2]; }
            else rgb[0] = rgb[1] = rgb[2] = 0.96 - 0.9 * Math.min(1, Math.max(0, (v - lo) / span));
          } else diverging(vals[tiled ? tiled(i) : i], range, rgb);
        } else { rgb[0] = base[0]; rgb[1] = base[1]; rgb[2] = base[2]; }
        const o = 12 * (start + i);
        for (let v = 0; v < 12; v += 3) {
          out[o + v] = rgb[0]; out[o + v + 1] = rgb[1]; out[o + v + 2] = rgb[2];
        }
      }
    }
    attr.needsUpdate = true;
  }

  // boxes: kind colors; in delta / gradient modes tinted by how much the layer moves
  for (const [mesh, layers] of built.instLayer) {
    const base = built.instBase.get(mesh)!;
    const tintCache = new Map<number, RGB | null>();
    for (let i = 0; i < layers.length; i++) {
      const li = layers[i];
      let tint = tintCache.get(li);
      if (tint === undefined) {
        const name = graph.layers[li].name;
        const block = built.hier.blocks.get(name);
        // a collapsed block: its aggregate in every mode (data/blocks.ts), the kind color where none
        tint = block ? blockTint(store, block.id, block.members, st) : st.colorBy === "weight" ? null : layerTint(store, name, st);
        tintCache.set(li, tint);
      }
      const col = tint ?? base[i];
      mesh.setColorAt(i, c.setRGB(col[0], col[1], col[2]));
    }
    mesh.instanceColor!.needsUpdate = true;
  }

  // connections
  if (built.lines) {
    const conn = built.conn;
    const attr = built.lines.geometry.getAttribute("color") as BufferAttribute;
    const out = attr.array as Float32Array;
    const per = new Map<number, LayerColoring>();
    for (let j = 0; j < conn.count; j++) {
      const li = conn.layer[j];
      let col = per.get(li);
      if (!col) {
        col = coloring(store, graph.layers[li].name, st.epoch, st);
        per.set(li, col);
      }
      let alpha: number;
      if (col.kind === "values") {
        const v = col.values[conn.value[j]];
        diverging(v, col.range, rgb);
        if (!Number.isFinite(v)) alpha = 1;
        else {
          const t = col.range > 0 ? Math.min(1, Math.abs(v) / col.range) : 0;
          alpha = 0.08 + 0.8 * Math.sqrt(t);
        }
      } else if (col.kind === "scalar") {
        sequential(col.value, col.max, rgb);
        alpha = 0.35;
      } else {
        const z = scales().zero;
        const k = scales().dark ? 1.25 : 0.8; // a little away from the background
        rgb[0] = z[0] * k; rgb[1] = z[1] * k; rgb[2] = z[2] * k;
        alpha = 0.2;
      }
      if (selIdx >= 0) alpha = li === selIdx ? Math.min(1, alpha * 1.3 + 0.1) : alpha * 0.18;
      tally?.add(graph.layers[li].name, rgbKey(rgb));
      const o = 8 * j;
      out[o] = out[o + 4] = srgbEncode(rgb[0]);
      out[o + 1] = out[o + 5] = srgbEncode(rgb[1]);
      out[o + 2] = out[o + 6] = srgbEncode(rgb[2]);
      out[o + 3] = out[o + 7] = alpha;
    }
    attr.needsUpdate = true;
  }
}

/** A block's color: its mode value on the sequential scale (its range fixed over epochs), from a
 *  quarter of the way up, so a block at the low end still stands out from the background. */
export function blockTint(store: Store, id: string, members: readonly string[], st: ViewState): RGB | null {
  const col = blockColoring(store, id, members, st.epoch, st);
  if (col.kind !== "scalar") return null;
  if (!Number.isFinite(col.value)) return [...NAN_COLOR] as RGB;
  return sequential(0.25 * col.max + 0.75 * Math.max(0, col.value), col.max);
}

/** A layer's color in delta / gradient modes: sequential by the RMS of its values, or its scalar. */
function layerTint(store: Store, name: string, st: ViewState): RGB | null {
  const col = coloring(store, name, st.epoch, st);
  if (col.kind === "scalar") return sequential(col.value, col.max);
  if (col.kind === "values") {
    const v = col.values;
    let s = 0, n = 0, bad = 0;
    for (let i = 0; i < v.length; i++) {
      if (Number.isFinite(v[i])) { s += v[i] * v[i]; n++; } else bad++;
    }
    if (bad) return [...NAN_COLOR] as RGB;
    const rms = n ? Math.sqrt(s / n) : 0;
    return sequential(rms, col.range * 0.5);
  }
  return null;
}
