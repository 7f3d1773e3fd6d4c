"""Recording: one snapshot per epoch (metrics, weights within a byte budget, per-layer stats).

``Recorder`` needs no widget and no Jupyter; ``NNViz`` is a view over one.
"""

from __future__ import annotations

import math
import numbers
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

import numpy as np

from .adapters import ModelAdapter, ParamDict, adapt
from .graph import Graph
from .probe import (
    HEALTH_METRICS,
    ActInfo,
    Boundary,
    HealthTable,
    activation_of,
    boundary_arrays,
    canonical,
    grad_ratios,
    image_shape_for,
    layer_health,
    predictions,
    reduce_activation,
)

HIST_BINS = 64
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
#: Weights of one snapshot get at most this share of ``max_bytes``, so at least this many
#: epochs fit before older ones are thinned.
EPOCHS_BEFORE_THINNING = 32
INIT_EPOCH = -1
#: record() defers its numpy work (``Snapshot``); at most this many epochs, or this many bytes
#: of what they read, wait for it before it is done at once.
MAX_UNFINISHED = 64
MAX_UNFINISHED_BYTES = 32 * 1024 * 1024


class ProbeActs(dict[str, np.ndarray]):
    """Layer outputs on the probe batch, plus ``attention``: attention layer name -> its
    attention weights averaged over heads, (batch, queries, keys), where the model exposes them."""

    attention: dict[str, np.ndarray]

    def __init__(self) -> None:
        super().__init__()
        self.attention = {}


T = TypeVar("T")
_UNSET: Any = object()


class _Deferred(Generic[T]):
    """A Snapshot field that ``record()`` leaves for later (``Recorder.finish``): reading it
    first completes the snapshot, so a reader never sees a half-made one."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self.factory = factory
        self.slot = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = "_" + name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> Any: ...
    @overload
    def __get__(self, obj: Snapshot, objtype: type | None = None) -> T: ...
    def __get__(self, obj: Snapshot | None, objtype: type | None = None) -> Any:
        if obj is None:
            return _UNSET  # the dataclass default: a fresh factory() per snapshot
        if obj.__dict__.get("_finish") is not None:
            obj.complete()
        return obj.__dict__[self.slot]

    def __set__(self, obj: Snapshot, value: T) -> None:
        obj.__dict__[self.slot] = self.factory() if value is _UNSET else value


@dataclass
class Snapshot:
    """What one epoch left behind. ``weights`` are float16, full or the layer's fixed sample.

    record() reads the model at once (parameters, gradient norms, the probe pass, the decision
    boundary) and leaves the numpy work on what it read (kept weights, statistics, histograms,
    activation reductions, health) for later: the fields marked deferred are filled in when
    the widget next sends, on any read of them, or by ``Recorder.finish()``. Done for many
    epochs in a row, that work runs several times faster than one epoch at a time between
    training epochs (which leave its code out of the CPU's caches)."""

    epoch: int  # INIT_EPOCH (-1) for the initial weights
    label: str
    metrics: dict[str, float] = field(default_factory=dict)
    weights: _Deferred[dict[str, dict[str, np.ndarray]]] = _Deferred(dict)
    grads: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    stats: _Deferred[dict[str, dict[str, float | None]]] = _Deferred(dict)
    hists: _Deferred[dict[str, np.ndarray]] = _Deferred(dict)
    thinned: bool = False
    # the probe batch (issue "inside the network"): activations within the budget, how each was
    # kept, per-layer health, predicted classes, and the decision boundary of a 2-D-input model;
    # an attention layer's acts also hold "attn": (samples, queries, keys), the mean over heads
    acts: _Deferred[dict[str, dict[str, np.ndarray]]] = _Deferred(dict)
    act_info: _Deferred[dict[str, ActInfo]] = _Deferred(dict)
    health: _Deferred[dict[str, dict[str, float | None]]] = _Deferred(dict)
    preds: _Deferred[list[int]] = _Deferred(list)
    boundary: dict[str, np.ndarray] = field(default_factory=dict)
    boundary_meta: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, np.ndarray] = field(default_factory=dict)
    # nbytes as the recorder last counted it (it sums the history at every finish())
    _size: int | None = field(default=None, repr=False, compare=False)
    # what completes the deferred fields (None once done)
    _finish: Callable[[Snapshot], None] | None = field(default=None, repr=False, compare=False)

    @property
    def pending(self) -> bool:
        """True while the deferred fields wait to be computed."""
        return self.__dict__.get("_finish") is not None

    def complete(self) -> None:
        """Compute the deferred fields now (nothing if done)."""
        f = self.__dict__.get("_finish")
        if f is None:
            return
        self._finish = None  # the fields are read while they are made
        try:
            f(self)
        except BaseException:
            self._finish = f
            raise
        self._size = None

    @property
    def nbytes(self) -> int:
        n = sum(a.nbytes for p in self.weights.values() for a in p.values())
        n += sum(a.nbytes for p in self.grads.values() for a in p.values())
        n += sum(a.nbytes for p in self.acts.values() for a in p.values())
        n += sum(a.nbytes for a in self.boundary.values()) + sum(
            a.nbytes for a in self.fields.values()
        )
        return n + sum(h.nbytes for h in self.hists.values()) + 64 * len(self.stats)


