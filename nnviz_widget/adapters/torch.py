"""PyTorch adapter: a ``torch.nn.Module`` -> the neutral graph, parameters, gradients, activations.

This is the only module that imports torch. How the graph is found:

1. shapes: one forward pass of the probe batch with hooks on every module (this pass also names
   the layer that fails when the probe does not fit the model);
2. topology: ``torch.export.export`` (non-strict), else ``torch.fx`` symbolic tracing, else the
   order in which layer modules ran (``Graph.approximate``). Traced ops are grouped by the
   innermost *layer module* of their ``nn_module_stack``; ops that belong to no layer module
   (``x.view``, ``out + x``, ``torch.cat``) become nodes of their own.

Every probe run leaves the model as it found it: train/eval flags, buffers (BatchNorm running
statistics), ``.grad`` of every parameter, the global RNG state; hooks are always removed.
"""

from __future__ import annotations

import contextlib
import heapq
import inspect
import io
import itertools
import logging
import math
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.fx
import torch.nn.functional as F
from torch import nn
from torch.utils import _pytree as pytree

from ..graph import Graph, Layer, Shape
from .base import LayerParams, ModelAdapter, ParamDict

__all__ = ["MAX_PROBE_SAMPLES", "TorchAdapter", "describe_module"]

#: The probe batch is cut to this many samples (activations are recorded every epoch).
MAX_PROBE_SAMPLES = 32

# Modules whose children are implementation details: one node each, owning all their params.
_ATOMIC: tuple[type[nn.Module], ...] = (nn.MultiheadAttention, nn.RNNBase, nn.RNNCellBase)

# Positions of need_weights / average_attn_weights in nn.MultiheadAttention.forward's arguments.
_MHA_NEED_WEIGHTS, _MHA_AVERAGE = 4, 6

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
_TRANSPARENT_PREFIXES = ("sym_", "assert", "check", "functional_assert")

_ACTIVATION_FN = frozenset(
    {
        "relu",
        "relu6",
        "gelu",
        "sigmoid",
        "tanh",
        "softmax",
        "log_softmax",
        "leaky_relu",
        "silu",
        "elu",
        "selu",
        "celu",
        "hardtanh",
        "hardswish",
        "hardsigmoid",
        "softplus",
        "softsign",
        "mish",
        "prelu",
        "rrelu",
        "glu",
        "logsigmoid",
        "log_sigmoid_forward",
        "tanhshrink",
        "hardshrink",
        "softshrink",
        "threshold",
    }
)
_RESHAPE_FN = frozenset(
    {
        "flatten",
        "unflatten",
        "view",
        "view_as",
        "reshape",
        "unsafe_view",
        "permute",
        "transpose",
        "t",
        "squeeze",
        "unsqueeze",
        "movedim",
        "swapaxes",
        "swapdims",
        "expand",
        "expand_as",
    }
)
# The neutral merge op names are shared with the Keras adapter:
# add, subtract, multiply, concat, stack, average, maximum, minimum, dot.
_MERGE_FN = {
    "add": "add",
    "iadd": "add",
    "sub": "subtract",
    "isub": "subtract",
    "rsub": "subtract",
    "mul": "multiply",
    "imul": "multiply",
    "cat": "concat",
    "concat": "concat",
    "concatenate": "concat",
    "stack": "stack",
    "hstack": "concat",
    "vstack": "concat",
}

# Module class name -> activation name, where lower-casing the class name is not enough.
_ACTIVATION_NAMES = {
    "LeakyReLU": "leaky_relu",
    "LogSoftmax": "log_softmax",
    "LogSigmoid": "log_sigmoid",
    "Softmax2d": "softmax",
    "Softmin": "softmin",
}


# A trace: (fx nodes in order, placeholder -> input index, node -> param name, user outputs).
_Trace = tuple[list[Any], dict[Any, int], dict[Any, str], list[Any]]

# What _guard_enter saved: (modules, their train flags, (module, buffer name, buffer, copy),
# the CPU RNG state or the entered fork_rng, torch.backends.mha or None, its fast-path flag).
_Saved = tuple[
    list[nn.Module],
    list[bool],
    list[tuple[nn.Module, str, torch.Tensor, torch.Tensor]],
    Any,
    Any,
    bool | None,
]


@dataclass
class _Call:
    """What the hooks saw on a module's first call (shapes include the batch dim)."""

    input_shapes: list[tuple[int, ...]] = field(default_factory=list)
    output_shape: tuple[int, ...] | None = None


@dataclass
class _Run:
    """Result of one hooked forward pass."""

    output: Any
    calls: dict[str, _Call]  # canonical module path -> first call
    order: list[str]  # canonical module paths in the order they were entered
    captured: dict[str, np.ndarray]  # module path -> first tensor output (when asked for)


@dataclass
class _Node:
    """A node under construction (module group, functional op, input, output ...)."""

    name: str
    kind: str
    op: str
    priority: float  # position hint for the topological order
    path: str | None = None  # module path for module / holder nodes
    parent: str | None = None
    output_shape: Shape = ()
    input_shapes: list[Shape] = field(default_factory=list)
    units: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Owned:
    """The parameters a graph node owns (each Parameter object has exactly one owner)."""

    path: str  # module path of the owner ("" for the model itself)
    params: list[tuple[str, nn.Module, str, nn.Parameter]]  # (canonical name, submodule, attr, p)
    tied: dict[str, str]  # canonical name -> full name of the owner that counts it


@dataclass
class _Live:
    """``list(model.modules())`` and ``list(model.parameters())`` as last walked, and what says
    whether they still are: the entries of every module's ``_modules`` and ``_parameters``."""

    modules: list[nn.Module]
    params: list[nn.Parameter]
    members: list[Any]  # per module: itself, its _modules values, its _parameters values
    has_mha: bool  # an nn.MultiheadAttention among the modules


@dataclass
class _ProbePlan:
    """What every probe pass (``activations()``) needs from the graph, which never changes."""

    module_nodes: dict[str, str]  # node name -> module path
    paths: set[str]  # the module paths whose first output is kept
    wrap: list[tuple[str, nn.Module]]  # (path, module) whose forward is wrapped for the pass
    attention: bool  # an nn.MultiheadAttention among the module nodes
    inputs: list[str]  # input node names
    outputs: list[str]  # output node names


