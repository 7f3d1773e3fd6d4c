"""Keras 3 adapter: neutral graph, parameters, gradients and activations of a ``keras.Model``.

Works on the TensorFlow and the torch backends of Keras 3 (the backend is fixed per process).

* Sequential and functional models are read from their functional graph (the ``Node`` objects
  Keras keeps for every layer call), so the topology is exact: several inputs and outputs,
  residual ``Add``/``Concatenate`` edges, shared layers (one node, several edges) and nested
  Sequential / functional models (expanded, their layers get ``parent`` = the model path).
* Subclassed models (a custom ``call``) have no graph to read: their layers are recorded in the
  order they are called during one forward pass on the probe, by wrapping each layer's ``call``
  for the duration of that pass; the graph is then a chain in call order (``approximate=True``).

Parameters are reported in the canonical (torch) orientation: a Dense ``kernel`` (in, out) becomes
``weight`` (out, in), a Conv ``kernel`` (*k, in, out) becomes ``weight`` (out, in, *k).
"""

from __future__ import annotations

import contextlib
import inspect
import math
import re
from collections.abc import Callable, Iterator
from typing import Any

import keras
import numpy as np

from ..graph import Graph, Layer, Shape
from .base import ModelAdapter, ParamDict

try:  # internal, but the only way to tell a graph-network model from a subclassed one
    from keras.src.models.functional import Functional as _Functional
except ImportError:  # pragma: no cover - other Keras 3 layouts
    _Functional = None

#: Most probe samples kept: activations and gradients are recorded every epoch.
MAX_PROBE = 32

# Keras class name (looked up along the MRO, so subclasses of a known layer keep its kind) -> kind.
_KIND_BY_CLASS: dict[str, str] = {
    "InputLayer": "input",
    "Dense": "dense",
    "BaseConv": "conv",
    "BaseConvTranspose": "conv",
    "BaseSeparableConv": "conv",
    "BaseDepthwiseConv": "conv",
    "BasePooling": "pool",
    "BaseGlobalPooling": "pool",
    "BaseAdaptivePooling": "pool",
    "BatchNormalization": "norm",
    "LayerNormalization": "norm",
    "GroupNormalization": "norm",
    "UnitNormalization": "norm",
    "RMSNormalization": "norm",
    "SpectralNormalization": "norm",
    "Normalization": "norm",
    "Dropout": "dropout",
    "BaseSpatialDropout": "dropout",
    "SpatialDropout1D": "dropout",
    "SpatialDropout2D": "dropout",
    "SpatialDropout3D": "dropout",
    "GaussianDropout": "dropout",
    "AlphaDropout": "dropout",
    "GaussianNoise": "dropout",
    "Activation": "activation",
    "ReLU": "activation",
    "Softmax": "activation",
    "LeakyReLU": "activation",
    "PReLU": "activation",
    "ELU": "activation",
    "Flatten": "reshape",
    "Reshape": "reshape",
    "Permute": "reshape",
    "Embedding": "embedding",
    "RNN": "recurrent",
    "SimpleRNN": "recurrent",
    "LSTM": "recurrent",
    "GRU": "recurrent",
    "Bidirectional": "recurrent",
    "ConvLSTM": "recurrent",
    "MultiHeadAttention": "attention",
    "GroupedQueryAttention": "attention",
    "Attention": "attention",
    "AdditiveAttention": "attention",
    # merge layers and the keras.ops a functional graph may hold (``x + y`` is ops.numpy.Add)
    "Add": "merge",
    "Concatenate": "merge",
    "Multiply": "merge",
    "Subtract": "merge",
    "Average": "merge",
    "Maximum": "merge",
    "Minimum": "merge",
    "Dot": "merge",
    # plain keras.ops activations that show up in functional graphs
    "Relu": "activation",
    "Sigmoid": "activation",
    "Tanh": "activation",
    "Gelu": "activation",
    "Silu": "activation",
    "LeakyRelu": "activation",
    "Transpose": "reshape",
}

#: merge class -> detail["op"], the same short verbs whatever the framework
_MERGE_OPS: dict[str, str] = {
    "Add": "add",
    "Concatenate": "concat",
    "Multiply": "multiply",
    "Subtract": "subtract",
    "Average": "average",
    "Maximum": "maximum",
    "Minimum": "minimum",
    "Dot": "dot",
}

#: Attention layers whose ``call`` can return the attention scores (``return_attention_scores``,
#: the 8th positional argument of ``MultiHeadAttention.call``, the 4th of ``Attention.call``):
#: the probe pass keeps their mean over heads ((batch, heads, Tq, Tv) for the multi-head ones,
#: (batch, Tq, Tv) already for the dot-product ``Attention`` and ``AdditiveAttention``).
_ATTENTION_SCORES: tuple[type, ...] = tuple(
    c
    for c in (
        getattr(keras.layers, "MultiHeadAttention", None),
        getattr(keras.layers, "GroupQueryAttention", None),
        getattr(keras.layers, "Attention", None),
        getattr(keras.layers, "AdditiveAttention", None),
    )
    if isinstance(c, type)
)

