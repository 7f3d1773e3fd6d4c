// Synthetic runs for the dev harness and the unit tests: graphs shaped like graph.py's to_dict(),
// snapshots encoded like wire.py (JSON header + one byte buffer, arrays 8-aligned, float16 weights).
export { fromBase64 } from "../src/data/pagemodel";
import type { ActInfo, ArrayRef, GraphInfo, LayerInfo, LayerStats, ModuleInfo, SnapshotHeader } from "../src/data/types";
// graph.py's LAYER_KINDS as Graph.to_dict() sends it (tests/test_layers.py checks the copy agrees)
import KINDS from "./kinds.json";

// ---------------------------------------------------------------------------------------------
// float16 encoding (round to nearest even), the inverse of data/decode.ts's halfToFloat.
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

export function floatToHalf(val: number): number {
  F32[0] = val;
  const x = U32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

// ---------------------------------------------------------------------------------------------
// Deterministic randomness.
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}

function gauss(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

// ---------------------------------------------------------------------------------------------
// Snapshot encoding.
export interface ArraySpec {
  layer: string;
  param: string;
  kind: ArrayRef["kind"];
  dtype: ArrayRef["dtype"];
  shape: number[];
  values: ArrayLike<number>;
  full_shape?: number[];
}

export interface EncodedSnapshot {
  header: SnapshotHeader;
  data: DataView;
}

const SIZES = { float16: 2, float32: 4, int32: 4, uint32: 4, uint8: 1 } as const;

/** Pack arrays into one buffer (each 8-aligned) and build the header that points into it. */
export function encodeSnapshot(
  epoch: number,
  metrics: Record<string, number | string>,
  arrays: ArraySpec[],
  stats: Record<string, LayerStats> = {},
): EncodedSnapshot {
  let size = 0;
  const offsets: number[] = [];
  for (const a of arrays) {
    size = Math.ceil(size / 8) * 8;
    offsets.push(size);
    size += a.values.length * SIZES[a.dtype];
  }
  const buf = new ArrayBuffer(Math.ceil(size / 8) * 8);
  const view = new DataView(buf);
  const refs: ArrayRef[] = arrays.map((a, i) => {
    const off = offsets[i];
    for (let j = 0; j < a.values.length; j++) {
      const v = a.values[j];
      switch (a.dtype) {
        case "float16": view.setUint16(off + 2 * j, floatToHalf(v), true); break;
        case "float32": view.setFloat32(off + 4 * j, v, true); break;
        case "int32": view.setInt32(off + 4 * j, v, true); break;
        case "uint32": view.setUint32(off + 4 * j, v, true); break;
        case "uint8": view.setUint8(off + j, v); break;
      }
    }
    const ref: ArrayRef = { layer: a.layer, param: a.param, kind: a.kind, dtype: a.dtype, shape: a.shape, offset: off };
    if (a.full_shape) ref.full_shape = a.full_shape;
    return ref;
  });
  const header: SnapshotHeader = {
    v: 1, epoch, label: epoch < 0 ? "init" : `epoch ${epoch}`, metrics, arrays: refs, stats,
  };
  return { header, data: view };
}

/** Per-layer stats + a 64-bin histogram of the given values. */
export function statsOf(values: ArrayLike<number>, prev: ArrayLike<number> | null, grad: ArrayLike<number> | null): { stats: LayerStats; hist: Float32Array } {
  let n = 0, sum = 0, sq = 0, lo = Infinity, hi = -Infinity, nonfinite = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) { nonfinite++; continue; }
    n++; sum += v; sq += v * v;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const mean = n ? sum / n : 0;
  const std = n ? Math.sqrt(Math.max(0, sq / n - mean * mean)) : 0;
  const hist = new Float32Array(64);
  const span = hi > lo ? hi - lo : 1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    hist[Math.min(63, Math.floor(((v - lo) / span) * 64))]++;
  }
  let upd: number | null = null;
  if (prev) {
    let d = 0, p = 0;
    for (let i = 0; i < values.length; i++) { d += (values[i] - prev[i]) ** 2; p += prev[i] ** 2; }
    upd = p > 0 ? Math.sqrt(d) / Math.sqrt(p) : null;
  }
  let gn: number | null = null;
  if (grad) { let g = 0; for (let i = 0; i < grad.length; i++) g += grad[i] ** 2; gn = Math.sqrt(g); }
  return {
    stats: { mean, std, norm: Math.sqrt(sq), min: lo, max: hi, nonfinite, grad_norm: gn, update_ratio: upd, hist_lo: lo, hist_hi: hi },
    hist,
  };
}

