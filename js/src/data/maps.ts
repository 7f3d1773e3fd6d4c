// A layer's feature maps as recorded (the probe sample's activations of image-shaped layers):
// which layer's maps a conv shows, their shape, one sample's maps at an epoch, their scale. Pure
// reads of the Store, shared by the 3D planes, the 2D tiles and the inside panel.
import type { Store } from "./store";

/** The probe sample's maps of an image-shaped layer at `epoch` ((C, H, W...) values), or null. */
export function featureMaps(store: Store, layer: string, epoch: number, sample: number): Float32Array | null {
  for (let j = store.indexAt(epoch); j >= 0; j--) {
    const a = store.snapshots[j].acts.get(layer);
    if (!a) continue;
    if (a.info.shape.length < 3 || sample < 0 || sample >= a.info.samples) return null;
    const per = a.info.shape.reduce((x, y) => x * y, 1);
    if (a.act.length < (sample + 1) * per) return null;
    return a.act.subarray(sample * per, (sample + 1) * per);
  }
  return null;
}

/**
 * (C, H, W) of the maps recorded for a layer (any snapshot; a 3D conv's depth folds into W), or
 * null. `whole`: only whole maps ("units" keeps a sample of units: no map to draw).
 */
export function mapShape(store: Store, layer: string, whole = false): [number, number, number] | null {
  for (const s of store.snapshots) {
    const a = s.acts.get(layer);
    if (a && a.info.shape.length >= 3 && (!whole || a.info.mode === "full" || a.info.mode === "maps")) {
      const [c, hh, ...rest] = a.info.shape;
      return [c, hh, rest.reduce((x, y) => x * y, 1)];
    }
  }
  return null;
}

/**
 * Whose maps a layer's planes show: the activation right after it (a conv's ReLU: what the
 * channel detects, as the inside panel shows it) when that is its only consumer and has maps of
 * the same shape, else its own; null when neither has maps.
 */
export function mapSource(store: Store, layer: string): string | null {
  const own = mapShape(store, layer);
  const next = store.graph.edges.filter(([a]) => a === layer).map(([, b]) => b);
  if (next.length === 1 && store.layer(next[0])?.kind === "activation") {
    const theirs = mapShape(store, next[0]);
    if (theirs && (!own || theirs.join() === own.join())) return next[0];
  }
  return own ? layer : null;
}

/** A layer's activation scale across every epoch: signed or not, and the 99th percentile of |v|. */
export function actScale(store: Store, layer: string): { signed: boolean; lo: number; abs: number } {
  let lo = Infinity;
  const sample: number[] = [];
  for (const s of store.snapshots) {
    const a = s.acts.get(layer)?.act;
    if (!a) continue;
    const step = Math.max(1, Math.floor(a.length / 4000));
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      if (!Number.isFinite(v)) continue;
      if (v < lo) lo = v;
      if (i % step === 0) sample.push(Math.abs(v));
    }
  }
  sample.sort((a, b) => a - b);
  const abs = sample.length ? sample[Math.min(sample.length - 1, Math.floor(0.99 * sample.length))] || sample[sample.length - 1] : 0;
  return { signed: lo < 0, lo: Number.isFinite(lo) ? lo : 0, abs };
}
