// The 3D view's constants, shaders and built-scene records, and its pure helpers: which
// connections are drawn within the budget (pickConnections), sRGB encoding, color mixing.
import { Color, ColorManagement, DataTexture, Group, InstancedMesh, LineSegments, Mesh, MeshBasicMaterial } from "three";
import type { RGB } from "../color/scales";
import { feedsConnections, type LayerBox, type Layout3D } from "../layout/layout3d";
import type { Store } from "../data/store";
import type { GraphInfo } from "../data/types";
import type { Hierarchy } from "../layout/hierarchy";

// Colors are written as display (sRGB) values and shown as written: no color management, so
// the 3D view matches the legend and the 2D view exactly.
ColorManagement.enabled = false;

export const NEUTRAL_NEURON: RGB = [0.62, 0.66, 0.72];

/** One drawn connection set, chosen from the latest snapshot when data changes. */
export interface Connections {
  count: number;
  total: number;
  layer: Int32Array;   // graph layer index of the dense layer that owns the weight
  value: Uint32Array;  // index into that layer's values array (full (out,in) or the sample)
  src: Uint32Array;    // input neuron index
  dst: Uint32Array;    // output neuron index
}

export interface Built {
  /** the display graph drawn (hier.graph) and the store's graph it was cut from */
  graph: GraphInfo;
  source: GraphInfo;
  hier: Hierarchy;
  layout: Layout3D;
  group: Group;
  /** one quad per neuron (4 vertices each, in instance order); picking hits spheres */
  neurons: Mesh | null;
  neuronLayer: Int32Array;  // instance -> layer index
  neuronIndex: Uint32Array; // instance -> neuron index within the layer
  neuronStart: Map<number, number>; // layer index -> first instance
  solids: InstancedMesh | null;  // blocks
  glass: InstancedMesh | null;   // plates, conv planes
  slabs: InstancedMesh | null;   // faint plates behind neuron grids
  instLayer: Map<InstancedMesh, Int32Array>;
  instBase: Map<InstancedMesh, RGB[]>;
  lines: LineSegments | null;
  conn: Connections;
  edges: LineSegments | null;
  labels: LabelEl[];
  /** conv (and image input) layers whose channel planes show feature maps */
  maps: ConvMap[];
  /** layer name -> the label that shows its health badges */
  badgeHost: Map<string, string>;
}

export interface LabelEl {
  box: LayerBox;
  el: HTMLDivElement;
  badges: HTMLDivElement;
  /** the badges shown, as "dead 62%|vanishing ∇" (DOM touched only when it changes) */
  badgeKey: string;
  w: number;
  h: number;
}

/**
 * The channel planes of one conv layer, textured with the probe sample's feature maps: one
 * DataTexture per layer, an atlas of its drawn channels (tile i = channel i), rewritten when the
 * epoch or the sample changes (an upload, no new geometry). Planes without maps for the sample
 * show the kind color (the atlas filled with it).
 */
export interface ConvMap {
  box: LayerBox;
  name: string;
  source: string; // the layer whose maps are shown (the conv's own, or its activation's)
  channels: number; // channels in the recorded maps
  mh: number; // map height / width (a 3D conv's depth folds into the width)
  mw: number;
  drawn: number;
  tw: number; // tile size in the atlas (maps above 128 px are subsampled)
  th: number;
  cols: number;
  rows: number;
  data: Uint8Array;
  tex: DataTexture;
  mesh: Mesh;
  mat: MeshBasicMaterial;
  frames: LineSegments;
  base: RGB[]; // plane colors without maps
  key: string; // what the atlas holds now
  showing: boolean; // maps (true) or the kind color (false)
}

export const MAX_TILE = 128;

export interface ConvPlane {
  box: LayerBox;
  center: [number, number, number];
  size: [number, number, number];
  color: RGB;
}

export function hexRGB(hex: string): RGB {
  const c = new Color(hex);
  return [c.r, c.g, c.b];
}

