// The 3D view: layers as slabs / channel stacks / blocks, neurons as one mesh of impostor quads,
// connections as one LineSegments whose color attribute is the only thing rewritten while
// scrubbing. Painted on demand through the page's shared WebGLRenderer (renderer.ts).
import { BoxGeometry, BufferAttribute, BufferGeometry, Color, DataTexture, DirectionalLight, DoubleSide, DynamicDrawUsage, EdgesGeometry, Group, HemisphereLight, InstancedMesh, LineBasicMaterial, LineSegments, Matrix4, Mesh, MeshBasicMaterial, MeshLambertMaterial, NearestFilter, PerspectiveCamera, Raycaster, RGBAFormat, Scene, ShaderMaterial, SphereGeometry, UnsignedByteType, Vector2, Vector3, type Intersection, type Material, type Object3D } from "three";
import { OrbitControls } from "three/examples/jsm/controls/OrbitControls.js";
import { badgeHosts, layerBadges, type Badge } from "../data/badges";
import { ColorTally, NAN_COLOR, ZERO_COLOR, diverging, rgbKey, sequential, type RGB } from "../color/scales";
import { Disposer, h, listen } from "../util/dom";
import { layout3d, neuronPosition, unitPosition, type LayerBox } from "../layout/layout3d";
import { inkGray } from "../color/images";
import { createWheelHint, isZoomWheel } from "../util/wheel";
import { acquireRenderer, forgetFrames, type PaintTarget } from "./renderer";
import { aheadOrder, type AheadFrame } from "./ahead";
import { actScale, featureMaps, mapShape, mapSource } from "../data/maps";
import { coloring, colorMode, modeRange, modeValues, type LayerColoring } from "../color/modes";
import type { LayerInfo, ViewState } from "../data/types";
import type { SubView, TooltipRows, ViewContext } from "../data/view";
import { fmtInt, fmt, fmtShape } from "../util/format";
import { channelOf } from "../layout/common";
import { ACCENT, HOVER, EDGE_COLOR, BACKGROUND, NEUTRAL_NEURON, type Built, type LabelEl, type ConvMap, MAX_TILE, type ConvPlane, hexRGB, mix, srgbEncode, NEURON_VERT, NEURON_FRAG, pickConnections } from "./geometry";
import { kindColor, kindInfo } from "../data/kinds";

