import assert from "node:assert/strict";
import { test } from "node:test";
import { epochTicks, leftTicks, linearScale, logScale, metricAxes, metricStyle, nearestEpoch, yDomain } from "../../src/panels/chart";
import { histBars, histRange, logTicks, maxDensity, niceTicks } from "../../src/layout/plot";
import { fmt, fmtCount, fmtInt, fmtShape, fmtTick } from "../../src/util/format";

test("linear scale maps and inverts", () => {
  const s = linearScale(0, 10, 100, 200);
  assert.equal(s(0), 100);
  assert.equal(s(5), 150);
  assert.equal(s.invert(175), 7.5);
  const flipped = linearScale(0, 1, 90, 10); // y axis: up is smaller px
  assert.equal(flipped(1), 10);
  assert.equal(flipped.invert(50), 0.5);
  assert.equal(linearScale(3, 3, 0, 10)(3), 5, "degenerate domain maps to the middle");
});

test("log scale: decades are evenly spaced; non-positive -> NaN", () => {
  const s = logScale(0.01, 100, 0, 400);
  assert.equal(s(0.01), 0);
  assert.ok(Math.abs(s(1) - 200) < 1e-9);
  assert.ok(Math.abs(s.invert(300) - 10) < 1e-9);
  assert.ok(Number.isNaN(s(0)));
  assert.ok(Number.isNaN(s(-1)));
  assert.equal(s.log, true);
});

test("nearestEpoch picks the closest recorded epoch (ties to the earlier)", () => {
  const e = [-1, 0, 1, 2, 5];
  assert.equal(nearestEpoch(e, 3.4), 2);
  assert.equal(nearestEpoch(e, 3.6), 5);
  assert.equal(nearestEpoch(e, 3.5), 2);
  assert.equal(nearestEpoch(e, -10), -1);
  assert.equal(nearestEpoch(e, 99), 5);
  assert.ok(Number.isNaN(nearestEpoch([], 1)));
});

test("metricAxes: losses left, [0,1] metrics right, one group -> left", () => {
  const m = new Map([
    ["loss", [2.3, 0.4]],
    ["val_loss", [2.4, 0.5]],
    ["accuracy", [0.1, 0.9]],
    ["lr", [5, 2]],
  ]);
  const a = metricAxes(m);
  assert.equal(a.get("loss"), "left");
  assert.equal(a.get("val_loss"), "left");
  assert.equal(a.get("accuracy"), "right");
  assert.equal(a.get("lr"), "left");
  assert.equal(metricAxes(new Map([["accuracy", [0.5, 0.6]]])).get("accuracy"), "left");
  // NaN does not push a unit metric off its axis; a loss below 1 stays a loss
  const b = metricAxes(new Map([["loss", [0.5, 0.2]], ["acc", [0.5, NaN, 0.9]]]));
  assert.equal(b.get("loss"), "left");
  assert.equal(b.get("acc"), "right");
});

test("yDomain: linear from 0 for positive data, log when it spans decades, NaN ignored", () => {
  const lin = yDomain([0.9, 0.5, NaN, 0.3]);
  assert.equal(lin.log, false);
  assert.equal(lin.lo, 0);
  assert.ok(lin.hi >= 0.9);
  const log = yDomain([1000, 10, 0.05, Infinity]);
  assert.equal(log.log, true);
  assert.ok(log.lo <= 0.05 && log.hi >= 1000);
  const flat = yDomain([2, 2]);
  assert.ok(flat.lo < 2 && flat.hi > 2);
  const neg = yDomain([-3, -1]);
  assert.ok(neg.lo < -3 && neg.hi > -1);
  assert.deepEqual(yDomain([NaN]), { lo: 0, hi: 1, log: false });
  assert.deepEqual(yDomain([0.2], { unit: true }), { lo: 0, hi: 1, log: false });
});

test("epochTicks are integers within range", () => {
  assert.deepEqual(epochTicks(0, 3), [0, 1, 2, 3]);
  const many = epochTicks(0, 200, 6);
  assert.ok(many.length <= 8 && many.every((t) => Number.isInteger(t) && t >= 0 && t <= 200));
  assert.deepEqual(epochTicks(-1, 1), [-1, 0, 1]);
  assert.deepEqual(epochTicks(4, 4), [4]);
});