// ---------------------------------------------------------------------------------------------
// Graphs.
function layer(id: number, name: string, kind: LayerInfo["kind"], op: string, out: (number | null)[], extra: Partial<LayerInfo> = {}): LayerInfo {
  return {
    id, name, kind, op, output_shape: out, input_shapes: [], units: null, param_shapes: {}, params: 0,
    parent: null, detail: {}, ...extra,
  };
}

function dense(id: number, name: string, inF: number, outF: number): LayerInfo {
  return layer(id, name, "dense", "Linear", [outF], {
    input_shapes: [[inF]], units: outF, param_shapes: { weight: [outF, inF], bias: [outF] }, params: outF * inF + outF,
  });
}

function chainEdges(layers: LayerInfo[]): [string, string][] {
  const e: [string, string][] = [];
  for (let i = 1; i < layers.length; i++) e.push([layers[i - 1].name, layers[i].name]);
  return e;
}

function graphOf(model_name: string, layers: LayerInfo[], edges: [string, string][], neuron_source: Record<string, string>, extra: Partial<GraphInfo> = {}): GraphInfo {
  return {
    framework: "torch", model_name, approximate: false, notes: [], data_format: "channels_first", layers, edges, neuron_source,
    total_params: layers.reduce((s, l) => s + l.params, 0), kinds: KINDS, ...extra,
  };
}

/** The 784-128-10 MLP (input 1x28x28 -> flatten -> fc1 -> relu -> fc2), and with `output` the
 *  "output" node the torch adapter adds after fc2 (same 10 values). */
export function mlpGraph(hidden = 128, inputSide = 28, out = 10, name = "MLP", output = false): GraphInfo {
  const nIn = inputSide * inputSide;
  const layers = [
    layer(0, "input", "input", "Input", [1, inputSide, inputSide]),
    layer(1, "flatten", "reshape", "Flatten", [nIn], { input_shapes: [[1, inputSide, inputSide]] }),
    dense(2, "fc1", nIn, hidden),
    layer(3, "relu", "activation", "ReLU", [hidden], { detail: { activation: "relu" } }),
    dense(4, "fc2", hidden, out),
  ];
  if (output) layers.push(layer(5, "output", "output", "output", [out], { input_shapes: [[out]] }));
  return graphOf(name, layers, chainEdges(layers), { fc1: "input", fc2: "fc1" });
}

/** A small CNN: conv -> pool -> conv -> pool -> flatten -> fc -> fc. */
export function cnnGraph(): GraphInfo {
  const conv = (id: number, name: string, cin: number, cout: number, hw: number) =>
    layer(id, name, "conv", "Conv2d", [cout, hw, hw], {
      input_shapes: [[cin, hw, hw]], units: cout, param_shapes: { weight: [cout, cin, 3, 3], bias: [cout] }, params: cout * cin * 9 + cout,
      detail: { kernel_size: [3, 3] },
    });
  const layers = [
    layer(0, "input", "input", "Input", [1, 28, 28]),
    conv(1, "conv1", 1, 16, 28),
    layer(2, "relu1", "activation", "ReLU", [16, 28, 28]),
    layer(3, "pool1", "pool", "MaxPool2d", [16, 14, 14]),
    conv(4, "conv2", 16, 32, 14),
    layer(5, "bn2", "norm", "BatchNorm2d", [32, 14, 14], { params: 64, param_shapes: { weight: [32], bias: [32] } }),
    layer(6, "relu2", "activation", "ReLU", [32, 14, 14]),
    layer(7, "pool2", "pool", "MaxPool2d", [32, 7, 7]),
    layer(8, "flatten", "reshape", "Flatten", [1568]),
    dense(9, "fc1", 1568, 64),
    layer(10, "relu3", "activation", "ReLU", [64]),
    layer(11, "dropout", "dropout", "Dropout", [64]),
    dense(12, "fc2", 64, 10),
  ];
  return graphOf("SmallCNN", layers, chainEdges(layers), { fc2: "fc1" });
}

