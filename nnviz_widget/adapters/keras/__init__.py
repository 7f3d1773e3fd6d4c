"""Keras 3 adapter: neutral graph, parameters, gradients and activations of a ``keras.Model``.

Works on the TensorFlow and the torch backends of Keras 3 (the backend is fixed per process).
This is the only package that imports keras. ``KerasAdapter`` is put together from one class per
concern, each building on the one before (``structure`` <- ``run`` <- ``read``):

* ``describe.py``: what each layer is (kind, units, detail) and its weights' canonical orientation;
* ``structure.py``: the graph, read from the functional graph, or from the call order on the
  probe for a subclassed model (``approximate=True``);
* ``run.py``: the probe batch and the passes on it (activations, attention scores), compiled with
  ``tf.function`` on TensorFlow;
* ``read.py``: parameters and the gradients of a probe loss, read at every record;
* ``callback.py``: the Keras callback behind ``Recorder.keras_callback()``.
"""

from __future__ import annotations

from typing import Any

import keras

from ...graph import Graph
from .read import Read
from .run import MAX_PROBE, _cut, _to_numpy_tree
from .structure import _graph_network, _node_layers

__all__ = ["MAX_PROBE", "KerasAdapter"]


class KerasAdapter(Read):
    """Adapter for Keras 3 models (Sequential, functional, subclassed) on TF or torch backends."""

    framework = "keras"

    def __init__(
        self, model: Any, inputs: Any = None, input_shape: Any = None, labels: Any = None
    ) -> None:
        super().__init__(model, inputs=inputs, input_shape=input_shape, labels=labels)
        self.backend = keras.backend.backend()
        self._probe = self._make_probe(inputs, input_shape)
        if labels is not None:
            self.labels = _cut(_to_numpy_tree(labels))
        self._ensure_built()
        self._net = _graph_network(model)
        self._nodes = {}
        self._vars = []
        self._layers = []
        self._edges = []
        self._assigned = set()
        self._output_names = []
        self._leaves = []
        self._modules = {}
        self._failed = None
        self._loss_kinds = None
        self._fns = {}
        self._attention_layers = None
        if self._net is not None:
            self._graph = self._functional_graph(self._net)
            if self._probe is not None:
                self._check_probe_shapes()
                self._guarded(self._run_functional)  # validates the probe at construction
        else:
            self._leaves = _node_layers(model, self._modules)
            calls: list[tuple[Any, Any, list[Any]]] = []  # (layer, output, inputs) in call order
            outputs: list[Any] = []
            if self._probe is not None:
                calls, outputs = self._guarded(self._run_subclassed)
            self._graph = self._subclassed_graph(calls, outputs)
        self._graph.notes.extend(self.notes)

    def graph(self) -> Graph:
        """The neutral graph (extracted once, at construction)."""
        return self._graph
