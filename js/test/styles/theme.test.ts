import assert from "node:assert/strict";
import { test } from "node:test";
import { DARK, LIGHT, colorNumber, contrast, parseColor, resolveTheme, sameTheme, themeVars, type RGBA } from "../../src/styles/theme";

const rgb = (s: string): RGBA => {
  const c = parseColor(s);
  assert.ok(c, `parses ${s}`);
  return c;
};
const readable = (fg: string, bg: string, min = 4.5) => contrast(rgb(fg), rgb(bg)) >= min;

test("parseColor: hex, short hex, rgb(), rgba() with commas or spaces; junk is null", () => {
  assert.deepEqual(parseColor("#fff"), [255, 255, 255, 1]);
  assert.deepEqual(parseColor(" #212121 "), [33, 33, 33, 1]);
  assert.deepEqual(parseColor("rgba(255,255,255,.87)"), [255, 255, 255, 0.87]);
  assert.deepEqual(parseColor("rgb(30 30 30 / 50%)"), [30, 30, 30, 0.5]);
  assert.equal(parseColor("var(--x)"), null);
  assert.equal(parseColor(""), null);
  assert.equal(colorNumber("#1b1e24"), 0x1b1e24);
  assert.equal(colorNumber("nonsense", 7), 7);
});

test("no host: the light theme", () => {
  const t = resolveTheme({});
  assert.equal(t.dark, false);
  assert.equal(t.host, "none");
  assert.equal(t.bg, "#ffffff");
  assert.ok(readable(t.fg, t.bg, 7));
  // prefers-color-scheme alone does not darken a host page that never said it follows it
  assert.equal(resolveTheme({ prefersDark: true }).dark, false);
});

test("JupyterLab light and dark: data-jp-theme-light decides, colors from --jp-*", () => {
  const light = resolveTheme({
    jpThemeLight: "true",
    vars: { "--jp-layout-color1": "white", "--jp-ui-font-color1": "rgba(0,0,0,.87)", "--jp-border-color2": "#e0e0e0" },
    prefersDark: true, // the OS preference loses to the Lab theme
  });
  assert.equal(light.dark, false);
  assert.equal(light.host, "jupyterlab");
  assert.equal(light.bg, "#ffffff");
  assert.equal(light.fg, "#212121");
  assert.equal(light.line, "#e0e0e0");

  const dark = resolveTheme({
    jpThemeLight: "false",
    vars: {
      "--jp-layout-color1": "#212121",
      "--jp-ui-font-color1": "rgba(255,255,255,.87)",
      "--jp-ui-font-color2": "rgba(255,255,255,.54)",
      "--jp-border-color2": "#424242",
    },
  });
  assert.equal(dark.dark, true);
  assert.equal(dark.bg, "#212121");
  assert.equal(dark.line, "#424242");
  assert.ok(readable(dark.fg, dark.bg, 7), "text reads on the Lab's background");
  assert.ok(readable(dark.muted, dark.bg, 3));
  for (const k of ["fg2", "ink", "select", "bad", "ok", "warn"] as const) assert.ok(readable(dark[k], dark.bg, 3), `${k} reads on dark`);
  // the translucent overlays follow the host's background
  assert.match(dark.overlay, /^rgba\(33,33,33,/);
});

test("JupyterLab dark with a leftover light variable keeps the dark palette's color", () => {
  const t = resolveTheme({ jpThemeLight: "false", vars: { "--jp-layout-color1": "#ffffff", "--jp-ui-font-color1": "#222" } });
  assert.equal(t.dark, true);
  assert.equal(t.bg, DARK.bg);
  assert.equal(t.fg, DARK.fg);
});

test("VS Code dark: body.vscode-dark and --vscode-* colors", () => {
  const t = resolveTheme({
    classes: ["vscode-dark"],
    vars: { "--vscode-editor-background": "#1e1e1e", "--vscode-editor-foreground": "#d4d4d4" },
  });
  assert.equal(t.dark, true);
  assert.equal(t.host, "vscode");
  assert.equal(t.bg, "#1e1e1e");
  assert.equal(t.fg, "#d4d4d4");
  assert.equal(resolveTheme({ classes: ["vscode-light"], prefersDark: true }).dark, false);
  assert.equal(resolveTheme({ classes: ["vscode-high-contrast"] }).dark, true);
});

test("Colab: html[theme=dark]", () => {
  const t = resolveTheme({ colabTheme: "dark" });
  assert.equal(t.dark, true);
  assert.equal(t.host, "colab");
  assert.equal(resolveTheme({ colabTheme: "light", prefersDark: true }).dark, false);
});

test("marimo: body.dark-theme / body.light-theme", () => {
  const t = resolveTheme({ classes: ["dark", "dark-theme"], pageBg: "rgb(255, 255, 255)" });
  assert.equal(t.dark, true);
  assert.equal(t.host, "marimo");
  assert.equal(t.bg, DARK.bg);
  assert.ok(readable(t.fg, t.bg, 7));
  const light = resolveTheme({ classes: ["light", "light-theme"], prefersDark: true, pageBg: "rgb(17, 17, 17)" });
  assert.equal(light.dark, false);
  assert.equal(light.host, "marimo");
  // a forced data-nnviz-theme still wins
  assert.equal(resolveTheme({ override: "light", classes: ["dark-theme"] }).dark, false);
});

test("the exported page (data-nnviz-theme=auto) follows prefers-color-scheme; light/dark force", () => {
  const dark = resolveTheme({ override: "auto", prefersDark: true });
  assert.equal(dark.dark, true);
  assert.equal(dark.host, "page");
  assert.equal(dark.bg, DARK.bg);
  assert.ok(readable(dark.fg, dark.bg, 7));
  assert.equal(resolveTheme({ override: "auto", prefersDark: false }).dark, false);
  assert.equal(resolveTheme({ override: "light", jpThemeLight: "false" }).dark, false);
  assert.equal(resolveTheme({ override: "dark" }).dark, true);
});

test("an unknown host with a dark opaque page background is dark; a transparent one is not", () => {
  assert.equal(resolveTheme({ pageBg: "rgb(17, 17, 17)" }).dark, true);
  assert.equal(resolveTheme({ pageBg: "rgba(0, 0, 0, 0)" }).dark, false);
  assert.equal(resolveTheme({ pageBg: "rgb(250, 250, 250)" }).dark, false);
});

test("themeVars: one --nnviz-* property per color; sameTheme compares colors", () => {
  const vars = new Map(themeVars(LIGHT));
  assert.equal(vars.get("--nnviz-bg"), "#ffffff");
  assert.equal(vars.get("--nnviz-tooltip-bg"), LIGHT.tooltipBg);
  assert.ok(!vars.has("--nnviz-dark") && !vars.has("--nnviz-host"));
  assert.ok(sameTheme(resolveTheme({}), resolveTheme({})));
  assert.ok(!sameTheme(resolveTheme({}), resolveTheme({ override: "dark" })));
});

test("both palettes: text, captions and marks read on their backgrounds", () => {
  for (const t of [LIGHT, DARK]) {
    assert.ok(readable(t.fg, t.bg, 7), "fg");
    assert.ok(readable(t.fg2, t.bg, 4.5), "fg2");
    assert.ok(readable(t.muted, t.bg, 3), "muted");
    assert.ok(readable(t.bad, t.badBg, 4.5), "bad on its background");
    assert.ok(readable(t.warn, t.warnBg, 4.5), "warn on its background");
  }
});
