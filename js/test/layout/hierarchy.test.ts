import { test } from "node:test";
import assert from "node:assert/strict";
import { changedAt, collapsePath, expandNode, hierarchy, hierarchyOf, nodeLabel, runId, trail, BLOCK_KIND } from "../../src/layout/hierarchy";
import { displayGraph, displayRanks, layoutLayers } from "../../src/layout/layout2d";
import { gptGraph, mlpGraph } from "../../dev/fixtures";
import { layout3d } from "../../src/layout/layout3d";
import type { GraphInfo } from "../../src/data/types";

const names = (g: GraphInfo) => g.layers.map((l) => l.name);

/** Every edge goes forward in the display order (topological) and joins two display nodes. */
function checkDisplay(g: GraphInfo) {
  const pos = new Map(g.layers.map((l, i) => [l.name, i]));
  g.layers.forEach((l, i) => assert.equal(l.id, i));
  const keys = new Set<string>();
  for (const [a, b] of g.edges) {
    assert.ok(pos.has(a) && pos.has(b), `${a} -> ${b}`);
    assert.notEqual(a, b);
    assert.ok(pos.get(a)! < pos.get(b)!, `${a} -> ${b} goes backwards`);
    const k = `${a}>${b}`;
    assert.ok(!keys.has(k), `duplicate edge ${k}`);
    keys.add(k);
  }
}

test("a flat graph (no modules) is its own display graph", () => {
  const g = mlpGraph();
  const h = hierarchy(g, []);
  assert.equal(h.graph, g);
  assert.equal(h.blocks.size, 0);
  assert.equal(h.hostOf.get("fc1"), "fc1");
});

test("GPT-2-like, transformer open: embeddings, GPT2Block × 3 rolled up, ln_f, head", () => {
  const g = gptGraph(3);
  const h = hierarchy(g, ["transformer"]);
  const run = runId("transformer.h.0", "transformer.h.2");
  assert.deepEqual(names(h.graph), ["input_ids", "transformer.wte", "transformer.wpe", "transformer.add", "transformer.drop", run, "transformer.ln_f", "lm_head", "output"]);
  checkDisplay(h.graph);
  const b = h.blocks.get(run)!;
  assert.equal(b.label, "GPT2Block × 3");
  assert.deepEqual(b.paths, ["transformer.h.0", "transformer.h.1", "transformer.h.2"]);
  assert.equal(b.members.length, 30);
  const node = h.graph.layers[5];
  assert.equal(node.kind, BLOCK_KIND);
  assert.equal(nodeLabel(node), "GPT2Block × 3");
  const members = g.layers.filter((l) => l.name.startsWith("transformer.h."));
  assert.equal(node.params, members.reduce((s, l) => s + l.params, 0));
  assert.deepEqual(node.output_shape, g.layers.find((l) => l.name === "transformer.h.2.add_1")!.output_shape);
  assert.deepEqual(node.input_shapes, g.layers.find((l) => l.name === "transformer.h.0.ln_1")!.input_shapes);
  assert.equal(h.hostOf.get("transformer.h.1.attn.sdpa"), run);
  // the residual edges inside the run are self-loops of the roll-up: gone; one edge in, one out
  assert.deepEqual(h.graph.edges.filter(([a, c]) => a === run || c === run), [["transformer.drop", run], [run, "transformer.ln_f"]]);
  assert.ok(h.graph.kinds[BLOCK_KIND], "the display graph's kind table has the block kind");
  // nothing open: the whole transformer is one block between the input and the head
  const top = hierarchy(g, []);
  assert.deepEqual(names(top.graph), ["input_ids", "transformer", "lm_head", "output"]);
  assert.equal(top.blocks.get("transformer")!.label, "GPT2Model");
  checkDisplay(top.graph);
});

test("a click on the roll-up opens its first block; unrolled, the run opens into its blocks, collapsed", () => {
  const g = gptGraph(3);
  const h = hierarchy(g, ["transformer"]);
  const run = runId("transformer.h.0", "transformer.h.2");
  const first = expandNode(h, ["transformer"], run);
  assert.deepEqual(first, ["transformer", "transformer.h.0"]);
  const hf = hierarchy(g, first);
  assert.ok(names(hf.graph).includes("transformer.h.0.ln_1"));
  assert.equal(hf.blocks.get(runId("transformer.h.1", "transformer.h.2"))!.label, "GPT2Block × 2");
  checkDisplay(hf.graph);
  const e1 = expandNode(h, ["transformer"], run, { unroll: true });
  assert.deepEqual(e1, ["transformer", run]);
  const h1 = hierarchy(g, e1);
  assert.deepEqual(names(h1.graph).slice(5, 8), ["transformer.h.0", "transformer.h.1", "transformer.h.2"]);
  assert.equal(h1.blocks.get("transformer.h.1")!.label, "GPT2Block");
  checkDisplay(h1.graph);
  // residual edges between blocks aggregate to one edge each (deduplicated)
  assert.deepEqual(h1.graph.edges.filter(([a]) => a === "transformer.h.0"), [["transformer.h.0", "transformer.h.1"]]);

  const e2 = expandNode(h1, e1, "transformer.h.1");
  const h2 = hierarchy(g, e2);
  const shown = names(h2.graph);
  assert.ok(shown.includes("transformer.h.1.ln_1") && shown.includes("transformer.h.1.add_1"));
  assert.ok(shown.includes("transformer.h.1.attn") && shown.includes("transformer.h.1.mlp"), "submodules stay closed");
  assert.equal(h2.blocks.get("transformer.h.1.attn")!.label, "GPT2Attention");
  assert.ok(h2.graph.edges.some(([a, b]) => a === "transformer.h.0" && b === "transformer.h.1.add"), "the residual edge into the open block");
  checkDisplay(h2.graph);
});

