// The page's theme, watched once per page: one MutationObserver (the attributes of <html> and
// <body>, and stylesheets added to <head>: JupyterLab swaps its theme's CSS when the user picks
// another) and one `prefers-color-scheme` listener, however many views are shown. Subscribers
// hear of a change only when the resolved colors differ.
import { HOST_VAR_NAMES, LIGHT, resolveTheme, sameTheme, type HostSignals, type Theme } from "./theme";

/** Read what the page says about its theme (see theme.ts). */
export function readSignals(doc: Document = document): HostSignals {
  const html = doc.documentElement;
  const body = doc.body;
  const win = doc.defaultView;
  const vars: Record<string, string> = {};
  let pageBg = "";
  if (win && body) {
    const cs = win.getComputedStyle(body);
    for (const name of HOST_VAR_NAMES) {
      const v = cs.getPropertyValue(name).trim();
      if (v) vars[name] = v;
    }
    pageBg = cs.backgroundColor;
  }
  return {
    override: body?.dataset.nnvizTheme || html.dataset.nnvizTheme || "",
    jpThemeLight: body?.dataset.jpThemeLight ?? "",
    classes: [...html.classList, ...(body ? [...body.classList] : [])],
    colabTheme: html.getAttribute("theme") ?? "",
    prefersDark: !!win?.matchMedia?.("(prefers-color-scheme: dark)").matches,
    vars,
    pageBg,
  };
}

type Listener = (t: Theme) => void;
const listeners = new Set<Listener>();
let current: Theme | null = null;
let stop: (() => void) | null = null;

/** The page's theme now (light when there is no document). */
export function currentTheme(): Theme {
  if (current) return current;
  if (typeof document === "undefined" || !document.documentElement) return LIGHT;
  current = resolveTheme(readSignals());
  return current;
}

/** Read the page again; tell the subscribers when the colors changed. */
export function recheckTheme(): void {
  if (typeof document === "undefined") return;
  const next = resolveTheme(readSignals());
  if (current && sameTheme(current, next)) return;
  current = next;
  for (const cb of [...listeners]) {
    try {
      cb(next);
    } catch (err) {
      console.error("nnviz: a theme listener failed", err);
    }
  }
}

function start(): () => void {
  const timers = new Set<number>();
  // a theme's stylesheet may apply a moment after the attribute that names it: look again
  const soon = () => {
    recheckTheme();
    for (const ms of [50, 300, 1000]) {
      const id = window.setTimeout(() => {
        timers.delete(id);
        recheckTheme();
      }, ms);
      timers.add(id);
    }
  };
  const obs = new MutationObserver(soon);
  const attributeFilter = ["class", "style", "theme", "data-jp-theme-light", "data-jp-theme-name", "data-nnviz-theme"];
  obs.observe(document.documentElement, { attributes: true, attributeFilter });
  if (document.body) obs.observe(document.body, { attributes: true, attributeFilter });
  if (document.head) obs.observe(document.head, { childList: true });
  const mq = window.matchMedia?.("(prefers-color-scheme: dark)");
  mq?.addEventListener?.("change", soon);
  return () => {
    obs.disconnect();
    mq?.removeEventListener?.("change", soon);
    for (const id of timers) window.clearTimeout(id);
    timers.clear();
  };
}

/** Call `cb` with the new theme whenever the page's theme changes; returns an unsubscribe. The
 *  page is watched while anyone listens. */
export function watchTheme(cb: Listener): () => void {
  listeners.add(cb);
  if (!stop && typeof document !== "undefined" && typeof MutationObserver !== "undefined") {
    currentTheme();
    stop = start();
  }
  return () => {
    listeners.delete(cb);
    if (!listeners.size && stop) {
      stop();
      stop = null;
      current = null; // unwatched: read afresh next time
    }
  };
}
