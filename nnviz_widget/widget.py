"""NNViz: the anywidget view over a Recorder, plus its ipywidgets controls."""

from __future__ import annotations

import json
import os
import pathlib
import time
import weakref
from typing import Any, ClassVar

import anywidget
import ipywidgets as widgets
import traitlets as t
from ipywidgets import widget_serialization

from .timeline import DEFAULT_MAX_BYTES, INIT_EPOCH, History, Recorder, Snapshot
from .wire import encode_snapshot, join_snapshots, split_snapshots

_STATIC = pathlib.Path(__file__).parent / "static"
_BUNDLE = _STATIC / "widget.js"

MODES = ("3d", "2d")
COLOR_MODES = ("weight", "delta", "gradient", "activation")
DELTA_REFS = ("previous", "init")


_MISSING = (
    "nnviz-widget: the JS bundle is missing; run `cd js && npm install && npm run build` "
    "(or reinstall the package)."
)

# Every NNViz's `_esm` is this small loader; the ~700 kB bundle itself lives once per kernel in
# a shared BundleModel, so a saved notebook stores it once rather than once per widget. All
# widgets import the same module instance (keyed on globalThis), so they share one renderer.
_LOADER = """
const KEY = "__nnvizBundles";
const cache = (globalThis[KEY] = globalThis[KEY] || new Map());
async function load(model) {
  const ref = String(model.get("_bundle") || "");
  const id = ref.startsWith("IPY_MODEL_") ? ref.slice(10) : ref;
  const child = await model.widget_manager.get_model(id);
  const code = child.get("code");
  const key = child.get("digest") || code.length + ":" + code.slice(-64);
  if (!cache.has(key)) {
    const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
    cache.set(key, import(url).then((m) => m.default).finally(() => URL.revokeObjectURL(url)));
  }
  return cache.get(key);
}
export default {
  async initialize(ctx) {
    const w = await load(ctx.model);
    return w.initialize && w.initialize(ctx);
  },
  async render(ctx) {
    try { const w = await load(ctx.model); return await w.render(ctx); }
    catch (e) { ctx.el.textContent = "nnviz-widget could not load its bundle: " + e; }
  },
};
"""


class BundleModel(widgets.Widget):
    """The widget's JS bundle, held once per kernel and shared by every NNViz (see _LOADER)."""

    _model_name = t.Unicode("WidgetModel").tag(sync=True)
    _model_module = t.Unicode("@jupyter-widgets/base").tag(sync=True)
    _model_module_version = t.Unicode(widgets.__jupyter_widgets_base_version__).tag(sync=True)
    _view_name = t.Unicode(None, allow_none=True).tag(sync=True)
    _view_module = t.Unicode(None, allow_none=True).tag(sync=True)
    _view_module_version = t.Unicode("").tag(sync=True)
    code = t.Unicode("").tag(sync=True)
    digest = t.Unicode("").tag(sync=True)

    def __repr__(self) -> str:
        return f"BundleModel({len(self.code):,} chars)"


_SHARED: dict[str, BundleModel] = {}


def _bundle_code() -> tuple[str, str]:
    """(bundle text, digest), read again only when the file changed (it is ~700 kB)."""
    import hashlib

    try:
        st = _BUNDLE.stat()
        key: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
    except OSError:
        key = None
    cached = _CODE_CACHE.get("bundle")
    if cached is not None and cached[0] == key:
        return cached[1], cached[2]
    code = (
        _BUNDLE.read_text(encoding="utf-8")
        if key is not None
        else ("export default { render({ el }) { el.textContent = " + repr(_MISSING) + "; } };")
    )
    digest = hashlib.sha256(code.encode()).hexdigest()[:16]
    _CODE_CACHE["bundle"] = (key, code, digest)
    return code, digest


_CODE_CACHE: dict[str, tuple[tuple[int, int] | None, str, str]] = {}


def shared_bundle() -> BundleModel:
    """The kernel's BundleModel (re-created if it was closed, or if the bundle file changed)."""
    code, digest = _bundle_code()
    current = _SHARED.get("bundle")
    if current is None or current.comm is None or current.digest != digest:
        current = BundleModel(code=code, digest=digest)
        _SHARED["bundle"] = current
    return current