@dataclass
class _ParamPlan:
    """``parameters()`` while the model's parameters are the known ones: what to copy, in
    order, and where each lands in the one buffer (for the shapes last seen)."""

    owners: dict[str, _Owned]
    keys: list[tuple[str, str]]  # (node name, param name), a layer's params consecutive
    params: list[torch.Tensor]
    transposed: list[nn.Module | None]  # the ConvTranspose module whose weight is reordered
    reordered: bool = False  # some transposed entry is not None
    shapes: list[torch.Size] = field(default_factory=list)  # canonical, for ``layout``
    # (node name, start, stop, [(param name, start, stop, shape)]) per layer with parameters
    layout: list[tuple[str, int, int, list[tuple[str, int, int, tuple[int, ...]]]]] = field(
        default_factory=list
    )


@dataclass
class _NormPlan:
    """``gradient_norms()`` for one ``_Live``: the known parameters that are the model's."""

    owners: dict[str, _Owned]
    live: _Live
    names: list[str]  # nodes owning parameters (each gets a norm)
    params: list[nn.Parameter]  # their parameters that are still the model's
    owner: list[str]  # node name of each
    covers: bool  # params are all the model's parameters


class TorchAdapter(ModelAdapter):
    """Adapter for ``torch.nn.Module``: ``graph()``, ``parameters()``, ``gradients()``,
    ``activations()``.

    ``inputs`` is the probe batch (a tensor or numpy array, or a tuple / list of them for several
    forward arguments, or a dict of keyword arguments); without it, ``input_shape`` (per-sample
    shape, or a list of them) gives a zero batch of 2. Batches above ``MAX_PROBE_SAMPLES`` are
    cut (see ``notes``).
    """

    framework = "torch"

    def __init__(
        self, model: Any, inputs: Any = None, input_shape: Any = None, labels: Any = None
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"TorchAdapter takes a torch.nn.Module, got {type(model).__name__}")
        super().__init__(model, inputs=inputs, input_shape=input_shape, labels=labels)
        self.notes: list[str] = []
        self._device, self._float = _device_and_dtype(model)
        self._scan_modules()
        self._args, self._kwargs = self._make_probe(inputs, input_shape)
        self._input_acts: tuple[Any, dict[str, np.ndarray]] | None = None
        self._param_ids: list[int] | None = None  # the model's parameters at the first call
        self._param_ref: list[nn.Parameter] | None = None  # a _Live.params with those ids
        self._live_cache: _Live | None = None
        self._probe_plan: _ProbePlan | None = None
        self._param_plan: _ParamPlan | None = None
        self._norm_plan: _NormPlan | None = None
        self._labels = None if labels is None else self._cut(self._to_tensor(labels), "labels")
        self._input_names = self._name_inputs()
        self._graph: Graph | None = None
        self._owners_cache: dict[str, _Owned] | None = None
        #: set by each ``activations()``: attention layer name -> its attention weights on the
        #: probe averaged over heads, (batch, queries, keys) float32 (``nn.MultiheadAttention``)
        self.attention: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ public API

    def graph(self) -> Graph:
        """The neutral graph (computed once, then cached)."""
        if self._graph is None:
            self._graph = self._build_graph()
        return self._graph

    def parameters(self) -> ParamDict:
        """{node name: {param name: float32 copy}} in canonical orientation."""
        owners = self._owners()
        # the user may have replaced a module or a parameter since: then each is resolved by
        # its path; while the model's parameters are the same objects, the known ones are read
        params = self._live().params
        if params is not self._param_ref:
            ids = [id(p) for p in params]
            if self._param_ids is None:
                self._param_ids = ids
            if ids != self._param_ids:
                return self._parameters_by_path(owners)
            self._param_ref = params
        plan = self._param_plan
        if plan is None or plan.owners is not owners:
            plan = self._param_plan = _param_plan(owners)
        if not plan.params:
            return {}
        # one copy of all of them (this runs at every record): views into it per parameter, and
        # per layer (LayerParams.flat: its statistics need no concatenation)
        grad = torch.is_grad_enabled()
        torch.set_grad_enabled(False)  # no autograd: the parameters need no .detach() each
        try:
            if plan.reordered:
                tensors = [
                    p if sub is None else _canonical(sub, "weight", p)
                    for p, sub in zip(plan.params, plan.transposed, strict=True)
                ]
            else:
                tensors = plan.params
            shapes = [t.shape for t in tensors]
            flat = _flat_float32(tensors)
        finally:
            torch.set_grad_enabled(grad)
        if shapes != plan.shapes:
            plan.shapes, plan.layout = shapes, _param_layout(plan.keys, shapes)
        out: ParamDict = {}
        for name, start, stop, items in plan.layout:
            layer = out[name] = LayerParams()
            for pname, a, b, shape in items:
                layer[pname] = flat[a:b].reshape(shape)
            layer.start = start
            layer.flat = flat[start:stop]
        return out

    def _parameters_by_path(self, owners: dict[str, _Owned]) -> ParamDict:
        """``parameters()`` once the model's parameters are not the known ones: each found
        again by its path (one that is gone is left out)."""
        out: ParamDict = {}
        where: list[tuple[str, str, tuple[int, ...]]] = []
        tensors: list[torch.Tensor] = []
        for name, owned in owners.items():
            for pname, _sub, attr, _p in owned.params:
                found = self._param_at(owned.path, pname)
                if found is not None:
                    sub, p = found
                    t = _canonical(sub, attr, p.detach()).to("cpu", torch.float32)
                    where.append((name, pname, tuple(t.shape)))
                    tensors.append(t.reshape(-1))
        if not tensors:
            return out
        flat = torch.cat(tensors).numpy()
        at = 0
        for name, pname, shape in where:  # a layer's parameters are consecutive
            n = math.prod(shape)
            layer = out.get(name)
            if not isinstance(layer, LayerParams):
                layer = out[name] = LayerParams()
                layer.start = at
            layer[pname] = flat[at : at + n].reshape(shape)
            at += n
            layer.flat = flat[layer.start : at]
        return out

    def _param_at(self, path: str, pname: str) -> tuple[nn.Module, torch.Tensor] | None:
        """(submodule, parameter) now at ``path.pname`` in the model, or None if it is gone."""
        full = f"{path}.{pname}" if path else pname
        sub_path, _, attr = full.rpartition(".")
        try:
            sub = self.model.get_submodule(sub_path) if sub_path else self.model
        except AttributeError:
            return None
        p = getattr(sub, attr, None)
        return (sub, p) if isinstance(p, torch.Tensor) else None

    def gradients(self) -> ParamDict:
        """Gradients, same keys as ``parameters()``.

        The ``.grad`` the user's loop left, where every trainable parameter has one; otherwise
        computed on the probe batch with ``torch.autograd.grad`` (so no ``.grad`` is touched).
        Parameters that get no gradient (frozen or unused) read as zeros.
        """
        grads = self._gradient_tensors()
        out: ParamDict = {}
        for name, owned in self._owners().items():
            if not owned.params:
                continue
            layer: dict[str, np.ndarray] = {}
            for pname, sub, attr, p in owned.params:
                g = grads.get(id(p))
                g = torch.zeros_like(p) if g is None else g.detach()
                layer[pname] = _to_numpy(_canonical(sub, attr, g))
            out[name] = layer
        return out

    def _gradient_tensors(self) -> dict[int, torch.Tensor | None]:
        """id(parameter) -> its gradient: the ``.grad`` the user's loop left where every
        trainable parameter has one, otherwise computed on the probe batch."""
        trainable = [p for p in self._live().params if p.requires_grad]
        if all(p.grad is not None for p in trainable):
            return {id(p): p.grad for p in trainable}
        return self._compute_gradients(trainable)

    def gradient_arrays(self) -> ParamDict:
        """``gradients()`` as one float32 copy of them all, with a view per parameter and per
        layer (``LayerParams.flat``), as ``parameters()`` does: what a record copies (it keeps
        the fixed sample later). Falls back to ``gradients()`` once the model's parameters are
        not the ones ``parameters()`` last read."""
        plan = self._param_plan
        if (
            plan is None
            or plan.owners is not self._owners_cache
            or self._live().params is not self._param_ref
        ):
            return self.gradients()
        if not plan.params:
            return {}
        grads = self._gradient_tensors()
        with torch.no_grad():
            tensors = []
            for p, sub in zip(plan.params, plan.transposed, strict=True):
                g = grads.get(id(p))
                if g is None:  # frozen or unused: zeros, as gradients() gives
                    g = torch.zeros_like(p)
                elif g.is_sparse:
                    g = g.to_dense()
                tensors.append(g if sub is None else _canonical(sub, "weight", g))
            shapes = [t.shape for t in tensors]
            flat = _flat_float32(tensors)
        layout = plan.layout if shapes == plan.shapes else _param_layout(plan.keys, shapes)
        out: ParamDict = {}
        for name, start, stop, items in layout:
            layer = out[name] = LayerParams()
            for pname, a, b, shape in items:
                layer[pname] = flat[a:b].reshape(shape)
            layer.start = start
            layer.flat = flat[start:stop]
        return out

    def gradient_norms(self) -> dict[str, float | None]:
        """Per-layer gradient norms computed in torch: no copies of the gradients (a record
        keeps only the norms). Same gradients as ``gradients()``; non-finite entries ignored."""
        owners = self._owners()
        live = self._live()
        plan = self._norm_plan
        if plan is None or plan.owners is not owners or plan.live is not live:
            plan = self._norm_plan = _norm_plan(owners, live)
        # the .grad the user's loop left, where every trainable parameter has one
        tensors: list[torch.Tensor] = []
        owner: list[str] = []
        for p, name in zip(plan.params, plan.owner, strict=True):
            if p.requires_grad:
                g = p.grad
                if g is None:
                    break
                tensors.append(g.detach())
                owner.append(name)
        else:
            if plan.covers or all(p.grad is not None for p in live.params if p.requires_grad):
                return _norms(plan.names, tensors, owner)
        # else computed on the probe batch
        grads = self._gradient_tensors()
        tensors, owner = [], []
        for p, name in zip(plan.params, plan.owner, strict=True):
            g = grads.get(id(p))
            if g is not None:
                tensors.append(g.detach())
                owner.append(name)
        return _norms(plan.names, tensors, owner)

    def activations(self) -> dict[str, np.ndarray]:
        """Output of every input, module and output node on the probe, (batch, ...) float32.

        Functional nodes (``add``, ``view`` ...) are omitted.
        """
        plan = self._probe_plan if self._probe_plan is not None else self._make_probe_plan()
        attention: dict[str, np.ndarray] = {}
        # what `with self._guard(), torch.no_grad(), self._attention_hooks(...)` does, with
        # fewer calls (this runs at every record, inside the training loop)
        saved = self._guard_enter()
        try:
            grad = torch.is_grad_enabled()
            torch.set_grad_enabled(False)
            try:
                if plan.attention:  # no hooks to place or remove without attention
                    with self._attention_hooks(plan.module_nodes) as attention:
                        captured, output = self._capture(plan)
                else:
                    captured, output = self._capture(plan)
            finally:
                torch.set_grad_enabled(grad)
        finally:
            self._guard_exit(saved)
        self.attention = attention
        if self._input_acts is None or self._input_acts[0] is not self._args:
            # the probe never changes: copied once (activations_for swaps in other args)
            got = {}
            for name, arg in zip(plan.inputs, [*self._args, *self._kwargs.values()], strict=False):
                t = _first_tensor(arg)
                if t is not None:
                    got[name] = _to_numpy(t)
            self._input_acts = (self._args, got)
        acts = dict(self._input_acts[1])
        for name, path in plan.module_nodes.items():
            if path in captured:
                acts[name] = captured[path]
        for name, t in zip(plan.outputs, _tensor_leaves(output), strict=False):
            acts[name] = _to_numpy(t)
        return acts

    def _make_probe_plan(self) -> _ProbePlan:
        graph = self.graph()
        module_nodes = {
            layer.name: path
            for layer in graph.layers
            if (path := self._node_path.get(layer.name)) is not None
        }
        wrap = []
        for path in dict.fromkeys(module_nodes.values()):
            m = self._mods.get(path)
            if m is not None and m is not self.model:
                wrap.append((path, m))
        self._probe_plan = _ProbePlan(
            module_nodes=module_nodes,
            paths=set(module_nodes.values()),
            wrap=wrap,
            attention=any(
                isinstance(self._mods.get(path), nn.MultiheadAttention)
                for path in module_nodes.values()
            ),
            inputs=[layer.name for layer in graph.layers if layer.kind == "input"],
            outputs=[layer.name for layer in graph.layers if layer.kind == "output"],
        )
        return self._probe_plan

    @contextlib.contextmanager
    def _attention_hooks(self, nodes: dict[str, str]) -> Iterator[dict[str, np.ndarray]]:
        """For one probe pass: each ``nn.MultiheadAttention`` node's attention weights on its
        first call, averaged over heads, (batch, queries, keys), by node name.

        A call made with ``need_weights=False`` (``nn.TransformerEncoderLayer`` does) is made
        with ``need_weights=True, average_attn_weights=True`` instead, and its caller gets
        ``(output, None)`` back as it asked for. Calls whose weights can't be had (unbatched,
        functional ``scaled_dot_product_attention``) are skipped silently. Hooks are removed
        on exit. The probe runs in the model's own mode: in train mode with attention dropout
        the weights are the dropped-out ones torch returns (rows then need not sum to 1)."""
        found: dict[str, np.ndarray] = {}
        handles: list[Any] = []

        def pre(forced: list[bool]) -> Callable[..., Any]:
            def hook(_m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
                pos = list(args)
                need = pos[_MHA_NEED_WEIGHTS] if len(pos) > _MHA_NEED_WEIGHTS else None
                if need is None:
                    need = kwargs.get("need_weights", True)
                forced.append(not need)
                if need:
                    return None  # weights come back anyway: leave the call as it is
                kw = dict(kwargs)
                for i, key in (
                    (_MHA_NEED_WEIGHTS, "need_weights"),
                    (_MHA_AVERAGE, "average_attn_weights"),
                ):
                    if len(pos) > i:
                        pos[i] = True
                    else:
                        kw[key] = True
                return tuple(pos), kw

            return hook

        def post(name: str, forced: list[bool]) -> Callable[..., Any]:
            def hook(_m: nn.Module, _a: Any, _k: Any, output: Any) -> Any:
                was_forced = forced.pop() if forced else False
                if not (isinstance(output, tuple) and len(output) == 2):
                    return None
                w = output[1]
                if name not in found and isinstance(w, torch.Tensor):
                    w = w.detach()
                    if w.ndim == 4:  # per-head weights (average_attn_weights=False)
                        w = w.float().mean(dim=1)
                    if w.ndim == 3:
                        found[name] = _to_numpy(w)
                return (output[0], None) if was_forced else None

            return hook

        try:
            hooked: set[str] = set()
            for name, path in nodes.items():
                m = self._mods.get(path)
                if isinstance(m, nn.MultiheadAttention) and path not in hooked:
                    hooked.add(path)
                    forced: list[bool] = []
                    handles.append(m.register_forward_pre_hook(pre(forced), with_kwargs=True))
                    handles.append(m.register_forward_hook(post(name, forced), with_kwargs=True))
            yield found
        finally:
            for h in handles:
                h.remove()

    def activations_for(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """activations() on the batch ``x`` instead of the probe (the probe is restored)."""
        saved = self._args, self._kwargs
        self._args, self._kwargs = (self._to_tensor(np.asarray(x)),), {}
        try:
            return self.activations()
        finally:
            self._args, self._kwargs = saved

    # ------------------------------------------------------------------ probe batch

    def _to_tensor(self, x: Any) -> Any:
        """numpy -> tensor (float64 -> the model's float dtype), moved to the model's device."""
        if isinstance(x, np.ndarray):
            t = torch.from_numpy(np.ascontiguousarray(x))
            if t.is_floating_point():
                t = t.to(self._float)
            return t.to(self._device)
        if isinstance(x, torch.Tensor):
            return x.to(self._device)
        return x

    def _cut(self, x: Any, what: str) -> Any:
        """Keep at most MAX_PROBE_SAMPLES along the batch dim of every tensor in ``x``."""
        sizes = [t.shape[0] for t in _tensor_leaves(x) if t.ndim >= 1]
        if not sizes or max(sizes) <= MAX_PROBE_SAMPLES:
            return x
        self.notes.append(
            f"{what}: probe batch cut from {max(sizes)} to {MAX_PROBE_SAMPLES} samples"
        )
        return pytree.tree_map(
            lambda t: t[:MAX_PROBE_SAMPLES] if isinstance(t, torch.Tensor) and t.ndim else t, x
        )

    def _make_probe(self, inputs: Any, input_shape: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if inputs is not None:
            conv = lambda v: pytree.tree_map(self._to_tensor, v)  # noqa: E731
            if isinstance(inputs, dict):
                args: tuple[Any, ...] = ()
                kwargs = {str(k): conv(v) for k, v in inputs.items()}
            elif isinstance(inputs, tuple | list):
                args, kwargs = tuple(conv(v) for v in inputs), {}
            else:
                args, kwargs = (conv(inputs),), {}
            cut = self._cut((args, kwargs), "inputs")
            return tuple(cut[0]), dict(cut[1])
        if input_shape is None:
            raise ValueError(
                f"{type(self.model).__name__}: cannot find the layer shapes without a probe; "
                "pass inputs=<a probe batch> or input_shape=<per-sample shape> "
                "(e.g. input_shape=(1, 28, 28))"
            )
        shapes = _shape_list(input_shape)
        # An embedding as first layer wants indices; anything else gets float zeros.
        first = next((m for m in self.model.modules() if not list(m.children())), None)
        dtype = torch.long if isinstance(first, nn.Embedding | nn.EmbeddingBag) else self._float
        # Batch of 2: BatchNorm in train mode refuses a batch of 1.
        return tuple(torch.zeros((2, *s), dtype=dtype, device=self._device) for s in shapes), {}

    def _name_inputs(self) -> list[str]:
        """One name per forward argument, from the forward's signature."""
        try:
            params = list(inspect.signature(self.model.forward).parameters.values())
        except (TypeError, ValueError):
            params = []
        pos = [
            p.name
            for p in params
            if p.kind
            in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        ]
        var = next((p.name for p in params if p.kind == inspect.Parameter.VAR_POSITIONAL), "input")
        names = [pos[i] if i < len(pos) else f"{var}_{i}" for i in range(len(self._args))]
        return names + list(self._kwargs)

    # ------------------------------------------------------------------ module table

    def _scan_modules(self) -> None:
        """Canonical module paths, aliases, layer modules and the root's display name."""
        model = self.model
        self._mods: dict[str, nn.Module] = dict(model.named_modules())
        path_of = {id(m): p for p, m in self._mods.items()}
        self._alias: dict[str, str] = {
            p: path_of[id(m)] for p, m in model.named_modules(remove_duplicate=False)
        }
        # layer_of[path]: the layer module that a module belongs to (itself, or its atomic
        # ancestor); None for containers. named_modules lists parents before children.
        self._layer_of: dict[str, str | None] = {}
        for path, m in self._mods.items():
            parent = path.rpartition(".")[0] if path else None
            inherited = self._layer_of.get(parent) if parent is not None else None
            if inherited is not None:
                self._layer_of[path] = inherited
            elif isinstance(m, _ATOMIC) or not any(True for _ in m.children()):
                self._layer_of[path] = path
            else:
                self._layer_of[path] = None
        root = type(model).__name__
        self._root_name = root if root not in self._mods else f"{root}_root"
        self._node_path: dict[str, str | None] = {}  # node name -> module path (module nodes)

    def _node_name(self, path: str) -> str:
        return path if path else self._root_name

    def _canon(self, raw: str) -> str | None:
        """A module path as written in a trace -> the canonical path, or None if unknown."""
        if raw in self._alias:
            return self._alias[raw]
        p = re.sub(r"\[['\"]?([^\]'\"]+)['\"]?\]", r".\1", raw)  # a['b'][0] -> a.b.0
        p = re.sub(r"^(L\.self|self|L__self__)\.?", "", p)
        return self._alias.get(p)

    def _owners(self) -> dict[str, _Owned]:
        """Node name -> the params it owns; first owner (in module order) wins on tying."""
        if self._owners_cache is not None:
            return self._owners_cache
        if any(isinstance(p, nn.parameter.UninitializedParameter) for p in self.model.parameters()):
            self.graph()  # lazy modules get their shapes on the first forward
        seen: dict[int, str] = {}
        owners: dict[str, _Owned] = {}
        for path, m in self._mods.items():
            layer = self._layer_of[path]
            if layer is not None and layer != path:
                continue  # inside an atomic module: its owner takes these
            recurse = layer is not None
            owned = _Owned(path, [], {})
            for pname, p in m.named_parameters(recurse=recurse, remove_duplicate=False):
                full = f"{path}.{pname}" if path else pname
                if id(p) in seen:
                    owned.tied[pname] = seen[id(p)]
                    continue
                seen[id(p)] = full
                sub_path, _, attr = pname.rpartition(".")
                sub = m.get_submodule(sub_path) if sub_path else m
                owned.params.append((pname, sub, attr, p))
            if layer is not None or owned.params:
                owners[self._node_name(path)] = owned
        self._owners_cache = owners
        return owners

    # ------------------------------------------------------------------ running the model

    def _live(self) -> _Live:
        """The model's modules and parameters now (``model.modules()``, ``model.parameters()``),
        walked again only when some module's ``_modules`` or ``_parameters`` changed (a module
        or parameter replaced, added or removed): this runs several times per record, and the
        check is a plain loop over what the walk would visit."""
        live = self._live_cache
        if live is not None and _same_members(live.modules, live.members):
            return live
        modules = list(self.model.modules())
        live = self._live_cache = _Live(
            modules=modules,
            params=list(self.model.parameters()),
            members=_members(modules),
            has_mha=any(isinstance(m, nn.MultiheadAttention) for m in modules),
        )
        return live

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Run something on the model and leave no trace: buffers, modes, RNG, MHA fast path."""
        saved = self._guard_enter()
        try:
            yield
        finally:
            self._guard_exit(saved)

    def _guard_enter(self) -> _Saved:
        """``_guard``'s entry: saves every module's train flag, its buffers and the RNG state
        (``_guard_exit`` puts them back) and turns the MHA fast path off."""
        # one pass over the modules (this runs at every record, inside the training loop)
        live = self._live()
        modules = live.modules
        modes = [m.training for m in modules]
        saved: list[tuple[nn.Module, str, torch.Tensor, torch.Tensor]] = []
        for m in modules:
            if m._buffers:
                saved.extend(
                    (m, n, b, b.detach().clone()) for n, b in m._buffers.items() if b is not None
                )
        # no CUDA RNG to protect unless CUDA is in use
        cuda = (
            sorted({p.device.index or 0 for p in live.params if p.device.type == "cuda"})
            if torch.cuda.is_initialized()
            else []
        )
        rng: Any
        if cuda:
            rng = torch.random.fork_rng(devices=cuda)
            rng.__enter__()
        else:
            rng = torch.get_rng_state()  # what fork_rng(devices=[]) saves, in one call
        mha = getattr(torch.backends, "mha", None) if live.has_mha else None
        fast = mha.get_fastpath_enabled() if mha is not None else None
        if mha is not None:
            # The fused path skips the submodules of TransformerEncoderLayer: no hooks, no shapes.
            mha.set_fastpath_enabled(False)
        return modules, modes, saved, rng, mha, fast

    def _guard_exit(self, saved_state: _Saved) -> None:
        """``_guard``'s exit: puts back what ``_guard_enter`` saved."""
        modules, modes, saved, rng, mha, fast = saved_state
        try:
            if isinstance(rng, torch.Tensor):
                torch.set_rng_state(rng)
            else:
                rng.__exit__(None, None, None)
        finally:
            if mha is not None and fast is not None:
                mha.set_fastpath_enabled(fast)
            for m, mode in zip(modules, modes, strict=True):
                if m.training is not mode:
                    m.training = mode
            if saved:
                with torch.no_grad():
                    for m, name, b, copy in saved:
                        m._buffers[name] = b
                        if b.shape == copy.shape:
                            b.copy_(copy)

    def _capture(self, plan: _ProbePlan) -> tuple[dict[str, np.ndarray], Any]:
        """One probe pass keeping the first output of each module in ``plan.paths``; this runs
        at every record. Each captured module's ``forward`` is wrapped for the pass (an instance
        attribute, removed after): a forward hook anywhere sends every module through torch's
        slow call path, which cost more than the pass itself. On failure the pass is repeated
        with ``_forward``'s bookkeeping hooks, for an error that names the layer."""
        captured: dict[str, np.ndarray] = {}

        def wrap(path: str, forward: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                out = forward(*args, **kwargs)
                if path not in captured:
                    t = out if isinstance(out, torch.Tensor) else _first_tensor(out)
                    if t is not None:
                        captured[path] = _to_numpy(t)  # copy now: later in-place ops change it
                return out

            return call

        patched: list[tuple[nn.Module, Any]] = []  # (module, its own instance attribute or _NONE)
        try:
            try:
                for path, m in plan.wrap:
                    # what `m.forward = ...` does (nn.Module.__setattr__ ends there for a
                    # function), without that method's checks
                    attrs = m.__dict__
                    patched.append((m, attrs.get("forward", _NONE)))
                    attrs["forward"] = wrap(path, m.forward)
                output = self.model(*self._args, **self._kwargs)
            finally:
                _unpatch(patched)
        except Exception:
            run = self._forward(capture=plan.paths)  # raises the ValueError naming the layer
            return run.captured, run.output
        return captured, output

    def _forward(self, capture: set[str] | None = None) -> _Run:
        """One forward pass of the probe with hooks; a ValueError naming the failing layer."""
        calls: dict[str, _Call] = {}
        order: list[str] = []
        captured: dict[str, np.ndarray] = {}
        stack: list[tuple[str, list[tuple[int, ...]]]] = []
        handles: list[Any] = []

        def pre(path: str) -> Callable[..., None]:
            def hook(_m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
                shapes = [tuple(t.shape) for t in _tensor_leaves((args, kwargs))]
                stack.append((path, shapes))
                if path not in calls:
                    calls[path] = _Call(input_shapes=shapes)
                    order.append(path)

            return hook

        def post(path: str) -> Callable[..., None]:
            def hook(_m: nn.Module, _a: Any, _k: Any, output: Any) -> None:
                # pop this module (and anything a caught exception left above it)
                for i in range(len(stack) - 1, -1, -1):
                    if stack[i][0] == path:
                        del stack[i:]
                        break
                call = calls[path]
                t = _first_tensor(output)
                if call.output_shape is None and t is not None:
                    call.output_shape = tuple(t.shape)
                    if capture is not None and path in capture:
                        captured[path] = _to_numpy(t)  # copy now: later in-place ops change it

            return hook

        try:
            for path, m in self._mods.items():
                handles.append(m.register_forward_pre_hook(pre(path), with_kwargs=True))
                handles.append(m.register_forward_hook(post(path), with_kwargs=True))
            try:
                output = self.model(*self._args, **self._kwargs)
            except Exception as err:
                path, shapes = stack[-1] if stack else ("", [])
                raise self._forward_error(err, path, shapes) from err
        finally:
            for h in handles:
                h.remove()
        return _Run(output, calls, order, captured)

    def _forward_error(
        self, err: Exception, path: str, shapes: list[tuple[int, ...]]
    ) -> ValueError:
        m = self._mods.get(path, self.model)
        cls = type(m).__name__
        extra = m.extra_repr().split("\n")[0]
        extra = extra if len(extra) <= 100 else extra[:97] + "..."
        what = f"layer '{path}' ({cls}{', ' + extra if extra else ''})"
        if not path:
            what = f"model {cls} (in its own forward, outside any submodule)"
        text = ", ".join(_fmt(s) for s in shapes)
        if len(shapes) == 1:
            got = f"input of shape {text} does not fit"
        elif shapes:
            got = f"inputs of shapes {text} do not fit"
        else:
            got = "the probe does not fit"
        return ValueError(f"{got} {what}: {type(err).__name__}: {err}")

    def _compute_gradients(self, trainable: list[nn.Parameter]) -> dict[int, torch.Tensor | None]:
        """Gradients of a probe loss, without touching any ``.grad``."""
        with self._guard(), torch.enable_grad():
            run = self._forward()
            out = _first_tensor(run.output)
            if out is None or not out.is_floating_point() or not trainable:
                return {}
            loss = self._loss(out)
            if not loss.requires_grad:
                return {}
            grads = torch.autograd.grad(loss, trainable, allow_unused=True)
        return {id(p): g for p, g in zip(trainable, grads, strict=True)}

    def _loss(self, out: torch.Tensor) -> torch.Tensor:
        """Cross-entropy for class labels, binary cross-entropy for 0/1 labels of a single
        output, MSE for float targets, else the mean square output."""
        y = self._labels
        if isinstance(y, torch.Tensor):
            if out.ndim == 2 and out.shape[1] == 1 and y.numel() == out.shape[0]:
                target = y.reshape(-1, 1).float()
                if bool(((target == 0) | (target == 1)).all()):
                    o = out.float()
                    inside = bool(((o >= 0) & (o <= 1)).all())  # already a probability?
                    return (
                        F.binary_cross_entropy(o.clamp(1e-7, 1 - 1e-7), target)
                        if inside
                        else F.binary_cross_entropy_with_logits(o, target)
                    )
                return F.mse_loss(out.float(), target)
            if (
                not y.is_floating_point()
                and out.ndim == 2
                and y.shape == (out.shape[0],)
                and not y.is_complex()
                and y.dtype != torch.bool
            ):
                return F.cross_entropy(out.float(), y.long())
            if y.is_floating_point() and y.shape == out.shape:
                return F.mse_loss(out.float(), y.float())
        return out.float().pow(2).mean()

    # ------------------------------------------------------------------ the graph

    def _build_graph(self) -> Graph:
        with self._guard(), torch.no_grad():
            run = self._forward()
        self._owners_cache = None  # lazy modules may have just materialised
        notes = list(self.notes)
        reasons: list[str] = []
        built: tuple[list[_Node], list[tuple[str, str]]] | None = None
        for how, trace in (("torch.export", self._trace_export), ("torch.fx", self._trace_fx)):
            try:
                with self._guard(), _quiet():
                    traced = trace()
                built = self._from_trace(*traced, run)
                break
            except Exception as err:
                reasons.append(f"{how} failed ({type(err).__name__}: {_first_line(err)})")
        approximate = built is None
        if built is None:
            built = self._from_order(run)
            notes.append(
                "topology guessed from the order in which layers ran (skip connections and "
                "functional ops are not shown): " + "; ".join(reasons)
            )
        nodes, edges = built
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
        )

    def _trace_export(self) -> _Trace:
        ep = torch.export.export(self.model, self._args, kwargs=self._kwargs or None, strict=False)
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

    # ------------------------------------------------------------------ node factories

    def _input_node(self, name: str, index: int) -> _Node:
        values = [*self._args, *self._kwargs.values()]
        t = _first_tensor(values[index]) if index < len(values) else None
        shape = _per_sample(tuple(t.shape)) if t is not None else ()
        return _Node(name, "input", "input", priority=-1000.0 + index, output_shape=shape)

    def _module_node(self, name: str, path: str, idx: float, run: _Run, fx_node: Any) -> _Node:
        m = self._mods[path]
        kind, units, detail = describe_module(m)
        call = run.calls.get(path)
        out: Shape = ()
        ins: list[Shape] = []
        if call is not None and call.output_shape is not None:
            out = _per_sample(call.output_shape)
            ins = [_per_sample(s) for s in call.input_shapes]
        elif (traced := _meta_shape(fx_node)) is not None:
            out = _per_sample(traced)  # the hooks missed it: use the traced shape
        return _Node(
            name,
            kind,
            type(m).__name__,
            priority=float(idx),
            path=path,
            parent=_parent(path),
            output_shape=out,
            input_shapes=ins,
            units=units,
            detail=detail,
        )

    def _holder_node(self, name: str, path: str, priority: float) -> _Node:
        """A container's own parameters (e.g. ``self.scale = nn.Parameter(...)``)."""
        return _Node(
            name,
            "other",
            type(self._mods[path]).__name__,
            priority=priority,
            path=path,
            parent=_parent(path),
            detail={"holds": "parameters of a container module"},
        )

    @staticmethod
    def _function_node(
        name: str,
        op: str,
        idx: int,
        container: str,
        n: Any,
        n_tensors: int,
        ins: list[Any],
        is_data: dict[Any, bool],
    ) -> _Node:
        kind, detail = _function_kind(op, n_tensors)
        out = _meta_shape(n)
        in_shapes = [_per_sample(s) for a in ins if is_data.get(a) and (s := _meta_shape(a))]
        return _Node(
            name,
            kind,
            op,
            priority=float(idx),
            parent=container or None,
            output_shape=_per_sample(out) if out else (),
            input_shapes=in_shapes,
            detail=detail,
        )


# ---------------------------------------------------------------------- module classification


def describe_module(m: nn.Module) -> tuple[str, int | None, dict[str, Any]]:
    """(kind, units, detail) of a layer module; unknown classes are ``"other"``."""
    if isinstance(m, nn.MultiheadAttention):
        return "attention", m.embed_dim, {"num_heads": m.num_heads}
    if isinstance(m, nn.RNNBase):
        cell = {"RNN_TANH": "rnn", "RNN_RELU": "rnn"}.get(m.mode, m.mode.lower())
        detail = {"cell": cell, "num_layers": m.num_layers, "bidirectional": m.bidirectional}
        return "recurrent", m.hidden_size, detail
    if isinstance(m, nn.RNNCellBase):
        cell = type(m).__name__.lower().replace("cell", "") or "rnn"
        return "recurrent", m.hidden_size, {"cell": cell}
    if isinstance(m, nn.Linear):
        return "dense", m.out_features, {"in_features": m.in_features}
    if isinstance(m, nn.Bilinear):
        return "dense", m.out_features, {"in_features": [m.in1_features, m.in2_features]}
    if isinstance(m, nn.modules.conv._ConvNd):
        detail = {
            "dim": len(m.kernel_size),
            "kernel_size": list(m.kernel_size),
            "stride": list(m.stride),
            "padding": m.padding if isinstance(m.padding, str) else list(m.padding),
            "groups": m.groups,
            "transposed": bool(m.transposed),
        }
        return "conv", m.out_channels, detail
    if isinstance(m, nn.Embedding | nn.EmbeddingBag):
        return "embedding", m.embedding_dim, {"num_embeddings": m.num_embeddings}
    base = _torch_base(m)
    name = base.__name__ if base is not None else ""
    if isinstance(m, nn.modules.dropout._DropoutNd):
        return "dropout", None, {"p": m.p}
    if "Pool" in name:
        detail = {
            k: _plain(getattr(m, k))
            for k in ("kernel_size", "stride", "output_size")
            if getattr(m, k, None) is not None
        }
        return "pool", None, detail
    if "Norm" in name:
        detail = {
            k: _plain(getattr(m, k))
            for k in ("num_features", "normalized_shape", "num_groups", "num_channels")
            if getattr(m, k, None) is not None
        }
        return "norm", None, detail
    if base is not None and base.__module__ == "torch.nn.modules.activation":
        return "activation", None, {"activation": _ACTIVATION_NAMES.get(name, name.lower())}
    if name in ("Flatten", "Unflatten", "PixelShuffle", "PixelUnshuffle", "ChannelShuffle"):
        return "reshape", None, {}
    return "other", None, {}


def _torch_base(m: nn.Module) -> type | None:
    """The first class in ``m``'s MRO that torch.nn defines (not Module itself)."""
    for cls in type(m).__mro__:
        if cls is nn.Module:
            return None
        if (cls.__module__ or "").startswith("torch.nn."):
            return cls
    return None


def _function_kind(op: str, n_tensor_inputs: int) -> tuple[str, dict[str, Any]]:
    """Kind and detail of a functional op (an op outside every layer module)."""
    if op in _ACTIVATION_FN:
        return "activation", {"activation": op}
    if op in _RESHAPE_FN:
        return "reshape", {"op": op}
    if op in _MERGE_FN and n_tensor_inputs >= 2:
        return "merge", {"op": _MERGE_FN[op]}
    if "pool" in op:
        return "pool", {"op": op}
    if "dropout" in op:
        return "dropout", {"op": op}
    if "norm" in op:
        return "norm", {"op": op}
    if op in ("linear", "bilinear"):
        return "dense", {"op": op}
    if op.startswith("conv"):
        return "conv", {"op": op}
    if op.startswith("embedding"):
        return "embedding", {"op": op}
    if "attention" in op:
        return "attention", {"op": op}
    return "other", {"op": op}


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


# ---------------------------------------------------------------------- small helpers


def _device_and_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    device = torch.device("cpu")
    dtype = torch.float32
    for t in [*model.parameters(), *model.buffers()]:
        if isinstance(t, nn.parameter.UninitializedParameter):
            continue
        device = t.device
        if t.is_floating_point():
            return device, t.dtype
    return device, dtype


def _shape_list(input_shape: Any) -> list[tuple[int, ...]]:
    """``(784,)`` -> one shape; ``[(3,), (5, 2)]`` -> several (one per forward argument)."""
    if isinstance(input_shape, int):
        return [(input_shape,)]
    items = list(input_shape)
    if all(isinstance(s, int) for s in items):
        return [tuple(int(s) for s in items)]
    shapes = []
    for s in items:
        if isinstance(s, int) or any(not isinstance(d, int) for d in s):
            raise ValueError(
                f"input_shape must be a per-sample shape of ints like (1, 28, 28), or a list of "
                f"such shapes; got {input_shape!r}"
            )
        shapes.append(tuple(int(d) for d in s))
    return shapes


def _members(modules: list[nn.Module]) -> list[Any]:
    """What ``_same_members`` compares: each module, then its ``_modules`` and ``_parameters``
    values (None entries included)."""
    out: list[Any] = []
    for m in modules:
        out.append(m)
        out.extend(m._modules.values())
        out.extend(m._parameters.values())
    return out


def _same_members(modules: list[nn.Module], members: list[Any]) -> bool:
    """Whether ``_members(modules)`` would give the same objects again (by identity: a
    parameter's ``==`` compares values). Then ``model.modules()`` and ``model.parameters()``
    give what they gave."""
    i = 0
    try:
        for m in modules:
            if members[i] is not m:
                return False
            i += 1
            for v in m._modules.values():
                if members[i] is not v:
                    return False
                i += 1
            for v in m._parameters.values():
                if members[i] is not v:
                    return False
                i += 1
    except IndexError:  # more than there were
        return False
    return i == len(members)


def _tensor_leaves(x: Any) -> list[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        return [x]  # what pytree gives for a tensor, in one call
    return [t for t in pytree.tree_leaves(x) if isinstance(t, torch.Tensor)]


def _first_tensor(x: Any) -> torch.Tensor | None:
    leaves = _tensor_leaves(x)
    return leaves[0] if leaves else None


_NONE = object()


def _unpatch(patched: list[tuple[nn.Module, Any]]) -> None:
    """Undo _capture's forward wrappers (restoring an instance ``forward`` that was there)."""
    for m, own in reversed(patched):
        if own is _NONE:
            m.__dict__.pop("forward", None)
        else:
            m.__dict__["forward"] = own


def _sum_squares(g: torch.Tensor) -> float:
    """Sum of squares in float64, non-finite entries left out (dense or sparse gradients)."""
    if g.is_sparse:
        g = g.coalesce().values()
    sq = float(torch.linalg.vector_norm(g, dtype=torch.float64)) ** 2
    if not math.isfinite(sq):
        g = g[torch.isfinite(g)]
        sq = float(torch.linalg.vector_norm(g, dtype=torch.float64)) ** 2
    return sq


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    """A float32 numpy copy (not a view) of ``t``, in its own memory order."""
    t = t.detach()
    if t.dtype is not torch.float32 or not t.is_cpu:
        t = t.to("cpu", torch.float32)
    return np.array(t.numpy())  # a copy, in the tensor's memory order


def _flat_float32(tensors: list[torch.Tensor]) -> np.ndarray:
    """What ``torch.cat([t.to("cpu", torch.float32).reshape(-1) for t in tensors]).numpy()``
    gives (a new buffer), in fewer calls; with autograd off, or of tensors that need none."""
    flat: torch.Tensor | None = None
    if len(tensors) > 1:  # (of one tensor it gives a view, not a copy)
        with contextlib.suppress(Exception):  # mixed devices: converted one by one
            # one call: each tensor made contiguous and viewed 1-D, then concatenated
            flat = torch._utils._flatten_dense_tensors(tensors)
    if flat is None or flat.dtype is not torch.float32:
        # the float32 result of cat is each value converted once, as .to() does; any other
        # (float64, half, complex) is converted tensor by tensor, as it always was
        flat = torch.cat([t.to("cpu", torch.float32).reshape(-1) for t in tensors])
    elif not flat.is_cpu:
        flat = flat.cpu()
    return flat.numpy()


def _param_plan(owners: dict[str, _Owned]) -> _ParamPlan:
    plan = _ParamPlan(owners=owners, keys=[], params=[], transposed=[])
    for name, owned in owners.items():
        for pname, sub, attr, p in owned.params:
            plan.keys.append((name, pname))
            plan.params.append(p)
            reordered = attr == "weight" and isinstance(sub, nn.modules.conv._ConvTransposeNd)
            plan.transposed.append(sub if reordered else None)
            plan.reordered = plan.reordered or reordered
    return plan


def _param_layout(
    keys: list[tuple[str, str]], shapes: list[torch.Size]
) -> list[tuple[str, int, int, list[tuple[str, int, int, tuple[int, ...]]]]]:
    """Where each parameter (and each layer's run of them) lies in the one flat buffer."""
    layout: list[tuple[str, int, int, list[tuple[str, int, int, tuple[int, ...]]]]] = []
    at = 0
    for (name, pname), shape in zip(keys, shapes, strict=True):
        n = math.prod(shape)
        if not layout or layout[-1][0] != name:
            layout.append((name, at, at, []))
        layer, start, _, items = layout[-1]
        items.append((pname, at, at + n, tuple(shape)))
        at += n
        layout[-1] = (layer, start, at, items)
    return layout


def _norm_plan(owners: dict[str, _Owned], live: _Live) -> _NormPlan:
    model_params = {id(p) for p in live.params}
    plan = _NormPlan(owners=owners, live=live, names=[], params=[], owner=[], covers=False)
    for name, owned in owners.items():
        if not owned.params:
            continue
        plan.names.append(name)
        for _pname, _sub, _attr, p in owned.params:
            if id(p) in model_params:
                plan.params.append(p)
                plan.owner.append(name)
    plan.covers = len(plan.params) == len(model_params)
    return plan


def _norms(
    names: list[str], tensors: list[torch.Tensor], owner: list[str]
) -> dict[str, float | None]:
    """Per layer: the L2 norm of its gradients ``tensors`` (each owned by ``owner``)."""
    totals = dict.fromkeys(names, 0.0)
    if tensors:
        try:  # one fused call for all of them (as clip_grad_norm_ does)
            found = torch._foreach_norm(tensors)
            # on the CPU one .item() each is cheaper than stacking; elsewhere one sync
            cpu = found[0].is_cpu
            norms = [n.item() for n in found] if cpu else torch.stack(found).tolist()
        except Exception:  # sparse, mixed devices or dtypes: one by one
            norms = [math.nan] * len(tensors)
        for name, g, norm in zip(owner, tensors, norms, strict=True):
            # non-finite entries (or a float32 overflow): exact, without them
            totals[name] += norm * norm if math.isfinite(norm) else _sum_squares(g)
    return {name: math.sqrt(total) for name, total in totals.items()}


def _per_sample(shape: tuple[int, ...] | Shape) -> Shape:
    return tuple(int(s) if s is not None else None for s in shape[1:])


def _meta_shape(n: Any) -> tuple[int, ...] | None:
    """Shape recorded on an fx node by export (``val``) or ShapeProp (``tensor_meta``)."""
    if not isinstance(n, torch.fx.Node):
        return None
    for key in ("val", "tensor_meta"):
        value = n.meta.get(key)
        # one tensor (or TensorMetadata, itself a tuple), or a list of them
        many = isinstance(value, list | tuple) and not hasattr(value, "shape")
        leaves = pytree.tree_leaves(value) if many else [value]
        for v in leaves:
            shape = getattr(v, "shape", None)
            if shape is not None:
                try:
                    return tuple(int(s) for s in shape)
                except (TypeError, ValueError):
                    return None  # symbolic sizes
    return None


def _canonical(sub: nn.Module, attr: str, t: torch.Tensor) -> torch.Tensor:
    """ConvTranspose weight (in, out/g, *k) -> canonical (out, in/g, *k)."""
    if attr == "weight" and isinstance(sub, nn.modules.conv._ConvTransposeNd):
        g = sub.groups
        cin, cout_g, *k = t.shape
        t = t.reshape(g, cin // g, cout_g, *k).transpose(1, 2).reshape(g * cout_g, cin // g, *k)
    return t


def _canonical_shape(sub: nn.Module, attr: str, p: torch.Tensor) -> tuple[int, ...]:
    shape = tuple(int(s) for s in p.shape)
    if attr == "weight" and isinstance(sub, nn.modules.conv._ConvTransposeNd):
        g = sub.groups
        return (shape[1] * g, shape[0] // g, *shape[2:])
    return shape


def _parent(path: str) -> str | None:
    return (path.rpartition(".")[0] or None) if path else None


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple | list | torch.Size) else v


def _fmt(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


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


def _output_node(name: str, t: torch.Tensor, priority: float) -> _Node:
    shape = _per_sample(tuple(t.shape))
    return _Node(
        name, "output", "output", priority=priority, output_shape=shape, input_shapes=[shape]
    )


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
