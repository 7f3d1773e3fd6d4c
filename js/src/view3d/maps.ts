// The 3D view's feature-map planes: a conv (or image input) layer's channel planes textured with
// the probe sample's maps, from one canvas-sized atlas per layer rewritten when the maps change.
import { BufferAttribute, BufferGeometry, DataTexture, DoubleSide, LineSegments, Mesh, MeshBasicMaterial, NearestFilter, RGBAFormat, UnsignedByteType, type LineBasicMaterial } from "three";
import { diverging, sequential, type RGB } from "../color/scales";
import { inkGray } from "../color/images";
import { actScale, featureMaps } from "../data/maps";
import type { Store } from "../data/store";
import type { ViewState } from "../data/types";
import type { LayerBox } from "../layout/layout3d";
import { MAX_TILE, type ConvMap, type ConvPlane } from "./geometry";

/** The textured channel planes of one layer (geometry once; the atlas is rewritten on change). */
export function buildMap(box: LayerBox, planes: ConvPlane[], shape: [number, number, number], source: string, frameMat: LineBasicMaterial): ConvMap {
  const [channels, mh, mw] = shape;
  const drawn = Math.max(1, Math.min(planes.length, channels));
  const tw = Math.max(1, Math.min(mw, MAX_TILE));
  const th = Math.max(1, Math.min(mh, MAX_TILE));
  const cols = Math.ceil(Math.sqrt(drawn));
  const rows = Math.ceil(drawn / cols);
  const AW = cols * tw;
  const AH = rows * th;
  const data = new Uint8Array(AW * AH * 4);
  const tex = new DataTexture(data, AW, AH, RGBAFormat, UnsignedByteType);
  tex.magFilter = NearestFilter;
  tex.minFilter = NearestFilter;
  tex.generateMipmaps = false;
  const pos = new Float32Array(drawn * 12);
  const uv = new Float32Array(drawn * 8);
  const index: number[] = [];
  const frame: number[] = [];
  for (let i = 0; i < drawn; i++) {
    const p = planes[i];
    const x = p.center[0];
    const y0 = p.center[1] - p.size[1] / 2;
    const y1 = p.center[1] + p.size[1] / 2;
    // the map's first column on the layer's left, as neuron grids (mirrored rows flip it)
    const zL = p.center[2] - (box.dir * p.size[2]) / 2;
    const zR = p.center[2] + (box.dir * p.size[2]) / 2;
    const tx = i % cols;
    const ty = Math.floor(i / cols);
    const u0 = (tx * tw) / AW, u1 = ((tx + 1) * tw) / AW;
    const v0 = (ty * th) / AH, v1 = ((ty + 1) * th) / AH;
    pos.set([x, y1, zL, x, y1, zR, x, y0, zR, x, y0, zL], 12 * i);
    uv.set([u0, v1, u1, v1, u1, v0, u0, v0], 8 * i);
    const k = 4 * i;
    index.push(k, k + 1, k + 2, k, k + 2, k + 3);
    frame.push(x, y1, zL, x, y1, zR, x, y1, zR, x, y0, zR, x, y0, zR, x, y0, zL, x, y0, zL, x, y1, zL);
  }
  const geom = new BufferGeometry();
  geom.setAttribute("position", new BufferAttribute(pos, 3));
  geom.setAttribute("uv", new BufferAttribute(uv, 2));
  geom.setIndex(index);
  geom.computeBoundingSphere();
  const mat = new MeshBasicMaterial({ map: tex, side: DoubleSide });
  const mesh = new Mesh(geom, mat);
  mesh.name = "maps";
  const fg = new BufferGeometry();
  fg.setAttribute("position", new BufferAttribute(new Float32Array(frame), 3));
  const frames = new LineSegments(fg, frameMat);
  frames.name = "map-frames";
  mesh.add(frames);
  const m: ConvMap = {
    box, name: box.name, source, channels, mh, mw, drawn, tw, th, cols, rows, data, tex, mesh, mat, frames,
    base: planes.slice(0, drawn).map((p) => p.color), key: "", showing: false,
  };
  fillBase(m);
  return m;
}

