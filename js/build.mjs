// Bundles src/index.ts into ../nnviz_widget/static/widget.js (ESM, for anywidget's _esm),
// and with --tests bundles test/*.test.ts into test-dist/ for node's test runner.
import * as esbuild from "esbuild";
import { readdirSync } from "node:fs";

const args = new Set(process.argv.slice(2));

if (args.has("--tests")) {
  const entries = readdirSync("test").filter((f) => f.endsWith(".test.ts")).map((f) => `test/${f}`);
  await esbuild.build({
    entryPoints: entries,
    bundle: true,
    platform: "node",
    format: "esm",
    outdir: "test-dist",
    outExtension: { ".js": ".mjs" },
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
