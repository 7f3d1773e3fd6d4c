"""nnviz-widget: watch a neural network learn, inside the notebook.

``import nnviz_widget`` imports neither torch nor tensorflow: the adapters load them lazily.
"""

from __future__ import annotations

from .graph import KINDS, Graph, Layer
from .store import RunFileError, load, load_recorder, to_html
from .timeline import History, Recorder, Snapshot
from .widget import NNViz

__all__ = [
    "KINDS",
    "Graph",
    "History",
    "Layer",
    "NNViz",
    "Recorder",
    "RunFileError",
    "Snapshot",
    "load",
    "load_recorder",
    "to_html",
]
__version__ = "0.1.0"
