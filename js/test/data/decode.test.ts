import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeChild, decodeSnapshot, halfToFloat, parseNumber, readArray, widenHalf } from "../../src/data/decode";
import { encodeSnapshot, floatToHalf } from "../../dev/fixtures";
import type { ArrayRef } from "../../src/data/types";

test("halfToFloat: zeros, subnormals, normals, limits, Inf, NaN", () => {
  assert.equal(halfToFloat(0x0000), 0);
  assert.ok(Object.is(halfToFloat(0x8000), -0));
  assert.equal(halfToFloat(0x0001), 2 ** -24); // smallest subnormal
  assert.equal(halfToFloat(0x03ff), 1023 * 2 ** -24); // largest subnormal
  assert.equal(halfToFloat(0x8001), -(2 ** -24));
  assert.equal(halfToFloat(0x0400), 2 ** -14); // smallest normal
  assert.equal(halfToFloat(0x3c00), 1);
  assert.equal(halfToFloat(0xc000), -2);
  assert.equal(halfToFloat(0x3555), 0.333251953125);
  assert.equal(halfToFloat(0x7bff), 65504); // largest finite
  assert.equal(halfToFloat(0xfbff), -65504);
  assert.equal(halfToFloat(0x7c00), Infinity);
  assert.equal(halfToFloat(0xfc00), -Infinity);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
  assert.ok(Number.isNaN(halfToFloat(0xfc01)));
});

test("widenHalf agrees with halfToFloat for every pattern; encoder round-trips", () => {
  const all = new Uint16Array(65536);
  for (let i = 0; i < 65536; i++) all[i] = i;
  const wide = widenHalf(all);
  for (let i = 0; i < 65536; i++) {
    const f = halfToFloat(i);
    if (Number.isNaN(f)) assert.ok(Number.isNaN(wide[i]));
    else {
      assert.ok(Object.is(wide[i], f), `pattern ${i.toString(16)}`);
      assert.equal(floatToHalf(f), i, `encode ${f}`);
    }
  }
  assert.equal(floatToHalf(1e6), 0x7c00); // overflow -> Inf
  assert.equal(floatToHalf(1e-10), 0); // underflow -> 0
  assert.equal(halfToFloat(floatToHalf(0.1)), 0.0999755859375);
});

function ref(over: Partial<ArrayRef>): ArrayRef {
  return { layer: "fc", param: "weight", kind: "weight", dtype: "float32", shape: [3], offset: 0, ...over };
}

test("readArray: unaligned offsets and DataViews into a larger buffer", () => {
  const buf = new ArrayBuffer(64);
  const dv = new DataView(buf, 5, 40); // byteOffset 5: nothing is aligned
  dv.setFloat32(3, 1.5, true);
  dv.setFloat32(7, -2.25, true);
  dv.setFloat32(11, NaN, true);
  const f = readArray(dv, ref({ offset: 3 })) as Float32Array;
  assert.ok(f instanceof Float32Array);
  assert.deepEqual([...f.slice(0, 2)], [1.5, -2.25]);
  assert.ok(Number.isNaN(f[2]));
  dv.setUint16(21, 0x3c00, true);
  dv.setUint16(23, 0x7c00, true);
  dv.setUint16(25, 0x0001, true);
  const h = readArray(dv, ref({ dtype: "float16", offset: 21 })) as Float32Array;
  assert.deepEqual([...h], [1, Infinity, 2 ** -24]);
  dv.setUint32(29, 4000000000, true);
  const u = readArray(dv, ref({ dtype: "uint32", shape: [1], offset: 29 }));
  assert.ok(u instanceof Uint32Array);
  assert.equal(u[0], 4000000000);
  dv.setInt32(33, -7, true);
  assert.equal(readArray(dv, ref({ dtype: "int32", shape: [1], offset: 33 }))[0], -7);
  assert.equal(readArray(dv, ref({ dtype: "uint8", shape: [1], offset: 39 })).length, 1);
  assert.throws(() => readArray(dv, ref({ dtype: "float32", shape: [4], offset: 30 })), /runs past/);
  // the result is a copy: later writes to the source don't leak in
  dv.setFloat32(3, 9, true);
  assert.equal(f[0], 1.5);
});

test("parseNumber restores non-finite JSON values", () => {
  assert.ok(Number.isNaN(parseNumber("NaN")));
  assert.equal(parseNumber("Infinity"), Infinity);
  assert.equal(parseNumber("-Infinity"), -Infinity);
  assert.equal(parseNumber(0.5), 0.5);
  assert.ok(Number.isNaN(parseNumber(null)));
});