# headers are plain trees built by wire.py: no cycle check needed (a fifth faster)
_JSON = json.JSONEncoder(separators=(",", ":"), check_circular=False)


class SnapshotModel(widgets.Widget):
    """One recorded epoch in the browser: a JSON header and one binary buffer.

    Each snapshot is its own widget model so that recording epoch N sends epoch N's bytes only,
    while the whole history stays in widget state (saved notebooks, HTML export).
    """

    _model_name = t.Unicode("WidgetModel").tag(sync=True)
    _model_module = t.Unicode("@jupyter-widgets/base").tag(sync=True)
    _model_module_version = t.Unicode(widgets.__jupyter_widgets_base_version__).tag(sync=True)
    _view_name = t.Unicode(None, allow_none=True).tag(sync=True)
    _view_module = t.Unicode(None, allow_none=True).tag(sync=True)
    _view_module_version = t.Unicode("").tag(sync=True)
    # the header travels as JSON text: serializing a string is one C call, while a Dict trait
    # is walked and validated in Python, inside the user's training loop at every record()
    header = t.Unicode("{}").tag(sync=True)
    data = t.Bytes(b"").tag(sync=True)
    #: the traits other than header/data, the same for every instance (computed once)
    _fixed_state: ClassVar[dict[str, Any] | None] = None

    def get_state(self, key: Any = None, drop_defaults: bool = False) -> dict[str, Any]:
        """The full state without traitlets' per-key lookups (a new SnapshotModel is made at
        every record(), inside the training loop); other requests take ipywidgets' path."""
        if key is not None or drop_defaults:
            return super().get_state(key=key, drop_defaults=drop_defaults)
        fixed = SnapshotModel._fixed_state
        if fixed is None:
            keys = [k for k in self.keys if k not in ("header", "data")]
            fixed = SnapshotModel._fixed_state = super().get_state(key=keys)
        return {**fixed, "header": self.header, "data": self.data}

    @property
    def meta(self) -> dict[str, Any]:
        """The header as a dict."""
        cached = self.__dict__.get("_meta")
        if cached is None or cached[0] is not self.header:
            cached = (self.header, json.loads(self.header))
            self.__dict__["_meta"] = cached
        return cached[1]

    def __repr__(self) -> str:
        return f"SnapshotModel(epoch={self.meta.get('epoch')}, {len(self.data):,} bytes)"


#: views that may hold unsent epochs; flushed when a notebook cell ends
_LIVE: weakref.WeakSet[NNViz] = weakref.WeakSet()
_HOOKED: list[Any] = []


def _flush_all(*_args: Any) -> None:
    for viz in list(_LIVE):
        try:
            viz.flush()
        except Exception:  # a closed widget must not break the user's next cell
            _LIVE.discard(viz)


