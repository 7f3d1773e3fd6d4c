// The display graph: the layer graph cut at the module tree (graph.modules) by the `expanded`
// trait. What the 2D and 3D layouts draw is this graph, not the raw layers: a layer whose
// ancestor modules are all open is itself a node; a closed module whose ancestors are open is one
// "block" node standing for all its layers; a run of identical closed sibling blocks (same
// signature) is one roll-up node ("GPT2Block × 12"). Pure: no DOM (unit-tested in node).
//
// A click on a roll-up opens its first block (a plain module path, which Python's `expanded`
// validation accepts): the run then splits around it ("GPT2Block" open, "GPT2Block × 11" after).
// `expanded` may also hold a run's pseudo-path `${first}..${last}` (two sibling module paths;
// ".." never occurs in a path), which keeps those blocks from rolling up (`expandNode` with
// `{ unroll: true }`); Python does not write or accept such entries yet.
import type { GraphInfo, KindInfo, LayerInfo, ModuleInfo } from "../data/types";
import { hostEdges } from "./common";

/** The kind of a collapsed block's node (the views' kind table gets this entry). */
export const BLOCK_KIND = "block";
export const BLOCK_KIND_INFO: KindInfo = {
  color: "#7b6fb0", pass_through: false, neurons: false, feeds_dense: false, label_tier: 3, block_depth: 3, units_label: "layers",
};

/** One collapsed node of the display graph. */
export interface BlockNode {
  /** the node's name: the module path, or `${first}..${last}` for a roll-up */
  id: string;
  /** the module paths it stands for (one, or the rolled-up run in order) */
  paths: string[];
  cls: string;
  /** "GPT2Block", or "GPT2Block × 12" for a roll-up */
  label: string;
  /** its layers' names, in graph order */
  members: string[];
}

export interface Hierarchy {
  /** what the layouts draw: `graph` itself when nothing is collapsed */
  graph: GraphInfo;
  /** block node name -> block */
  blocks: Map<string, BlockNode>;
  /** every layer name -> the display node showing it (itself or its block) */
  hostOf: Map<string, string>;
  /** the module table by path (empty for a flat graph) */
  modules: Map<string, ModuleInfo>;
}

/** The pseudo-path of a run of sibling blocks (see the file comment). */
export function runId(first: string, last: string): string {
  return `${first}..${last}`;
}

function parseRun(id: string): [string, string] | null {
  const i = id.indexOf("..");
  return i > 0 ? [id.slice(0, i), id.slice(i + 2)] : null;
}

/** Module paths from the top down to `path` (itself included); [] for null. */
export function ancestry(modules: Map<string, ModuleInfo>, path: string | null): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (let p = path; p !== null && !seen.has(p); ) {
    seen.add(p);
    out.push(p);
    p = modules.get(p)?.parent ?? null;
  }
  return out.reverse();
}

/** The position of each module among its parent's children (module-table order). */
function siblingIndex(modules: ModuleInfo[]): Map<string, number> {
  const count = new Map<string | null, number>();
  const out = new Map<string, number>();
  for (const m of modules) {
    const k = count.get(m.parent) ?? 0;
    out.set(m.path, k);
    count.set(m.parent, k + 1);
  }
  return out;
}

const CACHE = new WeakMap<GraphInfo, Map<string, Hierarchy>>();

/** `hierarchy`, memoized per graph object and `expanded` (both views of a model share it). */
export function hierarchyOf(graph: GraphInfo, expanded: readonly string[]): Hierarchy {
  let byKey = CACHE.get(graph);
  if (!byKey) CACHE.set(graph, (byKey = new Map()));
  const key = expanded.join("\u0000");
  let h = byKey.get(key);
  if (!h) {
    if (byKey.size > 32) byKey.clear();
    h = hierarchy(graph, expanded);
    byKey.set(key, h);
  }
  return h;
}

