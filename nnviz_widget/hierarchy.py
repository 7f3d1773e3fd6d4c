"""The module tree's cut: which modules a view shows open, and what it then shows.

Pure functions of a ``Graph`` (its ``layers``, ``edges`` and ``modules``): the reference for the
browser, which makes the same cut in TypeScript. Terms:

* a module is *open* when its path is in ``expanded``; a *container* (``Module.container``:
  torch ``ModuleList`` / ``ModuleDict`` / ``Sequential`` below the model) is always open;
* a layer is shown when all its ancestor modules are open; otherwise the *outermost* closed
  ancestor stands for it (one display node per closed block);
* a module's *depth* is the number of non-container modules above it (GPT-2: ``transformer``
  0, ``transformer.h`` a container, ``transformer.h.3`` 1, ``transformer.h.3.attn`` 2).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from .graph import Graph, Layer, Module

#: graphs with more layers than this open collapsed to their top-level blocks
COLLAPSE_ABOVE = 60
#: a module holding more than this share of its parent's layers opens with its parent
DOMINANT_SHARE = 0.8


def modules(graph: Graph) -> dict[str, Module]:
    """Path -> module, in the graph's order (parents first)."""
    return {m.path: m for m in graph.modules}


def depths(graph: Graph) -> dict[str, int]:
    """Path -> depth (the number of non-container modules above it)."""
    out: dict[str, int] = {}
    by_path = modules(graph)
    for m in graph.modules:  # parents first, so a parent's depth is known
        if m.parent is None:
            out[m.path] = 0
        else:
            up = by_path[m.parent]
            out[m.path] = out[m.parent] + (0 if up.container else 1)
    return out


def at_depth(graph: Graph, depth: int) -> list[str]:
    """``expanded`` for ``viz.depth = depth``: every non-container module of depth < ``depth``."""
    d = depths(graph)
    return [m.path for m in graph.modules if not m.container and d[m.path] < depth]


def _summed_up(graph: Graph, value: Callable[[Layer], int]) -> dict[str, int]:
    """Path -> ``value`` summed over the layers inside the module (at any depth)."""
    by_path = modules(graph)
    out = dict.fromkeys(by_path, 0)
    for layer in graph.layers:
        p = layer.parent
        while p is not None and p in by_path:
            out[p] += value(layer)
            p = by_path[p].parent
    return out


def layer_counts(graph: Graph) -> dict[str, int]:
    """Path -> the number of layers inside the module (at any depth)."""
    return _summed_up(graph, lambda _layer: 1)


def block_totals(graph: Graph) -> dict[str, int]:
    """Path -> the parameter count of the module (its layers' own counts, summed)."""
    return _summed_up(graph, lambda layer: layer.params)


def default_expanded(graph: Graph) -> list[str]:
    """What a view opens with. Up to ``COLLAPSE_ABOVE`` layers: every module open. Above it:
    collapsed to the top-level blocks, except that a module holding more than
    ``DOMINANT_SHARE`` of its parent's layers (of all layers, at the top) opens too, and so on
    down: GPT-2's ``transformer`` opens, so it shows wte, wpe, drop, 12 × GPT2Block, ln_f,
    lm_head."""
    if len(graph.layers) <= COLLAPSE_ABOVE:
        return [m.path for m in graph.modules if not m.container]
    counts = layer_counts(graph)
    shown: dict[str | None, list[str]] = {}  # open module (None: the model) -> shown children
    by_path = modules(graph)
    for m in graph.modules:
        p = m.parent
        while p is not None and by_path[p].container:
            p = by_path[p].parent  # a container's children show in its place
        if not m.container:
            shown.setdefault(p, []).append(m.path)
    opened: list[str] = []
    todo: list[tuple[str | None, int]] = [(None, len(graph.layers))]
    while todo:
        at, total = todo.pop()
        for child in shown.get(at, []):
            if counts[child] > DOMINANT_SHARE * total:
                opened.append(child)
                todo.append((child, counts[child]))
    return opened


def visible(graph: Graph, expanded: list[str] | set[str]) -> list[str]:
    """The display nodes of a cut, in topological order: each layer whose ancestors are all
    open (by its name), else its outermost closed ancestor (by its module path), once."""
    by_path = modules(graph)
    open_ = set(expanded)
    out: dict[str, None] = {}
    for layer in graph.layers:
        out[_shown_as(layer.name, layer.parent, by_path, open_)] = None
    return list(out)


def visible_edges(graph: Graph, expanded: list[str] | set[str]) -> list[tuple[str, str]]:
    """The graph's edges between the display nodes of a cut (edges inside a block dropped)."""
    by_path = modules(graph)
    open_ = set(expanded)
    node = {x.name: _shown_as(x.name, x.parent, by_path, open_) for x in graph.layers}
    out: dict[tuple[str, str], None] = {}
    for a, b in graph.edges:
        if node[a] != node[b]:
            out[(node[a], node[b])] = None
    return list(out)


def check_path(graph: Graph, path: str) -> Module:
    """The module at ``path``; a ValueError naming the close matches where there is none."""
    by_path = modules(graph)
    if path in by_path:
        return by_path[path]
    if not by_path:
        raise ValueError(f"no module {path!r}: this graph has no module tree (a flat model)")
    close = difflib.get_close_matches(path, list(by_path), n=5, cutoff=0.5)
    hint = f"did you mean {', '.join(map(repr, close))}?" if close else "see viz.graph.modules"
    raise ValueError(f"no module {path!r} in {graph.model_name or 'the graph'}; {hint}")


def _shown_as(name: str, parent: str | None, by_path: dict[str, Module], open_: set[str]) -> str:
    shown = name
    p = parent
    while p is not None and p in by_path:
        m = by_path[p]
        if not m.container and p not in open_:
            shown = p  # keep climbing: the outermost closed ancestor wins
        p = m.parent
    return shown
