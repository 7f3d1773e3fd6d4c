import assert from "node:assert/strict";
import { test } from "node:test";
import { NAN_COLOR, ZERO_COLOR, diverging, type RGB } from "../../src/color/scales";
import { BOUNDARY_HIGH, BOUNDARY_LOW, BOUNDARY_MAX_INTENSITY, GRID_BG, boundaryImage, classColor, divergingImage, divergingLinear, fieldImage, finiteRange, grayscaleImage, quantileAbs, gridImage, heatmapImage, makeImage, maxAbs, planeToPixel, rgbImage, sequentialImage, type Img } from "../../src/color/images";
import { MAX_TILE_CSS, fitGrid } from "../../src/panels/inside/kit";
import { fmtRatio } from "../../src/util/format";
import { healthBadges, healthLine, healthState, hasHealth, mergedHealth } from "../../src/data/health";
import type { GraphInfo, LayerHealth } from "../../src/data/types";
import { gridLayout, tileOrigin } from "../../src/util/grid";

const px = (img: Img, x: number, y: number): number[] => {
  const p = (y * img.width + x) * 4;
  return [img.data[p], img.data[p + 1], img.data[p + 2], img.data[p + 3]];
};
const rgb255 = (c: RGB): number[] => [Math.round(c[0] * 255), Math.round(c[1] * 255), Math.round(c[2] * 255), 255];
const NAN_PX = rgb255(NAN_COLOR);

test("grayscale: auto-ranged min -> black, max -> white, rows top-down; ink inverts", () => {
  const v = [2, 4, 6, 10]; // 2 x 2
  const img = grayscaleImage(v, 2, 2);
  assert.equal(img.width, 2);
  assert.equal(img.height, 2);
  assert.deepEqual(px(img, 0, 0), [0, 0, 0, 255]);
  assert.deepEqual(px(img, 1, 1), [255, 255, 255, 255]);
  assert.deepEqual(px(img, 1, 0), [64, 64, 64, 255]); // (4 - 2) / 8 = 0.25
  const ink = grayscaleImage(v, 2, 2, { ink: true });
  assert.deepEqual(px(ink, 0, 0), [255, 255, 255, 255]);
  assert.deepEqual(px(ink, 1, 1), [0, 0, 0, 255]);
  // a given range wins over the auto range; values past it clamp
  const fixed = grayscaleImage(v, 2, 2, { lo: 0, hi: 4 });
  assert.deepEqual(px(fixed, 0, 0), [128, 128, 128, 255]);
  assert.deepEqual(px(fixed, 1, 1), [255, 255, 255, 255]);
  // a constant image is mid gray, not NaN
  assert.deepEqual(px(grayscaleImage([3, 3, 3, 3], 2, 2), 0, 0), [128, 128, 128, 255]);
});

test("grayscale / rgb / diverging: NaN and Inf are the NaN color and don't spoil the range", () => {
  const g = grayscaleImage([0, NaN, Infinity, 1], 2, 2);
  assert.deepEqual(px(g, 1, 0), NAN_PX);
  assert.deepEqual(px(g, 0, 1), NAN_PX);
  assert.deepEqual(px(g, 1, 1), [255, 255, 255, 255]);
  const d = divergingImage([NaN, 1], 1, 2, 1);
  assert.deepEqual(px(d, 0, 0), NAN_PX);
  const r = rgbImage([0, 1, /*g*/ 0, NaN, /*b*/ 0, 0], 1, 2);
  assert.deepEqual(px(r, 1, 0), NAN_PX);
  assert.deepEqual(px(r, 0, 0), [0, 0, 0, 255]);
  assert.deepEqual(finiteRange([NaN, -2, Infinity, 5]), [-2, 5]);
  assert.equal(maxAbs([NaN, -7, Infinity, 5]), 7);
  assert.deepEqual(finiteRange([NaN]), [0, 0]);
});

