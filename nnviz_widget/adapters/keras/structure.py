"""The graph of a Keras model. Sequential and functional models are read from their functional
graph (the ``Node`` objects Keras keeps for every layer call), so the topology is exact: several
inputs and outputs, residual ``Add``/``Concatenate`` edges, shared layers (one node, several
edges) and nested Sequential / functional models (expanded, their layers get ``parent`` = the
model path). Subclassed models (a custom ``call``) have no graph to read: their layers become a
chain in the order they were called on the probe (``approximate=True``)."""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Iterator
from typing import Any

import keras

from ...graph import Graph, Layer, Shape, module_tree
from ..base import ModelAdapter
from .describe import _canonical, _canonical_shape, describe_layer

try:  # internal, but the only way to tell a graph-network model from a subclassed one
    from keras.src.models.functional import Functional as _Functional
except ImportError:  # pragma: no cover - other Keras 3 layouts
    _Functional = None


class Structure(ModelAdapter):
    """``KerasAdapter``'s graph, read once at construction, and the tables a pass reads it by."""

    # set in KerasAdapter.__init__
    _probe: Any  # the probe batch (numpy, as given), or None (run.py makes it)
    _net: Any  # the Functional to read, or None (subclassed)
    _graph: Graph
    _nodes: dict[int, str]  # id(keras op / layer) -> graph node name
    _vars: list[tuple[str, str, Any, str]]  # (node, canonical name, var, how)
    _layers: list[Layer]  # the graph being built
    _edges: list[tuple[str, str]]
    _assigned: set[int]  # ids of variables already counted in some node
    _output_names: list[str]
    _leaves: list[tuple[Any, str | None]]  # subclassed: (graph layer, parent)
    _modules: dict[str, tuple[str | None, str, bool]]  # nested path -> (parent, class, False)

    def _functional_graph(self, net: Any) -> Graph:
        """Nodes and edges read from the functional graph; nested graph networks expanded."""
        sources: list[list[str]] = []
        for t in net.inputs:
            op = t._keras_history.operation
            name = self._add_node(op, None, tuple(t.shape[1:]), [])
            sources.append([name])
        outs = self._walk(net, sources, None)
        self._add_outputs([tuple(t.shape[1:]) for t in net.outputs], outs)
        self._add_leftovers()
        return Graph(
            layers=self._layers,
            edges=self._edges,
            framework="keras",
            model_name=str(self.model.name),
            data_format=keras.config.image_data_format(),
            modules=self._module_tree(),
        )

    def _module_tree(self) -> list[Any]:
        """``Graph.modules``: the nested models, plus the blocks named in flat layer names."""
        known = dict(self._modules)
        known.update(_name_blocks(self._layers, known))
        return module_tree(self._layers, self._edges, known)

    def _walk(self, net: Any, sources: list[list[str]], parent: str | None) -> list[list[str]]:
        """Add the nodes of graph network ``net`` whose inputs come from ``sources``.

        Returns, for each output of ``net``, the graph nodes that produce it.
        """
        producers: dict[int, list[str]] = {
            id(t): s for t, s in zip(net.inputs, sources, strict=False)
        }
        for depth in sorted(net._nodes_by_depth, reverse=True):
            for node in net._nodes_by_depth[depth]:
                op = node.operation
                if node.is_input or op is None:
                    continue  # input tensors are already mapped
                ins = list(node.input_tensors)
                inner = _graph_network(op)
                if inner is not None and len(inner.inputs) == len(ins):
                    path = _join(parent, str(op.name))
                    self._modules[path] = (parent, type(op).__name__, False)
                    outs = self._walk(inner, [producers.get(id(t), []) for t in ins], path)
                    for t, s in zip(node.outputs, outs, strict=False):
                        producers[id(t)] = s
                    continue
                name = self._nodes.get(id(op))
                if name is None:  # a shared layer keeps its first call's shapes
                    name = self._add_node(
                        op,
                        parent,
                        _per_sample(node.outputs[0].shape) if node.outputs else (),
                        [_per_sample(t.shape) for t in ins],
                    )
                for t in ins:
                    for src in producers.get(id(t), []):
                        self._add_edge(src, name)
                for t in node.outputs:
                    producers[id(t)] = [name]
        return [producers.get(id(t), []) for t in net.outputs]

    def _subclassed_graph(
        self, calls: list[tuple[Any, Any, list[Any]]], outputs: list[Any]
    ) -> Graph:
        """A chain of the layers ``_leaves`` in the order ``calls`` (layer, output, inputs)
        called them on the probe (approximate); ``outputs``: the model's, on the probe."""
        inputs = keras.tree.flatten(self._probe) if self._probe is not None else []
        chain = []
        for i, x in enumerate(inputs):
            name = self._unique("input" if len(inputs) == 1 else f"input_{i}")
            self._layers.append(
                Layer(
                    id=len(self._layers),
                    name=name,
                    kind="input",
                    op="Input",
                    output_shape=tuple(int(d) for d in x.shape[1:]),
                )
            )
            chain.append(name)
        parents = {id(layer): parent for layer, parent in self._leaves}
        called: set[int] = set()
        prev = list(chain)
        for layer, out, ins in calls:
            if id(layer) in called:
                continue
            called.add(id(layer))
            name = self._add_node(
                layer,
                parents.get(id(layer)),
                _value_shape(out),
                [_value_shape(x) for x in ins],
            )
            for p in prev:
                self._add_edge(p, name)
            prev = [name]
        self._add_outputs([_value_shape(o) for o in outputs], [prev] * len(outputs))
        uncalled = [(layer, parent) for layer, parent in self._leaves if id(layer) not in called]
        for layer, parent in uncalled:
            self._add_node(layer, parent, (), [])
        if uncalled and self._probe is not None:
            self.notes.append(
                "not called on the probe (shown without edges): "
                + ", ".join(str(layer.name) for layer, _ in uncalled)
            )
        self._add_leftovers()
        self.notes.insert(
            0,
            "subclassed model: the topology is the order in which layers were called on the "
            "probe (a chain), not a traced graph",
        )
        return Graph(
            layers=self._layers,
            edges=self._edges,
            framework="keras",
            model_name=str(self.model.name),
            approximate=True,
            data_format=keras.config.image_data_format(),
            modules=self._module_tree(),
        )

    def _unique(self, name: str, parent: str | None = None) -> str:
        taken = {layer.name for layer in self._layers}
        if name not in taken:
            return name
        if parent and f"{parent}/{name}" not in taken:
            return f"{parent}/{name}"
        k = 1
        while f"{name}_{k}" in taken:
            k += 1
        return f"{name}_{k}"

    def _add_edge(self, a: str, b: str) -> None:
        if (a, b) not in self._edges:
            self._edges.append((a, b))

    def _add_node(self, obj: Any, parent: str | None, out: Shape, ins: list[Shape]) -> str:
        """Add one graph node for keras layer/op ``obj`` and claim its not-yet-claimed weights."""
        name = self._unique(str(getattr(obj, "name", type(obj).__name__)), parent)
        kind, op, units, detail = describe_layer(obj, out, ins)
        variables = [v for v in getattr(obj, "weights", []) if id(v) not in self._assigned]
        self._assigned.update(id(v) for v in variables)
        shapes: dict[str, Shape] = {}
        for canon, v, how in _canonical(obj, kind, variables):
            self._vars.append((name, canon, v, how))
            shapes[canon] = _canonical_shape(tuple(int(d) for d in v.shape), how)
        self._layers.append(
            Layer(
                id=len(self._layers),
                name=name,
                kind=kind,
                op=op,
                output_shape=out,
                input_shapes=ins,
                units=units,
                param_shapes=shapes,
                params=sum(math.prod(v.shape) for v in variables),
                parent=parent,
                detail=detail,
            )
        )
        self._nodes[id(obj)] = name
        return name

    def _add_outputs(self, shapes: list[Shape], producers: list[list[str]]) -> None:
        """One "output" node per model output, fed by the node that produces it."""
        for i, (shape, srcs) in enumerate(zip(shapes, producers, strict=False)):
            name = self._unique("output" if len(shapes) == 1 else f"output_{i}")
            self._layers.append(
                Layer(
                    id=len(self._layers),
                    name=name,
                    kind="output",
                    op="Output",
                    output_shape=shape,
                    input_shapes=[shape],
                )
            )
            self._output_names.append(name)
            for s in srcs:
                self._add_edge(s, name)

    def _add_leftovers(self) -> None:
        """Weights of the model that no layer claimed (e.g. created in the model itself)."""
        rest = [v for v in self.model.weights if id(v) not in self._assigned]
        if not rest:
            return
        name = self._unique(str(self.model.name))
        self._assigned.update(id(v) for v in rest)
        shapes: dict[str, Shape] = {}
        for canon, v, how in _canonical(self.model, "other", rest):
            self._vars.append((name, canon, v, how))
            shapes[canon] = tuple(int(d) for d in v.shape)
        self._layers.append(
            Layer(
                id=len(self._layers),
                name=name,
                kind="other",
                op=type(self.model).__name__,
                param_shapes=shapes,
                params=sum(math.prod(v.shape) for v in rest),
                detail={"own_weights": True},
            )
        )
        self.notes.append(f"{name!r} holds the model's own weights (not in any layer)")


