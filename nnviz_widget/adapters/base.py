"""The interface every framework adapter implements. Framework imports live only in subclasses."""

from __future__ import annotations

import contextlib
import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from ..graph import Graph

#: layer name -> {param name: float32 array}. Canonical names and orientation, whatever the
#: framework: "weight" is (out, in) for dense and (out, in, *kernel) for conv; "bias" is (out,).
#: Other parameters keep the framework's own names (e.g. "gamma", "running_mean" is NOT included:
#: buffers / non-trainable state are not parameters unless the framework counts them).
ParamDict = dict[str, dict[str, np.ndarray]]


class LayerParams(dict[str, np.ndarray]):
    """One layer's parameters where an adapter copied them into one buffer: ``flat`` is the
    1-D view of them all, in the dict's order (statistics then need no concatenation)."""

    flat: np.ndarray | None = None
    start: int = 0  # where ``flat`` starts in the adapter's buffer


class ModelAdapter(ABC):
    """Wraps one model: extracts its neutral graph, reads its parameters, gradients, activations.

    The recorder calls ``graph()`` and reads ``notes`` once, at construction. At every
    ``record()``, inside the user's training loop (so these are kept lean), it calls
    ``parameters()``, ``gradient_norms()`` (unless ``record_gradients=False``),
    ``activations()`` and then reads ``attention`` (where ``inputs`` is not None), and
    ``activations_for()`` twice for a model with a decision boundary.
    """

    framework: ClassVar[str] = ""

    #: the probe batch (tensor / array, or tuple / dict for several inputs); None: no probe,
    #: so the recorder records no activations
    inputs: Any
    #: per-sample shape, used (zeros) when no inputs are given
    input_shape: Any
    #: optional probe labels (for a real loss in ``gradients()``)
    labels: Any
    #: what the user should know about how the model was read (a probe cut to size, a guessed
    #: topology ...); the recorder shows them after the graph's own notes
    notes: list[str]
    #: set by each ``activations()``: attention layer name -> its attention weights on the
    #: probe, per head (samples, heads, queries, keys) or averaged over heads (batch, queries,
    #: keys), float32; {} where there are none
    attention: dict[str, np.ndarray]

    def __init__(
        self, model: Any, inputs: Any = None, input_shape: Any = None, labels: Any = None
    ) -> None:
        self.model = model
        self.inputs = inputs
        self.input_shape = input_shape
        self.labels = labels
        self.notes = []
        self.attention = {}

    #: True where reading the model is collective under torch.distributed (a sharded model):
    #: every rank then makes the same reading at each ``record()``; rank 0 keeps it
    collective: bool = False

    def gathered(self) -> contextlib.AbstractContextManager[None]:
        """The model made whole for one reading: the recorder reads it inside this context, and
        under ``torch.distributed`` every rank enters it at each ``record()`` (a sharded model's
        gather is collective) while only rank 0 reads. Nothing to do for most models."""
        return contextlib.nullcontext()

    @abstractmethod
    def graph(self) -> Graph:
        """Extract the neutral graph (called once, at construction of the recorder/widget)."""

    @abstractmethod
    def parameters(self) -> ParamDict:
        """Copy every layer's parameters now, as float32 numpy arrays in canonical orientation."""

    def gradients(self) -> ParamDict:
        """Gradients of the parameters, same keys as ``parameters()``; {} where none can be had."""
        return {}

    def gradient_arrays(self) -> ParamDict:
        """What the recorder reads at each record: ``gradients()`` (the same arrays), copied as
        cheaply as the adapter can (torch: one flat buffer, ``LayerParams.flat``)."""
        return self.gradients()

    def gradient_norms(self) -> dict[str, float | None]:
        """Per layer: the L2 norm over all its parameters' gradients (non-finite entries
        ignored). All a record keeps of the gradients; adapters override it to skip copies."""
        return {layer: grad_norm(g) for layer, g in self.gradients().items()}

    def activations(self) -> dict[str, np.ndarray]:
        """Each layer's output on the probe: (batch, *output_shape) float32; {} if no probe."""
        return {}

    def activations_for(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Like ``activations()`` but on the batch ``x`` (single-input models): used for the
        decision boundary, where ``x`` is a grid of points over the input plane. The
        recorder tries it once at construction: NotImplementedError means no boundary."""
        raise NotImplementedError(f"{type(self).__name__} cannot run arbitrary inputs")


def grad_norm(grads: dict[str, np.ndarray] | None) -> float | None:
    """L2 norm over all of a layer's parameter gradients (non-finite entries ignored)."""
    if not grads:
        return None
    total = 0.0
    for g in grads.values():
        g64 = g.astype(np.float64).ravel()
        g64 = g64[np.isfinite(g64)]
        total += float(np.sum(g64 * g64))
    return math.sqrt(total)
