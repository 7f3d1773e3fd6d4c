import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_ZOOM, MIN_ZOOM, clampPan, sameHit, showBox, validView, zoomAbout } from "../../src/view2d/transform";

test("validView: a finite camera with positive zoom is copied; anything else is null", () => {
  const c = { zoom: 2, tx: 3, ty: -4 };
  const v = validView(c);
  assert.deepEqual(v, c);
  assert.notEqual(v, c);
  assert.equal(validView(undefined), null);
  assert.equal(validView({ zoom: 0, tx: 0, ty: 0 }), null);
  assert.equal(validView({ zoom: 1, tx: NaN, ty: 0 }), null);
});

test("zoomAbout: the screen point under the cursor stays put; zoom is clamped", () => {
  const v = { zoom: 1, tx: 10, ty: 20 };
  const wx = (100 - v.tx) / v.zoom, wy = (50 - v.ty) / v.zoom;
  zoomAbout(v, 2, 100, 50);
  assert.equal(v.zoom, 2);
  assert.equal(wx * v.zoom + v.tx, 100);
  assert.equal(wy * v.zoom + v.ty, 50);
  zoomAbout(v, 1000, 0, 0);
  assert.equal(v.zoom, MAX_ZOOM);
  zoomAbout(v, 1e-9, 0, 0);
  assert.equal(v.zoom, MIN_ZOOM);
});

test("showBox: a visible box leaves the view alone; a hidden one is centred (zooming in from far out)", () => {
  const v = { zoom: 1, tx: 0, ty: 0 };
  showBox(v, { x: 10, y: 10, w: 20, h: 20 }, 200, 100);
  assert.deepEqual(v, { zoom: 1, tx: 0, ty: 0 });
  showBox(v, { x: 500, y: 10, w: 20, h: 20 }, 200, 100);
  assert.equal(v.tx, 100 - 510);
  assert.equal(v.ty, 50 - 20);
  const far = { zoom: 0.1, tx: 0, ty: 0 };
  showBox(far, { x: 5000, y: 0, w: 10, h: 10 }, 200, 100);
  assert.equal(far.zoom, 0.7);
});

test("clampPan: a graph that fits is centred after the margin; a wider one leaves no empty screen", () => {
  assert.equal(clampPan(999, 50, 200, 16), 16 + (200 - 16 - 16 - 50) / 2);
  assert.equal(clampPan(100, 1000, 200, 16), 16); // its start not right of the margin
  assert.equal(clampPan(-5000, 1000, 200, 16), 200 - 16 - 1000); // its end not left of the view's
  assert.equal(clampPan(-300, 1000, 200, 16), -300);
});

test("sameHit: equal when both miss, or on the same layer / neuron / tile / connection", () => {
  const set = {} as never;
  assert.ok(sameHit(null, null));
  assert.ok(!sameHit(null, { layer: "a" }));
  assert.ok(sameHit({ layer: "a", neuron: 1 }, { layer: "a", neuron: 1 }));
  assert.ok(!sameHit({ layer: "a", neuron: 1 }, { layer: "a", neuron: 2 }));
  assert.ok(!sameHit({ layer: "a", channel: 0 }, { layer: "b", channel: 0 }));
  assert.ok(sameHit({ layer: "a", conn: { set, k: 3 } }, { layer: "a", conn: { set, k: 3 } }));
  assert.ok(!sameHit({ layer: "a", conn: { set, k: 3 } }, { layer: "a", conn: { set, k: 4 } }));
});
