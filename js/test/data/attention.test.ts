import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeSnapshot } from "../../src/data/decode";
import { Store } from "../../src/data/store";
import { encodeSnapshot, mlpGraph } from "../../dev/fixtures";
import type { ActInfo, Snapshot } from "../../src/data/types";

// an attention layer "att" with outputs (2 samples, 3 tokens, 4 features) and attention maps
// (samples, 3 queries, 2 keys): sample s, query i, key j -> (s * 3 + i) / 10 + j / 100
const TOKENS = 3, KEYS = 2, FEATS = 4;

function attnValues(samples: number, shift = 0): number[] {
  const out: number[] = [];
  for (let s = 0; s < samples; s++) {
    for (let i = 0; i < TOKENS; i++) for (let j = 0; j < KEYS; j++) out.push(shift + (s * TOKENS + i) / 10 + j / 100);
  }
  return out;
}

function snap(epoch: number, opts: { attnSamples?: number; shift?: number; thinned?: boolean } = {}): Snapshot {
  const samples = 2;
  if (opts.thinned) {
    const { header, data } = encodeSnapshot(epoch, {}, []);
    header.thinned = true;
    return decodeSnapshot(header, data);
  }
  const arrays = [
    {
      layer: "att", param: "act", kind: "act" as const, dtype: "float16" as const,
      shape: [samples, TOKENS, FEATS], values: new Array(samples * TOKENS * FEATS).fill(0.5),
    },
  ];
  const n = opts.attnSamples ?? samples;
  if (n > 0) {
    arrays.push({
      layer: "att", param: "attn", kind: "act" as const, dtype: "float16" as const,
      shape: [n, TOKENS, KEYS], values: attnValues(n, opts.shift ?? 0),
    });
  }
  const { header, data } = encodeSnapshot(epoch, {}, arrays);
  const info: ActInfo = { mode: "full", shape: [TOKENS, FEATS], samples };
  header.act_info = { att: info };
  return decodeSnapshot(header, data);
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-3) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `at ${i}: ${a[i]} vs ${b[i]}`);
};

test("decode: param 'attn' goes into the acts entry with its shape, not over 'act'", () => {
  const s = snap(0);
  const e = s.acts.get("att")!;
  assert.ok(e);
  assert.equal(e.act.length, 2 * TOKENS * FEATS);
  assert.ok(e.act.every((v) => v === 0.5)); // "act" untouched by the later "attn" array
  assert.deepEqual(e.attnShape, [2, TOKENS, KEYS]);
  assert.ok(e.attn instanceof Float32Array);
  close(e.attn!, attnValues(2));
  // a layer without attention maps has attn null
  const plain = snap(1, { attnSamples: 0 }).acts.get("att")!;
  assert.equal(plain.attn, null);
  assert.equal(plain.attnShape, null);
});

test("decode: an 'attn' array that is not (samples, queries, keys) is ignored", () => {
  const { header, data } = encodeSnapshot(0, {}, [
    { layer: "att", param: "act", kind: "act", dtype: "float32", shape: [1, 2], values: [1, 2] },
    { layer: "att", param: "attn", kind: "act", dtype: "float32", shape: [4], values: [1, 2, 3, 4] },
  ]);
  header.act_info = { att: { mode: "full", shape: [2], samples: 1 } };
  const e = decodeSnapshot(header, data).acts.get("att")!;
  assert.deepEqual([...e.act], [1, 2]);
  assert.equal(e.attn, null);
});

test("store.attention: one sample's queries x keys map at an epoch; thinned epochs fall back", () => {
  const st = new Store(mlpGraph(4, 2, 2));
  st.setSnapshots([snap(-1), snap(0, { shift: 1 }), snap(1, { thinned: true }), snap(2, { attnSamples: 1, shift: 2 })]);
  assert.deepEqual(st.attentionShape("att"), [2, TOKENS, KEYS]);
  assert.equal(st.attentionShape("nope"), null);

  const a = st.attention("att", 0, 1)!;
  assert.equal(a.queries, TOKENS);
  assert.equal(a.keys, KEYS);
  assert.equal(a.epoch, 0);
  close(a.values, attnValues(2, 1).slice(TOKENS * KEYS)); // sample 1's rows
  close(st.attention("att", -1, 0)!.values, attnValues(1)); // init

  const thinned = st.attention("att", 1, 0)!; // epoch 1 was thinned: epoch 0's map
  assert.equal(thinned.epoch, 0);
  close(thinned.values, attnValues(1, 1));

  // epoch 2 kept one sample only
  assert.equal(st.attention("att", 2, 0)!.samples, 1);
  close(st.attention("att", 2, 0)!.values, attnValues(1, 2));
  assert.equal(st.attention("att", 2, 1), null);
  assert.equal(st.attention("att", 2, -1), null);
  assert.equal(st.attention("nope", 2, 0), null);
});
