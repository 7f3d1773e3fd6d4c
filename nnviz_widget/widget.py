"""NNViz: the anywidget view over a Recorder (its synced traits and public API)."""

from __future__ import annotations

import contextlib
import os
import pathlib
import time
from collections.abc import Iterator
from typing import Any

import anywidget
import ipywidgets as widgets
import traitlets as t
from ipywidgets import widget_serialization

from . import export, png
from .controls import CHOICES, Controls
from .figures import figure
from .history import History
from .recorder import DEFAULT_MAX_BYTES, Recorder, load_recorder
from .snapshot import INIT_EPOCH, Snapshot
from .sync import (
    LOADER,
    BundleModel,
    Children,
    SnapshotModel,
    answer,
    flush_after_each_cell,
    shared_bundle,
)

_KWARGS = ("epoch", "layer", "mode", "color_by", "delta_ref", "max_connections", "height", "sample")


class NNViz(anywidget.AnyWidget):
    """Shows a model's structure and its recorded training; see the README for the API."""

    _esm = LOADER
    _bundle = t.Instance(BundleModel).tag(sync=True, **widget_serialization)

    _graph = t.Dict().tag(sync=True)
    _snapshots = t.List(t.Instance(SnapshotModel)).tag(sync=True, **widget_serialization)
    epoch = t.Int(INIT_EPOCH).tag(sync=True)
    layer = t.Unicode("").tag(sync=True)
    mode = t.Enum(CHOICES["mode"].values, default_value="3d").tag(sync=True)
    color_by = t.Enum(CHOICES["color_by"].values, default_value="weight").tag(sync=True)
    delta_ref = t.Enum(CHOICES["delta_ref"].values, default_value="previous").tag(sync=True)
    #: the values of each enum trait above, sent once: the browser's lists come from here
    _choices = t.Dict({name: list(c.values) for name, c in CHOICES.items()}).tag(sync=True)
    # the controls' words per value, for the controls the browser draws itself (exported page)
    _choice_labels = t.Dict(
        {name: dict(zip(c.values, c.labels, strict=True)) for name, c in CHOICES.items()}
    ).tag(sync=True)
    max_connections = t.Int(20_000).tag(sync=True)
    height = t.Int(520).tag(sync=True)
    _notice = t.Unicode("").tag(sync=True)
    sample = t.Int(0).tag(sync=True)  # which probe sample lights the network (activation mode)
    _probe = t.Dict().tag(sync=True)  # n, labels (ints), input layer, image_shape
    # ipywidgets selection controls sync an index, not a value; these mirror the traits above
    # (CHOICES names each pair) and the browser keeps each pair equal (js/src/shell/model.ts),
    # so controls need no kernel.
    _layer_index = t.Int(0).tag(sync=True)
    _mode_index = t.Int(0).tag(sync=True)
    _color_index = t.Int(0).tag(sync=True)
    _delta_index = t.Int(0).tag(sync=True)

    def __init__(
        self,
        model: Any,
        inputs: Any = None,
        *,
        input_shape: Any = None,
        labels: Any = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        boundary: bool | None = None,
        image_shape: tuple[int, ...] | None = None,
        tokenizer: Any = None,
        sync_interval: float = 0.5,
        **kwargs: Any,
    ) -> None:
        unknown = set(kwargs) - set(_KWARGS)
        if unknown:
            raise TypeError(
                f"NNViz() got unexpected keyword argument(s) {sorted(unknown)}; accepted: inputs, "
                "input_shape, labels, max_bytes, layer, mode, color_by, delta_ref, "
                "max_connections, height, epoch, sample, boundary, image_shape, tokenizer, "
                "sync_interval"
            )
        if isinstance(model, Recorder):
            given = (inputs, input_shape, labels, boundary, image_shape, tokenizer)
            if any(v is not None for v in given):
                raise TypeError(
                    "NNViz(recorder) takes no inputs/input_shape/labels/tokenizer: the recorder "
                    "has them"
                )
            recorder = model
        else:
            recorder = Recorder(
                model,
                inputs,
                input_shape=input_shape,
                labels=labels,
                max_bytes=max_bytes,
                boundary=boundary,
                image_shape=image_shape,
                tokenizer=tokenizer,
            )
        self.recorder = recorder
        if not sync_interval >= 0:
            raise ValueError(f"sync_interval must be >= 0 seconds, got {sync_interval!r}")
        self.sync_interval = float(sync_interval)
        self._last_sync = -float("inf")  # when the last batch was sent
        recorder.flush()  # what the recorder holds goes in the first state
        layer = kwargs.pop("layer", "")
        super().__init__(_bundle=shared_bundle(), **kwargs)
        self._graph = recorder.graph.to_dict()
        self._probe = dict(recorder.probe_info)
        self._children = Children(recorder)
        for s in recorder.snapshots:
            self._children.add([s])
        self._snapshots = list(self._children.models)
        self._newest = recorder.snapshots[-1].epoch  # the last epoch recorded, pending or not
        self.epoch = self._newest
        self._update_notice()
        self.observe(self._sync_layer_index, names=["layer", "_layer_index"])
        self.observe(
            self._sync_enum_index, names=[n for c in CHOICES for n in (c, CHOICES[c].index)]
        )
        self.layer = layer
        for name in CHOICES:
            self._sync_enum_index({"name": name})
        self._controls: Controls | None = None
        recorder.subscribe(self._on_event)
        self.on_msg(self._on_custom)
        flush_after_each_cell(self)

    def __repr__(self) -> str:
        g = self.recorder.graph
        return (
            f"NNViz({g.framework} {g.model_name!r}: {len(g.layers)} layers, "
            f"{g.total_params:,} params, {len(self.history.epochs)} epochs recorded)"
        )

    # -- public API --
    @property
    def graph(self) -> Any:
        return self.recorder.graph

    @property
    def history(self) -> History:
        return self.recorder.history

    def record(self, epoch: int, **metrics: Any) -> None:
        """Record the model now as ``epoch`` with metrics (floats); the view updates live.

        In a fast loop the browser gets new epochs at most every ``sync_interval`` seconds
        (several at once); the rest are sent when the cell ends, or by ``flush()``."""
        self.recorder.record(epoch, **metrics)

    def flush(self) -> None:
        """Send the recorded epochs the browser doesn't have yet (record() batches them)."""
        self.recorder.flush()  # its "batch" event sends them (_on_event)

    def keras_callback(self) -> Any:
        """A keras Callback recording every epoch end (with all of Keras' logs)."""
        return self.recorder.keras_callback()

    def health(self) -> Any:
        """Training health as a table (layer x epoch): dead / saturated fractions, gradient
        ratio to the previous layer, update ratio. ``.to_pandas()`` for a DataFrame."""
        return self.history.health()

    def figure(self, kind: str = "loss") -> Any:
        """A plotly figure: "loss", "weights", "gradients", "updates", "health"."""
        return figure(self.recorder, kind)

    # -- keep and share --
    def save(self, path: str | os.PathLike[str], overwrite: bool = False) -> pathlib.Path | None:
        """Write the run (graph, snapshots, metrics, settings) to a ``.nnviz`` file."""
        return self.recorder.save(path, overwrite=overwrite)

    def to_html(
        self, path: str | os.PathLike[str], overwrite: bool = False, title: str | None = None
    ) -> pathlib.Path:
        """One self-contained HTML page of this view; it works offline (file://)."""
        return export.write_html(self._page_state(), self.graph, path, overwrite, title)

    def to_png(
        self, path: str | os.PathLike[str], overwrite: bool = False, timeout: float = 5.0
    ) -> pathlib.Path:
        """Write what the view on screen shows now as a PNG (asks the browser for its canvas;
        display the widget first). RuntimeError when no view answers within ``timeout``."""
        return png.to_png(self, path, overwrite=overwrite, timeout=timeout)

    def _snapshot_parts(self) -> list[tuple[dict[str, Any], bytes]]:
        """Every recorded epoch as the browser has it: (header, bytes) per snapshot."""
        self.flush()
        return self._children.parts()

    def _page_state(self) -> dict[str, Any]:
        """The exported page's state: this view's traits and every epoch."""
        return export.widget_state(self, self._snapshot_parts())

    # -- trait plumbing --
    @t.validate("epoch")
    def _valid_epoch(self, proposal: dict[str, Any]) -> int:
        """Epochs in the recorded range; between two recorded epochs the view shows the
        earlier one, as the slider does (its clamp at the ends is the browser's own)."""
        epoch = int(proposal["value"])
        if not hasattr(self, "_children"):  # the trait's default, before any epoch is known
            return epoch
        rec = self.recorder
        newest = rec.pending[-1].epoch if rec.pending else rec.snapshots[-1].epoch
        if INIT_EPOCH <= epoch <= newest:
            return epoch
        if newest == INIT_EPOCH:
            where = f"only {INIT_EPOCH} (init) is recorded yet"
        else:
            where = f"the recorded range is {INIT_EPOCH} (init) to {newest}"
        raise t.TraitError(f"epoch {epoch} is not in this run: {where}")

    @t.validate("layer")
    def _valid_layer(self, proposal: dict[str, Any]) -> str:
        name = proposal["value"]
        if name and name not in self.recorder.graph.names:
            raise t.TraitError(f"no layer named {name!r}; layers are {self.recorder.graph.names}")
        return str(name)

    def _sync_layer_index(self, change: dict[str, Any]) -> None:
        names = self.recorder.graph.names
        if change["name"] == "layer":
            idx = names.index(self.layer) + 1 if self.layer else 0
            if self._layer_index != idx:
                self._layer_index = idx
        else:
            idx = self._layer_index
            name = names[idx - 1] if 0 < idx <= len(names) else ""
            if self.layer != name:
                self.layer = name

    def _sync_enum_index(self, change: dict[str, Any]) -> None:
        name = change["name"]
        for trait, choice in CHOICES.items():
            values = choice.values
            if name == trait:
                idx = values.index(getattr(self, trait))
                if getattr(self, choice.index) != idx:
                    setattr(self, choice.index, idx)
            elif name == choice.index:
                idx = getattr(self, choice.index)
                if 0 <= idx < len(values) and getattr(self, trait) != values[idx]:
                    setattr(self, trait, values[idx])

    def _should_send_property(self, key: str, value: Any) -> bool:
        # a followed epoch travels with its snapshot (the batch), not ahead of it
        if key == "epoch" and self.recorder.pending:
            return False
        return super()._should_send_property(key, value)

    def _set_children(self) -> None:
        self._snapshots = list(self._children.models)
        self._children.close_dropped()

    def _on_custom(self, _widget: Any, content: Any, _buffers: Any) -> None:
        # a front-end with no child models asks for the bundle and the snapshots (sync.answer)
        answer(content, self._children, lambda msg, bufs: self.send(msg, bufs))

    def _on_event(self, event: str, snaps: list[Snapshot]) -> None:
        """Recorder events. A new epoch waits in the recorder's ``pending`` and is sent with
        the others (one "batch") at most every ``sync_interval`` seconds: each batch costs a
        widget model and two messages, which in a loop of 20 ms epochs was most of what
        recording cost. ``epoch`` follows at once on this side (the browser gets it with the
        batch)."""
        if event == "record":
            newest = self.recorder.pending[-1].epoch
            if self.epoch in (self._newest, INIT_EPOCH):  # live: follow unless scrubbed back
                self.epoch = newest
            self._newest = newest
            if time.monotonic() - self._last_sync >= self.sync_interval:
                self.flush()
        elif event == "batch":
            self._last_sync = time.monotonic()
            self._children.add(snaps)
            # the slider's range grows first (a value past its max would be clamped), then the
            # new snapshots, then the followed epoch (held back while they were pending)
            self._update_controls_range()
            self._set_children()
            self._update_notice()
            self.send_state("epoch")
        elif event in ("thin", "remove"):
            change = self._children.reencode if event == "thin" else self._children.remove
            if any([change(s) for s in snaps]):
                self._set_children()  # one child replaced: the browser re-decodes only it
            self._update_notice()

    def _update_notice(self) -> None:
        notes = list(self.recorder.notes)
        thinned = self.recorder.thinned_epochs
        if thinned:
            mb = self.recorder.max_bytes / 2**20
            notes.append(
                f"{len(thinned)} older epochs thinned to stats only to stay within {mb:.0f} MB"
            )
        self._notice = " · ".join(notes)

    # -- display: the view with its controls --
    def _epoch_range(self) -> tuple[int, int]:
        epochs = [s.epoch for s in self.recorder.snapshots]
        return min(epochs), max(epochs)

    def _update_controls_range(self) -> None:
        if self._controls is not None:
            self._controls.grow(*self._epoch_range())

    def controls(self) -> widgets.Widget:
        """The view with its controls (what a cell shows for ``viz``); built once, reused."""
        self.flush()
        if self._controls is None:
            n = int(self.recorder.probe_info.get("n") or 0)
            self._controls = Controls(self, self.recorder.graph.names, self._epoch_range(), n)
        return self._controls.box

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.controls()._repr_mimebundle_(**kwargs)


