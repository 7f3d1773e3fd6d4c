"""The topology: ``torch.export.export`` (non-strict), else ``torch.fx`` symbolic tracing, else
the order in which layer modules ran (``Graph.approximate``). Traced ops are grouped by the
innermost *layer module* of their ``nn_module_stack``; ops that belong to no layer module
(``x.view``, ``out + x``, ``torch.cat``) become nodes of their own. The nodes, in topological
order with their parameters, become the neutral ``Graph``."""

from __future__ import annotations

import contextlib
import functools
import heapq
import inspect
import io
import itertools
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import torch
import torch.fx
from torch import nn
from torch.utils import _pytree as pytree

from ...graph import Graph, Layer, Shape, module_tree
from .describe import (
    Describe,
    _canonical_shape,
    _meta_shape,
    _Node,
    _output_node,
    _parent,
)
from .run import _Run, _tensor_leaves

# Traced ops that only move or re-label data: edges pass through them (names normalised by _norm).
_TRANSPARENT = frozenset(
    {
        "getitem",
        "getattr",
        "size",
        "dim",
        "item",
        "detach",
        "alias",
        "clone",
        "contiguous",
        "to",
        "to_copy",
        "type_as",
        "float",
        "double",
        "half",
        "lift_fresh_copy",
        "set_grad_enabled",
    }
)


#: pure containers: their children are shown in their place (Graph.modules' ``container``)
_CONTAINERS: tuple[type[nn.Module], ...] = (nn.ModuleList, nn.ModuleDict, nn.Sequential)

_TRANSPARENT_PREFIXES = ("sym_", "assert", "check", "functional_assert")


# A trace: (fx nodes in order, placeholder -> input index, node -> param name, user outputs).
_Trace = tuple[list[Any], dict[Any, int], dict[Any, str], list[Any]]


