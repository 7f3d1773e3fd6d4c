// The widget's stylesheet, injected once per page: the shell, the 3D view and the 2D view's
// chrome, plus the stylesheets the panel, legend and chart export. Everything is scoped under
// .nnviz-root (two classes: more specific than a host page's `.jp-OutputArea-output dd`-style
// rules), the elements the views use are reset (margins, floats, widths a host may set on them),
// and the inherited text properties are pinned on the root: the widget looks the same in
// JupyterLab, Notebook, VS Code, Colab and an exported page. Views use div / span / canvas /
// button only (no dl, table, ul, p, h*, img: hosts style those).
// Each part's own stylesheet lives next to this file, so this file imports no view.
import { chartCss } from "./chart";
import { insideCss } from "./inside";
import { legendCss } from "./legend";
import { panelCss } from "./panel";
import { LIGHT, themeVars } from "./theme";
import { view2dCss } from "./view2d";

/* The page's theme sets every --nnviz-* color on the root (shell/widget.ts, from theme.ts); these
   defaults (the light theme, or JupyterLab's own variables where they exist) hold until it does. */
const JP_FALLBACK: Record<string, string> = {
  "--nnviz-bg": "--jp-layout-color1",
  "--nnviz-fg": "--jp-ui-font-color1",
  "--nnviz-muted": "--jp-ui-font-color2",
  "--nnviz-line": "--jp-border-color2",
};
function defaultVars(): string {
  return themeVars(LIGHT)
    .map(([k, v]) => `${k}: ${JP_FALLBACK[k] ? `var(${JP_FALLBACK[k]}, ${v})` : v};`)
    .join(" ");
}