test("metricStyle: val_x shares x's color, dashed", () => {
  const names = ["loss", "val_loss", "accuracy", "val_accuracy"];
  assert.equal(metricStyle("loss", names).color, metricStyle("val_loss", names).color);
  assert.equal(metricStyle("val_loss", names).dashed, true);
  assert.equal(metricStyle("loss", names).dashed, false);
  assert.notEqual(metricStyle("loss", names).color, metricStyle("accuracy", names).color);
});

test("niceTicks / logTicks", () => {
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(-0.31, 0.31, 4), [-0.2, 0, 0.2]);
  assert.deepEqual(niceTicks(-0.31, 0.31, 7), [-0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3]);
  assert.deepEqual(niceTicks(2, 2), [2]);
  assert.deepEqual(niceTicks(NaN, 1), []);
  for (const t of niceTicks(-0.013, 0.027, 5)) assert.ok(t >= -0.013 && t <= 0.027);
  assert.deepEqual(logTicks(0.01, 100, 5), [0.01, 0.1, 1, 10, 100]);
  assert.ok(logTicks(1e-8, 1e8, 5).length <= 6);
});

test("histogram bars: fixed x range, density heights, empty bins left out", () => {
  const counts = [0, 2, 4, 2];
  // bins over [0, 1] drawn on an x axis of [-1, 1] that is 200 px wide
  const bars = histBars(counts, 0, 1, -1, 1, 200, 50);
  assert.equal(bars.length, 3);
  assert.equal(bars[0].x, 125); // bin 1 starts at 0.25 -> (0.25 + 1) / 2 * 200
  assert.equal(bars[0].w, 25);
  const tallest = bars.find((b) => b.h === 50)!;
  assert.equal(tallest.x, 150);
  assert.equal(tallest.y, 0);
  assert.equal(bars[0].h, 25);
  // a shared yMax keeps two epochs comparable: the same counts over twice the range are half as dense
  const wide = histBars(counts, 0, 2, -1, 2, 300, 50, maxDensity(counts, 0, 1));
  assert.equal(Math.max(...wide.map((b) => b.h)), 25);
  // a degenerate range still gives a visible bar
  const spike = histBars([5], 0.5, 0.5, 0, 1, 100, 40);
  assert.equal(spike.length, 1);
  assert.ok(spike[0].w >= 1 && spike[0].h === 40);
  assert.deepEqual(histBars([], 0, 1, 0, 1, 10, 10), []);
  assert.deepEqual(histBars([1, 2], 0, 1, 0, 1, 10, 10).map((b) => b.x), [0, 5]);
});

test("histRange: union over snapshots, non-finite ignored, degenerate widened", () => {
  assert.deepEqual(histRange([{ lo: -0.1, hi: 0.2 }, { lo: -0.3, hi: 0.1 }, { lo: NaN, hi: Infinity }]), [-0.3, 0.2]);
  assert.deepEqual(histRange([]), [-1, 1]);
  const [a, b] = histRange([{ lo: 2, hi: 2 }]);
  assert.ok(a < 2 && b > 2);
});

test("number formatting", () => {
  assert.equal(fmt(0.000123), "1.23e-4");
  assert.equal(fmt(0.0123), "0.0123");
  assert.equal(fmt(-2.5), "−2.5");
  assert.equal(fmt(1234.5), "1235");
  assert.equal(fmt(123456), "1.23e5");
  assert.equal(fmt(NaN), "NaN");
  assert.equal(fmt(Infinity), "∞");
  assert.equal(fmt(0), "0");
  assert.equal(fmt(null), "–");
  assert.equal(fmtInt(101770), "101,770");
  assert.equal(fmtCount(2034538), "2M");
  assert.equal(fmtCount(101770), "102k");
  assert.equal(fmtShape([64, null, 16]), "64×?×16");
  assert.equal(fmtShape([]), "scalar");
  assert.equal(fmtTick(0.75, 0.25), "0.75");
  assert.equal(fmtTick(0.5, 0.5), "0.5");
  assert.equal(fmtTick(-0.2, 0.1), "−0.2");
  assert.equal(fmtTick(2, 1), "2");
});

test("left axis: at least two ticks on a narrow domain", () => {
  const t = leftTicks({ lo: 0.288, hi: 0.512, log: false }, 2);
  assert.ok(t.length >= 2, String(t));
  for (const v of t) assert.ok(v >= 0.288 && v <= 0.512);
  assert.ok(leftTicks({ lo: 0.01, hi: 0.5, log: true }, 2).length >= 2);
});
