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

/** What one view answers: its canvas as a PNG data URL, or why it can't. */
export function pngReply(id: string | null, canvas: HTMLCanvasElement | null): PngReply {
  if (!canvas || !canvas.isConnected) return { type: "png", id, error: "the view has no canvas on the page" };
  if (!canvas.width || !canvas.height) return { type: "png", id, error: "the view is not visible (its canvas has no size)" };
  try {
    const data = canvas.toDataURL("image/png");
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
