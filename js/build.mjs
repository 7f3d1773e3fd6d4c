// Bundles src/index.ts into ../nnviz_widget/static/widget.js (ESM, for anywidget's _esm),
// with --tests bundles test/**/*.test.ts into test-dist/ (the same folders) for node's test runner, and with --dev
// writes the dev harness page (dev/index.html, the fake-model harness and an unminified widget
// bundle) into test-dist/dev/ (serve that folder, e.g. `python -m http.server -d test-dist/dev`).
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";

const args = new Set(process.argv.slice(2));

if (args.has("--tests")) {
  // test/ mirrors src/ (test/data/, test/layout/, ...): every *.test.ts below it
  const entries = readdirSync("test", { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".test.ts"))
    .map((f) => `test/${f}`);
  await esbuild.build({
    entryPoints: entries,
    bundle: true,
    platform: "node",
    format: "esm",
    outdir: "test-dist",
    outbase: "test",
    outExtension: { ".js": ".mjs" },
    logLevel: "warning",
  });
} else if (args.has("--dev")) {
  mkdirSync("test-dist/dev", { recursive: true });
  copyFileSync("dev/index.html", "test-dist/dev/index.html");
  await esbuild.build({
    entryPoints: ["dev/harness.ts"],
    bundle: true,
    format: "iife",
    target: "es2020",
    outfile: "test-dist/dev/harness.js",
    logLevel: "warning",
  });
  await esbuild.build({
    entryPoints: ["src/index.ts"],
    bundle: true,
    format: "esm",
    target: "es2020",
    sourcemap: "inline",
    define: { "define.amd": "false" },
    outfile: "test-dist/dev/widget.js",
    logLevel: "warning",
  });
} else {
  const options = {
    entryPoints: ["src/index.ts"],
    bundle: true,
    format: "esm",
    target: "es2020",
    minify: !args.has("--watch"),
    // The bundle must load on an embed page where require.js defines `define`.
    define: { "define.amd": "false" },
    outfile: "../nnviz_widget/static/widget.js",
    logLevel: "warning",
  };
  if (args.has("--watch")) {
    const ctx = await esbuild.context(options);
    await ctx.watch();
  } else {
    await esbuild.build(options);
  }
}