def _like_inputs(net: Any, inputs: Any) -> Any:
    """``inputs`` nested like ``net``'s own inputs (one array vs a list of one), which spares
    Keras' "structure of inputs doesn't match" warning."""
    struct = getattr(net, "_inputs_struct", None)
    single = not isinstance(inputs, list | tuple | dict)
    if isinstance(struct, list | tuple) and len(struct) == 1 and single:
        return [inputs]
    if not isinstance(struct, list | tuple | dict) and isinstance(inputs, list | tuple):
        return inputs[0] if len(inputs) == 1 else inputs
    return inputs


def _graph_network(model: Any) -> Any:
    """The Functional graph behind ``model`` (itself, or a built Sequential's), else None.

    A Functional subclass that overrides ``call`` is treated as subclassed: its graph may not be
    what runs.
    """
    if isinstance(model, keras.Sequential):
        return getattr(model, "_functional", None)
    if (
        _Functional is not None
        and isinstance(model, _Functional)
        and type(model).call is _Functional.call
    ):
        return model
    return None


def _sublayers(layer: Any) -> list[Any]:
    return list(layer._flatten_layers(include_self=False, recursive=False))


def _has_own_weights(layer: Any) -> bool:
    return bool(
        list(getattr(layer, "_trainable_variables", []))
        + list(getattr(layer, "_non_trainable_variables", []))
    )


