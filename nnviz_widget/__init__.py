"""nnviz-widget: watch a neural network learn, inside the notebook."""

from __future__ import annotations

from .graph import KINDS, Graph, Layer

__all__ = ["KINDS", "Graph", "Layer"]
__version__ = "0.1.0"
