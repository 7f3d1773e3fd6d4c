import { test } from "node:test";
import assert from "node:assert/strict";
import { Store } from "../../src/data/store";
import { decodeSnapshot } from "../../src/data/decode";
import { COLOR_MODES, coloring, coloringShows, modeRange, modeValues } from "../../src/color/modes";
import { diverging, type RGB } from "../../src/color/scales";
import { encodeSnapshot, mlpGraph, runFor } from "../../dev/fixtures";
import type { Snapshot } from "../../src/data/types";

type Arr = Parameters<typeof encodeSnapshot>[2][number];

function snap(epoch: number, w: number[], extra: Arr[] = [], gradNorm?: number): Snapshot {
  const { header, data } = encodeSnapshot(epoch, { loss: 1 / (epoch + 2) }, [
    { layer: "fc", param: "weight", kind: "weight", dtype: "float32", shape: [w.length], values: w },
    ...extra,
  ]);
  const s = decodeSnapshot(header, data);
  if (gradNorm !== undefined) s.stats.fc = { ...(s.stats.fc ?? {}), grad_norm: gradNorm } as Snapshot["stats"][string];
  return s;
}

const grad = (values: number[], param = "weight"): Arr => ({ layer: "fc", param, kind: "grad", dtype: "float16", shape: [values.length], values });
const bias = (values: number[]): Arr => ({ layer: "fc", param: "bias", kind: "weight", dtype: "float32", shape: [values.length], values });

test("values: weight, delta vs previous and vs init, gradient", () => {
  const s = new Store(mlpGraph(4, 2, 2));
  s.setSnapshots([snap(-1, [0, 0]), snap(0, [1, -1]), snap(1, [3, -4])]);
  assert.deepEqual([...modeValues(s, "fc", 1, { colorBy: "weight" })!], [3, -4]);
  assert.deepEqual([...modeValues(s, "fc", 1, { colorBy: "delta", deltaRef: "previous" })!], [2, -3]);
  assert.deepEqual([...modeValues(s, "fc", 1, { colorBy: "delta", deltaRef: "init" })!], [3, -4]);
  assert.deepEqual([...modeValues(s, "fc", -1, { colorBy: "delta" })!], [0, 0]); // first: no change
  assert.equal(modeValues(s, "fc", 1, { colorBy: "gradient" }), null);
  assert.equal(modeValues(s, "nope", 1, { colorBy: "weight" }), null);
  assert.equal(modeValues(s, "fc", 1, { colorBy: "activation" }), null);
  assert.equal(modeValues(s, "fc", 1, { colorBy: "no such mode" }), null);
});

test("range: fixed across epochs, ignores non-finite values", () => {
  const s = new Store(mlpGraph(4, 2, 2));
  s.setSnapshots([snap(-1, [0.5, NaN]), snap(0, [-2, 1]), snap(1, [1, Infinity])]);
  assert.equal(modeRange(s, "fc", { colorBy: "weight" }), 2);
  const c0 = coloring(s, "fc", -1, { colorBy: "weight" });
  const c1 = coloring(s, "fc", 1, { colorBy: "weight" });
  assert.equal(c0.kind, "values");
  assert.equal(c1.kind, "values");
  if (c0.kind === "values" && c1.kind === "values") assert.equal(c0.range, c1.range);
  assert.equal(modeRange(s, "fc", { colorBy: "delta", deltaRef: "previous" }), 3); // max(|-2 - 0.5|, |1 - -2|)
  // new data resets the cache
  s.setSnapshots([snap(0, [10])]);
  assert.equal(modeRange(s, "fc", { colorBy: "weight" }), 10);
});

test("neurons: the bias, its change and its gradient, through the same table", () => {
  const s = new Store(mlpGraph(4, 2, 2));
  s.setSnapshots([snap(-1, [0, 0], [bias([1, 2])]), snap(0, [1, 1], [bias([2, 0]), grad([0.5, -0.25], "bias")])]);
  assert.deepEqual([...modeValues(s, "fc", 0, { colorBy: "weight" }, "neurons")!], [2, 0]);
  assert.deepEqual([...modeValues(s, "fc", 0, { colorBy: "delta" }, "neurons")!], [1, -2]);
  assert.deepEqual([...modeValues(s, "fc", 0, { colorBy: "gradient" }, "neurons")!], [0.5, -0.25]);
  assert.equal(modeRange(s, "fc", { colorBy: "gradient" }, "neurons"), 0.5);
});

test("gradient per connection: two connections of one layer get different colors, on a range fixed over epochs", () => {
  const s = new Store(mlpGraph(4, 2, 2));
  s.setSnapshots([
    snap(-1, [0, 0, 0]),
    snap(0, [1, 1, 1], [grad([0.5, -0.25, 0])], 3),
    snap(1, [1, 1, 1], [grad([0.125, 1, -0.5])], 2),
  ]);
  const c0 = coloring(s, "fc", 0, { colorBy: "gradient" });
  const c1 = coloring(s, "fc", 1, { colorBy: "gradient" });
  assert.equal(c0.kind, "values");
  assert.equal(c1.kind, "values");
  if (c0.kind !== "values" || c1.kind !== "values") return;
  assert.deepEqual([...c0.values], [0.5, -0.25, 0]);
  assert.equal(c0.range, 1); // the largest |gradient| over every epoch
  assert.equal(c1.range, 1);
  const a = diverging(c0.values[0], c0.range, [0, 0, 0] as RGB);
  const b = diverging(c0.values[1], c0.range, [0, 0, 0] as RGB);
  assert.notDeepEqual(a, b);
  assert.equal(coloringShows("gradient", c0.kind), "gradient per connection");
});

test("gradient falls back to the layer's gradient norm only where no per-connection gradient was recorded", () => {
  const s = new Store(mlpGraph(4, 2, 2));
  s.setSnapshots([snap(0, [1, 1], [], 3), snap(1, [1, 1], [grad([0.5, -0.25])], 2), snap(2, [1, 1], [], 4)]);
  const c0 = coloring(s, "fc", 0, { colorBy: "gradient" });
  assert.equal(c0.kind, "scalar");
  if (c0.kind === "scalar") {
    assert.equal(c0.value, 3);
    assert.equal(c0.max, 4); // fixed over epochs
  }
  assert.equal(coloringShows("gradient", c0.kind), "gradient norm per layer");
  assert.equal(coloring(s, "fc", 1, { colorBy: "gradient" }).kind, "values");
  assert.equal(coloring(s, "fc", 2, { colorBy: "gradient" }).kind, "scalar");
  assert.equal(coloring(s, "fc", 0, { colorBy: "weight" }).kind, "values"); // weights have no fallback
});

test("the fixture run's gradients color each connection", () => {
  const g = mlpGraph();
  const s = new Store(g);
  s.setSnapshots(runFor(g, { sampleOver: 5000 }).map((e) => decodeSnapshot(e.header, e.data)));
  const c = coloring(s, "fc1", 1, { colorBy: "gradient" });
  assert.equal(c.kind, "values");
  if (c.kind === "values") assert.ok(new Set(c.values).size > 1);
});

test("every mode names what it shows and titles the legend", () => {
  const s = new Store(mlpGraph(4, 2, 2));
  s.setSnapshots([snap(0, [1])]);
  for (const [name, m] of Object.entries(COLOR_MODES)) {
    assert.ok(m.shows.values, name);
    assert.ok(m.title(s, 0, { colorBy: name, deltaRef: "previous", sample: 0 }).head, name);
  }
});
