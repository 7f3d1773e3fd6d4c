// The contract between the Python side (nnviz_widget/wire.py, widget.py) and the views.
// Everything here is plain data: the decoded, browser-side copy of the recorded run.

/** One kind's entry of `GraphInfo.kinds`, as `LayerKind` in graph.py sends it. */
export interface KindInfo {
  color: string;           // "#rrggbb" of its blocks, boxes and chips
  pass_through: boolean;   // one output element per input element: folds into neurons, drawn as a plate
  neurons: boolean;        // drawn as a neuron grid in 3D when small enough
  feeds_dense: boolean;    // its outputs feed a following dense layer as they are (graph.py only)
  label_tier: number;      // label priority: 3 computing, 2 input, 1 pass-through / output
  block_depth: number;     // thickness of its 3D block along the flow
  units_label: string;     // what `units` counts ("units", "channels")
}

export type Shape = (number | null)[];

/** One layer, as `Layer.to_dict()` in graph.py sends it (shapes are per sample, no batch). */
export interface LayerInfo {
  id: number;
  name: string;            // untrusted text: render with textContent, never innerHTML
  kind: string;            // a key of GraphInfo.kinds (LAYER_KINDS in graph.py)
  op: string;              // framework class or functional op, e.g. "Linear", "Conv2D", "add"
  output_shape: Shape;
  input_shapes: Shape[];
  units: number | null;    // neurons (dense) / channels (conv) ...
  param_shapes: Record<string, number[]>; // canonical: weight (out,in) dense, (out,in,*k) conv
  params: number;
  parent: string | null;
  detail: Record<string, unknown>;
}

/** One module of the model's module tree (graph.py `Module`), parents before children. */
export interface ModuleInfo {
  path: string;            // torch "transformer.h.3" / Keras "model/block": untrusted text
  parent: string | null;   // null at the top level
  class: string;           // framework class, e.g. "GPT2Block", "ModuleList"
  container: boolean;      // a pure container (ModuleList ...): always open, its children shown
  signature: string;       // equal for structurally identical blocks (they roll up: "GPT2Block × 12")
}

/** The `_graph` trait (JSON). */
export interface GraphInfo {
  framework: string;
  model_name: string;
  approximate: boolean;    // topology guessed from execution order: the view must say so
  notes: string[];
  /** "channels_first" (torch: C,H,W) or "channels_last" (Keras default: H,W,C) for output_shape. */
  data_format: "channels_first" | "channels_last";
  layers: LayerInfo[];     // topological order
  edges: [string, string][];
  /** dense layer name -> the layer whose neurons feed it (connections are drawn between them). */
  neuron_source: Record<string, string>;
  total_params: number;
  /** every layer kind's properties (read them through data/kinds.ts `kindInfo`). */
  kinds: Record<string, KindInfo>;
  /** the module tree (absent in older runs: the graph is drawn flat); layers' `parent` is the
   *  innermost module path. layout/hierarchy.ts cuts it at the `expanded` trait. */
  modules?: ModuleInfo[];
}

/** One entry of a snapshot header's `arrays` list: a typed array inside the snapshot's bytes. */
export interface ArrayRef {
  layer: string;
  param: string;           // "weight" | "bias" | ... ; for kind "hist" the param it summarises
  kind: "weight" | "grad" | "hist" | "index" | "act" | "act_index" | "boundary" | "field" | "top";
  dtype: "float16" | "float32" | "int32" | "uint32" | "uint8";
  shape: number[];
  offset: number;          // byte offset in the snapshot's data, aligned to 8
  /** for a sampled weight: the full shape it was sampled from (values at the "index" array's flat indices) */
  full_shape?: number[];
}

