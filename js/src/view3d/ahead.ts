// Rendering ahead: on a software rasterizer an epoch's first paint costs ~100 ms of pixel filling
// (bench/scrub.py: a still 3D view scrubs in 12-17 ms per epoch with it, 98-105 ms without), so
// once a view has been still for a moment (no paint request for AHEAD_IDLE_MS, and the same view
// state for AHEAD_STABLE_MS: a live training's records keep it from starting), the epochs around
// the shown one are rendered into kept frames (renderer.ts), one at a time, and read back without
// blocking the page (a pixel buffer and a fence, polled): scrubbing then finds them kept. Any
// paint request postpones it. It never evicts: it stops at AHEAD_SHARE of the kept-frame budget.
// The pure rules (order, budget stop, stillness) are exported for the unit tests.

/** The part of renderer.ts's PaintTarget the scheduler reads. */
export interface AheadTarget {
  canvas: HTMLCanvasElement;
  width: number;
  height: number;
  restore?(): void;
}

export const AHEAD_IDLE_MS = 700;
export const AHEAD_STABLE_MS = 1500;
export const AHEAD_SHARE = 0.75;

/** What a view renders ahead: a frame's cache key and a `prepare()` that sets the scene to it. */
export interface AheadFrame {
  key: string;
  prepare(): void;
}

/**
 * Snapshot indices to render ahead around the shown one, nearest first, the one after before the
 * one before at each distance (play and dragging go forward).
 */
export function aheadOrder(shown: number, count: number): number[] {
  const out: number[] = [];
  for (let d = 1; d < count; d++) {
    for (const i of [shown + d, shown - d]) if (i >= 0 && i < count) out.push(i);
  }
  return out;
}

/** Whether one more frame of `frameBytes` fits the share of the budget rendering ahead may use. */
export function fitsAhead(keptBytes: number, frameBytes: number, budget: number, share = AHEAD_SHARE): boolean {
  return keptBytes + frameBytes <= budget * share;
}

/**
 * How long to wait before rendering ahead for a view whose state was first painted at `since`:
 * 0 once it has been the same for `stable` ms (the idle part is the timer every request restarts).
 */
export function stillFor(now: number, since: number, stable = AHEAD_STABLE_MS): number {
  const wait = stable - (now - since);
  return wait > 0 ? wait + 10 : 0;
}

/** The first frame of `frames` not kept yet (`kept(key)`), or null. */
export function nextFrame(frames: readonly AheadFrame[], kept: (key: string) => boolean): AheadFrame | null {
  for (const f of frames) if (!kept(f.key)) return f;
  return null;
}

/** What the renderer lends the scheduler. */
export interface AheadHost<T extends AheadTarget> {
  /** a paint is requested or under way: wait */
  busy(): boolean;
  /** the view's state (the cache key's part before "|") and when it was first painted */
  since(t: T): number | undefined;
  /** whether one more frame of t's size fits and which of its ahead frames is next */
  next(t: T): AheadFrame | null;
  /** render t's scene as set by `prepare()` into the shared buffer; its GL2 context, or null */
  render(t: T, w: number, h: number): WebGL2RenderingContext | null;
  /** the context currently in use (a lost or replaced one ends a read back) */
  context(): WebGL2RenderingContext | null;
  /** keep a frame read back for t under key (unless the view changed meanwhile) */
  keep(t: T, key: string, c: HTMLCanvasElement): void;
}

export interface Ahead<T extends AheadTarget> {
  /** a view had a slow frame: render its neighbours once it is still */
  add(t: T): void;
  delete(t: T): void;
  clear(): void;
  /** (re)start the idle timer; every paint request calls it */
  schedule(delay?: number): void;
  readonly size: number;
  /** frames rendered ahead so far */
  readonly frames: number;
}

/** The scheduler: one view at a time, one frame at a time, while the page is idle. */
export function createAhead<T extends AheadTarget>(host: AheadHost<T>, enabled: () => boolean, onFrame: (n: number) => void): Ahead<T> {
  const queue = new Set<T>();
  let timer: ReturnType<typeof setTimeout> | 0 = 0;
  let busy = false;
  let frames = 0;

  const schedule = (delay = AHEAD_IDLE_MS) => {
    if (timer) clearTimeout(timer);
    timer = queue.size ? setTimeout(run, delay) : 0;
  };

  function run(): void {
    timer = 0;
    if (busy || !enabled()) return;
    if (host.busy()) {
      schedule();
      return;
    }
    const now = performance.now();
    for (const t of [...queue]) {
      const wait = stillFor(now, host.since(t) ?? now);
      if (wait) {
        schedule(wait);
        return;
      }
      const next = t.canvas.isConnected && t.width > 0 && t.height > 0 ? host.next(t) : null;
      if (!next) {
        queue.delete(t);
        continue;
      }
      busy = true;
      void renderOne(t, next).finally(() => {
        busy = false;
        schedule(16);
      });
      return;
    }
  }

  async function renderOne(t: T, f: AheadFrame): Promise<void> {
    const w = t.canvas.width;
    const h = t.canvas.height;
    f.prepare();
    let gl: WebGL2RenderingContext | null;
    try {
      gl = host.render(t, w, h);
    } finally {
      t.restore?.();
    }
    if (!gl) {
      queue.clear();
      return;
    }
    // read back into a pixel buffer in the same task (before the buffer can be reused)
    const pbo = gl.createBuffer();
    gl.bindBuffer(gl.PIXEL_PACK_BUFFER, pbo);
    gl.bufferData(gl.PIXEL_PACK_BUFFER, w * h * 4, gl.STREAM_READ);
    gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, 0);
    gl.bindBuffer(gl.PIXEL_PACK_BUFFER, null);
    const sync = gl.fenceSync(gl.SYNC_GPU_COMMANDS_COMPLETE, 0);
    gl.flush();
    try {
      while (sync && gl.getSyncParameter(sync, gl.SYNC_STATUS) !== gl.SIGNALED) {
        if (gl.isContextLost() || host.context() !== gl) return;
        await new Promise((res) => setTimeout(res, 8));
      }
      if (!t.canvas.isConnected || t.canvas.width !== w || t.canvas.height !== h) return;
      const px = new Uint8ClampedArray(w * h * 4);
      gl.bindBuffer(gl.PIXEL_PACK_BUFFER, pbo);
      gl.getBufferSubData(gl.PIXEL_PACK_BUFFER, 0, px);
      gl.bindBuffer(gl.PIXEL_PACK_BUFFER, null);
      // GL rows go bottom-up
      const img = new ImageData(w, h);
      const row = w * 4;
      for (let y = 0; y < h; y++) img.data.set(px.subarray((h - 1 - y) * row, (h - y) * row), y * row);
      const c = document.createElement("canvas");
      c.width = w;
      c.height = h;
      c.getContext("2d")?.putImageData(img, 0, 0);
      host.keep(t, f.key, c);
      onFrame(++frames);
    } finally {
      if (sync && !gl.isContextLost()) gl.deleteSync(sync);
      if (!gl.isContextLost()) gl.deleteBuffer(pbo);
    }
  }

  return {
    add: (t) => void queue.add(t),
    delete: (t) => void queue.delete(t),
    clear() {
      queue.clear();
      if (timer) clearTimeout(timer);
      timer = 0;
    },
    schedule,
    get size() {
      return queue.size;
    },
    get frames() {
      return frames;
    },
  };
}
