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

test("dark scales: the neutral midpoint is dark (not white) and the ends stand out on a dark background", async () => {
  const { DARK_SCALES, LIGHT_SCALES, scalePalette, scales, useScales } = await import("../../src/color/scales");
  const { DARK, LIGHT, contrast } = await import("../../src/styles/theme");
  const lum = (c: RGB) => 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  const to255 = (c: RGB): [number, number, number, number] => [c[0] * 255, c[1] * 255, c[2] * 255, 1];
  const bg = (hex: string): [number, number, number, number] => [parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16), parseInt(hex.slice(5, 7), 16), 1];
  assert.equal(scalePalette(true), DARK_SCALES);
  assert.equal(scalePalette(false), LIGHT_SCALES);
  const zeroDark = diverging(0, 1, [0, 0, 0], DARK_SCALES);
  assert.ok(lum(zeroDark) < 0.35, "zero is a dark grey on dark");
  assert.ok(lum(diverging(0, 1, [0, 0, 0], LIGHT_SCALES)) > 0.8, "zero is a light grey on light");
  // zero recedes into its background; both ends stand out from it
  for (const [pal, page] of [[DARK_SCALES, DARK.bg], [LIGHT_SCALES, LIGHT.bg]] as const) {
    const b = bg(page);
    const cz = contrast(to255(diverging(0, 1, [0, 0, 0], pal)), b);
    assert.ok(cz > 1.1 && cz < 2, `zero is near the background, yet visible (${cz})`);
    for (const v of [-1, 1]) assert.ok(contrast(to255(diverging(v, 1, [0, 0, 0], pal)), b) >= 3, `end ${v} reads on its background`);
    assert.ok(contrast(to255(sequential(1, 1, [0, 0, 0], pal)), b) >= 3, "sequential top reads");
    const neg = diverging(-1, 1, [0, 0, 0], pal);
    const pos = diverging(1, 1, [0, 0, 0], pal);
    assert.ok(neg[2] > neg[0] && pos[0] > pos[2], "sign is hue on both");
    assert.ok(close(diverging(NaN, 1, [0, 0, 0], pal), NAN_COLOR));
  }
  // useScales switches what the defaults use
  useScales(true);
  try {
    assert.equal(scales(), DARK_SCALES);
    assert.ok(close(diverging(0, 1), DARK_SCALES.zero));
  } finally {
    useScales(false);
  }
  assert.ok(close(diverging(0, 1), ZERO_COLOR));
});
