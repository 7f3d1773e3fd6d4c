// Asking the kernel with custom messages: the path for front-ends whose widget manager can't
// resolve child widget models (VS Code, Colab and others give anywidget's model API, not
// necessarily `widget_manager.get_model`). Python answers in sync.py (`answer`).
// Request {kind: "<kind>?", id, ...}; reply {kind: "<kind>", id, ...} with binary buffers.
import type { AnyModel } from "../data/types";

type Callback = (...args: unknown[]) => void;

/** A DataView over a buffer as a front-end delivers it (DataView, ArrayBuffer, typed array). */
export function toDataView(v: unknown): DataView | null {
  if (!v) return null;
  if (v instanceof DataView) return v;
  if (v instanceof ArrayBuffer) return new DataView(v);
  if (ArrayBuffer.isView(v)) return new DataView(v.buffer, v.byteOffset, v.byteLength);
  return null;
}

export interface Answer {
  content: Record<string, unknown>;
  buffers: (DataView | null)[];
}

let next = 0;

/** Send `{kind: kind + "?", id, ...body}` and resolve with the kernel's `{kind, id}` answer. */
export function ask(model: AnyModel, kind: string, body: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<Answer> {
  const send = model.send;
  if (typeof send !== "function") return Promise.reject(new Error("no widget manager, and no kernel to ask"));
  const id = `${Date.now().toString(36)}.${++next}`;
  return new Promise<Answer>((resolve, reject) => {
    const onMsg: Callback = (msg: unknown, buffers: unknown) => {
      const m = msg as Record<string, unknown> | null;
      if (!m || typeof m !== "object" || m.kind !== kind || m.id !== id) return;
      done();
      if (typeof m.error === "string") reject(new Error(m.error));
      else resolve({ content: m, buffers: (Array.isArray(buffers) ? buffers : []).map(toDataView) });
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`the kernel did not answer (${kind})`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      model.off("msg:custom", onMsg);
    };
    model.on("msg:custom", onMsg);
    try {
      send.call(model, { kind: `${kind}?`, id, ...body });
    } catch (err) {
      done();
      reject(err as Error);
    }
  });
}

/** `promise`, or a rejection after `ms` (a widget manager that never settles). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
