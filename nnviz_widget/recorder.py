"""Recording: ``Recorder`` reads the model at each ``record()`` and keeps what it read in
``pending``; ``flush()`` turns that batch into ``Snapshot``s, thins the history to its byte
budget and tells its listeners (the widget) once.

``Recorder`` needs no widget and no Jupyter; ``NNViz`` is a view over one.
"""

from __future__ import annotations

import itertools
import numbers
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import runfile
from .adapters import ModelAdapter, ParamDict, adapt
from .graph import Graph
from .history import History
from .probe import (
    MAX_TOKEN_POSITIONS,
    Boundary,
    TokenText,
    activation_of,
    boundary_arrays,
    canonical,
    grad_ratios,
    image_shape_for,
    layer_health,
    predictions,
    reduce_activation,
    token_ids,
    token_task,
    top_tokens,
)
from .snapshot import INIT_EPOCH, Snapshot, grad_norm, layer_stats

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
#: Weights of one snapshot get at most this share of ``max_bytes``, so at least this many
#: epochs fit before older ones are thinned.
EPOCHS_BEFORE_THINNING = 32
#: record() keeps what it read in ``pending``; at most this many epochs, or this many bytes
#: of what they read, wait before ``flush()`` runs by itself.
MAX_PENDING = 64
MAX_PENDING_BYTES = 32 * 1024 * 1024

#: A listener: ``fn(event, snapshots)``. Events: "record" (an epoch joined ``pending``; no
#: snapshots), "batch" (flush() made these, oldest first), "thin" (this earlier snapshot lost
#: arrays to the budget), "remove" (this earlier snapshot was recorded again: it is gone).
Listener = Callable[[str, list[Snapshot]], None]

#: float16's smallest normal value: below it float16 loses digits, then rounds to zero
_F16_NORMAL = float(np.finfo(np.float16).tiny)


class ProbeActs(dict[str, np.ndarray]):
    """Layer outputs on the probe batch, plus ``attention``: attention layer name -> its
    attention weights averaged over heads, (batch, queries, keys), where the model exposes them,
    and ``heads``: the same per head, (samples, heads, queries, keys), where it exposes those."""

    attention: dict[str, np.ndarray]
    heads: dict[str, np.ndarray]

    def __init__(self) -> None:
        super().__init__()
        self.attention = {}
        self.heads = {}


