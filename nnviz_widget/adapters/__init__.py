"""Framework adapters. Only the submodules import torch / keras, and only when used."""

from __future__ import annotations

from typing import Any

from .base import ModelAdapter, ParamDict

__all__ = ["ModelAdapter", "ParamDict", "adapt", "framework_of"]


def framework_of(model: Any) -> str | None:
    """'torch', 'keras' or None, decided from the class hierarchy without importing a framework."""
    for cls in type(model).__mro__:
        mod = cls.__module__ or ""
        qual = f"{mod}.{cls.__qualname__}"
        if qual == "torch.nn.modules.module.Module":
            return "torch"
        if mod.startswith("keras") and cls.__name__ in ("Model", "Sequential", "Functional"):
            return "keras"
    return None


def adapt(
    model: Any, inputs: Any = None, input_shape: Any = None, labels: Any = None
) -> ModelAdapter:
    """Pick the adapter for ``model``; a clear TypeError for anything that is not a model."""
    fw = framework_of(model)
    if fw == "torch":
        from .torch import TorchAdapter

        return TorchAdapter(model, inputs=inputs, input_shape=input_shape, labels=labels)
    if fw == "keras":
        from .keras import KerasAdapter

        return KerasAdapter(model, inputs=inputs, input_shape=input_shape, labels=labels)
    raise TypeError(
        "NNViz takes a torch.nn.Module or a keras.Model (Sequential, functional or subclassed), "
        f"or an nnviz_widget.Recorder; got {type(model).__module__}.{type(model).__qualname__}"
    )
