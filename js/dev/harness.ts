// Dev harness: mounts the real widget bundle's default export (initialize, then render) on fake
// anywidget models holding synthetic runs. Bundled by `node build.mjs --dev` into
// test-dist/dev/harness.js (an IIFE exposing window.nnvizDev); the page is test-dist/dev/index.html.
import * as fx from "./fixtures";
import { FakeManager, FakeModel } from "./fake-model";
import type { GraphInfo, ProbeInfo, SnapshotHeader } from "../src/data/types";

/** The portable form of a widget's state (also what the Python dump script writes). */
export interface DevState {
  graph: GraphInfo;
  snapshots: { header: SnapshotHeader; data_b64: string }[];
  traits?: Record<string, unknown>;
}

interface Widget {
  initialize?(args: { model: FakeModel }): void | (() => void) | Promise<void | (() => void)>;
  render(args: { model: FakeModel; el: HTMLElement }): void | (() => void) | Promise<void | (() => void)>;
}

const manager = new FakeManager();

function probeOf(n: number, input: string, imageShape: number[] | null): ProbeInfo {
  return { n, labels: Array.from({ length: n }, (_, i) => i % 10), input, image_shape: imageShape };
}

function pack(graph: GraphInfo, snaps: fx.EncodedSnapshot[], traits: Record<string, unknown> = {}): DevState {
  return { graph, snapshots: snaps.map((s) => ({ header: s.header, data_b64: fx.toBase64(s.data) })), traits };
}

/** Synthetic runs by name. */
export function state(name: string): DevState {
  switch (name) {
    case "mlp": {
      // the torch MLP as the adapter sees it: an "output" node after fc2, probe + health recorded
      const g = fx.mlpGraph(128, 28, 10, "MLP", true);
      return pack(g, fx.runFor(g, { epochs: 3, probe: 4, health: true }), { _probe: probeOf(4, "input", [28, 28]) });
    }
    case "mlp-normgrads": {
      // as "mlp", but the loop recorded no per-connection gradient: only each layer's norm
      const g = fx.mlpGraph(128, 28, 10, "MLP", true);
      return pack(g, fx.runFor(g, { epochs: 3, probe: 4, grads: false }), { _probe: probeOf(4, "input", [28, 28]) });
    }
    case "mlp-sampled":
      return pack(fx.mlpGraph(), fx.runFor(fx.mlpGraph(), { epochs: 3, sampleOver: 30000 }));
    case "small": {
      const g = fx.mlpGraph(16, 5, 4, "TinyMLP");
      return pack(g, fx.runFor(g, { epochs: 3, probe: 2 }));
    }
    case "cnn":
      return pack(fx.cnnGraph(), fx.runFor(fx.cnnGraph(), { epochs: 3, sampleOver: 20000, probe: 4, maps: 3, health: true }), {
        _probe: probeOf(4, "input", [28, 28]),
      });
    case "resnet":
      return pack(fx.resnetGraph(), fx.runFor(fx.resnetGraph(), { epochs: 2, sampleOver: 2000, grads: false }), {
        _notice: "older epochs thinned to stay within 64 MB",
      });
    case "xss": {
      const g = fx.xssGraph();
      const evil = g.layers[2].name;
      return pack(g, fx.runFor(g, { epochs: 2 }), { layer: evil });
    }
    case "gpt": {
      // a GPT-2-like model with its module tree, opened at the transformer (GPT2Block × 4)
      const g = fx.gptGraph(4);
      return pack(g, fx.runFor(g, { epochs: 3, health: true }), { expanded: ["transformer"] });
    }
    case "empty":
      return pack(fx.mlpGraph(), []);
    default:
      throw new Error(`unknown run ${name}`);
  }
}

export interface Mounted {
  model: FakeModel;
  el: HTMLElement;
  /** model listeners before initialize / after initialize (before render) */
  listenersBefore: number;
  listenersAfterInit: number;
  destroy(): Promise<void>;
  /** add one snapshot child (as recording an epoch does) */
  record(snap: { header: SnapshotHeader; data_b64: string }): void;
}

function childFor(s: { header: SnapshotHeader; data_b64: string }): FakeModel {
  return manager.create({ header: s.header, data: fx.fromBase64(s.data_b64) });
}

/** Mount one view of a new model holding `st` into `parent` (a new div.cell). */
export async function mount(widget: Widget, parent: HTMLElement, st: DevState, opts: { width?: number } = {}): Promise<Mounted> {
  const children = st.snapshots.map(childFor);
  const epochs = st.snapshots.map((s) => s.header.epoch);
  const traits: Record<string, unknown> = {
    _graph: st.graph,
    _snapshots: children.map((c) => `IPY_MODEL_${c.id}`),
    epoch: epochs.length ? Math.max(...epochs) : -1,
    layer: "",
    _layer_index: 0, // 0 = none, i + 1 = _graph.layers[i]
    mode: "3d",
    _mode_index: 0,
    color_by: "weight",
    _color_index: 0,
    delta_ref: "previous",
    _delta_index: 0,
    max_connections: 20000,
    height: 520,
    _notice: "",
    sample: 0,
    _probe: null,
    // as widget.py's _choices (controls.py CHOICES)
    _choices: { mode: ["3d", "2d"], color_by: ["weight", "delta", "gradient", "activation"], delta_ref: ["previous", "init"] },
    ...(st.traits ?? {}),
  };
  const model = manager.create(traits);
  const el = document.createElement("div");
  el.className = "cell nnviz-controls"; // the notebook's ipywidgets controls stand around it
  if (opts.width) el.style.width = `${opts.width}px`;
  parent.appendChild(el);
  const listenersBefore = model.listenerCount();
  const initCleanup = (await widget.initialize?.({ model })) || undefined;
  const listenersAfterInit = model.listenerCount();
  const cleanup = (await widget.render({ model, el })) || undefined;
  return {
    model,
    el,
    listenersBefore,
    listenersAfterInit,
    async destroy() {
      if (cleanup) cleanup();
      if (initCleanup) initCleanup();
      el.remove();
    },
    record(s) {
      const c = childFor(s);
      model.set("_snapshots", [...(model.get("_snapshots") as string[]), `IPY_MODEL_${c.id}`]);
    },
  };
}

/** Render another view of an existing model (what a second output of the same widget does). */
export async function renderAgain(widget: Widget, model: FakeModel, parent: HTMLElement): Promise<() => void> {
  const el = document.createElement("div");
  el.className = "cell nnviz-controls"; // the notebook's ipywidgets controls stand around it
  parent.appendChild(el);
  const cleanup = (await widget.render({ model, el })) || (() => {});
  return () => {
    cleanup();
    el.remove();
  };
}

const api = { state, mount, renderAgain, fixtures: fx, FakeModel, manager };
declare global {
  interface Window {
    nnvizDev: typeof api;
  }
}
window.nnvizDev = api;