def _flush_after_each_cell() -> None:
    """Register (once per IPython shell) a post_run_cell hook flushing every live view."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is None or any(h is ip for h in _HOOKED):
        return
    ip.events.register("post_run_cell", _flush_all)
    _HOOKED.append(ip)


class NNViz(anywidget.AnyWidget):
    """Shows a model's structure and its recorded training; see the README for the API."""

    _esm = _LOADER
    _bundle = t.Instance(BundleModel).tag(sync=True, **widget_serialization)

    _graph = t.Dict().tag(sync=True)
    _snapshots = t.List(t.Instance(SnapshotModel)).tag(sync=True, **widget_serialization)
    epoch = t.Int(INIT_EPOCH).tag(sync=True)
    layer = t.Unicode("").tag(sync=True)
    mode = t.Enum(MODES, default_value="3d").tag(sync=True)
    color_by = t.Enum(COLOR_MODES, default_value="weight").tag(sync=True)
    delta_ref = t.Enum(DELTA_REFS, default_value="previous").tag(sync=True)
    max_connections = t.Int(20_000).tag(sync=True)
    height = t.Int(520).tag(sync=True)
    _notice = t.Unicode("").tag(sync=True)
    sample = t.Int(0).tag(sync=True)  # which probe sample lights the network (activation mode)
    _probe = t.Dict().tag(sync=True)  # n, labels (ints), input layer, image_shape
    # the enum lists, sent once: the browser's controls and index mirrors read them from here
    _choices = t.Dict(
        {"mode": list(MODES), "color_by": list(COLOR_MODES), "delta_ref": list(DELTA_REFS)}
    ).tag(sync=True)
    # ipywidgets selection controls sync an index, not a value; these mirror the traits above
    # and the browser keeps each pair equal (js/src/shell/model.ts), so controls need no kernel.
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
        sync_interval: float = 0.5,
        **kwargs: Any,
    ) -> None:
        unknown = set(kwargs) - {
            "epoch",
            "layer",
            "mode",
            "color_by",
            "delta_ref",
            "max_connections",
            "height",
            "sample",
        }
        if unknown:
            raise TypeError(
                f"NNViz() got unexpected keyword argument(s) {sorted(unknown)}; accepted: inputs, "
                "input_shape, labels, max_bytes, layer, mode, color_by, delta_ref, "
                "max_connections, height, epoch, sample, boundary, image_shape, sync_interval"
            )
        if isinstance(model, Recorder):
            if any(v is not None for v in (inputs, input_shape, labels, boundary, image_shape)):
                raise TypeError(
                    "NNViz(recorder) takes no inputs/input_shape/labels: the recorder has them"
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
            )
        self.recorder = recorder
        if not sync_interval >= 0:
            raise ValueError(f"sync_interval must be >= 0 seconds, got {sync_interval!r}")
        self.sync_interval = float(sync_interval)
        # epochs recorded but not yet sent (see _on_record), and when the last were sent
        self._pending: list[Snapshot] = []
        self._last_sync = -float("inf")
        layer = kwargs.pop("layer", "")
        super().__init__(_bundle=shared_bundle(), **kwargs)
        self._graph = recorder.graph.to_dict()
        self._probe = dict(recorder.probe_info)
        self._models: dict[int, SnapshotModel] = {}  # id(Snapshot) -> the child holding it
        self._members: dict[int, list[Snapshot]] = {}  # id(child) -> the snapshots it holds
        self._snapshots = [self._model_for([s]) for s in recorder.snapshots]
        self.epoch = recorder.snapshots[-1].epoch
        self._update_notice()
        self.observe(self._sync_layer_index, names=["layer", "_layer_index"])
        self.observe(
            self._sync_enum_index,
            names=["mode", "_mode_index", "color_by", "_color_index", "delta_ref", "_delta_index"],
        )
        self.layer = layer
        self._sync_enum_index({"name": "mode"})
        self._sync_enum_index({"name": "color_by"})
        self._sync_enum_index({"name": "delta_ref"})
        self._controls: widgets.Widget | None = None
        recorder.subscribe(self._on_record)
        _LIVE.add(self)
        _flush_after_each_cell()

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
        if not self._pending:
            return
        self.recorder.finish()  # record()'s deferred work, for the whole batch at once
        pending, self._pending = self._pending, []
        model = self._model_for(pending)  # one child for the batch
        self._last_sync = time.monotonic()
        # the slider's range grows first (a value past its max would be clamped), then the
        # new snapshots, then the followed epoch (held back while they were pending)
        self._update_controls_range()
        self._snapshots = [*self._snapshots, model]
        self.send_state("epoch")

    def _snapshot_parts(self) -> list[tuple[dict[str, Any], bytes]]:
        """Every recorded epoch as the browser has it: (header, bytes) per snapshot."""
        self.flush()
        return [part for m in self._snapshots for part in split_snapshots(m.meta, m.data)]

    def keras_callback(self) -> Any:
        """A keras Callback recording every epoch end (with all of Keras' logs)."""
        return self.recorder.keras_callback()

    def health(self) -> Any:
        """Training health as a table (layer x epoch): dead / saturated fractions, gradient
        ratio to the previous layer, update ratio. ``.to_pandas()`` for a DataFrame."""
        return self.history.health()

    def figure(self, kind: str = "loss") -> Any:
        """A plotly figure: "loss", "weights", "gradients", "updates", "health"."""
        from .figures import figure

        return figure(self.recorder, kind)

    # -- keep and share (nnviz_widget/store.py) --
    def save(self, path: str | os.PathLike[str], overwrite: bool = False) -> pathlib.Path | None:
        """Write the run (graph, snapshots, metrics, settings) to a ``.nnviz`` file."""
        from .store import save

        return save(self.recorder, path, overwrite=overwrite)

    def to_html(
        self, path: str | os.PathLike[str], overwrite: bool = False, title: str | None = None
    ) -> pathlib.Path:
        """One self-contained HTML page of this view; it works offline (file://)."""
        from .store import to_html

        return to_html(self, path, overwrite=overwrite, title=title)

    def to_png(
        self, path: str | os.PathLike[str], overwrite: bool = False, timeout: float = 5.0
    ) -> pathlib.Path:
        """Write what the view on screen shows now as a PNG (asks the browser for its canvas;
        display the widget first). RuntimeError when no view answers within ``timeout``."""
        from .store import to_png

        return to_png(self, path, overwrite=overwrite, timeout=timeout)

    # -- trait plumbing --
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

    _ENUMS: ClassVar[dict[str, tuple[str, tuple[str, ...]]]] = {
        "mode": ("_mode_index", MODES),
        "color_by": ("_color_index", COLOR_MODES),
        "delta_ref": ("_delta_index", DELTA_REFS),
    }

    def _sync_enum_index(self, change: dict[str, Any]) -> None:
        name = change["name"]
        for trait, (index_trait, values) in self._ENUMS.items():
            if name == trait:
                idx = values.index(getattr(self, trait))
                if getattr(self, index_trait) != idx:
                    setattr(self, index_trait, idx)
            elif name == index_trait:
                idx = getattr(self, index_trait)
                if 0 <= idx < len(values) and getattr(self, trait) != values[idx]:
                    setattr(self, trait, values[idx])

    def _model_for(self, snaps: list[Snapshot]) -> SnapshotModel:
        """One child widget holding ``snaps`` (a chunk when several: wire.join_snapshots)."""
        sampled = self.recorder.sampled
        header, data = join_snapshots(
            [encode_snapshot(s, sampled, include_indices=s.epoch == INIT_EPOCH) for s in snaps]
        )
        text = _JSON.encode(header)
        m = SnapshotModel(header=text, data=data)
        m.__dict__["_meta"] = (m.header, header)
        for s in snaps:
            self._models[id(s)] = m
        self._members[id(m)] = list(snaps)
        return m

    def _drop_model(self, m: SnapshotModel) -> None:
        for s in self._members.pop(id(m), []):
            if self._models.get(id(s)) is m:
                del self._models[id(s)]
        m.close()

    def _should_send_property(self, key: str, value: Any) -> bool:
        # a followed epoch travels with its snapshot (flush), not ahead of it
        if key == "epoch" and self._pending:
            return False
        return super()._should_send_property(key, value)

    def _on_record(self, event: str, snap: Snapshot | None) -> None:
        """Recorder events. A new epoch waits in ``_pending`` and is sent with the others at
        most every ``sync_interval`` seconds: each costs a widget model and two messages, which
        in a loop of 20 ms epochs was most of what recording cost. ``epoch`` follows at once
        on this side (the browser gets it with the snapshots)."""
        if snap is None:
            if event == "flush":
                self.flush()
            return
        if event == "thin":
            if any(p is snap for p in self._pending):
                self._update_notice()
                return  # not sent yet: it goes thinned
            old = self._models.get(id(snap))
            if old is None:
                return
            new = self._model_for(self._members[id(old)])
            # replace one child: the browser re-decodes only it
            self._snapshots = [new if m is old else m for m in self._snapshots]
            self._drop_model(old)
            self._update_notice()
            return
        last_model = self._snapshots[-1]
        last = self._pending[-1].epoch if self._pending else self._members[id(last_model)][-1].epoch
        follow = self.epoch in (last, INIT_EPOCH)
        if event == "replace":
            if self._pending:
                self._pending[-1] = snap
            else:
                # the replaced epoch is the last one of the last child
                new_model = self._model_for([*self._members[id(last_model)][:-1], snap])
                with self.hold_sync():
                    self._snapshots = [*self._snapshots[:-1], new_model]
                    if follow:
                        self.epoch = snap.epoch
                self._drop_model(last_model)
                return
        else:
            self._pending.append(snap)
        if follow:  # live: follow the newest epoch unless the user scrubbed back
            self.epoch = snap.epoch
        if time.monotonic() - self._last_sync >= self.sync_interval:
            self.flush()

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
        if self._controls is None:
            return
        lo, hi = self._epoch_range()
        for w in (self._slider, self._play):
            with w.hold_sync():  # one message per control, and none when nothing changed
                w.max = max(hi, w.max)
                w.min = lo

    def controls(self) -> widgets.Widget:
        """The view with its controls (what a cell shows for ``viz``); built once, reused."""
        self.flush()
        if self._controls is not None:
            return self._controls
        names = self.recorder.graph.names
        layer_dd = widgets.Dropdown(
            options=[("(no layer selected)", 0)] + [(n, i + 1) for i, n in enumerate(names)],
            description="Layer",
            layout=widgets.Layout(width="300px"),
        )
        links = [widgets.jslink((self, "_layer_index"), (layer_dd, "index"))]
        mode = widgets.ToggleButtons(options=["3D", "2D"], style={"button_width": "48px"})
        links.append(widgets.jslink((self, "_mode_index"), (mode, "index")))
        color = widgets.Dropdown(
            options=[
                ("color: weight", 0),
                ("color: Δ weight", 1),
                ("color: gradient", 2),
                ("color: activation", 3),
            ],
            layout=widgets.Layout(width="170px"),
        )
        links.append(widgets.jslink((self, "_color_index"), (color, "index")))
        delta = widgets.ToggleButtons(
            options=["Δ vs previous", "Δ vs init"], style={"button_width": "100px"}
        )
        links.append(widgets.jslink((self, "_delta_index"), (delta, "index")))
        lo, hi = self._epoch_range()
        self._play = widgets.Play(
            min=lo, max=hi, value=self.epoch, interval=500, step=1, description="play"
        )
        self._slider = widgets.IntSlider(
            min=lo,
            max=hi,
            value=self.epoch,
            description="Epoch",
            continuous_update=True,
            layout=widgets.Layout(width="420px"),
        )
        links.append(widgets.jslink((self, "epoch"), (self._play, "value")))
        links.append(widgets.jslink((self, "epoch"), (self._slider, "value")))
        top = widgets.HBox(
            [layer_dd, mode, color, delta],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        n = int(self.recorder.probe_info.get("n") or 0)
        self._sample_slider = widgets.IntSlider(
            min=0,
            max=max(n - 1, 0),
            value=min(self.sample, max(n - 1, 0)),
            description="Sample",
            layout=widgets.Layout(width="300px", display="" if n > 1 else "none"),
        )
        links.append(widgets.jslink((self, "sample"), (self._sample_slider, "value")))
        bottom = widgets.HBox(
            [self._play, self._slider, self._sample_slider],
            layout=widgets.Layout(align_items="center", flex_flow="row wrap"),
        )
        box = widgets.VBox([top, self, bottom], layout=widgets.Layout(width="100%"))
        box.add_class("nnviz-controls")
        self._controls = box
        # the browser-side links (kept so they are not garbage). The view is each link's
        # source: a saved notebook re-opens with the view's saved epoch/layer pushed onto the
        # controls, not the controls' build-time values onto the view.
        self._links = links
        self._layer_dd, self._mode_tb, self._color_dd, self._delta_tb = layer_dd, mode, color, delta
        return box

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.controls()._repr_mimebundle_(**kwargs)
