import assert from "node:assert/strict";
import { test } from "node:test";
import {
  chooseBreaks,
  displayGraph,
  displayRanks,
  isotonic,
  layoutLayers,
  pickNeurons,
  sampleRoute,
  wrapLayout,
  type Layout2D,
  type LNode,
} from "../../src/layout/layout2d";
import type { GraphInfo } from "../../src/data/types";
import { chain, graphOf, layer, mlp, resnet } from "./fixtures2d";

function layoutOf(graph: GraphInfo, neurons = true): { layout: Layout2D; edges: [string, string][] } {
  const dg = displayGraph(graph, { neurons });
  const ranks = displayRanks(dg, graph);
  const nodes: LNode[] = dg.nodes.map((n) => ({ id: n.id, w: 60 + n.id.length * 6, h: n.neurons ? 40 + Math.min(n.neurons, 32) * 16 : 44 }));
  return { layout: layoutLayers(nodes, dg.edges, ranks), edges: dg.edges };
}

function checkLayout(layout: Layout2D, edges: [string, string][]): void {
  const nodes = [...layout.nodes.values()];
  for (const n of nodes) {
    for (const v of [n.x, n.y, n.w, n.h]) assert.ok(Number.isFinite(v), `${n.id} has non-finite geometry`);
    assert.ok(n.x - n.w / 2 >= 0 && n.y - n.h / 2 >= 0, `${n.id} inside the drawing`);
    assert.ok(n.x + n.w / 2 <= layout.width + 1e-6 && n.y + n.h / 2 <= layout.height + 1e-6, `${n.id} inside the drawing`);
  }
  const rowOf = (rank: number) => layout.columns[rank].row ?? 0;
  for (const [a, b] of edges) {
    const na = layout.nodes.get(a)!;
    const nb = layout.nodes.get(b)!;
    assert.ok(nb.rank > na.rank, `rank increases along ${a} -> ${b}`);
    if (rowOf(na.rank) === rowOf(nb.rank)) assert.ok(nb.x - nb.w / 2 > na.x + na.w / 2, `${b} is right of ${a}`);
    else assert.ok(rowOf(nb.rank) > rowOf(na.rank) && nb.y > na.y, `${b} is in a lower row than ${a}`);
  }
  // every route starts at its source and ends at its target
  for (const r of layout.routes) {
    const a = layout.nodes.get(r.from)!;
    const b = layout.nodes.get(r.to)!;
    const p0 = r.points[0];
    const pn = r.points[r.points.length - 1];
    assert.ok(Math.abs(p0.x - (a.x + a.w / 2)) < 1e-6 && Math.abs(p0.y - a.y) <= a.h / 2, `${r.from} -> ${r.to} starts at ${r.from}`);
    assert.ok(Math.abs(pn.x - (b.x - b.w / 2)) < 1e-6 && Math.abs(pn.y - b.y) <= b.h / 2, `${r.from} -> ${r.to} ends at ${r.to}`);
    for (const p of r.points) assert.ok(Number.isFinite(p.x) && Number.isFinite(p.y));
  }
  for (let i = 0; i < nodes.length; i++) {
    for (let j = i + 1; j < nodes.length; j++) {
      const a = nodes[i];
      const b = nodes[j];
      const apart = Math.abs(a.x - b.x) >= (a.w + b.w) / 2 || Math.abs(a.y - b.y) >= (a.h + b.h) / 2;
      assert.ok(apart, `${a.id} and ${b.id} overlap`);
    }
  }
  // every route stays out of every node except where it starts and ends (on their borders)
  for (const r of layout.routes) {
    for (const p of sampleRoute(r, 24)) {
      for (const n of nodes) {
        const inside = Math.abs(p.x - n.x) < n.w / 2 - 0.5 && Math.abs(p.y - n.y) < n.h / 2 - 0.5;
        assert.ok(!inside, `route ${r.from} -> ${r.to} passes through ${n.id} at ${p.x.toFixed(1)},${p.y.toFixed(1)}`);
      }
    }
  }
}

