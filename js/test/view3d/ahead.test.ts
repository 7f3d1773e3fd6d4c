import { test } from "node:test";
import assert from "node:assert/strict";
import { AHEAD_SHARE, AHEAD_STABLE_MS, aheadOrder, fitsAhead, nextFrame, stillFor } from "../../src/view3d/ahead";

test("aheadOrder: nearest first, the epoch after before the one before, every other index once", () => {
  assert.deepEqual(aheadOrder(2, 6), [3, 1, 4, 0, 5]);
  assert.deepEqual(aheadOrder(0, 4), [1, 2, 3]); // at the start: forward only
  assert.deepEqual(aheadOrder(3, 4), [2, 1, 0]); // at the end: backward only
  assert.deepEqual(aheadOrder(0, 1), []);
  assert.deepEqual(aheadOrder(-1, 0), []);
  const o = aheadOrder(7, 20);
  assert.deepEqual([...o].sort((a, b) => a - b), [...Array(20).keys()].filter((i) => i !== 7));
});

test("fitsAhead: stops short of its share of the budget, never evicting", () => {
  const budget = 1000;
  assert.ok(fitsAhead(0, 100, budget));
  assert.ok(fitsAhead(budget * AHEAD_SHARE - 100, 100, budget)); // exactly at the share
  assert.ok(!fitsAhead(budget * AHEAD_SHARE - 99, 100, budget));
  assert.ok(!fitsAhead(0, budget, budget));
});

test("stillFor: waits until the view state has been the same for the stable time", () => {
  assert.equal(stillFor(10_000, 10_000 - AHEAD_STABLE_MS), 0);
  assert.equal(stillFor(10_000, 0), 0);
  const wait = stillFor(10_000, 10_000 - 500);
  assert.ok(wait > AHEAD_STABLE_MS - 500 && wait <= AHEAD_STABLE_MS - 500 + 10);
  assert.ok(stillFor(10_000, 10_000) > AHEAD_STABLE_MS - 1);
});

test("nextFrame: the first frame not kept yet", () => {
  const f = (key: string) => ({ key, prepare() {} });
  const frames = [f("a"), f("b"), f("c")];
  assert.equal(nextFrame(frames, (k) => k === "a")?.key, "b");
  assert.equal(nextFrame(frames, () => true), null);
  assert.equal(nextFrame([], () => false), null);
});
