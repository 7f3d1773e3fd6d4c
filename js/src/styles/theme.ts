// The host's theme, resolved to the colors the widget paints with. `resolveTheme` is pure: it
// takes what the page says about its theme (attributes, computed CSS variables, the media query;
// read by watch.ts) and returns a Theme. Who says what:
//   - `data-nnviz-theme` on <html> or <body>: "light" | "dark" force one; "auto" (the exported
//     page) follows `prefers-color-scheme`
//   - JupyterLab / Notebook 7: `data-jp-theme-light` on <body>, colors from `--jp-*`
//   - VS Code: `vscode-dark` / `vscode-high-contrast` / `vscode-light` on <body>, `--vscode-*`
//   - Colab: `theme="dark"` on <html>
//   - marimo: `dark-theme` / `light-theme` on <body> (its resolved theme, "system" included)
//   - otherwise a dark opaque page background means dark; else light.
// The canvases (2D view, chart, histograms) and three.js need concrete colors, so everything is
// resolved here rather than left to CSS.

/** The colors of one theme (CSS color strings) and whether it is dark. */
export interface Theme {
  dark: boolean;
  /** which host decided: "page" is data-nnviz-theme, "none" means no host said anything */
  host: "page" | "jupyterlab" | "vscode" | "colab" | "marimo" | "background" | "none";
  bg: string; // the widget's background (panels, 2D view, 3D scene)
  soft: string; // a lifted surface (tabs, hints, hovered buttons)
  fg: string; // text
  fg2: string; // secondary text (names in lists, keys)
  muted: string; // captions, axis labels
  line: string; // borders, separators
  line2: string; // stronger borders (buttons, toggles)
  accent: string; // selection outline in 3D, the active tab
  select: string; // selection in 2D
  edge: string; // graph edges
  edgeHi: string; // highlighted edges, hovered outlines
  grid: string; // chart grid lines
  axis: string; // chart / histogram axes
  ink: string; // strong marks over data (the epoch cursor, hovered neurons)
  overlay: string; // translucent background of controls and labels over a canvas
  tooltipBg: string;
  tooltipLine: string;
  shadow: string;
  ok: string;
  bad: string;
  badBg: string;
  badLine: string;
  warn: string;
  warnBg: string;
}

/** What the page says about its theme (watch.ts reads it from the DOM). */
export interface HostSignals {
  /** `data-nnviz-theme` of <html> or <body>: "light", "dark", "auto" or "" */
  override?: string;
  /** <body>'s `data-jp-theme-light` ("true" / "false"), "" or absent when not JupyterLab */
  jpThemeLight?: string;
  /** the classes of <html> and <body> */
  classes?: string[];
  /** <html>'s `theme` attribute (Colab) */
  colabTheme?: string;
  /** `(prefers-color-scheme: dark)` matches */
  prefersDark?: boolean;
  /** computed CSS custom properties by name, e.g. {"--jp-layout-color1": "#212121"} */
  vars?: Record<string, string>;
  /** <body>'s computed background color */
  pageBg?: string;
}

export const LIGHT: Theme = {
  dark: false, host: "none",
  bg: "#ffffff", soft: "#f6f7f9", fg: "#1f2933", fg2: "#3b4a5e", muted: "#6b7686",
  line: "#e5e7eb", line2: "#d5dae1", accent: "#f28e2b", select: "#1d4ed8",
  edge: "#a9b1bc", edgeHi: "#3d4756", grid: "#eef1f5", axis: "#9aa3ad", ink: "#111827",
  overlay: "rgba(255,255,255,0.9)", tooltipBg: "rgba(255,255,255,0.97)", tooltipLine: "#d6dae0",
  shadow: "rgba(20,30,50,0.12)",
  ok: "#137333", bad: "#b42318", badBg: "#fef3f2", badLine: "#fecdca", warn: "#8a4b00", warnBg: "#fff4e5",
};

