// `viz.to_png(path)`: the kernel sends {type: "png", id} to the widget; a view answers with
// {type: "png", id, data: "data:image/png;base64,...", width, height} (or {type: "png", id, error}).
// The Python side (nnviz_widget/store.py, to_png) waits for the first answer.
//
// Wiring (shell/widget.ts, in render): `d.add(installPngHandler(model, () => root.querySelector(
//   "canvas.nnviz-canvas, canvas.nnviz-view2d-canvas")))` — one handler per view; the cleanup
// removes exactly that handler.

type Callback = (...args: unknown[]) => void;

/** The slice of the anywidget model API the handler uses. */
export interface PngModel {
  on(event: string, cb: Callback): void;
  off(event?: string | null, cb?: Callback | null): void;
  send?(content: unknown, callbacks?: unknown, buffers?: unknown[]): void;
}

export interface PngRequest {
  type: "png";
  id?: string;
}

export interface PngReply {
  type: "png";
  id: string | null;
  data?: string;
  width?: number;
  height?: number;
  error?: string;
}

/** Requests answered per model: several views of one model answer a request once. */
const ANSWERED = new WeakMap<object, Set<string>>();

function isRequest(msg: unknown): msg is PngRequest {
  return !!msg && typeof msg === "object" && (msg as { type?: unknown }).type === "png";
}

const CLEAR = new Set(["", "transparent", "rgba(0, 0, 0, 0)"]);

/**
 * The canvas with the view's HTML labels (`.nnviz-label`, laid over it) drawn in: their boxes
 * and text, from where the page shows them and their computed style. The canvas itself when
 * there are none on it.
 */
export function withLabels(canvas: HTMLCanvasElement): HTMLCanvasElement {
  const root = canvas.parentElement;
  const labels = root ? [...root.querySelectorAll<HTMLElement>(".nnviz-label")] : [];
  const cr = canvas.getBoundingClientRect();
  if (!labels.length || !cr.width || !cr.height) return canvas;
  const out = document.createElement("canvas");
  out.width = canvas.width;
  out.height = canvas.height;
  const g = out.getContext("2d");
  if (!g) return canvas;
  g.drawImage(canvas, 0, 0);
  const sx = canvas.width / cr.width;
  const sy = canvas.height / cr.height;
  for (const label of labels) {
    for (const el of [label, ...label.querySelectorAll<HTMLElement>("*")]) {
      const r = el.getBoundingClientRect();
      if (!r.width || !r.height || r.right < cr.left || r.left > cr.right || r.bottom < cr.top || r.top > cr.bottom) continue;
      const st = getComputedStyle(el);
      if (st.visibility === "hidden" || st.display === "none") continue;
      const x = (r.left - cr.left) * sx;
      const y = (r.top - cr.top) * sy;
      if (!CLEAR.has(st.backgroundColor)) {
        g.fillStyle = st.backgroundColor;
        g.fillRect(x, y, r.width * sx, r.height * sy);
      }
      const text = el.children.length ? "" : (el.textContent ?? "").trim();
      if (!text) continue;
      g.font = `${st.fontStyle} ${st.fontWeight} ${parseFloat(st.fontSize) * sy}px ${st.fontFamily}`;
      g.fillStyle = st.color;
      g.textBaseline = "middle";
      g.fillText(text, x + (parseFloat(st.paddingLeft) || 0) * sx, y + (r.height * sy) / 2);
    }
  }
  return out;
}

/** What one view answers: its canvas as a PNG data URL, or why it can't. */
export function pngReply(id: string | null, canvas: HTMLCanvasElement | null): PngReply {
  if (!canvas || !canvas.isConnected) return { type: "png", id, error: "the view has no canvas on the page" };
  if (!canvas.width || !canvas.height) return { type: "png", id, error: "the view is not visible (its canvas has no size)" };
  try {
    const data = withLabels(canvas).toDataURL("image/png");
    if (!data.startsWith("data:image/png")) return { type: "png", id, error: "the browser could not encode the canvas as PNG" };
    return { type: "png", id, data, width: canvas.width, height: canvas.height };
  } catch (err) {
    return { type: "png", id, error: `the canvas could not be read (${(err as Error)?.message ?? err})` };
  }
}

/**
 * Answer the kernel's {type: "png"} messages with this view's canvas. Returns the cleanup
 * (removes this view's handler only). A view that can't answer (hidden, no canvas) waits a
 * moment and answers with an error only if no other view of the model answered.
 */
export function installPngHandler(model: PngModel, getCanvas: () => HTMLCanvasElement | null): () => void {
  let answered = ANSWERED.get(model);
  if (!answered) ANSWERED.set(model, (answered = new Set()));
  const done = answered;
  const timers = new Set<number>();
  const onMsg: Callback = (msg: unknown) => {
    if (!isRequest(msg)) return;
    const id = typeof msg.id === "string" ? msg.id : null;
    if (id !== null && done.has(id)) return;
    const reply = pngReply(id, getCanvas());
    if (!reply.error) {
      if (id !== null) done.add(id);
      model.send?.(reply);
      return;
    }
    const t = window.setTimeout(() => {
      timers.delete(t);
      if (id !== null && done.has(id)) return;
      if (id !== null) done.add(id);
      model.send?.(reply);
    }, 100);
    timers.add(t);
  };
  model.on("msg:custom", onMsg);
  return () => {
    model.off("msg:custom", onMsg);
    for (const t of timers) window.clearTimeout(t);
    timers.clear();
  };
}
