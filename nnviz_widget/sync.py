"""Getting a recording to the browser: the shared JS bundle (``BundleModel``), one child
widget per batch of snapshots (``SnapshotModel``, kept by ``Children``), the answers to a view
whose front-end can't resolve those child models (``answer``), and the IPython hook that sends
what is left when a notebook cell ends."""

from __future__ import annotations

import hashlib
import json
import pathlib
import weakref
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import ipywidgets as widgets
import traitlets as t

from .recorder import Recorder
from .snapshot import INIT_EPOCH, Snapshot
from .wire import encode_snapshot, join_snapshots, split_snapshots

_HERE = pathlib.Path(__file__).parent
_BUNDLE = _HERE / "static" / "widget.js"
#: every NNViz's ``_esm``: a small loader importing the bundle held by the BundleModel
LOADER = (_HERE / "loader.js").read_text(encoding="utf-8")

_MISSING = (
    "nnviz-widget: the JS bundle is missing; run `cd js && npm install && npm run build` "
    "(or reinstall the package)."
)


class _DataModel(widgets.Widget):
    """A plain ``@jupyter-widgets/base`` model with no view: a holder of synced data that every
    front-end's widget manager knows (no extension to install)."""

    _model_name = t.Unicode("WidgetModel").tag(sync=True)
    _model_module = t.Unicode("@jupyter-widgets/base").tag(sync=True)
    _model_module_version = t.Unicode(widgets.__jupyter_widgets_base_version__).tag(sync=True)
    _view_name = t.Unicode(None, allow_none=True).tag(sync=True)
    _view_module = t.Unicode(None, allow_none=True).tag(sync=True)
    _view_module_version = t.Unicode("").tag(sync=True)


class BundleModel(_DataModel):
    """The widget's JS bundle, held once per kernel and shared by every NNViz (see loader.js)."""

    code = t.Unicode("").tag(sync=True)
    digest = t.Unicode("").tag(sync=True)

    def __repr__(self) -> str:
        return f"BundleModel({len(self.code):,} chars)"


_SHARED: dict[str, BundleModel] = {}
_CODE_CACHE: dict[str, tuple[tuple[int, int] | None, str, str]] = {}


def _bundle_code() -> tuple[str, str]:
    """(bundle text, digest), read again only when the file changed (it is ~700 kB)."""
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


class SnapshotModel(_DataModel):
    """Recorded epochs in the browser: a JSON header and one binary buffer (one snapshot, or a
    batch as a chunk: ``wire.join_snapshots``).

    Each batch is its own widget model so that recording epoch N sends epoch N's bytes only,
    while the whole history stays in widget state (saved notebooks, HTML export).
    """

    # the header travels as JSON text: serializing a string is one C call, while a Dict trait
    # is walked and validated in Python, inside the user's training loop
    header = t.Unicode("{}").tag(sync=True)
    data = t.Bytes(b"").tag(sync=True)
    #: the traits other than header/data, the same for every instance (computed once)
    _fixed_state: ClassVar[dict[str, Any] | None] = None

    def get_state(self, key: Any = None, drop_defaults: bool = False) -> dict[str, Any]:
        """The full state without traitlets' per-key lookups (a new SnapshotModel is made for
        every batch, inside the training loop); other requests take ipywidgets' path."""
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


