// Dev page for the "inside the network" panel alone (js/dev/inside.html): a Store built from a
// state dump of scripts/make_probe_state.py ({traits, snapshots: [{header, data_b64}]}), a
// minimal ViewContext, and controls (epoch, sample, layer). Bundled as an IIFE exposing
// window.nnvizInside:
//   npx esbuild dev/inside.ts --bundle --format=iife --outfile=test-dist/inside/inside.js
// tests/browser/test_inside.py drives it.
import { decodeSnapshot } from "../src/data/decode";
import { createInside } from "../src/panels/inside/inside";
import { Store } from "../src/data/store";
import type { GraphInfo, ProbeInfo, SnapshotHeader, ViewState } from "../src/data/types";
import type { SubView, ViewContext } from "../src/data/view";
import { LIGHT, themeVars } from "../src/styles/theme";

export interface ProbeState {
  traits: Record<string, unknown> & { _graph: GraphInfo; _probe?: ProbeInfo };
  snapshots: { header: SnapshotHeader; data_b64: string }[];
}

function fromB64(b64: string): DataView {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new DataView(bytes.buffer);
}

function renameKeys<T>(rec: Record<string, T> | undefined, from: string, to: string): Record<string, T> | undefined {
  if (!rec || !(from in rec)) return rec;
  const out: Record<string, T> = {};
  for (const [k, v] of Object.entries(rec)) out[k === from ? to : k] = v;
  return out;
}

/** A copy of a state with one layer renamed everywhere (graph, headers, probe): hostile names. */
export function renameLayer(st: ProbeState, from: string, to: string): ProbeState {
  const s: ProbeState = JSON.parse(JSON.stringify(st));
  const g = s.traits._graph;
  const r = (n: string) => (n === from ? to : n);
  for (const l of g.layers) {
    l.name = r(l.name);
    if (l.parent) l.parent = r(l.parent);
  }
  g.edges = g.edges.map(([a, b]) => [r(a), r(b)]);
  const ns: Record<string, string> = {};
  for (const [k, v] of Object.entries(g.neuron_source)) ns[r(k)] = r(v);
  g.neuron_source = ns;
  if (s.traits._probe?.input) s.traits._probe.input = r(s.traits._probe.input);
  if (typeof s.traits.layer === "string") s.traits.layer = r(s.traits.layer);
  for (const sn of s.snapshots) {
    const hd = sn.header;
    for (const a of hd.arrays) a.layer = r(a.layer);
    hd.act_info = renameKeys(hd.act_info, from, to);
    hd.health = renameKeys(hd.health, from, to);
    hd.stats = renameKeys(hd.stats, from, to) ?? {};
  }
  return s;
}

interface Opts {
  width?: number;
  epoch?: number;
  layer?: string;
  sample?: number;
}

export interface MountedInside {
  store: Store;
  view: SubView;
  ctx: ViewContext;
  /** change the view state; returns whether anything changed (the panel then repaints) */
  set(patch: Partial<ViewState>): boolean;
  epochs(): number[];
  destroy(): void;
}

let current: MountedInside | null = null;