def _node_layers(
    model: Any, modules: dict[str, tuple[str | None, str, bool]] | None = None
) -> list[tuple[Any, str | None]]:
    """The layers of a subclassed model that become graph nodes.

    A layer of a known kind (Dense, LSTM, MultiHeadAttention ...) is one node even if it holds
    sublayers; an unknown container without weights of its own (a custom block, a nested
    Sequential) is looked into, its layers getting the container's path as ``parent`` (and
    ``modules``, where given, gets path -> (parent, class name, False) of each container).
    """
    found: list[tuple[Any, str | None]] = []
    seen: set[int] = set()

    def visit(layer: Any, parent: str | None) -> None:
        for sub in _sublayers(layer):
            if id(sub) in seen:
                continue  # shared: one node
            seen.add(id(sub))
            kind = describe_layer(sub)[0]
            if kind == "input":
                continue  # a nested Sequential's InputLayer is never called
            if kind != "other" or not _sublayers(sub) or _has_own_weights(sub):
                found.append((sub, parent))
            else:
                path = _join(parent, str(sub.name))
                if modules is not None:
                    modules[path] = (parent, type(sub).__name__, False)
                visit(sub, path)

    visit(model, None)
    return found


@contextlib.contextmanager
def _patched_calls(
    layers: list[Any], make: Callable[[Any, Callable[..., Any]], Callable[..., Any]]
) -> Iterator[None]:
    """Temporarily replace each layer's ``call`` by ``make(layer, original)``; always restored.

    The wrapper is set on the instance with ``object.__setattr__`` so that Keras' attribute
    tracking (and torch's Module bookkeeping) never sees it, and the instance attribute is removed
    afterwards (or the one that was there before is put back).
    """
    saved: list[tuple[Any, bool, Any]] = []
    try:
        for layer in layers:
            had = "call" in vars(layer)
            saved.append((layer, had, vars(layer).get("call")))
            object.__setattr__(layer, "call", make(layer, layer.call))
        yield
    finally:
        for layer, had, old in reversed(saved):
            if had:
                object.__setattr__(layer, "call", old)
            else:
                object.__delattr__(layer, "call")