/** Paint every tile of `m` in its plane's color (no maps for this sample). */
export function fillBase(m: ConvMap): void {
  const AW = m.cols * m.tw;
  for (let i = 0; i < m.drawn; i++) {
    const c = m.base[i];
    const r = Math.round(c[0] * 255), g = Math.round(c[1] * 255), b = Math.round(c[2] * 255);
    const tx = (i % m.cols) * m.tw;
    const ty = Math.floor(i / m.cols) * m.th;
    for (let y = 0; y < m.th; y++) {
      let o = ((ty + y) * AW + tx) * 4;
      for (let x = 0; x < m.tw; x++, o += 4) {
        m.data[o] = r; m.data[o + 1] = g; m.data[o + 2] = b; m.data[o + 3] = 255;
      }
    }
  }
  m.key = "base";
  m.showing = false;
  m.tex.needsUpdate = true;
}

/**
 * What map painting keeps between calls: each layer's color scale, and an id per decoded array
 * (an atlas is rewritten only when its maps' array changed). Cleared when the store changes.
 */
export class MapCache {
  readonly scales = new Map<string, { signed: boolean; lo: number; abs: number }>();
  private ids = new WeakMap<ArrayBufferLike, number>();
  private next = 1;

  arrayId(a: Float32Array): string {
    let id = this.ids.get(a.buffer);
    if (id === undefined) this.ids.set(a.buffer, (id = this.next++));
    return `${id}:${a.byteOffset}`;
  }

  clear(): void {
    this.scales.clear();
    this.ids = new WeakMap();
  }
}

/** Rewrite the atlases whose maps changed (epoch, sample): one texture upload per such layer.
 * Returns the names of the layers showing maps. */
export function updateMaps(store: Store, maps: ConvMap[], st: ViewState, cache: MapCache): string[] {
  const rgb: RGB = [0, 0, 0];
  const showing: string[] = [];
  for (const m of maps) {
    const values = featureMaps(store, m.source, st.epoch, st.sample);
    const need = m.channels * m.mh * m.mw;
    if (!values || values.length < need) {
      if (m.key !== "base") fillBase(m);
      continue;
    }
    showing.push(m.name);
    const key = cache.arrayId(values);
    if (key === m.key) continue;
    let sc = cache.scales.get(m.name);
    if (!sc) cache.scales.set(m.name, (sc = actScale(store, m.source)));
    const input = m.box.kind === "input";
    const AW = m.cols * m.tw;
    for (let i = 0; i < m.drawn; i++) {
      const tx = (i % m.cols) * m.tw;
      const ty = Math.floor(i / m.cols) * m.th;
      for (let y = 0; y < m.th; y++) {
        const sy = Math.floor((y * m.mh) / m.th);
        // texture rows go bottom-up: the map's top row is the tile's last
        let o = ((ty + m.th - 1 - y) * AW + tx) * 4;
        const row = (i * m.mh + sy) * m.mw;
        for (let x = 0; x < m.tw; x++, o += 4) {
          const v = values[row + Math.floor((x * m.mw) / m.tw)];
          if (input) {
            inkGray(v, sc.lo, sc.abs, rgb); // the probe image itself: dark ink on paper
          } else if (sc.signed) diverging(v, sc.abs, rgb);
          else sequential(v, sc.abs, rgb);
          m.data[o] = Math.round(rgb[0] * 255);
          m.data[o + 1] = Math.round(rgb[1] * 255);
          m.data[o + 2] = Math.round(rgb[2] * 255);
          m.data[o + 3] = 255;
        }
      }
    }
    m.key = key;
    m.showing = true;
    m.tex.needsUpdate = true;
  }
  return showing;
}