const SHELL = () => `
.nnviz-root {
  \${defaultVars()}
  --nnviz-side-w: 288px;
  position: relative; box-sizing: border-box; display: flex; flex-direction: column;
  width: 100%; min-width: 0; overflow: hidden; background: var(--nnviz-bg); color: var(--nnviz-fg);
  border: 1px solid var(--nnviz-line); border-radius: 8px;
  font: 13px/1.35 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-style: normal; font-weight: 400; text-align: left; text-indent: 0; text-transform: none; text-shadow: none;
  letter-spacing: normal; word-spacing: normal; white-space: normal; direction: ltr; -webkit-font-smoothing: antialiased;
}
.nnviz-root *, .nnviz-root *::before, .nnviz-root *::after { box-sizing: border-box; }
.nnviz-root div, .nnviz-root span, .nnviz-root canvas, .nnviz-root button {
  float: none; clear: none; margin: 0; padding: 0; border: 0 none; max-width: none; min-height: 0;
  vertical-align: baseline; text-transform: none; letter-spacing: normal; text-shadow: none; box-shadow: none;
  list-style: none;
}
.nnviz-root canvas { display: block; max-height: none; background: transparent; }
.nnviz-root button {
  -webkit-appearance: none; appearance: none; font: inherit; color: inherit; line-height: normal; height: auto;
  min-width: 0; width: auto; background: none; border-radius: 0; cursor: pointer;
}
.nnviz-root .nnviz-header {
  flex: 0 0 auto; display: flex; flex-wrap: wrap; align-items: baseline; gap: 2px 12px;
  padding: 7px 12px 6px; border-bottom: 1px solid var(--nnviz-line);
}
.nnviz-root .nnviz-title { font-weight: 600; font-size: 14px; }
.nnviz-root .nnviz-meta { color: var(--nnviz-muted); }
.nnviz-root .nnviz-banner, .nnviz-root .nnviz-notice {
  background: var(--nnviz-warn-bg); color: var(--nnviz-warn); border-radius: 4px; padding: 0 6px; font-size: 12px;
}
.nnviz-root .nnviz-budget { color: var(--nnviz-muted); font-size: 12px; margin-left: auto; }
.nnviz-root .nnviz-body { flex: 1 1 auto; display: flex; min-height: 0; }
.nnviz-root .nnviz-main { position: relative; flex: 1 1 auto; min-width: 0; min-height: 0; overflow: hidden; }
.nnviz-root .nnviz-side {
  flex: 0 0 var(--nnviz-side-w); min-width: 0; overflow: hidden; border-left: 1px solid var(--nnviz-line);
  background: var(--nnviz-bg); display: flex; flex-direction: column;
}
.nnviz-root .nnviz-tabs {
  flex: 0 0 auto; display: flex; border-bottom: 1px solid var(--nnviz-line); background: var(--nnviz-soft);
}
.nnviz-root .nnviz-tab {
  flex: 1 1 0; padding: 5px 8px 4px; font-size: 12px; font-weight: 600; color: var(--nnviz-muted); text-align: center;
  background: transparent; border-bottom: 2px solid transparent; cursor: pointer;
}
.nnviz-root .nnviz-tab:hover { color: var(--nnviz-fg); }
.nnviz-root .nnviz-tab.nnviz-tab-on { color: var(--nnviz-fg); background: var(--nnviz-bg); border-bottom-color: var(--nnviz-accent); }
.nnviz-root .nnviz-pane { flex: 1 1 auto; min-height: 0; overflow: auto; position: relative; }
.nnviz-root .nnviz-bottom {
  flex: 0 0 118px; display: flex; min-height: 0; border-top: 1px solid var(--nnviz-line);
}
.nnviz-root .nnviz-legend-box { flex: 0 0 var(--nnviz-side-w); min-width: 0; overflow: hidden; border-right: 1px solid var(--nnviz-line); }
.nnviz-root .nnviz-chart-box { flex: 1 1 auto; min-width: 0; overflow: hidden; position: relative; }
.nnviz-root.nnviz-narrow { height: auto !important; }
.nnviz-root.nnviz-narrow .nnviz-body { flex-direction: column; }
.nnviz-root.nnviz-narrow .nnviz-main { flex: 0 0 auto; height: var(--nnviz-main-h, 340px); }
.nnviz-root.nnviz-narrow .nnviz-side {
  flex: 0 0 auto; height: 300px; border-left: none; border-top: 1px solid var(--nnviz-line);
}
.nnviz-root.nnviz-narrow .nnviz-legend-box { flex-basis: 42%; }
.nnviz-root .nnviz-error { color: var(--nnviz-bad); padding: 8px; font-size: 12px; }

.nnviz-root .nnviz-scene3d { position: absolute; inset: 0; overflow: hidden; }
.nnviz-root .nnviz-canvas { display: block; cursor: grab; touch-action: none; outline: none; }
.nnviz-root .nnviz-canvas:active { cursor: grabbing; }
.nnviz-root .nnviz-labels { position: absolute; inset: 0; pointer-events: none; overflow: hidden; }
.nnviz-root .nnviz-label {
  position: absolute; left: 0; top: 0; white-space: nowrap; text-align: center; padding: 1px 5px;
  background: var(--nnviz-overlay); border-radius: 4px; font-size: 11.5px; line-height: 1.25;
  display: flex; flex-direction: column; align-items: center;
}
.nnviz-root .nnviz-label-name { font-weight: 600; color: var(--nnviz-fg); }
.nnviz-root .nnviz-label-sub { color: var(--nnviz-muted); font-size: 10.5px; }
.nnviz-root .nnviz-label-selected { box-shadow: 0 0 0 1.5px var(--nnviz-accent); }
.nnviz-root .nnviz-label-badges { display: flex; gap: 3px; margin-top: 2px; flex-wrap: nowrap; }
.nnviz-root .nnviz-badge {
  display: inline-block; font-size: 10px; line-height: 14px; padding: 0 5px; border-radius: 7px; font-weight: 600;
  white-space: nowrap; font-variant-numeric: tabular-nums;
}
.nnviz-root .nnviz-wheel-hint {
  position: absolute; left: 50%; top: 50%; transform: translate(-50%, -50%); z-index: 6; pointer-events: none;
  background: rgba(31, 36, 48, 0.8); color: #fff; padding: 7px 14px; border-radius: 6px; font-size: 13px;
  white-space: nowrap; opacity: 0; transition: opacity 0.18s;
}
.nnviz-root .nnviz-wheel-hint.nnviz-wheel-hint-on { opacity: 1; }
.nnviz-root .nnviz-toolbar { position: absolute; top: 8px; right: 8px; display: flex; gap: 4px; }
.nnviz-root .nnviz-btn {
  font: inherit; font-size: 12px; padding: 2px 10px; border: 1px solid var(--nnviz-line); border-radius: 4px;
  background: var(--nnviz-overlay); color: var(--nnviz-fg); cursor: pointer;
}
.nnviz-root .nnviz-btn:hover { background: var(--nnviz-soft); }
.nnviz-root .nnviz-hint {
  position: absolute; left: 8px; bottom: 6px; font-size: 11px; color: var(--nnviz-muted); pointer-events: none;
}
.nnviz-root.nnviz-narrow .nnviz-hint { display: none; }
.nnviz-root .nnviz-crumbs {
  position: absolute; left: 8px; top: 8px; z-index: 2; display: flex; align-items: center; gap: 2px; flex-wrap: wrap;
  max-width: calc(100% - 160px); font-size: 12px;
}
.nnviz-root .nnviz-crumb {
  font: inherit; padding: 1px 7px; border: 1px solid var(--nnviz-line); border-radius: 4px; cursor: pointer;
  background: var(--nnviz-overlay); color: var(--nnviz-fg); max-width: 220px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
}
.nnviz-root .nnviz-crumb:hover { background: var(--nnviz-soft); border-color: var(--nnviz-edge); }
.nnviz-root .nnviz-crumb-sep { color: var(--nnviz-muted); padding: 0 1px; }

.nnviz-root .nnviz-tooltip {
  position: absolute; left: 0; top: 0; z-index: 10; pointer-events: none; display: none; max-width: 320px;
  background: var(--nnviz-tooltip-bg); border: 1px solid var(--nnviz-tooltip-line); border-radius: 6px;
  box-shadow: 0 2px 10px var(--nnviz-shadow); padding: 6px 8px; font-size: 12px;
}
.nnviz-root .nnviz-tooltip-title { font-weight: 600; margin-bottom: 2px; overflow-wrap: anywhere; }
.nnviz-root .nnviz-tooltip-rows { display: grid; grid-template-columns: max-content minmax(0, auto); column-gap: 8px; }
.nnviz-root .nnviz-tooltip-key { color: var(--nnviz-muted); }
.nnviz-root .nnviz-tooltip-val { font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }

/* 2D view: its own rules come from styles/view2d.ts; the shell only places it */
.nnviz-root .nnviz-view2d { position: absolute; inset: 0; }
`;