test("identical blocks roll up only while all are closed: opening one splits the run", () => {
  const g = gptGraph(5);
  const h = hierarchy(g, ["transformer", "transformer.h.2"]);
  const shown = names(h.graph);
  assert.ok(shown.includes(runId("transformer.h.0", "transformer.h.1")));
  assert.ok(shown.includes(runId("transformer.h.3", "transformer.h.4")));
  assert.ok(shown.includes("transformer.h.2.ln_1"));
  assert.equal(h.blocks.get(runId("transformer.h.3", "transformer.h.4"))!.label, "GPT2Block × 2");
  checkDisplay(h.graph);
  // a run the user opened stays open around an expanded block
  const run = runId("transformer.h.0", "transformer.h.4");
  const h2 = hierarchy(g, ["transformer", run, "transformer.h.2"]);
  assert.ok(names(h2.graph).includes("transformer.h.0") && names(h2.graph).includes("transformer.h.4"));
  assert.ok(![...h2.blocks.values()].some((b) => b.paths.length > 1));
});

test("everything open is the raw graph again; containers are always open", () => {
  const g = gptGraph(2);
  const all = g.modules!.filter((m) => !m.container).map((m) => m.path);
  const h = hierarchy(g, all);
  assert.equal(h.graph, g);
  // ModuleList is not in expanded but is never drawn as a block
  assert.ok(![...hierarchy(g, ["transformer"]).blocks.keys()].includes("transformer.h"));
});

test("collapse closes a module and everything inside it; a run's pseudo-path rolls it up again", () => {
  const g = gptGraph(3);
  const run = runId("transformer.h.0", "transformer.h.2");
  const open = ["transformer", run, "transformer.h.1", "transformer.h.1.attn"];
  const h = hierarchy(g, open);
  assert.deepEqual(collapsePath(h, open, "transformer.h.1"), ["transformer", run]);
  assert.deepEqual(collapsePath(h, [...open, "transformer.h.0"], "transformer.h.0"), open, "a run is not inside its first block");
  assert.deepEqual(collapsePath(h, open, run), ["transformer"]);
  assert.deepEqual(collapsePath(h, open, "transformer"), []);
  // and the display is back to the roll-up
  assert.ok(names(hierarchy(g, collapsePath(h, open, run)).graph).includes(run));
});

test("breadcrumb: the open chain down to the last module opened", () => {
  const g = gptGraph(3);
  const run = runId("transformer.h.0", "transformer.h.2");
  const open = ["transformer", run, "transformer.h.1", "transformer.h.1.attn"];
  const h = hierarchy(g, open);
  assert.deepEqual(trail(h, open), [
    { path: "transformer", label: "transformer" },
    { path: run, label: "h.0…h.2" },
    { path: "transformer.h.1", label: "h.1" },
    { path: "transformer.h.1.attn", label: "attn" },
  ]);
  assert.deepEqual(trail(h, ["transformer", run]).map((c) => c.label), ["transformer", "h.0…h.2"]);
  assert.deepEqual(trail(h, []), []);
  assert.deepEqual(trail(hierarchy(mlpGraph(), []), ["nothing"]), []);
});

test("unknown paths in expanded and nested closed modules are harmless; memoized per graph and expanded", () => {
  const g = gptGraph(2);
  const h = hierarchy(g, ["nope", "a..b", "transformer"]);
  checkDisplay(h.graph);
  assert.equal(hierarchyOf(g, ["transformer"]), hierarchyOf(g, ["transformer"]));
  assert.notEqual(hierarchyOf(g, ["transformer"]), hierarchyOf(g, []));
});

test("the layouts draw the display graph: one box per display node", () => {
  const g = gptGraph(12);
  const h = hierarchy(g, ["transformer"]);
  const lay = layout3d(h.graph);
  assert.equal(lay.boxes.length, h.graph.layers.length);
  const box = lay.byName.get(runId("transformer.h.0", "transformer.h.11"))!;
  assert.equal(box.style, "block");
  const dg = displayGraph(h.graph, { neurons: false });
  const l2 = layoutLayers(dg.nodes.map((n) => ({ id: n.id, w: 120, h: 40 })), dg.edges, displayRanks(dg, h.graph));
  assert.equal(l2.nodes.size, h.graph.layers.length);
  assert.ok(l2.nodes.has(runId("transformer.h.0", "transformer.h.11")));
});

test("changedAt: the first layer whose node an expand or collapse changed (what the views keep in place)", () => {
  const g = gptGraph(3);
  const run = runId("transformer.h.0", "transformer.h.2");
  const a = hierarchy(g, ["transformer"]);
  const b = hierarchy(g, ["transformer", run]);
  assert.deepEqual(changedAt(g, a, b), { layer: "transformer.h.0.ln_1", from: run, to: "transformer.h.0" });
  const c = hierarchy(g, ["transformer", run, "transformer.h.1"]);
  assert.deepEqual(changedAt(g, b, c), { layer: "transformer.h.1.ln_1", from: "transformer.h.1", to: "transformer.h.1.ln_1" });
  assert.deepEqual(changedAt(g, c, b), { layer: "transformer.h.1.ln_1", from: "transformer.h.1.ln_1", to: "transformer.h.1" });
  assert.equal(changedAt(g, a, a), null);
});