class Trace(Describe):
    """``graph()`` of ``TorchAdapter``: the probe's shapes, the traced topology, the Graph."""

    _graph: Graph | None  # set in TorchAdapter.__init__; built on the first graph()
    _output: Any = None  # the probe pass's output (while the graph is built)

    def graph(self) -> Graph:
        """The neutral graph (computed once, then cached)."""
        if self._graph is None:
            self._graph = self._build_graph()
        return self._graph

    def _build_graph(self) -> Graph:
        with self._guard(), torch.no_grad():
            run = self._forward()
        self._output = run.output
        self._owners_cache = None  # lazy modules may have just materialised
        notes = list(self.notes)
        reasons: list[str] = []
        built: tuple[list[_Node], list[tuple[str, str]]] | None = None
        if self._plain_chain(run):
            # an nn.Sequential of layer modules, each run once in order: the order of the calls
            # is the exact topology, and tracing 10,000 layers costs minutes
            built = self._from_order(run)
        for how, trace in (("torch.export", self._trace_export), ("torch.fx", self._trace_fx)):
            if built is not None:
                break
            try:
                with self._guard(), _quiet():
                    traced = trace()
                built = self._from_trace(*traced, run)
                break
            except Exception as err:
                reasons.append(f"{how} failed ({type(err).__name__}: {_first_line(err)})")
        self._output = None  # the logits of a language model can be large: not kept
        approximate = built is None
        if built is None:
            built = self._from_order(run)
            # one readable sentence for the view; the exceptions go to the log for whoever debugs
            logging.getLogger("nnviz_widget").info("tracing failed: %s", "; ".join(reasons))
            notes.append(
                "topology guessed from the order in which layers ran: torch.export and torch.fx "
                "could not trace forward (often Python control flow that depends on the data), "
                "so skip connections and functional ops are not shown. Tracing errors are logged "
                "on the 'nnviz_widget' logger at INFO level."
            )
        nodes, edges = built
        if not approximate:
            nodes, edges = _fold_plumbing(nodes, edges)
        nodes, edges, unused = self._add_unused(nodes, edges, run)
        if unused:
            notes.append(f"modules with parameters that forward never used: {unused}")
        layers = self._finish(nodes, edges)
        return Graph(
            layers=layers,
            edges=edges,
            framework="torch",
            model_name=type(self.model).__name__,
            approximate=approximate,
            notes=notes,
            modules=module_tree(layers, edges, self._module_info()),
        )

    def _module_info(self) -> dict[str, tuple[str | None, str, bool]]:
        """Module path -> (parent path, class name, pure container) for every submodule. A
        container is a plain ``ModuleList`` / ``ModuleDict`` / ``Sequential`` (not a subclass:
        a ``Sequential`` subclass is usually a named block of its own)."""
        return {
            path: (_parent(path), type(m).__name__, type(m) in _CONTAINERS)
            for path, m in self._mods.items()
            if path
        }

    def _plain_chain(self, run: _Run) -> bool:
        """Whether the model is a plain ``nn.Sequential`` chain: every module is a layer module
        or an ``nn.Sequential`` (the class itself, its own forward) of them, no module is there
        twice, each layer module ran exactly once, in module order, and every one computes
        something (export drops modules that trace no op, such as ``nn.Identity``)."""
        if type(self.model) is not nn.Sequential or self._layer_of.get("") is not None:
            return False  # not a Sequential, or an empty one (a leaf)
        layers: list[str] = []
        for path, m in self._mods.items():
            if self._layer_of[path] == path:
                if isinstance(m, nn.Identity) or m._forward_hooks or m._forward_pre_hooks:
                    return False
                layers.append(path)
            elif self._layer_of[path] is None:
                if type(m) is not nn.Sequential or "forward" in m.__dict__:
                    return False
                if m._forward_hooks or m._forward_pre_hooks:
                    return False
        if len(self._alias) != len(self._mods):
            return False  # a module under two names (called twice)
        ran = [p for p in run.order if self._layer_of.get(p) == p]
        return bool(layers) and ran == layers and all(run.calls[p].count == 1 for p in layers)

    def _trace_export(self) -> _Trace:
        kwargs = {**self._kwargs, **_export_flags(self.model, self._kwargs)}
        with _tensor_outputs(self.model, self._output):
            ep = torch.export.export(self.model, self._args, kwargs=kwargs or None, strict=False)
        sig = ep.graph_signature
        nodes = list(ep.graph.nodes)
        by_name = {n.name: n for n in nodes}
        placeholders = [n for n in nodes if n.op == "placeholder"]
        # Flattened user inputs -> forward argument index, by name where it matches.
        leaf_arg = [
            i
            for i, a in enumerate([*self._args, *self._kwargs.values()])
            for _ in range(max(1, len(pytree.tree_leaves(a))))
        ]
        inputs: dict[Any, int] = {}
        params: dict[Any, str] = {}
        k = 0
        for spec, node in zip(sig.input_specs, placeholders, strict=False):
            kind = spec.kind.name
            if kind == "USER_INPUT":
                if node.name in self._input_names:
                    inputs[node] = self._input_names.index(node.name)
                elif k < len(leaf_arg):
                    inputs[node] = leaf_arg[k]
                k += 1
            elif kind == "PARAMETER" and spec.target:
                params[node] = spec.target
        outputs = [
            by_name.get(getattr(spec.arg, "name", ""))
            for spec in sig.output_specs
            if spec.kind.name == "USER_OUTPUT"
        ]
        return nodes, inputs, params, [o for o in outputs if o is not None]

    def _trace_fx(self) -> _Trace:
        layer_of = self._layer_of
        canon = self._canon

        class _Tracer(torch.fx.Tracer):
            # Stop exactly at layer modules (torch.fx would stop at any torch.nn module).
            def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
                p = canon(qualname)
                return p is not None and layer_of.get(p) == p

        tracer = _Tracer()
        graph = tracer.trace(self.model)
        gm = torch.fx.GraphModule(tracer.root, graph)
        nodes = list(graph.nodes)
        inputs: dict[Any, int] = {}
        params: dict[Any, str] = {}
        for n in nodes:
            if n.op == "placeholder" and n.target in self._input_names:
                inputs[n] = self._input_names.index(n.target)
            elif n.op == "get_attr":
                with contextlib.suppress(AttributeError):
                    self.model.get_parameter(str(n.target))
                    params[n] = str(n.target)
        with contextlib.suppress(Exception), torch.no_grad():
            # Shapes for the functional nodes (tensor_meta); module nodes use the hook shapes.
            from torch.fx.passes.shape_prop import ShapeProp

            values = [*self._args, *self._kwargs.values()]
            ordered = [values[inputs[n]] for n in nodes if n.op == "placeholder" and n in inputs]
            ShapeProp(gm).propagate(*ordered)
        out_node = next(n for n in nodes if n.op == "output")
        outputs = [a for a in pytree.tree_leaves(out_node.args) if isinstance(a, torch.fx.Node)]
        return nodes, inputs, params, outputs

    def _from_trace(
        self,
        fx_nodes: list[Any],
        inputs: dict[Any, int],
        params: dict[Any, str],
        outputs: list[Any],
        run: _Run,
    ) -> tuple[list[_Node], list[tuple[str, str]]]:
        """Group traced ops into nodes and turn data dependencies into edges."""
        owners = self._owners()
        holder_of = {  # param object -> node of a container that holds it directly
            id(p): name
            for name, owned in owners.items()
            if self._layer_of[owned.path] is None
            for _, _, _, p in owned.params
        }
        nodes: dict[str, _Node] = {}
        edges: list[tuple[str, str]] = []
        taken = set(owners)
        for i, arg_name in enumerate(self._input_names):
            name = _unique(arg_name if arg_name not in taken else f"input_{arg_name}", taken)
            nodes[name] = self._input_node(name, i)
        input_node_names = list(nodes)
        producers: dict[Any, frozenset[str]] = {}
        is_data: dict[Any, bool] = {}  # derived from a user input (not just params / buffers)
        group_of_path: dict[str, str] = {}

        # modules that compute something (not only no-op copies such as x.to(its own dtype))
        computing = {
            path
            for n in fx_nodes
            if n.op == "call_function" or n.op == "call_method" or n.op == "call_module"
            if (path := self._resolve(n)[0]) is not None and _op_name(n) not in _NOOP_OPS
        }

        for idx, n in enumerate(fx_nodes):
            if n.op in ("placeholder", "get_attr"):
                src: frozenset[str] = frozenset()
                if n in inputs:
                    src = frozenset({input_node_names[inputs[n]]})
                elif n in params:
                    holder = holder_of.get(id(self.model.get_parameter(params[n])))
                    src = frozenset({holder}) if holder else frozenset()
                producers[n] = src
                is_data[n] = n in inputs
                continue
            if n.op == "output":
                continue
            ins = [
                a for a in pytree.tree_leaves((n.args, n.kwargs)) if isinstance(a, torch.fx.Node)
            ]
            src = frozenset().union(*(producers.get(a, frozenset()) for a in ins))
            is_data[n] = any(is_data.get(a, False) for a in ins)
            layer_path, container = self._resolve(n)
            if layer_path in computing and _op_name(n) in _NOOP_OPS:
                # a no-op at a module's edge (LlamaRMSNorm's x.to(float32)): export hands later
                # users of x this node, so a residual would seem to come out of the norm
                producers[n] = src
                continue
            if layer_path is not None:
                gname = group_of_path.get(layer_path)
                if gname is None:
                    gname = self._node_name(layer_path)
                    group_of_path[layer_path] = gname
                    nodes[gname] = self._module_node(gname, layer_path, idx, run, n)
            else:
                op = _op_name(n)
                if _is_transparent(op) or not src:
                    producers[n] = src  # bookkeeping, or built from constants / buffers only
                    continue
                gname = _unique(n.name, taken)
                n_in = sum(1 for a in ins if a in params or is_data.get(a) or _meta_shape(a))
                nodes[gname] = self._function_node(gname, op, idx, container, n, n_in, ins, is_data)
                if "attention" in op and len(n.args) >= 3:
                    # which nodes feed the scores (query, key) and which the values: health
                    # judges a layer that reaches the loss only through the scores on its own
                    def feeds(args: Any) -> list[str]:
                        leaves = pytree.tree_leaves(args)
                        got = set().union(*(producers.get(a, frozenset()) for a in leaves))
                        return sorted(got)

                    nodes[gname].detail["score_inputs"] = feeds(n.args[:2])
                    nodes[gname].detail["value_inputs"] = feeds(n.args[2])
            for h in src:
                if h not in nodes:  # a container's own params: placed before their first use
                    nodes[h] = self._holder_node(h, owners[h].path, idx - 0.5)
            edges.extend((p, gname) for p in src if p != gname)
            producers[n] = frozenset({gname})

        tensors = _tensor_leaves(run.output)
        for i, (out, t) in enumerate(zip(outputs, tensors, strict=False)):
            name = _unique("output" if len(tensors) == 1 else f"output_{i}", taken)
            nodes[name] = _output_node(name, t, float(len(fx_nodes) + i))
            edges.extend((p, name) for p in producers.get(out, frozenset()))
        return list(nodes.values()), _dedupe(edges)

    def _resolve(self, n: Any) -> tuple[str | None, str]:
        """(layer module path the op belongs to, or None; innermost container path)."""
        if n.op == "call_module":
            p = self._canon(str(n.target))
            if p is not None and self._layer_of.get(p) is not None:
                return self._layer_of[p], ""
            return None, p or ""
        stack = n.meta.get("nn_module_stack") or {}
        for value in reversed(list(stack.values())):
            raw = value[0] if isinstance(value, tuple) else str(value)
            p = self._canon(raw)
            if p is None:
                continue
            layer = self._layer_of.get(p)
            return (layer, "") if layer is not None else (None, p)
        return None, ""

    def _from_order(self, run: _Run) -> tuple[list[_Node], list[tuple[str, str]]]:
        """Fallback topology: layer modules chained in the order they first ran."""
        owners = self._owners()
        taken = set(owners)
        nodes: list[_Node] = []
        for i, arg_name in enumerate(self._input_names):
            name = _unique(arg_name if arg_name not in taken else f"input_{arg_name}", taken)
            nodes.append(self._input_node(name, i))
        chain: list[_Node] = []
        seen: set[str] = set()
        for idx, path in enumerate(run.order):
            layer = self._layer_of.get(path)
            if layer == path and path not in seen:
                seen.add(path)
                chain.append(self._module_node(self._node_name(path), path, idx, run, None))
            elif layer is None and self._node_name(path) in owners and path not in seen:
                seen.add(path)  # a container holding its own parameters
                chain.append(self._holder_node(self._node_name(path), path, idx))
        tensors = _tensor_leaves(run.output)
        outs = [
            _output_node(
                _unique("output" if len(tensors) == 1 else f"output_{i}", taken),
                t,
                float(len(run.order) + i),
            )
            for i, t in enumerate(tensors)
        ]
        edges: list[tuple[str, str]] = []
        first = chain[0].name if chain else None
        last = chain[-1].name if chain else None
        for inp in nodes:
            if first is not None:
                edges.append((inp.name, first))
            elif outs:
                edges.extend((inp.name, o.name) for o in outs)
        edges.extend((a.name, b.name) for a, b in itertools.pairwise(chain))
        if last is not None:
            edges.extend((last, o.name) for o in outs)
        return nodes + chain + outs, _dedupe(edges)

    def _add_unused(
        self, nodes: list[_Node], edges: list[tuple[str, str]], run: _Run
    ) -> tuple[list[_Node], list[tuple[str, str]], list[str]]:
        """Give every parameter owner a node, so that the graph counts every parameter."""
        have = {n.name for n in nodes}
        unused: list[str] = []
        last = max((n.priority for n in nodes if n.kind != "output"), default=0.0)
        for name, owned in self._owners().items():
            if name in have or not owned.params:
                continue
            unused.append(owned.path or name)
            if self._layer_of[owned.path] is None:
                nodes.append(self._holder_node(name, owned.path, last + 0.5))
            else:
                nodes.append(self._module_node(name, owned.path, last + 0.5, run, None))
        return nodes, edges, unused

    def _finish(self, nodes: list[_Node], edges: list[tuple[str, str]]) -> list[Layer]:
        """Topological order (ties broken by trace position), params attached, ids assigned."""
        owners = self._owners()
        order = _toposort(nodes, edges)
        layers: list[Layer] = []
        self._node_path = {}
        for i, n in enumerate(order):
            owned = owners.get(n.name) if n.path is not None else None
            param_shapes: dict[str, Shape] = {}
            count = 0
            detail = dict(n.detail)
            if owned is not None:
                for pname, sub, attr, p in owned.params:
                    param_shapes[pname] = tuple(_canonical_shape(sub, attr, p))
                    count += p.numel()
                if owned.tied:
                    detail["tied"] = dict(owned.tied)
            if n.path is not None and self._layer_of.get(n.path) == n.path:
                self._node_path[n.name] = n.path
            layers.append(
                Layer(
                    id=i,
                    name=n.name,
                    kind=n.kind,
                    op=n.op,
                    output_shape=n.output_shape,
                    input_shapes=n.input_shapes,
                    units=n.units,
                    param_shapes=param_shapes,
                    params=count,
                    parent=n.parent,
                    detail=detail,
                )
            )
        return layers


