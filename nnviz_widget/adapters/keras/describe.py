"""What each Keras layer or op is: its kind, units and detail, and its variables in the canonical
(torch) orientation: a Dense ``kernel`` (in, out) becomes ``weight`` (out, in), a Conv ``kernel``
(*k, in, out) becomes ``weight`` (out, in, *k)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from ...graph import Shape

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


# How a variable is turned into its canonical orientation.
_AS_IS, _DENSE, _CONV, _DEPTHWISE = "as_is", "dense", "conv", "depthwise"


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


def _last(shape: Shape) -> int | None:
    return shape[-1] if shape else None


def _ints(value: Any) -> list[int] | int | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return [int(v) for v in value]
    return int(value)
