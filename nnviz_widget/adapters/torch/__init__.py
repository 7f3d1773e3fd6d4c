"""PyTorch adapter: a ``torch.nn.Module`` -> the neutral graph, parameters, gradients, activations.

This is the only package that imports torch. ``TorchAdapter`` is put together from one class per
concern (``modules`` <- ``run`` <- ``describe`` <- ``trace``; ``read`` and ``capture`` build on
``run``):

* ``modules.py``: the module table (canonical paths, layer modules, parameter owners);
* ``run.py``: the probe batch and the guarded, hooked forward pass;
* ``describe.py``: what each node is (kind, units, shapes, canonical parameter orientation);
* ``trace.py``: the topology (``torch.export`` -> ``torch.fx`` -> execution order) -> ``Graph``;
* ``read.py``: parameters and gradient norms, read at every record;
* ``capture.py``: the probe pass's activations and attention weights, at every record.

How the graph is found:

1. shapes: one forward pass of the probe batch with hooks on every module (this pass also names
   the layer that fails when the probe does not fit the model);
2. topology: ``torch.export.export`` (non-strict), else ``torch.fx`` symbolic tracing, else the
   order in which layer modules ran (``Graph.approximate``).

Every probe run leaves the model as it found it: train/eval flags, buffers (BatchNorm running
statistics), ``.grad`` of every parameter, the global RNG state; hooks are always removed.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from .capture import Capture
from .read import Read
from .run import MAX_PROBE_SAMPLES, _device_and_dtype
from .shard import Unsharded, fsdp_modules
from .trace import Trace

__all__ = ["MAX_PROBE_SAMPLES", "TorchAdapter"]


class TorchAdapter(Capture, Read, Trace):
    """Adapter for ``torch.nn.Module``: ``graph()``, ``parameters()``, ``gradients()``,
    ``activations()``.

    ``inputs`` is the probe batch (a tensor or numpy array, or a tuple / list of them for several
    forward arguments, or a dict of keyword arguments); without it, ``input_shape`` (per-sample
    shape, or a list of them) gives a zero batch of 2. Batches above ``MAX_PROBE_SAMPLES`` are
    cut (see ``notes``).
    """

    framework = "torch"

    def __init__(
        self, model: Any, inputs: Any = None, input_shape: Any = None, labels: Any = None
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"TorchAdapter takes a torch.nn.Module, got {type(model).__name__}")
        if isinstance(model, nn.parallel.DistributedDataParallel | nn.DataParallel):
            # the wrapped module holds the same parameters; its probe pass runs no collective
            # (DDP's forward may broadcast buffers, which would wait for the other ranks)
            model = model.module
        self._unsharded = Unsharded(model, fsdp_modules(model))
        self.collective = bool(self._unsharded.mods)
        with self._unsharded:  # the module table and probe see whole parameters
            self._setup(model, inputs, input_shape, labels)

    def gathered(self) -> Unsharded:
        """FSDP2: the parameters and gradients gathered whole (see ``shard.py``)."""
        return self._unsharded

    def _setup(self, model: Any, inputs: Any, input_shape: Any, labels: Any) -> None:
        super().__init__(model, inputs=inputs, input_shape=input_shape, labels=labels)
        self._device, self._float = _device_and_dtype(model)
        self._scan_modules()
        self._args, self._kwargs = self._make_probe(inputs, input_shape)
        self._input_acts = None
        self._param_ids = None
        self._param_ref = None
        self._live_cache = None
        self._probe_plan = None
        self._param_plan = None
        self._norm_plan = None
        self._labels = None if labels is None else self._cut(self._to_tensor(labels), "labels")
        self._input_names = self._name_inputs()
        self._graph = None
        self._owners_cache = None