test("decodeSnapshot: weights, grads, hists, sampled indices, metrics and stats", () => {
  const { header, data } = encodeSnapshot(
    2,
    { loss: 0.5, val_loss: "NaN", acc: "Infinity" },
    [
      { layer: "fc", param: "weight", kind: "index", dtype: "uint32", shape: [3], values: [0, 5, 11], full_shape: [3, 4] },
      { layer: "fc", param: "weight", kind: "weight", dtype: "float16", shape: [3], values: [0.5, -1, NaN], full_shape: [3, 4] },
      { layer: "fc", param: "weight", kind: "grad", dtype: "float32", shape: [3], values: [1, 2, 3] },
      { layer: "fc", param: "bias", kind: "weight", dtype: "float16", shape: [3], values: [0, 1e-7, -65504] },
      { layer: "fc", param: "weight", kind: "hist", dtype: "uint32", shape: [64], values: new Array(64).fill(2) },
    ],
  );
  // the header travels as JSON: stats with non-finite numbers arrive as strings
  const wire = JSON.parse(JSON.stringify(header));
  wire.stats = { fc: { mean: 0, std: 1, norm: "Infinity", min: "-Infinity", max: 1, nonfinite: 1, grad_norm: null, update_ratio: null, hist_lo: 0, hist_hi: 1 } };
  const snap = decodeSnapshot(wire, data);
  assert.equal(snap.epoch, 2);
  assert.equal(snap.label, "epoch 2");
  assert.equal(snap.metrics.loss, 0.5);
  assert.ok(Number.isNaN(snap.metrics.val_loss));
  assert.equal(snap.metrics.acc, Infinity);
  assert.deepEqual([...snap.indices.get("fc/weight")!], [0, 5, 11]);
  assert.deepEqual(snap.fullShapes.get("fc/weight"), [3, 4]);
  const w = snap.weights.get("fc/weight")!;
  assert.deepEqual([...w.slice(0, 2)], [0.5, -1]);
  assert.ok(Number.isNaN(w[2]));
  assert.deepEqual([...snap.grads.get("fc/weight")!], [1, 2, 3]);
  const b = snap.weights.get("fc/bias")!;
  assert.equal(b[2], -65504);
  assert.ok(b[1] > 0 && b[1] < 2e-7); // a subnormal survives
  const hist = snap.hists.get("fc")!;
  assert.ok(hist instanceof Float32Array);
  assert.equal(hist.length, 64);
  assert.equal(snap.stats.fc.norm, Infinity);
  assert.equal(snap.stats.fc.min, -Infinity);
  assert.equal(snap.stats.fc.grad_norm, null);
  // empty data
  const empty = decodeSnapshot({ v: 1, epoch: -1, label: "init", metrics: {}, arrays: [], stats: {} }, null);
  assert.equal(empty.weights.size, 0);
});

test("decodeChild: a plain child is one snapshot; a chunk is each part at its base", () => {
  const a = encodeSnapshot(3, { loss: 1 }, [{ layer: "fc", param: "bias", kind: "weight", dtype: "float32", shape: [3], values: [1, 2, 3] }]);
  const b = encodeSnapshot(4, { loss: 0.5 }, [{ layer: "fc", param: "bias", kind: "weight", dtype: "float32", shape: [2], values: [7, 8] }]);
  assert.equal(decodeChild(a.header, a.data)[0].epoch, 3);
  // joined like wire.join_snapshots: parts back to back at 8-aligned bases, offsets relative
  const baseB = Math.ceil(a.data.byteLength / 8) * 8;
  const bytes = new Uint8Array(baseB + b.data.byteLength);
  bytes.set(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength), 0);
  bytes.set(new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength), baseB);
  const chunk = {
    v: 1,
    chunk: [
      { base: 0, size: a.data.byteLength, header: a.header },
      { base: baseB, size: b.data.byteLength, header: b.header },
    ],
  };
  // a DataView that starts inside a larger buffer, as ipywidgets hands them over
  const outer = new Uint8Array(bytes.length + 5);
  outer.set(bytes, 5);
  const snaps = decodeChild(chunk, new DataView(outer.buffer, 5, bytes.length));
  assert.deepEqual(snaps.map((x) => x.epoch), [3, 4]);
  assert.deepEqual([...snaps[0].weights.get("fc/bias")!], [1, 2, 3]);
  assert.deepEqual([...snaps[1].weights.get("fc/bias")!], [7, 8]);
  assert.throws(() => decodeChild({ v: 1, chunk: [{ base: 8, size: bytes.length, header: b.header }] }, new DataView(bytes.buffer)), /runs past/);
});
