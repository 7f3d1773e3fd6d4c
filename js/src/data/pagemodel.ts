// A widget model living in the page, with anywidget's model API and no kernel behind it:
// the exported page (standalone.ts) runs on it, and so does the dev/test harness (js/dev).
import type { AnyModel } from "./types";

type Callback = (...args: unknown[]) => void;

export function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a && b && typeof a === "object" && typeof b === "object" && !ArrayBuffer.isView(a) && !ArrayBuffer.isView(b)) {
    try {
      return JSON.stringify(a) === JSON.stringify(b);
    } catch {
      return false;
    }
  }
  return false;
}

/** Decode base64 into a DataView over its own buffer. */
export function fromBase64(b64: string): DataView {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new DataView(bytes.buffer);
}

/** The models of one page, by id (what anywidget's `model.widget_manager` resolves). */
export class PageManager {
  protected models = new Map<string, PageModel>();
  protected next = 1;
  create(attrs: Record<string, unknown>): PageModel {
    const id = `${this.prefix}${this.next++}`;
    const m = this.make(id, attrs);
    this.models.set(id, m);
    return m;
  }
  get_model(id: string): Promise<PageModel> {
    const m = this.models.get(String(id).replace(/^IPY_MODEL_/, ""));
    return m ? Promise.resolve(m) : Promise.reject(new Error(`no model ${id}`));
  }
  /** Ids are `${prefix}1`, `${prefix}2`, ... */
  protected get prefix(): string {
    return "page-";
  }
  /** The model class a subclass manages (the test harness adds bookkeeping). */
  protected make(id: string, attrs: Record<string, unknown>): PageModel {
    return new PageModel(id, attrs, this);
  }
}

/** A widget model living in the page: Backbone-style events, no kernel behind it. */
export class PageModel implements AnyModel {
  protected attrs: Record<string, unknown>;
  protected handlers = new Map<string, Set<Callback>>();
  constructor(
    public readonly id: string,
    attrs: Record<string, unknown>,
    public readonly widget_manager: PageManager,
  ) {
    this.attrs = { ...attrs };
  }
  get(name: string): any { // eslint-disable-line @typescript-eslint/no-explicit-any
    return this.attrs[name];
  }
  set(name: string, value: unknown): void {
    const old = this.attrs[name];
    this.attrs[name] = value;
    if (!same(old, value)) {
      this.emit(`change:${name}`, this, value);
      this.emit("change", this);
    }
  }
  on(event: string, cb: Callback): void {
    for (const ev of event.split(/\s+/).filter(Boolean)) {
      let set = this.handlers.get(ev);
      if (!set) this.handlers.set(ev, (set = new Set()));
      set.add(cb);
    }
  }
  off(event?: string | null, cb?: Callback | null): void {
    if (!event) {
      if (cb) for (const s of this.handlers.values()) s.delete(cb);
      else this.handlers.clear();
      return;
    }
    for (const ev of event.split(/\s+/).filter(Boolean)) {
      if (cb) this.handlers.get(ev)?.delete(cb);
      else this.handlers.delete(ev);
    }
  }
  save_changes(): void {
    // nothing to sync with: the page is the whole state
  }
  send(): void {
    // no kernel to talk to
  }
  protected emit(event: string, ...args: unknown[]): void {
    for (const cb of [...(this.handlers.get(event) ?? [])]) {
      try {
        cb(...args);
      } catch (err) {
        console.error("nnviz:", err);
      }
    }
  }
}

