// Synthetic graphs for the 2D layout / view tests (pure data).
import type { GraphInfo, LayerInfo, Shape } from "../../src/data/types";
import KINDS from "../../dev/kinds.json";

export function layer(
  id: number,
  name: string,
  kind: string,
  output_shape: Shape,
  extra: Partial<LayerInfo> = {},
): LayerInfo {
  return {
    id,
    name,
    kind,
    op: extra.op ?? kind,
    output_shape,
    input_shapes: extra.input_shapes ?? [],
    units: extra.units ?? null,
    param_shapes: extra.param_shapes ?? {},
    params: extra.params ?? 0,
    parent: extra.parent ?? null,
    detail: extra.detail ?? {},
  };
}

export function graphOf(layers: LayerInfo[], edges: [string, string][], neuron_source: Record<string, string> = {}): GraphInfo {
  return {
    framework: "torch",
    model_name: "Test",
    approximate: false,
    notes: [],
    data_format: "channels_first",
    layers,
    edges,
    neuron_source,
    total_params: layers.reduce((a, l) => a + l.params, 0),
    kinds: KINDS,
  };
}

/** input(1x28x28) -> flatten(784) -> fc1(128) -> relu -> fc2(10) */
export function mlp(): GraphInfo {
  const layers = [
    layer(0, "input", "input", [1, 28, 28], { op: "Input" }),
    layer(1, "flatten", "reshape", [784], { op: "Flatten", input_shapes: [[1, 28, 28]] }),
    layer(2, "fc1", "dense", [128], {
      op: "Linear", units: 128, params: 100480, input_shapes: [[784]],
      param_shapes: { weight: [128, 784], bias: [128] },
    }),
    layer(3, "relu", "activation", [128], { op: "ReLU", input_shapes: [[128]] }),
    layer(4, "fc2", "dense", [10], {
      op: "Linear", units: 10, params: 1290, input_shapes: [[128]],
      param_shapes: { weight: [10, 128], bias: [10] },
    }),
  ];
  const edges: [string, string][] = [["input", "flatten"], ["flatten", "fc1"], ["fc1", "relu"], ["relu", "fc2"]];
  return graphOf(layers, edges, { fc1: "input", fc2: "fc1" });
}

/** A small ResNet: stem, `blocks` residual blocks (conv-bn-relu-conv-bn + add), pool, fc. */
export function resnet(blocks = 2): GraphInfo {
  const L: LayerInfo[] = [];
  const E: [string, string][] = [];
  let id = 0;
  const add = (name: string, kind: string, shape: Shape, from: string[], extra: Partial<LayerInfo> = {}) => {
    L.push(layer(id++, name, kind, shape, extra));
    for (const f of from) E.push([f, name]);
    return name;
  };
  const conv = { op: "Conv2d", units: 16, params: 2320, param_shapes: { weight: [16, 16, 3, 3], bias: [16] } };
  let x = add("input", "input", [3, 32, 32], [], { op: "Input" });
  x = add("stem.conv", "conv", [16, 32, 32], [x], { ...conv, param_shapes: { weight: [16, 3, 3, 3], bias: [16] }, params: 448 });
  x = add("stem.relu", "activation", [16, 32, 32], [x], { op: "ReLU" });
  for (let b = 0; b < blocks; b++) {
    const p = `layer${b + 1}`;
    const skip = x;
    let y = add(`${p}.conv1`, "conv", [16, 32, 32], [x], { ...conv, parent: p });
    y = add(`${p}.bn1`, "norm", [16, 32, 32], [y], { op: "BatchNorm2d", params: 32, parent: p });
    y = add(`${p}.relu1`, "activation", [16, 32, 32], [y], { op: "ReLU", parent: p });
    y = add(`${p}.conv2`, "conv", [16, 32, 32], [y], { ...conv, parent: p });
    y = add(`${p}.bn2`, "norm", [16, 32, 32], [y], { op: "BatchNorm2d", params: 32, parent: p });
    y = add(`${p}.add`, "merge", [16, 32, 32], [y, skip], { op: "add", parent: p });
    x = add(`${p}.relu2`, "activation", [16, 32, 32], [y], { op: "ReLU", parent: p });
  }
  x = add("pool", "pool", [16, 1, 1], [x], { op: "AdaptiveAvgPool2d" });
  x = add("flatten", "reshape", [16], [x], { op: "Flatten" });
  add("fc", "dense", [10], [x], { op: "Linear", units: 10, params: 170, param_shapes: { weight: [10, 16], bias: [10] } });
  return graphOf(L, E, { fc: "pool" });
}

/** n layers in a chain (input, then alternating conv / relu). */
export function chain(n: number): GraphInfo {
  const L: LayerInfo[] = [];
  const E: [string, string][] = [];
  for (let i = 0; i < n; i++) {
    const kind: string = i === 0 ? "input" : i % 2 ? "conv" : "activation";
    L.push(layer(i, `l${i}`, kind, [8, 8, 8]));
    if (i) E.push([`l${i - 1}`, `l${i}`]);
  }
  return graphOf(L, E);
}