def _held_bytes(params: ParamDict) -> int:
    return sum(a.nbytes for p in params.values() for a in p.values())


def _size(snap: Snapshot) -> int:
    """``snap.nbytes``, counted once (snapshots don't change after recording except when
    thinned, which resets the count)."""
    if snap._size is None:
        snap._size = snap.nbytes
    return snap._size


def layer_stats(
    params: dict[str, np.ndarray], prev: dict[str, np.ndarray] | None, grad_norm: float | None
) -> tuple[dict[str, float | None], np.ndarray]:
    """Stats of all of a layer's parameters together; NaN/Inf are ignored and counted.

    This runs on every record() inside the user's training loop, so it is written for speed:
    the adapter's one buffer is read in place (``LayerParams.flat``) in its own float32, with
    sums accumulated in float64; min/max find non-finite values (NaN propagates, inf shows)
    instead of a separate pass; a bincount histogram, no clip (its wrapper costs more than the
    work). No BLAS (np.dot): waking BLAS threads next to the training framework's own thread
    pool oversubscribes the cores and slows the user's loop (np.einsum runs its own loop).
    """
    flat = _flat(params)
    all_finite = True
    if flat.size:
        vmin, vmax = float(flat.min()), float(flat.max())
        all_finite = math.isfinite(vmin) and math.isfinite(vmax)
    vals = flat if all_finite else flat[np.isfinite(flat)]
    nonfinite = int(flat.size - vals.size)
    if vals.size:
        if not all_finite:
            vmin, vmax = float(vals.min()), float(vals.max())
        lo, hi = (vmin, vmax) if vmax > vmin else (vmin - 0.5, vmax + 0.5)
        scale = HIST_BINS / (hi - lo)
        if scale < 1e30:
            pos = vals - vals.dtype.type(lo)  # >= 0: lo is the minimum
            pos *= vals.dtype.type(scale)
        else:  # a spread too narrow for float32 (denormals)
            pos = (vals.astype(np.float64) - lo) * scale
        idx = pos.astype(np.intp)
        np.minimum(idx, HIST_BINS - 1, out=idx)  # the top edge belongs to the last bin
        hist = np.bincount(idx, minlength=HIST_BINS)
        n = vals.size
        mean = float(vals.sum(dtype=np.float64)) / n
        sq = _sum_sq(vals)
        stats: dict[str, float | None] = {
            "mean": mean,
            "std": math.sqrt(max(sq / n - mean * mean, 0.0)),
            "norm": math.sqrt(sq),
            "min": vmin,
            "max": vmax,
        }
    else:
        lo, hi = 0.0, 1.0
        hist = np.zeros(HIST_BINS, dtype=np.intp)
        stats = {"mean": math.nan, "std": math.nan, "norm": math.nan, "min": math.nan}
        stats["max"] = math.nan
    stats["nonfinite"] = float(nonfinite)
    stats["hist_lo"], stats["hist_hi"] = lo, hi
    stats["grad_norm"] = grad_norm
    stats["update_ratio"] = None
    if prev is not None and prev.keys() == params.keys():
        before = _flat(prev)
        if before.shape == flat.shape:
            diff = flat - before
            num, denom = math.sqrt(_sum_sq(diff)), math.sqrt(_sum_sq(before))
            if not (math.isfinite(num) and math.isfinite(denom)):
                # non-finite entries on either side: the ratio over the entries finite in both
                ok = np.isfinite(diff) & np.isfinite(before)
                num, denom = math.sqrt(_sum_sq(diff[ok])), math.sqrt(_sum_sq(before[ok]))
            stats["update_ratio"] = num / denom if denom > 0 else (0.0 if num == 0 else math.inf)
    return stats, hist.astype(np.float32)


def _flat(params: dict[str, np.ndarray]) -> np.ndarray:
    """All of a layer's parameters as one 1-D float array (a view where the adapter made one)."""
    flat = getattr(params, "flat", None)
    if flat is not None:
        return flat
    arrays = [a.ravel() for a in params.values()]
    if not arrays:
        return np.zeros(0, np.float32)
    dtype = np.float64 if any(a.dtype == np.float64 for a in arrays) else np.float32
    return (
        np.concatenate(arrays, dtype=dtype)
        if len(arrays) > 1
        else arrays[0].astype(dtype, copy=False)
    )


