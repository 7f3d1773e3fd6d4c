"""nnviz-widget: watch a neural network learn, inside the notebook.

``import nnviz_widget`` imports neither torch nor tensorflow: the adapters load them lazily.
"""

from __future__ import annotations

from .graph import KINDS, Graph, Layer
from .timeline import History, Recorder, Snapshot
from .widget import NNViz

__all__ = ["KINDS", "Graph", "History", "Layer", "NNViz", "Recorder", "Snapshot"]
__version__ = "0.1.0"
