// Model-level state (once per widget model, shared by its views): the Store, decoding of the
// snapshot child widgets, and the named traits <-> index traits mirrors, driven by one table.
import { decodeChild } from "../data/decode";
import { Store } from "../data/store";
import { ask, toDataView, within } from "./ask";
import type { AnyModel, Choices, ChunkHeader, GraphInfo, Snapshot, SnapshotHeader, ViewState } from "../data/types";

/** The enum lists Python sends once (`_choices`, from controls.py `CHOICES`). */
export function choicesOf(model: AnyModel): Choices {
  const c = model.get("_choices");
  const list = (k: keyof Choices) => (c && Array.isArray(c[k]) ? (c[k] as unknown[]).map(String) : []);
  return { mode: list("mode"), color_by: list("color_by"), delta_ref: list("delta_ref") };
}

/** A choice's control words (`_choice_labels`, from controls.py `CHOICES`), else `fallback`. */
export function choiceLabel(model: AnyModel, trait: keyof Choices, value: string, fallback: string): string {
  const labels = model.get("_choice_labels") as Record<string, Record<string, unknown>> | undefined;
  const label = labels?.[trait]?.[value];
  return typeof label === "string" ? label : fallback;
}

/**
 * The one table of named traits, the index traits that mirror them (data/types.ts) and their values:
 * `none` = index 0 means "nothing" and i + 1 means values[i] (the layer dropdown); otherwise the
 * index is the position in values. The enums' values are Python's `_choices`.
 */
export const MIRRORS: { trait: string; index: string; values: (g: GraphInfo, c: Choices) => string[]; none: boolean }[] = [
  { trait: "layer", index: "_layer_index", values: (g) => g.layers.map((l) => l.name), none: true },
  { trait: "mode", index: "_mode_index", values: (_g, c) => c.mode, none: false },
  { trait: "color_by", index: "_color_index", values: (_g, c) => c.color_by, none: false },
  { trait: "delta_ref", index: "_delta_index", values: (_g, c) => c.delta_ref, none: false },
];
const EMPTY_GRAPH: GraphInfo = {
  framework: "", model_name: "", approximate: false, notes: [], data_format: "channels_first", layers: [], edges: [], neuron_source: {}, total_params: 0, kinds: {},
};

/** Model-level state, shared by every view of one widget model. */
export interface Shared {
  store: Store;
  /** resolves once the snapshots known at the last change are decoded and in the store */
  loaded: Promise<void>;
  isLoaded: boolean;
  cache: Map<string, Snapshot[]>;
  error: string;
  dispose: () => void;
}

const SHARED = new WeakMap<AnyModel, Shared>();

function graphOf(model: AnyModel): GraphInfo {
  const g = model.get("_graph");
  if (!g || typeof g !== "object" || !Array.isArray(g.layers)) return EMPTY_GRAPH;
  return { ...EMPTY_GRAPH, ...g } as GraphInfo;
}

/** A snapshot child's synced traits: its JSON header (text or parsed) and its bytes. */
interface ChildData {
  header: unknown;
  data: DataView | null;
}

/**
 * The snapshot children `ids`, from the widget manager where it resolves them (Jupyter, the
 * exported page), else from the kernel in one custom message (front-ends without child models).
 * Returns id -> data or the error that id met.
 */
async function loadChildren(model: AnyModel, ids: string[]): Promise<Map<string, ChildData | Error>> {
  const out = new Map<string, ChildData | Error>();
  const manager = model.widget_manager;
  const askFor: string[] = [];
  await Promise.all(
    ids.map(async (id) => {
      if (!manager || typeof manager.get_model !== "function") {
        askFor.push(id);
        return;
      }
      try {
        const child = await within(Promise.resolve(manager.get_model(id)), 10_000, "the widget manager");
        out.set(id, { header: child.get("header"), data: toDataView(child.get("data")) });
      } catch {
        askFor.push(id); // not a model this manager knows: the kernel has it
      }
    }),
  );
  if (askFor.length) {
    try {
      const { content, buffers } = await ask(model, "nnviz:snapshots", { ids: askFor });
      const parts = Array.isArray(content.parts) ? (content.parts as { id?: unknown; header?: unknown }[]) : [];
      parts.forEach((p, i) => out.set(String(p.id), { header: p.header, data: buffers[i] ?? null }));
      for (const id of askFor) if (!out.has(id)) out.set(id, new Error(`the kernel has no snapshot ${id}`));
    } catch (err) {
      for (const id of askFor) out.set(id, err as Error);
    }
  }
  return out;
}