export const DARK: Theme = {
  dark: true, host: "none",
  bg: "#1b1e24", soft: "#252a32", fg: "#e6e8eb", fg2: "#c5ccd6", muted: "#9aa3ae",
  line: "#343a45", line2: "#4a5261", accent: "#f5a04f", select: "#7cb0ff",
  edge: "#667082", edgeHi: "#c9d0da", grid: "#2b313a", axis: "#6f7886", ink: "#f3f4f6",
  overlay: "rgba(27,30,36,0.88)", tooltipBg: "rgba(37,42,50,0.97)", tooltipLine: "#4a5261",
  shadow: "rgba(0,0,0,0.45)",
  ok: "#5cc98a", bad: "#ff7b72", badBg: "#3a1e20", badLine: "#6e2b2e", warn: "#f0b45b", warnBg: "#3a2c14",
};

/** The host variables each theme field is taken from, first found wins. */
const HOST_VARS: Partial<Record<keyof Theme, string[]>> = {
  bg: ["--jp-layout-color1", "--vscode-notebook-outputContainerBackgroundColor", "--vscode-editor-background"],
  fg: ["--jp-ui-font-color1", "--vscode-editor-foreground", "--vscode-foreground"],
  muted: ["--jp-ui-font-color2", "--vscode-descriptionForeground"],
  line: ["--jp-border-color2", "--vscode-editorWidget-border", "--vscode-panel-border"],
};

export type RGBA = [number, number, number, number]; // 0..255, alpha 0..1

/** Parse "#rgb", "#rrggbb", "#rrggbbaa", "rgb(...)", "rgba(...)" (commas or spaces); null otherwise. */
export function parseColor(text: string | undefined | null): RGBA | null {
  const s = (text ?? "").trim().toLowerCase();
  let m = /^#([0-9a-f]{3,8})$/.exec(s);
  if (m) {
    let hex = m[1];
    if (hex.length === 3 || hex.length === 4) hex = [...hex].map((c) => c + c).join("");
    if (hex.length !== 6 && hex.length !== 8) return null;
    const n = (i: number) => parseInt(hex.slice(i, i + 2), 16);
    return [n(0), n(2), n(4), hex.length === 8 ? n(6) / 255 : 1];
  }
  m = /^rgba?\(([^)]*)\)$/.exec(s);
  if (m) {
    const parts = m[1].split(/[\s,/]+/).filter(Boolean);
    if (parts.length < 3) return null;
    const ch = (p: string) => (p.endsWith("%") ? (parseFloat(p) * 255) / 100 : parseFloat(p));
    const a = parts[3] === undefined ? 1 : parts[3].endsWith("%") ? parseFloat(parts[3]) / 100 : parseFloat(parts[3]);
    const out: RGBA = [ch(parts[0]), ch(parts[1]), ch(parts[2]), a];
    return out.every(Number.isFinite) ? out : null;
  }
  if (s === "white") return [255, 255, 255, 1];
  if (s === "black") return [0, 0, 0, 1];
  return null;
}