/** The display graph of `graph` with the modules `expanded` open (containers are always open). */
export function hierarchy(graph: GraphInfo, expanded: readonly string[]): Hierarchy {
  const mods = graph.modules ?? [];
  const modules = new Map(mods.map((m) => [m.path, m]));
  const hostOf = new Map<string, string>();
  const blocks = new Map<string, BlockNode>();
  if (!mods.length) {
    for (const l of graph.layers) hostOf.set(l.name, l.name);
    return { graph, blocks, hostOf, modules };
  }
  const open = new Set(expanded);
  const sib = siblingIndex(mods);
  // runs the user opened: parent -> [first, last] sibling index ranges
  const unrolled: { parent: string | null; lo: number; hi: number }[] = [];
  for (const e of expanded) {
    const r = parseRun(e);
    const a = r && modules.get(r[0]);
    const b = r && modules.get(r[1]);
    if (!a || !b || a.parent !== b.parent) continue;
    const [i, j] = [sib.get(a.path)!, sib.get(b.path)!];
    unrolled.push({ parent: a.parent, lo: Math.min(i, j), hi: Math.max(i, j) });
  }
  const isOpen = (p: string) => modules.get(p)?.container === true || open.has(p);

  // 1. each layer's host: the outermost closed module on its path, else itself
  const order: string[] = []; // display node names in order of their first layer (topological)
  const members = new Map<string, string[]>();
  for (const l of graph.layers) {
    let host = l.name;
    for (const p of ancestry(modules, l.parent)) {
      if (!modules.has(p)) break; // a parent the table doesn't list: drawn as open
      if (!isOpen(p)) {
        host = p;
        break;
      }
    }
    hostOf.set(l.name, host);
    const list = members.get(host);
    if (list) list.push(l.name);
    else {
      members.set(host, [l.name]);
      order.push(host);
    }
  }
  const isBlock = (n: string) => modules.has(n) && !(members.get(n)?.length === 1 && members.get(n)![0] === n);
  if (!order.some(isBlock)) return { graph, blocks, hostOf, modules };

  // 2. roll up consecutive closed siblings with one signature (not in a run the user opened)
  const covered = (p: string) => {
    const m = modules.get(p)!;
    const i = sib.get(p)!;
    return unrolled.some((u) => u.parent === m.parent && u.lo <= i && i <= u.hi);
  };
  const nodes: { name: string; paths: string[] }[] = [];
  for (const name of order) {
    const prev = nodes[nodes.length - 1];
    const m = isBlock(name) ? modules.get(name)! : null;
    const pm = prev && isBlock(prev.paths[0]) ? modules.get(prev.paths[0])! : null;
    if (m && pm && m.signature && m.signature === pm.signature && m.parent === pm.parent && m.class === pm.class &&
        !covered(name) && !covered(pm.path)) {
      prev.paths.push(name);
      continue;
    }
    nodes.push({ name, paths: [name] });
  }

  // 3. the display layers: real layers as they are, blocks as synthetic "block" layers
  const byName = new Map(graph.layers.map((l) => [l.name, l]));
  const layers: LayerInfo[] = [];
  for (const n of nodes) {
    if (!isBlock(n.paths[0])) {
      const l = byName.get(n.name)!;
      layers.push(l.id === layers.length ? l : { ...l, id: layers.length });
      continue;
    }
    const m = modules.get(n.paths[0])!;
    const mem = n.paths.flatMap((p) => members.get(p) ?? []);
    const id = n.paths.length > 1 ? runId(n.paths[0], n.paths[n.paths.length - 1]) : n.paths[0];
    const label = n.paths.length > 1 ? `${m.class} × ${n.paths.length}` : m.class;
    for (const p of n.paths) for (const x of members.get(p) ?? []) hostOf.set(x, id);
    blocks.set(id, { id, paths: n.paths, cls: m.class, label, members: mem });
    const first = byName.get(mem[0])!;
    const last = byName.get(mem[mem.length - 1])!;
    layers.push({
      id: layers.length,
      name: id,
      kind: BLOCK_KIND,
      op: label,
      output_shape: last.output_shape,
      input_shapes: first.input_shapes,
      units: mem.length,
      param_shapes: {},
      params: mem.reduce((s, x) => s + (byName.get(x)?.params ?? 0), 0),
      parent: m.parent,
      detail: { module: m.class, paths: n.paths, layers: mem.length },
    });
  }

  // 4. edges between display nodes (deduplicated, no self-loops), neuron sources between shown layers
  const edges = hostEdges(graph.edges, hostOf);
  const neuronSource: Record<string, string> = {};
  for (const [d, s] of Object.entries(graph.neuron_source ?? {})) {
    if (hostOf.get(d) === d && hostOf.get(s) === s) neuronSource[d] = s;
  }
  const display: GraphInfo = {
    ...graph,
    layers,
    edges,
    neuron_source: neuronSource,
    kinds: { ...graph.kinds, [BLOCK_KIND]: graph.kinds?.[BLOCK_KIND] ?? BLOCK_KIND_INFO },
  };
  return { graph: display, blocks, hostOf, modules };
}

/** `expanded` after a click on display node `id`: a block opens; a roll-up opens its first block
 *  (with `unroll`: the run opens into its blocks, still closed, through its pseudo-path). */