export function setup(model: AnyModel): Shared {
  const existing = SHARED.get(model);
  if (existing) return existing;
  const store = new Store(graphOf(model));
  const cache = new Map<string, Snapshot[]>(); // child model id -> its snapshot(s)
  let generation = 0;
  let syncLayer = () => {};
  const shared: Shared = { store, loaded: Promise.resolve(), isLoaded: false, cache, error: "", dispose: () => {} };

  async function resolveSnapshots(): Promise<void> {
    const gen = ++generation;
    const refs: unknown = model.get("_snapshots");
    const ids = (Array.isArray(refs) ? refs : []).map((r) => String(r).replace(/^IPY_MODEL_/, ""));
    const snaps: Snapshot[] = [];
    const fetched = await loadChildren(model, ids.filter((id) => !cache.has(id)));
    for (const id of ids) {
      let got = cache.get(id);
      if (!got) {
        try {
          const child = fetched.get(id);
          if (child instanceof Error) throw child;
          if (!child) throw new Error(`no snapshot ${id}`);
          let header = child.header as SnapshotHeader | ChunkHeader | string;
          if (typeof header === "string") header = JSON.parse(header) as SnapshotHeader | ChunkHeader;
          got = decodeChild(header, child.data);
          cache.set(id, got);
        } catch (err) {
          shared.error = `could not read a recorded snapshot: ${(err as Error)?.message ?? err}`;
          console.error("nnviz:", err);
          continue;
        }
      }
      snaps.push(...got);
    }
    if (gen !== generation) return; // a newer change superseded this one
    for (const id of [...cache.keys()]) if (!ids.includes(id)) cache.delete(id);
    store.setSnapshots(snaps);
    shared.isLoaded = true;
  }

  // keep each named trait and its index mirror equal (the ipywidgets controls are jslinked to
  // the index traits); each side only writes when the other differs: no ping-pong
  const mirrorFns: [string, () => void][] = [];
  for (const m of MIRRORS) {
    const fromTrait = () => {
      const values = m.values(store.graph, choicesOf(model));
      const i = values.indexOf(String(model.get(m.trait) ?? ""));
      const idx = m.none ? (i >= 0 ? i + 1 : 0) : i;
      if (idx < 0) return; // an unknown enum value: leave the index alone
      if (model.get(m.index) !== idx) {
        model.set(m.index, idx);
        model.save_changes();
      }
    };
    const fromIndex = () => {
      const values = m.values(store.graph, choicesOf(model));
      const idx = Number(model.get(m.index));
      if (!Number.isInteger(idx)) return;
      const value = m.none ? (idx >= 1 && idx <= values.length ? values[idx - 1] : "") : values[idx];
      if (value === undefined) return;
      if ((model.get(m.trait) ?? "") !== value) {
        model.set(m.trait, value);
        model.save_changes();
      }
    };
    mirrorFns.push([`change:${m.trait}`, fromTrait], [`change:${m.index}`, fromIndex]);
    if (m.trait === "layer") syncLayer = fromTrait;
  }
  const onSnapshots = () => {
    shared.loaded = resolveSnapshots();
  };
  const onGraph = () => {
    store.setGraph(graphOf(model));
    syncLayer();
  };
  model.on("change:_snapshots", onSnapshots);
  model.on("change:_graph", onGraph);
  for (const [ev, fn] of mirrorFns) model.on(ev, fn);
  // at start the named traits win (the kernel set them; the indices follow)
  for (let i = 0; i < mirrorFns.length; i += 2) mirrorFns[i][1]();
  onSnapshots();
  shared.dispose = () => {
    model.off("change:_snapshots", onSnapshots);
    model.off("change:_graph", onGraph);
    for (const [ev, fn] of mirrorFns) model.off(ev, fn);
    SHARED.delete(model);
  };
  SHARED.set(model, shared);
  return shared;
}

export const TRAIT_OF: Record<keyof ViewState, string> = {
  epoch: "epoch",
  layer: "layer",
  mode: "mode",
  colorBy: "color_by",
  deltaRef: "delta_ref",
  maxConnections: "max_connections",
  sample: "sample",
  expanded: "expanded",
};

/** The `expanded` trait as a list of strings (anything else reads as nothing open); the same
 *  array while the trait holds the same one, so the display graph's memo hits. */
const EXPANDED = new WeakMap<object, string[]>();
function expandedOf(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  let out = EXPANDED.get(v);
  if (!out) EXPANDED.set(v, (out = v.map(String)));
  return out;
}

export function readState(model: AnyModel): ViewState {
  const num = (v: unknown, dflt: number) => (typeof v === "number" && Number.isFinite(v) ? v : dflt);
  const choices = choicesOf(model);
  // a value Python did not list reads as the first one listed (the trait's default)
  const pick = (trait: string, values: string[], dflt: string) => {
    const v = String(model.get(trait) ?? "");
    return values.includes(v) ? v : values[0] ?? dflt;
  };
  return {
    epoch: num(model.get("epoch"), -1),
    layer: String(model.get("layer") ?? ""),
    mode: pick("mode", choices.mode, "3d") === "2d" ? "2d" : "3d",
    colorBy: pick("color_by", choices.color_by, "weight"),
    deltaRef: pick("delta_ref", choices.delta_ref, "previous") === "init" ? "init" : "previous",
    maxConnections: Math.max(0, num(model.get("max_connections"), 20000)),
    sample: Math.max(0, Math.floor(num(model.get("sample"), 0))),
    expanded: expandedOf(model.get("expanded")),
  };
}