test("MLP: dense layers and their source become neuron columns; ReLU/Flatten fold in", () => {
  const dg = displayGraph(mlp());
  assert.deepEqual(dg.nodes.map((n) => [n.id, n.neurons, n.attached]), [
    ["input", 784, ["flatten"]],
    ["fc1", 128, ["relu"]],
    ["fc2", 10, []],
  ]);
  assert.deepEqual(dg.edges, [["input", "fc1"], ["fc1", "fc2"]]);
  assert.equal(dg.hostOf.get("relu"), "fc1");
  assert.equal(dg.neuronSource.get("fc2"), "fc1");
  const { layout, edges } = layoutOf(mlp());
  checkLayout(layout, edges);
  assert.deepEqual([...layout.nodes.values()].map((n) => n.rank), [0, 1, 2]);
});

test("without neurons every layer is a box", () => {
  const dg = displayGraph(mlp(), { neurons: false });
  assert.equal(dg.nodes.length, 5);
  assert.ok(dg.nodes.every((n) => n.neurons === 0 && n.attached.length === 0));
});

test("ResNet: merges get both inputs and skip edges route around nodes", () => {
  const g = resnet(3);
  const { layout, edges } = layoutOf(g);
  checkLayout(layout, edges);
  for (let b = 1; b <= 3; b++) {
    const into = layout.routes.filter((r) => r.to === `layer${b}.add`);
    assert.equal(into.length, 2, "add has two inputs");
    const skip = into.find((r) => !r.from.endsWith("bn2"))!;
    assert.ok(skip.points.length > 4, "skip edge passes through intermediate columns");
  }
  // fc column fed by the pool column; flatten folded into pool
  const dg = displayGraph(g);
  assert.equal(dg.hostOf.get("flatten"), "pool");
  assert.equal(dg.nodes.find((n) => n.id === "fc")!.neurons, 10);
});

test("a skip spanning many ranks avoids the nodes of a parallel branch", () => {
  // a -> b1 -> b2 -> b3 -> m  and a -> m, plus c -> b2 so the middle columns have two nodes
  const L = ["a", "b1", "b2", "b3", "c", "m"].map((n, i) => layer(i, n, "conv", [4]));
  const E: [string, string][] = [["a", "b1"], ["b1", "b2"], ["b2", "b3"], ["b3", "m"], ["a", "m"], ["a", "c"], ["c", "b2"]];
  const { layout, edges } = layoutOf(graphOf(L, E), false);
  checkLayout(layout, edges);
});

test("120-layer chain: straight, finite, left to right", () => {
  const { layout, edges } = layoutOf(chain(120));
  checkLayout(layout, edges);
  const ys = new Set([...layout.nodes.values()].map((n) => Math.round(n.y)));
  assert.equal(ys.size, 1, "a chain is drawn on one line");
  assert.equal(layout.columns.length, 120);
  assert.ok(layout.width > layout.height);
});

test("crossing reduction untangles a crafted case", () => {
  // ranks: [a, b] -> [c, d]; edges a->d, b->c cross in the input order; e, f continue them
  const L = ["a", "b", "c", "d", "e", "f"].map((n, i) => layer(i, n, "conv", [4]));
  const E: [string, string][] = [["a", "d"], ["b", "c"], ["c", "e"], ["d", "f"]];
  const nodes: LNode[] = L.map((l) => ({ id: l.name, w: 40, h: 30 }));
  const ranks = new Map([["a", 0], ["b", 0], ["c", 1], ["d", 1], ["e", 2], ["f", 2]]);
  const layout = layoutLayers(nodes, E, ranks);
  assert.equal(layout.crossings, 0);
  const y = (n: string) => layout.nodes.get(n)!.y;
  assert.equal(Math.sign(y("a") - y("b")), Math.sign(y("d") - y("c")));
  checkLayout(layout, E);
});

test("crossings: K(2,2)-free bipartite with a long edge", () => {
  // x1 -> y2, x2 -> y1, x1 -> z (spans 2 ranks), y1 -> z, y2 -> z
  const L = ["x1", "x2", "y1", "y2", "z"].map((n, i) => layer(i, n, "dense", [4]));
  const E: [string, string][] = [["x1", "y2"], ["x2", "y1"], ["x1", "z"], ["y1", "z"], ["y2", "z"]];
  const { layout, edges } = layoutOf(graphOf(L, E), false);
  checkLayout(layout, edges);
  assert.equal(layout.crossings, 0);
});