export function mix(a: RGB, b: RGB, t: number): RGB {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

// sRGB encoding of a display value, as three's output stage does per fragment (sRGBTransferOETF).
// The connection colors are encoded once per vertex instead (exact: a segment's color is
// constant): the pow() per fragment doubled a software rasterizer's cost of long blended lines
// (SwiftShader microbenchmark: 20,000 lines 147 ms with it, 75 ms without).
export const SRGB_LUT = new Float32Array(4097);
for (let i = 0; i <= 4096; i++) {
  const c = i / 4096;
  SRGB_LUT[i] = c <= 0.0031308 ? c * 12.92 : 1.055 * Math.pow(c, 0.41666) - 0.055;
}
/** sRGB-encode a value in [0, 1] (linear interpolation in a 4097-entry table). */
export function srgbEncode(c: number): number {
  if (!(c > 0)) return 0;
  if (c >= 1) return 1;
  const x = c * 4096;
  const i = Math.floor(x);
  return SRGB_LUT[i] + (SRGB_LUT[i + 1] - SRGB_LUT[i]) * (x - i);
}

// Neurons are camera-facing quads shaded as spheres (impostors): 2 triangles per neuron instead
// of a 170-triangle sphere (922 neurons: 155k triangles, most of a software frame), with the same
// Lambert lighting as the other meshes (hemisphere + directional light, three's BRDF) and the
// sphere's depth, so connections still end inside their neurons. One plain (not instanced) mesh:
// under SwiftShader an instanced draw costs per instance (922 instanced quads ~20 ms, one plain
// mesh of the same quads ~2 ms).
export const NEURON_VERT = /* glsl */ `
attribute vec2 corner;
attribute float radius;
attribute vec3 ncolor;
varying vec2 vUv;
varying vec3 vColor;
varying vec3 vCenter;
varying float vRadius;
void main() {
  vec4 c = modelViewMatrix * vec4(position, 1.0);
  float r = radius * length(modelViewMatrix[0].xyz);
  vUv = corner;
  vCenter = c.xyz;
  vRadius = r;
  vColor = ncolor;
  c.xy += corner * r;
  gl_Position = projectionMatrix * c;
}`;

export const NEURON_FRAG = /* glsl */ `
#include <common>
uniform mat4 projectionMatrix;
uniform vec3 sunDir;
uniform vec3 sunColor;
uniform vec3 upDir;
uniform vec3 skyColor;
uniform vec3 groundColor;
varying vec2 vUv;
varying vec3 vColor;
varying vec3 vCenter;
varying float vRadius;
void main() {
  float r2 = dot(vUv, vUv);
  if (r2 > 1.0) discard;
  vec3 n = vec3(vUv, sqrt(1.0 - r2));
  vec4 clip = projectionMatrix * vec4(vCenter + n * vRadius, 1.0);
  gl_FragDepth = clamp(0.5 * clip.z / clip.w + 0.5, 0.0, 1.0);
  vec3 irradiance = mix(groundColor, skyColor, 0.5 * dot(n, upDir) + 0.5) + max(dot(n, sunDir), 0.0) * sunColor;
  gl_FragColor = vec4(vColor * irradiance * RECIPROCAL_PI, 1.0);
  #include <colorspace_fragment>
}`;

/** Choose the connections to draw: the strongest |w| (relative to each layer's max) first. */
export function pickConnections(store: Store, graph: GraphInfo, layout: Layout3D, budget: number): Connections {
  const latest = store.latest();
  type Part = { li: number; w: Float32Array; idx: Uint32Array | null; nIn: number; max: number };
  const parts: Part[] = [];
  let total = 0;
  for (const [dst, src] of Object.entries(graph.neuron_source ?? {})) {
    const D = layout.byName.get(dst);
    const S = layout.byName.get(src);
    if (!D || !S || D.style !== "neurons" || !feedsConnections(S)) continue;
    const shape = store.fullShape(dst);
    if (!shape || shape.length !== 2) continue;
    const [nOut, nIn] = shape;
    const u = S.planes?.units;
    if (nOut !== D.grid!.count || nIn !== (S.grid ? S.grid.count : u ? u.c * u.h * u.w : -1)) continue;
    total += nOut * nIn;
    // the latest snapshot's weights (a thinned one falls back to the last that kept them)
    const w = latest ? store.weight(dst, latest.epoch) : null;
    if (!w) continue;
    const idx = store.sampleIndices(dst);
    if (idx && idx.length !== w.length) continue;
    if (!idx && w.length !== nOut * nIn) continue;
    let max = 0;
    for (let i = 0; i < w.length; i++) {
      const a = Math.abs(w[i]);
      if (a > max && Number.isFinite(a)) max = a;
    }
    parts.push({ li: D.index, w, idx, nIn, max: max || 1 });
  }
  const n = parts.reduce((s, p) => s + p.w.length, 0);
  const score = new Float32Array(n);
  let k = 0;
  for (const p of parts) {
    for (let i = 0; i < p.w.length; i++) {
      const a = Math.abs(p.w[i]);
      score[k++] = Number.isFinite(a) ? a / p.max : 2; // NaN/Inf are always shown
    }
  }
  const keep = Math.max(0, Math.min(budget, n));
  let thr = -1;
  if (keep < n) {
    const sorted = score.slice().sort();
    thr = keep > 0 ? sorted[n - keep] : Infinity;
  }
  // order: weakest first, so the strongest are drawn last (on top)
  const chosen: number[] = [];
  let ties = keep - (thr < 0 ? n : countAbove(score, thr));
  for (let i = 0; i < n; i++) {
    if (score[i] > thr) chosen.push(i);
    else if (score[i] === thr && ties > 0) {
      chosen.push(i);
      ties--;
    }
  }
  chosen.sort((a, b) => score[a] - score[b]);
  const conn: Connections = {
    count: chosen.length,
    total,
    layer: new Int32Array(chosen.length),
    value: new Uint32Array(chosen.length),
    src: new Uint32Array(chosen.length),
    dst: new Uint32Array(chosen.length),
  };
  // map global candidate index -> (part, local)
  const starts: number[] = [];
  let s = 0;
  for (const p of parts) {
    starts.push(s);
    s += p.w.length;
  }
  chosen.forEach((g, j) => {
    let pi = 0;
    while (pi + 1 < parts.length && starts[pi + 1] <= g) pi++;
    const p = parts[pi];
    const local = g - starts[pi];
    const flat = p.idx ? p.idx[local] : local;
    conn.layer[j] = p.li;
    conn.value[j] = local;
    conn.dst[j] = Math.floor(flat / p.nIn);
    conn.src[j] = flat % p.nIn;
  });
  return conn;
}

export function countAbove(a: Float32Array, thr: number): number {
  let c = 0;
  for (let i = 0; i < a.length; i++) if (a[i] > thr) c++;
  return c;
}
