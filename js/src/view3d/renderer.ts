// One offscreen WebGLRenderer shared by every 3D view on the page. Browsers allow ~16 WebGL
// contexts; a notebook may hold many more widgets. Each view owns a visible 2D canvas: to paint,
// the shared renderer draws the view's scene into the bottom-left corner of its (grow-only)
// drawing buffer, and the view copies that region with drawImage. Painting is on demand,
// batched per animation frame. The renderer is reference-counted and re-created after a
// context loss.
import { Color, WebGLRenderer, type Camera, type Scene } from "three";
import { createAhead, fitsAhead, nextFrame, type AheadFrame } from "./ahead";

/** What a view hands the shared renderer to be painted. */
export interface PaintTarget {
  /** The view's visible canvas (2D context). */
  canvas: HTMLCanvasElement;
  /** CSS size of the canvas; zero means hidden: nothing is painted. */
  width: number;
  height: number;
  scene: Scene;
  camera: Camera;
  background?: number;
  /** called right before rendering (update matrices, labels) */
  beforePaint?(): void;
  /** called after the frame is on the visible canvas */
  afterPaint?(): void;
  /**
   * What the frame shows, as a key: frames that took long to render (a software rasterizer)
   * are kept under it and shown again when the key comes back (scrubbing back and forth over
   * epochs). Null: don't keep. The view must change the key whenever anything but the
   * keyed parts (epoch, sample) changes what is drawn.
   */
  cacheKey?(): string | null;
  /**
   * Frames worth rendering ahead while the page is idle, nearest first (the epochs around
   * the shown one), each with its cache key and a `prepare()` that sets the scene to it.
   * Only asked where frames are kept (a software rasterizer; ahead.ts). `restore()` puts the
   * scene back to what the view shows.
   */
  ahead?(): AheadFrame[];
  restore?(): void;
}

export interface RendererHandle {
  /** Paint this target on the next animation frame (several requests coalesce). */
  request(target: PaintTarget): void;
  /** Paint now (synchronously); returns false when nothing could be painted. */
  paintNow(target: PaintTarget): boolean;
  /** The three.js renderer (for info.memory in tests); null until the first paint. */
  renderer(): WebGLRenderer | null;
  release(): void;
}

interface DebugInfo {
  /** live shared renderers (1 while any 3D view exists) */
  renderers: number;
  /** WebGLRenderers ever created (context losses create new ones; a software rasterizer one more) */
  created: number;
  /** antialiasing was dropped for a software rasterizer */
  software: boolean;
  handles: number;
  memory(): { geometries: number; textures: number } | null;
  paints: number;
  /** paints served from kept frames */
  keptHits?: number;
  /** bytes of kept frames */
  keptBytes(): number;
  /** frames rendered ahead while idle, and the switch for it (benches time both ways) */
  aheadFrames?: number;
  ahead: boolean;
  /** simulate a lost WebGL context (tests) */
  loseContext(): void;
}

declare global {
  interface Window {
    __nnvizRendererCount?: number;
    __nnviz?: DebugInfo;
  }
}

let shared: WebGLRenderer | null = null;
let lost = false;
let refs = 0;
let created = 0;
let paints = 0;
let bufW = 0;
let bufH = 0;
/** set once a software rasterizer was detected: later renderers skip antialiasing */
let software = false;
const pending = new Set<PaintTarget>();
let frame = 0;
const clear = new Color();

function debug(): void {
  if (typeof window === "undefined") return;
  window.__nnvizRendererCount = shared ? 1 : 0;
  window.__nnviz = {
    renderers: shared ? 1 : 0,
    created,
    software,
    handles: refs,
    paints,
    keptHits,
    keptBytes: () => keptBytes,
    aheadFrames: ahead.frames,
    ahead: window.__nnviz?.ahead ?? true,
    memory: () => (shared ? { geometries: shared.info.memory.geometries, textures: shared.info.memory.textures } : null),
    loseContext: () => {
      shared?.forceContextLoss();
    },
  };
}

