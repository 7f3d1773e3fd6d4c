// The 3D view's layer labels: HTML in screen space (textContent only), their health badges, and
// greedy overlap removal by priority.
import { Vector3, type PerspectiveCamera } from "three";
import { layerBadges, onePerFlag, type Badge } from "../data/badges";
import { kindInfo } from "../data/kinds";
import type { Store } from "../data/store";
import type { GraphInfo, LayerInfo } from "../data/types";
import type { LayerBox } from "../layout/layout3d";
import { h } from "../util/dom";
import { fmtCount, fmtInt } from "../util/format";
import { BLOCK_KIND, nodeLabel } from "../layout/hierarchy";
import type { Built, LabelEl } from "./geometry";

/** The small line under a layer's name: its shape and channels shown, kind and size, or its op. */
export function labelSub(graph: GraphInfo, info: LayerInfo, box: LayerBox): string {
  if (info.kind === BLOCK_KIND) return `${fmtInt(info.units ?? 0)} layers · ${fmtCount(info.params)} params`;
  if (box.planes) {
    const p = box.planes;
    const s = info.output_shape.filter((x) => x !== null).join("×");
    return p.drawn < p.total ? `${s} · ${p.drawn} of ${p.total} ch shown` : s;
  }
  if (box.grid) return `${info.kind} · ${fmtInt(box.grid.count)}`;
  if (kindInfo(graph, info.kind).pass_through) return info.op;
  return info.op || info.kind;
}

/** One hidden label per box, added to `layer` (placed later by `placeLabels`). */
export function makeLabels(graph: GraphInfo, boxes: LayerBox[], withSub: boolean, layer: HTMLElement): LabelEl[] {
  return boxes.map((box) => {
    const info = graph.layers[box.index];
    const lab = h("div", "nnviz-label");
    const block = info.kind === BLOCK_KIND;
    lab.appendChild(h("span", "nnviz-label-name", nodeLabel(info)));
    const sub = labelSub(graph, info, box);
    if (sub && (withSub || block)) lab.appendChild(h("span", "nnviz-label-sub", sub));
    if (block) {
      lab.classList.add("nnviz-label-block");
      lab.title = `${info.name}: click the block to expand it`; // (a roll-up: its first block)
    }
    const badges = h("div", "nnviz-label-badges");
    badges.style.display = "none";
    lab.appendChild(badges);
    lab.style.display = "none";
    lab.dataset.layer = info.name;
    layer.appendChild(lab);
    return { box, el: lab, badges, badgeKey: "", w: 0, h: 0 };
  });
}

/** Health tags on the labels (text only changes when the flags do: cheap while scrubbing). */
export function updateBadges(store: Store, built: Built, epoch: number): void {
  const byHost = new Map<string, Badge[]>();
  for (const b of layerBadges(store, epoch)) {
    const host = built.badgeHost.get(b.layer) ?? b.layer;
    const list = byHost.get(host);
    if (list) list.push(b);
    else byHost.set(host, [b]);
  }
  for (const l of built.labels) {
    let list = byHost.get(l.box.name) ?? [];
    if (built.hier.blocks.has(l.box.name)) list = onePerFlag(list);
    const key = list.map((b) => `${b.layer}:${b.text}`).join("|");
    if (key === l.badgeKey) continue;
    l.badgeKey = key;
    l.badges.replaceChildren();
    for (const b of list) {
      const tag = h("span", `nnviz-badge nnviz-badge-${b.badge}`, b.text);
      tag.style.background = b.bg;
      tag.style.color = b.fg;
      tag.title = b.title;
      l.badges.appendChild(tag);
    }
    l.badges.style.display = list.length ? "" : "none";
    l.el.dataset.badges = list.map((b) => `${b.layer}:${b.badge}`).join(",");
    l.w = 0; // measure again
  }
}

const v3 = new Vector3();

/** Overlap tests against the labels placed so far, through a grid of screen cells (a scan of
 * every placed label per candidate is quadratic: minutes for 10,000 layers). */
export class RectGrid {
  private cells = new Map<number, [number, number, number, number][]>();
  constructor(private cell = 64) {}
  private *keys(r: readonly number[]): Generator<number> {
    const c = this.cell;
    for (let gx = Math.floor(r[0] / c); gx <= Math.floor(r[2] / c); gx++)
      for (let gy = Math.floor(r[1] / c); gy <= Math.floor(r[3] / c); gy++) yield gx * 65536 + gy;
  }
  hits(r: readonly number[]): boolean {
    for (const k of this.keys(r))
      for (const p of this.cells.get(k) ?? []) if (r[0] < p[2] && r[2] > p[0] && r[1] < p[3] && r[3] > p[1]) return true;
    return false;
  }
  add(r: [number, number, number, number]): void {
    for (const k of this.keys(r)) {
      const list = this.cells.get(k);
      if (list) list.push(r);
      else this.cells.set(k, [r]);
    }
  }
}

/** A label's size before it is measured, from its text: on the small side (narrow glyphs), so
 * a label whose estimate overlaps a placed one would not fit either and is skipped without the
 * layout that measuring costs. */
