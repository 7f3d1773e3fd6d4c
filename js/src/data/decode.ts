// DataView + header -> typed arrays. Pure (no DOM), unit-tested in node.
import type { ActInfo, ArrayRef, ChunkHeader, LayerHealth, LayerStats, Snapshot, SnapshotHeader } from "./types";

/** IEEE half -> float, for one 16-bit pattern. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

// A 64k-entry table makes widening a float16 buffer one lookup per value.
let HALF_TABLE: Float32Array | null = null;
function halfTable(): Float32Array {
  if (!HALF_TABLE) {
    HALF_TABLE = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) HALF_TABLE[i] = halfToFloat(i);
  }
  return HALF_TABLE;
}

/** Widen float16 values (as raw uint16) into a new Float32Array. */
export function widenHalf(raw: Uint16Array): Float32Array {
  const table = halfTable();
  const out = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = table[raw[i]];
  return out;
}

const SIZES = { float16: 2, float32: 4, int32: 4, uint32: 4, uint8: 1 } as const;

function count(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Bytes for one array, copied when the offset is not aligned for its element size. */
function slice(view: DataView, ref: ArrayRef): ArrayBuffer {
  const size = SIZES[ref.dtype];
  const nbytes = count(ref.shape) * size;
  const start = view.byteOffset + ref.offset;
  if (ref.offset + nbytes > view.byteLength) {
    throw new Error(`array ${ref.layer}/${ref.param} runs past the snapshot's ${view.byteLength} bytes`);
  }
  return view.buffer.slice(start, start + nbytes) as ArrayBuffer;
}

/** One array of a snapshot, as Float32Array (floats) or Uint32Array / Int32Array / Uint8Array. */
export function readArray(view: DataView, ref: ArrayRef): Float32Array | Uint32Array | Int32Array | Uint8Array {
  const buf = slice(view, ref);
  switch (ref.dtype) {
    case "float16":
      return widenHalf(new Uint16Array(buf));
    case "float32":
      return new Float32Array(buf);
    case "int32":
      return new Int32Array(buf);
    case "uint32":
      return new Uint32Array(buf);
    case "uint8":
      return new Uint8Array(buf);
  }
}

/** JSON can't carry NaN / Infinity: the wire sends them as strings. */
export function parseNumber(v: number | string | null | undefined): number {
  if (v === null || v === undefined) return NaN;
  if (typeof v === "number") return v;
  return Number(v);
}

function parseStats(raw: Record<string, LayerStats>): Record<string, LayerStats> {
  const out: Record<string, LayerStats> = {};
  for (const [name, s] of Object.entries(raw ?? {})) {
    const fixed: Record<string, number | null> = {};
    for (const [k, v] of Object.entries(s)) {
      fixed[k] = v === null ? null : parseNumber(v as number | string);
    }
    out[name] = fixed as unknown as LayerStats;
  }
  return out;
}

/** Decode one snapshot child's traits: one snapshot, or each part of a chunk (a batch). */
export function decodeChild(header: SnapshotHeader | ChunkHeader, data: DataView | null): Snapshot[] {
  if (!("chunk" in header)) return [decodeSnapshot(header, data)];
  return header.chunk.map((part) => {
    const view = data && part.base + part.size <= data.byteLength
      ? new DataView(data.buffer, data.byteOffset + part.base, part.size)
      : null;
    if (data && !view) throw new Error(`chunk part at ${part.base} (+${part.size}) runs past the data`);
    return decodeSnapshot(part.header, view);
  });
}

/** Decode one Snapshot widget's traits (header JSON + data DataView). */
export function decodeSnapshot(header: SnapshotHeader, data: DataView | null): Snapshot {
  const snap: Snapshot = {
    epoch: header.epoch,
    label: header.label,
    metrics: {},
    stats: parseStats(header.stats),
    weights: new Map(),
    grads: new Map(),
    hists: new Map(),
    indices: new Map(),
    fullShapes: new Map(),
    thinned: !!header.thinned,
    acts: new Map(),
    health: {},
    pred: header.pred ?? [],
    top: null,
    tokens: new Map(Object.entries(header.tokens ?? {}).map(([k, v]) => [Number(k), String(v)])),
    boundary: null,
    fields: new Map(),
  };
  for (const [layer, h] of Object.entries(header.health ?? {})) {
    const fixed: Record<string, number | null> = {};
    for (const [k, v] of Object.entries(h)) fixed[k] = v === null ? null : parseNumber(v);
    snap.health[layer] = fixed as unknown as LayerHealth;
  }
  const actRaw = new Map<string, {
    act?: Float32Array; mean?: Float32Array; index?: Uint32Array; attn?: Float32Array; attnShape?: [number, number, number];
    heads?: Float32Array; headsShape?: [number, number, number, number];
  }>();
  const top: { ids?: Uint32Array; p?: Float32Array; shape?: [number, number, number] } = {};
  const bnd: { value: Float32Array | null; cls: Uint8Array | null; confidence: Float32Array | null } = {
    value: null, cls: null, confidence: null,
  };
  for (const [k, v] of Object.entries(header.metrics ?? {})) snap.metrics[k] = parseNumber(v);
  const view = data ?? new DataView(new ArrayBuffer(0));
  for (const ref of header.arrays ?? []) {
    const key = `${ref.layer}/${ref.param}`;
    const arr = readArray(view, ref);
    switch (ref.kind) {
      case "weight":
        snap.weights.set(key, arr as Float32Array);
        if (ref.full_shape) snap.fullShapes.set(key, ref.full_shape);
        break;
      case "grad":
        snap.grads.set(key, arr as Float32Array);
        break;
      case "hist":
        snap.hists.set(ref.layer, arr instanceof Float32Array ? arr : Float32Array.from(arr));
        break;
      case "index":
        snap.indices.set(key, arr instanceof Uint32Array ? arr : Uint32Array.from(arr));
        if (ref.full_shape) snap.fullShapes.set(key, ref.full_shape);
        break;
      case "act": {
        const e = actRaw.get(ref.layer) ?? {};
        if (ref.param === "act_mean") e.mean = arr as Float32Array;
        else if (ref.param === "attn") {
          // (samples, queries, keys); anything else is not an attention map: ignored
          if (ref.shape.length === 3) {
            e.attn = arr instanceof Float32Array ? arr : Float32Array.from(arr);
            e.attnShape = [ref.shape[0], ref.shape[1], ref.shape[2]];
          }
        } else if (ref.param === "heads") {
          // (samples, heads, queries, keys)
          if (ref.shape.length === 4) {
            e.heads = arr instanceof Float32Array ? arr : Float32Array.from(arr);
            e.headsShape = [ref.shape[0], ref.shape[1], ref.shape[2], ref.shape[3]];
          }
        } else if (ref.param === "act") e.act = arr as Float32Array;
        actRaw.set(ref.layer, e);
        break;
      }
      case "act_index": {
        const e = actRaw.get(ref.layer) ?? {};
        e.index = arr instanceof Uint32Array ? arr : Uint32Array.from(arr);
        actRaw.set(ref.layer, e);
        break;
      }
      case "boundary":
        if (ref.param === "value") bnd.value = arr as Float32Array;
        else if (ref.param === "confidence") bnd.confidence = arr as Float32Array;
        else if (ref.param === "class") bnd.cls = arr instanceof Uint8Array ? arr : Uint8Array.from(arr);
        break;
      case "field":
        snap.fields.set(ref.layer, arr as Float32Array);
        break;
      case "top":
        if (ref.shape.length !== 3) break;
        if (ref.param === "ids") top.ids = arr instanceof Uint32Array ? arr : Uint32Array.from(arr);
        else if (ref.param === "p") top.p = arr instanceof Float32Array ? arr : Float32Array.from(arr);
        top.shape = [ref.shape[0], ref.shape[1], ref.shape[2]];
        break;
      default:
        break;
    }
  }
  for (const [layer, e] of actRaw) {
    const info: ActInfo | undefined = header.act_info?.[layer];
    if (!e.act || !info) continue;
    snap.acts.set(layer, {
      act: e.act, mean: e.mean ?? null, index: e.index ?? null, info,
      attn: e.attn ?? null, attnShape: e.attnShape ?? null,
      heads: e.heads ?? null, headsShape: e.headsShape ?? null,
    });
  }
  if (top.ids && top.p && top.shape && top.ids.length === top.p.length) snap.top = { ids: top.ids, p: top.p, shape: top.shape };
  if (header.boundary) snap.boundary = { meta: header.boundary, ...bnd };
  return snap;
}