function isSoftware(r: WebGLRenderer): boolean {
  try {
    const gl = r.getContext();
    const ext = gl.getExtension("WEBGL_debug_renderer_info");
    const name = String(ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
    return /swiftshader|llvmpipe|softpipe|software/i.test(name);
  } catch {
    return false;
  }
}

function onLost(e: Event): void {
  e.preventDefault();
  lost = true;
}

function disposeShared(): void {
  if (!shared) return;
  shared.domElement.removeEventListener("webglcontextlost", onLost);
  shared.dispose();
  shared.forceContextLoss?.();
  shared = null;
  bufW = bufH = 0;
}

function ensure(): WebGLRenderer | null {
  if (shared && lost) {
    // The context is gone: start over with a fresh renderer (three re-uploads on demand).
    disposeShared();
  }
  if (!shared) {
    lost = false;
    try {
      const canvas = document.createElement("canvas");
      shared = new WebGLRenderer({ canvas, antialias: !software, alpha: false, preserveDrawingBuffer: false });
    } catch {
      shared = null;
      return null;
    }
    created++;
    if (!software && isSoftware(shared)) {
      // A CPU rasterizer (SwiftShader, llvmpipe) pays dearly for multisampling: ~4x per frame
      // with 20k blended lines. Start over without it, once; the first context is released.
      software = true;
      shared.dispose();
      shared.forceContextLoss();
      shared = null;
      return ensure();
    }
    shared.setPixelRatio(1);
    shared.autoClear = true;
    shared.domElement.addEventListener("webglcontextlost", onLost);
    debug();
  }
  return shared;
}

// Kept frames (see PaintTarget.cacheKey): only frames slower than SLOW_FRAME_MS to render are
// kept (a GPU renders these views in a millisecond or two: nothing is kept there), within a
// byte budget for the page. Past it, the view that has kept frames longest loses its least
// recently shown one first.
const SLOW_FRAME_MS = 12;
const FRAME_BUDGET = 96 * 2 ** 20;
const kept = new Map<PaintTarget, Map<string, HTMLCanvasElement>>();
let keptBytes = 0;
let keptHits = 0;

/** A cache key's view-state part (before the first "|"): frames of another one are obsolete. */
function stateOf(key: string): string {
  return key.split("|")[0];
}

function keptFrame(t: PaintTarget, key: string, w: number, h: number): HTMLCanvasElement | null {
  const frames = kept.get(t);
  const c = frames?.get(key);
  if (!frames || !c) return null;
  if (c.width !== w || c.height !== h) {
    dropFrame(t, key);
    return null;
  }
  frames.delete(key); // most recently shown last
  frames.set(key, c);
  return c;
}

function dropFrame(t: PaintTarget, key: string): void {
  const frames = kept.get(t);
  const c = frames?.get(key);
  if (!frames || !c) return;
  frames.delete(key);
  keptBytes -= c.width * c.height * 4;
  if (!frames.size) kept.delete(t);
}

function keepFrame(t: PaintTarget, key: string): void {
  const c = document.createElement("canvas");
  c.width = t.canvas.width;
  c.height = t.canvas.height;
  const g = c.getContext("2d");
  if (!g) return;
  g.drawImage(t.canvas, 0, 0);
  addKept(t, key, c);
}

function addKept(t: PaintTarget, key: string, c: HTMLCanvasElement): void {
  const bytes = c.width * c.height * 4;
  if (bytes > FRAME_BUDGET / 4) return;
  // keys of an older view state (before "|") are never shown again: drop them first
  const state = stateOf(key);
  for (const k of [...(kept.get(t)?.keys() ?? [])]) if (stateOf(k) !== state) dropFrame(t, k);
  dropFrame(t, key);
  let frames = kept.get(t);
  if (!frames) kept.set(t, (frames = new Map()));
  frames.set(key, c);
  keptBytes += bytes;
  while (keptBytes > FRAME_BUDGET) {
    const [first] = kept.entries(); // views in the order they first kept a frame
    if (!first) break;
    const [target, fs] = first;
    const [oldest] = fs.keys();
    dropFrame(target, oldest);
  }
}

// Rendering ahead (ahead.ts): the renderer lends the scheduler its kept frames and its buffer.
/** when each view's current state (the cache key's version) was first painted */
const stateSince = new WeakMap<PaintTarget, { state: string; since: number }>();
const ahead = createAhead<PaintTarget>(
  {
    busy: () => pending.size > 0 || frame !== 0,
    since: (t) => stateSince.get(t)?.since,
    next(t) {
      if (!fitsAhead(keptBytes, t.canvas.width * t.canvas.height * 4, FRAME_BUDGET)) return null;
      const frames = kept.get(t);
      return nextFrame(t.ahead?.() ?? [], (key) => !!frames?.has(key));
    },
    render(t, w, h) {
      const r = ensure();
      const gl = r?.getContext();
      if (!r || !gl || typeof WebGL2RenderingContext === "undefined" || !(gl instanceof WebGL2RenderingContext)) return null;
      renderInto(r, t, w, h);
      return gl;
    },
    context() {
      const gl = shared?.getContext();
      return typeof WebGL2RenderingContext !== "undefined" && gl instanceof WebGL2RenderingContext ? gl : null;
    },
    keep(t, key, c) {
      const cur = t.cacheKey?.() ?? null;
      if (cur === null || stateOf(cur) !== stateOf(key)) return; // the view changed meanwhile
      addKept(t, key, c);
    },
  },
  () => typeof window === "undefined" || window.__nnviz?.ahead !== false,
  (n) => {
    if (typeof window !== "undefined" && window.__nnviz) window.__nnviz.aheadFrames = n;
  },
);

/** Forget a view's kept frames (it is gone). */
export function forgetFrames(t: PaintTarget): void {
  ahead.delete(t);
  for (const key of [...(kept.get(t)?.keys() ?? [])]) dropFrame(t, key);
}

function paint(t: PaintTarget): boolean {
  if (t.width <= 0 || t.height <= 0 || !t.canvas.isConnected) return false;
  const r = ensure();
  if (!r) return false;
  const dpr = Math.min(2, (typeof window !== "undefined" && window.devicePixelRatio) || 1);
  const w = Math.max(1, Math.round(t.width * dpr));
  const h = Math.max(1, Math.round(t.height * dpr));
  if (t.canvas.width !== w || t.canvas.height !== h) {
    t.canvas.width = w;
    t.canvas.height = h;
  }
  const key = t.cacheKey?.() ?? null;
  if (key !== null) {
    const state = stateOf(key);
    if (stateSince.get(t)?.state !== state) stateSince.set(t, { state, since: performance.now() });
  }
  const hit = key !== null ? keptFrame(t, key, w, h) : null;
  if (hit) {
    t.beforePaint?.();
    const g = t.canvas.getContext("2d");
    if (!g) return false;
    g.clearRect(0, 0, w, h);
    g.drawImage(hit, 0, 0);
    keptHits++;
    return painted(t);
  }
  const started = performance.now();
  t.beforePaint?.();
  renderInto(r, t, w, h);
  const g = t.canvas.getContext("2d");
  if (!g) return false;
  // WebGL's origin is bottom-left: the view's pixels are the bottom rows of the buffer.
  g.clearRect(0, 0, w, h);
  g.drawImage(r.domElement, 0, bufH - h, w, h, 0, 0, w, h);
  // the copy waited for the rasterizer: this is the frame's real cost
  if (key !== null && performance.now() - started > SLOW_FRAME_MS) {
    keepFrame(t, key);
    if (t.ahead) ahead.add(t);
  }
  return painted(t);
}

/** Render the target's scene into the bottom-left w x h of the shared (grow-only) buffer. */
function renderInto(r: WebGLRenderer, t: PaintTarget, w: number, h: number): void {
  if (w > bufW || h > bufH) {
    bufW = Math.max(bufW, w);
    bufH = Math.max(bufH, h);
    r.setSize(bufW, bufH, false);
  }
  clear.setHex(t.background ?? 0xffffff);
  r.setClearColor(clear, 1);
  r.setViewport(0, 0, w, h);
  r.setScissor(0, 0, w, h);
  r.setScissorTest(true);
  r.render(t.scene, t.camera);
  r.setScissorTest(false);
}

/** The frame is on the view's canvas: count it and tell the view. */
function painted(t: PaintTarget): true {
  paints++;
  if (typeof window !== "undefined" && window.__nnviz) {
    window.__nnviz.paints = paints;
    window.__nnviz.keptHits = keptHits;
  }
  t.afterPaint?.();
  return true;
}

function flush(): void {
  frame = 0;
  const todo = [...pending];
  pending.clear();
  for (const t of todo) paint(t);
  if (ahead.size) ahead.schedule();
}

/** Take a reference on the shared renderer (created lazily on the first paint). */
export function acquireRenderer(): RendererHandle {
  refs++;
  let released = false;
  const mine = new Set<PaintTarget>();
  debug();
  return {
    request(target) {
      if (released) return;
      mine.add(target);
      pending.add(target);
      if (!frame) frame = requestAnimationFrame(flush);
      if (ahead.size) ahead.schedule();
    },
    paintNow(target) {
      if (released) return false;
      pending.delete(target);
      if (ahead.size) ahead.schedule();
      return paint(target);
    },
    renderer: () => shared,
    release() {
      if (released) return;
      released = true;
      for (const t of mine) {
        pending.delete(t);
        ahead.delete(t);
      }
      mine.clear();
      refs--;
      if (refs <= 0) {
        refs = 0;
        if (frame) cancelAnimationFrame(frame);
        frame = 0;
        ahead.clear();
        pending.clear();
        disposeShared();
      }
      debug();
    },
  };
}
