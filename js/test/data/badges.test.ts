import assert from "node:assert/strict";
import { test } from "node:test";
import { badgeHosts, badgesAttr, badgesOf, layerBadges } from "../../src/data/badges";
import { decodeSnapshot } from "../../src/data/decode";
import { Store } from "../../src/data/store";
import { scopeCss } from "../../src/styles/styles";
import { mlpGraph, runFor } from "../../dev/fixtures";
import type { LayerHealth } from "../../src/data/types";

const H = (o: Partial<LayerHealth>): LayerHealth => ({
  dead: null, saturated: null, grad_ratio: null, update_ratio: null, grad_norm: null, act_nonfinite: null, ...o,
});

test("badge texts follow probe.py's thresholds", () => {
  assert.deepEqual(badgesOf("relu", H({ dead: 0.62 })).map((b) => b.text), ["dead 62%"]);
  assert.deepEqual(badgesOf("relu", H({ dead: 0.49 })), []);
  assert.deepEqual(badgesOf("s", H({ saturated: 0.5 })).map((b) => b.text), ["saturated 50%"]);
  assert.deepEqual(badgesOf("fc", H({ grad_ratio: 5e-3 })).map((b) => b.text), ["vanishing ∇"]);
  assert.deepEqual(badgesOf("fc", H({ grad_ratio: 500 })).map((b) => b.badge), ["exploding"]);
  assert.deepEqual(badgesOf("fc", H({ act_nonfinite: 3 })).map((b) => b.badge), ["nan"]);
  assert.deepEqual(badgesOf("fc", H({ act_nonfinite: 0, grad_ratio: 1 })), []);
  const [b] = badgesOf("<img src=x>", H({ dead: 1 }));
  assert.ok(b.title.startsWith("<img src=x>"), "names stay text (the views use textContent)");
  assert.ok(/^#[0-9a-f]{6}$/i.test(b.bg) && /^#[0-9a-f]{6}$/i.test(b.fg));
});

test("layer badges at an epoch and the data attribute", () => {
  const g = mlpGraph(8, 4, 3, "m", true);
  const run = runFor(g, { epochs: 3, health: true });
  const s = new Store(g);
  s.setSnapshots(run.map((r) => decodeSnapshot(r.header, r.data)));
  assert.equal(badgesAttr(layerBadges(s, 2)), "relu:dead,fc2:vanishing");
  assert.equal(badgesAttr(layerBadges(s, 0)), "");
  // a ReLU's flags go on the dense layer whose units it passes through
  const hosts = badgeHosts(g);
  assert.equal(hosts.get("relu"), "fc1");
  assert.equal(hosts.get("fc2"), "fc2");
  assert.equal(hosts.get("flatten"), "input");
});

test("scopeCss prefixes every selector once", () => {
  const css = scopeCss(".a { color: red; }\n.b, .c d { margin: 0; }\n.nnviz-root .e { x: y; }");
  assert.match(css, /\.nnviz-root \.a \{/);
  assert.match(css, /\.nnviz-root \.b, \.nnviz-root \.c d \{/);
  assert.match(css, /\.nnviz-root \.e \{/);
  assert.ok(!css.includes(".nnviz-root .nnviz-root"));
});