def load(path: str | os.PathLike[str]) -> NNViz:
    """The widget over a saved run: the same view, scrubbable; no model or framework needed."""
    return NNViz(load_recorder(path))


def html_page(viz_or_recorder: NNViz | Recorder, title: str | None = None) -> str:
    """The text of the standalone page of a view, or of a recorder in a default view."""
    with _view_of(viz_or_recorder) as viz:
        return export.html_page(viz._page_state(), viz.graph, title=title)


def to_html(
    viz_or_recorder: NNViz | Recorder,
    path: str | os.PathLike[str],
    overwrite: bool = False,
    title: str | None = None,
) -> pathlib.Path:
    """One self-contained HTML file: the view with its epoch slider, play button, layer
    selector, 2D/3D and color controls, and every recorded epoch (base64 in the page). It needs
    no server, no CDN and no network: it works from ``file://``, offline."""
    with _view_of(viz_or_recorder) as viz:
        return export.write_html(viz._page_state(), viz.graph, path, overwrite, title)


@contextlib.contextmanager
def _view_of(obj: NNViz | Recorder) -> Iterator[NNViz]:
    """The view itself, or a temporary default view over a recorder (closed after)."""
    if isinstance(obj, NNViz):
        yield obj
        return
    if not isinstance(obj, Recorder):
        raise TypeError(f"expected an NNViz or a Recorder, got {type(obj).__name__}")
    temp = NNViz(obj)
    try:
        yield temp
    finally:
        obj.unsubscribe(temp._on_event)
        for m in temp._snapshots:
            m.close()
        temp.close()
