// Bundles src/standalone.ts (the widget code plus an in-page model and plain HTML controls) into
// ../nnviz_widget/static/standalone.js: one IIFE that `nnviz_widget.store.to_html` inlines into
// a self-contained page (no CDN, no require.js, works from file:// offline).
import * as esbuild from "esbuild";
import { readFileSync } from "node:fs";

const outfile = "../nnviz_widget/static/standalone.js";
await esbuild.build({
  entryPoints: ["src/standalone.ts"],
  bundle: true,
  format: "iife",
  target: "es2020",
  minify: true,
  legalComments: "none",
  // the page may be opened next to other scripts: define nothing global but window.nnvizPage
  define: { "define.amd": "false" },
  outfile,
  logLevel: "warning",
});
// The bundle goes inside an inline <script>: it must not contain "</script".
if (/<\/script/i.test(readFileSync(outfile, "utf8"))) {
  throw new Error(`${outfile} contains "</script": it cannot be inlined`);
}
