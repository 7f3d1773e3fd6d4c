"""Running a Keras model on the probe batch: the batch itself (numpy, cut to ``MAX_PROBE``, the
model built from it, checked against the model's inputs), the passes that keep every node's
output and each attention layer's scores, and, on TensorFlow, those passes as ``tf.function``s
traced at construction so that a record runs one graph call (the first, eager pass gives the
errors that name a layer; a later failure falls back to eager for good)."""

from __future__ import annotations

import contextlib
import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any

import keras
import numpy as np

from .structure import Structure, _graph_network, _like_inputs, _patched_calls

#: Most probe samples kept: activations and gradients are recorded every epoch.
MAX_PROBE = 32


#: Attention layers whose ``call`` can return the attention scores (``return_attention_scores``,
#: the 8th positional argument of ``MultiHeadAttention.call``, the 4th of ``Attention.call``):
#: the probe pass keeps their mean over heads ((batch, heads, Tq, Tv) for the multi-head ones,
#: (batch, Tq, Tv) already for the dot-product ``Attention`` and ``AdditiveAttention``).
_ATTENTION_SCORES: tuple[type, ...] = tuple(
    c
    for c in (
        getattr(keras.layers, "MultiHeadAttention", None),
        getattr(keras.layers, "GroupQueryAttention", None),
        getattr(keras.layers, "Attention", None),
        getattr(keras.layers, "AdditiveAttention", None),
    )
    if isinstance(c, type)
)


