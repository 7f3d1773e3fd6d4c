// The 3D view's picking: what is under the pointer (a neuron, a layer's box or channel plane, a
// connection) and the tooltip that describes it.
import { Raycaster, Vector2, type Intersection, type PerspectiveCamera, type Vector3 } from "three";
import { colorMode, modeValues } from "../color/modes";
import { layerBadges } from "../data/badges";
import { blockRows } from "../data/blocks";
import { featureMaps } from "../data/maps";
import type { Store } from "../data/store";
import type { LayerInfo } from "../data/types";
import type { TooltipRows, ViewContext } from "../data/view";
import type { LayerBox } from "../layout/layout3d";
import { fmt, fmtInt, fmtShape } from "../util/format";
import type { Built } from "./geometry";

export type Pick =
  | { kind: "neuron"; layer: number; neuron: number }
  | { kind: "box"; layer: number; channel?: number }
  | { kind: "conn"; seg: number }
  | null;

const raycaster = new Raycaster();
const ndc = new Vector2();

/** What is under the client point: neurons first, then the nearest box or the strongest line in front of it. */
export function pick(built: Built, canvas: HTMLCanvasElement, camera: PerspectiveCamera, target: Vector3, clientX: number, clientY: number): Pick {
  const rect = canvas.getBoundingClientRect();
  if (rect.width <= 0 || rect.height <= 0) return null;
  ndc.set(((clientX - rect.left) / rect.width) * 2 - 1, -((clientY - rect.top) / rect.height) * 2 + 1);
  camera.updateMatrixWorld();
  raycaster.setFromCamera(ndc, camera);
  const dist = camera.position.distanceTo(target);
  raycaster.params.Line = { threshold: Math.max(0.02, dist * 0.0035) };
  if (built.neurons) {
    const hit = raycaster.intersectObject(built.neurons, false)[0];
    if (hit && hit.instanceId !== undefined) {
      return { kind: "neuron", layer: built.neuronLayer[hit.instanceId], neuron: built.neuronIndex[hit.instanceId] };
    }
  }
  // nearest box; transparent ones (slabs, plates, channel planes) lose to lines in front of them
  let solidHit: Intersection | null = null;
  let boxHit: Intersection | null = null;
  let boxPick: Pick = null;
  for (const mesh of [built.solids, built.glass, built.slabs]) {
    if (!mesh) continue;
    const hit = raycaster.intersectObject(mesh, false)[0];
    if (!hit || hit.instanceId === undefined) continue;
    if (mesh === built.solids) solidHit = hit;
    if (!boxHit || hit.distance < boxHit.distance) {
      boxHit = hit;
      boxPick = { kind: "box", layer: built.instLayer.get(mesh)![hit.instanceId] };
    }
  }
  // textured channel planes are opaque: they hide the lines behind them
  for (const m of built.maps) {
    const hit = raycaster.intersectObject(m.mesh, false)[0];
    if (!hit) continue;
    if (!solidHit || hit.distance < solidHit.distance) solidHit = hit;
    if (!boxHit || hit.distance < boxHit.distance) {
      boxHit = hit;
      boxPick = { kind: "box", layer: m.box.index, channel: hit.faceIndex !== undefined && hit.faceIndex !== null ? Math.floor(hit.faceIndex / 2) : undefined };
    }
  }
  if (built.lines) {
    const hits = raycaster.intersectObject(built.lines, false);
    // prefer the strongest (drawn last) of the segments under the pointer
    let seg = -1;
    let segDist = Infinity;
    for (const hit of hits) {
      const s = hit.index !== undefined ? Math.floor(hit.index / 2) : -1;
      if (s > seg) {
        seg = s;
        segDist = hit.distance;
      }
    }
    if (seg >= 0 && (!solidHit || segDist < solidHit.distance)) return { kind: "conn", seg };
  }
  return boxPick;
}

/** The name of the layer a pick belongs to ("" for none). */
export function pickedLayer(built: Built | null, p: Pick): string {
  if (!p || !built) return "";
  return p.kind === "conn" ? built.graph.layers[built.conn.layer[p.seg]].name : built.graph.layers[p.layer].name;
}

