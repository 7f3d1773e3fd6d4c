"""What every record reads: the weights (float32 copies in canonical orientation) and the
gradients of a probe loss (``tf.GradientTape`` compiled with ``tf.function``, or
``torch.autograd.grad``), which touch no weight, optimizer or BatchNorm statistic."""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

from ..base import ParamDict
from .describe import _orient
from .run import Run, _to_numpy
from .structure import _graph_network, _like_inputs


class Read(Run):
    """``KerasAdapter``'s ``parameters()`` and ``gradients()``."""

    _loss_kinds: list[str] | None  # set in KerasAdapter.__init__; decided on the first loss

    def parameters(self) -> ParamDict:
        """Every layer's weights now, as float32 copies in canonical orientation."""
        out: ParamDict = {}
        for name, canon, v, how in self._vars:
            value = _to_numpy(v.value)
            out.setdefault(name, {})[canon] = _orient(value, how)
        return out

    def gradients(self) -> ParamDict:
        """Gradients of the trainable weights on the probe batch (inference mode, no update).

        Loss: with ``labels``, sparse categorical cross-entropy (integer labels, (N, C) output),
        binary cross-entropy ((N, 1) output in [0, 1], 0/1 labels) or MSE; without labels the
        mean of the squared outputs. Weights, optimizer and BatchNorm statistics are untouched
        (the pass runs with ``training=False``).
        """
        if self._probe is None:
            return {}
        trainable = {id(v) for v in self.model.trainable_weights}
        entries = [e for e in self._vars if id(e[2]) in trainable]
        if not entries:
            return {}
        variables = [e[2] for e in entries]
        if self.backend == "tensorflow":
            grads = self._tf_gradients(variables)
        elif self.backend == "torch":
            grads = self._torch_gradients(variables)
        else:
            if "gradients" not in " ".join(self.notes):
                self.notes.append(f"no gradients on the {self.backend} backend")
            return {}
        out: ParamDict = {}
        for (name, canon, v, how), g in zip(entries, grads, strict=True):
            value = np.zeros(tuple(v.shape), dtype=np.float32) if g is None else _to_numpy(g)
            out.setdefault(name, {})[canon] = _orient(value, how)
        return out

    def _tf_gradients(self, variables: list[Any]) -> list[Any]:
        import tensorflow as tf

        def grads_of(x: Any) -> list[Any]:
            with tf.GradientTape() as tape:
                outputs = self.model(x, training=False)
                loss = self._loss(outputs)
            grads = tape.gradient(loss, [v.value for v in variables])
            # an Embedding's gradient is a sparse IndexedSlices: densify it
            return [None if g is None else tf.convert_to_tensor(g) for g in grads]

        key = ("grads", *(id(v) for v in variables))
        got = self._compiled(key, self._model_input())
        if got is None:
            got = grads_of(self._model_input())  # eager: the first time, or as the fallback
            self._prepare(key, lambda: grads_of, self._model_input())
        return list(got)

    def _torch_gradients(self, variables: list[Any]) -> list[Any]:
        import torch

        params = [v.value for v in variables]  # torch Parameters behind the keras variables
        with torch.enable_grad():
            outputs = self.model(self._model_input(), training=False)
            loss = self._loss(outputs)
            # autograd.grad leaves .grad untouched, so the user's training state is not disturbed
            return list(torch.autograd.grad(loss, params, allow_unused=True))

    def _model_input(self) -> Any:
        net = _graph_network(self.model)
        return _like_inputs(net, self._probe) if net is not None else self._probe

    def _loss(self, outputs: Any) -> Any:
        """A scalar loss over all outputs, chosen from the labels and the outputs' form."""
        ops = keras.ops
        outs = [ops.cast(o, "float32") for o in keras.tree.flatten(outputs)]
        if self.labels is None:
            return sum((ops.mean(ops.square(o)) for o in outs), ops.zeros(()))
        labels = keras.tree.flatten(self.labels)[: len(outs)]
        if self._loss_kinds is None:  # decided once, from the first outputs seen
            self._loss_kinds = [
                _loss_kind(_to_numpy(o), y) for o, y in zip(outs, labels, strict=False)
            ]
        total = ops.zeros(())
        for o, y, kind in zip(outs, labels, self._loss_kinds, strict=False):
            shape = tuple(o.shape)
            if kind in ("sparse_ce", "sparse_ce_logits"):
                target = ops.convert_to_tensor(y.reshape(-1).astype("int32"))
                loss = keras.losses.sparse_categorical_crossentropy(
                    target, o, from_logits=kind == "sparse_ce_logits"
                )
            elif kind == "bce":
                target = ops.convert_to_tensor(y.reshape(shape).astype("float32"))
                loss = keras.losses.binary_crossentropy(target, o)
            else:
                y = y.astype("float32")
                target = ops.convert_to_tensor(
                    y.reshape(shape) if y.size == math.prod(shape) else y
                )
                loss = ops.square(ops.subtract(o, target))
            total = ops.add(total, ops.mean(loss))
        return total


def _loss_kind(out: np.ndarray, labels: np.ndarray) -> str:
    """Which loss fits an output and its labels.

    "sparse_ce" / "sparse_ce_logits" (integer class labels, (N, C) output: probabilities where
    rows are non-negative and sum to 1, else logits), "bce" ((N, 1) output in [0, 1], 0/1 labels)
    or "mse".
    """
    labels = np.asarray(labels)
    n = out.shape[0] if out.ndim else 0
    whole = labels.dtype.kind in "iu" or (
        labels.dtype.kind == "f" and bool(np.all(labels == np.round(labels)))
    )
    classes = out.ndim == 2 and out.shape[1] > 1 and whole and labels.size == n
    if classes and np.all((labels >= 0) & (labels < out.shape[1])):
        probs = np.all(out >= 0) and np.allclose(out.sum(axis=-1), 1.0, atol=1e-3)
        return "sparse_ce" if probs else "sparse_ce_logits"
    if out.ndim == 2 and out.shape[1] == 1 and labels.size == n:
        binary = np.all((labels == 0) | (labels == 1))
        if binary and np.all((out >= 0) & (out <= 1)):
            return "bce"
    return "mse"
