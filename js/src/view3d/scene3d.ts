// The 3D view: layers as slabs / channel stacks / blocks, neurons as one mesh of impostor quads,
// connections as one LineSegments whose color attribute is the only thing rewritten while
// scrubbing. Painted on demand through the page's shared WebGLRenderer (renderer.ts).
import { BoxGeometry, BufferAttribute, BufferGeometry, Color, DirectionalLight, DynamicDrawUsage, EdgesGeometry, Group, HemisphereLight, InstancedMesh, LineBasicMaterial, LineSegments, Matrix4, Mesh, MeshLambertMaterial, PerspectiveCamera, Scene, ShaderMaterial, SphereGeometry, Vector3, type Material, type Object3D } from "three";
import { OrbitControls } from "three/examples/jsm/controls/OrbitControls.js";
import { badgeHosts } from "../data/badges";
import { ColorTally, type RGB } from "../color/scales";
import { Disposer, h, listen } from "../util/dom";
import { layout3d, neuronPosition, unitPosition } from "../layout/layout3d";
import { createWheelHint, isZoomWheel } from "../util/wheel";
import { acquireRenderer, forgetFrames, type PaintTarget } from "./renderer";
import { aheadOrder, type AheadFrame } from "./ahead";
import { MapCache, buildMap, updateMaps } from "./maps";
import { makeLabels, placeLabels, updateBadges } from "./labels";
import { pick, pickedLayer, showPick } from "./pick";
import { writeColors } from "./colors";
import { fitCamera } from "./camera";
import { mapShape, mapSource } from "../data/maps";
import type { CameraState, ViewState } from "../data/types";
import type { SubView, ViewContext } from "../data/view";
import { colorNumber, parseColor } from "../styles/theme";
import { NEUTRAL_NEURON, type Built, type ConvMap, type ConvPlane, hexRGB, mix, NEURON_VERT, NEURON_FRAG, pickConnections } from "./geometry";
import { kindColor } from "../data/kinds";
import { changedAt, expandNode, hierarchyOf } from "../layout/hierarchy";

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
  const bgColor = new Color();
  scene.background = bgColor;
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
  const edgeMat = new LineBasicMaterial({ transparent: true, opacity: 0.9 });
  const selMat = new LineBasicMaterial({ depthTest: false, transparent: true });
  const hoverMat = new LineBasicMaterial({ depthTest: false, transparent: true, opacity: 0.7 });
  const frameMat = new LineBasicMaterial({ color: 0x7d9a78, transparent: true, opacity: 0.85 });
  owned.push(neuronMat, solidMat, glassMat, slabMat, lineMat, edgeMat, selMat, hoverMat, frameMat);
  const selOutline = new LineSegments(boxEdges, selMat);
  const hoverOutline = new LineSegments(boxEdges, hoverMat);
  selOutline.visible = hoverOutline.visible = false;
  selOutline.renderOrder = hoverOutline.renderOrder = 10;
  scene.add(selOutline, hoverOutline);

  // the theme's colors (ctx.theme()): background, graph edges, outlines; the surface pass-through
  // plates and conv planes are lightened toward ("paper": white on light, a mid grey on dark)
  let paper: RGB = [1, 1, 1];
  const applyTheme = () => {
    const t = ctx.theme();
    const bg = colorNumber(t.bg);
    bgColor.setHex(bg);
    target.background = bg;
    edgeMat.color.setHex(colorNumber(t.edge));
    selMat.color.setHex(colorNumber(t.accent));
    hoverMat.color.setHex(colorNumber(t.edgeHi));
    const b = parseColor(t.bg) ?? [255, 255, 255, 1];
    paper = t.dark ? [0.35 + b[0] / 510, 0.35 + b[1] / 510, 0.35 + b[2] / 510] : [1, 1, 1];
  };

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
    background: 0xffffff,
    beforePaint,
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
  // the user's camera goes to `_camera` (a linked view follows); only moves made between the
  // controls' start and end are the user's (applying a linked camera also fires "change")
  let interacting = false;
  const shareCamera = () => {
    ctx.setCamera("3d", {
      position: camera.position.toArray() as [number, number, number],
      target: controls.target.toArray() as [number, number, number],
    });
  };
  const onMove = () => {
    if (interacting) shareCamera();
  };
  const onStartShare = () => {
    interacting = true;
  };
  const onEnd = () => {
    if (interacting) shareCamera();
    interacting = false;
  };
  controls.addEventListener("start", onStartShare);
  controls.addEventListener("change", onMove);
  controls.addEventListener("end", onEnd);
  d.add(() => {
    controls.removeEventListener("start", onStartShare);
    controls.removeEventListener("change", onMove);
    controls.removeEventListener("end", onEnd);
  });
  /** Stand where a linked view's camera stands (or this view's own, kept from before). */
  const applyCamera = (c: CameraState) => {
    const cam = c["3d"];
    const ok = (v: unknown) => Array.isArray(v) && v.length === 3 && v.every(Number.isFinite);
    if (!cam || !ok(cam.position) || !ok(cam.target)) return;
    camera.position.set(...cam.position);
    controls.target.set(...cam.target);
    const dist = camera.position.distanceTo(controls.target);
    if (dist > 0) {
      camera.near = dist / 100;
      camera.far = dist * 20;
      camera.updateProjectionMatrix();
    }
    userMoved = true; // a resize keeps it
    needFit = false;
    controls.update();
    paint();
  };
  d.add(ctx.onCamera(applyCamera));

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
    // the display graph: the layers cut at the open modules (layout/hierarchy.ts)
    const hier = hierarchyOf(store.graph, ctx.state().expanded);
    const graph = hier.graph;
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
            color: mix(paper, color, shade),
          });
        }
        if (mapped.has(b.name)) mapPlanes.set(b.name, planes);
        else glass.push(...planes);
      } else if (b.style === "plate") {
        // pass-through layers: light, so they don't hide the connections crossing them
        glass.push({ box: b, center: [...b.center], size: [...b.size], color: mix(color, paper, b.kind === "reshape" ? 0.55 : 0.35) });
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
      const m = buildMap(layout.byName.get(name)!, planes, mapped.get(name)!, sources.get(name)!, frameMat);
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
    const conn = pickConnections(store, graph, layout, ctx.state().maxConnections);
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

    const labels = makeLabels(graph, layout.boxes, layout.lod === "neurons", labelLayer);

    scene.add(group);
    // a block's label carries its members' badges
    const badgeHost = badgeHosts(graph);
    for (const [l, host] of hier.hostOf) if (hier.blocks.has(host)) badgeHost.set(l, host);
    ctx.setData("nodes", graph.layers.map((l) => l.name).join("|"));
    ctx.setData("blocks", [...hier.blocks.values()].map((b) => b.label).join("|"));
    ctx.setData("expanded", ctx.state().expanded.join("|"));
    built = {
      graph, source: store.graph, hier, layout, group, neurons, neuronLayer, neuronIndex, neuronStart,
      solids: solidMesh, glass: glassMesh, slabs: slabMesh, instLayer, instBase,
      lines, conn, edges, labels, maps, badgeHost,
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

  const mapCache = new MapCache();
  d.add(store.on(() => mapCache.clear()));

  function refreshMaps(st: ViewState, live: boolean): void {
    if (!built) return;
    const showing = updateMaps(store, built.maps, st, mapCache);
    if (live) ctx.setData("maps", showing.join(","));
  }

  // ---------------------------------------------------------------------------------------------
  // Coloring (epoch / mode / selection changes rewrite colors only)

  /** Write the colors for `st` (the shown state; or, `live` false, a frame rendered ahead: the
   * page's badges and data attributes are left alone). */
  function recolor(st: ViewState = ctx.state(), live = true): void {
    if (!built) return;
    refreshMaps(st, live);
    if (live) updateBadges(store, built, st.epoch);
    const tally = live && built.lines ? new ColorTally() : null;
    writeColors(store, built, st, tally);
    if (tally) ctx.setData("connectionColors", tally.attr());
  }

  function outline(obj: LineSegments, name: string): void {
    const box = name && built ? built.layout.byName.get(built.hier.hostOf.get(name) ?? name) : undefined;
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

  /**
   * Expand / collapse: the new display graph, the camera moved with the first layer whose node
   * changed, so the block opened (or closed) stays where it was on screen and the view keeps its
   * zoom and angle ("Fit" shows the whole graph).
   */
  function rebuildInPlace(): void {
    const old = built;
    hovered = "";
    build(false);
    if (!old || !built) return;
    const at = changedAt(store.graph, old.hier, built.hier);
    const A = at && old.layout.byName.get(at.from);
    const B = at && built.layout.byName.get(at.to);
    if (A && B) {
      const dv = new Vector3(B.center[0] - A.center[0], B.center[1] - A.center[1], B.center[2] - A.center[2]);
      camera.position.add(dv);
      controls.target.add(dv);
      controls.update();
      paint();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Camera

  function fit(): void {
    if (!built) return;
    fitCamera(built.layout, camera, controls, width, height);
    paint();
  }

  d.add(listen(fitBtn, "click", () => {
    userMoved = false;
    fit();
    shareCamera();
  }));

  // ---------------------------------------------------------------------------------------------
  // Lights and labels (labels.ts), before each paint

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

  /** The boxes over the canvas (the toolbar, the breadcrumb) in canvas pixels, with a margin. */
  function reservedRects(): [number, number, number, number][] {
    const c = canvas.getBoundingClientRect();
    const out: [number, number, number, number][] = [];
    for (const e of [toolbar, el.parentElement?.querySelector(".nnviz-crumbs")]) {
      if (!(e instanceof HTMLElement) || e.style.display === "none" || !e.isConnected) continue;
      const r = e.getBoundingClientRect();
      if (r.width > 0 && r.height > 0) out.push([r.left - c.left - 4, r.top - c.top - 4, r.right - c.left + 4, r.bottom - c.top + 4]);
    }
    return out;
  }

  /** Lights follow the camera; labels are placed for this frame. */
  function beforePaint(): void {
    if (!built) return;
    camera.updateMatrixWorld();
    sun.position.copy(camera.position).sub(controls.target).normalize().add(new Vector3(0, 0.6, 0));
    lightNeurons();
    placeLabels(built.labels, camera, ctx.state().layer, hovered, width, height, reservedRects());
  }

  // ---------------------------------------------------------------------------------------------
  // Picking (pick.ts): hover tooltip, click to select

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
    const p = built ? pick(built, canvas, camera, controls.target, e.clientX, e.clientY) : null;
    showPick(ctx, built, p, e.clientX, e.clientY);
    setHovered(pickedLayer(built, p));
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
    const name = pickedLayer(built, pick(built, canvas, camera, controls.target, e.clientX, e.clientY));
    if (built.hier.blocks.has(name)) {
      ctx.hideTooltip();
      ctx.setExpanded(expandNode(built.hier, ctx.state().expanded, name));
    } else ctx.select(name);
  }));
  d.add(listen(canvas, "pointerleave", () => {
    lastMove = null;
    ctx.hideTooltip();
    setHovered("");
  }));

  // ---------------------------------------------------------------------------------------------
  // Reactions

  d.add(ctx.onState((changed) => {
    if (changed.has("expanded")) {
      rebuildInPlace();
      return;
    }
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
    const sameGraph = built && built.source === store.graph;
    build(!sameGraph || !userMoved);
  }));

  // a new host theme: new colors, same camera (the scene is rebuilt, not the view)
  d.add(ctx.onTheme(() => {
    applyTheme();
    build(false);
  }));

  applyTheme();
  build(true);
  applyCamera(ctx.camera());

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