/** A residual chain of `blocks` blocks (conv, norm, relu, conv, norm, add, relu) = 7*blocks+3 layers. */
export function resnetGraph(blocks = 17): GraphInfo {
  const layers: LayerInfo[] = [];
  const edges: [string, string][] = [];
  let id = 0;
  const add = (l: LayerInfo, from: string[]) => {
    layers.push(l);
    for (const f of from) edges.push([f, l.name]);
    return l.name;
  };
  let prev = add(layer(id++, "input", "input", "Input", [3, 64, 64]), []);
  prev = add(layer(id++, "stem", "conv", "Conv2d", [32, 32, 32], { units: 32, params: 32 * 27, param_shapes: { weight: [32, 3, 3, 3] } }), [prev]);
  let ch = 32, hw = 32;
  for (let b = 0; b < blocks; b++) {
    if (b > 0 && b % 6 === 0) { ch *= 2; hw /= 2; }
    const start = prev;
    const c = (n: string, from: string) => add(layer(id++, n, "conv", "Conv2d", [ch, hw, hw], { units: ch, params: ch * ch * 9, param_shapes: { weight: [ch, ch, 3, 3] } }), [from]);
    let x = c(`block${b}.conv1`, start);
    x = add(layer(id++, `block${b}.bn1`, "norm", "BatchNorm2d", [ch, hw, hw], { params: 2 * ch }), [x]);
    x = add(layer(id++, `block${b}.relu1`, "activation", "ReLU", [ch, hw, hw]), [x]);
    x = c(`block${b}.conv2`, x);
    x = add(layer(id++, `block${b}.bn2`, "norm", "BatchNorm2d", [ch, hw, hw], { params: 2 * ch }), [x]);
    x = add(layer(id++, `block${b}.add`, "merge", "add", [ch, hw, hw]), [x, start]);
    prev = add(layer(id++, `block${b}.relu2`, "activation", "ReLU", [ch, hw, hw]), [x]);
  }
  prev = add(layer(id++, "pool", "pool", "AdaptiveAvgPool2d", [ch, 1, 1]), [prev]);
  add(dense(id++, "fc", ch, 10), [prev]);
  return graphOf("ResNetLike", layers, edges, {}, { approximate: true });
}

/**
 * A small GPT-2-like model with its module tree: token + position embeddings, `blocks` identical
 * GPT2Blocks in a ModuleList (each: ln_1, attn (c_attn, sdpa, c_proj), residual add, ln_2, mlp
 * (c_fc, act, c_proj), residual add), ln_f, then lm_head outside the transformer.
 */
