"""What the probe batch shows: activations within a budget, training health, decision boundaries.

Pure numpy: the adapters produce the arrays, this module reduces and measures them.
"""

from __future__ import annotations

import functools
import math
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .graph import LAYER_KINDS, Graph, Layer

#: Health thresholds: a layer gets a badge in the view when past one of these.
DEAD_BADGE = 0.5  # at least half of the units never fire on the probe batch
SATURATED_BADGE = 0.5  # at least half of the sigmoid/tanh outputs pinned at their ends
GRAD_RATIO_LOW, GRAD_RATIO_HIGH = 1e-2, 1e2  # gradient norm vs the previous layer's
SATURATION_EDGE = 0.02  # "beyond 0.02 / 0.98 of the range"
SQUASHING = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "hard_sigmoid": (0.0, 1.0)}
RELU_LIKE = {"relu", "relu6"}


def activation_of(layer: Layer) -> str | None:
    """The nonlinearity a layer applies last ("relu", "sigmoid" ...), if known."""
    act = layer.detail.get("activation")
    return str(act).lower() if act else None


def canonical(act: np.ndarray, layer: Layer, data_format: str) -> np.ndarray:
    """(B, H, W, C) -> (B, C, H, W) for channels-last image-like outputs, so the views get one
    layout whatever the framework. Sequences (B, T, F) are left alone."""
    image_like = layer.kind in ("conv", "pool", "norm", "activation", "dropout")
    if data_format == "channels_last" and image_like and act.ndim >= 4:
        return np.moveaxis(act, -1, 1)
    return act


@dataclass
class ActInfo:
    """How one layer's activations were kept (sent to the browser in the snapshot header)."""

    mode: str  # "full" | "units" (a fixed sample of units) | "maps" (k samples' maps + means)
    shape: list[int]  # per-sample shape of what is kept for one sample
    samples: int  # how many probe samples the array holds
    index: np.ndarray | None = None  # units kept (mode "units"), fixed across epochs

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "shape": self.shape, "samples": self.samples}