class Run(Structure):
    """``KerasAdapter``'s probe batch and its passes: ``activations()``, ``activations_for()``."""

    # set in KerasAdapter.__init__
    backend: str
    _failed: str | None  # innermost layer that raised in the last forward pass
    #: compiled probe passes (TensorFlow backend): a record runs each as one graph call
    #: instead of an eager pass (~10x faster on small models; see _compiled)
    _fns: dict[Any, Any]
    _attention_layers: bool | None  # any layer whose scores are read (lazy)

    def _make_probe(self, inputs: Any, input_shape: Any) -> Any:
        """The probe batch as numpy (same structure as given), cut to MAX_PROBE samples."""
        if inputs is not None:
            probe = _to_numpy_tree(inputs)
            n = _batch_size(probe)
            if n is not None and n > MAX_PROBE:
                self.notes.append(f"probe cut from {n} to {MAX_PROBE} samples")
            return _cut(probe)
        if input_shape is not None:
            shapes = _as_shape_list(input_shape)
            zeros = [np.zeros((1, *s), dtype=np.float32) for s in shapes]
            return zeros[0] if len(zeros) == 1 else zeros
        # A built graph network knows its input shapes: probe with zeros where they are fixed.
        net = _graph_network(self.model)
        if net is not None:
            arrays = []
            for t in net.inputs:
                shape = tuple(t.shape[1:])
                if any(d is None for d in shape):
                    self.notes.append(
                        "no probe: the model's input shape has free dimensions; pass inputs= "
                        "to record activations and gradients"
                    )
                    return None
                arrays.append(np.zeros((1, *shape), dtype=_np_dtype(t.dtype)))
            return arrays[0] if len(arrays) == 1 else arrays
        if getattr(self.model, "built", False):
            # a subclassed model built with model.build(shape) remembers that shape
            shapes = list((getattr(self.model, "_build_shapes_dict", None) or {}).values())
            if len(shapes) == 1 and shapes[0] and all(d is not None for d in shapes[0][1:]):
                return np.zeros((1, *shapes[0][1:]), dtype=np.float32)
            self.notes.append("no probe: pass inputs= to record activations and gradients")
            return None
        raise ValueError(
            f"model {self.model.name!r} is not built, so its input shape is unknown: pass "
            "inputs= (a probe batch) or input_shape= (per sample, without the batch), or build "
            "the model first (model.build(...) or call it once)"
        )

    def _ensure_built(self) -> None:
        """Build an unbuilt model from the probe so that every layer has its weights."""
        model = self.model
        if isinstance(model, keras.Sequential):
            if getattr(model, "_functional", None) is not None:
                return
            leaves = keras.tree.flatten(self._probe)
            if len(leaves) == 1:
                try:
                    model.build((None, *leaves[0].shape[1:]))
                except Exception as e:
                    raise ValueError(
                        f"could not build {model.name!r} for input shape "
                        f"{_fmt(tuple(leaves[0].shape[1:]))} per sample: {_plain(e)}"
                    ) from e
                if getattr(model, "_functional", None) is not None:
                    return
        if not model.built:
            if self._probe is None:
                return
            try:
                model(self._probe, training=False)
            except Exception as e:
                raise ValueError(
                    f"the probe batch does not fit model {model.name!r}: inputs of shape "
                    f"{self._probe_shapes()} per sample failed while building it: {_plain(e)}"
                ) from e

    def _probe_shapes(self) -> str:
        shapes = [tuple(a.shape[1:]) for a in keras.tree.flatten(self._probe)]
        return ", ".join(_fmt(s) for s in shapes)

    def _expected_shapes(self) -> str:
        """The model's expected per-sample input shape(s), in words, for error messages."""
        if self._net is not None:
            return ", ".join(_fmt(tuple(t.shape[1:])) for t in self._net.inputs)
        if self.input_shape is not None:
            return ", ".join(_fmt(s) for s in _as_shape_list(self.input_shape))
        shapes = getattr(self.model, "_build_shapes_dict", None)
        if shapes:
            return ", ".join(_fmt(tuple(s)[1:]) for s in shapes.values() if s is not None)
        return "unknown (subclassed model)"

    def _check_probe_shapes(self) -> None:
        """Compare the probe with the model's input shapes before running anything."""
        assert self._net is not None
        first = self._net.inputs[0]

        def fail(t: Any, got: str, why: str = "") -> ValueError:
            name = self._nodes.get(id(t._keras_history.operation), str(t.name))
            return ValueError(
                f"the probe batch does not fit model {self.model.name!r}: expected input shape "
                f"{self._expected_shapes()} per sample (batch excluded), got {got}; failed at "
                f"layer {name!r}{why}"
            )

        try:
            leaves = self._standardize(self._net, self._probe)
        except Exception as e:  # wrong structure or a rank Keras cannot adjust
            raise fail(first, self._probe_shapes(), f": {_plain(e)}") from e
        for t, x in zip(self._net.inputs, leaves, strict=False):
            want, got = tuple(t.shape[1:]), tuple(x.shape[1:])
            if len(want) != len(got) or any(
                w is not None and w != g for w, g in zip(want, got, strict=False)
            ):
                raise fail(t, _fmt(got))

    def _standardize(self, net: Any, inputs: Any) -> list[Any]:
        """Inputs as the flat list of backend tensors, in ``net.inputs`` order."""
        return list(net._standardize_inputs(_like_inputs(net, inputs)))

    def _guarded(self, fn: Callable[[], Any]) -> Any:
        """Run a forward pass; a failure becomes a ValueError naming the layer and the shape.

        The wrapped calls only note which layer raised (``self._failed``) and let the original
        exception through: Keras re-creates exceptions raised inside ``call`` to add context.
        """
        self._failed = None
        try:
            return fn()
        except Exception as e:
            # a layer that fails its input check never reaches its (wrapped) call: Keras' own
            # message names it
            named = re.search(r"of layer ['\"]([^'\"]+)['\"]", _plain(e))
            where = self._failed or (named.group(1) if named else f"{self.model.name}.call")
            raise ValueError(
                f"the probe batch does not fit model {self.model.name!r}: expected input shape "
                f"{self._expected_shapes()} per sample (batch excluded), got "
                f"{self._probe_shapes()}; failed at layer {where!r}: {_plain(e)}"
            ) from e

    def _run_functional(self) -> dict[str, Any]:
        """Run the graph network on the probe, keeping every node's first output tensor.

        The graph is executed node by node (as ``Functional.call`` does) so that layers of
        nested models and shared layers are seen too, which a ``keras.Model(inputs, [outputs])``
        sub-model cannot give for nested models.
        """
        assert self._net is not None
        record: dict[str, Any] = {}

        def wrap(op: Any) -> Callable[..., Any]:
            inner = _graph_network(op)
            if inner is not None and op is not self._net and id(op) not in self._nodes:

                def call_nested(*args: Any, **kwargs: Any) -> Any:
                    return run(inner, args[0] if len(args) == 1 else list(args))

                return call_nested

            def call(*args: Any, **kwargs: Any) -> Any:
                name = self._nodes.get(id(op), str(getattr(op, "name", op)))
                if "training" in getattr(op, "_call_context_args", ()):
                    kwargs["training"] = False
                try:
                    out = op(*args, **kwargs)
                except Exception:
                    self._failed = self._failed or name  # the innermost layer fails first
                    raise
                if name not in record:
                    record[name] = _first(out)
                    self._attention_of(name, op, op, args, kwargs, out)
                return out

            return call

        def run(net: Any, inputs: Any) -> Any:
            flat = self._standardize(net, inputs)
            for t, x in zip(net.inputs, flat, strict=False):
                name = self._nodes.get(id(t._keras_history.operation))
                if name is not None and name not in record:
                    record[name] = x
            outs = net._run_through_graph(flat, operation_fn=wrap)
            flat_outs = keras.tree.flatten(outs)
            return flat_outs[0] if len(flat_outs) == 1 else outs

        with self._no_grad():
            outs = run(self._net, self._probe)
        for name, y in zip(self._output_names, keras.tree.flatten(outs), strict=False):
            record[name] = y
        return record

    def _run_subclassed(self) -> tuple[list[tuple[Any, Any, list[Any]]], list[Any]]:
        """One forward pass with every graph layer's ``call`` wrapped to log the call order."""
        slots: list[tuple[Any, Any, list[Any]] | None] = []

        def make(layer: Any, original: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                slot = len(slots)  # ordered by when the call starts, not when it ends
                slots.append(None)
                try:
                    out = original(*args, **kwargs)
                except Exception:
                    self._failed = self._failed or str(layer.name)
                    raise
                ins = keras.tree.flatten(args[0]) if args else []
                slots[slot] = (layer, _first(out), ins)
                name = self._nodes.get(id(layer))
                if name is not None:
                    self._attention_of(name, layer, original, args, kwargs, out)
                return out

            return call

        with self._no_grad(), _patched_calls([layer for layer, _ in self._leaves], make):
            out = self.model(self._probe, training=False)
        return [c for c in slots if c is not None], keras.tree.flatten(out)

    def _attention_of(
        self, name: str, layer: Any, fn: Callable[..., Any], args: Any, kwargs: Any, out: Any
    ) -> None:
        """Note an attention layer's scores averaged over heads (first call only): from its
        output where the model asked for them, else by calling ``fn`` (the layer, or its
        ``call``) once more on the same inputs with ``return_attention_scores=True`` (inference
        mode: the layer's output is the same). Skipped silently where that fails."""
        if name in self.attention or not isinstance(layer, _ATTENTION_SCORES):
            return
        try:
            pos, kw = list(args), dict(kwargs)
            at, train_at = _call_positions(layer)
            at = at if at is not None and at < len(pos) else None  # None: passed as keyword
            asked = kw.get("return_attention_scores", False) if at is None else pos[at]
            if asked:
                scores = out[1]
            else:
                if at is not None:
                    pos[at] = True
                else:
                    kw["return_attention_scores"] = True
                if train_at is not None and len(pos) > train_at:
                    pos[train_at] = False
                elif "training" in kw or "training" in getattr(layer, "_call_context_args", ()):
                    kw["training"] = False
                _, scores = fn(*pos, **kw)
            w = _to_numpy(scores).astype(np.float32, copy=False)
        except Exception:
            return
        if w.ndim == 4:  # (batch, heads, queries, keys)
            w = w.mean(axis=1)
        if w.ndim == 3:
            self.attention[name] = w

    @contextlib.contextmanager
    def _no_grad(self) -> Iterator[None]:
        if self.backend == "torch":
            import torch

            with torch.no_grad():
                yield
        else:
            yield

    def activations(self) -> dict[str, np.ndarray]:
        """Each node's output on the probe, (batch, *output_shape) float32; {} without probe."""
        self.attention = {}
        if self._probe is None:
            return {}
        if self._net is not None:
            record = self._compiled("acts", self._probe)
            if record is None:
                record = self._guarded(self._run_functional)
                self._prepare("acts", self._acts_fn, self._probe)
        else:
            calls, outs = self._guarded(self._run_subclassed)
            inputs = [x.name for x in self._graph.layers if x.kind == "input"]
            record = dict(zip(inputs, keras.tree.flatten(self._probe), strict=False))
            for layer, y, _ in calls:
                name = self._nodes.get(id(layer))
                if name is not None and name not in record:
                    record[name] = y
            record.update(zip(self._output_names, outs, strict=False))
        return {
            name: _to_numpy(y).astype(np.float32, copy=False)
            for name, y in record.items()
            if y is not None
        }

    def activations_for(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """activations() on the batch ``x`` instead of the probe (the probe is restored)."""
        saved = self._probe
        self._probe = np.asarray(x, dtype=np.float32)
        try:
            return self.activations()
        finally:
            self._probe = saved

    def _acts_fn(self) -> Callable[[Any], dict[str, Any]]:
        """The functional pass of ``activations()`` as a function of the probe (for tracing)."""

        def run(probe: Any) -> dict[str, Any]:
            saved, self._probe = self._probe, probe
            try:
                return {k: v for k, v in self._run_functional().items() if v is not None}
            finally:
                self._probe = saved

        return run

    def _compiled(self, key: Any, x: Any) -> Any:
        """The ``tf.function`` made by ``_prepare`` for ``key`` run on ``x``, or None where the
        eager pass must run: none made (other backends; models with attention layers, whose
        scores are read in numpy during the pass; the first call), or it failed once (then
        eager for good, which raises the error that names the layer if there is one)."""
        fn = self._fns.get(key)
        if not fn:
            return None
        try:
            return fn(x)
        except Exception:
            self._fns[key] = False
            return None

    def _prepare(self, key: Any, build: Callable[[], Callable[..., Any]], x: Any) -> None:
        """After a probe pass's first (eager) run: compile it with ``tf.function`` and trace it
        now, at construction, so that tracing is not paid inside the training loop. Each
        record then runs it as one graph call (~10x faster than eager on small models)."""
        if key in self._fns or self.backend != "tensorflow" or self._has_attention():
            return
        try:
            import tensorflow as tf

            fn = tf.function(build(), reduce_retracing=True)
            fn(x)
            self._fns[key] = fn
        except Exception:
            self._fns[key] = False

    def _has_attention(self) -> bool:
        if self._attention_layers is None:
            layers = self.model._flatten_layers(include_self=True, recursive=True)
            self._attention_layers = any(isinstance(x, _ATTENTION_SCORES) for x in layers)
        return self._attention_layers


_CALL_POSITIONS: dict[type, tuple[int | None, int | None]] = {}


def _call_positions(layer: Any) -> tuple[int | None, int | None]:
    """Where ``return_attention_scores`` and ``training`` may be passed positionally to the
    layer's ``call`` (indices past ``self``; None where they can't be): 7 and 8 for
    ``MultiHeadAttention``, 3 and 2 for ``Attention`` / ``AdditiveAttention``."""
    cls = type(layer)
    if cls not in _CALL_POSITIONS:
        found: dict[str, int] = {}
        try:
            params = list(inspect.signature(cls.call).parameters.values())[1:]  # past self
        except (TypeError, ValueError):
            params = []
        for i, p in enumerate(params):
            if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                break
            found[p.name] = i
        _CALL_POSITIONS[cls] = (found.get("return_attention_scores"), found.get("training"))
    return _CALL_POSITIONS[cls]


def _first(out: Any) -> Any:
    """The first tensor of a layer's output (LSTM states, attention scores ... are dropped)."""
    leaves = [x for x in keras.tree.flatten(out) if hasattr(x, "shape")]
    return leaves[0] if leaves else None


def _plain(e: BaseException) -> str:
    """An exception's message without the ANSI bold codes Keras adds, cut to a readable length
    (Keras may print whole input arrays)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip()
    return text if len(text) <= 600 else text[:600] + " ..."


def _fmt(shape: tuple[Any, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _as_shape_list(input_shape: Any) -> list[tuple[int, ...]]:
    """One shape ``(784,)`` or several ``[(3,), (4,)]`` -> a list of shapes."""
    if isinstance(input_shape, int):
        return [(input_shape,)]
    items = list(input_shape)
    if items and all(isinstance(s, list | tuple) for s in items):
        return [tuple(int(d) for d in s) for s in items]
    return [tuple(int(d) for d in items)]


def _np_dtype(dtype: Any) -> Any:
    try:
        return np.dtype(keras.backend.standardize_dtype(dtype))
    except Exception:
        return np.float32


def _to_numpy(x: Any) -> np.ndarray:
    """Any array-like (numpy, tf, torch) as a numpy array on the host.

    Not ``keras.ops.convert_to_numpy``: on TF it calls ``np.array(variable)``, which warns
    (DeprecationWarning about ``copy=``) with numpy 2.
    """
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach"):  # torch
        return np.asarray(x.detach().cpu().numpy())
    if hasattr(x, "numpy"):  # tf
        return np.asarray(x.numpy())
    return np.asarray(x)


def _to_numpy_tree(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _to_numpy_tree(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return type(x)(_to_numpy_tree(v) for v in x)
    return _to_numpy(x)


def _batch_size(x: Any) -> int | None:
    leaves = keras.tree.flatten(x)
    if not leaves or not getattr(leaves[0], "shape", ()):
        return None
    return int(leaves[0].shape[0])


def _cut(x: Any) -> Any:
    return keras.tree.map_structure(lambda a: a[:MAX_PROBE] if getattr(a, "ndim", 0) else a, x)
