// The color modes: one table entry per mode says what it shows (the values per connection and per
// neuron, read from the Store) and how the legend and the tooltips name it. The list of modes and
// their control words come from Python (controls.py `CHOICES`, sent as `_choices`); the
// views, the legend and the tooltips only go through the functions below.
import { blockFigures } from "../data/blocks";
import type { Store } from "../data/store";
import type { ColorBy, DeltaRef, Snapshot, ViewState } from "../data/types";

/** What a mode's values depend on besides the layer and the epoch. */
export type ModeState = Pick<ViewState, "colorBy" | "deltaRef" | "sample">;

/** "connections": one value per kept weight (same layout as `store.weight`); "neurons": one per unit. */
export type Elements = "connections" | "neurons";

/** Values to color one layer's connections with, or one scalar for the whole layer. */
export type LayerColoring =
  | { kind: "values"; values: Float32Array; range: number; signed: boolean }
  | { kind: "scalar"; value: number; max: number; signed: boolean }
  | { kind: "none" };

export interface ColorMode {
  /** the values of `layer`'s elements at `epoch`, or null where not recorded */
  values(store: Store, layer: string, epoch: number, st: ModeState, of: Elements): Float32Array | null;
  /** one value for the whole layer where no per-element values were recorded (e.g. a norm) */
  scalar?(snap: Snapshot, layer: string): number | null | undefined;
  /** the legend's words for `values` and for `scalar` */
  shows: { values: string; scalar?: string };
  /** the range depends on the probe sample (cache key) */
  perSample?: boolean;
  /** the legend's title at a snapshot labelled `at` ("" when none), and a detail after it */
  title(store: Store, epoch: number, st: ModeState): { head: string; detail: string };
  /** the tooltip's row label for a connection's and a neuron's value */
  label(st: ModeState, of: Elements): string;
  /** one non-negative value for a collapsed block of layers `members` (data/blocks.ts figures) */
  block(store: Store, members: readonly string[], epoch: number, st: ModeState): number | null;
  /** the legend's and the tooltip's words for `block` */
  blockShows: string;
}

/** Mean |activation| of the last member with the sample's activations recorded (the block's output). */
function blockActivation(store: Store, members: readonly string[], epoch: number, sample: number): number | null {
  for (let i = members.length - 1; i >= 0; i--) {
    const a = store.activation(members[i], epoch, sample);
    if (!a || !a.values.length) continue;
    let s = 0;
    let n = 0;
    for (let k = 0; k < a.values.length; k++) {
      const v = a.values[k];
      if (Number.isFinite(v)) { s += Math.abs(v); n++; } else return NaN;
    }
    return n ? s / n : null;
  }
  return null;
}

const figures = (store: Store, members: readonly string[], epoch: number) =>
  blockFigures(store.at(epoch), members, (n) => store.layer(n));

const PARAM: Record<Elements, string> = { connections: "weight", neurons: "bias" };

function atLabel(store: Store, epoch: number): string {
  return store.at(epoch)?.label ?? "";
}

/** The mode table. Adding a mode: its name and label in controls.py `CHOICES` and one entry here. */
export const COLOR_MODES: Record<string, ColorMode> = {
  weight: {
    values: (store, layer, epoch, _st, of) => store.weight(layer, epoch, PARAM[of]),
    shows: { values: "weight per connection" },
    title: (store, epoch) => {
      const at = atLabel(store, epoch);
      return { head: at ? `weight at ${at}` : "weight", detail: "" };
    },
    label: (_st, of) => (of === "neurons" ? "bias" : "weight"),
    block: (store, members, epoch) => figures(store, members, epoch).weightRms,
    blockShows: "RMS weight per block",
  },
  delta: {
    values(store, layer, epoch, st, of) {
      const key = `${layer}/${PARAM[of]}`;
      const w = store.weightsAt(epoch)?.weights.get(key);
      const ref = store.reference(epoch, st.deltaRef)?.weights.get(key);
      if (!w || !ref || ref.length !== w.length) return null;
      const out = new Float32Array(w.length);
      for (let i = 0; i < w.length; i++) out[i] = w[i] - ref[i];
      return out;
    },
    shows: { values: "change per connection" },
    title(store, epoch, st) {
      const i = store.indexAt(epoch);
      const snap = i >= 0 ? store.snapshots[i] : null;
      const ref = st.deltaRef === "init" ? store.snapshots[0] : i > 0 ? store.snapshots[i - 1] : snap;
      const at = snap?.label ?? "";
      const detail = snap && ref ? (ref === snap ? `(${at}: no change yet)` : `(${ref.label} → ${at})`) : "";
      return { head: st.deltaRef === "init" ? "Δ since init" : "Δ since previous epoch", detail };
    },
    label: (st, of) => `Δ ${of === "neurons" ? "bias " : ""}since ${st.deltaRef === "init" ? "init" : "previous"}`,
    block: (store, members, epoch) => figures(store, members, epoch).updateRatio,
    blockShows: "largest update ratio per block",
  },
  gradient: {
    // the gradient of each kept weight / bias (the same fixed samples as the weights)
    values: (store, layer, epoch, _st, of) => store.weightsAt(epoch)?.grads.get(`${layer}/${PARAM[of]}`) ?? null,
    // where the loop recorded no per-connection gradient: the layer's gradient norm
    scalar: (snap, layer) => snap.stats[layer]?.grad_norm,
    shows: { values: "gradient per connection", scalar: "gradient norm per layer" },
    title: (store, epoch) => {
      const at = atLabel(store, epoch);
      return { head: at ? `gradient at ${at}` : "gradient", detail: "" };
    },
    label: (_st, of) => (of === "neurons" ? "bias gradient" : "gradient"),
    block: (store, members, epoch) => figures(store, members, epoch).gradNorm,
    blockShows: "gradient norm per block",
  },
  activation: {
    values(store, layer, epoch, st, of) {
      if (of === "neurons") {
        const a = store.activation(layer, epoch, st.sample);
        return a && !a.index ? a.values : null;
      }
      const w = store.weightsAt(epoch)?.weights.get(`${layer}/weight`);
      return w ? store.signal(layer, w, epoch, st.sample) : null;
    },
    shows: { values: "weight × input per connection" },
    perSample: true,
    title: (store, epoch, st) => {
      const at = atLabel(store, epoch);
      return { head: `activation of sample ${st.sample}`, detail: at ? `(${at})` : "" };
    },
    label: (st, of) => (of === "neurons" ? `activation (sample ${st.sample})` : "w × input"),
    block: (store, members, epoch, st) => blockActivation(store, members, epoch, st.sample),
    blockShows: "mean |activation| of each block's output",
  },
};