@functools.lru_cache(maxsize=1 << 16)
def _unit_sample(name: str, n: int, k: int) -> np.ndarray:
    """The units kept of a layer, the same every epoch (so computed once: a generator per layer
    per record cost seconds on a graph of 10,000 layers); read-only, as it is shared."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    idx = np.sort(rng.choice(n, size=k, replace=False)).astype(np.uint32)
    idx.setflags(write=False)
    return idx


def reduce_activation(
    name: str, act: np.ndarray, budget_values: int
) -> tuple[dict[str, np.ndarray], ActInfo]:
    """Keep what fits in ``budget_values`` float16 values: everything, per-channel means plus
    the first samples' maps (images), or a fixed sample of units (vectors)."""
    b = act.shape[0]
    per = int(np.prod(act.shape[1:], dtype=np.int64)) if act.ndim > 1 else 1
    if b * per <= budget_values:
        return {"act": act.astype(np.float16)}, ActInfo("full", list(act.shape[1:]), b)
    if act.ndim >= 4:  # (B, C, H, W...): channel means for every sample, maps for the first k
        means = act.reshape(b, act.shape[1], -1).mean(axis=2)
        k = max(1, min(b, (budget_values - means.size) // max(per, 1)))
        return (
            {"act": act[:k].astype(np.float16), "act_mean": means.astype(np.float16)},
            ActInfo("maps", list(act.shape[1:]), k),
        )
    flat = act.reshape(b, -1)
    k = max(1, min(flat.shape[1], budget_values // b))
    idx = _unit_sample(name, flat.shape[1], k)
    return {"act": flat[:, idx].astype(np.float16)}, ActInfo("units", [k], b, idx)


def layer_health(layer: Layer, act: np.ndarray | None) -> dict[str, float | None]:
    """Dead and saturated fractions of one layer's output on the probe batch (NaN ignored)."""
    out: dict[str, float | None] = {"dead": None, "saturated": None, "act_nonfinite": None}
    if act is None or act.size == 0:
        return out
    # this runs for every layer at every record(): few passes, no copies of finite data
    a = act.astype(np.float32, copy=False)
    finite = np.isfinite(a)
    all_finite = bool(finite.all())
    out["act_nonfinite"] = 0.0 if all_finite else float(a.size - int(finite.sum()))
    fn = activation_of(layer)
    if fn in RELU_LIKE:
        # a unit (or a channel, for image-like outputs) is dead when it is never positive
        # (NaN > 0 is False: a NaN never counts as firing)
        units = a.reshape(a.shape[0], a.shape[1], -1) if a.ndim >= 3 else a.reshape(a.shape[0], -1)
        fired = units > 0
        alive = fired.any(axis=(0, 2)) if fired.ndim == 3 else fired.any(axis=0)
        out["dead"] = float(1.0 - alive.mean()) if alive.size else None
    elif fn in SQUASHING:
        lo, hi = SQUASHING[fn]
        t = ((a if all_finite else a[finite]) - lo) / (hi - lo)
        if t.size:
            out["saturated"] = float(np.mean((t < SATURATION_EDGE) | (t > 1 - SATURATION_EDGE)))
    return out


def grad_ratios(graph: Graph, grad_norms: dict[str, float | None]) -> dict[str, float | None]:
    """Each weight layer's gradient norm over that of the weight layers it takes its input from
    (the nearest ones upstream along the edges, the largest of them): far below 1 is vanishing,
    far above exploding. Only layers with a weight matrix or kernel take part: a norm's gain and
    bias are a few numbers whose gradient is small next to a matrix's by its size alone (every
    fresh LayerNorm would be "vanishing"); and parallel branches (attention's q, k, v) are not
    compared with each other, only with what feeds them. Layers that reach the loss only
    through attention scores (``score_only``) get no ratio: theirs is small by design."""

    def weighted(layer: Layer) -> float | None:
        g = grad_norms.get(layer.name)
        if g is None or not math.isfinite(g):
            return None
        if len(layer.param_shapes.get("weight", ())) < 2 or LAYER_KINDS[layer.kind].pass_through:
            return None
        return g

    preds: dict[str, list[str]] = {}
    for a, b in graph.edges:
        preds.setdefault(b, []).append(a)
    by_name = {layer.name: layer for layer in graph.layers}
    scores = score_only(graph)
    out: dict[str, float | None] = {}
    for layer in graph.layers:
        g = weighted(layer)
        if g is None or layer.name in scores:
            continue
        upstream: list[float] = []
        seen, todo = set(), list(preds.get(layer.name, []))
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            up = weighted(by_name[name])
            if up is not None:
                upstream.append(up)
            else:
                todo.extend(preds.get(name, []))
        ref = max(upstream, default=0.0)
        out[layer.name] = g / ref if ref > 0 else None
    return out


_PRODUCTS = {"matmul", "bmm", "einsum"}


def score_only(graph: Graph) -> set[str]:
    """Weight layers whose output reaches the loss only through attention scores: the query and
    key projections of an attention op the adapter named them for (``detail["score_inputs"]``:
    torch's ``scaled_dot_product_attention``), or of eager attention (every path reaches a
    softmax whose output is multiplied with the values). Their gradient passes through the softmax's
    Jacobian, which is close to zero while attention is near uniform (every freshly built
    transformer), so a ratio far below 1 is their normal state, not a vanishing gradient. A
    projection that also feeds the values (GPT-2's fused ``c_attn``), or anything else, is judged
    as any layer."""
    succs: dict[str, list[str]] = {}
    for a, b in graph.edges:
        succs.setdefault(a, []).append(b)
    by_name = {layer.name: layer for layer in graph.layers}

    def blocks(layer: Layer) -> bool:  # a weight layer or the output: the path ends there
        has_matrix = len(layer.param_shapes.get("weight", ())) >= 2
        return layer.kind == "output" or (has_matrix and not LAYER_KINDS[layer.kind].pass_through)

    def weighs_values(name: str) -> bool:
        """A softmax whose output weighs values (through dropout): attention probabilities, as
        eager attention computes them (matmul(q, kᵀ) -> scale, mask -> softmax -> matmul)."""
        if activation_of(by_name[name]) != "softmax":
            return False
        todo, seen = list(succs.get(name, [])), set()
        while todo:
            b = todo.pop()
            if b in seen:
                continue
            seen.add(b)
            node = by_name[b]
            if node.op in _PRODUCTS:
                return True
            if node.kind == "dropout":
                todo.extend(succs.get(b, []))
        return False

    out: set[str] = set()
    for layer in graph.layers:
        if not blocks(layer) or layer.kind == "output":
            continue
        score, other = False, False
        seen: set[str] = set()
        todo = [(layer.name, b) for b in succs.get(layer.name, [])]
        while todo and not other:
            a, b = todo.pop()
            node = by_name[b]
            if "score_inputs" in node.detail:
                if a in node.detail["score_inputs"] and a not in node.detail.get(
                    "value_inputs", []
                ):
                    score = True
                else:
                    other = True
            elif blocks(node):
                other = True
            elif weighs_values(b):
                score = True
            elif b not in seen:
                seen.add(b)
                todo.extend((b, c) for c in succs.get(b, []))
            if not succs.get(b) and not blocks(node) and "score_inputs" not in node.detail:
                # (a softmax weighing values always has a successor: never here)
                other = True  # a dead end (a model output without an output node)
        if score and not other:
            out.add(layer.name)
    return out


def badges(h: dict[str, float | None]) -> list[str]:
    """Which health flags a layer shows at one epoch."""
    flags = []
    dead, sat, ratio = h.get("dead"), h.get("saturated"), h.get("grad_ratio")
    if dead is not None and dead >= DEAD_BADGE:
        flags.append("dead")
    if sat is not None and sat >= SATURATED_BADGE:
        flags.append("saturated")
    if ratio is not None and ratio < GRAD_RATIO_LOW:
        flags.append("vanishing")
    if ratio is not None and ratio > GRAD_RATIO_HIGH:
        flags.append("exploding")
    nonfinite = h.get("act_nonfinite")
    if nonfinite:
        flags.append("nan")
    return flags


@dataclass
class Boundary:
    """The input plane of a 2-D-input model, sampled on a res x res grid."""

    extent: tuple[float, float, float, float]  # x0, x1, y0, y1
    res: int = 100
    field_res: int = 24  # per-hidden-neuron field images are smaller
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))

    @classmethod
    def around(cls, x: np.ndarray, res: int = 100, margin: float = 0.15) -> Boundary:
        lo, hi = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
        pad = (hi - lo) * margin + 1e-6
        return cls(
            (
                float(lo[0] - pad[0]),
                float(hi[0] + pad[0]),
                float(lo[1] - pad[1]),
                float(hi[1] + pad[1]),
            ),
            res,
        )

    def grid(self, res: int | None = None) -> np.ndarray:
        """(res*res, 2) points, row-major with y going up from row 0 = y0."""
        r = res or self.res
        x0, x1, y0, y1 = self.extent
        xs = np.linspace(x0, x1, r, dtype=np.float32)
        ys = np.linspace(y0, y1, r, dtype=np.float32)
        gx, gy = np.meshgrid(xs, ys)
        return np.stack([gx.ravel(), gy.ravel()], axis=1)


def boundary_arrays(out: np.ndarray, res: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Model outputs on the grid -> what the view draws.

    One output: its value (a sigmoid probability or a regression value). Several: the argmax
    class (uint8) and its confidence (softmax of the outputs if they are not probabilities)."""
    o = out.reshape(out.shape[0], -1).astype(np.float32)
    if o.shape[1] == 1:
        v = o[:, 0]
        lo, hi = float(np.nanmin(v)), float(np.nanmax(v))
        prob = lo >= 0.0 and hi <= 1.0
        return (
            {"value": v.reshape(res, res).astype(np.float16)},
            {"mode": "binary" if prob else "regression", "classes": 1, "lo": lo, "hi": hi},
        )
    rows = o.sum(axis=1)
    is_prob = np.all(o >= 0) and np.allclose(rows, 1.0, atol=1e-3)
    p = o if is_prob else np.exp(o - o.max(axis=1, keepdims=True))
    p = p / p.sum(axis=1, keepdims=True)
    cls = p.argmax(axis=1)
    conf = p.max(axis=1)
    return (
        {
            "class": cls.reshape(res, res).astype(np.uint8),
            "confidence": conf.reshape(res, res).astype(np.float16),
        },
        {"mode": "multiclass", "classes": int(o.shape[1])},
    )


def predictions(out: np.ndarray) -> list[int]:
    """Predicted class per probe sample: argmax, or a 0.5 threshold for one output; none ([])
    for an output with a class per position (N, T, C), where a sample has no single class."""
    if out.ndim >= 3 and math.prod(out.shape[1:-1]) > 1:
        return []
    o = out.reshape(out.shape[0], -1)
    if o.shape[1] == 1:
        return [int(v > (0.5 if np.nanmin(o) >= 0 else 0.0)) for v in o[:, 0]]
    if not np.isfinite(o).all():
        o = np.where(np.isfinite(o), o, -np.inf)
    return np.argmax(o, axis=1).tolist()


#: Top predicted tokens kept per position, and most (sample, position) pairs kept per epoch.
TOP_K = 3
MAX_TOKEN_POSITIONS = 2048


def token_ids(x: Any) -> np.ndarray | None:
    """The probe as token ids: an integer (batch, positions) array, else None."""
    if not isinstance(x, np.ndarray) or x.ndim != 2 or x.dtype.kind not in "iu":
        return None
    return x


def token_task(ids: np.ndarray, targets: np.ndarray | None, kept: int) -> dict[str, Any]:
    """What a token model's output at a position is, for the view's words: ``"next"`` (a language
    model: the token after it; no targets, targets equal to the ids as Hugging Face models take
    them, or the ids shifted by one) or ``"position"`` (a per-position target that is neither:
    a reverser, a tagger), then with the first ``kept`` samples' ``targets`` (negative: ignored)."""
    t = None if targets is None else np.asarray(targets)
    if t is None or t.shape != ids.shape or t.dtype.kind not in "iu":
        return {"task": "next"}
    if np.array_equal(t, ids) or np.array_equal(t[:, :-1], ids[:, 1:]):
        return {"task": "next"}
    return {"task": "position", "targets": t[:kept].tolist()}


def top_tokens(logits: np.ndarray, k: int = TOP_K) -> tuple[np.ndarray, np.ndarray]:
    """(samples, positions, vocab) logits -> the k likeliest tokens per position: their ids
    (uint32) and softmax probabilities (float32), likeliest first."""
    x = np.asarray(logits, np.float32)
    x = np.where(np.isfinite(x), x, -np.inf)
    k = min(k, x.shape[-1])
    idx = np.argpartition(-x, k - 1, axis=-1)[..., :k]
    top = np.take_along_axis(x, idx, axis=-1)
    order = np.argsort(-top, axis=-1, kind="stable")
    idx, top = np.take_along_axis(idx, order, -1), np.take_along_axis(top, order, -1)
    m = x.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    z = np.exp(x - m).sum(axis=-1, keepdims=True)
    p = np.exp(top - m) / np.where(z > 0, z, 1.0)
    return idx.astype(np.uint32), p.astype(np.float32)


class TokenText:
    """Token ids -> text with the user's tokenizer: ``decode([id])`` where it has one (" sat"),
    else ``convert_ids_to_tokens``. Each id is decoded once (the mapping never changes)."""

    def __init__(self, tokenizer: Any) -> None:
        decode = getattr(tokenizer, "decode", None)
        convert = getattr(tokenizer, "convert_ids_to_tokens", None)
        if not callable(decode) and not callable(convert):
            raise TypeError(
                f"tokenizer must have a decode(ids) or convert_ids_to_tokens(ids) method (a "
                f"Hugging Face tokenizer has both); got {type(tokenizer).__name__}"
            )
        self._decode = decode if callable(decode) else None
        self._convert = convert if callable(convert) else None
        self._known: dict[int, str] = {}

    def one(self, i: int) -> str:
        text = self._known.get(i)
        if text is None:
            if self._decode is not None:
                got: Any = self._decode([i])
            else:
                assert self._convert is not None
                got = self._convert([i])
                got = got[0] if isinstance(got, list | tuple) and got else got
            text = self._known[i] = str(got)
        return text

    def __call__(self, ids: Any) -> list[str]:
        return [self.one(int(i)) for i in np.asarray(ids).ravel()]


def image_shape_for(n: int) -> list[int] | None:
    """A flat input of n = s*s values (64 -> 8x8, 784 -> 28x28) is taken as a square image."""
    s = round(math.sqrt(n))
    return [s, s] if s * s == n and s >= 4 else None


HEALTH_METRICS = ("dead", "saturated", "grad_ratio", "update_ratio", "grad_norm", "act_nonfinite")


@dataclass
class HealthTable:
    """Training health, layer x epoch, for code (``viz.health()``); NaN where not applicable."""

    layers: list[str]
    epochs: list[int]
    values: dict[str, np.ndarray]  # metric -> (len(layers), len(epochs))

    def __getitem__(self, metric: str) -> np.ndarray:
        if metric not in self.values:
            raise KeyError(f"unknown health metric {metric!r}; have {list(self.values)}")
        return self.values[metric]

    def at(self, layer: str, epoch: int) -> dict[str, float]:
        i, j = self.layers.index(layer), self.epochs.index(epoch)
        return {m: float(v[i, j]) for m, v in self.values.items()}

    def flags(self) -> dict[tuple[str, int], list[str]]:
        """(layer, epoch) -> the badges shown in the view, where there is any."""
        out = {}
        for i, layer in enumerate(self.layers):
            for j, epoch in enumerate(self.epochs):
                h = {
                    m: (None if np.isnan(v[i, j]) else float(v[i, j]))
                    for m, v in self.values.items()
                }
                b = badges(h)
                if b:
                    out[(layer, epoch)] = b
        return out

    def to_pandas(self) -> Any:
        """A long DataFrame (layer, epoch, metric columns); needs pandas."""
        import pandas as pd

        rows = [
            {"layer": layer, "epoch": epoch, **self.at(layer, epoch)}
            for layer in self.layers
            for epoch in self.epochs
        ]
        return pd.DataFrame(rows).set_index(["layer", "epoch"])

    def __repr__(self) -> str:
        n, e, f = len(self.layers), len(self.epochs), len(self.flags())
        return f"HealthTable({n} layers x {e} epochs, {f} flags)"

    def _cells(self) -> list[list[str]]:
        """Per layer, per epoch: the cell's text (what the HTML table shows), "·" when empty."""
        out = []
        for i in range(len(self.layers)):
            row = []
            for j in range(len(self.epochs)):
                d, s = self.values["dead"][i, j], self.values["saturated"][i, j]
                r = self.values["grad_ratio"][i, j]
                txt = []
                if not np.isnan(d):
                    txt.append(f"dead {d:.0%}")
                if not np.isnan(s):
                    txt.append(f"sat {s:.0%}")
                if not np.isnan(r):
                    txt.append(f"∇ratio {r:.2g}")
                row.append(", ".join(txt) or "·")
            out.append(row)
        return out

    def __str__(self) -> str:
        """The table as aligned text (``print(viz.health())`` in a terminal); flagged cells
        are marked with ``!``."""
        flags = self.flags()
        cells = self._cells()
        rows = [["layer \\ epoch", *(str(e) for e in self.epochs)]]
        for i, layer in enumerate(self.layers):
            rows.append(
                [
                    layer,
                    *(
                        f"! {c}" if (layer, e) in flags else c
                        for e, c in zip(self.epochs, cells[i], strict=True)
                    ),
                ]
            )
        widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        if flags:
            lines.append("")
            lines += [f"! {layer} @ {epoch}: {', '.join(b)}" for (layer, epoch), b in flags.items()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        head = "".join(f"<th>{e}</th>" for e in self.epochs)
        rows = []
        flags = self.flags()
        texts = self._cells()
        for i, layer in enumerate(self.layers):
            cells = []
            for j, epoch in enumerate(self.epochs):
                bad = flags.get((layer, epoch))
                style = ' style="background:rgba(214,39,40,0.2)"' if bad else ""  # both themes
                cells.append(f"<td{style}>{html.escape(texts[i][j])}</td>")
            rows.append(f"<tr><th>{html.escape(layer)}</th>{''.join(cells)}</tr>")
        return f"<table><tr><th>layer \\ epoch</th>{head}</tr>{''.join(rows)}</table>"
