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

/**
 * Show the labels that fit, by priority: selected > hovered > computing layers > input >
 * pass-through / output (label_tier of the kind); a label carrying health badges goes first
 * within its tier. `camera` must be up to date.
 */
export function placeLabels(labels: LabelEl[], camera: PerspectiveCamera, sel: string, hovered: string, width: number, height: number, reserved: [number, number, number, number][] = []): void {
  const many = labels.length > 30;
  const cands = labels
    .filter((l) => !many || l.box.name === sel || l.box.name === hovered || l.box.weight >= 20 || l.badgeKey !== "")
    .map((l) => ({
      l,
      pri: (l.box.name === sel ? 1e6 : 0) + (l.box.name === hovered ? 5e5 : 0) + l.box.weight + (l.badgeKey ? 9 : 0),
    }))
    .sort((a, b) => b.pri - a.pri);
  // the view's own buttons and the breadcrumb count as placed: no label under them
  const placed: [number, number, number, number][] = [...reserved];
  const shown = new Set<LabelEl>();
  for (const { l } of cands) {
    const b = l.box;
    v3.set(b.center[0], b.center[1] + b.size[1] / 2 + 0.6, b.center[2]).project(camera);
    if (v3.z > 1 || v3.z < -1) continue;
    const x = (v3.x * 0.5 + 0.5) * width;
    const y = (-v3.y * 0.5 + 0.5) * height;
    if (x < -50 || x > width + 50 || y < -20 || y > height + 20) continue;
    if (!l.w) {
      l.el.style.display = "";
      l.w = l.el.offsetWidth || 60;
      l.h = l.el.offsetHeight || 16;
    }
    const r: [number, number, number, number] = [x - l.w / 2, y - l.h, x + l.w / 2, y];
    const forced = b.name === sel || b.name === hovered;
    if (!forced && placed.some((p) => r[0] < p[2] && r[2] > p[0] && r[1] < p[3] && r[3] > p[1])) continue;
    placed.push(r);
    shown.add(l);
    l.el.style.transform = `translate(${Math.round(r[0])}px, ${Math.round(r[1])}px)`;
    l.el.classList.toggle("nnviz-label-selected", b.name === sel);
  }
  for (const l of labels) l.el.style.display = shown.has(l) ? "" : "none";
}