#: ops that return their input's values unchanged (a copy, an alias, a cast to the same dtype)
_NOOP_OPS = frozenset(
    {"to", "_to_copy", "to_copy", "alias", "clone", "detach", "contiguous", "lift_fresh_copy"}
)

#: tensor plumbing: ops that move or split values without computing anything
_PLUMBING_OPS = frozenset(
    {
        "split",
        "split_with_sizes",
        "chunk",
        "unbind",
        "getitem",
        "contiguous",
        "clone",
        "expand",
        "expand_as",
        "to",
        "type_as",
        "alias",
        "detach",
    }
)


def _fold_plumbing(
    nodes: list[_Node], edges: list[tuple[str, str]]
) -> tuple[list[_Node], list[tuple[str, str]]]:
    """Functional plumbing ops (``view``, ``transpose``, ``reshape``, ``split`` ...) inside a
    submodule fold into it: each is removed and its inputs wired to its consumers. A model's own
    top-level reshapes (a CNN's flatten before its classifier) stay: they are part of its story."""
    fold = {
        n.name
        for n in nodes
        if n.path is None
        and n.parent is not None
        and (n.kind == "reshape" or n.op in _PLUMBING_OPS)
    }
    if not fold:
        return nodes, edges
    preds: dict[str, list[str]] = {}
    succs: dict[str, list[str]] = {}
    for a, b in edges:
        preds.setdefault(b, []).append(a)
        succs.setdefault(a, []).append(b)

    def sources(name: str, seen: frozenset[str] = frozenset()) -> list[str]:
        out: list[str] = []
        for a in preds.get(name, []):
            if a in fold and a not in seen:
                out.extend(sources(a, seen | {a}))
            elif a not in fold:
                out.append(a)
        return out

    def sources_of(name: str) -> list[str]:
        return sources(name, frozenset({name}))

    for n in nodes:  # an attention op's named inputs, folded the same way as its edges
        for key in ("score_inputs", "value_inputs"):
            if key in n.detail:
                named = [s for a in n.detail[key] for s in (sources_of(a) if a in fold else [a])]
                n.detail[key] = sorted(set(named))
    kept: list[tuple[str, str]] = []
    have: set[tuple[str, str]] = set()
    for n in nodes:
        if n.name in fold:
            continue
        for a in sources(n.name):
            if a != n.name and (a, n.name) not in have:
                have.add((a, n.name))
                kept.append((a, n.name))
    return [n for n in nodes if n.name not in fold], kept