/** The entry of a mode (an unknown name shows nothing rather than failing). */
export function colorMode(name: ColorBy): ColorMode | null {
  return Object.prototype.hasOwnProperty.call(COLOR_MODES, name) ? COLOR_MODES[name] : null;
}

const DEFAULTS: ModeState = { colorBy: "weight", deltaRef: "previous", sample: 0 };

function full(st: Partial<ModeState> & { colorBy: ColorBy }): ModeState {
  return { ...DEFAULTS, ...st };
}

/** A layer's values in a mode at `epoch`: per connection (default) or per neuron. */
export function modeValues(store: Store, layer: string, epoch: number, st: Partial<ModeState> & { colorBy: ColorBy }, of: Elements = "connections"): Float32Array | null {
  return colorMode(st.colorBy)?.values(store, layer, epoch, full(st), of) ?? null;
}

/** The fixed symmetric range of a layer's values in a mode: the largest over every epoch. */
export function modeRange(store: Store, layer: string, st: Partial<ModeState> & { colorBy: ColorBy }, of: Elements = "connections"): number {
  const s = full(st);
  const mode = colorMode(s.colorBy);
  if (!mode) return 0;
  const deltaRef: DeltaRef = s.deltaRef;
  const key = `${layer}|${of}|${s.colorBy}|${deltaRef}|${mode.perSample ? s.sample : 0}`;
  return store.maxAbs(key, (snap) => mode.values(store, layer, snap.epoch, s, of));
}

/** What to color `layer`'s connections with at `epoch`: per connection where recorded, else the
 *  mode's one value per layer, else nothing. */
export function coloring(store: Store, layer: string, epoch: number, st: Partial<ModeState> & { colorBy: ColorBy }): LayerColoring {
  const s = full(st);
  const mode = colorMode(s.colorBy);
  if (!mode) return { kind: "none" };
  const v = mode.values(store, layer, epoch, s, "connections");
  if (v) return { kind: "values", values: v, range: modeRange(store, layer, s), signed: true };
  const scalar = mode.scalar;
  if (scalar) {
    const g = store.at(epoch) ? scalar(store.at(epoch)!, layer) : null;
    if (g === null || g === undefined) return { kind: "none" };
    const max = store.maxAbs(`${layer}|scalar|${s.colorBy}`, (snap) => {
      const x = scalar(snap, layer);
      return x === null || x === undefined ? null : [x];
    });
    return { kind: "scalar", value: g, max, signed: false };
  }
  return { kind: "none" };
}

/** The legend's words for what a coloring shows ("gradient per connection", ...), "" for none. */
export function coloringShows(colorBy: ColorBy, kind: LayerColoring["kind"]): string {
  const mode = colorMode(colorBy);
  if (!mode || kind === "none") return "";
  return kind === "values" ? mode.shows.values : mode.shows.scalar ?? "";
}

/** A collapsed block's value in a mode at `epoch`, with its fixed range (the largest over every
 *  epoch); `id` names the block in the range cache. Kind "none" where nothing was recorded. */
export function blockColoring(store: Store, id: string, members: readonly string[], epoch: number, st: Partial<ModeState> & { colorBy: ColorBy }): LayerColoring {
  const s = full(st);
  const mode = colorMode(s.colorBy);
  if (!mode) return { kind: "none" };
  const v = mode.block(store, members, epoch, s);
  if (v === null || v === undefined) return { kind: "none" };
  const key = `block|${id}|${members.length}|${s.colorBy}|${mode.perSample ? s.sample : 0}`;
  const max = store.maxAbs(key, (snap) => {
    const x = mode.block(store, members, snap.epoch, s);
    return x === null || x === undefined ? null : [x];
  });
  return { kind: "scalar", value: v, max, signed: false };
}
