import assert from "node:assert/strict";
import { test } from "node:test";
import { addStyle, styleSheet } from "../../src/styles/styles";

test("styleSheet: every part's rules scoped under .nnviz-root, added ones included", () => {
  assert.ok(styleSheet().includes(".nnviz-root .nnviz-legend {"));
  assert.ok(!styleSheet().includes(".nnviz-newpanel"));
  addStyle(".nnviz-newpanel { color: red; }");
  assert.ok(styleSheet().includes(".nnviz-root .nnviz-newpanel {"));
});