export function expandNode(h: Hierarchy, expanded: readonly string[], id: string, opts: { unroll?: boolean } = {}): string[] {
  const b = h.blocks.get(id);
  if (!b) return [...expanded];
  const add = b.paths.length > 1 && opts.unroll ? id : b.paths[0];
  return expanded.includes(add) ? [...expanded] : [...expanded, add];
}

/** `expanded` with `path` (a module path or a run's pseudo-path) closed, and everything inside it. */
export function collapsePath(h: Hierarchy, expanded: readonly string[], path: string): string[] {
  let roots = [path];
  const r = parseRun(path);
  if (r) {
    // a run: its blocks, from first to last among their siblings
    const a = h.modules.get(r[0]);
    const kids = [...h.modules.values()].filter((m) => a && m.parent === a.parent).map((m) => m.path);
    const i = kids.indexOf(r[0]);
    const j = kids.indexOf(r[1]);
    if (i >= 0 && j >= 0) roots = kids.slice(Math.min(i, j), Math.max(i, j) + 1);
  }
  const inside = (p: string): boolean => {
    const q = parseRun(p);
    // a run sits among its blocks' siblings: inside what holds them, not inside its first block
    const chain = ancestry(h.modules, q ? h.modules.get(q[0])?.parent ?? null : p);
    return roots.some((x) => chain.includes(x));
  };
  return expanded.filter((p) => p !== path && !inside(p));
}

/** One step of the breadcrumb: a module (or run) that is open, and what to call it. */
export interface Crumb {
  path: string;
  label: string;
}

/**
 * The breadcrumb: the chain of open modules down to the last one opened (its open ancestors
 * first; containers, always open, are left out). [] when nothing is open.
 */
export function trail(h: Hierarchy, expanded: readonly string[]): Crumb[] {
  const open = expanded.filter((p) => h.modules.has(p) || isRun(h, p));
  const last = open[open.length - 1];
  if (last === undefined) return [];
  const r = parseRun(last);
  const chain = ancestry(h.modules, r ? r[0] : last).filter((p) => !h.modules.get(p)?.container);
  const out: Crumb[] = [];
  const set = new Set(open);
  const runCrumb = (id: string): Crumb => {
    const q = parseRun(id)!;
    return { path: id, label: `${shortName(h, q[0])}…${shortName(h, q[1])}` };
  };
  // an opened run that holds a module of the chain comes before it
  const runs = open.filter((p) => isRun(h, p));
  const mods = [...h.modules.values()];
  const runOf = (p: string) => runs.find((id) => {
    const q = parseRun(id)!;
    const parent = h.modules.get(p)?.parent;
    if (h.modules.get(q[0])?.parent !== parent) return false;
    const kids = mods.filter((m) => m.parent === parent).map((m) => m.path);
    const [i, j, k] = [kids.indexOf(q[0]), kids.indexOf(q[1]), kids.indexOf(p)];
    return Math.min(i, j) <= k && k <= Math.max(i, j);
  });
  for (const p of r ? chain.slice(0, -1) : chain) {
    if (!set.has(p)) continue;
    const run = runOf(p);
    if (run && run !== last && !out.some((c) => c.path === run)) out.push(runCrumb(run));
    out.push({ path: p, label: shortName(h, p) });
  }
  if (r) out.push(runCrumb(last));
  return out;
}

function isRun(h: Hierarchy, p: string): boolean {
  const r = parseRun(p);
  return !!r && h.modules.has(r[0]) && h.modules.has(r[1]);
}

/** A module's own name: its path less its parent's ("h.3" under "transformer": "h.3" when h is a container). */
function shortName(h: Hierarchy, path: string): string {
  let parent = h.modules.get(path)?.parent ?? null;
  // a container parent reads as part of the name ("h.3", not "3")
  while (parent !== null && h.modules.get(parent)?.container) parent = h.modules.get(parent)?.parent ?? null;
  if (parent !== null && path.startsWith(parent) && path.length > parent.length + 1) return path.slice(parent.length + 1);
  return path;
}

/** The name a node is labelled with: a block's class ("GPT2Block × 12"), a layer's name. */
export function nodeLabel(layer: LayerInfo): string {
  return layer.kind === BLOCK_KIND ? layer.op : layer.name;
}

/**
 * Where an expand / collapse happened: the first layer (graph order) drawn by another node in
 * `after` than in `before`, with both nodes; null when nothing changed. The views keep that spot
 * in place on screen.
 */
export function changedAt(graph: GraphInfo, before: Hierarchy, after: Hierarchy): { layer: string; from: string; to: string } | null {
  for (const l of graph.layers) {
    const from = before.hostOf.get(l.name) ?? l.name;
    const to = after.hostOf.get(l.name) ?? l.name;
    if (from !== to) return { layer: l.name, from, to };
  }
  return null;
}