function layerRows(store: Store, epoch: number, info: LayerInfo, box: LayerBox | undefined): TooltipRows {
  const rows: TooltipRows = [
    ["kind", info.op && info.op !== info.kind ? `${info.kind} (${info.op})` : info.kind],
    ["output", fmtShape(info.output_shape)],
    ["params", fmtInt(info.params)],
  ];
  if (box?.planes && box.planes.drawn < box.planes.total) rows.push(["channels", `${box.planes.total} (${box.planes.drawn} drawn)`]);
  const st = store.at(epoch)?.stats[info.name];
  if (st) {
    rows.push(["|W|", fmt(st.norm)]);
    if (st.grad_norm !== null && st.grad_norm !== undefined) rows.push(["|grad|", fmt(st.grad_norm)]);
    if (st.update_ratio !== null && st.update_ratio !== undefined) rows.push(["update", fmt(st.update_ratio)]);
    if (st.nonfinite) rows.push(["NaN/Inf", fmtInt(st.nonfinite)]);
  }
  return rows;
}

/** The tooltip for a pick at client point (x, y); hidden for none. */
export function showPick(ctx: ViewContext, built: Built | null, p: Pick, x: number, y: number): void {
  if (!built || !p) {
    ctx.hideTooltip();
    return;
  }
  const store = ctx.store;
  const st = ctx.state();
  const graph = built.graph;
  if (p.kind === "conn") {
    const conn = built.conn;
    const li = conn.layer[p.seg];
    const name = graph.layers[li].name;
    const vi = conn.value[p.seg];
    const w = store.weight(name, st.epoch)?.[vi];
    const rows: TooltipRows = [["weight", fmt(w)]];
    if (st.colorBy !== "weight") {
      const v = modeValues(store, name, st.epoch, st)?.[vi];
      if (v !== undefined) rows.push([colorMode(st.colorBy)?.label(st, "connections") ?? st.colorBy, fmt(v)]);
    }
    rows.push(["from", graph.neuron_source[name] ?? "?"]);
    const label = store.at(st.epoch)?.label;
    if (label) rows.push(["epoch", label]);
    ctx.showTooltip(x, y, `${name}: in ${conn.src[p.seg]} → out ${conn.dst[p.seg]}, w = ${fmt(w)}`, rows);
    return;
  }
  const info = graph.layers[p.layer];
  const block = built.hier.blocks.get(info.name);
  if (block) {
    ctx.showTooltip(x, y, block.label, blockRows(store, st.epoch, block));
    return;
  }
  const box = built.layout.boxes[p.layer];
  const rows = layerRows(store, st.epoch, info, box);
  if (p.kind === "box" && p.channel !== undefined) {
    rows.unshift(["channel", String(p.channel)]);
    const m = built.maps.find((q) => q.box === box);
    const v = m?.showing ? featureMaps(store, m.source, st.epoch, st.sample) : null;
    if (m && v) {
      if (m.source !== info.name) rows.splice(1, 0, ["maps", `after ${m.source}`]);
      const per = m.mh * m.mw;
      let sum = 0, n = 0;
      for (let i = p.channel * per; i < (p.channel + 1) * per && i < v.length; i++) if (Number.isFinite(v[i])) { sum += v[i]; n++; }
      rows.splice(1, 0, ["mean act.", `${fmt(n ? sum / n : NaN)} (sample ${st.sample})`]);
    }
  }
  for (const b of layerBadges(store, st.epoch)) {
    if ((built.badgeHost.get(b.layer) ?? b.layer) === info.name) rows.push(["health", b.title]);
  }
  if (p.kind === "neuron") {
    rows.unshift(["neuron", String(p.neuron)]);
    if (box.grid && box.kind === "input" && box.grid.rows > 1) {
      rows.splice(1, 0, ["pixel", `row ${Math.floor(p.neuron / box.grid.cols)}, col ${p.neuron % box.grid.cols}`]);
    }
    const vals = modeValues(store, info.name, st.epoch, st, "neurons");
    if (vals && p.neuron < vals.length) rows.splice(1, 0, [colorMode(st.colorBy)?.label(st, "neurons") ?? st.colorBy, fmt(vals[p.neuron])]);
  }
  ctx.showTooltip(x, y, info.name, rows);
}
