// The one-way flow of js/src, checked on the import statements: a module imports only from its
// own folder or from a lower layer, so data <- color/layout <- views/panels <- shell <- index, and
// no view imports another view (nor a panel: they sit on the same layer).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join, normalize, relative } from "node:path";

/** The layer of each top-level folder (or entry file) of js/src; higher may import lower. */
const LAYERS: Record<string, number> = {
  util: 0, // DOM helpers, formatters, grid arithmetic
  styles: 0, // stylesheets (strings)
  data: 1, // wire types, decoding, the Store, what is read from it
  color: 2,
  layout: 2,
  view3d: 3,
  view2d: 3,
  panels: 3,
  shell: 4,
  "index.ts": 5,
  "standalone.ts": 6, // the exported page: mounts index.ts
};

const SRC = normalize(join(dirname(fileURLToPath(import.meta.url)), "..", "src"));

function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith(".ts")).map((f) => join(dir, f));
}

/** The relative module specifiers a file imports or re-exports (type-only ones included). */
export function importsOf(text: string): string[] {
  const out: string[] = [];
  const re = /^\s*(?:import|export)\s[^;]*?from\s+["'](\.[^"']+)["']|^\s*import\s+["'](\.[^"']+)["']/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1] ?? m[2]);
  return out;
}

/** The top folder (or entry file name) of a path inside src. */
function unitOf(path: string): string {
  const top = relative(SRC, path).split(/[\\/]/)[0];
  return top in LAYERS || !(`${top}.ts` in LAYERS) ? top : `${top}.ts`; // "./index" is index.ts
}

/** Why an import from `from` of `to` breaks the flow, or "" when it doesn't. */
export function violation(from: string, to: string): string {
  const a = unitOf(from);
  const b = unitOf(to);
  if (a === b) return "";
  const la = LAYERS[a];
  const lb = LAYERS[b];
  if (la === undefined) return `${a} is not a known layer (add it to LAYERS in test/imports.test.ts)`;
  if (lb === undefined) return `${b} is not a known layer (add it to LAYERS in test/imports.test.ts)`;
  if (lb > la) return `${a} (layer ${la}) imports ${b} (layer ${lb}), which is above it`;
  if (lb === la) return `${a} imports ${b}: two parts of the same layer (views never import views)`;
  return "";
}

test("the import statements of js/src follow data <- color/layout <- views/panels <- shell <- index", () => {
  const bad: string[] = [];
  const files = sources(SRC);
  assert.ok(files.length > 20, `found only ${files.length} sources under ${SRC}`);
  for (const f of files) {
    for (const spec of importsOf(readFileSync(f, "utf8"))) {
      const target = normalize(join(dirname(f), spec));
      const why = violation(f, target);
      if (why) bad.push(`${relative(SRC, f)}: import "${spec}": ${why}`);
    }
  }
  assert.deepEqual(bad, [], `imports against the flow:\n${bad.join("\n")}`);
});

test("the rule itself: a view importing a view, a layer importing upwards, same folder allowed", () => {
  const p = (s: string) => join(SRC, s);
  assert.match(violation(p("view2d/view2d.ts"), p("view3d/scene3d")), /same layer/);
  assert.match(violation(p("data/store.ts"), p("color/modes")), /above it/);
  assert.match(violation(p("layout/layout2d.ts"), p("color/images")), /same layer/);
  assert.equal(violation(p("layout/layout2d.ts"), p("layout/common")), "");
  assert.equal(violation(p("shell/widget.ts"), p("view3d/scene3d")), "");
  assert.deepEqual(importsOf(`import { a } from "./x";\nimport type {\n  B,\n} from "../y";\nexport { c } from "./z";\nimport "./side";\nimport * as t from "three";`), ["./x", "../y", "./z", "./side"]);
});
