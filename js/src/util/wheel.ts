// Wheel etiquette inside a notebook: a plain wheel over a view scrolls the page (the notebook is
// a page a student scrolls through); zooming takes ctrl / cmd + wheel, or a trackpad pinch, which
// browsers send as a wheel event with ctrlKey set. A plain wheel shows a one-line hint, as
// embedded maps do.

/** Does this wheel event ask to zoom the view (rather than scroll the page)? */
export function isZoomWheel(e: Pick<WheelEvent, "ctrlKey" | "metaKey">): boolean {
  return !!(e.ctrlKey || e.metaKey);
}

/** The hint's text: ⌘ on Apple keyboards, ctrl elsewhere. */
export function wheelHintText(): string {
  const p = typeof navigator !== "undefined" ? `${navigator.platform ?? ""} ${navigator.userAgent ?? ""}` : "";
  return /Mac|iPhone|iPad/.test(p) ? "⌘ + scroll to zoom" : "ctrl + scroll to zoom";
}

export interface WheelHint {
  readonly el: HTMLElement;
  /** show the hint for a moment (each call restarts the moment) */
  flash(): void;
  hide(): void;
  dispose(): void;
}

/** A centered "ctrl + scroll to zoom" line over `parent`, shown on plain wheels. */
export function createWheelHint(parent: HTMLElement, ms = 1300): WheelHint {
  const el = document.createElement("div");
  el.className = "nnviz-wheel-hint";
  el.setAttribute("aria-hidden", "true");
  el.textContent = wheelHintText();
  parent.appendChild(el);
  let timer = 0;
  const hide = () => {
    el.classList.remove("nnviz-wheel-hint-on");
    if (timer) window.clearTimeout(timer);
    timer = 0;
  };
  return {
    el,
    flash() {
      el.classList.add("nnviz-wheel-hint-on");
      if (timer) window.clearTimeout(timer);
      timer = window.setTimeout(hide, ms);
    },
    hide,
    dispose() {
      hide();
      el.remove();
    },
  };
}