test("rgb: channels first (3, h, w), one range over all channels", () => {
  const img = rgbImage([1, 0, /*g*/ 0, 0, /*b*/ 0, 1], 1, 2);
  assert.deepEqual(px(img, 0, 0), [255, 0, 0, 255]);
  assert.deepEqual(px(img, 1, 0), [0, 0, 255, 255]);
});

test("diverging: symmetric given range, so two epochs compare; zero is the neutral grey", () => {
  const img = divergingImage([0, 1, -1, 0.5], 2, 2, 2);
  assert.deepEqual(px(img, 0, 0), rgb255(ZERO_COLOR));
  assert.deepEqual(px(img, 1, 0), rgb255(divergingLinear(1, 2)));
  assert.deepEqual(px(img, 0, 1), rgb255(divergingLinear(-1, 2)));
  // same value, same range -> same pixel whatever else the image holds
  const other = divergingImage([5, 1, -1, 0.5], 2, 2, 2);
  assert.deepEqual(px(other, 1, 0), px(img, 1, 0));
  const pos = px(img, 1, 0);
  const neg = px(img, 0, 1);
  assert.ok(pos[0] > pos[2], "positive is red");
  assert.ok(neg[2] > neg[0], "negative is blue");
  // offset + step read a strided sub-array (e.g. one row of an (out, in) weight)
  const strided = divergingImage([9, 1, 9, -1], 1, 2, 2, { offset: 1, step: 2 });
  assert.deepEqual(px(strided, 0, 0), rgb255(divergingLinear(1, 2)));
  assert.deepEqual(px(strided, 1, 0), rgb255(divergingLinear(-1, 2)));
  // boost: the graph views' square-root scale
  assert.deepEqual(px(divergingImage([1], 1, 1, 2, { boost: true }), 0, 0), rgb255(diverging(1, 2)));
});

test("divergingLinear: scales.ts's endpoints and zero, linear in between, NaN color", () => {
  const close = (a: RGB, b: RGB) => a.every((v, i) => Math.abs(v - b[i]) < 1e-9);
  assert.ok(close(divergingLinear(3, 3), diverging(3, 3)));
  assert.ok(close(divergingLinear(-3, 3), diverging(-3, 3)));
  assert.ok(close(divergingLinear(9, 3), diverging(3, 3)), "clamped");
  assert.ok(close(divergingLinear(0, 3), ZERO_COLOR));
  const half = divergingLinear(1.5, 3);
  const end = diverging(3, 3);
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(half[i] - (ZERO_COLOR[i] + end[i]) / 2) < 1e-9);
  assert.ok(close(divergingLinear(NaN, 1), NAN_COLOR));
  assert.ok(close(divergingLinear(1, 0), diverging(1, 1)), "a zero range does not blow up");
});

test("sequential: 0 is pale, max is dark", () => {
  const img = sequentialImage([0, 4], 1, 2, 4);
  const a = px(img, 0, 0);
  const b = px(img, 1, 0);
  assert.ok(a[0] + a[1] + a[2] > b[0] + b[1] + b[2]);
});

test("grid: cols x rows with 1-px gaps, tile i at its place, gaps white", () => {
  const g = gridLayout(5, 2, 3, 3);
  assert.equal(g.cols, 3);
  assert.equal(g.rows, 2);
  assert.equal(g.width, 3 * 3 + 2);
  assert.equal(g.height, 2 * 2 + 1);
  assert.deepEqual(tileOrigin(g, 0), [0, 0]);
  assert.deepEqual(tileOrigin(g, 2), [8, 0]);
  assert.deepEqual(tileOrigin(g, 3), [0, 3]);
  assert.deepEqual(tileOrigin(g, 4), [4, 3]);
  // tile i filled with value i (grayscale with a fixed 0..4 range)
  const img = gridImage(g, (i, at) => {
    grayscaleImage(new Array(6).fill(i), 2, 3, { lo: 0, hi: 4 }, at);
  });
  assert.deepEqual(px(img, 0, 0), [0, 0, 0, 255]); // tile 0
  assert.deepEqual(px(img, 3, 0), rgb255(GRID_BG)); // gap column
  assert.deepEqual(px(img, 0, 2), rgb255(GRID_BG)); // gap row
  assert.deepEqual(px(img, 10, 1), [128, 128, 128, 255]); // tile 2, last pixel
  assert.deepEqual(px(img, 4 + 2, 3 + 1), [255, 255, 255, 255]); // tile 4
  assert.deepEqual(px(img, 8, 3), rgb255(GRID_BG)); // the unused 6th cell
  // a reused buffer of the right size is kept
  const again = gridImage(g, () => {}, img);
  assert.equal(again, img);
  assert.deepEqual(px(again, 0, 0), rgb255(GRID_BG));
  // default columns: near square
  const sq = gridLayout(16, 8, 8);
  assert.equal(sq.cols, 4);
  assert.equal(sq.rows, 4);
  assert.equal(gridLayout(1, 8, 8).cols, 1);
});

