"""nnviz-widget: watch a neural network learn, inside the notebook.

``import nnviz_widget`` imports neither torch nor tensorflow: the adapters load them lazily.
``nnv.LightningCallback`` and ``nnv.HFCallback`` import lightning / transformers when first used.
"""

from __future__ import annotations

from typing import Any

from .compare import Comparison, compare
from .follow import follow
from .graph import KINDS, Graph, Layer
from .history import History
from .recorder import Recorder, load_recorder
from .runfile import RunFileError
from .snapshot import Snapshot
from .version import __version__
from .widget import NNViz, load, to_html

__all__ = [
    "KINDS",
    "Comparison",
    "Graph",
    "History",
    "Layer",
    "NNViz",
    "Recorder",
    "RunFileError",
    "Snapshot",
    "__version__",
    "compare",
    "follow",
    "load",
    "load_recorder",
    "to_html",
]


def __getattr__(name: str) -> Any:
    """The framework callbacks, imported on first use (they subclass the framework's class)."""
    if name == "LightningCallback":
        from .adapters.torch.lightning import LightningCallback  # imports lightning

        return LightningCallback
    if name == "HFCallback":
        from .adapters.torch.hf_trainer import HFCallback  # imports transformers

        return HFCallback
    raise AttributeError(f"module 'nnviz_widget' has no attribute {name!r}")