/** Per-layer scalar statistics of one snapshot (NaN/Inf ignored; counted in `nonfinite`). */
export interface LayerStats {
  mean: number; std: number; norm: number; min: number; max: number;
  nonfinite: number;       // count of NaN/Inf parameter values
  grad_norm: number | null;
  update_ratio: number | null;  // ||W_e - W_prev|| / ||W_prev||, null for the first snapshot
  hist_lo: number; hist_hi: number;  // 64-bin histogram range (the "hist" array holds counts)
}

/** The `header` trait of one Snapshot child widget (JSON); its `data` trait is the bytes. */
/**
 * The `header` of a child that holds several epochs (a fast loop's batch, sent at once): each
 * part is one snapshot whose arrays sit in the child's bytes from `base` (8-aligned), `size`
 * bytes long, at offsets relative to `base`.
 */
export interface ChunkHeader {
  v: number;
  chunk: { base: number; size: number; header: SnapshotHeader }[];
}

export interface SnapshotHeader {
  v: number;               // wire version (1)
  epoch: number;           // -1 for the "init" snapshot (before training)
  label: string;           // "init" | "epoch 3"
  metrics: Record<string, number | string>;  // non-finite values arrive as "NaN" / "Infinity" / "-Infinity"
  thinned?: boolean;       // weights dropped to stay within max_bytes (stats, hists, metrics kept)
  act_info?: Record<string, ActInfo>;
  health?: Record<string, Record<string, number | string | null>>;
  pred?: number[];         // predicted class per probe sample at this epoch (a language model: the next token's id)
  /** a language model's token id -> its text (the ids in "top" and "pred"; from the user's tokenizer) */
  tokens?: Record<string, string>;
  boundary?: BoundaryMeta;
  arrays: ArrayRef[];
  stats: Record<string, LayerStats>;
}

/** How one layer's probe activations were kept. Arrays of kind "act": param "act" holds
 *  (samples, ...shape) float values, channels first; param "act_mean" (mode "maps") holds
 *  (n, channels) means for every probe sample; param "attn" (attention layers) holds
 *  (samples, queries, keys) float16, the attention weights averaged over heads (rows sum to 1;
 *  possibly fewer samples than "act"); kind "act_index" (mode "units") the unit indices. */
export interface ActInfo {
  mode: "full" | "units" | "maps";
  shape: number[];         // per-sample shape of what is kept
  samples: number;         // probe samples in the "act" array
}

/** One layer's decoded probe activations in a snapshot (see `Snapshot.acts`). */
export interface ActEntry {
  act: Float32Array;
  mean: Float32Array | null;
  index: Uint32Array | null;
  info: ActInfo;
  /** mean attention over heads, (samples, queries, keys); kind "act", param "attn" */
  attn: Float32Array | null;
  attnShape: [number, number, number] | null;
  /** each head's attention, (samples, heads, queries, keys); kind "act", param "heads" */
  heads: Float32Array | null;
  headsShape: [number, number, number, number] | null;
}

/** A language model's likeliest next tokens per position (kind "top": "ids" uint32, "p"):
 *  (samples, positions, k) row-major, likeliest first; position t predicts token t + 1. */
export interface TopTokens {
  ids: Uint32Array;
  p: Float32Array;
  shape: [number, number, number];
}

/** Decision boundary of a 2-D-input model: kind "boundary" arrays ("value" (res,res) for one
 *  output; "class" uint8 + "confidence" (res,res) for several), kind "field" per hidden layer
 *  (units, field_res, field_res). Row 0 is y0 (bottom); columns go x0 -> x1. */
export interface BoundaryMeta {
  mode: "binary" | "regression" | "multiclass";
  classes: number;
  extent: [number, number, number, number];  // x0, x1, y0, y1
  res: number;
  field_res: number;
  lo?: number | string;
  hi?: number | string;
}

/** Health of one layer at one epoch (null where not applicable). */
export interface LayerHealth {
  dead: number | null;        // fraction of ReLU units never positive on the probe batch
  saturated: number | null;   // fraction of sigmoid/tanh outputs beyond 2% of either end
  grad_ratio: number | null;  // gradient norm / previous layer's
  update_ratio: number | null;
  grad_norm: number | null;
  act_nonfinite: number | null;
}

