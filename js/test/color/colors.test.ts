import assert from "node:assert/strict";
import { test } from "node:test";
import { NAN_COLOR, ZERO_COLOR, css, diverging, fillDiverging, sequential, type RGB } from "../../src/color/scales";

const close = (a: RGB, b: RGB, eps = 1e-9) => a.every((v, i) => Math.abs(v - b[i]) < eps);
const dist = (a: RGB, b: RGB) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

test("diverging: zero is the neutral grey, endpoints are blue / red", () => {
  assert.ok(close(diverging(0, 1), ZERO_COLOR));
  const neg = diverging(-1, 1);
  const pos = diverging(1, 1);
  assert.ok(neg[2] > neg[0], "negative end is blue");
  assert.ok(pos[0] > pos[2], "positive end is red");
  // beyond the range clamps to the endpoints
  assert.ok(close(diverging(-5, 1), neg));
  assert.ok(close(diverging(5, 1), pos));
  // the range scales: v = range is the endpoint
  assert.ok(close(diverging(0.25, 0.25), pos));
});

test("diverging: NaN and ±Inf are the NaN color, which no finite value produces", () => {
  for (const v of [NaN, Infinity, -Infinity]) assert.ok(close(diverging(v, 1), NAN_COLOR));
  for (let v = -1; v <= 1; v += 0.05) assert.ok(dist(diverging(v, 1), NAN_COLOR) > 0.5);
  for (let v = 0; v <= 1; v += 0.05) assert.ok(dist(sequential(v, 1), NAN_COLOR) > 0.5);
  assert.ok(close(sequential(NaN, 1), NAN_COLOR));
});

test("diverging: intensity grows monotonically with |v| on both sides", () => {
  let prevPos = 0;
  let prevNeg = 0;
  for (let k = 1; k <= 20; k++) {
    const t = k / 20;
    const p = dist(diverging(t, 1), ZERO_COLOR);
    const n = dist(diverging(-t, 1), ZERO_COLOR);
    assert.ok(p > prevPos && n > prevNeg, `monotone at ${t}`);
    prevPos = p;
    prevNeg = n;
  }
});

test("diverging: a zero or negative range does not blow up", () => {
  for (const r of [0, -1]) for (const v of [-1, 0, 1]) assert.ok(diverging(v, r).every((c) => Number.isFinite(c) && c >= 0 && c <= 1));
});

test("sequential: 0 is light, max is dark, monotone, clamped", () => {
  const lum = (c: RGB) => 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  let prev = Infinity;
  for (let k = 0; k <= 10; k++) {
    const l = lum(sequential(k / 10, 1));
    assert.ok(l < prev);
    prev = l;
  }
  assert.ok(close(sequential(2, 1), sequential(1, 1)));
  assert.ok(close(sequential(-1, 1), sequential(0, 1)));
  assert.ok(close(sequential(5, 0), sequential(0, 1)), "max 0: everything at the low end");
});

test("css and fillDiverging", () => {
  assert.equal(css([1, 0, 0.5]), "rgb(255,0,128)");
  const out = fillDiverging([-1, 0, NaN], 1, new Float32Array(9));
  assert.deepEqual([...out.slice(3, 6)].map((v) => Math.round(v * 100)), ZERO_COLOR.map((v) => Math.round(v * 100)));
  assert.deepEqual([...out.slice(6, 9)], NAN_COLOR);
});
