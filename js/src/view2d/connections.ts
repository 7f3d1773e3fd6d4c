// The 2D view's neuron columns and connections: which neurons each column shows (those with the
// most |weight|), and the strongest connections between shown neurons within the budget.
import { modeRange } from "../color/modes";
import { pickNeurons } from "../layout/layout2d";
import { R, shownCount, type ConnSet } from "./geometry";
import type { View2DState } from "./state";

/** Which neurons each column shows, and the connections between shown neurons (data changes). */
export function rebuildConnections(vs: View2DState): void {
  const store = vs.store;
  vs.conns = [];
  vs.total = 0;
  if (!vs.dg) return;
  const latest = store.latest();
  const scores = new Map<string, Float64Array>();
  const scoreOf = (id: string) => {
    let s = scores.get(id);
    if (!s) {
      s = new Float64Array(vs.nodeById.get(id)?.column?.total ?? 0);
      scores.set(id, s);
    }
    return s;
  };
  for (const [dense, src] of vs.dg.neuronSource) {
    const shape = store.fullShape(dense);
    if (shape && shape.length === 2) vs.total += shape[0] * shape[1];
    if (!latest || !shape || shape.length !== 2) continue;
    const w = store.weight(dense, latest.epoch);
    if (!w) continue;
    const idx = store.sampleIndices(dense);
    const nin = shape[1];
    const so = scoreOf(dense);
    const si = scoreOf(src);
    for (let j = 0; j < w.length; j++) {
      const flat = idx ? idx[j] : j;
      const a = Math.abs(w[j]);
      if (!Number.isFinite(a)) continue;
      const o = Math.floor(flat / nin);
      const i = flat - o * nin;
      if (o < so.length) so[o] += a;
      if (i < si.length) si[i] += a;
    }
  }
  for (const n of vs.nodes) {
    const c = n.column;
    if (!c) continue;
    const k = shownCount(c.total, vs.cap);
    const s = scores.get(n.id);
    let any = false;
    if (s) for (let k = 0; k < s.length; k++) if (s[k] > 0) { any = true; break; }
    if (any) c.shown = pickNeurons(s!, k);
    else c.shown = Array.from({ length: k }, (_, q) => Math.floor((q * c.total) / k)); // evenly spread
  }
  const budget = Math.max(0, vs.ctx.state().maxConnections ?? 20000);
  type Cand = { set: number; j: number; o: number; i: number; s: number };
  const cands: Cand[] = [];
  const sets: { layer: string; src: string; full: number }[] = [];
  for (const [dense, src] of vs.dg.neuronSource) {
    const dn = vs.nodeById.get(dense)?.column;
    const sn = vs.nodeById.get(src)?.column;
    const shape = store.fullShape(dense);
    if (!dn || !sn || !shape || shape.length !== 2 || !latest) continue;
    const w = store.weight(dense, latest.epoch);
    if (!w) continue;
    const range = modeRange(store, dense, { colorBy: "weight" }) || 1;
    const nin = shape[1];
    const posO = new Map(dn.shown.map((v, k) => [v, k]));
    const posI = new Map(sn.shown.map((v, k) => [v, k]));
    const setIdx = sets.length;
    sets.push({ layer: dense, src, full: shape[0] * shape[1] });
    const idx = store.sampleIndices(dense);
    if (idx) {
      for (let j = 0; j < idx.length && j < w.length; j++) {
        const o = Math.floor(idx[j] / nin);
        const i = idx[j] - o * nin;
        if (posO.has(o) && posI.has(i)) cands.push({ set: setIdx, j, o, i, s: Math.abs(w[j]) / range });
      }
    } else {
      for (const o of dn.shown) {
        for (const i of sn.shown) {
          const j = o * nin + i;
          if (j < w.length) cands.push({ set: setIdx, j, o, i, s: Math.abs(w[j]) / range });
        }
      }
    }
  }
  let keep = cands;
  if (cands.length > budget) {
    keep = cands
      .map((c, k) => ({ c, k, s: Number.isFinite(c.s) ? c.s : Infinity }))
      .sort((a, b) => b.s - a.s || a.k - b.k)
      .slice(0, budget)
      .map((x) => x.c);
  }
  const per = sets.map(() => [] as Cand[]);
  for (const c of keep) per[c.set].push(c);
  sets.forEach((s, k) => {
    const list = per[k];
    const dn = vs.nodeById.get(s.layer)!.column!;
    const sn = vs.nodeById.get(s.src)!.column!;
    const posO = new Map(dn.shown.map((v, q) => [v, q]));
    const posI = new Map(sn.shown.map((v, q) => [v, q]));
    const set: ConnSet = {
      layer: s.layer, src: s.src, n: list.length, full: s.full,
      x1: new Float32Array(list.length), y1: new Float32Array(list.length),
      x2: new Float32Array(list.length), y2: new Float32Array(list.length),
      j: new Uint32Array(list.length), o: new Uint32Array(list.length), i: new Uint32Array(list.length),
    };
    list.forEach((c, q) => {
      set.x1[q] = sn.cx + R;
      set.y1[q] = sn.ys[posI.get(c.i)!];
      set.x2[q] = dn.cx - R;
      set.y2[q] = dn.ys[posO.get(c.o)!];
      set.j[q] = c.j;
      set.o[q] = c.o;
      set.i[q] = c.i;
    });
    vs.conns.push(set);
  });
  vs.drawn = keep.length;
}