export function estimateLabel(name: string, sub: string, badges: boolean): [number, number] {
  const w = Math.max(name.length * 5.5, sub.length * 4.5) + 10;
  return [w, 15 + (sub ? 12 : 0) + (badges ? 14 : 0)];
}

const shownNow = new WeakSet<LabelEl>(); // labels displayed: the DOM is touched on change only
const estimates = new WeakMap<LabelEl, [number, number]>();

function estimate(l: LabelEl): [number, number] {
  let e = estimates.get(l);
  if (!e) {
    const name = l.el.firstChild?.textContent ?? "";
    const sub = l.el.children.length > 2 ? (l.el.children[1].textContent ?? "") : "";
    e = estimateLabel(name, sub, false);
    estimates.set(l, e);
  }
  return e;
}

/** Labels measured together: one layout for the batch, not one per label. */
const MEASURE_BATCH = 256;

function measure(batch: LabelEl[]): void {
  for (const l of batch) {
    l.el.style.display = "";
    shownNow.add(l);
  }
  for (const l of batch) {
    l.w = l.el.offsetWidth || 60; // the first read lays out, the others read its result
    l.h = l.el.offsetHeight || 16;
  }
}

/**
 * Show the labels that fit, by priority: selected > hovered > computing layers > input >
 * pass-through / output (label_tier of the kind); a label carrying health badges goes first
 * within its tier. `camera` must be up to date. Labels are measured (a layout) only where their
 * estimated size fits, and in batches, so a graph of thousands of layers costs a few layouts.
 */
export function placeLabels(labels: LabelEl[], camera: PerspectiveCamera, sel: string, hovered: string, width: number, height: number, reserved: [number, number, number, number][] = []): void {
  const many = labels.length > 30;
  // y: the label's bottom edge above the box; yb: its top edge below the box, tried when the
  // spot above is taken (a thin slab between two labelled layers, as a positional embedding)
  const cands: { l: LabelEl; pri: number; x: number; y: number; yb: number }[] = [];
  for (const l of labels) {
    const b = l.box;
    if (many && !(b.name === sel || b.name === hovered || b.weight >= 20 || l.badgeKey !== "")) continue;
    v3.set(b.center[0], b.center[1] + b.size[1] / 2 + 0.6, b.center[2]).project(camera);
    if (v3.z > 1 || v3.z < -1) continue;
    const x = (v3.x * 0.5 + 0.5) * width;
    const y = (-v3.y * 0.5 + 0.5) * height;
    if (x < -50 || x > width + 50 || y < -20 || y > height + 20) continue;
    const pri = (b.name === sel ? 1e6 : 0) + (b.name === hovered ? 5e5 : 0) + b.weight + (l.badgeKey ? 9 : 0);
    v3.set(b.center[0], b.center[1] - b.size[1] / 2 - 0.3, b.center[2]).project(camera);
    // below: computing layers only (label_tier 3), so an output's or a pass-through's label
    // does not float over the layers in front of it
    const yb = b.weight < 30 || v3.z > 1 || v3.z < -1 ? Infinity : (-v3.y * 0.5 + 0.5) * height;
    cands.push({ l, pri, x, y, yb });
  }
  cands.sort((a, b) => b.pri - a.pri);
  const placed = new RectGrid();
  // the view's own buttons and the breadcrumb count as placed: no label under them
  for (const r of reserved) placed.add(r);
  const below = (yb: number) => yb !== Infinity;
  const fitsEstimate = (c: { l: LabelEl; x: number; y: number; yb: number }) => {
    const [ew, eh] = estimate(c.l);
    if (!placed.hits([c.x - ew / 2, c.y - eh, c.x + ew / 2, c.y])) return true;
    return below(c.yb) && c.yb + eh <= height && !placed.hits([c.x - ew / 2, c.yb, c.x + ew / 2, c.yb + eh]);
  };
  const shown = new Set<LabelEl>();
  for (let i = 0; i < cands.length; i++) {
    const { l, x, y, yb } = cands[i];
    const b = l.box;
    const forced = b.name === sel || b.name === hovered;
    if (!l.w) {
      if (!forced && !fitsEstimate(cands[i])) continue;
      // this one and the next unmeasured ones that may fit, in one layout
      const batch = [l];
      for (let j = i + 1; j < cands.length && batch.length < MEASURE_BATCH; j++) {
        if (!cands[j].l.w && fitsEstimate(cands[j])) batch.push(cands[j].l);
      }
      measure(batch);
    }
    let r: [number, number, number, number] = [x - l.w / 2, y - l.h, x + l.w / 2, y];
    if (!forced && placed.hits(r)) {
      r = [x - l.w / 2, yb, x + l.w / 2, yb + l.h];
      if (!below(yb) || yb + l.h > height || placed.hits(r)) continue;
      l.el.dataset.place = "below";
    } else delete l.el.dataset.place;
    placed.add(r);
    shown.add(l);
    l.el.style.transform = `translate(${Math.round(r[0])}px, ${Math.round(r[1])}px)`;
    l.el.classList.toggle("nnviz-label-selected", b.name === sel);
  }
  for (const l of labels) {
    const on = shown.has(l);
    if (on === shownNow.has(l)) continue;
    l.el.style.display = on ? "" : "none";
    if (on) shownNow.add(l);
    else shownNow.delete(l);
  }
}
