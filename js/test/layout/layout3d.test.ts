import { test } from "node:test";
import assert from "node:assert/strict";
import { feedsConnections, gridDims, layout3d, neuronPosition, spatial, unitPosition, type LayerBox, type Vec3 } from "../../src/layout/layout3d";
import { cnnGraph, mlpGraph, resnetGraph, xssGraph } from "../../dev/fixtures";
import type { GraphInfo } from "../../src/data/types";
import { channelOf, echoOutputs, knownNumel } from "../../src/layout/common";
import KINDS from "../../dev/kinds.json";

function finite(v: Vec3): boolean {
  return v.every((x) => Number.isFinite(x));
}

function overlap(a: LayerBox, b: LayerBox): boolean {
  for (let i = 0; i < 3; i++) {
    const lo = Math.max(a.center[i] - a.size[i] / 2, b.center[i] - b.size[i] / 2);
    const hi = Math.min(a.center[i] + a.size[i] / 2, b.center[i] + b.size[i] / 2);
    if (hi <= lo + 1e-9) return false;
  }
  return true;
}

function checkSane(g: GraphInfo) {
  const lay = layout3d(g);
  assert.equal(lay.boxes.length, g.layers.length);
  for (const b of lay.boxes) {
    assert.ok(finite(b.center), `${b.name} center ${b.center}`);
    assert.ok(finite(b.size) && b.size.every((s) => s > 0), `${b.name} size ${b.size}`);
  }
  for (let i = 0; i < lay.boxes.length; i++) {
    for (let j = i + 1; j < lay.boxes.length; j++) {
      assert.ok(!overlap(lay.boxes[i], lay.boxes[j]), `${lay.boxes[i].name} overlaps ${lay.boxes[j].name}`);
    }
  }
  for (const e of lay.edges) for (const p of e.points) assert.ok(finite(p));
  assert.ok(finite(lay.min) && finite(lay.max));
  return lay;
}

test("numel, spatial, gridDims", () => {
  assert.equal(knownNumel([1, 28, 28]), 784);
  assert.equal(knownNumel([null, 10]), 10);
  assert.equal(knownNumel([]), 0);
  const chw = { ...mlpGraph().layers[0], output_shape: [16, 14, 14], units: 16 };
  assert.deepEqual(spatial(chw), { c: 16, h: 14, w: 14 });
  const hwc = { ...chw, output_shape: [14, 14, 16] };
  assert.deepEqual(spatial(hwc), { c: 16, h: 14, w: 14 });
  // the graph's data_format decides when given (a 3-channel 3x8 image would fool the guess)
  const odd = { ...chw, output_shape: [3, 8, 3], units: null };
  assert.deepEqual(spatial(odd, "channels_last"), { c: 3, h: 3, w: 8 });
  assert.deepEqual(spatial(odd, "channels_first"), { c: 3, h: 8, w: 3 });
  assert.deepEqual(spatial({ ...chw, output_shape: [28, 28, 1], units: null }), { c: 1, h: 28, w: 28 });
  assert.deepEqual(gridDims(784, [1, 28, 28]), { rows: 28, cols: 28 });
  assert.deepEqual(gridDims(784, [784]), { rows: 28, cols: 28 });
  assert.deepEqual(gridDims(128, [128]), { rows: 11, cols: 12 });
  assert.deepEqual(gridDims(10), { rows: 3, cols: 4 });
  assert.deepEqual(gridDims(1), { rows: 1, cols: 1 });
});

test("MLP: neurons on grids, layers left to right", () => {
  const lay = checkSane(mlpGraph());
  assert.equal(lay.lod, "neurons");
  assert.equal(lay.rows, 1);
  const input = lay.byName.get("input")!;
  const fc1 = lay.byName.get("fc1")!;
  const fc2 = lay.byName.get("fc2")!;
  assert.equal(input.style, "neurons");
  assert.deepEqual([input.grid!.rows, input.grid!.cols], [28, 28]);
  assert.deepEqual([fc1.grid!.rows, fc1.grid!.cols], [11, 12]);
  assert.equal(fc2.grid!.count, 10);
  assert.equal(lay.byName.get("relu")!.style, "plate");
  assert.equal(lay.byName.get("flatten")!.style, "plate");
  assert.ok(input.center[0] < fc1.center[0] && fc1.center[0] < fc2.center[0]);
  // neurons lie inside their slab, distinct
  const seen = new Set<string>();
  for (let k = 0; k < 784; k++) {
    const p = neuronPosition(input, k);
    assert.ok(finite(p));
    for (let i = 1; i < 3; i++) assert.ok(Math.abs(p[i] - input.center[i]) <= input.size[i] / 2);
    seen.add(p.join(","));
  }
  assert.equal(seen.size, 784);
  // the image's first row is on top
  assert.ok(neuronPosition(input, 0)[1] > neuronPosition(input, 783)[1]);
});

