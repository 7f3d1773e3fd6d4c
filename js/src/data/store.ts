// The browser-side copy of a run: graph + every decoded snapshot, shared by all views of a model.
// Pure data + events: no DOM, no three.js. shell/model.ts feeds it from the widget model; what a
// color mode shows is read from it by color/modes.ts.
import type { DeltaRef, GraphInfo, LayerInfo, Snapshot } from "./types";

export type StoreEvent = "data"; // graph or snapshots changed

export class Store {
  graph: GraphInfo;
  /** Sorted by epoch; the "init" snapshot (epoch -1) first when present. */
  snapshots: Snapshot[] = [];
  private byName = new Map<string, LayerInfo>();
  private listeners = new Set<(e: StoreEvent) => void>();
  private rangeCache = new Map<string, number>();

  constructor(graph: GraphInfo) {
    this.graph = graph;
    this.setGraph(graph);
  }

  setGraph(graph: GraphInfo): void {
    this.graph = graph;
    this.byName = new Map(graph.layers.map((l) => [l.name, l]));
    this.rangeCache.clear();
    this.emit("data");
  }

  setSnapshots(snaps: Snapshot[]): void {
    this.snapshots = [...snaps].sort((a, b) => a.epoch - b.epoch);
    this.rangeCache.clear();
    this.emit("data");
  }

  layer(name: string): LayerInfo | undefined {
    return this.byName.get(name);
  }