@dataclass
class Reading:
    """What one ``record()`` read from the model, before the numpy work on it (``flush``).

    Done for many epochs in a row, that work runs several times faster than one epoch at a time
    between training epochs (which leave its code out of the CPU's caches)."""

    epoch: int
    label: str
    metrics: dict[str, float]
    params: ParamDict
    prev: ParamDict | None  # the parameters of the epoch before (update ratios)
    grads: ParamDict  # the gradients, float32 in canonical orientation ({}: none recorded)
    acts: ProbeActs
    # the decision boundary is computed at once (it runs the model)
    boundary: dict[str, np.ndarray] = field(default_factory=dict)
    boundary_meta: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        """Bytes held until flush (the parameters and activations read)."""
        held = sum(a.nbytes for p in self.params.values() for a in p.values())
        held += sum(a.nbytes for p in self.grads.values() for a in p.values())
        return held + sum(a.nbytes for a in self.acts.values())


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

    ``path``: a ``.nnviz`` file rewritten at construction and after every ``record()`` (each
    time atomically: a temporary file in the same folder, fsync, ``os.replace``), so a reader
    (``nnv.follow(path)``, ``nnv.load``) only ever sees a whole run. An existing file there is
    replaced: it is this run's file. Under ``torch.distributed`` only global rank 0 records and
    writes; on the other ranks ``record()`` does nothing and the file is never touched. A
    model sharded with FSDP2 (``fully_shard``) is gathered whole at each ``record()`` on every
    rank (collective: call ``record()`` on every rank); FSDP1 is refused (see
    ``adapters/torch/shard.py``).
    """

    #: True for a run loaded from a file (``load_recorder``): it has no model and cannot record.
    loaded: bool = False

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
        path: str | os.PathLike[str] | None = None,
        tokenizer: Any = None,
    ) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        #: token ids -> text, from the user's tokenizer (never saved: only the text it gave)
        self._text = TokenText(tokenizer) if tokenizer is not None else None
        self.adapter: ModelAdapter = adapt(
            model, inputs=inputs, input_shape=input_shape, labels=labels
        )
        self.model = model
        with self.adapter.gathered():  # a sharded model, whole for the init reading
            self._init_reading(max_bytes, record_gradients, labels, boundary, image_shape)
        #: the file rewritten after every record() (None: only ``save()`` writes)
        self.path: Path | None = None if path is None else Path(path).expanduser()
        self._write_live()

    def _init_reading(
        self,
        max_bytes: int,
        record_gradients: bool,
        labels: Any,
        boundary: bool | None,
        image_shape: tuple[int, ...] | None,
    ) -> None:
        self.graph: Graph = self.adapter.graph()
        self.max_bytes = int(max_bytes)
        self.record_gradients = record_gradients
        #: one class (or value) per probe sample, for the view's "label" line; per-position
        #: targets (a sequence task's (N, T)) are no such thing, but still reach the adapter
        lab = None if labels is None else np.asarray(_numpy(labels))
        per_sample = lab is not None and (lab.ndim <= 1 or lab[0].size == 1)
        self.labels = lab.reshape(-1) if lab is not None and per_sample else None
        #: per-position targets (N, T) of a token model, for the view's right / wrong per position
        self._targets = lab if lab is not None and not per_sample and lab.ndim == 2 else None
        #: complete snapshots, init first; epochs recorded since the last flush() are pending
        self.snapshots: list[Snapshot] = []
        #: what record() read and flush() has not made into snapshots yet, oldest first
        self.pending: list[Reading] = []
        self._pending_bytes = 0
        self.notes: list[str] = list(self.graph.notes) + list(self.adapter.notes)
        self._listeners: list[Listener] = []
        self._sizes: dict[int, int] = {}  # id(snapshot) -> its nbytes as last counted
        params = self.adapter.parameters()
        grads = self._grads()
        self._shapes = {layer: {k: v.shape for k, v in p.items()} for layer, p in params.items()}
        # the gradients (where there are any now) share the weights' part of the budget
        self._samples = self._choose_samples(params, shared=2 if grads else 1)
        self._prev_full: ParamDict = params  # full params of the last snapshot (update ratios)
        self._before_last: ParamDict = params  # ... and of the one before (for a replaced epoch)
        self._positions = 0  # a language model's probe: its token positions (0: not one)
        first_acts = self._activations()
        self.probe_info = self._probe_info(first_acts, image_shape)
        self._boundary = self._make_boundary(boundary, first_acts)
        init = self._read(INIT_EPOCH, "init", {}, params, grads, first_acts)
        self.snapshots.append(self._snapshot(init))
        self.history = History(self)

    @classmethod
    def from_snapshots(
        cls,
        graph: Graph,
        snapshots: list[Snapshot],
        samples: dict[tuple[str, str], tuple[np.ndarray, tuple[int, ...]]],
        settings: dict[str, Any],
    ) -> Recorder:
        """A recorder over snapshots recorded earlier (``load_recorder``): no model, no adapter,
        and ``record()`` raises. ``samples``: (layer, param) -> (fixed flat indices, full shape);
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
        rec.pending = []
        rec._pending_bytes = 0
        rec.notes = [str(n) for n in settings.get("notes", [])]
        rec._listeners = []
        rec._sizes = {}
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
        rec.probe_info = dict(settings.get("probe_info") or {"n": 0, "labels": None})
        rec._boundary = None
        rec._text, rec._positions, rec._targets = None, 0, None
        rec.history = History(rec)
        rec.path = None
        return rec

    def as_run(self) -> runfile.Run:
        """The recording as a run file holds it (pending epochs flushed first)."""
        self.flush()
        return runfile.Run(
            graph=self.graph,
            snapshots=list(self.snapshots),
            samples=self.sampled,
            settings={
                "max_bytes": self.max_bytes,
                "record_gradients": self.record_gradients,
                "notes": list(self.notes),
                "probe_info": self.probe_info,
                "labels": self.labels,
            },
        )

    def save(self, path: str | os.PathLike[str], overwrite: bool = False) -> Path | None:
        """Write the run to a ``.nnviz`` file (atomically; only rank 0 under torch distributed);
        ``load_recorder(path)`` / ``nnv.load(path)`` shows it again."""
        return runfile.save(self.as_run(), path, overwrite=overwrite)

    def _write_live(self) -> None:
        """Rewrite ``path`` with everything recorded (atomically; rank 0 only)."""
        if self.path is not None and not runfile.other_rank():
            runfile.save(self.as_run(), self.path, overwrite=True)

    # -- the probe batch --
    def _input_layers(self) -> list[Any]:
        return [layer for layer in self.graph.layers if layer.kind == "input"]

    def _activations(self) -> ProbeActs:
        """The probe batch through the model (channels first); {} where it can't run, and
        when no ``inputs`` were given (zeros of ``input_shape`` show nothing worth keeping).
        Attention layers' mean attention over heads rides along in ``.attention``."""
        out = ProbeActs()
        if self.adapter.inputs is None:
            return out
        try:
            raw = self.adapter.activations()
        except Exception as e:  # never lose an epoch over the probe
            warnings.warn(
                f"nnviz: activations could not be recorded ({e})", RuntimeWarning, stacklevel=4
            )
            return out
        for layer in self.graph.layers:
            a = raw.get(layer.name)
            if a is not None and a.ndim >= 1:
                out[layer.name] = canonical(np.asarray(a), layer, self.graph.data_format)
        attention = self.adapter.attention
        for name, w in attention.items():
            w = np.asarray(w)
            if name in out and w.ndim == 4:  # per head: the mean, and the heads themselves
                out.attention[name] = w.mean(axis=1)
                out.heads[name] = w
            elif name in out and w.ndim == 3:
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
        ids = self._probe_ids()
        if ids is not None:  # a language model: its probe is shown as tokens, not pixels
            self._positions = int(ids.shape[1])
            k = max(1, min(len(ids), MAX_TOKEN_POSITIONS // max(1, ids.shape[1])))
            kept = ids[:k]
            text = None
            if self._text is not None:
                text = [self._text(row) for row in kept]
            info["tokens"] = {
                "ids": kept.tolist(),
                "text": text,
                **token_task(ids, self._targets, k),
            }
            return info
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

    def _probe_ids(self) -> np.ndarray | None:
        """The probe's token ids where the model reads token ids into an embedding: an integer
        (batch, positions) first input (or ``input_ids`` of a dict), else None."""
        if not any(layer.kind == "embedding" for layer in self.graph.layers):
            return None
        x = self.adapter.inputs
        if isinstance(x, dict):
            x = x.get("input_ids", next(iter(x.values()), None))
        elif isinstance(x, list | tuple):
            x = x[0] if x else None
        if x is None:
            return None
        try:
            return token_ids(np.asarray(_numpy(x)))
        except (TypeError, ValueError):
            return None

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

    def _boundary_reading(self, read: Reading) -> None:
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
                stacklevel=4,
            )
            return
        outputs = [x.name for x in self.graph.layers if x.kind == "output"]
        if not outputs or outputs[0] not in grid_acts:
            return
        arrays, meta = boundary_arrays(grid_acts[outputs[0]], b.res)
        meta.update({"extent": list(b.extent), "res": b.res, "field_res": b.field_res})
        read.boundary, read.boundary_meta = arrays, meta
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
            read.fields[layer.name] = a.T.reshape(a.shape[1], fr, fr).astype(np.float16)

    def _after_last_dense(self, name: str) -> bool:
        """True for the last dense layer and anything after it (its activation, the output)."""
        names = self.graph.names
        dense = [i for i, x in enumerate(self.graph.layers) if x.kind == "dense"]
        return bool(dense) and names.index(name) >= dense[-1]

    # -- listeners (the widget subscribes to send each batch to the browser) --
    def subscribe(self, fn: Listener, first: bool = False) -> None:
        """Call ``fn(event, snapshots)`` on each event (see ``Listener``); ``first``: before
        the listeners already there (a shared slider must grow before a view follows)."""
        if first:
            self._listeners.insert(0, fn)
        else:
            self._listeners.append(fn)

    def unsubscribe(self, fn: Listener) -> None:
        self._listeners.remove(fn)

    def _emit(self, event: str, snaps: list[Snapshot]) -> None:
        for fn in list(self._listeners):
            fn(event, snaps)

    # -- budget --
    @property
    def snapshot_budget(self) -> int:
        """Bytes of weights one snapshot may hold."""
        return max(self.max_bytes // EPOCHS_BEFORE_THINNING, 4096)

    def _choose_samples(
        self, params: ParamDict, shared: int = 1
    ) -> dict[tuple[str, str], np.ndarray]:
        """Fixed flat indices for arrays over their share of the budget (same every epoch);
        ``shared``: how many arrays a parameter keeps at them (2: its weights and gradients)."""
        sizes = {(layer, k): a.size for layer, p in params.items() for k, a in p.items()}
        counts = allocate(sizes, self.snapshot_budget // (2 * shared))  # float16: 2 bytes each
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

    def _grads(self) -> ParamDict:
        """The gradients now ({} when not recorded or not available): the adapter's copy,
        whole; flush() keeps their fixed sample."""
        if not self.record_gradients:
            return {}
        try:
            return self.adapter.gradient_arrays()
        except Exception as e:  # a gradient failure must never lose the epoch
            warnings.warn(
                f"nnviz: gradients could not be computed ({e}); recorded without them",
                RuntimeWarning,
                stacklevel=4,
            )
            return {}

    def _read(
        self,
        epoch: int,
        label: str,
        metrics: dict[str, float],
        params: ParamDict,
        grads: ParamDict,
        acts: ProbeActs,
    ) -> Reading:
        """What record() read now; the numpy work on it waits for flush()."""
        prev = self._prev_full if epoch != INIT_EPOCH else None
        read = Reading(epoch, label, metrics, params, prev, grads, acts)
        self._boundary_reading(read)  # runs the model: now
        return read

    def _snapshot(self, read: Reading) -> Snapshot:
        """The snapshot of one reading: kept float16 weights, stats, histograms, the probe's."""
        snap = Snapshot(
            epoch=read.epoch,
            label=read.label,
            metrics=read.metrics,
            boundary=read.boundary,
            boundary_meta=read.boundary_meta,
            fields=read.fields,
        )
        prev = read.prev
        for layer in self.graph.names:
            p = read.params.get(layer)
            if not p:
                continue
            snap.weights[layer] = self._kept(layer, p)
            g = read.grads.get(layer)
            norm = None
            if g:
                norm = grad_norm(g)
                snap.grads[layer] = self._kept(layer, g, like=p)
            st, hist = layer_stats(p, prev.get(layer) if prev else None, norm)
            snap.stats[layer] = st
            snap.hists[layer] = hist
        self._probe_snapshot(snap, read.acts)
        return snap

    def _kept(
        self, layer: str, arrays: dict[str, np.ndarray], like: dict[str, np.ndarray] | None = None
    ) -> dict[str, np.ndarray]:
        """float16 copies: whole, or the parameter's fixed sample. With ``like`` (gradients):
        only the arrays shaped as the parameter of that name, and float32 where every value is
        below float16's normal range (a vanishing gradient would be stored as zeros)."""
        kept: dict[str, np.ndarray] = {}
        for k, a in arrays.items():
            if like is not None and (k not in like or like[k].shape != a.shape):
                continue
            idx = self._samples.get((layer, k))
            v = a.ravel()[idx] if idx is not None else a
            tiny = like is not None and v.size and 0 < np.nanmax(np.abs(v)) < _F16_NORMAL
            kept[k] = v.astype(np.float32 if tiny else np.float16)
        return kept

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
        heads = {name: w for name, w in getattr(acts, "heads", {}).items() if name in attention}
        sizes: dict[Any, int] = {name: int(a.size) for name, a in keep.items()}
        sizes.update({(name, "attn"): int(w.size) for name, w in attention.items()})
        sizes.update({(name, "heads"): int(w.size) for name, w in heads.items()})
        shares = allocate(sizes, self.snapshot_budget // 2)
        for name, a in keep.items():
            arrays, info = reduce_activation(name, a, shares[name])
            snap.acts[name], snap.act_info[name] = arrays, info
        for name, w in attention.items():
            # the mean attention over heads: whole, or the first samples' maps that fit
            k = max(1, min(w.shape[0], shares[(name, "attn")] // max(1, w[0].size)))
            snap.acts[name]["attn"] = w[:k].astype(np.float16)
        for name, w in heads.items():
            # each head's map: the first samples that fit, none where not even one does
            k = min(w.shape[0], shares[(name, "heads")] // max(1, w[0].size))
            if k:
                snap.acts[name]["heads"] = w[:k].astype(np.float16)
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
            out = acts[outputs[0]]
            if self._positions and out.ndim == 3 and out.shape[1] == self._positions:
                self._token_predictions(snap, out)
            else:
                snap.preds = predictions(out)

    def _token_predictions(self, snap: Snapshot, logits: np.ndarray) -> None:
        """A language model's prediction: the likeliest tokens at every position (the first
        samples' positions, within ``MAX_TOKEN_POSITIONS``), and as ``preds`` the token each
        sample predicts after its last one."""
        k = max(1, min(len(logits), MAX_TOKEN_POSITIONS // max(1, logits.shape[1])))
        ids, p = top_tokens(logits[:k])
        snap.top = {"ids": ids, "p": p.astype(np.float16)}
        last = logits[:, -1, :]
        snap.preds = np.argmax(np.where(np.isfinite(last), last, -np.inf), axis=1).tolist()
        if self._text is not None:
            seen = np.unique(np.concatenate([ids.ravel(), np.asarray(snap.preds, np.uint32)]))
            snap.tokens = {int(i): self._text.one(int(i)) for i in seen}

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
    def record(self, epoch: int, **metrics: Any) -> None:
        """Read the model now as ``epoch`` with the given metrics (any float keywords). What
        was read waits in ``pending`` for ``flush()`` (by itself past ``MAX_PENDING`` epochs
        or ``MAX_PENDING_BYTES``)."""
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
        if runfile.other_rank():
            # torch.distributed: rank 0 records for the run (DDP keeps replicas equal). A
            # sharded model's gather is collective, and FSDP keeps the order its modules ran
            # in (it plans the backward's collectives from it), so every rank takes part and
            # runs the same passes as rank 0, keeping nothing
            if self.adapter.collective:
                with self.adapter.gathered():
                    self._read(
                        epoch, "", {}, self.adapter.parameters(), self._grads(), self._activations()
                    )
            return
        with self.adapter.gathered():
            self._record(epoch, clean)
        if self.path is not None:
            self.flush()
            self._write_live()
        elif len(self.pending) >= MAX_PENDING or self._pending_bytes > MAX_PENDING_BYTES:
            self.flush()  # no view sending them (a script), or a big model: bounded

    def _record(self, epoch: int, clean: dict[str, float]) -> None:
        recorded = bool(self.pending) or len(self.snapshots) > 1
        last = self.pending[-1].epoch if self.pending else self.snapshots[-1].epoch
        replace = recorded and epoch == last
        if recorded and epoch < last:
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
                stacklevel=3,
            )
            # compare against the snapshot before the replaced one
            if self.pending:
                self._pending_bytes -= self.pending.pop().nbytes
            else:
                gone = self.snapshots.pop()
                self._sizes.pop(id(gone), None)
                self._emit("remove", [gone])
            self._prev_full = self._before_last
        grads = self._grads()
        read = self._read(epoch, f"epoch {epoch}", clean, params, grads, self._activations())
        self._before_last, self._prev_full = self._prev_full, params
        self.pending.append(read)
        self._pending_bytes += read.nbytes
        self._emit("record", [])

    def flush(self) -> None:
        """Make the pending readings into snapshots (all of them, or none if interrupted: they
        stay pending), thin the history to ``max_bytes``, then emit "thin" for earlier
        snapshots that lost arrays and one "batch" with the new ones."""
        if not self.pending:
            return
        batch = [self._snapshot(r) for r in self.pending]
        self.pending, self._pending_bytes = [], 0
        self.snapshots.extend(batch)
        new = {id(s) for s in batch}
        for snap in self._thin():
            if id(snap) not in new:
                self._emit("thin", [snap])
        self._emit("batch", batch)

    def extend(self, snaps: list[Snapshot]) -> None:
        """Append snapshots made elsewhere (``nnv.follow``: a run file that grew; a derived
        run, as ``nnv.compare``'s A − B), newer than the last one held and in increasing
        order; thins and emits one "batch" as ``flush()`` does."""
        if not snaps:
            return
        last = self.snapshots[-1].epoch if self.snapshots else INIT_EPOCH - 1
        if snaps[0].epoch <= last or any(x.epoch >= y.epoch for x, y in itertools.pairwise(snaps)):
            raise ValueError(f"snapshots must come after epoch {last}, in increasing order")
        self.snapshots.extend(snaps)
        new = {id(s) for s in snaps}
        for snap in self._thin():
            if id(snap) not in new:
                self._emit("thin", [snap])
        self._emit("batch", list(snaps))

    def drop_last(self) -> None:
        """Drop the newest snapshot (a followed run recorded that epoch again); emits "remove"."""
        if len(self.snapshots) > 1:
            self.drop(self.snapshots[-1].epoch)

    def drop(self, epoch: int) -> None:
        """Remove the snapshot of ``epoch`` (emits "remove"); nothing when there is none."""
        for i, s in enumerate(self.snapshots):
            if s.epoch == epoch and i > 0:
                self.snapshots.pop(i)
                self._sizes.pop(id(s), None)
                self._emit("remove", [s])
                return

    @property
    def nbytes(self) -> int:
        """Bytes of the complete snapshots (pending epochs count once flushed)."""
        return sum(self._size(s) for s in self.snapshots)

    def _size(self, snap: Snapshot) -> int:
        """``snap.nbytes``, counted once (a snapshot changes only when thinned, which counts
        it again)."""
        n = self._sizes.get(id(snap))
        if n is None:
            n = self._sizes[id(snap)] = snap.nbytes
        return n

    def _thin(self) -> list[Snapshot]:
        """Thin the history to ``max_bytes``; returns the snapshots thinned."""
        # the total is summed once per batch (keep it O(epochs) once)
        total = self.nbytes
        thinned: list[Snapshot] = []
        while total > self.max_bytes:
            candidates = [i for i, s in enumerate(self.snapshots) if not s.thinned]
            pick = thin_order([self.snapshots[i].epoch for i in candidates])
            if pick is None:
                # only stats are left to give: drop histograms of thinned epochs, oldest first
                for s in self.snapshots:
                    if s.thinned and s.hists and total > self.max_bytes:
                        before = self._size(s)
                        s.hists = {}
                        self._sizes[id(s)] = s.nbytes
                        total -= before - self._sizes[id(s)]
                        thinned.append(s)
                break
            snap = self.snapshots[candidates[pick]]
            before = self._size(snap)
            snap.weights = {}
            snap.grads = {}
            snap.acts, snap.act_info, snap.boundary, snap.fields = {}, {}, {}, {}
            snap.thinned = True
            self._sizes[id(snap)] = snap.nbytes
            total -= before - self._sizes[id(snap)]
            thinned.append(snap)
        return thinned

    @property
    def thinned_epochs(self) -> list[int]:
        """Epochs of the complete snapshots that were thinned to stats."""
        return [s.epoch for s in self.snapshots if s.thinned]

    def keras_callback(self) -> Any:
        """A keras.callbacks.Callback that records every epoch end with all of Keras' logs."""
        from .adapters.keras.callback import make_callback  # imports keras

        return make_callback(self)

    def lightning_callback(self, every_n_steps: int | None = None) -> Any:
        """A ``lightning.pytorch.Callback`` recording each epoch end (or every ``every_n_steps``
        optimizer steps) with ``trainer.callback_metrics``; rank 0 only."""
        from .adapters.torch.lightning import LightningCallback  # imports lightning

        return LightningCallback(self, every_n_steps=every_n_steps)

    def hf_callback(self, every_n_steps: int | None = None) -> Any:
        """A ``transformers.TrainerCallback`` recording each epoch end (or every
        ``every_n_steps`` optimizer steps) with the Trainer's logs; world process zero only."""
        from .adapters.torch.hf_trainer import HFCallback  # imports transformers

        return HFCallback(self, every_n_steps=every_n_steps)


class _NoModel(ModelAdapter):
    """The adapter of a loaded run (``Recorder.from_snapshots``): there is no model to read."""

    def graph(self) -> Graph:
        raise RuntimeError("this run was loaded from a file: it has no model")

    def parameters(self) -> ParamDict:
        raise RuntimeError("this run was loaded from a file: it has no model")


def load_recorder(path: str | os.PathLike[str]) -> Recorder:
    """The recorded run in a ``.nnviz`` file, as a Recorder with no model (it can't record).

    Raises ``RunFileError`` (a ValueError) for anything wrong with the file, FileNotFoundError
    when there is no file."""
    run = runfile.read(path)
    return Recorder.from_snapshots(run.graph, run.snapshots, run.samples, run.settings)