def _export_flags(model: nn.Module, given: dict[str, Any]) -> dict[str, Any]:
    """Keyword flags for export that leave the graph of the outputs as it is: ``use_cache=False``
    where the forward takes it (Hugging Face models), since a key/value cache object in the
    outputs is a type ``torch.export`` cannot flatten."""
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return {}
    return {"use_cache": False} if "use_cache" in params and "use_cache" not in given else {}


@contextlib.contextmanager
def _tensor_outputs(model: nn.Module, output: Any) -> Iterator[None]:
    """While exporting, a forward that returns only the tensors of the model's output, when that
    output holds objects ``torch.export`` cannot flatten (a cache, a custom result class). The
    instance's ``forward`` is replaced, not the module wrapped, so module paths stay the same."""
    leaves = pytree.tree_leaves(output)
    if all(isinstance(v, torch.Tensor | int | float | bool | str | None) for v in leaves):
        yield
        return
    original = model.forward
    own = model.__dict__.get("forward")  # a forward set on the instance by the user

    @functools.wraps(original)
    def forward(*args: Any, **kwargs: Any) -> tuple[torch.Tensor, ...]:
        return tuple(_tensor_leaves(original(*args, **kwargs)))

    model.forward = forward
    try:
        yield
    finally:
        if own is None:
            del model.forward  # back to the class's method
        else:
            model.forward = own