export function gptGraph(blocks = 3, d = 16, seq = 8, vocab = 50): GraphInfo {
  const layers: LayerInfo[] = [];
  const edges: [string, string][] = [];
  const add = (l: LayerInfo, from: string[], parent: string | null) => {
    layers.push({ ...l, id: layers.length, parent });
    for (const f of from) edges.push([f, l.name]);
    return l.name;
  };
  const lin = (name: string, inF: number, outF: number) =>
    layer(0, name, "dense", "Conv1D", [seq, outF], {
      input_shapes: [[seq, inF]], units: outF, param_shapes: { weight: [outF, inF], bias: [outF] }, params: outF * inF + outF,
    });
  const ln = (name: string) => layer(0, name, "norm", "LayerNorm", [seq, d], { params: 2 * d, param_shapes: { weight: [d], bias: [d] } });
  const T = "transformer";
  const ids = add(layer(0, "input_ids", "input", "Input", [seq]), [], null);
  const wte = add(layer(0, `${T}.wte`, "embedding", "Embedding", [seq, d], { params: vocab * d, param_shapes: { weight: [vocab, d] } }), [ids], T);
  const wpe = add(layer(0, `${T}.wpe`, "embedding", "Embedding", [seq, d], { params: seq * d, param_shapes: { weight: [seq, d] } }), [ids], T);
  const sum = add(layer(0, `${T}.add`, "merge", "add", [seq, d]), [wte, wpe], T);
  let x = add(layer(0, `${T}.drop`, "dropout", "Dropout", [seq, d]), [sum], T);
  const modules: ModuleInfo[] = [
    { path: T, parent: null, class: "GPT2Model", container: false, signature: "gpt2model" },
    { path: `${T}.h`, parent: T, class: "ModuleList", container: true, signature: "list" },
  ];
  for (let b = 0; b < blocks; b++) {
    const B = `${T}.h.${b}`;
    modules.push(
      { path: B, parent: `${T}.h`, class: "GPT2Block", container: false, signature: "block" },
      { path: `${B}.attn`, parent: B, class: "GPT2Attention", container: false, signature: "attn" },
      { path: `${B}.mlp`, parent: B, class: "GPT2MLP", container: false, signature: "mlp" },
    );
    const start = x;
    let y = add(ln(`${B}.ln_1`), [start], B);
    y = add(lin(`${B}.attn.c_attn`, d, 3 * d), [y], `${B}.attn`);
    y = add(layer(0, `${B}.attn.sdpa`, "attention", "scaled_dot_product_attention", [seq, d]), [y], `${B}.attn`);
    y = add(lin(`${B}.attn.c_proj`, d, d), [y], `${B}.attn`);
    const mid = add(layer(0, `${B}.add`, "merge", "add", [seq, d]), [y, start], B);
    y = add(ln(`${B}.ln_2`), [mid], B);
    y = add(lin(`${B}.mlp.c_fc`, d, 4 * d), [y], `${B}.mlp`);
    y = add(layer(0, `${B}.mlp.act`, "activation", "NewGELUActivation", [seq, 4 * d]), [y], `${B}.mlp`);
    y = add(lin(`${B}.mlp.c_proj`, 4 * d, d), [y], `${B}.mlp`);
    x = add(layer(0, `${B}.add_1`, "merge", "add", [seq, d]), [y, mid], B);
  }
  x = add(ln(`${T}.ln_f`), [x], T);
  x = add(lin("lm_head", d, vocab), [x], null);
  add(layer(0, "output", "output", "output", [seq, vocab]), [x], null);
  return graphOf("GPT2LMHeadModel", layers, edges, {}, { modules });
}

/** A tiny graph with hostile layer names (they must render as text). */
export function xssGraph(): GraphInfo {
  const g = mlpGraph(8, 4, 3, "<b>bold</b> model");
  const evil = "<img src=x onerror=alert(1)>";
  g.layers[2] = { ...g.layers[2], name: evil };
  g.edges = chainEdges(g.layers);
  g.neuron_source = { [evil]: "input", fc2: evil };
  return g;
}

// ---------------------------------------------------------------------------------------------
// Training runs (weights that change in a visible, structured way).
export interface RunOptions {
  epochs?: number;         // recorded epochs after init (default 3)
  seed?: number;
  /** keep at most this many values of a weight; larger ones are sampled (index array) */
  sampleOver?: number;
  grads?: boolean;
  /** probe activations (MLPs from mlpGraph and cnnGraph only): this many probe samples (default 0: none) */
  probe?: number;
  /** conv layers (cnnGraph): keep feature maps of the first `maps` probe samples (mode "maps") */
  maps?: number;
  /** per-layer health in the headers (MLPs: relu goes dead, fc2's gradient vanishes late) */
  health?: boolean;
}

/** Probe images for an MLP's input: simple strokes (a ring, a bar, a cross, a diagonal...). */
export function probeImages(n: number, side: number): Float32Array {
  const out = new Float32Array(n * side * side);
  const c = (side - 1) / 2;
  for (let s = 0; s < n; s++) {
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const dx = (x - c) / side, dy = (y - c) / side;
        let v = 0;
        switch (s % 4) {
          case 0: v = Math.exp(-((Math.hypot(dx, dy) - 0.28) ** 2) / 0.004); break;
          case 1: v = Math.exp(-(dx * dx) / 0.004) * (Math.abs(dy) < 0.35 ? 1 : 0); break;
          case 2: v = Math.max(Math.exp(-(dx * dx) / 0.003), Math.exp(-(dy * dy) / 0.003)) * (Math.abs(dx) < 0.3 && Math.abs(dy) < 0.3 ? 1 : 0); break;
          default: v = Math.exp(-((dx - dy) ** 2) / 0.004) * (Math.abs(dx) < 0.35 ? 1 : 0);
        }
        out[s * side * side + y * side + x] = v;
      }
    }
  }
  return out;
}