/** Mount the panel for a state dump into #panel, with controls in #controls. */
export function mount(st: ProbeState, opts: Opts = {}): MountedInside {
  current?.destroy();
  const store = new Store(st.traits._graph);
  store.setSnapshots(st.snapshots.map((s) => decodeSnapshot(s.header, fromB64(s.data_b64))));
  const epochs = store.epochs();
  const state: ViewState = {
    epoch: opts.epoch ?? epochs[epochs.length - 1] ?? -1,
    layer: opts.layer ?? String(st.traits.layer ?? ""),
    mode: "2d",
    colorBy: "weight",
    deltaRef: "previous",
    maxConnections: 20000,
    sample: opts.sample ?? 0,
    expanded: [],
  };
  const subs = new Set<(c: Set<keyof ViewState>) => void>();
  const set = (patch: Partial<ViewState>): boolean => {
    const changed = new Set<keyof ViewState>();
    for (const [k, v] of Object.entries(patch) as [keyof ViewState, never][]) {
      if (state[k] !== v) {
        (state as unknown as Record<string, unknown>)[k] = v;
        changed.add(k);
      }
    }
    if (changed.size) for (const cb of [...subs]) cb(changed);
    syncControls();
    return changed.size > 0;
  };
  const ctx: ViewContext = {
    store,
    state: () => ({ ...state }),
    select: (layer) => void set({ layer }),
    setEpoch: (epoch) => void set({ epoch }),
    setExpanded: (expanded) => void set({ expanded }),
    onState(cb) {
      subs.add(cb);
      return () => subs.delete(cb);
    },
    showTooltip() {},
    hideTooltip() {},
    setData() {},
    requestFrame() {},
    theme: () => LIGHT,
    onTheme: () => () => {},
    camera: () => ({}),
    setCamera() {},
    onCamera: () => () => {},
  };
  const probe = () => (st.traits._probe ?? null) as ProbeInfo | null;
  const host = document.getElementById("panel")!;
  host.replaceChildren();
  // the theme's colors, as the shell sets them on its root
  for (const [k, v] of themeVars(LIGHT)) host.style.setProperty(k, v);
  host.style.width = `${opts.width ?? 300}px`;
  const view = createInside(ctx, probe);
  host.appendChild(view.el);
  view.resize(opts.width ?? 300, 800);

  // controls
  const controls = document.getElementById("controls")!;
  controls.replaceChildren();
  const epochIn = document.createElement("input");
  epochIn.type = "range";
  epochIn.min = "0";
  epochIn.max = String(Math.max(0, epochs.length - 1));
  epochIn.id = "epoch";
  const epochOut = document.createElement("span");
  const sampleIn = document.createElement("input");
  sampleIn.type = "range";
  sampleIn.min = "0";
  sampleIn.max = String(Math.max(0, (probe()?.n ?? 1) - 1));
  sampleIn.id = "sample";
  const sampleOut = document.createElement("span");
  const layerSel = document.createElement("select");
  layerSel.id = "layer";
  for (const name of ["", ...store.graph.layers.map((l) => l.name)]) {
    const o = document.createElement("option");
    o.value = name;
    o.textContent = name || "(no layer)";
    layerSel.appendChild(o);
  }
  const label = (text: string, ...els: HTMLElement[]) => {
    const l = document.createElement("label");
    l.append(document.createTextNode(text), ...els);
    controls.appendChild(l);
  };
  label("epoch ", epochIn, epochOut);
  label(" sample ", sampleIn, sampleOut);
  label(" layer ", layerSel);
  epochIn.oninput = () => set({ epoch: epochs[Number(epochIn.value)] });
  sampleIn.oninput = () => set({ sample: Number(sampleIn.value) });
  layerSel.onchange = () => set({ layer: layerSel.value });
  function syncControls() {
    epochIn.value = String(Math.max(0, store.indexAt(state.epoch)));
    epochOut.textContent = ` ${store.at(state.epoch)?.label ?? ""}`;
    sampleIn.value = String(state.sample ?? 0);
    sampleOut.textContent = ` ${state.sample ?? 0}`;
    layerSel.value = state.layer;
  }
  syncControls();

  current = {
    store, view, ctx, set,
    epochs: () => store.epochs(),
    destroy() {
      view.destroy();
      view.el.remove();
      current = null;
    },
  };
  return current;
}

/** Fetch a state dump and mount it. */
export async function load(url: string, opts: Opts = {}, rename?: [string, string]): Promise<MountedInside> {
  let st = (await (await fetch(url)).json()) as ProbeState;
  if (rename) st = renameLayer(st, rename[0], rename[1]);
  return mount(st, opts);
}

const api = { load, mount, renameLayer, current: () => current };
declare global {
  interface Window {
    nnvizInside: typeof api;
  }
}
window.nnvizInside = api;