test("fitGrid: tiles as big as fit, never wider than allowed", () => {
  const { grid, scale } = fitGrid(32, 8, 8, 276, 240);
  assert.ok(grid.width * scale <= 276 + 1e-9);
  assert.ok(grid.height * scale <= 240 + 1e-9);
  assert.ok(scale >= 3, `scale ${scale}`);
  assert.equal(grid.cols * grid.rows >= 32, true);
  const one = fitGrid(1, 3, 3, 200, 200);
  assert.equal(one.scale, Math.min(16, Math.floor(MAX_TILE_CSS / 3))); // a tile: at most MAX_TILE_CSS px, 16x
  const filters = fitGrid(8, 3, 3, 276, 240); // 3x3 kernels: big tiles, wrapped
  assert.ok(filters.scale * 3 >= 40, `filters at ${filters.scale}x`);
  assert.ok(filters.grid.width * filters.scale <= 276);
});

test("boundary binary: 0 -> blue, 0.5 -> white, 1 -> orange; row 0 (y0) drawn at the bottom", () => {
  const res = 2;
  // wire rows: row 0 = y0 (bottom): [0, 0.5]; row 1 = y1 (top): [1, NaN]
  const b = { meta: { mode: "binary" as const, classes: 1, res }, value: [0, 0.5, 1, NaN], cls: null, confidence: null };
  const img = boundaryImage(b);
  const white = [255, 255, 255, 255];
  const mixTo = (c: RGB) => rgb255([1 + (c[0] - 1) * BOUNDARY_MAX_INTENSITY, 1 + (c[1] - 1) * BOUNDARY_MAX_INTENSITY, 1 + (c[2] - 1) * BOUNDARY_MAX_INTENSITY]);
  assert.deepEqual(px(img, 0, 1), mixTo(BOUNDARY_LOW), "value 0 at the bottom-left");
  assert.deepEqual(px(img, 1, 1), white, "0.5 is white");
  assert.deepEqual(px(img, 0, 0), mixTo(BOUNDARY_HIGH), "value 1 at the top-left");
  assert.deepEqual(px(img, 1, 0), NAN_PX);
});

test("boundary regression: around the midpoint of lo..hi", () => {
  const b = { meta: { mode: "regression" as const, classes: 1, res: 1, lo: -2, hi: 4 }, value: [1], cls: null, confidence: null };
  assert.deepEqual(px(boundaryImage(b), 0, 0), [255, 255, 255, 255]);
  const low = boundaryImage({ ...b, value: [-2] });
  const p = px(low, 0, 0);
  assert.ok(p[2] > p[0], "low end is blue");
  // "Infinity"-style strings from the wire parse
  const s = { meta: { mode: "regression" as const, classes: 1, res: 1, lo: "0", hi: "2" }, value: [1], cls: null, confidence: null };
  assert.deepEqual(px(boundaryImage(s), 0, 0), [255, 255, 255, 255]);
});