/** Snapshots (init + epochs) for every dense/conv layer of a graph. */
export function runFor(graph: GraphInfo, opts: RunOptions = {}): EncodedSnapshot[] {
  const epochs = opts.epochs ?? 3;
  const r = rng(opts.seed ?? 7);
  const params = graph.layers.filter((l) => l.param_shapes.weight && (l.kind === "dense" || l.kind === "conv"));
  // initial weights + a per-layer "learned" direction the weights move towards
  const init = new Map<string, Float32Array>();
  const target = new Map<string, Float32Array>();
  const biasInit = new Map<string, Float32Array>();
  const biasTarget = new Map<string, Float32Array>();
  const sampled = new Map<string, Uint32Array>();
  for (const l of params) {
    const shape = l.param_shapes.weight;
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = n / shape[0];
    const s = 1 / Math.sqrt(fanIn);
    const w0 = new Float32Array(n);
    for (let i = 0; i < n; i++) w0[i] = (r() * 2 - 1) * s;
    const wt = new Float32Array(n);
    // structured change: each output unit grows a blob over its inputs (a "receptive field")
    const side = Math.round(Math.sqrt(fanIn));
    for (let o = 0; o < shape[0]; o++) {
      const cx = r() * side, cy = r() * side, rad = 2 + r() * side * 0.25, sign = r() < 0.5 ? -1 : 1;
      for (let i = 0; i < fanIn; i++) {
        const px = i % side, py = Math.floor(i / side);
        const d2 = (px - cx) ** 2 + (py - cy) ** 2;
        wt[o * fanIn + i] = sign * 3 * s * Math.exp(-d2 / (2 * rad * rad)) + 0.3 * s * gauss(r);
      }
    }
    init.set(l.name, w0);
    target.set(l.name, wt);
    const nb = shape[0];
    const b0 = new Float32Array(nb);
    const bt = new Float32Array(nb);
    for (let i = 0; i < nb; i++) { b0[i] = 0.01 * gauss(r); bt[i] = 0.4 * gauss(r); }
    biasInit.set(l.name, b0);
    biasTarget.set(l.name, bt);
    if (opts.sampleOver !== undefined && n > opts.sampleOver) {
      // a fixed random sample of flat indices, sorted
      const pick = new Set<number>();
      while (pick.size < opts.sampleOver) pick.add(Math.floor(r() * n));
      sampled.set(l.name, Uint32Array.from([...pick].sort((a, b) => a - b)));
    }
  }
  const out: EncodedSnapshot[] = [];
  let prevW = new Map<string, Float32Array>();
  for (let e = -1; e < epochs; e++) {
    const t = e < 0 ? 0 : 1 - Math.exp(-(e + 1) / 1.5);
    const arrays: ArraySpec[] = [];
    const stats: Record<string, LayerStats> = {};
    const curW = new Map<string, Float32Array>();
    const curB = new Map<string, Float32Array>();
    let actInfo: Record<string, ActInfo> | null = null;
    for (const l of params) {
      const shape = l.param_shapes.weight;
      const w0 = init.get(l.name)!, wt = target.get(l.name)!;
      const w = new Float32Array(w0.length);
      for (let i = 0; i < w.length; i++) w[i] = w0[i] * (1 - 0.5 * t) + wt[i] * t;
      curW.set(l.name, w);
      const b0 = biasInit.get(l.name)!, bt = biasTarget.get(l.name)!;
      const b = new Float32Array(b0.length);
      for (let i = 0; i < b.length; i++) b[i] = b0[i] + (bt[i] - b0[i]) * t;
      curB.set(l.name, b);
      const grad = new Float32Array(w.length);
      const gscale = e < 0 ? 0 : Math.exp(-e);
      for (let i = 0; i < w.length; i++) grad[i] = (wt[i] - w[i]) * gscale * 0.5;
      const idx = sampled.get(l.name);
      if (idx) {
        const pick = (a: Float32Array) => Float32Array.from(idx, (k) => a[k]);
        arrays.push({ layer: l.name, param: "weight", kind: "index", dtype: "uint32", shape: [idx.length], values: idx, full_shape: shape });
        arrays.push({ layer: l.name, param: "weight", kind: "weight", dtype: "float16", shape: [idx.length], values: pick(w), full_shape: shape });
        if (opts.grads !== false && e >= 0) arrays.push({ layer: l.name, param: "weight", kind: "grad", dtype: "float16", shape: [idx.length], values: pick(grad), full_shape: shape });
      } else {
        arrays.push({ layer: l.name, param: "weight", kind: "weight", dtype: "float16", shape, values: w });
        if (opts.grads !== false && e >= 0) arrays.push({ layer: l.name, param: "weight", kind: "grad", dtype: "float16", shape, values: grad });
      }
      arrays.push({ layer: l.name, param: "bias", kind: "weight", dtype: "float16", shape: [b.length], values: b });
      if (opts.grads !== false && e >= 0) {
        const gb = Float32Array.from(b, (v, i) => (bt[i] - v) * gscale * 0.5);
        arrays.push({ layer: l.name, param: "bias", kind: "grad", dtype: "float16", shape: [b.length], values: gb });
      }
      const { stats: st, hist } = statsOf(w, prevW.get(l.name) ?? null, e >= 0 ? grad : null);
      stats[l.name] = st;
      arrays.push({ layer: l.name, param: "weight", kind: "hist", dtype: "float32", shape: [64], values: hist });
    }
    if (opts.probe && params.length === 2 && graph.layers.some((l) => l.name === "relu")) {
      const [l1, l2] = params;
      const [h1, nIn] = l1.param_shapes.weight;
      const [nOut] = l2.param_shapes.weight;
      const n = opts.probe;
      const side = Math.round(Math.sqrt(nIn));
      const x = probeImages(n, side);
      const w1 = curW.get(l1.name)!, w2 = curW.get(l2.name)!;
      const b1 = curB.get(l1.name)!, b2 = curB.get(l2.name)!;
      const pre = new Float32Array(n * h1), act = new Float32Array(n * h1), out = new Float32Array(n * nOut);
      for (let k = 0; k < n; k++) {
        for (let o = 0; o < h1; o++) {
          let z = b1[o];
          for (let i = 0; i < nIn; i++) z += w1[o * nIn + i] * x[k * nIn + i];
          pre[k * h1 + o] = z;
          act[k * h1 + o] = Math.max(0, z);
        }
        for (let o = 0; o < nOut; o++) {
          let z = b2[o];
          for (let i = 0; i < h1; i++) z += w2[o * h1 + i] * act[k * h1 + i];
          out[k * nOut + o] = z;
        }
      }
      const info: Record<string, { mode: "full"; shape: number[]; samples: number }> = {};
      const put = (layer: string, shape: number[], values: Float32Array) => {
        arrays.push({ layer, param: "act", kind: "act", dtype: "float16", shape: [n, ...shape], values });
        info[layer] = { mode: "full", shape, samples: n };
      };
      if (e < 0) put(graph.layers[0].name, graph.layers[0].output_shape as number[], x);
      put(l1.name, [h1], pre);
      put("relu", [h1], act);
      put(l2.name, [nOut], out);
      actInfo = info;
    }
    if (opts.probe && graph.layers.some((l) => l.kind === "conv")) {
      actInfo = convActs(graph, arrays, opts.probe, opts.maps ?? opts.probe, e, t);
    }
    prevW = curW;
    const loss = 2.3 * Math.exp(-(e + 1) / 1.2) + 0.1;
    const metrics: Record<string, number | string> =
      e < 0 ? {} : { loss, val_loss: loss * 1.1 + 0.02 * (e + 1), accuracy: 1 - loss / 2.5 };
    const enc = encodeSnapshot(e, metrics, arrays, stats);
    if (actInfo) enc.header.act_info = actInfo;
    if (opts.health) enc.header.health = healthFor(graph, e, epochs);
    out.push(enc);
  }
  return out;
}