#: Blocks named in the layer names of flat models (keras.applications builds ResNet50 and
#: MobileNetV2 as one functional graph, with no nested models): (pattern, class of the stage,
#: class of the block). ``stage`` and ``block`` name the groups; a stage holds its blocks.
_NAME_BLOCKS: tuple[re.Pattern[str], ...] = (
    # ResNet / ResNetV2 / DenseNet: conv2_block1_1_conv -> stage conv2, block conv2_block1
    re.compile(r"^(?P<block>(?P<stage>conv\d+)_block\d+)_"),
    # EfficientNet: block2a_expand_conv -> stage block2, block block2a
    re.compile(r"^(?P<block>(?P<stage>block\d+)[a-z])_"),
    # MobileNetV2: block_3_expand -> block block_3; its first block is expanded_conv_*
    re.compile(r"^(?P<block>block_\d+)_"),
    re.compile(r"^(?P<block>expanded_conv(?:_\d+)?)_"),
    # VGG, Xception: block1_conv1 -> block block1
    re.compile(r"^(?P<block>block\d+)_"),
)


def _name_blocks(
    layers: list[Layer], known: dict[str, tuple[str | None, str, bool]]
) -> dict[str, tuple[str | None, str, bool]]:
    """Blocks read from layer names, for models built flat (keras.applications' ResNet50 and
    MobileNetV2 have no nested models: their blocks exist only in names like
    ``conv2_block1_1_conv`` and ``block_3_expand``). Within each parent (the model, or a nested
    model), each layer takes the block of the first pattern of ``_NAME_BLOCKS`` its name
    matches; blocks of two layers or more are kept where the parent gets two such blocks or
    more. A kept layer's ``parent`` becomes its block (path ``parent/stage/block``, classes
    "Stage" and "Block"). Names that match nothing stay put."""
    by_parent: dict[str | None, list[Layer]] = {}
    for layer in layers:
        by_parent.setdefault(layer.parent, []).append(layer)
    out: dict[str, tuple[str | None, str, bool]] = {}
    for parent, group in by_parent.items():
        hits: list[tuple[Layer, str | None, str]] = []  # (layer, stage path, block path)
        for layer in group:
            m = next((m for p in _NAME_BLOCKS if (m := p.match(layer.name))), None)
            if m is None:
                continue
            stage = m.groupdict().get("stage")
            top = _join(parent, stage) if stage is not None else parent
            path = _join(top, m["block"])
            if path not in known and top not in known:  # not a nested model's own name
                hits.append((layer, top if stage is not None else None, path))
        sizes: dict[str, int] = {}
        for _, _, path in hits:
            sizes[path] = sizes.get(path, 0) + 1
        if sum(1 for n in sizes.values() if n >= 2) < 2:
            continue
        for layer, stage_path, path in hits:
            if sizes[path] < 2:
                continue
            if stage_path is not None:
                out.setdefault(stage_path, (parent, "Stage", False))
            out.setdefault(path, (stage_path if stage_path is not None else parent, "Block", False))
            layer.parent = path
    return out


def _join(parent: str | None, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def _per_sample(shape: Any) -> Shape:
    return tuple(None if d is None else int(d) for d in tuple(shape)[1:])


def _value_shape(x: Any) -> Shape:
    shape = getattr(x, "shape", None)
    return _per_sample(shape) if shape is not None else ()