test("CNN: conv planes capped, pools are blocks", () => {
  const lay = checkSane(cnnGraph());
  const conv2 = lay.byName.get("conv2")!;
  assert.equal(conv2.style, "planes");
  assert.equal(conv2.planes!.total, 32);
  assert.equal(conv2.planes!.drawn, 16);
  assert.equal(lay.byName.get("pool1")!.style, "block");
  assert.equal(lay.byName.get("fc1")!.style, "neurons");
  // spatial size shows: conv1 (28x28) taller than conv2 (14x14)
  assert.ok(lay.byName.get("conv1")!.size[1] > conv2.size[1]);
});

test("120-layer residual chain: blocks, folded, fits a sane box", () => {
  const g = resnetGraph();
  assert.ok(g.layers.length >= 120);
  const lay = checkSane(g);
  assert.equal(lay.lod, "blocks");
  assert.ok(lay.boxes.every((b) => b.style !== "neurons"));
  assert.ok(lay.rows > 1, "folded into rows");
  const ext = lay.max.map((v, i) => v - lay.min[i]);
  // not a 1000-unit line: the footprint's aspect ratio stays readable
  assert.ok(ext[0] / ext[2] < 4 && ext[2] / ext[0] < 4, `extent ${ext}`);
  // skip edges arc above the blocks they jump over
  const skip = lay.edges.find((e) => e.to === "block3.add" && e.from === "block2.relu2")!;
  assert.ok(skip.points.length > 2);
  const top = Math.max(...skip.points.map((p) => p[1]));
  assert.ok(top > lay.byName.get("block3.conv1")!.size[1] / 2);
});

test("same-rank layers spread in z, empty and odd graphs", () => {
  const g = mlpGraph(4, 2, 2);
  // a branch: input feeds two dense layers of the same rank
  g.layers.push({ ...g.layers[2], id: 5, name: "side" });
  g.edges.push(["flatten", "side"]);
  const lay = checkSane(g);
  const a = lay.byName.get("fc1")!, b = lay.byName.get("side")!;
  assert.equal(a.rank, b.rank);
  assert.notEqual(a.center[2], b.center[2]);
  const empty = layout3d({ ...g, layers: [], edges: [] });
  assert.equal(empty.boxes.length, 0);
  assert.ok(finite(empty.min) && finite(empty.max));
  checkSane(xssGraph());
  // unknown shapes / null dims
  const odd = mlpGraph(4, 2, 2);
  odd.layers[3] = { ...odd.layers[3], output_shape: [] };
  odd.layers[1] = { ...odd.layers[1], output_shape: [null, null] };
  checkSane(odd);
});

test("level of detail: huge dense layers become blocks", () => {
  const g = mlpGraph(4096, 28, 10);
  const lay = checkSane(g);
  assert.equal(lay.byName.get("fc1")!.style, "block");
  assert.equal(lay.byName.get("input")!.style, "neurons");
});

test("an output node that repeats its predecessor is a flush plate with the lowest label priority", () => {
  const g = mlpGraph(128, 28, 10, "MLP", true);
  assert.deepEqual([...echoOutputs(g)], ["output"]);
  const lay = checkSane(g);
  const fc2 = lay.byName.get("fc2")!;
  const out = lay.byName.get("output")!;
  assert.equal(out.style, "plate");
  assert.ok(out.echo && !fc2.echo);
  assert.equal(out.grid, undefined, "no neuron grid of its own");
  // flush behind fc2: a gap far smaller than between real layers, same face
  const gap = out.center[0] - out.size[0] / 2 - (fc2.center[0] + fc2.size[0] / 2);
  assert.ok(gap >= 0 && gap < 1, `gap ${gap}`);
  assert.deepEqual([out.size[1], out.size[2]], [fc2.size[1], fc2.size[2]]);
  // label priority: dense > input > pass-through / output
  const w = (n: string) => lay.byName.get(n)!.weight;
  assert.ok(w("fc2") > w("input") && w("fc1") > w("input"));
  assert.ok(w("input") > w("relu") && w("input") > w("output") && w("input") > w("flatten"));
  assert.ok(w("fc2") > w("output"));
  // an output with other values than its input (a head of its own) is not an echo
  const g2 = mlpGraph(8, 4, 3, "x", true);
  g2.layers[5] = { ...g2.layers[5], output_shape: [7] };
  assert.equal(echoOutputs(g2).size, 0);
});

test("per-channel values tile a layer's neurons: conv channels first or last, per-token dense", () => {
  const conv = { ...cnnGraph().layers[1], output_shape: [4, 2, 2] };
  const f = channelOf(conv, 16, 4, "channels_first")!;
  assert.deepEqual([0, 3, 4, 15].map(f), [0, 0, 1, 3]);
  const g = channelOf(conv, 16, 4, "channels_last")!;
  assert.deepEqual([0, 3, 4, 15].map(g), [0, 3, 0, 3]);
  const dense = { ...mlpGraph().layers[2], output_shape: [10, 16] };
  assert.deepEqual([0, 17, 159].map(channelOf(dense, 160, 16)!), [0, 1, 15]);
  assert.equal(channelOf(dense, 10, 10), null);
  assert.equal(channelOf(dense, 10, 3), null);
});

