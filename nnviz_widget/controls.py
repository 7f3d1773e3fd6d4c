"""The view's ipywidgets controls, ``jslink``ed to its traits (they work without a kernel), and
``CHOICES``: the one table of the enum traits, their index mirrors and their controls' labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets


@dataclass(frozen=True)
class Choice:
    """An enum trait of the view: its values, the index trait mirroring it (ipywidgets'
    selection controls sync an index, not a value) and the control's label per value."""

    index: str
    values: tuple[str, ...]
    labels: tuple[str, ...]


#: trait -> its choice. Python validates the traits with ``values``, sends them to the browser
#: once (the ``_choices`` trait), and builds the controls from ``labels``.
CHOICES: dict[str, Choice] = {
    "mode": Choice("_mode_index", ("3d", "2d"), ("3D", "2D")),
    "color_by": Choice(
        "_color_index",
        ("weight", "delta", "gradient", "activation"),
        ("color: weight", "color: Δ weight", "color: gradient", "color: activation"),
    ),
    "delta_ref": Choice("_delta_index", ("previous", "init"), ("Δ vs previous", "Δ vs init")),
}


class Controls:
    """The view with its controls around it (``box``); ``links`` are the browser-side links.

    The view is each link's source: a saved notebook re-opens with the view's saved epoch and
    layer pushed onto the controls, not the controls' build-time values onto the view."""

    def __init__(self, view: Any, layers: list[str], epochs: tuple[int, int], probe_n: int) -> None:
        self.layer = widgets.Dropdown(
            options=[("(no layer selected)", 0)] + [(n, i + 1) for i, n in enumerate(layers)],
            description="Layer",
            layout=widgets.Layout(width="300px"),
        )
        links = [widgets.jslink((view, "_layer_index"), (self.layer, "index"))]
        self.mode = widgets.ToggleButtons(
            options=list(CHOICES["mode"].labels), style={"button_width": "48px"}
        )
        self.color = widgets.Dropdown(
            options=[(label, i) for i, label in enumerate(CHOICES["color_by"].labels)],
            layout=widgets.Layout(width="170px"),
        )
        self.delta = widgets.ToggleButtons(
            options=list(CHOICES["delta_ref"].labels), style={"button_width": "116px"}
        )
        for trait, control in (
            ("mode", self.mode),
            ("color_by", self.color),
            ("delta_ref", self.delta),
        ):
            links.append(widgets.jslink((view, CHOICES[trait].index), (control, "index")))
        lo, hi = epochs
        self.play = widgets.Play(
            min=lo, max=hi, value=view.epoch, interval=500, step=1, description="play"
        )
        self.slider = widgets.IntSlider(
            min=lo,
            max=hi,
            value=view.epoch,
            description="Epoch",
            continuous_update=True,
            layout=widgets.Layout(width="420px"),
        )
        links.append(widgets.jslink((view, "epoch"), (self.play, "value")))
        links.append(widgets.jslink((view, "epoch"), (self.slider, "value")))
        top = widgets.HBox(
            [self.layer, self.mode, self.color, self.delta],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        top_sample = max(probe_n - 1, 0)
        self.sample = widgets.IntSlider(
            min=0,
            max=top_sample,
            value=min(view.sample, top_sample),
            description="Sample",
            layout=widgets.Layout(width="300px", display="" if probe_n > 1 else "none"),
        )
        links.append(widgets.jslink((view, "sample"), (self.sample, "value")))
        bottom = widgets.HBox(
            [self.play, self.slider, self.sample],
            layout=widgets.Layout(align_items="center", flex_flow="row wrap"),
        )
        self.box = widgets.VBox([top, view, bottom], layout=widgets.Layout(width="100%"))
        self.box.add_class("nnviz-controls")
        self.links = links  # kept so they are not garbage

    def reset(self, lo: int, hi: int) -> None:
        """Set the epoch controls' range to [lo, hi] (another run shown in the same view)."""
        for w in (self.slider, self.play):
            with w.hold_sync():
                w.min = min(lo, w.min)  # min <= max at every step
                w.max = hi
                w.min = lo

    def grow(self, lo: int, hi: int) -> None:
        """Widen the epoch controls' range to [lo, hi] (a value past the max would be clamped)."""
        for w in (self.slider, self.play):
            with w.hold_sync():  # one message per control, and none when nothing changed
                w.max = max(hi, w.max)
                w.min = lo
