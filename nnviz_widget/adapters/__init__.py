"""Framework adapters, chosen by ``adapt(model)`` from the registry ``FRAMEWORKS``.

Each framework is one subpackage (``torch/``, ``keras/``, ``sklearn/``: the only modules that
import a framework; sklearn's reads only an estimator's public arrays) and one ``Framework``
entry: a test on the model's classes that imports nothing, and where its adapter class lives,
imported only when a model of that framework comes.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .base import ModelAdapter, ParamDict

__all__ = ["FRAMEWORKS", "Framework", "ModelAdapter", "ParamDict", "adapt", "framework_of"]


@dataclass(frozen=True)
class Framework:
    """One framework ``adapt()`` knows."""

    name: str
    #: whether a class in the model's MRO is this framework's model class (imports nothing)
    is_model_class: Callable[[type], bool]
    #: "module:Class" of its ``ModelAdapter``, the module relative to this package
    adapter: str
    #: what it takes, for the error message on anything else
    takes: str


def _torch_module(cls: type) -> bool:
    return f"{cls.__module__ or ''}.{cls.__qualname__}" == "torch.nn.modules.module.Module"


def _keras_model(cls: type) -> bool:
    mod = cls.__module__ or ""
    return mod.startswith("keras") and cls.__name__ in ("Model", "Sequential", "Functional")


def _sklearn_mlp(cls: type) -> bool:
    mod = cls.__module__ or ""
    return mod.startswith("sklearn.neural_network") and cls.__name__ in (
        "MLPClassifier",
        "MLPRegressor",
    )


FRAMEWORKS: tuple[Framework, ...] = (
    Framework("torch", _torch_module, ".torch:TorchAdapter", "a torch.nn.Module"),
    Framework(
        "keras",
        _keras_model,
        ".keras:KerasAdapter",
        "a keras.Model (Sequential, functional or subclassed)",
    ),
    Framework(
        "sklearn",
        _sklearn_mlp,
        ".sklearn:SklearnAdapter",
        "a fitted sklearn MLPClassifier / MLPRegressor",
    ),
)


def _framework(model: Any) -> Framework | None:
    for cls in type(model).__mro__:
        for fw in FRAMEWORKS:
            if fw.is_model_class(cls):
                return fw
    return None


def framework_of(model: Any) -> str | None:
    """'torch', 'keras', 'sklearn' or None, from the class hierarchy (imports no framework)."""
    fw = _framework(model)
    return fw.name if fw is not None else None


def adapt(
    model: Any, inputs: Any = None, input_shape: Any = None, labels: Any = None
) -> ModelAdapter:
    """Pick the adapter for ``model``; a clear TypeError for anything that is not a model."""
    fw = _framework(model)
    if fw is None:
        *rest, last = [f.takes for f in FRAMEWORKS]
        takes = f"{', '.join(rest)} or {last}" if rest else last
        raise TypeError(
            f"NNViz takes {takes}, or an nnviz_widget.Recorder; "
            f"got {type(model).__module__}.{type(model).__qualname__}"
        )
    module, _, name = fw.adapter.partition(":")
    cls: type[ModelAdapter] = getattr(importlib.import_module(module, __name__), name)
    return cls(model, inputs=inputs, input_shape=input_shape, labels=labels)
