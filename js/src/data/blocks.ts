// A collapsed block's figures at one snapshot, aggregated over its member layers (the layer
// stats and health records): what its color in every mode, its tooltip and its badge show.
// Pure: no DOM.
import { BADGE_PRIORITY, healthBadges, type HealthBadge } from "./health";
import type { Store } from "./store";
import type { LayerInfo, Snapshot } from "./types";
import type { TooltipRows } from "./view";
import { fmt, fmtInt } from "../util/format";

export interface BlockFigures {
  /** parameters of the member layers */
  params: number;
  /** RMS of all their parameters: sqrt(sum of squared norms / params); null where none recorded */
  weightRms: number | null;
  /** the gradient norm of all their parameters together: sqrt(sum of squared norms) */
  gradNorm: number | null;
  /** the largest update ratio ||ΔW|| / ||W|| among them (null before the first update) */
  updateRatio: number | null;
  /** the worst health flag among them (BADGE_PRIORITY), and which layers carry it */
  health: HealthBadge | null;
  healthLayers: string[];
  nonfinite: number;
}

/** The figures of the layers `members` (names) in `snap`; `layer` looks a member up. */
export function blockFigures(snap: Snapshot | null, members: readonly string[], layer: (name: string) => LayerInfo | undefined): BlockFigures {
  let params = 0;
  let recorded = 0;
  let sq = 0;
  let g2 = 0;
  let anyGrad = false;
  let upd: number | null = null;
  let nonfinite = 0;
  let worst = BADGE_PRIORITY.length;
  let healthLayers: string[] = [];
  for (const name of members) {
    const p = layer(name)?.params ?? 0;
    params += p;
    const s = snap?.stats[name];
    if (s) {
      if (p > 0 && Number.isFinite(s.norm)) {
        sq += s.norm * s.norm;
        recorded += p;
      }
      if (s.grad_norm !== null && s.grad_norm !== undefined) {
        g2 += s.grad_norm * s.grad_norm;
        anyGrad = true;
      }
      if (s.update_ratio !== null && s.update_ratio !== undefined && (upd === null || s.update_ratio > upd || Number.isNaN(s.update_ratio))) {
        upd = s.update_ratio;
      }
      nonfinite += s.nonfinite ?? 0;
    }
    for (const b of healthBadges(snap?.health?.[name])) {
      const k = BADGE_PRIORITY.indexOf(b);
      if (k < worst) {
        worst = k;
        healthLayers = [name];
      } else if (k === worst && !healthLayers.includes(name)) healthLayers.push(name);
    }
  }
  return {
    params,
    weightRms: recorded > 0 ? Math.sqrt(sq / recorded) : null,
    gradNorm: anyGrad ? Math.sqrt(g2) : null,
    updateRatio: upd,
    health: worst < BADGE_PRIORITY.length ? BADGE_PRIORITY[worst] : null,
    healthLayers,
    nonfinite,
  };
}

/** A collapsed block's tooltip rows at `epoch`: what it stands for and its figures. */
export function blockRows(store: Store, epoch: number, block: { paths: readonly string[]; members: readonly string[] }): TooltipRows {
  const snap = store.at(epoch);
  const f = blockFigures(snap, block.members, (n) => store.layer(n));
  const p = block.paths;
  const rows: TooltipRows = [
    [p.length > 1 ? "modules" : "module", p.length > 1 ? `${p[0]} … ${p[p.length - 1]}` : p[0] ?? ""],
    ["layers", fmtInt(block.members.length)],
    ["params", fmtInt(f.params)],
  ];
  if (f.weightRms !== null) rows.push(["RMS weight", fmt(f.weightRms)]);
  if (f.gradNorm !== null) rows.push(["|grad|", fmt(f.gradNorm)]);
  if (f.updateRatio !== null) rows.push(["max update", fmt(f.updateRatio)]);
  if (f.nonfinite) rows.push(["NaN/Inf", fmtInt(f.nonfinite)]);
  if (f.health) rows.push(["health", `${f.health}: ${f.healthLayers.slice(0, 3).join(", ")}${f.healthLayers.length > 3 ? ` +${f.healthLayers.length - 3}` : ""}`]);
  if (snap?.label) rows.push(["at", snap.label]);
  rows.push(["click", p.length > 1 ? `expand ${p[0]}` : "expand"]);
  return rows;
}