def _op_name(n: Any) -> str:
    """Normalised op name of an fx node: ``aten.add_.Tensor`` -> ``add``, ``_softmax`` -> ..."""
    if n.op == "call_method":
        raw = str(n.target)
    elif n.op == "call_module":
        raw = str(n.target).rpartition(".")[2]
    else:
        raw = getattr(n.target, "__name__", None) or str(n.target)
        raw = raw.split(".")[0]
    return raw.strip("_")


def _is_transparent(op: str) -> bool:
    return op in _TRANSPARENT or op.startswith(_TRANSPARENT_PREFIXES)


def _first_line(err: Exception) -> str:
    line = (str(err).strip().splitlines() or [""])[0]
    return line if len(line) <= 160 else line[:157] + "..."


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3`` ... whichever is free; marks it taken."""
    out, k = name, 2
    while out in taken:
        out, k = f"{name}_{k}", k + 1
    taken.add(out)
    return out


def _dedupe(edges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return list(dict.fromkeys((a, b) for a, b in edges if a != b))


def _toposort(nodes: list[_Node], edges: list[tuple[str, str]]) -> list[_Node]:
    """Kahn's algorithm, always taking the ready node that came first in the trace; nodes on a
    cycle (a module called twice around another) keep their trace order."""
    by_name = {n.name: n for n in nodes}
    indeg = dict.fromkeys(by_name, 0)
    succ: dict[str, list[str]] = {name: [] for name in by_name}
    for a, b in edges:
        succ[a].append(b)
        indeg[b] += 1
    rank = {n.name: i for i, n in enumerate(sorted(nodes, key=lambda n: n.priority))}
    ready = [(rank[n], n) for n, d in indeg.items() if d == 0]
    heapq.heapify(ready)
    out: list[_Node] = []
    done: set[str] = set()
    while len(out) < len(nodes):
        if not ready:  # a cycle: release the earliest remaining node
            name = min((n for n in by_name if n not in done), key=rank.__getitem__)
            indeg[name] = 0
            ready.append((rank[name], name))
        _, name = heapq.heappop(ready)
        if name in done:
            continue
        done.add(name)
        out.append(by_name[name])
        for b in succ[name]:
            indeg[b] -= 1
            if indeg[b] == 0 and b not in done:
                heapq.heappush(ready, (rank[b], b))
    return out


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence tracing noise: torch's log records, warnings, and the partial graph that
    ``torch.export`` prints to stderr when it fails."""
    log = logging.getLogger("torch")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        log.setLevel(level)
