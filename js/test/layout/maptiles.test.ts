// Feature-map tiles of the 2D view: the grid layout (layout/layout2d.ts) and the tile pixels (color/images.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { NAN_COLOR, diverging, sequential, type RGB } from "../../src/color/scales";
import { inkGray, resampledImage, type Img } from "../../src/color/images";
import { mapGrid, mapTileAt } from "../../src/layout/layout2d";
import { tileOrigin, tileSize } from "../../src/util/grid";

const px = (img: Img, x: number, y: number): number[] => {
  const p = (y * img.width + x) * 4;
  return [img.data[p], img.data[p + 1], img.data[p + 2], img.data[p + 3]];
};
const rgb255 = (c: RGB): number[] => [Math.round(c[0] * 255), Math.round(c[1] * 255), Math.round(c[2] * 255), 255];

test("mapGrid: at most maxTiles tiles in rows of at most maxCols, the rest counted", () => {
  const g16 = mapGrid(16, 28, 28)!;
  assert.deepEqual([g16.n, g16.cols, g16.rows, g16.more, g16.channels], [16, 4, 4, 0, 16]);
  assert.equal(g16.tileW, 22);
  assert.equal(g16.tileH, 22);
  assert.equal(g16.width, 4 * 22 + 3 * 2);
  assert.equal(g16.height, 4 * 22 + 3 * 2);
  const g32 = mapGrid(32, 14, 14)!;
  assert.deepEqual([g32.n, g32.cols, g32.rows, g32.more], [16, 4, 4, 16]);
  // as few rows as possible, the columns spread evenly
  const shape = (c: number) => {
    const g = mapGrid(c, 8, 8)!;
    return [g.cols, g.rows];
  };
  assert.deepEqual(shape(8), [4, 2]);
  assert.deepEqual(shape(6), [3, 2]);
  assert.deepEqual(shape(5), [3, 2]);
  assert.deepEqual(shape(3), [3, 1]);
  assert.deepEqual(shape(1), [1, 1]);
  assert.deepEqual(shape(12), [4, 3]);
  // options: a big graph's few tiles in one row; an input's one big tile
  const few = mapGrid(64, 7, 7, { maxTiles: 4 })!;
  assert.deepEqual([few.n, few.cols, few.rows, few.more], [4, 4, 1, 60]);
  const one = mapGrid(1, 28, 28, { tile: 44 })!;
  assert.deepEqual([one.width, one.height, one.more], [44, 44, 0]);
  // nothing to show
  assert.equal(mapGrid(0, 28, 28), null);
  assert.equal(mapGrid(4, 0, 28), null);
  assert.equal(mapGrid(Number.NaN, 28, 28), null);
});

test("mapGrid: tiles keep the map's aspect (clamped to 1:4 .. 4:1); tall tiles fit more per row", () => {
  const wide = mapGrid(4, 8, 16)!;
  assert.equal(wide.tileW, 22);
  assert.equal(wide.tileH, 11);
  const flat = mapGrid(4, 2, 100)!; // 1:50 -> 1:4
  assert.equal(flat.tileW, 22);
  assert.equal(flat.tileH, 5.5);
  const tall = mapGrid(16, 32, 8)!; // 4:1: a quarter of the width
  assert.equal(tall.tileW, 5.5);
  assert.equal(tall.tileH, 22);
  assert.deepEqual([tall.cols, tall.rows], [8, 2]); // 12 fit in a row: 2 rows of 8
  assert.ok(tall.width <= mapGrid(16, 8, 8)!.width + 1e-9, "no wider than square tiles' grid");
});

test("mapTileAt: the channel under a point, -1 in gaps, past the last tile and outside", () => {
  const g = mapGrid(6, 10, 10)!; // 3 x 2, tiles 22, gap 2
  for (let i = 0; i < g.n; i++) {
    const [x, y] = tileOrigin(g, i);
    assert.equal(mapTileAt(g, x + 11, y + 11), i);
    assert.equal(mapTileAt(g, x, y), i);
  }
  assert.equal(mapTileAt(g, 23, 5), -1); // the gap between tile 0 and 1
  assert.equal(mapTileAt(g, 5, 23), -1);
  assert.equal(mapTileAt(g, -1, 5), -1);
  assert.equal(mapTileAt(g, g.width + 1, 5), -1);
  assert.equal(mapTileAt(g, 5, g.height + 1), -1);
  const five = mapGrid(5, 10, 10)!; // 3 x 2 with the last cell empty
  const [ex, ey] = tileOrigin(five, 5);
  assert.equal(mapTileAt(five, ex + 5, ey + 5), -1);
});

test("tileSize: the map's own size up to max, else the same aspect within max x max", () => {
  assert.deepEqual(tileSize(28, 28, 64), [28, 28]);
  assert.deepEqual(tileSize(224, 224, 64), [64, 64]);
  assert.deepEqual(tileSize(100, 200, 64), [32, 64]);
  assert.deepEqual(tileSize(1, 1000, 64), [1, 64]);
  assert.deepEqual(tileSize(0, 0, 64), [1, 1]);
});

test("resampledImage: nearest sampling, offsets, colors; NaN in the NaN color", () => {
  // two 2 x 2 maps back to back; draw the second one at 4 x 4 (each value a 2 x 2 block)
  const v = [0, 0, 0, 0, 1, -1, Number.NaN, 0.5];
  const color = (x: number, out: RGB) => diverging(x, 1, out);
  const img = resampledImage(v, 2, 2, 4, 4, color, 4);
  assert.equal(img.width, 4);
  assert.equal(img.height, 4);
  assert.deepEqual(px(img, 0, 0), rgb255(diverging(1, 1)));
  assert.deepEqual(px(img, 1, 1), rgb255(diverging(1, 1)));
  assert.deepEqual(px(img, 2, 0), rgb255(diverging(-1, 1)));
  assert.deepEqual(px(img, 0, 3), rgb255(NAN_COLOR));
  assert.deepEqual(px(img, 3, 3), rgb255(diverging(0.5, 1)));
  // subsampled: an 8 x 8 ramp down to 2 x 2 reads rows 0, 4 and columns 0, 4
  const ramp = Array.from({ length: 64 }, (_, i) => i);
  const seq = (x: number, out: RGB) => sequential(x, 63, out);
  const small = resampledImage(ramp, 8, 8, 2, 2, seq);
  assert.deepEqual(px(small, 0, 0), rgb255(sequential(0, 63)));
  assert.deepEqual(px(small, 1, 0), rgb255(sequential(4, 63)));
  assert.deepEqual(px(small, 0, 1), rgb255(sequential(32, 63)));
  assert.deepEqual(px(small, 1, 1), rgb255(sequential(36, 63)));
});

test("inkGray: lo is paper, hi is ink, clamped; flat range is paper; NaN is the NaN color", () => {
  assert.deepEqual(inkGray(0, 0, 1), [0.97, 0.97, 0.97]);
  assert.ok(Math.abs(inkGray(1, 0, 1)[0] - 0.07) < 1e-9);
  assert.ok(Math.abs(inkGray(5, 0, 1)[0] - 0.07) < 1e-9);
  assert.deepEqual(inkGray(-3, 0, 1), [0.97, 0.97, 0.97]);
  assert.deepEqual(inkGray(2, 2, 2), [0.97, 0.97, 0.97]);
  assert.deepEqual(inkGray(Number.NaN, 0, 1), NAN_COLOR);
  assert.deepEqual(inkGray(Infinity, 0, 1), NAN_COLOR);
});
