"""nnviz-widget: watch a neural network learn, inside the notebook.

``import nnviz_widget`` imports neither torch nor tensorflow: the adapters load them lazily.
"""

from __future__ import annotations

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
