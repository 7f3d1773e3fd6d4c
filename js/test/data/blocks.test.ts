import { test } from "node:test";
import assert from "node:assert/strict";
import { Store } from "../../src/data/store";
import { decodeSnapshot } from "../../src/data/decode";
import { blockFigures } from "../../src/data/blocks";
import { blockColoring, COLOR_MODES } from "../../src/color/modes";
import { gptGraph, runFor } from "../../dev/fixtures";
import { hierarchy, runId } from "../../src/layout/hierarchy";

function gptStore(blocks = 3): Store {
  const g = gptGraph(blocks);
  const s = new Store(g);
  s.setSnapshots(runFor(g, { epochs: 3, health: true }).map((e) => decodeSnapshot(e.header, e.data)));
  return s;
}

test("blockFigures: parameter total, RMS weight, gradient norm, largest update ratio, worst health", () => {
  const store = gptStore();
  const h = hierarchy(store.graph, ["transformer"]);
  const run = h.blocks.get(runId("transformer.h.0", "transformer.h.2"))!;
  const snap = store.at(2)!;
  const f = blockFigures(snap, run.members, (n) => store.layer(n));
  assert.equal(f.params, run.members.reduce((s, n) => s + store.layer(n)!.params, 0));
  // by hand from the member stats
  let sq = 0, p = 0, g2 = 0, upd = 0;
  for (const n of run.members) {
    const st = snap.stats[n];
    if (!st) continue;
    sq += st.norm ** 2;
    p += store.layer(n)!.params;
    g2 += (st.grad_norm ?? 0) ** 2;
    upd = Math.max(upd, st.update_ratio ?? 0);
  }
  assert.ok(p > 0);
  assert.ok(Math.abs(f.weightRms! - Math.sqrt(sq / p)) < 1e-9);
  assert.ok(Math.abs(f.gradNorm! - Math.sqrt(g2)) < 1e-9);
  assert.equal(f.updateRatio, upd);
  // the GELUs die a little more each epoch (fixtures healthFor): "dead" is the worst flag at the end
  assert.equal(f.health, "dead");
  assert.deepEqual(f.healthLayers, ["transformer.h.0.mlp.act", "transformer.h.1.mlp.act", "transformer.h.2.mlp.act"]);
  // before training: no update ratio, no flag
  const init = blockFigures(store.at(-1), run.members, (n) => store.layer(n));
  assert.equal(init.updateRatio, null);
  assert.equal(init.health, null);
  // nothing recorded: figures that say so
  const none = blockFigures(null, run.members, (n) => store.layer(n));
  assert.equal(none.weightRms, null);
  assert.equal(none.gradNorm, null);
});

test("every color mode has a value for a block, on a range fixed across epochs", () => {
  const store = gptStore();
  const h = hierarchy(store.graph, ["transformer"]);
  const id = runId("transformer.h.0", "transformer.h.2");
  const members = h.blocks.get(id)!.members;
  for (const mode of ["weight", "delta", "gradient"]) {
    const vals = [0, 1, 2].map((e) => blockColoring(store, id, members, e, { colorBy: mode }));
    for (const c of vals) {
      assert.equal(c.kind, "scalar", mode);
      if (c.kind !== "scalar") continue;
      assert.ok(c.value >= 0 && c.value <= c.max && c.max > 0, `${mode}: ${c.value} of ${c.max}`);
      assert.equal(c.max, (vals[0] as { max: number }).max, `${mode}: one range for every epoch`);
    }
    assert.ok(COLOR_MODES[mode].blockShows);
  }
  // the transformer as one block before training: no update yet
  assert.equal(blockColoring(store, "transformer", hierarchy(store.graph, []).blocks.get("transformer")!.members, -1, { colorBy: "delta" }).kind, "none");
  // activation: the mean |activation| of the block's output, where the probe recorded it
  assert.equal(blockColoring(store, id, members, 2, { colorBy: "activation" }).kind, "none");
});