/** A token model's probe. `task` says what the output at a position is: "next" (a language
 *  model: the token after it; absent in older runs) or "position" (a per-position target such
 *  as a reverser's or a tagger's, `targets` then holding them per sample, negative: ignored). */
export interface TokenProbe {
  ids: number[][];
  text: string[][] | null;
  task?: "next" | "position";
  targets?: number[][];
}

/** `_probe` trait: the probe batch. */
export interface ProbeInfo {
  n: number;
  labels: number[] | null;
  input: string | null;        // the input layer's name (its "act" holds the probe, in init)
  image_shape: number[] | null; // [h, w] or [h, w, c] when the input reads as an image
  /** a language model's probe: token ids per sample (the first samples), and their text where
   *  a tokenizer was given (strings: rendered with textContent) */
  tokens?: TokenProbe | null;
}

/** A decoded snapshot: the header plus typed arrays (float16 widened to Float32Array). */
export interface Snapshot {
  epoch: number;
  label: string;
  metrics: Record<string, number>;   // NaN / Infinity restored
  stats: Record<string, LayerStats>;
  /** key `${layer}/${param}` -> values (Float32Array) for kind "weight" */
  weights: Map<string, Float32Array>;
  grads: Map<string, Float32Array>;
  hists: Map<string, Float32Array>;  // key `${layer}` -> 64 counts of all the layer's params
  /** key `${layer}/${param}` -> flat indices of a sampled weight (Uint32Array); see ArrayRef.full_shape */
  indices: Map<string, Uint32Array>;
  fullShapes: Map<string, number[]>;
  thinned: boolean;
  /** layer -> probe activations ("act": Float32Array (samples, ...shape)), and how they were kept;
   *  for an attention layer, "attn": its attention averaged over heads, (samples, queries, keys)
   *  row-major with `attnShape` = [samples, queries, keys] (null where the model doesn't expose it) */
  acts: Map<string, ActEntry>;
  health: Record<string, LayerHealth>;
  pred: number[];
  /** a language model's top tokens per position (null for other models) and the text of ids */
  top: TopTokens | null;
  tokens: Map<number, string>;
  boundary: { meta: BoundaryMeta; value: Float32Array | null; cls: Uint8Array | null; confidence: Float32Array | null } | null;
  /** layer -> per-neuron fields over the input plane (units * field_res * field_res) */
  fields: Map<string, Float32Array>;
}

/** A color mode's name: one of `_choices.color_by` (controls.py `CHOICES`); color/modes.ts says
 *  what each one shows. */
export type ColorBy = string;
export type DeltaRef = "previous" | "init";

/** The enum traits' values, sent once by Python as the `_choices` trait (controls.py `CHOICES`). */
export interface Choices {
  mode: string[];
  color_by: string[];
  delta_ref: string[];
}

/** Health badge thresholds (the same as nnviz_widget/probe.py). */
export const HEALTH_THRESHOLDS = { dead: 0.5, saturated: 0.5, gradLow: 1e-2, gradHigh: 1e2 };
export type Mode = "3d" | "2d";

/** The 3D camera as the `_camera` trait holds it: where it stands and the point it orbits. */
export interface Camera3D {
  position: [number, number, number];
  target: [number, number, number];
}
/** The 2D view's transform: zoom, then a translation in CSS pixels. */
export interface Camera2D {
  zoom: number;
  tx: number;
  ty: number;
}
/** `_camera`: each view writes its own mode's entry when the user moves it (a linked view,
 *  nnv.compare's "link views", gets the same dict through a jslink and applies it). */
export interface CameraState {
  "3d"?: Camera3D;
  "2d"?: Camera2D;
}