/** Relative luminance (WCAG) of an opaque color, 0..1. */
export function luminance(c: RGBA): number {
  const lin = (v: number) => {
    const x = v / 255;
    return x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
}

/** WCAG contrast ratio of two opaque colors (1..21). */
export function contrast(a: RGBA, b: RGBA): number {
  const la = luminance(a);
  const lb = luminance(b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/** `c` composited over the opaque `under`. */
export function flatten(c: RGBA, under: RGBA): RGBA {
  const a = c[3];
  return [c[0] * a + under[0] * (1 - a), c[1] * a + under[1] * (1 - a), c[2] * a + under[2] * (1 - a), 1];
}

const hex2 = (v: number) => Math.max(0, Math.min(255, Math.round(v))).toString(16).padStart(2, "0");
export const toHex = (c: RGBA): string => `#${hex2(c[0])}${hex2(c[1])}${hex2(c[2])}`;
const rgba = (c: RGBA, a: number): string => `rgba(${Math.round(c[0])},${Math.round(c[1])},${Math.round(c[2])},${a})`;
const mix = (a: RGBA, b: RGBA, t: number): RGBA => [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t, 1];

/** A CSS color as a 24-bit number (three.js), `fallback` when it can't be parsed. */
export function colorNumber(text: string, fallback = 0xffffff): number {
  const c = parseColor(text);
  return c ? (Math.round(c[0]) << 16) | (Math.round(c[1]) << 8) | Math.round(c[2]) : fallback;
}

/** Is the page dark, and who says so. */
function darkness(s: HostSignals): { dark: boolean; host: Theme["host"] } {
  const o = (s.override ?? "").trim().toLowerCase();
  if (o === "dark" || o === "light") return { dark: o === "dark", host: "page" };
  const jp = (s.jpThemeLight ?? "").trim().toLowerCase();
  if (jp === "true" || jp === "false") return { dark: jp === "false", host: "jupyterlab" };
  const classes = new Set(s.classes ?? []);
  if (classes.has("vscode-dark") || classes.has("vscode-high-contrast")) return { dark: true, host: "vscode" };
  if (classes.has("vscode-light") || classes.has("vscode-high-contrast-light")) return { dark: false, host: "vscode" };
  const colab = (s.colabTheme ?? "").trim().toLowerCase();
  if (colab === "dark" || colab === "light") return { dark: colab === "dark", host: "colab" };
  // marimo's ThemeProvider adds `${theme}-theme` (and a bare `dark`, too generic to trust)
  if (classes.has("dark-theme") || classes.has("light-theme")) return { dark: classes.has("dark-theme"), host: "marimo" };
  if (o === "auto") return { dark: !!s.prefersDark, host: "page" };
  const bg = parseColor(s.pageBg);
  if (bg && bg[3] > 0.5) return { dark: luminance(bg) < 0.18, host: "background" };
  return { dark: false, host: "none" };
}

/**
 * The theme for what the host says: the base palette of its lightness, with the host's own
 * background, text, caption and border colors where it gives them (and they agree with the
 * lightness: a variable left over from another theme is ignored), and the translucent colors
 * derived from the background.
 */
export function resolveTheme(signals: HostSignals = {}): Theme {
  const { dark, host } = darkness(signals);
  const t: Theme = { ...(dark ? DARK : LIGHT), host };
  const vars = signals.vars ?? {};
  const base = parseColor(t.bg)!;
  const hostBg = firstColor(vars, HOST_VARS.bg!);
  const bg = hostBg && hostBg[3] > 0.5 && luminance(flatten(hostBg, base)) < 0.4 === dark ? flatten(hostBg, base) : base;
  t.bg = toHex(bg);
  for (const key of ["fg", "muted", "line"] as const) {
    const c = firstColor(vars, HOST_VARS[key]!);
    if (!c) continue;
    const flat = flatten(c, bg);
    // text must stay readable, a border just visible
    const enough = key === "line" ? contrast(flat, bg) >= 1.1 : contrast(flat, bg) >= (key === "fg" ? 7 : 3);
    if (enough) t[key] = toHex(flat);
  }
  const fg = parseColor(t.fg)!;
  t.soft = toHex(mix(bg, fg, dark ? 0.06 : 0.035));
  t.overlay = rgba(bg, dark ? 0.88 : 0.9);
  t.tooltipBg = rgba(mix(bg, fg, dark ? 0.07 : 0), 0.97);
  return t;
}

function firstColor(vars: Record<string, string>, names: string[]): RGBA | null {
  for (const n of names) {
    const c = parseColor(vars[n]);
    if (c) return c;
  }
  return null;
}

/** Every host variable resolveTheme reads (watch.ts reads these from the page). */
export const HOST_VAR_NAMES: string[] = [...new Set(Object.values(HOST_VARS).flat())];

/** The theme as the widget's CSS custom properties: `--nnviz-bg`, `--nnviz-fg`, ... */
export function themeVars(t: Theme): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(t)) {
    if (typeof v !== "string" || k === "host") continue;
    out.push([`--nnviz-${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, v]);
  }
  return out;
}

/** Same colors (and darkness): no repaint needed. */
export function sameTheme(a: Theme, b: Theme): boolean {
  return (Object.keys(a) as (keyof Theme)[]).every((k) => a[k] === b[k]);
}
