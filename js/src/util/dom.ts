// Small DOM helpers. Text always goes through textContent (names come from the user's model).

/** Create an element with a class and optional text (set with textContent, never innerHTML). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

/** addEventListener that returns its own removal. */
export function listen<T extends EventTarget>(
  target: T,
  type: string,
  fn: (e: never) => void,
  opts?: AddEventListenerOptions,
): () => void {
  const cb = fn as unknown as EventListener;
  target.addEventListener(type, cb, opts);
  return () => target.removeEventListener(type, cb, opts);
}

/** A bag of cleanups run once, in reverse order. */
export class Disposer {
  private fns: (() => void)[] = [];
  add(fn: () => void): void {
    this.fns.push(fn);
  }
  run(): void {
    const fns = this.fns.reverse();
    this.fns = [];
    for (const fn of fns) {
      try {
        fn();
      } catch (err) {
        console.error("nnviz: cleanup failed", err);
      }
    }
  }
}

/** Every stylesheet injectStyle added, by id (shareStyles copies them into shadow roots). */
const STYLES = new Map<string, string>();

/** Insert a <style> once per document (by id). */
export function injectStyle(id: string, css: string): void {
  STYLES.set(id, css);
  if (typeof document === "undefined" || document.getElementById(id)) return;
  const style = document.createElement("style");
  style.id = id;
  style.textContent = css;
  document.head.appendChild(style);
}

/**
 * Copy the injected stylesheets into the shadow root holding `node`, once per root and id:
 * marimo renders each anywidget inside a shadow root, which the document's <style>s don't reach.
 * Nothing happens for a node in the document itself.
 */
export function shareStyles(node: Node): void {
  const root = node.getRootNode?.();
  if (typeof ShadowRoot === "undefined" || !(root instanceof ShadowRoot)) return;
  for (const [id, css] of STYLES) {
    if (root.getElementById(id)) continue;
    const style = document.createElement("style");
    style.id = id;
    style.textContent = css;
    root.prepend(style);
  }
}
