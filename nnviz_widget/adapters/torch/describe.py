"""What each graph node is: the kind, units and detail of a layer module or a functional op,
its per-sample shapes, and parameters in the canonical orientation (``ConvTranspose`` weights
reordered to ``(out, in, *kernel)``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx
from torch import nn
from torch.utils import _pytree as pytree

from ...graph import Shape
from .run import Runner, _first_tensor, _Run

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


class Describe(Runner):
    """The node factories of ``TorchAdapter``: one ``_Node`` per input, module, holder, op."""

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
        """A container's own parameters (e.g. ``self.scale = nn.Parameter(...)``): inside the
        container (its ``parent`` is the container itself), so a collapsed block holds them."""
        return _Node(
            name,
            "other",
            type(self._mods[path]).__name__,
            priority=priority,
            path=path,
            parent=path or None,
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
    if _is_hf_conv1d(m):
        n_in, n_out = (int(d) for d in getattr(m, "weight").shape)  # noqa: B009 (typed Any)
        return "dense", n_out, {"in_features": n_in}
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
    # a model library's own norms (LlamaRMSNorm, T5LayerNorm) subclass nn.Module directly
    if "Norm" in name or type(m).__name__.endswith(("RMSNorm", "LayerNorm", "GroupNorm")):
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


def _output_node(name: str, t: torch.Tensor, priority: float) -> _Node:
    shape = _per_sample(tuple(t.shape))
    return _Node(
        name, "output", "output", priority=priority, output_shape=shape, input_shapes=[shape]
    )


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


def _is_hf_conv1d(m: nn.Module) -> bool:
    """Hugging Face's ``Conv1D`` (GPT-2's linear layers): a dense layer whose weight is stored
    (in, out), the transpose of ``nn.Linear``'s. Recognised by name and shape, not imported."""
    w = getattr(m, "weight", None)
    return (
        type(m).__name__ == "Conv1D"
        and isinstance(getattr(m, "nf", None), int)
        and isinstance(w, torch.Tensor)
        and w.dim() == 2
        and w.shape[1] == m.nf
    )


def _reordered(sub: nn.Module, attr: str) -> bool:
    """Whether ``sub``'s ``attr`` is stored in another orientation than the canonical one."""
    return attr == "weight" and (
        isinstance(sub, nn.modules.conv._ConvTransposeNd) or _is_hf_conv1d(sub)
    )


def _canonical(sub: nn.Module, attr: str, t: torch.Tensor) -> torch.Tensor:
    """ConvTranspose weight (in, out/g, *k) -> canonical (out, in/g, *k); HF Conv1D weight
    (in, out) -> (out, in) like ``nn.Linear``."""
    if attr == "weight" and _is_hf_conv1d(sub):
        return t.t()
    if attr == "weight" and isinstance(sub, nn.modules.conv._ConvTransposeNd):
        g = sub.groups
        cin, cout_g, *k = t.shape
        t = t.reshape(g, cin // g, cout_g, *k).transpose(1, 2).reshape(g * cout_g, cin // g, *k)
    return t


def _canonical_shape(sub: nn.Module, attr: str, p: torch.Tensor) -> tuple[int, ...]:
    shape = tuple(int(s) for s in p.shape)
    if attr == "weight" and _is_hf_conv1d(sub):
        return (shape[1], shape[0])
    if attr == "weight" and isinstance(sub, nn.modules.conv._ConvTransposeNd):
        g = sub.groups
        return (shape[1] * g, shape[0] // g, *shape[2:])
    return shape


def _parent(path: str) -> str | None:
    return (path.rpartition(".")[0] or None) if path else None


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple | list | torch.Size) else v
