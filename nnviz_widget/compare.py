"""Two runs side by side: one shared epoch slider / play button (browser-side links), the
metrics of both in one chart, and the weight difference A − B for layers matched by name."""

from __future__ import annotations

import os
import pathlib
from typing import Any

import ipywidgets as widgets
import numpy as np
import traitlets

from .controls import CHOICES
from .figures import _per_layer
from .recorder import Recorder
from .runfile import atomic_write
from .widget import NNViz, html_page, load

_DASH = {0: "solid", 1: "dash"}


def _as_view(obj: Any) -> NNViz:
    if isinstance(obj, NNViz):
        return obj
    if isinstance(obj, Recorder):
        return NNViz(obj)
    if isinstance(obj, str | os.PathLike):
        return load(obj)
    raise TypeError(
        f"compare() takes NNViz objects, Recorders or .nnviz paths, got {type(obj).__name__}"
    )


def compare(a: Any, b: Any, names: tuple[str, str] = ("a", "b")) -> Comparison:
    """Compare two runs (NNViz objects, Recorders or ``.nnviz`` paths) side by side."""
    return Comparison(_as_view(a), _as_view(b), names)


class Comparison:
    """Two views with one epoch slider; ``figure``, ``difference``, ``to_html``."""

    def __init__(self, a: NNViz, b: NNViz, names: tuple[str, str]) -> None:
        self.views = (a, b)
        self.names = (str(names[0]), str(names[1]))
        self._box: widgets.VBox | None = None
        self._py_links: list[Any] = []

    @property
    def matched_layers(self) -> list[str]:
        b = set(self.views[1].graph.names)
        return [n for n in self.views[0].graph.names if n in b]

    def _unmatched(self) -> list[str]:
        na, nb = self.views[0].graph.names, self.views[1].graph.names
        return [n for n in na if n not in nb] + [n for n in nb if n not in na]

    def difference(self, layer: str, epoch: int, param: str = "weight") -> np.ndarray:
        """Run A's weights minus run B's at ``epoch`` (kept indices), for a matched layer."""
        unmatched = self._unmatched()
        if unmatched or layer not in self.matched_layers:
            raise ValueError(
                f"the architectures differ: difference needs layers matched by name; unmatched "
                f"layers: {unmatched or [layer]}"
            )
        wa = self.views[0].history.weights(layer, epoch, param)
        wb = self.views[1].history.weights(layer, epoch, param)
        if wa.shape != wb.shape:
            raise ValueError(
                f"the architectures differ: layer {layer!r} {param} is {wa.shape} in "
                f"{self.names[0]!r} and {wb.shape} in {self.names[1]!r}"
            )
        return np.asarray(wa) - np.asarray(wb)

    # -- display --
    def widget(self) -> widgets.VBox:
        """The comparison as ipywidgets (built once)."""
        if self._box is not None:
            return self._box
        a, b = self.views
        for v in (a, b):
            v.flush()
            v.height = min(v.height, 420)
        ranges = [v._epoch_range() for v in (a, b)]
        lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
        value = max(a.epoch, b.epoch)
        self.play = widgets.Play(min=lo, max=hi, value=value, interval=500, description="play")
        self.slider = widgets.IntSlider(min=lo, max=hi, value=value, description="Epoch")
        self.mode = widgets.ToggleButtons(
            options=list(CHOICES["mode"].labels),
            index=a._mode_index,
            style={"button_width": "48px"},  # side by side, as the single view's controls
            layout=widgets.Layout(width="auto"),
        )
        self.link = widgets.Checkbox(value=False, description="link views")
        self.links = []
        for v in (a, b):
            self.links.append(widgets.jslink((self.slider, "value"), (v, "epoch")))
            self.links.append(widgets.jslink((self.play, "value"), (v, "epoch")))
            self.links.append(widgets.jslink((self.mode, "index"), (v, "_mode_index")))
        self.link.observe(self._on_link, names="value")
        head = widgets.HBox(
            [
                widgets.Label(self.names[0], layout=widgets.Layout(width="50%")),
                widgets.Label(self.names[1], layout=widgets.Layout(width="50%")),
            ]
        )
        views = widgets.HBox(
            # a column box: each view stretches to its half (in a row box it took its content's
            # width, so two views of different depth came out of different widths)
            [
                widgets.Box([v], layout=widgets.Layout(width="50%", flex_flow="column"))
                for v in (a, b)
            ],
            layout=widgets.Layout(width="100%"),
        )
        bar = widgets.HBox([self.play, self.slider, self.mode, self.link])
        self._box = widgets.VBox([head, views, bar], layout=widgets.Layout(width="100%"))
        # the box's controls drive both views: the views must not draw their own
        self._box.add_class("nnviz-controls")
        return self._box

    def _on_link(self, change: dict[str, Any]) -> None:
        for lk in self._py_links:
            lk.unlink()
        self._py_links = []
        if change["new"]:
            a, b = self.views
            self._py_links = [traitlets.link((a, "sample"), (b, "sample"))]
            if set(a.graph.names) == set(b.graph.names):
                self._py_links.append(traitlets.link((a, "layer"), (b, "layer")))

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget()._repr_mimebundle_(**kwargs)

    # -- figures / export --
    def figure(self, kind: str = "loss") -> Any:
        """plotly: "loss" (every metric of both runs), "gradients" or "updates" (log y)."""
        import plotly.colors
        import plotly.graph_objects as go

        palette = plotly.colors.qualitative.Plotly
        fig = go.Figure()
        if kind == "loss":
            keys: list[str] = []
            for v in self.views:
                keys += [k for k in v.history.metrics if k not in keys]
            for i, (v, name) in enumerate(zip(self.views, self.names, strict=True)):
                h = v.history
                for k, values in h.metrics.items():
                    fig.add_trace(
                        go.Scatter(
                            x=h.epochs,
                            y=values,
                            mode="lines+markers",
                            name=f"{k} · {name}",
                            line={"color": palette[keys.index(k) % len(palette)], "dash": _DASH[i]},
                        )
                    )
            fig.update_layout(title="Metrics of both runs", xaxis_title="epoch")
            return fig
        stat = {"gradients": "grad_norm", "updates": "update_ratio"}.get(kind)
        if stat is None:
            raise ValueError(f"unknown figure kind {kind!r}: use 'loss', 'gradients' or 'updates'")

        layers: list[str] = []
        for i, (v, name) in enumerate(zip(self.views, self.names, strict=True)):
            epochs, series = _per_layer(v.recorder, stat)
            for layer, values in series.items():
                if layer not in layers:
                    layers.append(layer)
                fig.add_trace(
                    go.Scatter(
                        x=epochs,
                        y=values,
                        mode="lines+markers",
                        name=f"{layer} · {name}",
                        line={
                            "color": palette[layers.index(layer) % len(palette)],
                            "dash": _DASH[i],
                        },
                    )
                )
        fig.update_layout(
            title=f"{kind} per layer, both runs", xaxis_title="epoch", yaxis_type="log"
        )
        return fig

    def to_html(
        self, path: str | os.PathLike[str], overwrite: bool = False, title: str | None = None
    ) -> pathlib.Path:
        """One offline page with both runs (each view's exported page, side by side); its title
        and heading are ``title``, or "A vs B"."""
        import html as _html

        frames = []
        for v, name in zip(self.views, self.names, strict=True):
            page = html_page(v, title=name)
            frames.append(
                f'<div style="flex:1;min-width:0"><h2>{_html.escape(name)}</h2>'
                f'<iframe style="width:100%;height:760px;border:0" srcdoc="{_html.escape(page)}">'
                "</iframe></div>"
            )
        title = _html.escape(title or f"{self.names[0]} vs {self.names[1]}")
        doc = (
            f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f'</head><body style="font:14px system-ui"><h1>{title}</h1>'
            f'<div style="display:flex;gap:12px">{"".join(frames)}</div></body></html>'
        )
        data = doc.encode("utf-8")
        return atomic_write(pathlib.Path(path), lambda f: f.write(data), overwrite)
