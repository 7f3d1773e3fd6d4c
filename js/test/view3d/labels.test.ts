import { test } from "node:test";
import assert from "node:assert/strict";
import { estimateLabel, RectGrid } from "../../src/view3d/labels";

test("RectGrid: overlap as a scan of every placed rectangle would find it", () => {
  const grid = new RectGrid(64);
  const placed: [number, number, number, number][] = [];
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < 400; i++) {
    const x = rand() * 1200 - 50, y = rand() * 600 - 20, w = 10 + rand() * 150, h = 10 + rand() * 30;
    const r: [number, number, number, number] = [x, y, x + w, y + h];
    const scan = placed.some((p) => r[0] < p[2] && r[2] > p[0] && r[1] < p[3] && r[3] > p[1]);
    assert.equal(grid.hits(r), scan, `rect ${i}`);
    if (!scan) {
      grid.add(r);
      placed.push(r);
    }
  }
  assert.ok(placed.length > 20);
});

test("RectGrid: edges touching do not overlap; a rectangle spanning many cells is found", () => {
  const grid = new RectGrid(32);
  grid.add([0, 0, 500, 10]);
  assert.ok(!grid.hits([500, 0, 520, 10]));
  assert.ok(!grid.hits([0, 10, 20, 20]));
  assert.ok(grid.hits([480, 5, 490, 8]));
  assert.ok(grid.hits([-100, -100, 1000, 1000]));
});

test("estimateLabel: grows with the text and with a sub line", () => {
  const [w1, h1] = estimateLabel("fc1", "", false);
  const [w2] = estimateLabel("transformer.h.11.attn", "", false);
  const [, h2] = estimateLabel("fc1", "Linear", false);
  assert.ok(w2 > w1 && h2 > h1);
});
