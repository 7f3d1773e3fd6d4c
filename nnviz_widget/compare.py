"""Two runs side by side: one shared epoch slider / play button (browser-side links), the
metrics of both in one chart, and the weight difference A − B for layers matched by name."""

from __future__ import annotations

import contextlib
import html as _html
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
from .snapshot import Snapshot, layer_stats
from .widget import NNViz, html_page, load

_DASH = {0: "solid", 1: "dash"}
#: what ``Comparison.color_by`` takes: the views' color modes, and "difference" (A − B)
COLOR_BY = (*CHOICES["color_by"].values, "difference")


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
        self._camera_links: list[Any] = []
        self._color_by = a.color_by
        self._message = ""
        #: the A − B run and its view, made when color_by is first set to "difference"
        self.diff: NNViz | None = None
        # listen before the views: the shared slider grows (and the A − B run gets the new
        # epoch) before a view's followed epoch reaches the browser (a value past the slider's
        # max would be clamped, and the clamp would pull both views back)
        for v in (a, b):
            v.recorder.subscribe(self._on_event, first=True)

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

    # -- the difference run (A − B) --
    def _difference_problem(self) -> str:
        """Why no A − B run can be made ("" when it can): layers unmatched by name, or a
        matched parameter of another shape or kept at other indices."""
        unmatched = self._unmatched()
        if unmatched:
            return (
                "the architectures differ: the difference view needs layers matched by name; "
                f"unmatched layers: {unmatched}"
            )
        ra, rb = self.views[0].recorder, self.views[1].recorder
        for layer in self.matched_layers:
            sa, sb = ra._shapes.get(layer, {}), rb._shapes.get(layer, {})
            if sa != sb:
                return (
                    f"the architectures differ: layer {layer!r} has parameters {sa} in "
                    f"{self.names[0]!r} and {sb} in {self.names[1]!r}"
                )
            for param in sa:
                ia, ib = ra.sample_indices(layer, param), rb.sample_indices(layer, param)
                if (ia is None) != (ib is None) or (
                    ia is not None and ib is not None and not np.array_equal(ia, ib)
                ):
                    return (
                        f"layer {layer!r} {param} keeps other connections in each run (recorded "
                        "with different max_bytes?): record both runs with the same max_bytes"
                    )
        return ""

    def _diff_snapshot(self, sa: Snapshot, sb: Snapshot) -> Snapshot:
        """A − B of one epoch: kept weights, biases and gradients, their stats, the metrics."""
        snap = Snapshot(
            epoch=sa.epoch,
            label=sa.label,
            metrics={
                f"{k} A − B": v - sb.metrics[k] for k, v in sa.metrics.items() if k in sb.metrics
            },
            thinned=sa.thinned or sb.thinned,
        )
        for layer in self.matched_layers:
            for mine, theirs, out in (
                (sa.weights, sb.weights, snap.weights),
                (sa.grads, sb.grads, snap.grads),
            ):
                pa, pb = mine.get(layer), theirs.get(layer)
                if not pa or not pb:
                    continue
                d = {
                    k: (a.astype(np.float32) - pb[k].astype(np.float32))
                    for k, a in pa.items()
                    if k in pb and pb[k].shape == a.shape
                }
                if d:
                    out[layer] = {k: v.astype(np.float16) for k, v in d.items()}
                    if out is snap.weights:
                        snap.stats[layer], snap.hists[layer] = layer_stats(d, None, None)
        return snap

    def _new_diff_snapshots(self) -> list[Snapshot]:
        """A − B of the epochs both runs have recorded and the A − B run has not."""
        ra, rb = self.views[0].recorder, self.views[1].recorder
        by_epoch = {s.epoch: s for s in rb.snapshots}
        done = self.diff.recorder.snapshots[-1].epoch if self.diff is not None else None
        return [
            self._diff_snapshot(s, by_epoch[s.epoch])
            for s in ra.snapshots
            if s.epoch in by_epoch and (done is None or s.epoch > done)
        ]

    def _make_diff(self) -> NNViz:
        a = self.views[0]
        ra = a.recorder
        samples = {k: v for k, v in ra.sampled.items() if k[0] in self.matched_layers}
        rec = Recorder.from_snapshots(
            ra.graph,
            self._new_diff_snapshots(),
            samples,
            {"max_bytes": ra.max_bytes, "probe_info": {"n": 0, "labels": None}},
        )
        view = NNViz(rec, color_by="weight", mode=a.mode, height=a.height)
        return view

    def _on_event(self, event: str, snaps: list[Snapshot]) -> None:
        """Either run's recorder: its batch grows the shared slider and the A − B run."""
        if event == "remove" and self.diff is not None:
            for s in snaps:  # an epoch recorded again: its A − B is made again with it
                self.diff.recorder.drop(s.epoch)
        if event != "batch":
            return
        if self.diff is not None:
            self.diff.recorder.extend(self._new_diff_snapshots())
        if self._box is not None:
            self._grow()

    def _grow(self) -> None:
        ranges = [v._epoch_range() for v in self.views]
        lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
        for w in (self.slider, self.play):
            with w.hold_sync():  # one message per control, and none when nothing changed
                w.max = max(hi, w.max)
                w.min = lo

    @property
    def color_by(self) -> str:
        """ "weight" | "delta" | "gradient" | "activation" (both views), or "difference": one
        view of run A minus run B (same architecture; ValueError naming the unmatched layers
        otherwise, and the message shows in the box)."""
        return self._color_by

    @color_by.setter
    def color_by(self, value: str) -> None:
        if value not in COLOR_BY:
            raise ValueError(f"color_by must be one of {list(COLOR_BY)}, got {value!r}")
        if value == "difference":
            problem = self._difference_problem()
            if problem:
                self._show(self._color_by, problem)
                raise ValueError(problem)
            if self.diff is None:
                self.diff = self._make_diff()
                if self._box is not None:
                    self._link_diff()
        else:
            for v in self.views:
                v.color_by = value
        self._color_by = value
        self._show(value, "")

    def _show(self, color_by: str, message: str) -> None:
        """Show the pair or the A − B view (and the message) in the box, when there is one."""
        self._message = message
        if self._box is None:
            return
        diff = color_by == "difference" and self.diff is not None
        self._views_box.children = (self._diff_box,) if diff else tuple(self._pair)
        self._head.children = (self._diff_label,) if diff else tuple(self._labels)
        self._note.value = message
        self._note.layout.display = "" if message else "none"
        if self.color.value != color_by:
            self.color.value = color_by

    def _link_diff(self) -> None:
        d = self.diff
        assert d is not None
        d.height = self.views[0].height
        self.links.append(widgets.jslink((self.slider, "value"), (d, "epoch")))
        self.links.append(widgets.jslink((self.mode, "index"), (d, "_mode_index")))
        self._diff_box.children = (d,)

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
            layout=widgets.Layout(width="auto", flex="0 0 auto"),  # never squeezed into a column
        )
        self.link = widgets.Checkbox(value=False, description="link views")
        self.links = []
        for v in (a, b):
            self.links.append(widgets.jslink((self.slider, "value"), (v, "epoch")))
            self.links.append(widgets.jslink((self.play, "value"), (v, "epoch")))
            self.links.append(widgets.jslink((self.mode, "index"), (v, "_mode_index")))
        self.link.observe(self._on_link, names="value")
        self.color = widgets.Dropdown(
            options=[
                *zip(CHOICES["color_by"].labels, CHOICES["color_by"].values, strict=True),
                ("color: A − B", "difference"),
            ],
            value=self._color_by,
            layout=widgets.Layout(width="170px"),
        )
        self.color.observe(self._on_color, names="value")
        self._labels = [
            widgets.Label(self.names[0], layout=widgets.Layout(width="50%")),
            widgets.Label(self.names[1], layout=widgets.Layout(width="50%")),
        ]
        self._diff_label = widgets.Label(f"{self.names[0]} − {self.names[1]}")
        self._head = widgets.HBox(list(self._labels))
        # VBoxes: a column box stretches the view to its width (a Box shrinks it to its content)
        self._pair = [widgets.VBox([v], layout=widgets.Layout(width="50%")) for v in (a, b)]
        self._diff_box = widgets.VBox([], layout=widgets.Layout(width="100%"))
        self._views_box = widgets.HBox(list(self._pair), layout=widgets.Layout(width="100%"))
        self._note = widgets.Label("")
        self._note.add_class("nnviz-compare-note")
        bar = widgets.HBox(
            [self.play, self.slider, self.mode, self.color, self.link],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        self._box = widgets.VBox(
            [self._head, self._views_box, self._note, bar], layout=widgets.Layout(width="100%")
        )
        # the box's controls drive both views: the views must not draw their own
        self._box.add_class("nnviz-controls")
        if self.diff is not None:
            self._link_diff()
        self._show(self._color_by, self._message)
        return self._box

    def _on_color(self, change: dict[str, Any]) -> None:
        if change["new"] == self._color_by:
            return  # the dropdown put back after a refused "difference" (the message stays)
        # a mismatch: the message shows in the box, and the dropdown goes back (_show)
        with contextlib.suppress(ValueError):
            self.color_by = change["new"]

    def _on_link(self, change: dict[str, Any]) -> None:
        for lk in self._py_links:
            lk.unlink()
        for lk in self._camera_links:
            lk.unlink()
        self._py_links, self._camera_links = [], []
        if change["new"]:
            a, b = self.views
            # the camera (3D orbit / zoom, 2D pan / zoom) in the browser: no kernel round trip
            self._camera_links = [widgets.jslink((a, "_camera"), (b, "_camera"))]
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
        """One offline page with both runs (each view's exported page, side by side; the A − B
        view under them once ``color_by`` was "difference"), one epoch slider for all, and a
        "link views" box that links the cameras (plain script, no kernel, no network). Its
        title and heading are ``title``, or "A vs B"."""
        frames = []
        runs = list(zip(self.views, self.names, strict=True))
        if self.diff is not None:
            runs.append((self.diff, f"{self.names[0]} − {self.names[1]}"))
        for i, (v, name) in enumerate(runs):
            page = html_page(v, title=name)
            # a half-width page stacks its details under the view: it is the taller one
            width, height = ("100%", 760) if i == 2 else ("calc(50% - 6px)", 980)
            frames.append(
                f'<div style="flex:0 0 {width};min-width:0">'
                f'<iframe class="nnviz-compare-frame" title="{_html.escape(name)}" '
                f'style="width:100%;height:{height}px;border:0" '
                f'srcdoc="{_html.escape(page)}"></iframe></div>'
            )
        ranges = [v._epoch_range() for v in self.views]
        lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
        title = _html.escape(title or f"{self.names[0]} vs {self.names[1]}")
        bar = (
            '<div class="nnviz-compare-bar" style="margin:8px 0">'
            f'<label>Epoch <input type="range" id="nnviz-compare-epoch" min="{lo}" max="{hi}" '
            f'value="{hi}" step="1"></label> <span id="nnviz-compare-label">{hi}</span> '
            '<label><input type="checkbox" id="nnviz-compare-link"> link views</label></div>'
        )
        doc = (
            f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f'</head><body style="font:14px system-ui"><h1>{title}</h1>{bar}'
            f'<div style="display:flex;flex-wrap:wrap;gap:12px">{"".join(frames)}</div>'
            f"<script>{_PAGE_SCRIPT}</script></body></html>"
        )
        data = doc.encode("utf-8")
        return atomic_write(pathlib.Path(path), lambda f: f.write(data), overwrite)


# The comparison page's script: the frames are srcdoc iframes (the parent's origin, also from
# file://), each with its in-page model at window.nnvizPage.model (js/src/standalone.ts).
_PAGE_SCRIPT = """(() => {
  const frames = [...document.querySelectorAll('iframe.nnviz-compare-frame')];
  const slider = document.getElementById('nnviz-compare-epoch');
  const label = document.getElementById('nnviz-compare-label');
  const link = document.getElementById('nnviz-compare-link');
  const models = () => frames.map((f) => {
    const w = f.contentWindow;
    return w && w.nnvizPage ? w.nnvizPage.model : null;
  }).filter(Boolean);
  slider.addEventListener('input', () => {
    const epoch = Number(slider.value);
    label.textContent = epoch < 0 ? 'init' : String(epoch);
    for (const m of models()) m.set('epoch', epoch);
  });
  const same = (a, b) => JSON.stringify(a || {}) === JSON.stringify(b || {});
  const hooked = new Set();
  const hook = () => {
    for (const m of models()) {
      if (hooked.has(m)) continue;
      hooked.add(m);
      m.on('change:_camera', () => {
        if (!link.checked) return;
        const c = m.get('_camera');
        for (const o of models()) if (o !== m && !same(o.get('_camera'), c)) o.set('_camera', c);
      });
    }
    return hooked.size === frames.length;
  };
  const timer = setInterval(() => { if (hook()) clearInterval(timer); }, 200);
})();"""