def _sum_sq(a: np.ndarray) -> float:
    """Sum of squares accumulated in float64 (np.einsum's own loop: no BLAS)."""
    return float(np.einsum("i,i->", a, a, dtype=np.float64)) if a.size else 0.0


def allocate(sizes: dict[Any, int], budget: int) -> dict[Any, int]:
    """Water-fill ``budget`` values over arrays: small ones whole, large ones capped equally."""
    if sum(sizes.values()) <= budget:
        return dict(sizes)
    out: dict[Any, int] = {}
    remaining = budget
    items = sorted(sizes.items(), key=lambda kv: kv[1])
    for i, (key, n) in enumerate(items):
        cap = remaining // (len(items) - i)
        take = min(n, max(cap, 1))
        out[key] = take
        remaining -= take
    return out


def thin_order(epochs: list[int]) -> int | None:
    """Index of the snapshot to thin next: never the first or last; the one whose neighbours are
    closest (keeps an even spread), the oldest on ties. None when nothing can be thinned."""
    if len(epochs) <= 2:
        return None
    best, best_gap = None, None
    for i in range(1, len(epochs) - 1):
        gap = epochs[i + 1] - epochs[i - 1]
        if best_gap is None or gap < best_gap:
            best, best_gap = i, gap
    return best


def _numpy(x: Any) -> Any:
    """A framework tensor as numpy (without importing the framework)."""
    for attr in ("detach",):
        if hasattr(x, attr):
            x = x.detach().cpu()
    return x.numpy() if hasattr(x, "numpy") and not isinstance(x, np.ndarray) else x


def _as_metric(name: str, value: Any) -> float:
    if isinstance(value, bool | str | bytes):
        raise TypeError(f"metric {name!r} must be a number, got {type(value).__name__} {value!r}")
    if isinstance(value, numbers.Real):
        return float(value)
    item = getattr(value, "item", None)  # numpy / torch / tf scalars
    if callable(item):
        try:
            v = item()
        except (ValueError, RuntimeError) as e:
            raise TypeError(f"metric {name!r} must be a single number, got {value!r}") from e
        if isinstance(v, numbers.Real) and not isinstance(v, bool):
            return float(v)
    numpy_fn = getattr(value, "numpy", None)  # tf eager tensors
    if callable(numpy_fn):
        return _as_metric(name, numpy_fn())
    raise TypeError(f"metric {name!r} must be a number, got {type(value).__name__}")


