import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeSnapshot } from "../../src/data/decode";
import { encodeSnapshot } from "../../dev/fixtures";
import { predToken, probeToken, showToken, topAt } from "../../src/panels/inside/kit";
import type { ProbeInfo } from "../../src/data/types";

// a language model's snapshot: top-2 tokens for 1 sample x 3 positions, per-head attention of
// 2 heads over 3 tokens, and the text of the predicted ids
function lmSnapshot() {
  const { header, data } = encodeSnapshot(0, {}, [
    { layer: "", param: "ids", kind: "top", dtype: "uint32", shape: [1, 3, 2], values: [7, 8, 9, 7, 5, 4] },
    { layer: "", param: "p", kind: "top", dtype: "float16", shape: [1, 3, 2], values: [0.5, 0.25, 0.75, 0.125, 1, 0] },
    { layer: "att", param: "act", kind: "act", dtype: "float16", shape: [1, 3, 4], values: new Array(12).fill(0) },
    { layer: "att", param: "heads", kind: "act", dtype: "float16", shape: [1, 2, 3, 3], values: new Array(18).fill(0.5) },
  ]);
  header.act_info = { att: { mode: "full", shape: [3, 4], samples: 1 } };
  header.tokens = { "7": " sat", "9": "\n" };
  return decodeSnapshot(header, data);
}

test("decode: kind 'top' is the top tokens per position, 'tokens' their text, 'heads' per-head maps", () => {
  const s = lmSnapshot();
  assert.ok(s.top);
  assert.deepEqual(s.top!.shape, [1, 3, 2]);
  assert.deepEqual(Array.from(s.top!.ids), [7, 8, 9, 7, 5, 4]);
  assert.deepEqual(topAt(s, 0, 1), [{ id: 9, p: 0.75 }, { id: 7, p: 0.125 }]);
  assert.deepEqual(topAt(s, 0, 3), []); // past the positions
  assert.deepEqual(topAt(s, 1, 0), []); // past the samples kept
  assert.equal(s.tokens.get(7), " sat");
  const e = s.acts.get("att")!;
  assert.deepEqual(e.headsShape, [1, 2, 3, 3]);
  assert.equal(e.heads!.length, 18);
});

test("token text: the tokenizer's text, else #id; whitespace that would vanish made visible", () => {
  const s = lmSnapshot();
  assert.equal(predToken(s, 7), " sat");
  assert.equal(predToken(s, 9), "↵");
  assert.equal(predToken(s, 5), "#5");
  assert.equal(showToken(""), "∅");
  const p: ProbeInfo = { n: 1, labels: null, input: "ids", image_shape: null, tokens: { ids: [[3, 4]], text: [[" the", " cat"]] } };
  assert.equal(probeToken(p, 0, 1), " cat");
  assert.equal(probeToken(p, 0, 2), null);
  assert.equal(probeToken({ ...p, tokens: { ids: [[3, 4]], text: null } }, 0, 0), "#3");
});

test("decode: a snapshot of another model has no top tokens", () => {
  const { header, data } = encodeSnapshot(0, {}, []);
  const s = decodeSnapshot(header, data);
  assert.equal(s.top, null);
  assert.equal(s.tokens.size, 0);
});