/**
 * Synced traits of the NNViz model the views read (anywidget `model.get(name)`):
 *   _graph: GraphInfo            _snapshots: string[]  ("IPY_MODEL_<id>" refs to Snapshot widgets,
 *                                                        each with traits header: SnapshotHeader, data: DataView)
 *   epoch: number (-1 = init)    layer: string ("" = none)   mode: Mode   color_by: ColorBy   _choices: Choices   _choice_labels: {trait: {value: label}}
 *   delta_ref: "previous" | "init"    max_connections: number (draw budget, default 20000)
 *   height: number (px)          _notice: string (e.g. "older epochs thinned to stay within 64 MB")
 *   sample: number (which probe sample lights the network in "activation" mode)   _probe: ProbeInfo
 *   _camera: CameraState (the user's 3D camera / 2D pan and zoom; {} until the user moves one)
 *   _layer_index / _mode_index / _color_index / _delta_index: number — mirrors of layer / mode /
 *   color_by / delta_ref that ipywidgets' Dropdown / ToggleButtons are jslinked to (selection widgets
 *   sync `index`, not `value`). _layer_index: 0 = no layer, i + 1 = _graph.layers[i];
 *   the other indices are positions in `_choices` (Choices: the enum lists, sent once by Python).
 *   shell/model.ts keeps each pair equal in the browser (one table, MIRRORS), so no kernel round
 *   trip is needed (and it works in an exported page).
 *
 * Data attributes on the view's root element (`.nnviz-root`), for tests and for CSS:
 *   data-ready="1" once the first frame is painted; data-mode; data-layer (selected name);
 *   data-epoch; data-color-by; data-connections-drawn; data-connections-total; data-layers (count);
 *   data-approximate="1" when the graph is approximate; data-frame (a counter bumped per painted frame);
 *   data-sample (the probe sample shown); data-badges: the health flags at the shown epoch,
 *   "layer:badge" joined by "," (badge: dead | saturated | vanishing | exploding | nan), e.g.
 *   "relu:dead,fc2:vanishing"; data-maps: the conv layers whose planes show the sample's feature
 *   maps now (3D), joined by ","; data-tab: "details" | "inside" (the side column's tab);
 *   data-zoom (2D: the view's zoom); data-coloring: what the connections' colors show, e.g.
 *   "gradient per connection" or "gradient norm per layer" (the legend's words);
 *   data-connection-colors: per layer with drawn connections, how many distinct colors they have
 *   now, "layer:count" joined by "," (1 where a layer is colored by one value).
 *   3D labels carry data-layer and data-badges.
 *   data-nodes: the drawn display nodes (layout/hierarchy.ts), "name" joined by "|" (a collapsed
 *   block: its module path, or "first..last" for a roll-up); data-blocks: the collapsed blocks'
 *   labels, "GPT2Block × 12" joined by "|"; data-expanded: the `expanded` trait joined by "|".
 */
export interface ViewState {
  epoch: number;
  layer: string;
  mode: Mode;
  colorBy: ColorBy;
  deltaRef: DeltaRef;
  maxConnections: number;
  /** probe sample (the `sample` trait, 0 when absent) that lights the network in "activation" mode,
   *  textures conv planes with its feature maps and drives the inside panel */
  sample: number;
  /** the module paths shown open (the `expanded` trait; layout/hierarchy.ts), [] when absent */
  expanded: string[];
}

// The slice of anywidget's model API used here.
type Callback = (...args: unknown[]) => void;
export interface AnyModel {
  get(name: string): any; // eslint-disable-line @typescript-eslint/no-explicit-any
  set(name: string, value: unknown): void;
  on(event: string, cb: Callback): void;
  off(event?: string | null, cb?: Callback | null): void;
  save_changes(): void;
  send?(content: unknown, callbacks?: unknown, buffers?: unknown[]): void;
  /** child models (the snapshots); a front-end may lack it: shell/ask.ts asks the kernel then */
  widget_manager?: { get_model(id: string): Promise<AnyModel> | AnyModel };
}
