"""plotly figures of a recorded run (``viz.figure(kind)``): the same data the widget shows."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .probe import DEAD_BADGE
from .recorder import Recorder

if TYPE_CHECKING:  # plotly is imported when a figure is made: `import nnviz_widget` stays light
    import plotly.graph_objects as go

KINDS = ("loss", "weights", "gradients", "updates", "health")
_LAYOUT = {
    "template": "plotly_white",
    "height": 420,
    "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
}


def figure(rec: Recorder, kind: str = "loss") -> go.Figure:
    """Build one of the figures in KINDS; ValueError names the kinds for anything else."""
    builders = {
        "loss": _loss,
        "weights": _weights,
        "gradients": _gradients,
        "updates": _updates,
        "health": _health,
    }
    if kind not in builders:
        raise ValueError(f"unknown figure {kind!r}; choose one of {list(KINDS)}")
    return builders[kind](rec)


def _centered_note(fig: go.Figure, text: str) -> None:
    """Say in the middle of an empty figure why it is empty."""
    fig.add_annotation(text=text, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)


def _param_layers(rec: Recorder) -> list[str]:
    return [layer.name for layer in rec.graph.layers if layer.params > 0]


def _loss(rec: Recorder) -> go.Figure:
    import plotly.graph_objects as go

    h = rec.history
    epochs = h.epochs
    fig = go.Figure()
    metrics = h.metrics
    # loss-like metrics on the left axis, bounded ones (accuracy...) on the right
    for name, values in metrics.items():
        right = not ("loss" in name or "error" in name)
        finite = np.where(np.isfinite(values), values, np.nan)
        fig.add_trace(
            go.Scatter(
                x=epochs, y=finite, mode="lines+markers", name=name, yaxis="y2" if right else "y"
            )
        )
        bad = [(e, v) for e, v in zip(epochs, values, strict=True) if not math.isfinite(v)]
        if bad:  # NaN / Inf are marked, not silently dropped
            fig.add_trace(
                go.Scatter(
                    x=[e for e, _ in bad],
                    y=[0] * len(bad),
                    mode="markers+text",
                    marker={"symbol": "x", "color": "crimson", "size": 12},
                    text=[str(v) for _, v in bad],
                    textposition="top center",
                    name=f"{name}: non-finite",
                    yaxis="y2" if right else "y",
                )
            )
    fig.update_layout(
        title="Metrics over epochs",
        xaxis_title="epoch",
        yaxis_title="loss",
        yaxis2={"title": "metric", "overlaying": "y", "side": "right", "showgrid": False},
        legend={"orientation": "h", "y": -0.2},
        **_LAYOUT,
    )
    if not metrics:
        _centered_note(fig, "no metrics recorded yet: call viz.record(epoch, loss=...)")
    return fig


def _weights(rec: Recorder) -> go.Figure:
    """Per-layer distribution over epochs: a heatmap of the 64-bin histograms on a common axis."""
    import plotly.graph_objects as go

    layers = _param_layers(rec)
    n = max(len(layers), 1)
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=n,
        cols=1,
        shared_xaxes=True,
        subplot_titles=layers or [""],
        vertical_spacing=min(0.08, 0.3 / n),
    )
    snaps = rec.snapshots
    xs = [s.epoch for s in snaps]
    xt = ["init" if e < 0 else str(e) for e in xs]
    for row, name in enumerate(layers, start=1):
        counts, ranges = rec.history.histograms(name)
        lo, hi = float(np.nanmin(ranges[:, 0])), float(np.nanmax(ranges[:, 1]))
        edges = np.linspace(lo, hi, 65)
        centers = (edges[:-1] + edges[1:]) / 2
        # re-bin each epoch's histogram onto the common grid (by bin centers)
        z = np.zeros((len(centers), len(snaps)))
        for j in range(len(snaps)):
            c = counts[j]
            src = np.linspace(ranges[j, 0], ranges[j, 1], 65)
            mids = (src[:-1] + src[1:]) / 2
            idx = np.clip(np.searchsorted(edges, mids) - 1, 0, len(centers) - 1)
            np.add.at(z[:, j], idx, c)
            total = z[:, j].sum()
            if total > 0:
                z[:, j] /= total
        fig.add_trace(
            go.Heatmap(
                x=xt,
                y=centers,
                z=z,
                colorscale="Blues",
                showscale=row == 1,
                colorbar={"title": "share"},
                hovertemplate="epoch %{x}<br>value %{y:.3g}"
                "<br>share %{z:.3f}<extra>" + name + "</extra>",
            ),
            row=row,
            col=1,
        )
    fig.update_layout(
        title="Weight distributions over epochs", **{**_LAYOUT, "height": 180 + 160 * n}
    )
    fig.update_xaxes(title_text="epoch", row=n, col=1, type="category")
    return fig


def _per_layer(rec: Recorder, key: str) -> tuple[list[int], dict[str, np.ndarray]]:
    h = rec.history
    return h.epochs, {name: h.stats(name)[key] for name in _param_layers(rec)}


def _per_layer_log(rec: Recorder, key: str, title: str, ytitle: str) -> go.Figure:
    """One line per parameterised layer of a per-layer statistic, on a log axis."""
    import plotly.graph_objects as go

    epochs, series = _per_layer(rec, key)
    fig = go.Figure()
    for name, values in series.items():
        fig.add_trace(go.Scatter(x=epochs, y=values, mode="lines+markers", name=name))
    fig.update_layout(
        title=title, xaxis_title="epoch", yaxis_title=ytitle, yaxis_type="log", **_LAYOUT
    )
    return fig


def _gradients(rec: Recorder) -> go.Figure:
    return _per_layer_log(
        rec,
        "grad_norm",
        "Gradient L2 norm per layer (log scale: vanishing / exploding stand out)",
        "‖grad‖",
    )


def _updates(rec: Recorder) -> go.Figure:
    fig = _per_layer_log(
        rec, "update_ratio", "Update ratio ‖W_e − W_(e−1)‖ / ‖W_(e−1)‖ per layer", "update ratio"
    )
    fig.add_hline(
        y=1e-3,
        line_dash="dash",
        line_color="grey",
        annotation_text="1e-3: the usual healthy update ratio",
        annotation_position="bottom right",
    )
    return fig


def _health(rec: Recorder) -> go.Figure:
    """Dead-ReLU and saturated fractions per layer over epochs (0..1), one line per layer."""
    import plotly.graph_objects as go

    table = rec.history.health()
    fig = go.Figure()
    for metric, dash in (("dead", "solid"), ("saturated", "dot")):
        values = table[metric]
        for i, layer in enumerate(table.layers):
            if np.all(np.isnan(values[i])):
                continue
            fig.add_trace(
                go.Scatter(
                    x=table.epochs,
                    y=values[i],
                    mode="lines+markers",
                    name=f"{layer}: {metric}",
                    line={"dash": dash},
                )
            )
    fig.add_hline(
        y=DEAD_BADGE,
        line_dash="dash",
        line_color="crimson",
        annotation_text="badge threshold",
        annotation_position="top left",
    )
    fig.update_layout(
        title="Training health: dead ReLU units (solid) and saturated sigmoid/tanh (dotted)",
        xaxis_title="epoch",
        yaxis_title="fraction of units",
        yaxis_range=[-0.02, 1.02],
        **_LAYOUT,
    )
    if not fig.data:
        _centered_note(fig, "no ReLU / sigmoid / tanh layers with recorded activations")
    return fig