test("pickNeurons keeps the strongest, in index order", () => {
  assert.deepEqual(pickNeurons([0.1, 5, 0.2, 3, NaN, 4], 3), [1, 3, 5]);
  assert.deepEqual(pickNeurons([1, 2], 5), [0, 1]);
  assert.deepEqual(pickNeurons([1, 1, 1, 1], 2), [0, 1]);
});

test("isotonic fit is nondecreasing and least squares", () => {
  assert.deepEqual(isotonic([1, 3, 2, 4], [1, 1, 1, 1]), [1, 2.5, 2.5, 4]);
  assert.deepEqual(isotonic([3, 2, 1], [1, 1, 1]), [2, 2, 2]);
});

test("empty edges and a single node", () => {
  const layout = layoutLayers([{ id: "only", w: 50, h: 20 }], [], new Map([["only", 0]]));
  const n = layout.nodes.get("only")!;
  assert.ok(Number.isFinite(n.x) && Number.isFinite(n.y));
  assert.equal(layout.routes.length, 0);
});

test("wrapping a long graph into rows: fits the view better, nothing overlaps", () => {
  const { layout: base, edges } = layoutOf(chain(120));
  const breaks = chooseBreaks(base, 620, 320);
  assert.ok(breaks.length >= 3, `a 120-layer chain wraps (${breaks.length + 1} rows)`);
  const wrapped = wrapLayout(base, breaks);
  checkLayout(wrapped, edges);
  const zoom = (l: Layout2D) => Math.min(620 / l.width, 320 / l.height);
  assert.ok(zoom(wrapped) > 4 * zoom(base), "fits at a much larger zoom");
  assert.equal(wrapped.rows!.length, breaks.length + 1);
  // reading order: rows top to bottom, each left to right
  const n = (i: number) => wrapped.nodes.get(`l${i}`)!;
  assert.ok(n(0).x < n(1).x && n(0).y === n(1).y);
});

test("wrapped ResNet: skip edges crossing a row break get their own lanes", () => {
  const g = resnet(6);
  const { layout: base, edges } = layoutOf(g);
  for (let cut = 2; cut < base.columns.length - 1; cut += 3) {
    const wrapped = wrapLayout(base, [cut, cut + 1 < base.columns.length ? cut + 1 : cut]);
    checkLayout(wrapped, edges);
  }
  const wrapped = wrapLayout(base, chooseBreaks(base, 700, 400));
  checkLayout(wrapped, edges);
  // the two edges into an add that cross the same break don't share a lane
  const lanes = new Map<string, string>();
  for (const r of wrapped.routes) {
    (r.kinds ?? []).forEach((k, i) => {
      if (k !== "L") return;
      const a = r.points[i];
      const b = r.points[i + 1];
      if (a.y !== b.y || a.x <= b.x) return; // the leftward run through the gap between rows
      const key = `${a.y}`;
      assert.ok(!lanes.has(key) || lanes.get(key) === `${r.from}->${r.to}`, "one lane per edge");
      lanes.set(key, `${r.from}->${r.to}`);
    });
  }
});

test("chooseBreaks keeps short graphs and forbidden cuts in one row", () => {
  const { layout } = layoutOf(mlp());
  assert.deepEqual(chooseBreaks(layout, 650, 370), []);
  const { layout: long } = layoutOf(chain(30));
  assert.deepEqual(chooseBreaks(long, 650, 370, { canBreak: () => false }), []);
  assert.ok(chooseBreaks(long, 650, 370).length > 0);
});

test("an output node repeating a column folds into it as a chip", () => {
  const g = mlp();
  const last = g.layers[g.layers.length - 1];
  g.layers.push({ ...last, id: 99, name: "output", kind: "output", op: "output", params: 0, param_shapes: {}, units: null });
  g.edges.push([last.name, "output"]);
  const dg = displayGraph(g);
  assert.equal(dg.hostOf.get("output"), last.name);
  assert.ok(!dg.nodes.some((n) => n.id === "output"));
});