  on(cb: (e: StoreEvent) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private emit(e: StoreEvent): void {
    for (const cb of [...this.listeners]) cb(e);
  }

  /** Recorded epochs (init = -1 included when present). */
  epochs(): number[] {
    return this.snapshots.map((s) => s.epoch);
  }

  /** Index of the snapshot shown at `epoch`: the last one recorded at or before it (else the first). */
  indexAt(epoch: number): number {
    let idx = -1;
    for (let i = 0; i < this.snapshots.length; i++) {
      if (this.snapshots[i].epoch <= epoch) idx = i;
      else break;
    }
    return idx < 0 ? (this.snapshots.length ? 0 : -1) : idx;
  }

  at(epoch: number): Snapshot | null {
    const i = this.indexAt(epoch);
    return i < 0 ? null : this.snapshots[i];
  }

  /** The latest snapshot (what a fresh view shows, and what picks the drawn connections). */
  latest(): Snapshot | null {
    return this.snapshots.length ? this.snapshots[this.snapshots.length - 1] : null;
  }

  /** Weight values of `layer`/`param` at `epoch` (full matrix, or the fixed sample). */
  weight(layer: string, epoch: number, param = "weight"): Float32Array | null {
    return this.weightsAt(epoch)?.weights.get(`${layer}/${param}`) ?? null;
  }

  /** Flat indices of a sampled weight into its full shape, or null when the full matrix is kept. */
  sampleIndices(layer: string, param = "weight"): Uint32Array | null {
    for (const s of this.snapshots) {
      const idx = s.indices.get(`${layer}/${param}`);
      if (idx) return idx;
    }
    return null;
  }

  /** The full shape of a (possibly sampled) weight. */
  fullShape(layer: string, param = "weight"): number[] | null {
    for (const s of this.snapshots) {
      const sh = s.fullShapes.get(`${layer}/${param}`);
      if (sh) return sh;
    }
    const l = this.layer(layer);
    return l?.param_shapes[param] ?? null;
  }

  /** The snapshot a delta is measured against. */
  reference(epoch: number, deltaRef: DeltaRef): Snapshot | null {
    const i = this.indexAt(epoch);
    if (i < 0) return null;
    if (deltaRef === "init") return this.snapshots[0];
    return i > 0 ? this.snapshots[i - 1] : this.snapshots[i];
  }

  /** The snapshot whose weights are shown at `epoch`: thinned epochs fall back to the last kept one. */
  weightsAt(epoch: number): Snapshot | null {
    const i = this.indexAt(epoch);
    for (let j = i; j >= 0; j--) if (!this.snapshots[j].thinned) return this.snapshots[j];
    return i >= 0 ? this.snapshots[i] : null;
  }

  /**
   * A layer's probe activations for one sample at `epoch`, flattened (channel means for big
   * image layers). `index` lists the units kept when only a fixed sample of units is recorded.
   * The input layer's activations (the probe itself) live in the init snapshot.
   */
  activation(layer: string, epoch: number, sample: number): { values: Float32Array; index: Uint32Array | null; shape: number[] } | null {
    let a = this.at(epoch)?.acts.get(layer);
    if (!a) {
      for (let j = this.indexAt(epoch); j >= 0 && !a; j--) a = this.snapshots[j].acts.get(layer);
    }
    if (!a) return null;
    const info = a.info;
    if (info.mode === "maps") {
      if (!a.mean) return null;
      const n = info.shape[0]; // channels: the means hold (probe samples, channels)
      const s = Math.min(sample, Math.floor(a.mean.length / n) - 1);
      return s < 0 ? null : { values: a.mean.subarray(s * n, (s + 1) * n), index: null, shape: [n] };
    }
    const per = info.shape.reduce((x, y) => x * y, 1);
    const s = Math.min(sample, info.samples - 1);
    if (s < 0) return null;
    return { values: a.act.subarray(s * per, (s + 1) * per), index: a.index, shape: info.shape };
  }

  /**
   * An attention layer's attention averaged over heads for one probe sample at `epoch`: a
   * queries x keys matrix (row-major; rows are queries). Thinned epochs fall back to the last
   * earlier snapshot with one. Null where none was recorded, or for a sample past those kept
   * (`samples` says how many are).
   */
  attention(layer: string, epoch: number, sample: number): { values: Float32Array; queries: number; keys: number; samples: number; epoch: number } | null {
    for (let j = this.indexAt(epoch); j >= 0; j--) {
      const a = this.snapshots[j].acts.get(layer);
      if (!a?.attn || !a.attnShape) continue;
      const [n, t, k] = a.attnShape;
      const s = Math.floor(sample);
      if (!(s >= 0 && s < n) || a.attn.length < n * t * k) return null;
      return { values: a.attn.subarray(s * t * k, (s + 1) * t * k), queries: t, keys: k, samples: n, epoch: this.snapshots[j].epoch };
    }
    return null;
  }

  /** Whether any snapshot holds attention maps for `layer`; their [samples, queries, keys]. */
  attentionShape(layer: string): [number, number, number] | null {
    for (const s of this.snapshots) {
      const sh = s.acts.get(layer)?.attnShape;
      if (sh) return sh;
    }
    return null;
  }

  /** weight x incoming activation per connection (the signal that flows), for one probe sample. */
  signal(layer: string, w: Float32Array, epoch: number, sample: number): Float32Array | null {
    const src = this.graph.neuron_source[layer];
    const shape = this.fullShape(layer);
    if (!src || !shape || shape.length !== 2) return null;
    const a = this.activation(src, epoch, sample);
    if (!a) return null;
    const fanIn = shape[1];
    // channel means (big image layers) don't give one value per incoming unit: no signal then
    if (!a.index && a.values.length < fanIn) return null;
    let lookup: (i: number) => number;
    if (a.index) {
      const pos = new Map<number, number>();
      a.index.forEach((u, k) => pos.set(u, k));
      lookup = (i) => { const k = pos.get(i); return k === undefined ? NaN : a.values[k]; };
    } else {
      lookup = (i) => a.values[i];
    }
    const idx = this.sampleIndices(layer);
    const out = new Float32Array(w.length);
    for (let k = 0; k < w.length; k++) {
      const flat = idx ? idx[k] : k;
      out[k] = w[k] * lookup(flat % fanIn);
    }
    return out;
  }

  /**
   * The largest finite |value| over every snapshot (`of` gives a snapshot's values, or null), kept
   * under `key` until the data changes: the fixed color range of a layer while scrubbing.
   */
  maxAbs(key: string, of: (snap: Snapshot) => ArrayLike<number> | null | undefined): number {
    const hit = this.rangeCache.get(key);
    if (hit !== undefined) return hit;
    let m = 0;
    for (const s of this.snapshots) {
      const v = of(s);
      if (!v) continue;
      for (let i = 0; i < v.length; i++) {
        const a = Math.abs(v[i]);
        if (a > m && Number.isFinite(a)) m = a;
      }
    }
    this.rangeCache.set(key, m);
    return m;
  }

  /** Metric names over all snapshots, "loss" and "val_loss" first. */
  metricNames(): string[] {
    const names = new Set<string>();
    for (const s of this.snapshots) for (const k of Object.keys(s.metrics)) names.add(k);
    const order = (n: string) => (n === "loss" ? 0 : n === "val_loss" ? 1 : 2);
    return [...names].sort((a, b) => order(a) - order(b) || a.localeCompare(b));
  }
}
