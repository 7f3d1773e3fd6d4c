// Training health badges (pure): the same rules as nnviz_widget/probe.py `badges()`, for the
// views that draw badges on layers (scene3d, view2d) and the health strip (panels/inside/health.ts).
import { HEALTH_THRESHOLDS, type GraphInfo, type LayerHealth } from "./types";
import { fmtRatio } from "../util/format";

export type HealthBadge = "dead" | "saturated" | "vanishing" | "exploding" | "nan";
/** A health strip cell: the worst badge, "ok" (recorded, no badge) or "none" (not recorded). */
export type HealthState = HealthBadge | "ok" | "none";

/**
 * Which health flags a layer shows at one epoch, in probe.py's order: dead (>= 50% of the ReLU
 * units never fire), saturated (>= 50% of sigmoid/tanh outputs at their ends), vanishing
 * (gradient norm < 1e-2 of the previous layer's), exploding (> 1e2), nan (non-finite activations).
 */
export function healthBadges(h: LayerHealth | null | undefined): HealthBadge[] {
  if (!h) return [];
  const out: HealthBadge[] = [];
  const { dead, saturated, grad_ratio: ratio, act_nonfinite: nonfinite } = h;
  if (dead !== null && dead !== undefined && dead >= HEALTH_THRESHOLDS.dead) out.push("dead");
  if (saturated !== null && saturated !== undefined && saturated >= HEALTH_THRESHOLDS.saturated) out.push("saturated");
  if (ratio !== null && ratio !== undefined && ratio < HEALTH_THRESHOLDS.gradLow) out.push("vanishing");
  if (ratio !== null && ratio !== undefined && ratio > HEALTH_THRESHOLDS.gradHigh) out.push("exploding");
  // Python's `if nonfinite:` — any non-zero count (NaN included) flags it
  if (nonfinite !== null && nonfinite !== undefined && nonfinite !== 0) out.push("nan");
  return out;
}

/** Worst first: which badge a single cell shows when several apply. */
export const BADGE_PRIORITY: HealthBadge[] = ["nan", "exploding", "vanishing", "dead", "saturated"];

/** The state of one strip cell. */
export function healthState(h: LayerHealth | null | undefined): HealthState {
  if (!h) return "none";
  const b = healthBadges(h);
  for (const p of BADGE_PRIORITY) if (b.includes(p)) return p;
  return "ok";
}

/** Strip cell colors (CSS) per state; "nan" is color/scales.ts's NaN magenta. */
export const HEALTH_COLORS: Record<HealthState, string> = {
  ok: "#bfe3c8",
  dead: "#5b6270",
  saturated: "#f2b134",
  vanishing: "#7fb2e5",
  exploding: "#e4572e",
  nan: "#ff00ff",
  none: "#f1f2f4",
};

/** Does this record say anything (beyond "0 non-finite")? Layers without any are left out. */
export function hasHealth(h: LayerHealth | null | undefined): boolean {
  if (!h) return false;
  return (
    h.dead !== null || h.saturated !== null || h.grad_ratio !== null || h.update_ratio !== null ||
    (h.act_nonfinite !== null && h.act_nonfinite !== 0)
  );
}

/** "dead 62% · ∇ratio 0.003 · update 1.2e-3" (only the numbers that exist). */
export function healthLine(h: LayerHealth | null | undefined): string {
  if (!h) return "";
  const parts: string[] = [];
  const pct = (v: number) => (Number.isFinite(v) ? `${Math.round(v * 100)}%` : fmtRatio(v));
  if (h.dead !== null && h.dead !== undefined) parts.push(`dead ${pct(h.dead)}`);
  if (h.saturated !== null && h.saturated !== undefined) parts.push(`saturated ${pct(h.saturated)}`);
  if (h.grad_ratio !== null && h.grad_ratio !== undefined) parts.push(`∇ratio ${fmtRatio(h.grad_ratio)}`);
  if (h.update_ratio !== null && h.update_ratio !== undefined) parts.push(`update ${fmtRatio(h.update_ratio)}`);
  if (h.act_nonfinite !== null && h.act_nonfinite !== undefined && h.act_nonfinite !== 0) {
    parts.push(`${fmtRatio(h.act_nonfinite)} NaN/Inf activations`);
  }
  return parts.join(" · ");
}

/**
 * A layer's health merged with that of the activation layer right after it (its only
 * successor), where its own dead / saturated fractions are null: torch's Linear -> ReLU records
 * dead units on the ReLU module, while the views draw (and the user selects) the Linear. Views
 * that fold activation layers into the layer before them should badge with this.
 */
export function mergedHealth(graph: GraphInfo, health: Record<string, LayerHealth>, name: string): LayerHealth | null {
  const own = health[name] ?? null;
  const next = graph.edges.filter(([a]) => a === name).map(([, b]) => b);
  const nextLayer = next.length === 1 ? graph.layers.find((l) => l.name === next[0]) : undefined;
  const act = nextLayer?.kind === "activation" ? health[nextLayer.name] ?? null : null;
  if (!act) return own;
  if (!own) return act;
  return {
    ...own,
    dead: own.dead ?? act.dead,
    saturated: own.saturated ?? act.saturated,
    act_nonfinite: own.act_nonfinite === null && act.act_nonfinite === null ? null : (own.act_nonfinite ?? 0) + (act.act_nonfinite ?? 0),
  };
}
