// Health badges on layers (3D labels, 2D nodes, the root's data-badges): which layers show which
// flags at an epoch (health.ts `healthBadges`, the same rules as probe.py), their short text and
// colors, and which drawn layer carries them. Pure: no DOM.
import { HEALTH_COLORS, healthBadges, type HealthBadge } from "./health";
import type { Store } from "./store";
import type { GraphInfo, LayerHealth } from "./types";
import { kindInfo } from "./kinds";
import { fmtRatio } from "../util/format";

export interface Badge {
  /** the layer the health record is about */
  layer: string;
  badge: HealthBadge;
  /** short tag text: "dead 62%", "vanishing ∇" */
  text: string;
  /** one sentence for a tooltip */
  title: string;
  bg: string;
  fg: string;
}


function pct(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? "" : `${Math.round(v * 100)}%`;
}

function ratio(v: number | null | undefined): string {
  if (v === null || v === undefined) return String(v);
  return v >= 0.01 && v < 1e4 ? fmtRatio(v) : fmtRatio(v, 1); // one digit of mantissa: badges are small
}

/** Dark tags get white text; light ones dark text. */
function textOn(bg: string): string {
  const n = parseInt(bg.slice(1), 16);
  const lum = 0.299 * ((n >> 16) & 255) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255);
  return lum < 150 ? "#ffffff" : "#1f2933";
}

/** The tags of one layer's health record, in probe.py's order. */
export function badgesOf(layer: string, h: LayerHealth | null | undefined): Badge[] {
  if (!h) return [];
  return healthBadges(h).map((badge) => {
    let text: string;
    let title: string;
    switch (badge) {
      case "dead":
        text = `dead ${pct(h.dead)}`;
        title = `${layer}: ${pct(h.dead)} of its units never fire on the probe batch`;
        break;
      case "saturated":
        text = `saturated ${pct(h.saturated)}`;
        title = `${layer}: ${pct(h.saturated)} of its outputs sit at the ends of their range`;
        break;
      case "vanishing":
        text = "vanishing ∇";
        title = `${layer}: gradient norm ${ratio(h.grad_ratio)}× that of the weight layer feeding it`;
        break;
      case "exploding":
        text = "exploding ∇";
        title = `${layer}: gradient norm ${ratio(h.grad_ratio)}× that of the weight layer feeding it`;
        break;
      default:
        text = "NaN";
        title = `${layer}: non-finite activations on the probe batch`;
    }
    const bg = HEALTH_COLORS[badge];
    return { layer, badge, text, title, bg, fg: textOn(bg) };
  });
}

/** Every layer's tags at `epoch` (graph order). Cheap: a few comparisons per layer. */
export function layerBadges(store: Store, epoch: number): Badge[] {
  const snap = store.at(epoch);
  if (!snap || !snap.health) return [];
  const out: Badge[] = [];
  for (const l of store.graph.layers) {
    const h = snap.health[l.name];
    if (h) out.push(...badgesOf(l.name, h));
  }
  return out;
}

/** "fc1:dead,relu:vanishing": the data-badges attribute (tests read it). */
export function badgesAttr(badges: Badge[]): string {
  return badges.map((b) => `${b.layer}:${b.badge}`).join(",");
}

/**
 * Which layer's label carries a layer's badges in the 3D view: a pass-through layer (ReLU,
 * dropout, norm, reshape) with one input shows its flags on the layer it follows (a ReLU's dead
 * units are that dense / conv layer's units), every other layer on its own label.
 */
export function badgeHosts(graph: GraphInfo): Map<string, string> {
  const preds = new Map<string, string[]>();
  for (const [a, b] of graph.edges ?? []) {
    const l = preds.get(b);
    if (l) l.push(a);
    else preds.set(b, [a]);
  }
  const host = new Map<string, string>();
  for (const l of graph.layers ?? []) {
    const ps = preds.get(l.name) ?? [];
    if (kindInfo(graph, l.kind).pass_through && ps.length === 1 && host.has(ps[0])) host.set(l.name, host.get(ps[0])!);
    else host.set(l.name, l.name);
  }
  return host;
}

/** One tag per flag (a block's members may share one): the first layer's, the count in its title. */
export function onePerFlag(list: Badge[]): Badge[] {
  const out: Badge[] = [];
  for (const b of list) {
    const i = out.findIndex((x) => x.badge === b.badge);
    if (i < 0) out.push(b);
    else if (!out[i].title.endsWith("more)")) out[i] = { ...out[i], title: `${out[i].title} (and more)` };
  }
  return out;
}
