"""``History``: read access to a recording (``viz.history``), over complete snapshots only."""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from .graph import Graph
from .probe import HEALTH_METRICS, HealthTable
from .snapshot import HIST_BINS, INIT_EPOCH, Snapshot


class Recording(Protocol):
    """What History reads (a Recorder): complete snapshots, after ``flush()``."""

    graph: Graph
    snapshots: list[Snapshot]
    max_bytes: int

    def flush(self) -> None: ...

    def sample_indices(self, layer: str, param: str = "weight") -> np.ndarray | None: ...


class History:
    """Read access to what a Recorder kept (``viz.history``). Every read first flushes the
    epochs still pending, so it sees everything recorded."""

    def __init__(self, recorder: Recording) -> None:
        self._rec = recorder

    def __repr__(self) -> str:
        e = self.epochs
        span = f"{e[0]}..{e[-1]}" if e else "none"
        return f"History({len(e)} epochs recorded: {span}; metrics {sorted(self.metrics)})"

    def _all(self) -> list[Snapshot]:
        self._rec.flush()
        return self._rec.snapshots

    def _recorded(self) -> list[Snapshot]:
        return [s for s in self._all() if s.epoch != INIT_EPOCH]

    @property
    def init(self) -> Snapshot:
        """The snapshot taken at NNViz(...)/Recorder(...), before training."""
        return self._rec.snapshots[0]

    @property
    def snapshots(self) -> list[Snapshot]:
        return list(self._all())

    @property
    def epochs(self) -> list[int]:
        return [s.epoch for s in self._recorded()]

    @property
    def metrics(self) -> dict[str, np.ndarray]:
        snaps = self._recorded()
        names: list[str] = []
        for s in snaps:
            names.extend(k for k in s.metrics if k not in names)
        return {
            n: np.array([s.metrics.get(n, math.nan) for s in snaps], dtype=np.float64)
            for n in names
        }

    def _snap(self, epoch: int) -> Snapshot:
        for s in self._all():
            if s.epoch == epoch:
                return s
        raise KeyError(f"epoch {epoch} was not recorded; recorded: {self.epochs} (init = -1)")

    def _layer(self, layer: str) -> str:
        self._rec.graph[layer]  # KeyError naming the layers
        return layer

    def _snaps(self, include_init: bool) -> list[Snapshot]:
        return self._all() if include_init else self._recorded()

    def stats(self, layer: str, include_init: bool = False) -> dict[str, np.ndarray]:
        """Arrays over epochs: mean, std, norm, min, max, nonfinite, grad_norm, update_ratio."""
        self._layer(layer)
        snaps = self._snaps(include_init)
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
        snaps = self._snaps(include_init)
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

    def _kept(self, group: str, layer: str, epoch: int, param: str) -> np.ndarray:
        self._layer(layer)
        snap = self._snap(epoch)
        if snap.thinned:
            raise KeyError(
                f"epoch {epoch}'s {group} were thinned to stay within max_bytes="
                f"{self._rec.max_bytes:,}; stats and metrics are kept. Epochs with weights: "
                f"{[s.epoch for s in self._rec.snapshots if not s.thinned]}"
            )
        params = getattr(snap, group).get(layer)
        if not params or param not in params:
            have = sorted(params) if params else []
            raise KeyError(f"layer {layer!r} has no recorded {group} of {param!r} (has {have})")
        return params[param].astype(np.float32)

    def weights(self, layer: str, epoch: int, param: str = "weight") -> np.ndarray:
        """Recorded values (float32): the whole array, or the fixed sample (sample_indices)."""
        return self._kept("weights", layer, epoch, param)

    def gradients(self, layer: str, epoch: int, param: str = "weight") -> np.ndarray:
        """The parameter's gradient at ``epoch`` (float32), kept like its weights: the whole
        array, or at the same fixed sample (sample_indices). Canonical orientation."""
        return self._kept("grads", layer, epoch, param)

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

    def attention(self, layer: str, epoch: int, heads: bool = False) -> np.ndarray:
        """An attention layer's attention weights on the probe at ``epoch``, averaged over heads:
        (samples, queries, keys) float32, rows summing to 1 (the first samples only where the
        budget is tight); with ``heads=True`` each head's, (samples, heads, queries, keys).
        Recorded where the model exposes them (torch ``nn.MultiheadAttention`` and
        ``scaled_dot_product_attention``, Keras ``MultiHeadAttention``)."""
        self._layer(layer)
        snap = self._snap(epoch)
        arrays = snap.acts.get(layer, {})
        key = "heads" if heads else "attn"
        if key not in arrays:
            why = " (thinned)" if snap.thinned else ""
            what = "per-head attention maps" if heads else "attention maps"
            raise KeyError(f"no {what} of {layer!r} recorded at epoch {epoch}{why}")
        return arrays[key].astype(np.float32)

    def next_tokens(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """A language model's likeliest next tokens at ``epoch``: their ids (samples, positions,
        3) and probabilities, likeliest first (position t predicts token t + 1). KeyError for a
        model whose probe is not token ids with (positions, vocabulary) logits."""
        snap = self._snap(epoch)
        if not snap.top:
            raise KeyError(f"no token predictions recorded at epoch {epoch}")
        return snap.top["ids"].astype(np.int64), snap.top["p"].astype(np.float32)

    def activation_units(self, layer: str) -> np.ndarray | None:
        """Unit indices kept for a layer whose activations are sampled, else None."""
        for s in self._all():
            info = s.act_info.get(layer)
            if info is not None:
                return info.index
        return None

    def health(self, include_init: bool = False) -> HealthTable:
        """Layer x epoch: dead / saturated fractions, gradient ratio, update ratio ..."""
        snaps = self._snaps(include_init)
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
