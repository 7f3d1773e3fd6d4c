import { test } from "node:test";
import assert from "node:assert/strict";
import { Store } from "../../src/data/store";
import { decodeSnapshot } from "../../src/data/decode";
import { encodeSnapshot, mlpGraph, runFor } from "../../dev/fixtures";
import type { Snapshot } from "../../src/data/types";

function snap(epoch: number, w: number[], extra: Partial<Snapshot> = {}): Snapshot {
  const { header, data } = encodeSnapshot(epoch, { loss: 1 / (epoch + 2) }, [
    { layer: "fc", param: "weight", kind: "weight", dtype: "float32", shape: [w.length], values: w },
  ]);
  return { ...decodeSnapshot(header, data), ...extra };
}

test("indexAt / at: last snapshot at or before an epoch", () => {
  const s = new Store(mlpGraph(4, 2, 2));
  assert.equal(s.indexAt(0), -1);
  assert.equal(s.at(0), null);
  s.setSnapshots([snap(3, [1]), snap(-1, [0]), snap(0, [2]), snap(1, [3])]);
  assert.deepEqual(s.epochs(), [-1, 0, 1, 3]);
  assert.equal(s.indexAt(-1), 0);
  assert.equal(s.indexAt(-5), 0); // before everything: the first
  assert.equal(s.indexAt(0), 1);
  assert.equal(s.indexAt(2), 2); // epoch 2 not recorded: show epoch 1
  assert.equal(s.indexAt(3), 3);
  assert.equal(s.indexAt(99), 3);
  assert.equal(s.latest()!.epoch, 3);
});

test("maxAbs: the largest finite |value| over every snapshot, kept until the data changes", () => {
  const s = new Store(mlpGraph(4, 2, 2));
  s.setSnapshots([snap(-1, [0.5, NaN]), snap(0, [-2, 1]), snap(1, [1, Infinity])]);
  let calls = 0;
  const of = (sn: Snapshot) => (calls++, sn.weights.get("fc/weight"));
  assert.equal(s.maxAbs("k", of), 2);
  assert.equal(calls, 3);
  assert.equal(s.maxAbs("k", of), 2); // cached
  assert.equal(calls, 3);
  s.setSnapshots([snap(0, [10])]);
  assert.equal(s.maxAbs("k", of), 10);
});

test("sampled weights: indices and full shape; data events", () => {
  const g = mlpGraph();
  const s = new Store(g);
  let events = 0;
  const off = s.on(() => events++);
  const run = runFor(g, { sampleOver: 5000 }).map((e) => decodeSnapshot(e.header, e.data));
  s.setSnapshots(run);
  assert.equal(events, 1);
  off();
  s.setSnapshots(run);
  assert.equal(events, 1);
  const idx = s.sampleIndices("fc1")!;
  assert.equal(idx.length, 5000);
  assert.deepEqual(s.fullShape("fc1"), [128, 784]);
  assert.equal(s.weight("fc1", 0)!.length, 5000);
  assert.equal(s.sampleIndices("fc2"), null); // 1280 values kept whole
  assert.equal(s.weight("fc2", 0)!.length, 1280);
  assert.deepEqual(s.fullShape("fc2"), [10, 128]);
  assert.deepEqual(s.metricNames(), ["loss", "val_loss", "accuracy"]);
});