export function createScene3D(ctx: ViewContext): SubView {
  const store = ctx.store;
  const d = new Disposer();
  const el = h("div", "nnviz-scene3d");
  const canvas = h("canvas", "nnviz-canvas");
  const labelLayer = h("div", "nnviz-labels");
  const toolbar = h("div", "nnviz-toolbar");
  const fitBtn = h("button", "nnviz-btn", "Fit");
  fitBtn.type = "button";
  fitBtn.title = "Fit the model in view";
  toolbar.appendChild(fitBtn);
  const hint = h("div", "nnviz-hint", "drag: orbit · right-drag: pan · ctrl+scroll: zoom · click: select");
  el.append(canvas, labelLayer, toolbar, hint);

  const scene = new Scene();
  scene.background = new Color(BACKGROUND);
  const camera = new PerspectiveCamera(28, 1, 0.1, 5000);
  const hemi = new HemisphereLight(0xffffff, 0xc9ced8, 2.2);
  const sun = new DirectionalLight(0xffffff, 1.3);
  sun.position.set(-0.4, 1, 0.8);
  scene.add(hemi, sun);

  const handle = acquireRenderer();
  d.add(() => handle.release());
  const controls = new OrbitControls(camera, canvas);
  controls.enableDamping = false;
  controls.screenSpacePanning = true;
  controls.zoomSpeed = 0.8;
  d.add(() => controls.dispose());

  // In a notebook a plain wheel scrolls the page: the controls zoom only on ctrl/cmd + wheel (and
  // a trackpad pinch, which browsers send as ctrl + wheel); a plain wheel shows a hint instead.
  // The capture listener runs before the controls' own (on the canvas), the bubble one after.
  const wheelHint = createWheelHint(el);
  d.add(() => wheelHint.dispose());
  d.add(listen(el, "wheel", (e: WheelEvent) => {
    controls.enableZoom = isZoomWheel(e);
    if (controls.enableZoom) wheelHint.hide();
    else wheelHint.flash();
  }, { capture: true, passive: true }));
  d.add(listen(el, "wheel", () => {
    controls.enableZoom = true; // touch pinch (pointer events) keeps zooming
  }, { passive: true }));

  // shared materials / geometries (disposed at the end)
  const owned: { dispose(): void }[] = [];
  const sphere = new SphereGeometry(1, 12, 8); // neuron picking (the drawn neurons are impostors)
  const unitBox = new BoxGeometry(1, 1, 1);
  const boxEdges = new EdgesGeometry(unitBox);
  owned.push(sphere, unitBox, boxEdges);
  const neuronMat = new ShaderMaterial({
    vertexShader: NEURON_VERT,
    fragmentShader: NEURON_FRAG,
    uniforms: {
      sunDir: { value: new Vector3(0, 0, 1) },
      sunColor: { value: new Color() },
      upDir: { value: new Vector3(0, 1, 0) },
      skyColor: { value: new Color() },
      groundColor: { value: new Color() },
    },
  });
  const solidMat = new MeshLambertMaterial({ transparent: true, opacity: 0.92 });
  const glassMat = new MeshLambertMaterial({ transparent: true, opacity: 0.42, depthWrite: false });
  const slabMat = new MeshLambertMaterial({ transparent: true, opacity: 0.1, depthWrite: false });
  const lineMat = new LineBasicMaterial({ vertexColors: true, transparent: true, depthWrite: false });
  // the connection colors are sRGB-encoded per vertex (srgbEncode): no per-fragment encoding,
  // which costs a software rasterizer as much as the rest of a line's fragment
  lineMat.onBeforeCompile = (shader) => {
    shader.fragmentShader = shader.fragmentShader.replace("#include <colorspace_fragment>", "");
    // both ends of a segment have its color: flat, not interpolated per fragment (same pixels)
    shader.vertexShader = shader.vertexShader.replace("#include <color_pars_vertex>", "flat varying vec4 vColor;");
    shader.fragmentShader = shader.fragmentShader.replace("#include <color_pars_fragment>", "flat varying vec4 vColor;");
  };
  lineMat.customProgramCacheKey = () => "nnviz-connections-preencoded";
  const edgeMat = new LineBasicMaterial({ color: EDGE_COLOR, transparent: true, opacity: 0.9 });
  const selMat = new LineBasicMaterial({ color: ACCENT, depthTest: false, transparent: true });
  const hoverMat = new LineBasicMaterial({ color: HOVER, depthTest: false, transparent: true, opacity: 0.7 });
  const frameMat = new LineBasicMaterial({ color: 0x7d9a78, transparent: true, opacity: 0.85 });
  owned.push(neuronMat, solidMat, glassMat, slabMat, lineMat, edgeMat, selMat, hoverMat, frameMat);
  const selOutline = new LineSegments(boxEdges, selMat);
  const hoverOutline = new LineSegments(boxEdges, hoverMat);
  selOutline.visible = hoverOutline.visible = false;
  selOutline.renderOrder = hoverOutline.renderOrder = 10;
  scene.add(selOutline, hoverOutline);

  let built: Built | null = null;
  let width = 0;
  let height = 0;
  let frames = 0;
  let hovered = ""; // hovered layer name
  let destroyed = false;
  let needFit = true; // fit once the view has a size

  const target: PaintTarget = {
    canvas,
    width: 0,
    height: 0,
    scene,
    camera,
    background: BACKGROUND,
    beforePaint: placeLabels,
    afterPaint: () => {
      frames++;
      ctx.setData("frame", frames);
      ctx.setData("ready", 1);
    },
  };
  // Kept frames (renderer.ts): the key is the view's state version plus what scrubbing
  // changes (epoch, sample). Every other repaint (camera, hover, selection, colors, size,
  // data) starts a new version, so an old frame is never shown for a changed view.
  let version = 0;
  // the sample lights feature maps in every mode
  const frameKey = (epoch: number, sample: number) => `${version}|${epoch}|${sample}`;
  target.cacheKey = () => {
    const st = ctx.state();
    return frameKey(st.epoch, st.sample);
  };
  // Rendered ahead while idle (ahead.ts, software rasterizers): the epochs after the shown
  // one first (play, dragging on), then before it, nearest first.
  target.ahead = () => {
    const st = ctx.state();
    const snaps = store.snapshots;
    return aheadOrder(store.indexAt(st.epoch), snaps.length).map((i): AheadFrame => {
      const epoch = snaps[i].epoch;
      return { key: frameKey(epoch, st.sample), prepare: () => recolor({ ...st, epoch }, false) };
    });
  };
  target.restore = () => recolor(ctx.state(), false);
  const paint = () => {
    version++;
    if (!destroyed) handle.request(target);
  };
  /** repaint after an epoch (or sample) change only: a kept frame may serve it */
  const paintScrub = () => {
    if (!destroyed) handle.request(target);
  };
  controls.addEventListener("change", paint);
  d.add(() => controls.removeEventListener("change", paint));
  // until the user moves the camera, a resize refits the model to the new size
  let userMoved = false;
  const onStart = () => {
    userMoved = true;
  };
  controls.addEventListener("start", onStart);
  d.add(() => controls.removeEventListener("start", onStart));

  // ---------------------------------------------------------------------------------------------
  // Building

  function disposeBuilt(): void {
    if (!built) return;
    scene.remove(built.group);
    built.group.traverse((o: Object3D) => {
      const any = o as Partial<InstancedMesh & LineSegments>;
      if (any.geometry && any.geometry !== sphere && any.geometry !== unitBox && any.geometry !== boxEdges) any.geometry.dispose();
      if (o instanceof InstancedMesh) o.dispose();
    });
    for (const l of built.labels) l.el.remove();
    for (const m of built.maps) {
      m.tex.dispose();
      m.mat.dispose();
    }
    built = null;
  }

  function build(refit: boolean): void {
    disposeBuilt();
    const graph = store.graph;
    // layers with recorded feature maps get fewer, wider-spaced planes (each map visible)
    const withMaps = new Set<string>();
    const sources = new Map<string, string>();
    for (const l of graph.layers) {
      if (l.kind !== "conv" && l.kind !== "input") continue;
      const src = mapSource(store, l.name);
      if (src) {
        withMaps.add(l.name);
        sources.set(l.name, src);
      }
    }
    const layout = layout3d(graph, { mapped: withMaps });
    const group = new Group();
    const instLayer = new Map<InstancedMesh, Int32Array>();
    const instBase = new Map<InstancedMesh, RGB[]>();
    const m = new Matrix4();
    const pos = new Vector3();
    const scl = new Vector3();

    // neurons
    const neuronBoxes = layout.boxes.filter((b) => b.style === "neurons");
    const nNeurons = neuronBoxes.reduce((s, b) => s + b.grid!.count, 0);
    let neurons: Mesh | null = null;
    const neuronLayer = new Int32Array(nNeurons);
    const neuronIndex = new Uint32Array(nNeurons);
    const neuronStart = new Map<number, number>();
    if (nNeurons > 0) {
      // picking hits spheres (an instanced mesh that is never drawn)
      const spheres = new InstancedMesh(sphere, neuronMat, nNeurons);
      const center = new Float32Array(nNeurons * 12);
      const corner = new Float32Array(nNeurons * 8);
      const radius = new Float32Array(nNeurons * 4);
      const index = new Uint32Array(nNeurons * 6);
      let k = 0;
      const p: [number, number, number] = [0, 0, 0];
      for (const b of neuronBoxes) {
        neuronStart.set(b.index, k);
        const r = b.grid!.radius;
        for (let i = 0; i < b.grid!.count; i++) {
          neuronPosition(b, i, p);
          m.makeScale(r, r, r).setPosition(p[0], p[1], p[2]);
          spheres.setMatrixAt(k, m);
          for (let v = 0; v < 4; v++) {
            center.set(p, 12 * k + 3 * v);
            corner[8 * k + 2 * v] = v === 1 || v === 2 ? 1 : -1;
            corner[8 * k + 2 * v + 1] = v >= 2 ? 1 : -1;
            radius[4 * k + v] = r;
          }
          index.set([4 * k, 4 * k + 1, 4 * k + 2, 4 * k, 4 * k + 2, 4 * k + 3], 6 * k);
          neuronLayer[k] = b.index;
          neuronIndex[k] = i;
          k++;
        }
      }
      const colors = new Float32Array(nNeurons * 12);
      for (let i = 0; i < nNeurons * 4; i++) colors.set(NEUTRAL_NEURON, 3 * i);
      const g = new BufferGeometry();
      g.setAttribute("position", new BufferAttribute(center, 3));
      g.setAttribute("corner", new BufferAttribute(corner, 2));
      g.setAttribute("radius", new BufferAttribute(radius, 1));
      g.setAttribute("ncolor", new BufferAttribute(colors, 3).setUsage(DynamicDrawUsage));
      g.setIndex(new BufferAttribute(index, 1));
      g.computeBoundingSphere();
      g.boundingSphere!.radius += neuronBoxes.reduce((a, b) => Math.max(a, b.grid!.radius), 0);
      spheres.computeBoundingSphere();
      neurons = new Mesh(g, neuronMat);
      neurons.name = "neurons";
      const drawn = neurons;
      drawn.raycast = (rc, hits) => {
        spheres.matrixWorld.copy(drawn.matrixWorld);
        spheres.raycast(rc, hits);
      };
      group.add(neurons);
    }

    // boxes: one instanced mesh per material
    type Inst = ConvPlane;
    const solids: Inst[] = [];
    const glass: Inst[] = [];
    const slabs: Inst[] = [];
    const mapped = new Map<string, [number, number, number]>();
    for (const b of layout.boxes) {
      const src = b.style === "planes" ? sources.get(b.name) : undefined;
      const ms = src ? mapShape(store, src) : null;
      if (ms) mapped.set(b.name, ms);
    }
    const mapPlanes = new Map<string, Inst[]>();
    for (const b of layout.boxes) {
      const color = hexRGB(kindColor(graph, b.kind));
      if (b.style === "neurons") {
        slabs.push({ box: b, center: [...b.center], size: [0.08, b.size[1], b.size[2]], color });
      } else if (b.style === "planes") {
        const p = b.planes!;
        const x0 = b.center[0] - (b.dir * (b.size[0] - p.thickness)) / 2;
        const planes: Inst[] = [];
        for (let i = 0; i < p.drawn; i++) {
          const shade = 0.85 + 0.15 * (i % 2);
          planes.push({
            box: b,
            center: [x0 + b.dir * i * p.pitch, b.center[1], b.center[2]],
            size: [p.thickness, b.size[1], b.size[2]],
            color: mix([1, 1, 1], color, shade),
          });
        }
        if (mapped.has(b.name)) mapPlanes.set(b.name, planes);
        else glass.push(...planes);
      } else if (b.style === "plate") {
        // pass-through layers: light, so they don't hide the connections crossing them
        glass.push({ box: b, center: [...b.center], size: [...b.size], color: mix(color, [1, 1, 1], b.kind === "reshape" ? 0.55 : 0.35) });
      } else {
        solids.push({ box: b, center: [...b.center], size: [...b.size], color });
      }
    }
    const makeInst = (items: Inst[], mat: Material, name: string): InstancedMesh | null => {
      if (!items.length) return null;
      const mesh = new InstancedMesh(unitBox, mat, items.length);
      mesh.name = name;
      const layers = new Int32Array(items.length);
      const base: RGB[] = [];
      const c = new Color();
      items.forEach((it, i) => {
        pos.set(...it.center);
        scl.set(...it.size);
        m.makeScale(scl.x, scl.y, scl.z).setPosition(pos);
        mesh.setMatrixAt(i, m);
        mesh.setColorAt(i, c.setRGB(...it.color));
        layers[i] = it.box.index;
        base.push(it.color);
      });
      mesh.instanceColor!.setUsage(DynamicDrawUsage);
      mesh.computeBoundingSphere();
      instLayer.set(mesh, layers);
      instBase.set(mesh, base);
      group.add(mesh);
      return mesh;
    };
    const slabMesh = makeInst(slabs, slabMat, "slabs");
    const glassMesh = makeInst(glass, glassMat, "glass");
    const solidMesh = makeInst(solids, solidMat, "solids");
    if (slabMesh) slabMesh.renderOrder = 1;
    if (glassMesh) glassMesh.renderOrder = 3;
    const maps: ConvMap[] = [];
    for (const [name, planes] of mapPlanes) {
      const m = buildMap(layout.byName.get(name)!, planes, mapped.get(name)!, sources.get(name)!);
      group.add(m.mesh);
      maps.push(m);
    }

    // graph edges (layer to layer), as polylines
    let edges: LineSegments | null = null;
    const segs: number[] = [];
    for (const e of layout.edges) {
      for (let i = 0; i + 1 < e.points.length; i++) segs.push(...e.points[i], ...e.points[i + 1]);
    }
    if (segs.length) {
      const g = new BufferGeometry();
      g.setAttribute("position", new BufferAttribute(new Float32Array(segs), 3));
      edges = new LineSegments(g, edgeMat);
      edges.name = "edges";
      group.add(edges);
    }

    // connections
    const conn = pickConnections(store, layout, ctx.state().maxConnections);
    let lines: LineSegments | null = null;
    if (conn.count > 0) {
      const positions = new Float32Array(conn.count * 6);
      const a: [number, number, number] = [0, 0, 0];
      const b: [number, number, number] = [0, 0, 0];
      for (let j = 0; j < conn.count; j++) {
        const D = layout.boxes[conn.layer[j]];
        const S = layout.byName.get(graph.neuron_source[D.name])!;
        unitPosition(S, conn.src[j], a);
        neuronPosition(D, conn.dst[j], b);
        positions.set(a, 6 * j);
        positions.set(b, 6 * j + 3);
      }
      const g = new BufferGeometry();
      g.setAttribute("position", new BufferAttribute(positions, 3));
      const colors = new BufferAttribute(new Float32Array(conn.count * 8), 4);
      colors.setUsage(DynamicDrawUsage);
      g.setAttribute("color", colors);
      g.computeBoundingSphere();
      lines = new LineSegments(g, lineMat);
      lines.name = "connections";
      lines.renderOrder = 2;
      group.add(lines);
    }
    ctx.setData("connectionsDrawn", conn.count);
    ctx.setData("connectionsTotal", conn.total);
    ctx.setData("lod", layout.lod);

    // labels
    const labels: LabelEl[] = layout.boxes.map((box) => {
      const info = graph.layers[box.index];
      const lab = h("div", "nnviz-label");
      lab.appendChild(h("span", "nnviz-label-name", info.name));
      const sub = labelSub(info, box);
      if (sub && layout.lod === "neurons") lab.appendChild(h("span", "nnviz-label-sub", sub));
      const badges = h("div", "nnviz-label-badges");
      badges.style.display = "none";
      lab.appendChild(badges);
      lab.style.display = "none";
      lab.dataset.layer = info.name;
      labelLayer.appendChild(lab);
      return { box, el: lab, badges, badgeKey: "", w: 0, h: 0 };
    });

    scene.add(group);
    built = {
      graph, layout, group, neurons, neuronLayer, neuronIndex, neuronStart,
      solids: solidMesh, glass: glassMesh, slabs: slabMesh, instLayer, instBase,
      lines, conn, edges, labels, maps, badgeHost: badgeHosts(graph),
    };
    recolor();
    updateSelection();
    if (refit) needFit = true;
    if (needFit && width > 0 && height > 0) {
      needFit = false;
      fit();
    }
    paint();
  }

  /** The textured channel planes of one layer (geometry once; the atlas is rewritten on change). */
  function buildMap(box: LayerBox, planes: ConvPlane[], shape: [number, number, number], source: string): ConvMap {
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

  function fillBase(m: ConvMap): void {
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

  const scaleCache = new Map<string, { signed: boolean; lo: number; abs: number }>();
  d.add(store.on(() => scaleCache.clear()));
  let arrayIds = new WeakMap<ArrayBufferLike, number>();
  let nextArrayId = 1;
  const arrayId = (a: Float32Array) => {
    let id = arrayIds.get(a.buffer);
    if (id === undefined) arrayIds.set(a.buffer, (id = nextArrayId++));
    return `${id}:${a.byteOffset}`;
  };
  d.add(store.on(() => {
    arrayIds = new WeakMap();
  }));

  /** Rewrite the atlases whose maps changed (epoch, sample): one texture upload per such layer. */
  function updateMaps(st: ViewState, live = true): void {
    if (!built) return;
    const rgb: RGB = [0, 0, 0];
    const showing: string[] = [];
    for (const m of built.maps) {
      const values = featureMaps(store, m.source, st.epoch, st.sample);
      const need = m.channels * m.mh * m.mw;
      if (!values || values.length < need) {
        if (m.key !== "base") fillBase(m);
        continue;
      }
      showing.push(m.name);
      const key = arrayId(values);
      if (key === m.key) continue;
      let sc = scaleCache.get(m.name);
      if (!sc) scaleCache.set(m.name, (sc = actScale(store, m.source)));
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
    if (live) ctx.setData("maps", showing.join(","));
  }

  /** Health tags on the labels (text only changes when the flags do: cheap while scrubbing). */
  function updateBadges(st: ViewState): void {
    if (!built) return;
    const byHost = new Map<string, Badge[]>();
    for (const b of layerBadges(store, st.epoch)) {
      const host = built.badgeHost.get(b.layer) ?? b.layer;
      const list = byHost.get(host);
      if (list) list.push(b);
      else byHost.set(host, [b]);
    }
    for (const l of built.labels) {
      const list = byHost.get(l.box.name) ?? [];
      const key = list.map((b) => `${b.layer}:${b.text}`).join("|");
      if (key === l.badgeKey) continue;
      l.badgeKey = key;
      l.badges.replaceChildren();
      for (const b of list) {
        const tag = h("span", `nnviz-badge nnviz-badge-${b.badge}`, b.text);
        tag.style.background = b.bg;
        tag.style.color = b.fg;
        tag.title = b.title;
        l.badges.appendChild(tag);
      }
      l.badges.style.display = list.length ? "" : "none";
      l.el.dataset.badges = list.map((b) => `${b.layer}:${b.badge}`).join(",");
      l.w = 0; // measure again
    }
  }

  function labelSub(info: LayerInfo, box: LayerBox): string {
    if (box.planes) {
      const p = box.planes;
      const s = info.output_shape.filter((x) => x !== null).join("×");
      return p.drawn < p.total ? `${s} · ${p.drawn} of ${p.total} ch shown` : s;
    }
    if (box.grid) return `${info.kind} · ${fmtInt(box.grid.count)}`;
    if (kindInfo(store.graph, info.kind).pass_through) return info.op;
    return info.op || info.kind;
  }

  // ---------------------------------------------------------------------------------------------
  // Coloring (epoch / mode / selection changes rewrite colors only)

  /** Write the colors for `st` (the shown state; or, `live` false, a frame rendered ahead: the
   * page's badges and data attributes are left alone). */
  function recolor(st: ViewState = ctx.state(), live = true): void {
    if (!built) return;
    updateMaps(st, live);
    if (live) updateBadges(st);
    const { graph, layout } = built;
    const selIdx = st.layer ? layout.byName.get(st.layer)?.index ?? -1 : -1;
    const c = new Color();
    const rgb: RGB = [0, 0, 0];

    // neurons: bias (or its delta / gradient) on the diverging scale
    if (built.neurons) {
      const attr = built.neurons.geometry.getAttribute("ncolor") as BufferAttribute;
      const out = attr.array as Float32Array;
      for (const [li, start] of built.neuronStart) {
        const box = layout.boxes[li];
        const name = graph.layers[li].name;
        const vals = modeValues(store, name, st.epoch, st, "neurons");
        const range = vals ? modeRange(store, name, st, "neurons") : 0;
        const n = box.grid!.count;
        const base = box.kind === "input" ? NEUTRAL_NEURON : mix(NEUTRAL_NEURON, hexRGB(kindColor(graph, box.kind)), 0.35);
        // the input layer in "activation" mode shows the probe image itself: dark ink on paper
        const image = st.colorBy === "activation" && box.kind === "input" && vals !== null;
        let lo = 0, span = 1;
        if (image) {
          let a = Infinity, b = -Infinity;
          for (let i = 0; i < vals!.length; i++) {
            const v = vals![i];
            if (Number.isFinite(v)) { if (v < a) a = v; if (v > b) b = v; }
          }
          lo = Number.isFinite(a) ? a : 0;
          span = b > a ? b - a : 1;
        }
        // a dense layer applied per token has n = tokens x features neurons and one bias per feature
        const tiled = vals && st.colorBy !== "activation" ? channelOf(graph.layers[li], n, vals.length, graph.data_format) : null;
        for (let i = 0; i < n; i++) {
          if (vals && (tiled || i < vals.length)) {
            if (image) {
              const v = vals[i];
              if (!Number.isFinite(v)) { rgb[0] = NAN_COLOR[0]; rgb[1] = NAN_COLOR[1]; rgb[2] = NAN_COLOR[2]; }
              else rgb[0] = rgb[1] = rgb[2] = 0.96 - 0.9 * Math.min(1, Math.max(0, (v - lo) / span));
            } else diverging(vals[tiled ? tiled(i) : i], range, rgb);
          } else { rgb[0] = base[0]; rgb[1] = base[1]; rgb[2] = base[2]; }
          const o = 12 * (start + i);
          for (let v = 0; v < 12; v += 3) {
            out[o + v] = rgb[0]; out[o + v + 1] = rgb[1]; out[o + v + 2] = rgb[2];
          }
        }
      }
      attr.needsUpdate = true;
    }

    // boxes: kind colors; in delta / gradient modes tinted by how much the layer moves
    for (const [mesh, layers] of built.instLayer) {
      const base = built.instBase.get(mesh)!;
      const tintCache = new Map<number, RGB | null>();
      for (let i = 0; i < layers.length; i++) {
        const li = layers[i];
        let tint = tintCache.get(li);
        if (tint === undefined) {
          tint = st.colorBy === "weight" ? null : layerTint(graph.layers[li].name, st);
          tintCache.set(li, tint);
        }
        const col = tint ?? base[i];
        mesh.setColorAt(i, c.setRGB(col[0], col[1], col[2]));
      }
      mesh.instanceColor!.needsUpdate = true;
    }

    // connections
    if (built.lines) {
      const conn = built.conn;
      const attr = built.lines.geometry.getAttribute("color") as BufferAttribute;
      const out = attr.array as Float32Array;
      const per = new Map<number, LayerColoring>();
      const tally = live ? new ColorTally() : null;
      for (let j = 0; j < conn.count; j++) {
        const li = conn.layer[j];
        let col = per.get(li);
        if (!col) {
          col = coloring(store, graph.layers[li].name, st.epoch, st);
          per.set(li, col);
        }
        let alpha: number;
        if (col.kind === "values") {
          const v = col.values[conn.value[j]];
          diverging(v, col.range, rgb);
          if (!Number.isFinite(v)) alpha = 1;
          else {
            const t = col.range > 0 ? Math.min(1, Math.abs(v) / col.range) : 0;
            alpha = 0.08 + 0.8 * Math.sqrt(t);
          }
        } else if (col.kind === "scalar") {
          sequential(col.value, col.max, rgb);
          alpha = 0.35;
        } else {
          rgb[0] = ZERO_COLOR[0] * 0.8; rgb[1] = ZERO_COLOR[1] * 0.8; rgb[2] = ZERO_COLOR[2] * 0.8;
          alpha = 0.2;
        }
        if (selIdx >= 0) alpha = li === selIdx ? Math.min(1, alpha * 1.3 + 0.1) : alpha * 0.18;
        tally?.add(graph.layers[li].name, rgbKey(rgb));
        const o = 8 * j;
        out[o] = out[o + 4] = srgbEncode(rgb[0]);
        out[o + 1] = out[o + 5] = srgbEncode(rgb[1]);
        out[o + 2] = out[o + 6] = srgbEncode(rgb[2]);
        out[o + 3] = out[o + 7] = alpha;
      }
      if (tally) ctx.setData("connectionColors", tally.attr());
      attr.needsUpdate = true;
    }
  }

  /** A layer's color in delta / gradient modes: sequential by the RMS of its values, or its scalar. */
  function layerTint(name: string, st: ViewState): RGB | null {
    const col = coloring(store, name, st.epoch, st);
    if (col.kind === "scalar") return sequential(col.value, col.max);
    if (col.kind === "values") {
      const v = col.values;
      let s = 0, n = 0, bad = 0;
      for (let i = 0; i < v.length; i++) {
        if (Number.isFinite(v[i])) { s += v[i] * v[i]; n++; } else bad++;
      }
      if (bad) return [...NAN_COLOR] as RGB;
      const rms = n ? Math.sqrt(s / n) : 0;
      return sequential(rms, col.range * 0.5);
    }
    return null;
  }

  function outline(obj: LineSegments, name: string): void {
    const box = name && built ? built.layout.byName.get(name) : undefined;
    if (!box) {
      obj.visible = false;
      return;
    }
    const pad = box.style === "neurons" ? 0.3 : 0.25;
    obj.position.set(...box.center);
    obj.scale.set(box.size[0] + pad * 2, box.size[1] + pad, box.size[2] + pad);
    obj.visible = true;
  }

  function updateSelection(): void {
    const sel = ctx.state().layer;
    outline(selOutline, sel);
    outline(hoverOutline, hovered && hovered !== sel ? hovered : "");
  }

  // ---------------------------------------------------------------------------------------------
  // Camera

  function fit(): void {
    if (!built) return;
    const { min, max, rows } = built.layout;
    const center = new Vector3((min[0] + max[0]) / 2, (min[1] + max[1]) / 2, (min[2] + max[2]) / 2);
    const dir = rows > 1 ? new Vector3(0.15, 1.0, 0.75).normalize() : new Vector3(-0.62, 0.42, 1.0).normalize();
    // fit the layers' own corners (the global box's corners are far emptier than the content)
    const corners: Vector3[] = [];
    for (const b of built.layout.boxes) {
      for (let i = 0; i < 8; i++) {
        corners.push(new Vector3(
          b.center[0] + (i & 1 ? 0.5 : -0.5) * b.size[0],
          b.center[1] + (i & 2 ? 0.5 : -0.5) * b.size[1] + (i & 2 ? 1.6 : 0), // room for the label
          b.center[2] + (i & 4 ? 0.5 : -0.5) * b.size[2],
        ));
      }
    }
    if (!corners.length) corners.push(new Vector3(...min), new Vector3(...max));
    const radius = corners.reduce((r, c) => Math.max(r, c.distanceTo(center)), 1);
    camera.aspect = width > 0 && height > 0 ? width / height : 1.6;
    let dist = radius / Math.sin((camera.fov * Math.PI) / 360);
    // tighten: scale the distance until the box's projection fills ~90% of the view
    // iterate: centre the projected content, then scale the distance so it fills ~88% of the view
    for (let it = 0; it < 10; it++) {
      camera.position.copy(center).addScaledVector(dir, dist);
      camera.near = dist / 100;
      camera.far = dist * 20;
      camera.lookAt(center);
      camera.updateProjectionMatrix();
      camera.updateMatrixWorld();
      let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
      for (const c of corners) {
        const p = c.clone().project(camera);
        x0 = Math.min(x0, p.x); x1 = Math.max(x1, p.x); y0 = Math.min(y0, p.y); y1 = Math.max(y1, p.y);
      }
      const ext = Math.max((x1 - x0) / 2, (y1 - y0) / 2);
      if (!Number.isFinite(ext) || ext <= 0) break;
      const mid = new Vector3((x0 + x1) / 2, (y0 + y1) / 2, center.clone().project(camera).z).unproject(camera);
      center.copy(mid);
      if (Math.abs(ext - 0.88) < 0.01 && Math.abs(x0 + x1) < 0.02 && Math.abs(y0 + y1) < 0.02) break;
      dist *= Math.min(2, Math.max(0.3, ext / 0.88));
    }
    camera.position.copy(center).addScaledVector(dir, dist);
    camera.lookAt(center);
    camera.updateMatrixWorld();
    controls.target.copy(center);
    controls.minDistance = radius * 0.05;
    controls.maxDistance = radius * 12;
    controls.update();
    paint();
  }

  d.add(listen(fitBtn, "click", () => {
    userMoved = false;
    fit();
  }));

  // ---------------------------------------------------------------------------------------------
  // Labels in screen space (HTML, textContent), greedy overlap removal by priority.

  /** The impostor neurons' light uniforms, in view space as three's own lights. */
  function lightNeurons(): void {
    const u = neuronMat.uniforms;
    camera.updateMatrixWorld();
    (u.sunDir.value as Vector3).copy(sun.position).sub(sun.target.position).normalize().transformDirection(camera.matrixWorldInverse);
    (u.upDir.value as Vector3).copy(hemi.position).normalize().transformDirection(camera.matrixWorldInverse);
    (u.sunColor.value as Color).copy(sun.color).multiplyScalar(sun.intensity);
    (u.skyColor.value as Color).copy(hemi.color).multiplyScalar(hemi.intensity);
    (u.groundColor.value as Color).copy(hemi.groundColor).multiplyScalar(hemi.intensity);
  }

  const v3 = new Vector3();
  function placeLabels(): void {
    if (!built) return;
    camera.updateMatrixWorld();
    sun.position.copy(camera.position).sub(controls.target).normalize().add(new Vector3(0, 0.6, 0));
    lightNeurons();
    const sel = ctx.state().layer;
    const many = built.labels.length > 30;
    // selected > hovered > computing layers > input > pass-through / output (label_tier of the kind);
    // a label carrying health badges goes first within its tier
    const cands = built.labels
      .filter((l) => !many || l.box.name === sel || l.box.name === hovered || l.box.weight >= 20 || l.badgeKey !== "")
      .map((l) => ({
        l,
        pri: (l.box.name === sel ? 1e6 : 0) + (l.box.name === hovered ? 5e5 : 0) + l.box.weight + (l.badgeKey ? 9 : 0),
      }))
      .sort((a, b) => b.pri - a.pri);
    const placed: [number, number, number, number][] = [];
    const shown = new Set<LabelEl>();
    for (const { l } of cands) {
      const b = l.box;
      v3.set(b.center[0], b.center[1] + b.size[1] / 2 + 0.6, b.center[2]).project(camera);
      if (v3.z > 1 || v3.z < -1) continue;
      const x = (v3.x * 0.5 + 0.5) * width;
      const y = (-v3.y * 0.5 + 0.5) * height;
      if (x < -50 || x > width + 50 || y < -20 || y > height + 20) continue;
      if (!l.w) {
        l.el.style.display = "";
        l.w = l.el.offsetWidth || 60;
        l.h = l.el.offsetHeight || 16;
      }
      const r: [number, number, number, number] = [x - l.w / 2, y - l.h, x + l.w / 2, y];
      const forced = b.name === sel || b.name === hovered;
      if (!forced && placed.some((p) => r[0] < p[2] && r[2] > p[0] && r[1] < p[3] && r[3] > p[1])) continue;
      placed.push(r);
      shown.add(l);
      l.el.style.transform = `translate(${Math.round(r[0])}px, ${Math.round(r[1])}px)`;
      l.el.classList.toggle("nnviz-label-selected", b.name === sel);
    }
    for (const l of built.labels) l.el.style.display = shown.has(l) ? "" : "none";
  }

  // ---------------------------------------------------------------------------------------------
  // Picking: hover tooltip, click to select

  const raycaster = new Raycaster();
  const ndc = new Vector2();
  type Pick =
    | { kind: "neuron"; layer: number; neuron: number }
    | { kind: "box"; layer: number; channel?: number }
    | { kind: "conn"; seg: number }
    | null;

  function pick(clientX: number, clientY: number): Pick {
    if (!built) return null;
    const rect = canvas.getBoundingClientRect();
    if (rect.width <= 0 || rect.height <= 0) return null;
    ndc.set(((clientX - rect.left) / rect.width) * 2 - 1, -((clientY - rect.top) / rect.height) * 2 + 1);
    camera.updateMatrixWorld();
    raycaster.setFromCamera(ndc, camera);
    const dist = camera.position.distanceTo(controls.target);
    raycaster.params.Line = { threshold: Math.max(0.02, dist * 0.0035) };
    if (built.neurons) {
      const hit = raycaster.intersectObject(built.neurons, false)[0];
      if (hit && hit.instanceId !== undefined) {
        return { kind: "neuron", layer: built.neuronLayer[hit.instanceId], neuron: built.neuronIndex[hit.instanceId] };
      }
    }
    // nearest box; transparent ones (slabs, plates, channel planes) lose to lines in front of them
    let solidHit: Intersection | null = null;
    let boxHit: Intersection | null = null;
    let boxPick: Pick = null;
    for (const mesh of [built.solids, built.glass, built.slabs]) {
      if (!mesh) continue;
      const hit = raycaster.intersectObject(mesh, false)[0];
      if (!hit || hit.instanceId === undefined) continue;
      if (mesh === built.solids) solidHit = hit;
      if (!boxHit || hit.distance < boxHit.distance) {
        boxHit = hit;
        boxPick = { kind: "box", layer: built.instLayer.get(mesh)![hit.instanceId] };
      }
    }
    // textured channel planes are opaque: they hide the lines behind them
    for (const m of built.maps) {
      const hit = raycaster.intersectObject(m.mesh, false)[0];
      if (!hit) continue;
      if (!solidHit || hit.distance < solidHit.distance) solidHit = hit;
      if (!boxHit || hit.distance < boxHit.distance) {
        boxHit = hit;
        boxPick = { kind: "box", layer: m.box.index, channel: hit.faceIndex !== undefined && hit.faceIndex !== null ? Math.floor(hit.faceIndex / 2) : undefined };
      }
    }
    if (built.lines) {
      const hits = raycaster.intersectObject(built.lines, false);
      // prefer the strongest (drawn last) of the segments under the pointer
      let seg = -1;
      let segDist = Infinity;
      for (const hit of hits) {
        const s = hit.index !== undefined ? Math.floor(hit.index / 2) : -1;
        if (s > seg) {
          seg = s;
          segDist = hit.distance;
        }
      }
      if (seg >= 0 && (!solidHit || segDist < solidHit.distance)) return { kind: "conn", seg };
    }
    return boxPick;
  }

  function layerRows(info: LayerInfo, box: LayerBox | undefined): TooltipRows {
    const rows: TooltipRows = [
      ["kind", info.op && info.op !== info.kind ? `${info.kind} (${info.op})` : info.kind],
      ["output", fmtShape(info.output_shape)],
      ["params", fmtInt(info.params)],
    ];
    if (box?.planes && box.planes.drawn < box.planes.total) rows.push(["channels", `${box.planes.total} (${box.planes.drawn} drawn)`]);
    const st = store.at(ctx.state().epoch)?.stats[info.name];
    if (st) {
      rows.push(["|W|", fmt(st.norm)]);
      if (st.grad_norm !== null && st.grad_norm !== undefined) rows.push(["|grad|", fmt(st.grad_norm)]);
      if (st.update_ratio !== null && st.update_ratio !== undefined) rows.push(["update", fmt(st.update_ratio)]);
      if (st.nonfinite) rows.push(["NaN/Inf", fmtInt(st.nonfinite)]);
    }
    return rows;
  }

  function showPick(p: Pick, x: number, y: number): void {
    if (!built || !p) {
      ctx.hideTooltip();
      return;
    }
    const st = ctx.state();
    const graph = built.graph;
    if (p.kind === "conn") {
      const conn = built.conn;
      const li = conn.layer[p.seg];
      const name = graph.layers[li].name;
      const vi = conn.value[p.seg];
      const w = store.weight(name, st.epoch)?.[vi];
      const rows: TooltipRows = [["weight", fmt(w)]];
      if (st.colorBy !== "weight") {
        const v = modeValues(store, name, st.epoch, st)?.[vi];
        if (v !== undefined) rows.push([colorMode(st.colorBy)?.label(st, "connections") ?? st.colorBy, fmt(v)]);
      }
      rows.push(["from", graph.neuron_source[name] ?? "?"]);
      const label = store.at(st.epoch)?.label;
      if (label) rows.push(["epoch", label]);
      ctx.showTooltip(x, y, `${name}: in ${conn.src[p.seg]} → out ${conn.dst[p.seg]}, w = ${fmt(w)}`, rows);
      return;
    }
    const info = graph.layers[p.layer];
    const box = built.layout.boxes[p.layer];
    const rows = layerRows(info, box);
    if (p.kind === "box" && p.channel !== undefined) {
      rows.unshift(["channel", String(p.channel)]);
      const m = built.maps.find((q) => q.box === box);
      const v = m?.showing ? featureMaps(store, m.source, st.epoch, st.sample) : null;
      if (m && v) {
        if (m.source !== info.name) rows.splice(1, 0, ["maps", `after ${m.source}`]);
        const per = m.mh * m.mw;
        let sum = 0, n = 0;
        for (let i = p.channel * per; i < (p.channel + 1) * per && i < v.length; i++) if (Number.isFinite(v[i])) { sum += v[i]; n++; }
        rows.splice(1, 0, ["mean act.", `${fmt(n ? sum / n : NaN)} (sample ${st.sample})`]);
      }
    }
    for (const b of layerBadges(store, st.epoch)) {
      if ((built.badgeHost.get(b.layer) ?? b.layer) === info.name) rows.push(["health", b.title]);
    }
    if (p.kind === "neuron") {
      rows.unshift(["neuron", String(p.neuron)]);
      if (box.grid && box.kind === "input" && box.grid.rows > 1) {
        rows.splice(1, 0, ["pixel", `row ${Math.floor(p.neuron / box.grid.cols)}, col ${p.neuron % box.grid.cols}`]);
      }
      const vals = modeValues(store, info.name, st.epoch, st, "neurons");
      if (vals && p.neuron < vals.length) rows.splice(1, 0, [colorMode(st.colorBy)?.label(st, "neurons") ?? st.colorBy, fmt(vals[p.neuron])]);
    }
    ctx.showTooltip(x, y, info.name, rows);
  }

  let moveFrame = 0;
  let lastMove: PointerEvent | null = null;
  let dragging = false;
  let down: { x: number; y: number } | null = null;

  function setHovered(name: string): void {
    if (name === hovered) return;
    hovered = name;
    updateSelection();
    paint();
  }

  function onMoveFrame(): void {
    moveFrame = 0;
    const e = lastMove;
    if (!e || dragging || destroyed) return;
    const p = pick(e.clientX, e.clientY);
    showPick(p, e.clientX, e.clientY);
    const name = !p || !built ? "" : p.kind === "conn" ? built.graph.layers[built.conn.layer[p.seg]].name : built.graph.layers[p.layer].name;
    setHovered(name);
    canvas.style.cursor = p ? "pointer" : "grab";
  }

  d.add(listen(canvas, "pointermove", (e: PointerEvent) => {
    lastMove = e;
    if (down && Math.hypot(e.clientX - down.x, e.clientY - down.y) > 4) {
      dragging = true;
      ctx.hideTooltip();
    }
    if (!moveFrame) moveFrame = requestAnimationFrame(onMoveFrame);
  }));
  d.add(() => { if (moveFrame) cancelAnimationFrame(moveFrame); });
  d.add(listen(canvas, "pointerdown", (e: PointerEvent) => {
    down = { x: e.clientX, y: e.clientY };
    dragging = false;
  }));
  d.add(listen(canvas, "pointerup", (e: PointerEvent) => {
    const wasClick = down && !dragging && Math.hypot(e.clientX - down.x, e.clientY - down.y) <= 4;
    down = null;
    dragging = false;
    if (!wasClick || e.button !== 0 || !built) return;
    const p = pick(e.clientX, e.clientY);
    if (!p) ctx.select("");
    else if (p.kind === "conn") ctx.select(built.graph.layers[built.conn.layer[p.seg]].name);
    else ctx.select(built.graph.layers[p.layer].name);
  }));
  d.add(listen(canvas, "pointerleave", () => {
    lastMove = null;
    ctx.hideTooltip();
    setHovered("");
  }));

  // ---------------------------------------------------------------------------------------------
  // Reactions

  d.add(ctx.onState((changed) => {
    if (changed.has("maxConnections")) {
      build(false);
      return;
    }
    if (changed.has("epoch") || changed.has("colorBy") || changed.has("deltaRef") || changed.has("layer") || changed.has("sample")) {
      recolor();
      if (changed.has("layer")) updateSelection();
      const scrubOnly = [...changed].every((k) => k === "epoch" || k === "sample");
      if (scrubOnly) paintScrub();
      else paint();
    }
  }));
  d.add(store.on(() => {
    const sameGraph = built && built.graph === store.graph;
    build(!sameGraph || !userMoved);
  }));

  build(true);

  return {
    el,
    resize(w: number, hgt: number) {
      width = Math.max(0, Math.floor(w));
      height = Math.max(0, Math.floor(hgt));
      target.width = width;
      target.height = height;
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
      if (width > 0 && height > 0) {
        camera.aspect = width / height;
        camera.updateProjectionMatrix();
        if ((needFit || !userMoved) && built) {
          needFit = false;
          fit();
        }
      }
      paint();
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      forgetFrames(target);
      d.run();
      disposeBuilt();
      scene.remove(selOutline, hoverOutline);
      for (const o of owned) o.dispose();
      el.remove();
    },
  };
}
