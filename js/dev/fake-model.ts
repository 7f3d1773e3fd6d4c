// A stand-in for anywidget's model: the page model the exported page runs on
// (src/data/pagemodel.ts), plus bookkeeping the tests read (every set, saves, sends, listeners).
import { PageManager, PageModel } from "../src/data/pagemodel";

export class FakeManager extends PageManager {
  create(attrs: Record<string, unknown>): FakeModel {
    return super.create(attrs) as FakeModel;
  }
  get_model(id: string): Promise<FakeModel> {
    return super.get_model(id) as Promise<FakeModel>;
  }
  protected get prefix(): string {
    return "fake";
  }
  protected make(id: string, attrs: Record<string, unknown>): FakeModel {
    return new FakeModel(id, attrs, this);
  }
}

export class FakeModel extends PageModel {
  saves = 0;
  sent: unknown[] = [];
  /** every (name, value) set, in order (tests check for ping-pong) */
  log: [string, unknown][] = [];

  set(name: string, value: unknown): void {
    this.log.push([name, value]);
    super.set(name, value);
  }

  save_changes(): void {
    this.saves++;
  }

  send(content?: unknown): void {
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

  /** a handler that throws fails the test's call, rather than being logged as the page does */
  protected emit(event: string, ...args: unknown[]): void {
    for (const cb of [...(this.handlers.get(event) ?? [])]) cb(...args);
  }
}