# How a variable is turned into its canonical orientation.
_AS_IS, _DENSE, _CONV, _DEPTHWISE = "as_is", "dense", "conv", "depthwise"


class KerasAdapter(ModelAdapter):
    """Adapter for Keras 3 models (Sequential, functional, subclassed) on TF or torch backends."""

    framework = "keras"

    def __init__(
        self, model: Any, inputs: Any = None, input_shape: Any = None, labels: Any = None
    ) -> None:
        super().__init__(model, inputs=inputs, input_shape=input_shape, labels=labels)
        self.notes: list[str] = []
        self.backend: str = keras.backend.backend()
        self._probe: Any = self._make_probe(inputs, input_shape)
        if labels is not None:
            self.labels = _cut(_to_numpy_tree(labels))
        self._ensure_built()
        self._net = _graph_network(model)  # the Functional to read, or None (subclassed)
        self._nodes: dict[int, str] = {}  # id(keras op / layer) -> graph node name
        self._vars: list[tuple[str, str, Any, str]] = []  # (node, canonical name, var, how)
        self._layers: list[Layer] = []  # the graph being built
        self._edges: list[tuple[str, str]] = []
        self._assigned: set[int] = set()  # ids of variables already counted in some node
        self._output_names: list[str] = []
        self._leaves: list[tuple[Any, str | None]] = []  # subclassed: (graph layer, parent)
        self._failed: str | None = None  # innermost layer that raised in the last forward pass
        #: set by each ``activations()``: attention layer name -> its attention scores on the
        #: probe averaged over heads, (batch, queries, keys) float32 (``MultiHeadAttention``,
        #: ``GroupQueryAttention``, ``Attention``, ``AdditiveAttention``)
        self.attention: dict[str, np.ndarray] = {}
        self._loss_kinds: list[str] | None = None
        #: compiled probe passes (TensorFlow backend): a record runs each as one graph call
        #: instead of an eager pass (~10x faster on small models; see _compiled)
        self._fns: dict[Any, Any] = {}
        self._attention_layers: bool | None = None  # any layer whose scores are read (lazy)
        if self._net is not None:
            self._graph = self._functional_graph(self._net)
            if self._probe is not None:
                self._check_probe_shapes()
                self._guarded(self._run_functional)  # validates the probe at construction
        else:
            self._graph = self._subclassed_graph()
        self._graph.notes.extend(self.notes)

    # ----------------------------------------------------------------- probe and building

    def _make_probe(self, inputs: Any, input_shape: Any) -> Any:
        """The probe batch as numpy (same structure as given), cut to MAX_PROBE samples."""
        if inputs is not None:
            probe = _to_numpy_tree(inputs)
            n = _batch_size(probe)
            if n is not None and n > MAX_PROBE:
                self.notes.append(f"probe cut from {n} to {MAX_PROBE} samples")
            return _cut(probe)
        if input_shape is not None:
            shapes = _as_shape_list(input_shape)
            zeros = [np.zeros((1, *s), dtype=np.float32) for s in shapes]
            return zeros[0] if len(zeros) == 1 else zeros
        # A built graph network knows its input shapes: probe with zeros where they are fixed.
        net = _graph_network(self.model)
        if net is not None:
            arrays = []
            for t in net.inputs:
                shape = tuple(t.shape[1:])
                if any(d is None for d in shape):
                    self.notes.append(
                        "no probe: the model's input shape has free dimensions; pass inputs= "
                        "to record activations and gradients"
                    )
                    return None
                arrays.append(np.zeros((1, *shape), dtype=_np_dtype(t.dtype)))
            return arrays[0] if len(arrays) == 1 else arrays
        if getattr(self.model, "built", False):
            # a subclassed model built with model.build(shape) remembers that shape
            shapes = list((getattr(self.model, "_build_shapes_dict", None) or {}).values())
            if len(shapes) == 1 and shapes[0] and all(d is not None for d in shapes[0][1:]):
                return np.zeros((1, *shapes[0][1:]), dtype=np.float32)
            self.notes.append("no probe: pass inputs= to record activations and gradients")
            return None
        raise ValueError(
            f"model {self.model.name!r} is not built, so its input shape is unknown: pass "
            "inputs= (a probe batch) or input_shape= (per sample, without the batch), or build "
            "the model first (model.build(...) or call it once)"
        )

    def _ensure_built(self) -> None:
        """Build an unbuilt model from the probe so that every layer has its weights."""
        model = self.model
        if isinstance(model, keras.Sequential):
            if getattr(model, "_functional", None) is not None:
                return
            leaves = keras.tree.flatten(self._probe)
            if len(leaves) == 1:
                try:
                    model.build((None, *leaves[0].shape[1:]))
                except Exception as e:
                    raise ValueError(
                        f"could not build {model.name!r} for input shape "
                        f"{_fmt(tuple(leaves[0].shape[1:]))} per sample: {_plain(e)}"
                    ) from e
                if getattr(model, "_functional", None) is not None:
                    return
        if not model.built:
            if self._probe is None:
                return
            try:
                model(self._probe, training=False)
            except Exception as e:
                raise ValueError(
                    f"the probe batch does not fit model {model.name!r}: inputs of shape "
                    f"{self._probe_shapes()} per sample failed while building it: {_plain(e)}"
                ) from e

    def _probe_shapes(self) -> str:
        shapes = [tuple(a.shape[1:]) for a in keras.tree.flatten(self._probe)]
        return ", ".join(_fmt(s) for s in shapes)

    def _expected_shapes(self) -> str:
        """The model's expected per-sample input shape(s), in words, for error messages."""
        if self._net is not None:
            return ", ".join(_fmt(tuple(t.shape[1:])) for t in self._net.inputs)
        if self.input_shape is not None:
            return ", ".join(_fmt(s) for s in _as_shape_list(self.input_shape))
        shapes = getattr(self.model, "_build_shapes_dict", None)
        if shapes:
            return ", ".join(_fmt(tuple(s)[1:]) for s in shapes.values() if s is not None)
        return "unknown (subclassed model)"

    def _check_probe_shapes(self) -> None:
        """Compare the probe with the model's input shapes before running anything."""
        assert self._net is not None
        first = self._net.inputs[0]

        def fail(t: Any, got: str, why: str = "") -> ValueError:
            name = self._nodes.get(id(t._keras_history.operation), str(t.name))
            return ValueError(
                f"the probe batch does not fit model {self.model.name!r}: expected input shape "
                f"{self._expected_shapes()} per sample (batch excluded), got {got}; failed at "
                f"layer {name!r}{why}"
            )

        try:
            leaves = self._standardize(self._net, self._probe)
        except Exception as e:  # wrong structure or a rank Keras cannot adjust
            raise fail(first, self._probe_shapes(), f": {_plain(e)}") from e
        for t, x in zip(self._net.inputs, leaves, strict=False):
            want, got = tuple(t.shape[1:]), tuple(x.shape[1:])
            if len(want) != len(got) or any(
                w is not None and w != g for w, g in zip(want, got, strict=False)
            ):
                raise fail(t, _fmt(got))

    def _standardize(self, net: Any, inputs: Any) -> list[Any]:
        """Inputs as the flat list of backend tensors, in ``net.inputs`` order."""
        return list(net._standardize_inputs(_like_inputs(net, inputs)))

    def _guarded(self, fn: Callable[[], Any]) -> Any:
        """Run a forward pass; a failure becomes a ValueError naming the layer and the shape.

        The wrapped calls only note which layer raised (``self._failed``) and let the original
        exception through: Keras re-creates exceptions raised inside ``call`` to add context.
        """
        self._failed = None
        try:
            return fn()
        except Exception as e:
            # a layer that fails its input check never reaches its (wrapped) call: Keras' own
            # message names it
            named = re.search(r"of layer ['\"]([^'\"]+)['\"]", _plain(e))
            where = self._failed or (named.group(1) if named else f"{self.model.name}.call")
            raise ValueError(
                f"the probe batch does not fit model {self.model.name!r}: expected input shape "
                f"{self._expected_shapes()} per sample (batch excluded), got "
                f"{self._probe_shapes()}; failed at layer {where!r}: {_plain(e)}"
            ) from e

    # ----------------------------------------------------------------- graph: graph networks

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
        )

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

    # ----------------------------------------------------------------- graph: subclassed

    def _subclassed_graph(self) -> Graph:
        """A chain of the layers in the order they are called on the probe (approximate)."""
        self._leaves = _node_layers(self.model)
        calls: list[tuple[Any, Any, list[Any]]] = []  # (layer, output, inputs) in call order
        outputs: list[Any] = []
        if self._probe is not None:
            calls, outputs = self._guarded(self._run_subclassed)
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
        )

    # ----------------------------------------------------------------- graph: shared helpers

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

    # ----------------------------------------------------------------- forward passes

    def _run_functional(self) -> dict[str, Any]:
        """Run the graph network on the probe, keeping every node's first output tensor.

        The graph is executed node by node (as ``Functional.call`` does) so that layers of
        nested models and shared layers are seen too, which a ``keras.Model(inputs, [outputs])``
        sub-model cannot give for nested models.
        """
        assert self._net is not None
        record: dict[str, Any] = {}

        def wrap(op: Any) -> Callable[..., Any]:
            inner = _graph_network(op)
            if inner is not None and op is not self._net and id(op) not in self._nodes:

                def call_nested(*args: Any, **kwargs: Any) -> Any:
                    return run(inner, args[0] if len(args) == 1 else list(args))

                return call_nested

            def call(*args: Any, **kwargs: Any) -> Any:
                name = self._nodes.get(id(op), str(getattr(op, "name", op)))
                if "training" in getattr(op, "_call_context_args", ()):
                    kwargs["training"] = False
                try:
                    out = op(*args, **kwargs)
                except Exception:
                    self._failed = self._failed or name  # the innermost layer fails first
                    raise
                if name not in record:
                    record[name] = _first(out)
                    self._attention_of(name, op, op, args, kwargs, out)
                return out

            return call

        def run(net: Any, inputs: Any) -> Any:
            flat = self._standardize(net, inputs)
            for t, x in zip(net.inputs, flat, strict=False):
                name = self._nodes.get(id(t._keras_history.operation))
                if name is not None and name not in record:
                    record[name] = x
            outs = net._run_through_graph(flat, operation_fn=wrap)
            flat_outs = keras.tree.flatten(outs)
            return flat_outs[0] if len(flat_outs) == 1 else outs

        with self._no_grad():
            outs = run(self._net, self._probe)
        for name, y in zip(self._output_names, keras.tree.flatten(outs), strict=False):
            record[name] = y
        return record

    def _run_subclassed(self) -> tuple[list[tuple[Any, Any, list[Any]]], list[Any]]:
        """One forward pass with every graph layer's ``call`` wrapped to log the call order."""
        slots: list[tuple[Any, Any, list[Any]] | None] = []

        def make(layer: Any, original: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                slot = len(slots)  # ordered by when the call starts, not when it ends
                slots.append(None)
                try:
                    out = original(*args, **kwargs)
                except Exception:
                    self._failed = self._failed or str(layer.name)
                    raise
                ins = keras.tree.flatten(args[0]) if args else []
                slots[slot] = (layer, _first(out), ins)
                name = self._nodes.get(id(layer))
                if name is not None:
                    self._attention_of(name, layer, original, args, kwargs, out)
                return out

            return call

        with self._no_grad(), _patched_calls([layer for layer, _ in self._leaves], make):
            out = self.model(self._probe, training=False)
        return [c for c in slots if c is not None], keras.tree.flatten(out)

    def _attention_of(
        self, name: str, layer: Any, fn: Callable[..., Any], args: Any, kwargs: Any, out: Any
    ) -> None:
        """Note an attention layer's scores averaged over heads (first call only): from its
        output where the model asked for them, else by calling ``fn`` (the layer, or its
        ``call``) once more on the same inputs with ``return_attention_scores=True`` (inference
        mode: the layer's output is the same). Skipped silently where that fails."""
        if name in self.attention or not isinstance(layer, _ATTENTION_SCORES):
            return
        try:
            pos, kw = list(args), dict(kwargs)
            at, train_at = _call_positions(layer)
            at = at if at is not None and at < len(pos) else None  # None: passed as keyword
            asked = kw.get("return_attention_scores", False) if at is None else pos[at]
            if asked:
                scores = out[1]
            else:
                if at is not None:
                    pos[at] = True
                else:
                    kw["return_attention_scores"] = True
                if train_at is not None and len(pos) > train_at:
                    pos[train_at] = False
                elif "training" in kw or "training" in getattr(layer, "_call_context_args", ()):
                    kw["training"] = False
                _, scores = fn(*pos, **kw)
            w = _to_numpy(scores).astype(np.float32, copy=False)
        except Exception:
            return
        if w.ndim == 4:  # (batch, heads, queries, keys)
            w = w.mean(axis=1)
        if w.ndim == 3:
            self.attention[name] = w

    @contextlib.contextmanager
    def _no_grad(self) -> Iterator[None]:
        if self.backend == "torch":
            import torch

            with torch.no_grad():
                yield
        else:
            yield

    # ----------------------------------------------------------------- public API

    def graph(self) -> Graph:
        """The neutral graph (extracted once, at construction)."""
        return self._graph

    def parameters(self) -> ParamDict:
        """Every layer's weights now, as float32 copies in canonical orientation."""
        out: ParamDict = {}
        for name, canon, v, how in self._vars:
            value = _to_numpy(v.value)
            out.setdefault(name, {})[canon] = _orient(value, how)
        return out

    def activations(self) -> dict[str, np.ndarray]:
        """Each node's output on the probe, (batch, *output_shape) float32; {} without probe."""
        self.attention = {}
        if self._probe is None:
            return {}
        if self._net is not None:
            record = self._compiled("acts", self._probe)
            if record is None:
                record = self._guarded(self._run_functional)
                self._prepare("acts", self._acts_fn, self._probe)
        else:
            calls, outs = self._guarded(self._run_subclassed)
            inputs = [x.name for x in self._graph.layers if x.kind == "input"]
            record = dict(zip(inputs, keras.tree.flatten(self._probe), strict=False))
            for layer, y, _ in calls:
                name = self._nodes.get(id(layer))
                if name is not None and name not in record:
                    record[name] = y
            record.update(zip(self._output_names, outs, strict=False))
        return {
            name: _to_numpy(y).astype(np.float32, copy=False)
            for name, y in record.items()
            if y is not None
        }

    def activations_for(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """activations() on the batch ``x`` instead of the probe (the probe is restored)."""
        saved = self._probe
        self._probe = np.asarray(x, dtype=np.float32)
        try:
            return self.activations()
        finally:
            self._probe = saved

    def gradients(self) -> ParamDict:
        """Gradients of the trainable weights on the probe batch (inference mode, no update).

        Loss: with ``labels``, sparse categorical cross-entropy (integer labels, (N, C) output),
        binary cross-entropy ((N, 1) output in [0, 1], 0/1 labels) or MSE; without labels the
        mean of the squared outputs. Weights, optimizer and BatchNorm statistics are untouched
        (the pass runs with ``training=False``).
        """
        if self._probe is None:
            return {}
        trainable = {id(v) for v in self.model.trainable_weights}
        entries = [e for e in self._vars if id(e[2]) in trainable]
        if not entries:
            return {}
        variables = [e[2] for e in entries]
        if self.backend == "tensorflow":
            grads = self._tf_gradients(variables)
        elif self.backend == "torch":
            grads = self._torch_gradients(variables)
        else:
            if "gradients" not in " ".join(self.notes):
                self.notes.append(f"no gradients on the {self.backend} backend")
            return {}
        out: ParamDict = {}
        for (name, canon, v, how), g in zip(entries, grads, strict=True):
            value = np.zeros(tuple(v.shape), dtype=np.float32) if g is None else _to_numpy(g)
            out.setdefault(name, {})[canon] = _orient(value, how)
        return out

    def _tf_gradients(self, variables: list[Any]) -> list[Any]:
        import tensorflow as tf

        def grads_of(x: Any) -> list[Any]:
            with tf.GradientTape() as tape:
                outputs = self.model(x, training=False)
                loss = self._loss(outputs)
            grads = tape.gradient(loss, [v.value for v in variables])
            # an Embedding's gradient is a sparse IndexedSlices: densify it
            return [None if g is None else tf.convert_to_tensor(g) for g in grads]

        key = ("grads", *(id(v) for v in variables))
        got = self._compiled(key, self._model_input())
        if got is None:
            got = grads_of(self._model_input())  # eager: the first time, or as the fallback
            self._prepare(key, lambda: grads_of, self._model_input())
        return list(got)

    def _acts_fn(self) -> Callable[[Any], dict[str, Any]]:
        """The functional pass of ``activations()`` as a function of the probe (for tracing)."""

        def run(probe: Any) -> dict[str, Any]:
            saved, self._probe = self._probe, probe
            try:
                return {k: v for k, v in self._run_functional().items() if v is not None}
            finally:
                self._probe = saved

        return run

    def _compiled(self, key: Any, x: Any) -> Any:
        """The ``tf.function`` made by ``_prepare`` for ``key`` run on ``x``, or None where the
        eager pass must run: none made (other backends; models with attention layers, whose
        scores are read in numpy during the pass; the first call), or it failed once (then
        eager for good, which raises the error that names the layer if there is one)."""
        fn = self._fns.get(key)
        if not fn:
            return None
        try:
            return fn(x)
        except Exception:
            self._fns[key] = False
            return None

    def _prepare(self, key: Any, build: Callable[[], Callable[..., Any]], x: Any) -> None:
        """After a probe pass's first (eager) run: compile it with ``tf.function`` and trace it
        now, at construction, so that tracing is not paid inside the training loop. Each
        record then runs it as one graph call (~10x faster than eager on small models)."""
        if key in self._fns or self.backend != "tensorflow" or self._has_attention():
            return
        try:
            import tensorflow as tf

            fn = tf.function(build(), reduce_retracing=True)
            fn(x)
            self._fns[key] = fn
        except Exception:
            self._fns[key] = False

    def _has_attention(self) -> bool:
        if self._attention_layers is None:
            layers = self.model._flatten_layers(include_self=True, recursive=True)
            self._attention_layers = any(isinstance(x, _ATTENTION_SCORES) for x in layers)
        return self._attention_layers

    def _torch_gradients(self, variables: list[Any]) -> list[Any]:
        import torch

        params = [v.value for v in variables]  # torch Parameters behind the keras variables
        with torch.enable_grad():
            outputs = self.model(self._model_input(), training=False)
            loss = self._loss(outputs)
            # autograd.grad leaves .grad untouched, so the user's training state is not disturbed
            return list(torch.autograd.grad(loss, params, allow_unused=True))

    def _model_input(self) -> Any:
        net = _graph_network(self.model)
        return _like_inputs(net, self._probe) if net is not None else self._probe

    def _loss(self, outputs: Any) -> Any:
        """A scalar loss over all outputs, chosen from the labels and the outputs' form."""
        ops = keras.ops
        outs = [ops.cast(o, "float32") for o in keras.tree.flatten(outputs)]
        if self.labels is None:
            return sum((ops.mean(ops.square(o)) for o in outs), ops.zeros(()))
        labels = keras.tree.flatten(self.labels)[: len(outs)]
        if self._loss_kinds is None:  # decided once, from the first outputs seen
            self._loss_kinds = [
                _loss_kind(_to_numpy(o), y) for o, y in zip(outs, labels, strict=False)
            ]
        total = ops.zeros(())
        for o, y, kind in zip(outs, labels, self._loss_kinds, strict=False):
            shape = tuple(o.shape)
            if kind in ("sparse_ce", "sparse_ce_logits"):
                target = ops.convert_to_tensor(y.reshape(-1).astype("int32"))
                loss = keras.losses.sparse_categorical_crossentropy(
                    target, o, from_logits=kind == "sparse_ce_logits"
                )
            elif kind == "bce":
                target = ops.convert_to_tensor(y.reshape(shape).astype("float32"))
                loss = keras.losses.binary_crossentropy(target, o)
            else:
                y = y.astype("float32")
                target = ops.convert_to_tensor(
                    y.reshape(shape) if y.size == math.prod(shape) else y
                )
                loss = ops.square(ops.subtract(o, target))
            total = ops.add(total, ops.mean(loss))
        return total


# --------------------------------------------------------------------- describing layers


def describe_layer(
    obj: Any, out: Shape = (), ins: list[Shape] | None = None
) -> tuple[str, str, int | None, dict[str, Any]]:
    """(kind, op, units, detail) of a keras layer or op; unknown classes become "other".

    ``out`` / ``ins`` (per-sample shapes, where known) fill in what the layer does not say.
    """
    cls_name = type(obj).__name__
    kind = "other"
    matched = cls_name
    for cls in type(obj).__mro__:
        if cls.__name__ in _KIND_BY_CLASS and (cls.__module__ or "").startswith("keras"):
            kind, matched = _KIND_BY_CLASS[cls.__name__], cls.__name__
            break
    if kind == "merge" and ins is not None and len(ins) < 2 and not isinstance(obj, keras.Layer):
        kind = "other"  # ``x * 2.0`` is ops.numpy.Multiply with one tensor: not a merge
    detail: dict[str, Any] = {}
    units: int | None = None
    try:
        if kind == "dense":
            units = int(obj.units)
        elif kind == "conv":
            rank = int(getattr(obj, "rank", len(out) - 1 if out else 2))
            detail = {
                "dim": rank,
                "kernel_size": _ints(getattr(obj, "kernel_size", ())),
                "strides": _ints(getattr(obj, "strides", ())),
                "padding": getattr(obj, "padding", None),
            }
            if matched == "BaseConvTranspose":
                detail["transpose"] = True
            elif matched == "BaseDepthwiseConv":
                detail["depthwise"] = True
            elif matched == "BaseSeparableConv":
                detail["separable"] = True
            filters = getattr(obj, "filters", None)
            units = int(filters) if filters is not None else _last(out)
        elif kind == "pool":
            in_shape = ins[0] if ins else ()
            detail = {"dim": len(in_shape) - 1 if in_shape else None}
            if matched == "BaseGlobalPooling":
                detail["global"] = True
            for key in ("pool_size", "strides"):
                if getattr(obj, key, None) is not None:
                    detail[key] = _ints(getattr(obj, key))
        elif kind == "embedding":
            units = int(obj.output_dim)
            detail = {"input_dim": int(obj.input_dim)}
        elif kind == "recurrent":
            inner = getattr(obj, "forward_layer", None)  # Bidirectional wraps two RNNs
            base = inner if inner is not None else obj
            units = getattr(base, "units", None)
            units = int(units) if units is not None else _last(out)
            detail = {"cell": type(base).__name__}
            if hasattr(base, "return_sequences"):
                detail["return_sequences"] = bool(base.return_sequences)
            if inner is not None:
                detail["bidirectional"] = True
                detail["merge_mode"] = getattr(obj, "merge_mode", None)
        elif kind == "attention":
            heads, key_dim = getattr(obj, "num_heads", None), getattr(obj, "key_dim", None)
            if heads is not None and key_dim is not None:
                units = int(heads) * int(key_dim)
                detail = {"num_heads": int(heads), "key_dim": int(key_dim)}
        elif kind == "merge":
            detail = {"op": _MERGE_OPS.get(matched, matched.lower())}
            if matched == "Concatenate" and hasattr(obj, "axis"):
                detail["axis"] = int(obj.axis)
        elif kind == "activation" and cls_name == "Activation":
            detail = {"activation": _activation_name(obj.activation)}
        elif kind == "activation":
            detail = {"activation": cls_name.lower()}
        if kind in ("dense", "conv") and getattr(obj, "activation", None) is not None:
            act = _activation_name(obj.activation)
            if act != "linear":
                detail["activation"] = act  # fused: no separate node
    except Exception as e:  # never crash on an odd layer; the kind is still right
        detail["describe_error"] = f"{type(e).__name__}: {e}"
    return kind, cls_name, units, detail


def _activation_name(fn: Any) -> str:
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return str(name)


def _canonical(obj: Any, kind: str, variables: list[Any]) -> list[tuple[str, Any, str]]:
    """(canonical name, variable, orientation) for each variable of one node.

    Dense/Conv ``kernel`` -> ``weight`` in (out, in, *k) orientation, ``bias`` -> ``bias``;
    other variables keep their Keras name, or their path inside the layer where names clash
    (e.g. the forward and backward ``kernel`` of a Bidirectional LSTM).
    """
    depthwise = any(c.__name__ == "BaseDepthwiseConv" for c in type(obj).__mro__)
    own = {id(v) for v in getattr(obj, "_trainable_variables", [])} | {
        id(v) for v in getattr(obj, "_non_trainable_variables", [])
    }
    entries: list[tuple[str, Any, str]] = []
    for v in variables:
        short = str(v.path).split("/")[-1]
        how = _AS_IS
        name = short
        if id(v) in own and kind in ("dense", "conv"):
            if short == "kernel" and kind == "dense" and len(v.shape) == 2:
                name, how = "weight", _DENSE
            elif short == "kernel" and kind == "conv":
                name, how = "weight", _DEPTHWISE if depthwise else _CONV
            elif short == "bias":
                name = "bias"
        entries.append((name, v, how))
    names = [e[0] for e in entries]
    if len(set(names)) != len(names):
        layer_name = str(getattr(obj, "name", ""))
        entries = [
            (n if names.count(n) == 1 else _relative_path(str(v.path), layer_name), v, how)
            for n, v, how in entries
        ]
    return entries


def _relative_path(path: str, layer_name: str) -> str:
    parts = path.split("/")
    if layer_name in parts[:-1]:
        idx = len(parts) - 1 - parts[::-1].index(layer_name)
        return "/".join(parts[idx + 1 :])
    return path


def _canonical_shape(shape: tuple[int, ...], how: str) -> Shape:
    if how == _DENSE:
        return (shape[1], shape[0])
    if how == _CONV:
        return (shape[-1], shape[-2], *shape[:-2])
    if how == _DEPTHWISE:  # (*k, in, mult) -> (in * mult, 1, *k), as torch's groups=in conv
        return (shape[-2] * shape[-1], 1, *shape[:-2])
    return shape


def _orient(value: np.ndarray, how: str) -> np.ndarray:
    """A float32 copy of ``value`` in canonical orientation."""
    value = np.asarray(value, dtype=np.float32)
    if how == _DENSE:
        value = value.T
    elif how == _CONV:
        value = np.moveaxis(value, (-1, -2), (0, 1))
    elif how == _DEPTHWISE:
        k = value.shape[:-2]
        value = value.reshape(*k, value.shape[-2] * value.shape[-1], 1)
        value = np.moveaxis(value, (-2, -1), (0, 1))
    return np.array(value, dtype=np.float32, copy=True, order="C")


# --------------------------------------------------------------------- model structure


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


def _node_layers(model: Any) -> list[tuple[Any, str | None]]:
    """The layers of a subclassed model that become graph nodes.

    A layer of a known kind (Dense, LSTM, MultiHeadAttention ...) is one node even if it holds
    sublayers; an unknown container without weights of its own (a custom block, a nested
    Sequential) is looked into, its layers getting the container's path as ``parent``.
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
                visit(sub, _join(parent, str(sub.name)))

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


# --------------------------------------------------------------------- small helpers


_CALL_POSITIONS: dict[type, tuple[int | None, int | None]] = {}


def _call_positions(layer: Any) -> tuple[int | None, int | None]:
    """Where ``return_attention_scores`` and ``training`` may be passed positionally to the
    layer's ``call`` (indices past ``self``; None where they can't be): 7 and 8 for
    ``MultiHeadAttention``, 3 and 2 for ``Attention`` / ``AdditiveAttention``."""
    cls = type(layer)
    if cls not in _CALL_POSITIONS:
        found: dict[str, int] = {}
        try:
            params = list(inspect.signature(cls.call).parameters.values())[1:]  # past self
        except (TypeError, ValueError):
            params = []
        for i, p in enumerate(params):
            if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                break
            found[p.name] = i
        _CALL_POSITIONS[cls] = (found.get("return_attention_scores"), found.get("training"))
    return _CALL_POSITIONS[cls]


def _plain(e: BaseException) -> str:
    """An exception's message without the ANSI bold codes Keras adds, cut to a readable length
    (Keras may print whole input arrays)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip()
    return text if len(text) <= 600 else text[:600] + " ..."


def _join(parent: str | None, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def _per_sample(shape: Any) -> Shape:
    return tuple(None if d is None else int(d) for d in tuple(shape)[1:])


def _first(out: Any) -> Any:
    """The first tensor of a layer's output (LSTM states, attention scores ... are dropped)."""
    leaves = [x for x in keras.tree.flatten(out) if hasattr(x, "shape")]
    return leaves[0] if leaves else None


def _value_shape(x: Any) -> Shape:
    shape = getattr(x, "shape", None)
    return _per_sample(shape) if shape is not None else ()


def _last(shape: Shape) -> int | None:
    return shape[-1] if shape else None


def _ints(value: Any) -> list[int] | int | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return [int(v) for v in value]
    return int(value)


def _fmt(shape: tuple[Any, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _as_shape_list(input_shape: Any) -> list[tuple[int, ...]]:
    """One shape ``(784,)`` or several ``[(3,), (4,)]`` -> a list of shapes."""
    if isinstance(input_shape, int):
        return [(input_shape,)]
    items = list(input_shape)
    if items and all(isinstance(s, list | tuple) for s in items):
        return [tuple(int(d) for d in s) for s in items]
    return [tuple(int(d) for d in items)]


def _np_dtype(dtype: Any) -> Any:
    try:
        return np.dtype(keras.backend.standardize_dtype(dtype))
    except Exception:
        return np.float32


def _to_numpy(x: Any) -> np.ndarray:
    """Any array-like (numpy, tf, torch) as a numpy array on the host.

    Not ``keras.ops.convert_to_numpy``: on TF it calls ``np.array(variable)``, which warns
    (DeprecationWarning about ``copy=``) with numpy 2.
    """
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach"):  # torch
        return np.asarray(x.detach().cpu().numpy())
    if hasattr(x, "numpy"):  # tf
        return np.asarray(x.numpy())
    return np.asarray(x)


def _to_numpy_tree(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _to_numpy_tree(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return type(x)(_to_numpy_tree(v) for v in x)
    return _to_numpy(x)


def _batch_size(x: Any) -> int | None:
    leaves = keras.tree.flatten(x)
    if not leaves or not getattr(leaves[0], "shape", ()):
        return None
    return int(leaves[0].shape[0])


def _cut(x: Any) -> Any:
    return keras.tree.map_structure(lambda a: a[:MAX_PROBE] if getattr(a, "ndim", 0) else a, x)


def _loss_kind(out: np.ndarray, labels: np.ndarray) -> str:
    """Which loss fits an output and its labels.

    "sparse_ce" / "sparse_ce_logits" (integer class labels, (N, C) output: probabilities where
    rows are non-negative and sum to 1, else logits), "bce" ((N, 1) output in [0, 1], 0/1 labels)
    or "mse".
    """
    labels = np.asarray(labels)
    n = out.shape[0] if out.ndim else 0
    whole = labels.dtype.kind in "iu" or (
        labels.dtype.kind == "f" and bool(np.all(labels == np.round(labels)))
    )
    classes = out.ndim == 2 and out.shape[1] > 1 and whole and labels.size == n
    if classes and np.all((labels >= 0) & (labels < out.shape[1])):
        probs = np.all(out >= 0) and np.allclose(out.sum(axis=-1), 1.0, atol=1e-3)
        return "sparse_ce" if probs else "sparse_ce_logits"
    if out.ndim == 2 and out.shape[1] == 1 and labels.size == n:
        binary = np.all((labels == 0) | (labels == 1))
        if binary and np.all((out >= 0) & (out <= 1)):
            return "bce"
    return "mse"
