import assert from "node:assert/strict";
import { test } from "node:test";
import KINDS from "../../dev/kinds.json";
import { kindColor, kindInfo } from "../../src/data/kinds";

const graph = { kinds: KINDS };

test("every kind in the table has a color; pass-through kinds are the four element-wise ones", () => {
  for (const k of Object.keys(KINDS)) assert.match(kindColor(graph, k), /^#[0-9a-f]{6}$/);
  const pass = Object.keys(KINDS).filter((k) => kindInfo(graph, k).pass_through).sort();
  assert.deepEqual(pass, ["activation", "dropout", "norm", "reshape"]);
  assert.equal(kindColor(graph, "dense"), "#4c78a8");
  assert.equal(kindInfo(graph, "conv").units_label, "channels");
});

test("a kind missing from the table reads as 'other'; without a table, a plain grey block", () => {
  assert.deepEqual(kindInfo(graph, "wormhole"), KINDS.other);
  assert.deepEqual(kindInfo(graph, "constructor"), KINDS.other); // no prototype keys
  const bare = kindInfo({ kinds: {} }, "dense");
  assert.equal(bare.color, "#a0a0a0");
  assert.equal(bare.pass_through, false);
  assert.equal(bare.neurons, false);
});

test("a kind the table adds is read from it, not from a list in the code", () => {
  const extra = { ...KINDS, scratch: { ...KINDS.other, color: "#123456", pass_through: true } };
  assert.equal(kindColor({ kinds: extra }, "scratch"), "#123456");
  assert.equal(kindInfo({ kinds: extra }, "scratch").pass_through, true);
});