test("boundary multiclass: class color, intensity from confidence", () => {
  const b = {
    meta: { mode: "multiclass" as const, classes: 3, res: 2 },
    value: null,
    cls: [0, 1, 2, 2],
    confidence: [1, 1, 1 / 3, NaN],
  };
  const img = boundaryImage(b);
  // bottom row is wire row 0
  const c0 = px(img, 0, 1);
  const c1 = px(img, 1, 1);
  const k0 = classColor(0);
  const k1 = classColor(1);
  const full = (k: RGB) => rgb255([1 + (k[0] - 1) * BOUNDARY_MAX_INTENSITY, 1 + (k[1] - 1) * BOUNDARY_MAX_INTENSITY, 1 + (k[2] - 1) * BOUNDARY_MAX_INTENSITY]);
  assert.deepEqual(c0, full(k0));
  assert.deepEqual(c1, full(k1));
  const weak = px(img, 0, 0); // class 2 at chance confidence: pale
  assert.ok(weak[0] > 200 && weak[1] > 200 && weak[2] > 200, `pale ${weak}`);
  assert.deepEqual(px(img, 1, 0), NAN_PX);
});

test("field image: flipped like the boundary, centered", () => {
  const img = fieldImage([9, -1, 1, 9], 1, 0, 1, 1); // offset 1, res 1 -> value -1
  const p = px(img, 0, 0);
  assert.ok(p[2] > p[0]);
  const f = fieldImage([-1, 0, 1, 1], 2, 0, 1); // rows: y0 = [-1, 0], y1 = [1, 1]
  assert.deepEqual(px(f, 1, 1), [255, 255, 255, 255]); // value 0 bottom-right
  assert.ok(px(f, 0, 0)[0] > px(f, 0, 0)[2]); // top: positive, orange
});

test("planeToPixel: x right, y up", () => {
  assert.deepEqual(planeToPixel(0, 0, [0, 10, 0, 10], 100, 100), [0, 100]);
  assert.deepEqual(planeToPixel(10, 10, [0, 10, 0, 10], 100, 100), [100, 0]);
  assert.deepEqual(planeToPixel(5, 2.5, [0, 10, 0, 10], 100, 100), [50, 75]);
});

test("heatmap: rows = tokens, columns = features; scale picked from the signs", () => {
  const v = [0, 1, 2, 3, 4, 5]; // 2 tokens x 3 features, non-negative -> sequential
  const img = heatmapImage(v, 2, 3);
  assert.equal(img.width, 3);
  assert.equal(img.height, 2);
  const a = px(img, 0, 0);
  const b = px(img, 2, 1);
  assert.ok(a[0] + a[1] + a[2] > b[0] + b[1] + b[2], "0 pale, 5 dark");
  const d = heatmapImage([-1, 0, 1, NaN], 2, 2);
  assert.deepEqual(px(d, 1, 0), rgb255(ZERO_COLOR));
  assert.deepEqual(px(d, 1, 1), NAN_PX);
  const fixed = heatmapImage([1], 1, 1, { scale: "diverging", range: 4 });
  assert.deepEqual(px(fixed, 0, 0), rgb255(divergingLinear(1, 4)));
});

test("makeImage: size and fill", () => {
  const img = makeImage(3, 2, [1, 0, 0]);
  assert.equal(img.data.length, 24);
  assert.deepEqual(px(img, 2, 1), [255, 0, 0, 255]);
  assert.deepEqual(px(makeImage(1, 1), 0, 0), [0, 0, 0, 0]);
});

const H = (o: Partial<LayerHealth>): LayerHealth => ({
  dead: null, saturated: null, grad_ratio: null, update_ratio: null, grad_norm: null, act_nonfinite: null, ...o,
});