class Children:
    """The browser's copy of a recorder's snapshots: ``models``, one SnapshotModel per batch,
    in recording order. A thinned or removed snapshot re-encodes only the child holding it."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.models: list[SnapshotModel] = []
        self._holder: dict[int, SnapshotModel] = {}  # id(Snapshot) -> the child holding it
        self._members: dict[int, list[Snapshot]] = {}  # id(child) -> the snapshots it holds
        self._dropped: list[SnapshotModel] = []  # replaced children, closed by close_dropped()

    def add(self, snaps: list[Snapshot]) -> None:
        """One new child holding ``snaps``."""
        self.models.append(self._model_for(snaps))

    def reencode(self, snap: Snapshot) -> bool:
        """Encode the child holding ``snap`` again (it was thinned); False if none holds it."""
        old = self._holder.get(id(snap))
        if old is None:
            return False
        self._swap(old, self._members[id(old)])
        return True

    def remove(self, snap: Snapshot) -> bool:
        """Drop ``snap`` from the child holding it; False if none holds it."""
        old = self._holder.get(id(snap))
        if old is None:
            return False
        self._swap(old, [s for s in self._members[id(old)] if s is not snap])
        return True

    def parts(self) -> list[tuple[dict[str, Any], bytes]]:
        """Every snapshot as the browser has it: (header, bytes) each."""
        return [part for m in self.models for part in split_snapshots(m.meta, m.data)]

    def _swap(self, old: SnapshotModel, snaps: list[Snapshot]) -> None:
        at = self.models.index(old)
        if snaps:
            self.models[at] = self._model_for(snaps)
        else:
            del self.models[at]
        for s in self._members.pop(id(old), []):
            if self._holder.get(id(s)) is old:
                del self._holder[id(s)]
        self._dropped.append(old)

    def close_dropped(self) -> None:
        """Close the replaced children (once the view's list no longer names them)."""
        dropped, self._dropped = self._dropped, []
        for m in dropped:
            m.close()

    def _model_for(self, snaps: list[Snapshot]) -> SnapshotModel:
        sampled = self.recorder.sampled
        header, data = join_snapshots(
            [encode_snapshot(s, sampled, include_indices=s.epoch == INIT_EPOCH) for s in snaps]
        )
        m = SnapshotModel(header=_JSON.encode(header), data=data)
        m.__dict__["_meta"] = (m.header, header)
        for s in snaps:
            self._holder[id(s)] = m
        self._members[id(m)] = list(snaps)
        return m


def answer(
    content: Any, children: Children, send: Callable[[dict[str, Any], list[bytes]], None]
) -> bool:
    """Answer a view whose front-end's widget manager can't resolve child models (loader.js,
    js/src/shell/ask.ts): ``{kind: "nnviz:bundle?", id}`` gets the bundle's bytes,
    ``{kind: "nnviz:snapshots?", id, ids}`` the headers and bytes of those SnapshotModels (one
    buffer each, in the order of ``parts``; ids no longer held are left out). Returns whether
    ``content`` was such a request."""
    if not isinstance(content, dict):
        return False
    kind, rid = content.get("kind"), content.get("id")
    if kind == "nnviz:bundle?":
        bundle = shared_bundle()
        send({"kind": "nnviz:bundle", "id": rid, "digest": bundle.digest}, [bundle.code.encode()])
        return True
    if kind == "nnviz:snapshots?":
        wanted = content.get("ids")
        held = {m.model_id: m for m in children.models}
        found = [held[i] for i in (wanted if isinstance(wanted, list) else []) if i in held]
        parts = [{"id": m.model_id, "header": m.header} for m in found]
        send({"kind": "nnviz:snapshots", "id": rid, "parts": parts}, [m.data for m in found])
        return True
    return False


class _Flushable(Protocol):
    def flush(self) -> None: ...


#: views that may hold unsent epochs; flushed when a notebook cell ends
_LIVE: weakref.WeakSet[Any] = weakref.WeakSet()
_HOOKED: list[Any] = []


def _flush_all(*_args: Any) -> None:
    for view in list(_LIVE):
        try:
            view.flush()
        except Exception:  # a closed widget must not break the user's next cell
            _LIVE.discard(view)


def flush_after_each_cell(view: _Flushable) -> None:
    """Flush ``view`` when each notebook cell ends (one IPython post_run_cell hook per shell)."""
    _LIVE.add(view)
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is None or any(h is ip for h in _HOOKED):
        return
    ip.events.register("post_run_cell", _flush_all)
    _HOOKED.append(ip)