test("feature-mapped conv layers get fewer, wider-spaced planes", () => {
  const g = cnnGraph();
  const plain = layout3d(g).byName.get("conv1")!;
  const mapped = layout3d(g, { mapped: new Set(["conv1"]) }).byName.get("conv1")!;
  assert.equal(plain.planes!.drawn, 16);
  assert.equal(mapped.planes!.drawn, 8);
  assert.ok(mapped.planes!.pitch > 2 * plain.planes!.pitch);
  checkSane(g);
});

/** conv (8 x 5 x 6) -> relu -> flatten -> fc (4): the conv is the dense layer's neuron source. */
function convDenseGraph(format: GraphInfo["data_format"] = "channels_first"): GraphInfo {
  const L = (id: number, name: string, kind: string, out: number[], extra: object = {}) => ({
    id, name, kind, op: kind, output_shape: out, input_shapes: [], units: null, param_shapes: {}, params: 0,
    parent: null, detail: {}, ...extra,
  });
  const chw = format === "channels_last" ? [5, 6, 8] : [8, 5, 6];
  const layers = [
    L(0, "input", "input", format === "channels_last" ? [5, 6, 1] : [1, 5, 6]),
    L(1, "conv", "conv", chw, { units: 8, params: 80, param_shapes: { weight: [8, 1, 3, 3], bias: [8] } }),
    L(2, "relu", "activation", chw),
    L(3, "flatten", "reshape", [240]),
    L(4, "fc", "dense", [4], { units: 4, params: 964, param_shapes: { weight: [4, 240], bias: [4] } }),
  ];
  const edges: [string, string][] = [["input", "conv"], ["conv", "relu"], ["relu", "flatten"], ["flatten", "fc"]];
  return {
    framework: "torch", model_name: "ConvDense", approximate: false, notes: [], data_format: format,
    layers, edges, neuron_source: { fc: "conv" }, total_params: 1044, kinds: KINDS,
  } as unknown as GraphInfo;
}

test("a conv layer feeding a dense layer: neurons without maps, channel planes with maps", () => {
  const g = convDenseGraph();
  const plain = layout3d(g).byName.get("conv")!;
  assert.equal(plain.style, "neurons");
  assert.ok(feedsConnections(plain));
  const lay = layout3d(g, { mapped: new Set(["conv"]) });
  const conv = lay.byName.get("conv")!;
  assert.equal(conv.style, "planes");
  assert.ok(feedsConnections(conv));
  assert.deepEqual(conv.planes!.units, { c: 8, h: 5, w: 6, hwc: false });
  const p = conv.planes!;
  const x0 = conv.center[0] - (conv.dir * (conv.size[0] - p.thickness)) / 2;
  const seen = new Set<string>();
  for (let k = 0; k < 240; k++) {
    const v = unitPosition(conv, k)!;
    assert.ok(v && finite(v), `unit ${k}`);
    // on one of the drawn planes, inside the layer's face
    const plane = Math.round((v[0] - x0) / (conv.dir * p.pitch));
    assert.ok(plane >= 0 && plane < p.drawn && Math.abs(x0 + conv.dir * plane * p.pitch - v[0]) < 1e-9);
    for (const i of [1, 2]) assert.ok(Math.abs(v[i] - conv.center[i]) < conv.size[i] / 2, `unit ${k} inside`);
    seen.add(v.join());
  }
  assert.equal(seen.size, 240, "each unit has its own place");
  // channel 0, row 0, column 0: the first plane's top-left pixel; row 4: the bottom row
  const a = unitPosition(conv, 0)!;
  const b = unitPosition(conv, 4 * 6)!;
  assert.ok(a[1] > b[1]);
  assert.equal(unitPosition(conv, 240), null);
  // channels past the drawn planes start from the stack's last plane
  const last = unitPosition(conv, 7 * 30)!;
  assert.ok(Math.abs(last[0] - (x0 + conv.dir * (p.drawn - 1) * p.pitch)) < 1e-9);
  // the gap to the dense layer is a connection fan (room for the lines)
  const fc = lay.byName.get("fc")!;
  assert.ok(fc.center[0] - conv.center[0] > 3);
  checkSane(g);
});

test("channels-last conv units: the channel is the fastest index", () => {
  const lay = layout3d(convDenseGraph("channels_last"), { mapped: new Set(["conv"]) });
  const conv = lay.byName.get("conv")!;
  assert.deepEqual(conv.planes!.units, { c: 8, h: 5, w: 6, hwc: true });
  const a = unitPosition(conv, 0)!;
  const b = unitPosition(conv, 1)!; // channel 1, same pixel
  assert.ok(a[0] !== b[0] && a[1] === b[1] && a[2] === b[2]);
});