test("healthBadges: probe.py's thresholds and order", () => {
  assert.deepEqual(healthBadges(H({})), []);
  assert.deepEqual(healthBadges(null), []);
  assert.deepEqual(healthBadges(H({ dead: 0.5 })), ["dead"]);
  assert.deepEqual(healthBadges(H({ dead: 0.49 })), []);
  assert.deepEqual(healthBadges(H({ saturated: 0.5 })), ["saturated"]);
  assert.deepEqual(healthBadges(H({ grad_ratio: 0.0099 })), ["vanishing"]);
  assert.deepEqual(healthBadges(H({ grad_ratio: 0 })), ["vanishing"]);
  assert.deepEqual(healthBadges(H({ grad_ratio: 0.01 })), []);
  assert.deepEqual(healthBadges(H({ grad_ratio: 100 })), []);
  assert.deepEqual(healthBadges(H({ grad_ratio: 101 })), ["exploding"]);
  assert.deepEqual(healthBadges(H({ act_nonfinite: 3 })), ["nan"]);
  assert.deepEqual(healthBadges(H({ act_nonfinite: 0 })), []);
  assert.deepEqual(healthBadges(H({ act_nonfinite: NaN })), ["nan"]); // Python: NaN is truthy
  assert.deepEqual(healthBadges(H({ dead: NaN, grad_ratio: NaN })), []); // comparisons with NaN are false
  assert.deepEqual(healthBadges(H({ dead: 1, saturated: 0.9, grad_ratio: 1e3, act_nonfinite: 1 })), ["dead", "saturated", "exploding", "nan"]);
});

test("healthState / hasHealth / healthLine", () => {
  assert.equal(healthState(null), "none");
  assert.equal(healthState(H({ dead: 0.1 })), "ok");
  assert.equal(healthState(H({ dead: 0.9, act_nonfinite: 2 })), "nan"); // worst first
  assert.equal(healthState(H({ dead: 0.9, grad_ratio: 1e-4 })), "vanishing");
  assert.equal(hasHealth(H({ act_nonfinite: 0 })), false);
  assert.equal(hasHealth(H({ update_ratio: 0.01 })), true);
  assert.equal(healthLine(H({ dead: 0.62, grad_ratio: 0.003, update_ratio: 0.0012 })), "dead 62% · ∇ratio 3.0e-3 · update 1.2e-3");
  assert.equal(healthLine(H({ saturated: 0.05, grad_ratio: 1.53 })), "saturated 5% · ∇ratio 1.5");
  assert.equal(fmtRatio(0.094), "0.094");
  assert.equal(fmtRatio(NaN), "NaN");
  assert.equal(fmtRatio(0.00123), "1.2e-3");
  assert.equal(fmtRatio(0.00123, 1), "1e-3");
});

test("quantileAbs: robust to a few outliers, NaN ignored, falls back to the max", () => {
  const a = new Float32Array(1000).map((_, i) => (i % 2 ? -1 : 1) * (i / 1000));
  a[0] = 1000; // one outlier
  const r = quantileAbs([a, new Float32Array([NaN, Infinity])], 0.99);
  assert.ok(r > 0.95 && r < 1.0, `range ${r}`);
  assert.equal(quantileAbs([new Float32Array([0, 0, 0, 5])], 0.5), 5); // quantile 0 -> max
  assert.equal(quantileAbs([]), 0);
});

test("mergedHealth: a dense layer carries its ReLU's dead units", () => {
  const layer = (name: string, kind: string) => ({ name, kind }) as unknown as GraphInfo["layers"][number];
  const graph = {
    layers: [layer("fc1", "dense"), layer("relu", "activation"), layer("fc2", "dense"), layer("out", "output")],
    edges: [["fc1", "relu"], ["relu", "fc2"], ["fc2", "out"]],
  } as unknown as GraphInfo;
  const health: Record<string, LayerHealth> = {
    fc1: H({ update_ratio: 0.01, act_nonfinite: 0 }),
    relu: H({ dead: 0.7, act_nonfinite: 2 }),
    fc2: H({ grad_ratio: 1e-3 }),
  };
  const m = mergedHealth(graph, health, "fc1")!;
  assert.equal(m.dead, 0.7);
  assert.equal(m.update_ratio, 0.01);
  assert.equal(m.act_nonfinite, 2);
  assert.deepEqual(healthBadges(m), ["dead", "nan"]);
  assert.deepEqual(healthBadges(mergedHealth(graph, health, "fc2")), ["vanishing"]); // followed by output
  assert.equal(mergedHealth(graph, health, "nope"), null);
  assert.equal(mergedHealth(graph, { relu: health.relu }, "fc1"), health.relu);
});
