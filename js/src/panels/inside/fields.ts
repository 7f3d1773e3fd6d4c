// The inside panel's per-neuron fields over the input plane (TF Playground's tiles).
import { h } from "../../util/dom";
import { fieldImage, makeImage, putImage } from "../../color/images";
import type { LayerInfo } from "../../data/types";
import { type Draw, FIELD_CSS, type InsideKit, type Part, fieldsAt, pxCanvas, sizeCss } from "./kit";

export function fieldsPart(k: InsideKit): Part | null {
  const { store, epochNow, avail, fieldRange, section } = k;
  const snap = fieldsAt(store, epochNow()) ?? store.snapshots.find((s) => s.fields.size) ?? null;
  if (!snap) return null;
  const layers = store.graph.layers;
  const order = new Map(layers.map((l, i) => [l.name, i]));
  const lastDense = layers.reduce((m, l, i) => (l.kind === "dense" ? i : m), -1);
  const succ = (name: string): LayerInfo[] =>
    store.graph.edges.filter(([a]) => a === name).map(([, b]) => store.layer(b)).filter((l): l is LayerInfo => !!l);
  const rows: { layer: LayerInfo; label: string }[] = [];
  for (const l of layers) {
    if (!snap.fields.has(l.name)) continue;
    const i = order.get(l.name) ?? 0;
    if (lastDense >= 0 && i > lastDense) continue; // after the last dense layer: the output
    if (l.kind === "dense") {
      const act = succ(l.name).find((x) => x.kind === "activation" && snap.fields.has(x.name));
      if (act) continue; // shown after its activation (what the next layer sees)
      rows.push({ layer: l, label: l.name });
    } else {
      const pre = store.graph.edges.find(([, b]) => b === l.name)?.[0];
      rows.push({ layer: l, label: pre && snap.fields.has(pre) ? `${pre} → ${l.name}` : l.name });
    }
  }
  if (!rows.length) return null;
  const res = snap.boundary?.meta.field_res ?? Math.round(Math.sqrt((snap.fields.get(rows[0].layer.name)?.length ?? 0) / Math.max(1, rows[0].layer.units ?? 1)));
  const { sec } = section("neurons over the input plane");
  const box = h("div", "nnviz-inside-fields");
  sec.appendChild(box);
  const draws: Draw[] = [];
  for (const { layer, label } of rows) {
    const name = h("div", "nnviz-inside-field-name", label);
    const tiles = h("div", "nnviz-inside-tiles");
    const f0 = snap.fields.get(layer.name)!;
    const units = Math.floor(f0.length / (res * res));
    const canvases: HTMLCanvasElement[] = [];
    // one row when it fits (tiles from 22 px up to FIELD_CSS), else wrap at FIELD_CSS
    const fit = Math.floor((avail() - 3 * (units - 1)) / Math.max(units, 1)) - 2;
    const tile = fit >= 22 ? Math.min(FIELD_CSS, fit) : FIELD_CSS;
    for (let u = 0; u < units; u++) {
      const c = pxCanvas("nnviz-inside-field");
      sizeCss(c, tile, tile);
      c.title = `${layer.name} · neuron ${u}`;
      tiles.appendChild(c);
      canvases.push(c);
    }
    box.append(name, tiles);
    const act = String(layer.detail?.activation ?? "").toLowerCase();
    const imgs = canvases.map(() => makeImage(res, res));
    draws.push(() => {
      const s = fieldsAt(store, epochNow());
      const f = s?.fields.get(layer.name);
      if (!f) return;
      let center = 0;
      let half = fieldRange(layer.name);
      if (act === "sigmoid" || act === "hard_sigmoid") [center, half] = [0.5, 0.5];
      else if (act === "tanh") half = 1;
      for (let u = 0; u < canvases.length && (u + 1) * res * res <= f.length; u++) {
        fieldImage(f, res, center, half, u * res * res, { img: imgs[u], x: 0, y: 0 });
        putImage(canvases[u], imgs[u]);
      }
    });
  }
  sec.appendChild(h("div", "nnviz-inside-note", "each tile: one neuron's output at every point of the plot above"));
  return { el: sec, draw: () => draws.forEach((d) => d()) };
}