/**
 * Prefix every selector of a flat stylesheet (no @-rules) with `.nnviz-root ` unless it already
 * starts there, so the sub-views' own stylesheets can't leak out and hosts' rules can't win.
 */
export function scopeCss(css: string, root = ".nnviz-root"): string {
  return css.replace(/(^|\})([^{}]+)\{/g, (_m, close: string, sel: string) => {
    const scoped = sel
      .split(",")
      .map((part) => {
        const t = part.trim();
        if (!t) return t;
        return t.startsWith(root) ? t : `${root} ${t}`;
      })
      .join(", ");
    const lead = sel.match(/^\s*/)?.[0] ?? "";
    return `${close}${lead}${scoped} {`;
  });
}

/* The controls work without a kernel (jslinks in the browser): a saved notebook or an exported
   page needs no "disconnected" chain icon on each of them. */
const CONTROLS = `.nnviz-controls .jupyter-widgets-disconnected::before { display: none; }`;

const PARTS = [view2dCss, panelCss, legendCss, chartCss, insideCss];
const ADDED: string[] = [];

/** A part's own stylesheet, added from its module (a new panel needs no line here); scoped
 *  like the rest. Parts load with the bundle, before the first view injects the sheet. */
export function addStyle(css: string): void {
  ADDED.push(css);
}

/** The widget's whole stylesheet: the controls', the shell's, and every part's, scoped. */
export function styleSheet(): string {
  return [CONTROLS, SHELL(), ...[...PARTS, ...ADDED].map((c) => scopeCss(c))].join("\n");
}