class Recorder:
    """Records a model's training: the init snapshot now, one snapshot per ``record()`` call.

    ``max_bytes`` bounds the whole history (what the browser holds); past it older epochs are
    thinned to stats only (first, last and an even spread keep their weights).
    """

    def __init__(
        self,
        model: Any,
        inputs: Any = None,
        *,
        input_shape: Any = None,
        labels: Any = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        record_gradients: bool = True,
        boundary: bool | None = None,
        image_shape: tuple[int, ...] | None = None,
    ) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.adapter: ModelAdapter = adapt(
            model, inputs=inputs, input_shape=input_shape, labels=labels
        )
        self.model = model
        self.graph: Graph = self.adapter.graph()
        self.max_bytes = int(max_bytes)
        self.record_gradients = record_gradients
        self.labels = None if labels is None else np.asarray(_numpy(labels)).reshape(-1)
        self.snapshots: list[Snapshot] = []
        self.notes: list[str] = list(self.graph.notes) + list(getattr(self.adapter, "notes", []))
        self._listeners: list[Callable[[str, Snapshot | None], None]] = []
        params = self.adapter.parameters()
        self._shapes = {layer: {k: v.shape for k, v in p.items()} for layer, p in params.items()}
        self._samples = self._choose_samples(params)
        self._prev_full: ParamDict = params  # full params of the last snapshot (update ratios)
        self._before_last: ParamDict = params  # ... and of the one before (for a replaced epoch)
        first_acts = self._activations()
        self.probe_info = self._probe_info(first_acts, image_shape)
        self._boundary = self._make_boundary(boundary, first_acts)
        init = self._snapshot(INIT_EPOCH, "init", {}, params, self._grads(), first_acts)
        init.complete()
        self.snapshots.append(init)
        self._unfinished: list[Snapshot] = []
        self._unfinished_bytes = 0
        self.history = History(self)

    #: True for a run loaded from a file (``nnv.load``): it has no model and cannot record.
    loaded: bool = False

    @classmethod
    def from_snapshots(
        cls,
        graph: Graph,
        snapshots: list[Snapshot],
        samples: dict[tuple[str, str], tuple[np.ndarray, tuple[int, ...]]],
        settings: dict[str, Any],
    ) -> Recorder:
        """A recorder over snapshots recorded earlier (``nnv.load``): no model, no adapter, and
        ``record()`` raises. ``samples``: (layer, param) -> (fixed flat indices, full shape);
        ``settings``: max_bytes, record_gradients, notes, probe_info, labels."""
        rec = cls.__new__(cls)
        rec.loaded = True
        rec.adapter = _NoModel(None)
        rec.model = None
        rec.graph = graph
        rec.max_bytes = int(settings.get("max_bytes", DEFAULT_MAX_BYTES))
        rec.record_gradients = bool(settings.get("record_gradients", True))
        labels = settings.get("labels")
        rec.labels = None if labels is None else np.asarray(labels).reshape(-1)
        rec.snapshots = list(snapshots)
        rec.notes = [str(n) for n in settings.get("notes", [])]
        rec._listeners = []
        shapes: dict[str, dict[str, tuple[int, ...]]] = {}
        for snap in rec.snapshots[:1]:
            for layer, params in snap.weights.items():
                shapes[layer] = {k: tuple(a.shape) for k, a in params.items()}
        for (layer, param), (_, full) in samples.items():
            shapes.setdefault(layer, {})[param] = tuple(full)
        rec._shapes = shapes
        rec._samples = {key: idx for key, (idx, _) in samples.items()}
        rec._prev_full = {}
        rec._before_last = {}
        rec._unfinished = []
        rec._unfinished_bytes = 0
        rec.probe_info = dict(settings.get("probe_info") or {"n": 0, "labels": None})
        rec._boundary = None
        rec.history = History(rec)
        return rec

    # -- the probe batch --
    def _input_layers(self) -> list[Any]:
        return [layer for layer in self.graph.layers if layer.kind == "input"]

    def _activations(self) -> ProbeActs:
        """The probe batch through the model (channels first); {} where it can't run, and
        when no ``inputs`` were given (zeros of ``input_shape`` show nothing worth keeping).
        Attention layers' mean attention over heads rides along in ``.attention``."""
        out = ProbeActs()
        if getattr(self.adapter, "inputs", None) is None:
            return out
        try:
            raw = self.adapter.activations()
        except Exception as e:  # never lose an epoch over the probe
            warnings.warn(
                f"nnviz: activations could not be recorded ({e})", RuntimeWarning, stacklevel=3
            )
            return out
        for layer in self.graph.layers:
            a = raw.get(layer.name)
            if a is not None and a.ndim >= 1:
                out[layer.name] = canonical(np.asarray(a), layer, self.graph.data_format)
        attention = getattr(self.adapter, "attention", None) or {}
        for name, w in attention.items():
            w = np.asarray(w)
            if name in out and w.ndim == 3:
                out.attention[name] = w
        return out

    def _probe_info(
        self, acts: dict[str, np.ndarray], image_shape: tuple[int, ...] | None
    ) -> dict[str, Any]:
        inputs = self._input_layers()
        info: dict[str, Any] = {"n": 0, "labels": None, "input": None, "image_shape": None}
        if not inputs or inputs[0].name not in acts:
            return info
        x = acts[inputs[0].name]
        info["n"], info["input"] = int(x.shape[0]), inputs[0].name
        if self.labels is not None:
            lab = self.labels[: x.shape[0]]
            info["labels"] = [int(v) if float(v).is_integer() else float(v) for v in lab]
        per = x.shape[1:]
        if image_shape is not None:
            info["image_shape"] = [int(v) for v in image_shape]
        elif len(per) == 1:
            info["image_shape"] = image_shape_for(int(per[0]))
        elif len(per) == 3 and self.graph.data_format == "channels_last" and per[2] in (1, 3):
            info["image_shape"] = [int(per[0]), int(per[1]), int(per[2])]  # (H, W, C) as is
        elif len(per) == 3 and per[0] in (1, 3):  # (C, H, W)
            info["image_shape"] = [int(per[1]), int(per[2]), int(per[0])]
        elif len(per) == 2:
            info["image_shape"] = [int(per[0]), int(per[1])]
        return info

    def _make_boundary(self, want: bool | None, acts: dict[str, np.ndarray]) -> Boundary | None:
        inputs = self._input_layers()
        two_d = len(inputs) == 1 and tuple(inputs[0].output_shape) == (2,)
        if want and not two_d:
            shapes = [tuple(x.output_shape) for x in inputs]
            raise ValueError(
                "a decision boundary needs a model with one input of 2 features per sample; "
                f"this model's inputs have per-sample shapes {shapes}. Pass boundary=False."
            )
        if want is False or not two_d or inputs[0].name not in acts:
            return None
        try:
            self.adapter.activations_for(np.zeros((1, 2), np.float32))
        except NotImplementedError:
            return None
        return Boundary.around(acts[inputs[0].name].reshape(-1, 2))

    def _boundary_snapshot(self, snap: Snapshot) -> None:
        b = self._boundary
        if b is None:
            return
        try:
            grid_acts = self.adapter.activations_for(b.grid())
            field_acts = self.adapter.activations_for(b.grid(b.field_res))
        except Exception as e:
            warnings.warn(
                f"nnviz: the decision boundary could not be computed ({e})",
                RuntimeWarning,
                stacklevel=3,
            )
            return
        outputs = [x.name for x in self.graph.layers if x.kind == "output"]
        if not outputs or outputs[0] not in grid_acts:
            return
        arrays, meta = boundary_arrays(grid_acts[outputs[0]], b.res)
        meta.update({"extent": list(b.extent), "res": b.res, "field_res": b.field_res})
        snap.boundary, snap.boundary_meta = arrays, meta
        fr = b.field_res
        for layer in self.graph.layers:
            a = field_acts.get(layer.name)
            # a neuron's field is its output after the nonlinearity: activation layers, and
            # dense layers with a fused activation (Keras); not a torch Linear before its ReLU
            fused = layer.kind == "dense" and activation_of(layer) not in (None, "linear")
            if not (layer.kind == "activation" or fused) or a is None or a.ndim != 2:
                continue
            if self._after_last_dense(layer.name) or a.shape[1] > 64:
                continue  # the output layer is the boundary itself
            snap.fields[layer.name] = a.T.reshape(a.shape[1], fr, fr).astype(np.float16)

    def _after_last_dense(self, name: str) -> bool:
        """True for the last dense layer and anything after it (its activation, the output)."""
        names = self.graph.names
        dense = [i for i, x in enumerate(self.graph.layers) if x.kind == "dense"]
        return bool(dense) and names.index(name) >= dense[-1]

    # -- listeners (the widget subscribes to push each new snapshot to the browser) --
    def subscribe(self, fn: Callable[[str, Snapshot | None], None]) -> None:
        """``fn(event, snapshot)`` with event "add", "replace" or "thin"."""
        self._listeners.append(fn)

    def _emit(self, event: str, snap: Snapshot | None) -> None:
        for fn in list(self._listeners):
            fn(event, snap)

    # -- budget --
    @property
    def snapshot_budget(self) -> int:
        """Bytes of weights one snapshot may hold."""
        return max(self.max_bytes // EPOCHS_BEFORE_THINNING, 4096)

    def _choose_samples(self, params: ParamDict) -> dict[tuple[str, str], np.ndarray]:
        """Fixed flat indices for arrays over their share of the budget (same every epoch)."""
        sizes = {(layer, k): a.size for layer, p in params.items() for k, a in p.items()}
        counts = allocate(sizes, self.snapshot_budget // 2)  # float16: 2 bytes a value
        rng = np.random.default_rng(0)
        samples: dict[tuple[str, str], np.ndarray] = {}
        for key, n in counts.items():
            if n < sizes[key]:
                samples[key] = np.sort(rng.choice(sizes[key], size=n, replace=False)).astype(
                    np.uint32
                )
        return samples

    def sample_indices(self, layer: str, param: str = "weight") -> np.ndarray | None:
        """Flat indices kept for a sampled parameter, or None when it is kept whole."""
        return self._samples.get((layer, param))

    @property
    def sampled(self) -> dict[tuple[str, str], tuple[np.ndarray, tuple[int, ...]]]:
        """(layer, param) -> (fixed flat indices, full shape) for every sampled parameter."""
        return {key: (idx, self._shapes[key[0]][key[1]]) for key, idx in self._samples.items()}

    def _grads(self) -> dict[str, float | None]:
        """Gradient norm per layer ({} when not recorded or not available)."""
        if not self.record_gradients:
            return {}
        try:
            return self.adapter.gradient_norms()
        except Exception as e:  # a gradient failure must never lose the epoch
            warnings.warn(
                f"nnviz: gradients could not be computed ({e}); recorded without them",
                RuntimeWarning,
                stacklevel=3,
            )
            return {}

    def _snapshot(
        self,
        epoch: int,
        label: str,
        metrics: dict[str, float],
        params: ParamDict,
        grad_norms: dict[str, float | None],
        acts: dict[str, np.ndarray],
    ) -> Snapshot:
        """A snapshot of what was read now; its numpy work is deferred (``Snapshot``)."""
        prev = self._prev_full if epoch != INIT_EPOCH else None
        snap = Snapshot(epoch=epoch, label=label, metrics=metrics)
        self._boundary_snapshot(snap)  # runs the model: now

        def finish(s: Snapshot) -> None:
            self._complete(s, params, prev, grad_norms, acts)

        snap._finish = finish
        return snap

    def _complete(
        self,
        snap: Snapshot,
        params: ParamDict,
        prev: ParamDict | None,
        grad_norms: dict[str, float | None],
        acts: dict[str, np.ndarray],
    ) -> None:
        for layer in self.graph.names:
            p = params.get(layer)
            if not p:
                continue
            kept: dict[str, np.ndarray] = {}
            for k, a in p.items():
                idx = self._samples.get((layer, k))
                flat = a.ravel() if idx is not None else a
                kept[k] = (flat[idx] if idx is not None else flat).astype(np.float16)
            snap.weights[layer] = kept
            st, hist = layer_stats(p, prev.get(layer) if prev else None, grad_norms.get(layer))
            snap.stats[layer] = st
            snap.hists[layer] = hist
        self._probe_snapshot(snap, acts)

    def _probe_snapshot(self, snap: Snapshot, acts: dict[str, np.ndarray]) -> None:
        """Activations within their budget, health per layer, predictions."""
        keep = {}
        for layer in self.graph.layers:
            a = acts.get(layer.name)
            if a is None or layer.kind == "output":  # output repeats its predecessor
                continue
            if layer.kind == "input" and snap.epoch != INIT_EPOCH:
                continue  # the probe itself never changes: sent once, with init
            keep[layer.name] = a
        attention = {name: w for name, w in getattr(acts, "attention", {}).items() if name in keep}
        sizes: dict[Any, int] = {name: int(a.size) for name, a in keep.items()}
        sizes.update({(name, "attn"): int(w.size) for name, w in attention.items()})
        shares = allocate(sizes, self.snapshot_budget // 2)
        for name, a in keep.items():
            arrays, info = reduce_activation(name, a, shares[name])
            snap.acts[name], snap.act_info[name] = arrays, info
        for name, w in attention.items():
            # the mean attention over heads: whole, or the first samples' maps that fit
            k = max(1, min(w.shape[0], shares[(name, "attn")] // max(1, w[0].size)))
            snap.acts[name]["attn"] = w[:k].astype(np.float16)
        ratios = grad_ratios(self.graph, {n: st.get("grad_norm") for n, st in snap.stats.items()})
        for layer in self.graph.layers:
            # the output repeats its predecessor; the probe input is the same every epoch
            skip = layer.kind == "output" or (layer.kind == "input" and snap.epoch != INIT_EPOCH)
            h = layer_health(layer, None if skip else acts.get(layer.name))
            st = snap.stats.get(layer.name, {})
            h["grad_ratio"] = ratios.get(layer.name)
            h["update_ratio"] = st.get("update_ratio")
            h["grad_norm"] = st.get("grad_norm")
            if any(v is not None for v in h.values()):
                snap.health[layer.name] = h
        outputs = [x.name for x in self.graph.layers if x.kind == "output"]
        if outputs and outputs[0] in acts:
            snap.preds = predictions(acts[outputs[0]])

    def _check_shapes(self, params: ParamDict) -> None:
        for layer, shapes in self._shapes.items():
            now = params.get(layer, {})
            for k, shape in shapes.items():
                if k not in now or now[k].shape != shape:
                    got = now[k].shape if k in now else "missing"
                    raise ValueError(
                        f"layer {layer!r}: parameter {k!r} changed shape since NNViz(...) "
                        f"(was {shape}, now {got}); create a new NNViz for the changed model"
                    )

    # -- recording --
    def record(self, epoch: int, **metrics: Any) -> Snapshot:
        """Snapshot the model now as ``epoch`` with the given metrics (any float keywords)."""
        if self.loaded:
            raise RuntimeError(
                "this run was loaded from a file: it has no model, so it can't record; "
                "record with nnv.NNViz(model, ...) or nnv.Recorder(model, ...)"
            )
        if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral):
            raise TypeError(f"epoch must be an int, got {type(epoch).__name__} {epoch!r}")
        epoch = int(epoch)
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        clean = {str(k): _as_metric(k, v) for k, v in metrics.items()}
        last = self.snapshots[-1].epoch
        replace = len(self.snapshots) > 1 and epoch == last
        if len(self.snapshots) > 1 and epoch < last:
            raise ValueError(
                f"epoch {epoch} is lower than the last recorded epoch {last}: epochs must "
                "increase (record the same epoch again to replace it)"
            )
        params = self.adapter.parameters()
        self._check_shapes(params)
        if replace:
            warnings.warn(
                f"nnviz: epoch {epoch} was already recorded; replacing it",
                UserWarning,
                stacklevel=2,
            )
            # compare against the snapshot before the replaced one
            gone = self.snapshots.pop()
            self._unfinished = [s for s in self._unfinished if s is not gone]
            self._prev_full = self._before_last
        grads = self._grads()
        acts = self._activations()
        snap = self._snapshot(epoch, f"epoch {epoch}", clean, params, grads, acts)
        self._before_last, self._prev_full = self._prev_full, params
        self.snapshots.append(snap)
        self._unfinished.append(snap)
        self._unfinished_bytes += _held_bytes(params) + sum(a.nbytes for a in acts.values())
        self._emit("replace" if replace else "add", snap)
        if len(self._unfinished) >= MAX_UNFINISHED or self._unfinished_bytes > MAX_UNFINISHED_BYTES:
            self.finish()  # no widget sending them (a script), or a big model: bounded
        return snap

    def finish(self) -> None:
        """Complete the snapshots whose numpy work record() deferred, oldest first, then thin
        the history to ``max_bytes``. The widget calls it before it sends; reading a deferred
        field completes that snapshot alone."""
        if not self._unfinished:
            return  # the history is as the last finish() left it
        while self._unfinished:
            self._unfinished[0].complete()
            self._unfinished.pop(0)
        self._unfinished_bytes = 0
        self._thin()

    @property
    def nbytes(self) -> int:
        self.finish()
        return sum(_size(s) for s in self.snapshots)

    def _thin(self) -> None:
        # the total is summed once per batch of records (keep it O(epochs) once)
        total = sum(_size(s) for s in self.snapshots)
        while total > self.max_bytes:
            candidates = [i for i, s in enumerate(self.snapshots) if not s.thinned]
            pick = thin_order([self.snapshots[i].epoch for i in candidates])
            if pick is None:
                # only stats are left to give: drop histograms of thinned epochs, oldest first
                for s in self.snapshots:
                    if s.thinned and s.hists and total > self.max_bytes:
                        before = _size(s)
                        s.hists = {}
                        s._size = None
                        total -= before - _size(s)
                        self._emit("thin", s)
                break
            snap = self.snapshots[candidates[pick]]
            before = _size(snap)
            snap.weights = {}
            snap.grads = {}
            snap.acts, snap.act_info, snap.boundary, snap.fields = {}, {}, {}, {}
            snap.thinned = True
            snap._size = None
            total -= before - _size(snap)
            self._emit("thin", snap)

    @property
    def thinned_epochs(self) -> list[int]:
        self.finish()
        return [s.epoch for s in self.snapshots if s.thinned]

    def keras_callback(self) -> Any:
        """A keras.callbacks.Callback that records every epoch end with all of Keras' logs."""
        from .adapters.keras.callback import make_callback

        return make_callback(self)

    def save(self, path: str | os.PathLike[str], overwrite: bool = False) -> Path | None:
        """Write the run to a ``.nnviz`` file (atomically; only rank 0 under torch distributed);
        ``nnv.load(path)`` shows it again."""
        from .store import save

        self.finish()
        return save(self, path, overwrite=overwrite)


class _NoModel(ModelAdapter):
    """The adapter of a loaded run (``Recorder.from_snapshots``): there is no model to read."""

    def graph(self) -> Graph:
        raise RuntimeError("this run was loaded from a file: it has no model")

    def parameters(self) -> ParamDict:
        raise RuntimeError("this run was loaded from a file: it has no model")


class History:
    """Read access to what a Recorder kept (``viz.history``)."""

    def __init__(self, recorder: Recorder) -> None:
        self._rec = recorder

    def __repr__(self) -> str:
        e = self.epochs
        span = f"{e[0]}..{e[-1]}" if e else "none"
        return f"History({len(e)} epochs recorded: {span}; metrics {sorted(self.metrics)})"

    @property
    def _recorded(self) -> list[Snapshot]:
        return [s for s in self._rec.snapshots if s.epoch != INIT_EPOCH]

    @property
    def init(self) -> Snapshot:
        """The snapshot taken at NNViz(...)/Recorder(...), before training."""
        return self._rec.snapshots[0]

    @property
    def snapshots(self) -> list[Snapshot]:
        return list(self._rec.snapshots)

    @property
    def epochs(self) -> list[int]:
        return [s.epoch for s in self._recorded]

    @property
    def metrics(self) -> dict[str, np.ndarray]:
        snaps = self._recorded
        names: list[str] = []
        for s in snaps:
            names.extend(k for k in s.metrics if k not in names)
        return {
            n: np.array([s.metrics.get(n, math.nan) for s in snaps], dtype=np.float64)
            for n in names
        }

    def _snap(self, epoch: int) -> Snapshot:
        for s in self._rec.snapshots:
            if s.epoch == epoch:
                return s
        raise KeyError(f"epoch {epoch} was not recorded; recorded: {self.epochs} (init = -1)")

    def _layer(self, layer: str) -> str:
        self._rec.graph[layer]  # KeyError naming the layers
        return layer

    def stats(self, layer: str, include_init: bool = False) -> dict[str, np.ndarray]:
        """Arrays over epochs: mean, std, norm, min, max, nonfinite, grad_norm, update_ratio."""
        self._layer(layer)
        snaps = self._rec.snapshots if include_init else self._recorded
        keys = ("mean", "std", "norm", "min", "max", "nonfinite", "grad_norm", "update_ratio")
        out: dict[str, np.ndarray] = {}
        for k in keys:
            vals = []
            for s in snaps:
                v = s.stats.get(layer, {}).get(k)
                vals.append(math.nan if v is None else float(v))
            out[k] = np.array(vals, dtype=np.float64)
        return out

    def histograms(self, layer: str, include_init: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(counts (epochs, 64), ranges (epochs, 2)) of a layer's parameter distribution."""
        self._layer(layer)
        snaps = self._rec.snapshots if include_init else self._recorded
        counts = np.stack([s.hists.get(layer, np.zeros(HIST_BINS, np.float32)) for s in snaps])
        ranges = np.array(
            [
                [
                    s.stats.get(layer, {}).get("hist_lo") or 0.0,
                    s.stats.get(layer, {}).get("hist_hi") or 1.0,
                ]
                for s in snaps
            ],
            dtype=np.float64,
        )
        return counts, ranges

    def weights(self, layer: str, epoch: int, param: str = "weight") -> np.ndarray:
        """Recorded values (float32): the whole array, or the fixed sample (sample_indices)."""
        self._layer(layer)
        snap = self._snap(epoch)
        if snap.thinned:
            raise KeyError(
                f"epoch {epoch}'s weights were thinned to stay within max_bytes="
                f"{self._rec.max_bytes:,}; stats and metrics are kept. Epochs with weights: "
                f"{[s.epoch for s in self._rec.snapshots if not s.thinned]}"
            )
        params = snap.weights.get(layer)
        if not params or param not in params:
            have = sorted(params) if params else []
            raise KeyError(f"layer {layer!r} has no recorded parameter {param!r} (has {have})")
        return params[param].astype(np.float32)

    def sample_indices(self, layer: str, param: str = "weight") -> np.ndarray | None:
        return self._rec.sample_indices(layer, param)

    def activations(self, layer: str, epoch: int) -> np.ndarray:
        """The probe batch's outputs of ``layer`` at ``epoch`` (float32, channels first), as
        kept: whole, a fixed sample of units (see ``activation_units``) or the first samples'
        maps for big image layers. The input layer's are recorded once, with init."""
        self._layer(layer)
        snap = self._snap(epoch)
        if layer not in snap.acts and self._rec.graph[layer].kind == "input":
            snap = self._rec.snapshots[0]
        if layer not in snap.acts:
            why = " (thinned)" if snap.thinned else ""
            raise KeyError(f"no activations of {layer!r} recorded at epoch {epoch}{why}")
        return snap.acts[layer]["act"].astype(np.float32)

    def attention(self, layer: str, epoch: int) -> np.ndarray:
        """An attention layer's attention weights on the probe at ``epoch``, averaged over heads:
        (samples, queries, keys) float32, rows summing to 1 (the first samples only where the
        budget is tight). Recorded where the model exposes them (torch ``nn.MultiheadAttention``,
        Keras ``MultiHeadAttention``)."""
        self._layer(layer)
        snap = self._snap(epoch)
        arrays = snap.acts.get(layer, {})
        if "attn" not in arrays:
            why = " (thinned)" if snap.thinned else ""
            raise KeyError(f"no attention maps of {layer!r} recorded at epoch {epoch}{why}")
        return arrays["attn"].astype(np.float32)

    def activation_units(self, layer: str) -> np.ndarray | None:
        """Unit indices kept for a layer whose activations are sampled, else None."""
        for s in self._rec.snapshots:
            info = s.act_info.get(layer)
            if info is not None:
                return info.index
        return None

    def health(self, include_init: bool = False) -> HealthTable:
        """Layer x epoch: dead / saturated fractions, gradient ratio, update ratio ..."""
        snaps = self._rec.snapshots if include_init else self._recorded
        layers = [x.name for x in self._rec.graph.layers if any(x.name in s.health for s in snaps)]
        values = {
            m: np.array(
                [
                    [
                        math.nan if (v := s.health.get(layer, {}).get(m)) is None else float(v)
                        for s in snaps
                    ]
                    for layer in layers
                ],
                dtype=np.float64,
            ).reshape(len(layers), len(snaps))
            for m in HEALTH_METRICS
        }
        return HealthTable(layers, [s.epoch for s in snaps], values)