/**
 * Health records like probe.py's: the ReLU layer dies a little more each epoch (62% dead at the
 * last one) and the last dense layer's gradient ratio drops to 5e-3 (vanishing) at the last epoch.
 */
export function healthFor(graph: GraphInfo, e: number, epochs: number): Record<string, Record<string, number | null>> {
  const out: Record<string, Record<string, number | null>> = {};
  const last = e === epochs - 1;
  const dense = graph.layers.filter((l) => l.kind === "dense" || l.kind === "conv");
  dense.forEach((l, k) => {
    out[l.name] = {
      dead: null, saturated: null, act_nonfinite: 0, grad_norm: e < 0 ? null : 0.5 / (k + 1),
      grad_ratio: e < 0 || k === 0 ? null : k === dense.length - 1 && last ? 5e-3 : 0.6,
      update_ratio: e < 0 ? null : 1e-3,
    };
  });
  for (const l of graph.layers) {
    if (l.kind !== "activation") continue;
    const dead = e < 0 ? 0.05 : Math.min(0.62, 0.1 + (0.52 * (e + 1)) / Math.max(1, epochs));
    out[l.name] = { dead, saturated: null, act_nonfinite: 0, grad_norm: null, grad_ratio: null, update_ratio: null };
  }
  return out;
}

