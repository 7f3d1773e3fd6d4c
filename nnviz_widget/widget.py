"""NNViz: the anywidget view over a Recorder (its synced traits and public API)."""

from __future__ import annotations

import contextlib
import inspect
import os
import pathlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import anywidget
import ipywidgets as widgets
import traitlets as t
from ipywidgets import widget_serialization

from . import export, hierarchy, png
from .controls import CHOICES, Controls
from .figures import figure
from .history import History
from .recorder import Recorder, load_recorder
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

_KWARGS = (
    *("epoch", "layer", "mode", "color_by", "delta_ref", "max_connections", "height", "sample"),
    *("expanded", "depth"),
)
#: what NNViz passes on to Recorder: its keyword-only parameters, read from its signature
_RECORDER_KWARGS = tuple(
    p.name
    for p in inspect.signature(Recorder.__init__).parameters.values()
    if p.kind is inspect.Parameter.KEYWORD_ONLY
)


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
    # the user's camera: {"3d": {position, target}, "2d": {zoom, tx, ty}}, written by the view
    # (throttled) when the user moves it and applied when it changes from outside: nnv.compare
    # jslinks two views' cameras, so they move together without a kernel
    _camera = t.Dict().tag(sync=True)
    #: module paths shown open (graph.modules; containers are always open and never listed);
    #: starts at hierarchy.default_expanded: big models open at their top-level blocks
    expanded = t.List(t.Unicode()).tag(sync=True)
    #: -1: no depth cut (the default opening, or blocks opened by hand); n >= 0 opens every
    #: module with fewer than n blocks above it (``expanded`` follows)
    depth = t.Int(-1).tag(sync=True)
    # ipywidgets selection controls sync an index, not a value; these mirror the traits above
    # (CHOICES names each pair) and the browser keeps each pair equal (js/src/shell/model.ts),
    # so controls need no kernel.
    _layer_index = t.Int(0).tag(sync=True)
    _mode_index = t.Int(0).tag(sync=True)
    _color_index = t.Int(0).tag(sync=True)
    _delta_index = t.Int(0).tag(sync=True)
    #: what keeps this view equal to a growing run file (``nnv.follow``), else None
    follower: Any = None

    def __init__(
        self, model: Any, inputs: Any = None, *, sync_interval: float = 0.5, **kwargs: Any
    ) -> None:
        """``model`` (or a ``Recorder``) and ``inputs`` as ``Recorder`` takes them; the other
        keyword arguments are ``Recorder``'s (``input_shape``, ``labels``, ``max_bytes`` ...)
        and the view's starting traits (``layer``, ``mode``, ``color_by`` ...)."""
        rec_kw = {k: kwargs.pop(k) for k in _RECORDER_KWARGS if k in kwargs}
        unknown = set(kwargs) - set(_KWARGS)
        if unknown:
            raise TypeError(
                f"NNViz() got unexpected keyword argument(s) {sorted(unknown)}; accepted: "
                f"inputs, sync_interval, {', '.join(_RECORDER_KWARGS)} (the recorder's), "
                f"{', '.join(_KWARGS)} (the view's)"
            )
        if isinstance(model, Recorder):
            given = [k for k, v in rec_kw.items() if v is not None]
            if inputs is not None or given:
                raise TypeError(
                    f"NNViz(recorder) takes no inputs or {', '.join(given) or 'recorder options'}:"
                    " the recorder has them"
                )
            recorder = model
        else:
            recorder = Recorder(model, inputs, **rec_kw)
        self.recorder = recorder
        if not sync_interval >= 0:
            raise ValueError(f"sync_interval must be >= 0 seconds, got {sync_interval!r}")
        self.sync_interval = float(sync_interval)
        self._last_sync = -float("inf")  # when the last batch was sent
        recorder.flush()  # what the recorder holds goes in the first state
        layer = kwargs.pop("layer", "")
        expanded = kwargs.pop("expanded", None)
        depth = kwargs.pop("depth", -1)
        super().__init__(_bundle=shared_bundle(), **kwargs)
        self._graph = recorder.graph.to_dict()
        self.expanded = hierarchy.default_expanded(recorder.graph) if expanded is None else expanded
        self.observe(self._on_cut, names=["expanded", "depth"])
        self.depth = depth
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
        #: called once when the widget is closed (nnv.follow stops polling)
        self._on_close: list[Callable[[], None]] = []
        #: a line of the notice set from outside the recorder (nnv.follow: the file's state)
        self._live_notice = ""
        recorder.subscribe(self._on_event)
        self.on_msg(self._on_custom)
        flush_after_each_cell(self)

    def __repr__(self) -> str:
        g = self.recorder.graph
        shown = ""
        if g.modules:
            n = len(hierarchy.visible(g, self.expanded))
            blocks = sum(1 for m in g.modules if not m.container)
            shown = f", {n} nodes shown ({len(self.expanded)} of {blocks} modules open)"
        return (
            f"NNViz({g.framework} {g.model_name!r}: {len(g.layers)} layers, "
            f"{g.total_params:,} params, {len(self.history.epochs)} epochs recorded{shown})"
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

    def expand(self, path: str) -> None:
        """Show module ``path`` open (and the modules around it), e.g.
        ``viz.expand("transformer.h.3")``; a container opens the blocks it holds. ValueError
        naming close matches for a path that is no module (``viz.graph.modules`` lists them)."""
        g = self.recorder.graph
        m = hierarchy.check_path(g, path)
        by_path = hierarchy.modules(g)
        add = [] if m.container else [m.path]
        if m.container:
            add = [c.path for c in g.modules if c.parent == m.path and not c.container]
        p = m.parent
        while p is not None:
            add.append(p)
            p = by_path[p].parent
        self.expanded = self._ordered({*self.expanded, *add})

    def collapse(self, path: str) -> None:
        """Show module ``path`` as one block (what is open inside it stays open for the next
        ``expand``); a container closes every block inside it. ValueError as ``expand``."""
        g = self.recorder.graph
        m = hierarchy.check_path(g, path)
        drop = {m.path}
        if m.container:
            for x in g.modules:  # parents come first: one pass finds all inside
                if x.parent in drop:
                    drop.add(x.path)
        self.expanded = self._ordered(set(self.expanded) - drop)

    def _ordered(self, paths: set[str]) -> list[str]:
        """Paths of non-container modules in the graph's order (parents first)."""
        return [m.path for m in self.recorder.graph.modules if m.path in paths and not m.container]

    def flush(self) -> None:
        """Send the recorded epochs the browser doesn't have yet (record() batches them)."""
        self.recorder.flush()  # its "batch" event sends them (_on_event)

    def keras_callback(self) -> Any:
        """A keras Callback recording every epoch end (with all of Keras' logs)."""
        return self.recorder.keras_callback()

    def lightning_callback(self, every_n_steps: int | None = None) -> Any:
        """A ``lightning.Trainer`` callback recording each epoch end (or every ``every_n_steps``
        optimizer steps) with the metrics Lightning logs (``trainer.callback_metrics``)."""
        return self.recorder.lightning_callback(every_n_steps=every_n_steps)

    def hf_callback(self, every_n_steps: int | None = None) -> Any:
        """A ``transformers.Trainer`` callback recording each epoch end (or every
        ``every_n_steps`` optimizer steps) with what the Trainer logs (``loss``, ``eval_loss``,
        ``learning_rate``, ``grad_norm``, ...)."""
        return self.recorder.hf_callback(every_n_steps=every_n_steps)

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
        if epoch > newest and self._property_lock.get("epoch") == epoch:
            # from the browser: a shared slider (nnv.compare) past this run's last epoch; the
            # view shows its last one, and refusing it would pull the slider back for both
            return epoch
        if newest == INIT_EPOCH:
            where = f"only {INIT_EPOCH} (init) is recorded yet"
        else:
            where = f"the recorded range is {INIT_EPOCH} (init) to {newest}"
        raise t.TraitError(f"epoch {epoch} is not in this run: {where}")

    @t.validate("expanded")
    def _valid_expanded(self, proposal: dict[str, Any]) -> list[str]:
        paths = set(proposal["value"])
        g = self.recorder.graph
        known = hierarchy.modules(g)
        for p in sorted(paths - set(known)):
            try:
                hierarchy.check_path(g, p)
            except ValueError as e:
                raise t.TraitError(f"expanded: {e}") from None
        return self._ordered(paths)

    @t.validate("depth")
    def _valid_depth(self, proposal: dict[str, Any]) -> int:
        depth = int(proposal["value"])
        if depth < -1:
            raise t.TraitError(f"depth is -1 (no depth cut) or a depth >= 0, got {depth}")
        return depth

    def _on_cut(self, change: dict[str, Any]) -> None:
        """``depth = n`` opens ``hierarchy.at_depth(n)``; any other ``expanded`` (a click, an
        ``expand``) is no depth cut, so ``depth`` goes back to -1."""
        g = self.recorder.graph
        if change["name"] == "depth":
            if self.depth >= 0:
                self.expanded = hierarchy.at_depth(g, self.depth)
        elif self.depth >= 0 and set(self.expanded) != set(hierarchy.at_depth(g, self.depth)):
            self.depth = -1

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
            newest = snaps[-1].epoch if snaps else self._newest
            if newest > self._newest:  # added without record() (a followed file): follow it
                if self.epoch in (self._newest, INIT_EPOCH):
                    self.epoch = newest
                self._newest = newest
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
        if getattr(self, "_live_notice", ""):
            notes.append(self._live_notice)
        self._notice = " · ".join(notes)

    def _show_recorder(self, recorder: Recorder) -> None:
        """Show another recording of the same graph in this view (``nnv.follow``: the script
        restarted): every snapshot is sent again and the view goes to its newest epoch."""
        recorder.flush()
        self.recorder.unsubscribe(self._on_event)
        old = self._children
        self.recorder = recorder
        self._children = Children(recorder)
        for s in recorder.snapshots:
            self._children.add([s])
        self._newest = recorder.snapshots[-1].epoch
        with self.hold_sync():  # one message: the browser never pairs new snapshots and old epoch
            self._graph = recorder.graph.to_dict()
            self._probe = dict(recorder.probe_info)
            self._snapshots = list(self._children.models)
            self.epoch = self._newest
        if self._controls is not None:
            self._controls.reset(*self._epoch_range())
        for m in old.models:
            m.close()
        recorder.subscribe(self._on_event)
        self._update_notice()

    def close(self) -> None:
        for fn in getattr(self, "_on_close", []):
            fn()
        self._on_close = []
        super().close()

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
