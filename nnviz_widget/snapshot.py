"""What one epoch left behind (``Snapshot``, a plain dataclass) and the per-layer statistics
that go into it (``layer_stats``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .probe import ActInfo

HIST_BINS = 64
INIT_EPOCH = -1


@dataclass
class Snapshot:
    """One recorded epoch. ``weights`` and ``grads`` are float16 (a gradient array wholly below
    float16's normal range: float32), whole or the parameter's fixed sample of flat indices (the
    same for both, every epoch). Made complete by ``Recorder.flush()``; nothing in it is
    computed on read."""

    epoch: int  # INIT_EPOCH (-1) for the initial weights
    label: str
    metrics: dict[str, float] = field(default_factory=dict)
    weights: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    grads: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    stats: dict[str, dict[str, float | None]] = field(default_factory=dict)
    hists: dict[str, np.ndarray] = field(default_factory=dict)
    thinned: bool = False
    # the probe batch: activations within the budget, how each was kept, per-layer health,
    # predicted classes, and the decision boundary of a 2-D-input model; an attention layer's
    # acts also hold "attn": (samples, queries, keys), the mean over heads
    acts: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    act_info: dict[str, ActInfo] = field(default_factory=dict)
    health: dict[str, dict[str, float | None]] = field(default_factory=dict)
    preds: list[int] = field(default_factory=list)
    boundary: dict[str, np.ndarray] = field(default_factory=dict)
    boundary_meta: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, np.ndarray] = field(default_factory=dict)
    # a language model's probe (token ids in, (positions, vocab) logits out): the likeliest
    # tokens per position, "ids" (samples, positions, k) uint32 and "p" the same in float16, and
    # the text of those ids where a tokenizer was given
    top: dict[str, np.ndarray] = field(default_factory=dict)
    tokens: dict[int, str] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        """Bytes of its arrays (plus a little per layer's stats)."""
        n = sum(a.nbytes for p in self.weights.values() for a in p.values())
        n += sum(a.nbytes for p in self.grads.values() for a in p.values())
        n += sum(a.nbytes for p in self.acts.values() for a in p.values())
        n += sum(a.nbytes for a in self.boundary.values()) + sum(
            a.nbytes for a in self.fields.values()
        )
        n += sum(a.nbytes for a in self.top.values()) + sum(
            8 + len(t) for t in self.tokens.values()
        )
        return n + sum(h.nbytes for h in self.hists.values()) + 64 * len(self.stats)


def layer_stats(
    params: dict[str, np.ndarray], prev: dict[str, np.ndarray] | None, grad_norm: float | None
) -> tuple[dict[str, float | None], np.ndarray]:
    """Stats of all of a layer's parameters together; NaN/Inf are ignored and counted.

    This runs for every recorded epoch, so it is written for speed: the adapter's one buffer is
    read in place (``LayerParams.flat``) in its own float32, with sums accumulated in float64;
    min/max find non-finite values (NaN propagates, inf shows) instead of a separate pass; a
    bincount histogram, no clip (its wrapper costs more than the work). No BLAS (np.dot):
    waking BLAS threads next to the training framework's own thread pool oversubscribes the
    cores and slows the user's loop (np.einsum runs its own loop).
    """
    flat = flat_values(params)
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
        sq = sum_sq(vals)
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
        before = flat_values(prev)
        if before.shape == flat.shape:
            diff = flat - before
            num, denom = math.sqrt(sum_sq(diff)), math.sqrt(sum_sq(before))
            if not (math.isfinite(num) and math.isfinite(denom)):
                # non-finite entries on either side: the ratio over the entries finite in both
                ok = np.isfinite(diff) & np.isfinite(before)
                num, denom = math.sqrt(sum_sq(diff[ok])), math.sqrt(sum_sq(before[ok]))
            stats["update_ratio"] = num / denom if denom > 0 else (0.0 if num == 0 else math.inf)
    return stats, hist.astype(np.float32)


def grad_norm(grads: dict[str, np.ndarray]) -> float:
    """L2 norm over all of a layer's gradients (non-finite entries ignored)."""
    flat = flat_values(grads)
    sq = sum_sq(flat)
    if not math.isfinite(sq):
        sq = sum_sq(flat[np.isfinite(flat)])
    return math.sqrt(sq)


def flat_values(params: dict[str, np.ndarray]) -> np.ndarray:
    """All of a layer's arrays as one 1-D float array (a view where the adapter made one)."""
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


def sum_sq(a: np.ndarray) -> float:
    """Sum of squares accumulated in float64 (np.einsum's own loop: no BLAS)."""
    return float(np.einsum("i,i->", a, a, dtype=np.float64)) if a.size else 0.0