/**
 * Feature maps for a conv graph (cnnGraph): the probe images in the input layer (init only), and
 * for each conv layer oriented edge responses of the probe image (channel c: direction c * 180/C
 * degrees) that sharpen with training: maps of the first `k` samples (mode "maps", channels
 * first) plus every sample's channel means.
 */
function convActs(graph: GraphInfo, arrays: ArraySpec[], n: number, k: number, e: number, t: number): Record<string, ActInfo> {
  const info: Record<string, ActInfo> = {};
  const inp = graph.layers[0];
  const side = Number(inp.output_shape[1]);
  const x = probeImages(n, side);
  if (e < 0) {
    arrays.push({ layer: inp.name, param: "act", kind: "act", dtype: "float16", shape: [n, 1, side, side], values: x });
    info[inp.name] = { mode: "full", shape: [1, side, side], samples: n };
  }
  const noise = rng(991 + e);
  for (const l of graph.layers) {
    if (l.kind !== "conv") continue;
    const [C, H, W] = l.output_shape as number[];
    const step = side / H;
    const keep = Math.min(k, n);
    const maps = new Float32Array(keep * C * H * W);
    const means = new Float32Array(n * C);
    for (let s = 0; s < n; s++) {
      for (let c = 0; c < C; c++) {
        const th = (c * Math.PI) / C;
        const dx = Math.cos(th), dy = Math.sin(th);
        let sum = 0;
        for (let y = 0; y < H; y++) {
          for (let xx = 0; xx < W; xx++) {
            const px = Math.min(side - 1, Math.floor(xx * step)), py = Math.min(side - 1, Math.floor(y * step));
            const at = (u: number, v: number) => x[s * side * side + Math.max(0, Math.min(side - 1, v)) * side + Math.max(0, Math.min(side - 1, u))];
            const edge = at(Math.round(px + 2 * dx), Math.round(py + 2 * dy)) - at(Math.round(px - 2 * dx), Math.round(py - 2 * dy));
            const v = Math.max(0, (0.3 + 0.7 * t) * edge * (c % 2 ? -1 : 1) + (1 - t) * 0.25 * noise());
            sum += v;
            if (s < keep) maps[((s * C + c) * H + y) * W + xx] = v;
          }
        }
        means[s * C + c] = sum / (H * W);
      }
    }
    arrays.push({ layer: l.name, param: "act", kind: "act", dtype: "float16", shape: [keep, C, H, W], values: maps });
    arrays.push({ layer: l.name, param: "act_mean", kind: "act", dtype: "float16", shape: [n, C], values: means });
    info[l.name] = { mode: "maps", shape: [C, H, W], samples: keep };
  }
  return info;
}

/** Base64 of a DataView's bytes (for the `{graph, snapshots:[{header, data_b64}], traits}` form). */
export function toBase64(view: DataView): string {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

