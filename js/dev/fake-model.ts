// A stand-in for anywidget's model (the subset nnviz uses), with listener bookkeeping for tests.
type Callback = (...args: unknown[]) => void;

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a && b && typeof a === "object" && typeof b === "object" && !(a instanceof DataView) && !(b instanceof DataView)) {
    try {
      return JSON.stringify(a) === JSON.stringify(b);
    } catch {
      return false;
    }
  }
  return false;
}

export class FakeManager {
  models = new Map<string, FakeModel>();
  nextId = 1;
  create(attrs: Record<string, unknown>): FakeModel {
    const id = `fake${this.nextId++}`;
    const m = new FakeModel(attrs, this, id);
    this.models.set(id, m);
    return m;
  }
  async get_model(id: string): Promise<FakeModel> {
    const m = this.models.get(id.replace(/^IPY_MODEL_/, ""));
    if (!m) throw new Error(`no model ${id}`);
    await Promise.resolve();
    return m;
  }
}

export class FakeModel {
  attrs: Record<string, unknown>;
  handlers = new Map<string, Set<Callback>>();
  saves = 0;
  sent: unknown[] = [];
  /** every (name, value) set, in order (tests check for ping-pong) */
  log: [string, unknown][] = [];

  constructor(attrs: Record<string, unknown>, public widget_manager: FakeManager, public id: string) {
    this.attrs = { ...attrs };
  }

  get(name: string): any { // eslint-disable-line @typescript-eslint/no-explicit-any
    return this.attrs[name];
  }

  set(name: string, value: unknown): void {
    const old = this.attrs[name];
    this.attrs[name] = value;
    this.log.push([name, value]);
    if (!same(old, value)) {
      this.emit(`change:${name}`, this, value);
      this.emit("change", this);
    }
  }

  on(event: string, cb: Callback): void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(cb);
  }

  off(event?: string | null, cb?: Callback | null): void {
    if (!event) {
      if (cb) for (const s of this.handlers.values()) s.delete(cb);
      else this.handlers.clear();
      return;
    }
    if (!cb) this.handlers.delete(event); // what Backbone does: drops every view's handler
    else this.handlers.get(event)?.delete(cb);
  }

  emit(event: string, ...args: unknown[]): void {
    for (const cb of [...(this.handlers.get(event) ?? [])]) cb(...args);
  }

  save_changes(): void {
    this.saves++;
  }

  send(content: unknown): void {
    this.sent.push(content);
  }

  /** handlers currently registered, over all events */
  listenerCount(): number {
    let n = 0;
    for (const s of this.handlers.values()) n += s.size;
    return n;
  }

  /** for the trait mirror tests: an update as it would arrive from the kernel */
  kernelSet(name: string, value: unknown): void {
    this.set(name, value);
  }
}
