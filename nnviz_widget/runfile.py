"""The ``.nnviz`` run file: ``save`` a ``Run`` (graph, snapshots, samples, settings) and
``read`` one back, every field checked.

A ``.nnviz`` file is a zip archive:

* ``manifest.json``: format name and version, the library version, the graph
  (``Graph.to_dict()``), the recorder's settings, the fixed sample indices and, per snapshot,
  its epoch, label, metrics, stats, health, predictions, flags and the list of its arrays
  (member name, dtype, shape). Non-finite numbers are the strings ``"NaN"``, ``"Infinity"``
  and ``"-Infinity"`` as in ``wire.py``.
* one ``.npy`` member per array, written by ``np.save(..., allow_pickle=False)``.

No pickle anywhere: loading parses each ``.npy`` header itself (object dtypes are refused,
never unpickled) and checks its dtype and shape against the manifest and the member's size in
the zip directory before allocating the array; members that would unpack to far more than
they take in the file (zip bombs) are refused from the directory before anything is unpacked.
Whatever is wrong with a file, loading raises ``RunFileError`` saying what; it never returns a
partial run.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import secrets
import struct
import sys
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .graph import KINDS, Graph
from .probe import ActInfo
from .snapshot import HIST_BINS, INIT_EPOCH, Snapshot
from .version import __version__
from .wire import decode_number, encode_number

FORMAT = "nnviz"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: dtypes an array in a run may have (what wire.py can send to the browser)
DTYPES = ("float16", "float32", "int32", "uint32", "uint8")
_MAX_MANIFEST_BYTES = 512 * 2**20
# A manifest is indented JSON (it deflates ~30x); one that deflates far more is padding.
_MAX_MANIFEST_RATIO = 200
_MANIFEST_RATIO_FROM = 16 * 2**20  # small manifests may deflate as well as they like
# Arrays are stored uncompressed; what members may unpack to beyond their stored bytes, in all
# (a zip bomb would otherwise be unpacked in memory).
_MAX_INFLATION = 64 * 2**20
_READ_CHUNK = 2**20
_MAX_NDIM = 8
_NPY_SLACK = 4096  # an .npy member is its data plus a header of at most this many bytes
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # members carry no timestamp: same run, same bytes

#: Snapshot fields the file keeps (a test checks this against the dataclass, so a new field
#: can't be silently dropped by save/load).
SNAPSHOT_FIELDS = frozenset(
    {
        "epoch",
        "label",
        "metrics",
        "weights",
        "grads",
        "stats",
        "hists",
        "thinned",
        "acts",
        "act_info",
        "health",
        "preds",
        "boundary",
        "boundary_meta",
        "fields",
        "top",
        "tokens",
    }
)
_ACT_MODES = ("full", "units", "maps")
# array groups of a snapshot: group -> (needs a layer, needs a param)
_GROUPS = {
    "weights": (True, True),
    "grads": (True, True),
    "hists": (True, False),
    "acts": (True, True),
    "act_index": (True, False),
    "boundary": (False, True),
    "fields": (True, False),
    "top": (False, True),
}


@dataclass
class Run:
    """A recording as a run file holds it (``Recorder.as_run()``, ``read``)."""

    graph: Graph
    snapshots: list[Snapshot]  # init first
    #: (layer, param) -> (fixed flat indices, full shape) of every sampled parameter
    samples: dict[tuple[str, str], tuple[np.ndarray, tuple[int, ...]]]
    #: max_bytes, record_gradients, notes, probe_info, labels (an array or None)
    settings: dict[str, Any]


class RunFileError(ValueError):
    """A ``.nnviz`` file that can't be read: not a zip, truncated, corrupted, from a newer
    version, or with arrays that disagree with its manifest. The message says which."""


# ------------------------------------------------------------------------------------------------
# helpers


def other_rank() -> bool:
    """True in a torch.distributed process group on a rank other than 0 (only rank 0 writes).

    Never imports torch: a process that hasn't imported it isn't training with it."""
    torch = sys.modules.get("torch")
    dist = getattr(torch, "distributed", None) if torch is not None else None
    if dist is None:
        return False
    try:
        return bool(dist.is_available() and dist.is_initialized() and dist.get_rank() != 0)
    except Exception:
        return False


def atomic_write(path: Path, write: Callable[[Any], None], overwrite: bool) -> Path:
    """``write(fileobj)`` into a temporary file next to ``path``, then rename it into place:
    a crash leaves the old file (or nothing), never a half-written one."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory")
    if not overwrite and path.exists():
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    parent = path.parent if str(path.parent) else Path(".")
    tmp = parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
    done = False
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:  # atomic "create only if absent"
                os.link(tmp, path)
                os.unlink(tmp)
            except FileExistsError:
                raise FileExistsError(f"{path} exists; pass overwrite=True to replace it") from None
            except OSError:  # no hard links here: a plain rename
                if path.exists():
                    raise FileExistsError(
                        f"{path} exists; pass overwrite=True to replace it"
                    ) from None
                os.replace(tmp, path)
        done = True
    finally:
        if not done:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    try:  # make the rename durable
        dfd = os.open(parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return path


def _enc(x: float | None) -> float | str | None:
    return encode_number(None if x is None else float(x))


def _json_any(value: Any) -> Any:
    """JSON form of free-form metadata; non-finite floats become {"$float": "NaN"} so that
    strings stay strings on the way back."""
    if isinstance(value, dict):
        return {str(k): _json_any(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_any(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else {"$float": encode_number(f)}
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return _json_any(value.tolist())
    raise TypeError(f"cannot store a {type(value).__name__} in a run file")


def _from_json_any(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$float"} and value["$float"] in ("NaN", "Infinity", "-Infinity"):
            return float(value["$float"])
        return {k: _from_json_any(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json_any(v) for v in value]
    return value


# ------------------------------------------------------------------------------------------------
# save


class _Members:
    def __init__(self) -> None:
        self.arrays: list[tuple[str, np.ndarray]] = []

    def add(self, arr: np.ndarray, **ref: Any) -> dict[str, Any]:
        arr = np.ascontiguousarray(arr)
        if arr.dtype.name not in DTYPES:
            raise TypeError(f"cannot store dtype {arr.dtype} ({ref})")
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        member = f"arrays/{len(self.arrays):06d}.npy"
        self.arrays.append((member, arr))
        return {**ref, "member": member, "dtype": arr.dtype.name, "shape": list(arr.shape)}


def _snapshot_manifest(snap: Snapshot, members: _Members) -> dict[str, Any]:
    arrays: list[dict[str, Any]] = []
    for group in ("weights", "grads", "acts"):
        for layer, params in getattr(snap, group).items():
            for param, arr in params.items():
                arrays.append(members.add(arr, group=group, layer=layer, param=param))
    for layer, hist in snap.hists.items():
        arrays.append(members.add(hist, group="hists", layer=layer))
    for layer, info in snap.act_info.items():
        if info.index is not None:
            arrays.append(members.add(info.index, group="act_index", layer=layer))
    for param, arr in snap.boundary.items():
        arrays.append(members.add(arr, group="boundary", param=param))
    for layer, arr in snap.fields.items():
        arrays.append(members.add(arr, group="fields", layer=layer))
    for param, arr in snap.top.items():
        arrays.append(members.add(arr, group="top", param=param))
    return {
        "epoch": int(snap.epoch),
        "label": str(snap.label),
        "thinned": bool(snap.thinned),
        "metrics": {str(k): _enc(v) for k, v in snap.metrics.items()},
        "stats": {
            layer: {str(k): _enc(v) for k, v in st.items()} for layer, st in snap.stats.items()
        },
        "health": {
            layer: {str(k): _enc(v) for k, v in h.items()} for layer, h in snap.health.items()
        },
        "act_info": {
            layer: {
                "mode": info.mode,
                "shape": [int(v) for v in info.shape],
                "samples": info.samples,
            }
            for layer, info in snap.act_info.items()
        },
        "preds": [int(p) for p in snap.preds],
        "tokens": [[int(i), str(t)] for i, t in snap.tokens.items()],
        "boundary_meta": _json_any(snap.boundary_meta),
        "arrays": arrays,
    }


def manifest_of(run: Run) -> tuple[dict[str, Any], list[tuple[str, np.ndarray]]]:
    """The manifest of a run and its (member name, array) list: what ``save`` writes."""
    members = _Members()
    samples = []
    for (layer, param), (idx, full_shape) in run.samples.items():
        ref = members.add(idx.astype(np.uint32), layer=layer, param=param)
        ref["full_shape"] = [int(v) for v in full_shape]
        samples.append(ref)
    st = run.settings
    labels = st.get("labels")
    labels_ref = None
    if labels is not None:
        lab = np.asarray(labels).reshape(-1)
        if lab.dtype.kind in "biuf":
            dt = np.float32 if lab.dtype.kind == "f" else np.int32
            labels_ref = members.add(lab.astype(dt))
    snapshots = [_snapshot_manifest(s, members) for s in run.snapshots]
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "graph": run.graph.to_dict(),
        "settings": {
            "max_bytes": int(st["max_bytes"]),
            "record_gradients": bool(st.get("record_gradients", True)),
            "notes": [str(n) for n in st.get("notes", [])],
            "probe_info": _json_any(st.get("probe_info") or {}),
            "labels": labels_ref,
        },
        "samples": samples,
        "snapshots": snapshots,
    }
    return manifest, members.arrays


def _write_zip(f: Any, manifest: dict[str, Any], arrays: list[tuple[str, np.ndarray]]) -> None:
    text = json.dumps(manifest, allow_nan=False, ensure_ascii=False, indent=1)
    with zipfile.ZipFile(f, "w", allowZip64=True) as zf:
        info = zipfile.ZipInfo(MANIFEST, date_time=_FIXED_TIME)
        zf.writestr(info, text.encode("utf-8"), compress_type=zipfile.ZIP_DEFLATED)
        for member, arr in arrays:
            buf = io.BytesIO()
            np.save(buf, arr, allow_pickle=False)
            info = zipfile.ZipInfo(member, date_time=_FIXED_TIME)
            # float16 weights barely compress: stored members write and read at disk speed
            zf.writestr(info, buf.getvalue(), compress_type=zipfile.ZIP_STORED)


def save(run: Run, path: str | os.PathLike[str], overwrite: bool = False) -> Path | None:
    """Write everything recorded (graph, snapshots, metrics, settings) to a ``.nnviz`` file.

    The file is written next to ``path`` under a temporary name and renamed into place, so a
    crash never leaves a half-written run (saving every epoch during training is safe). An
    existing ``path`` is replaced only with ``overwrite=True``. Under torch distributed
    training only rank 0 writes; other ranks return None.
    """
    if other_rank():
        return None
    manifest, arrays = manifest_of(run)
    return atomic_write(Path(path), lambda f: _write_zip(f, manifest, arrays), overwrite)


# ------------------------------------------------------------------------------------------------
# load: every field checked; any problem is a RunFileError that names it


class _Check:
    """Typed access to untrusted JSON with messages that say where the problem is."""

    @staticmethod
    def fail(where: str, what: str) -> RunFileError:
        return RunFileError(f"bad manifest: {where}: {what}")

    def obj(self, v: Any, where: str) -> dict[str, Any]:
        if not isinstance(v, dict):
            raise self.fail(where, f"expected an object, got {_kind(v)}")
        return v

    def lst(self, v: Any, where: str) -> list[Any]:
        if not isinstance(v, list):
            raise self.fail(where, f"expected a list, got {_kind(v)}")
        return v

    def key(self, d: dict[str, Any], k: str, where: str) -> Any:
        if k not in d:
            raise self.fail(where, f"missing field {k!r}")
        return d[k]

    def str_(self, v: Any, where: str) -> str:
        if not isinstance(v, str):
            raise self.fail(where, f"expected a string, got {_kind(v)}")
        return v

    def int_(self, v: Any, where: str, lo: int | None = None, hi: int | None = None) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(where, f"expected an integer, got {_kind(v)}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise self.fail(where, f"{v} is out of range [{lo}, {hi}]")
        return v

    def bool_(self, v: Any, where: str) -> bool:
        if not isinstance(v, bool):
            raise self.fail(where, f"expected true/false, got {_kind(v)}")
        return v

    def num(self, v: Any, where: str, allow_none: bool = True) -> float | None:
        if v is None and allow_none:
            return None
        if isinstance(v, str) and v in ("NaN", "Infinity", "-Infinity"):
            return decode_number(v)
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.fail(
                where, f"expected a number or 'NaN'/'Infinity'/'-Infinity', got {v!r:.60}"
            )
        return float(v)

    def numbers(self, v: Any, where: str, allow_none: bool = True) -> dict[str, float | None]:
        d = self.obj(v, where)
        return {k: self.num(x, f"{where}[{k!r}]", allow_none) for k, x in d.items()}

    def shape(self, v: Any, where: str, allow_none: bool = False) -> tuple[Any, ...]:
        items = self.lst(v, where)
        if len(items) > _MAX_NDIM:
            raise self.fail(where, f"{len(items)} dimensions (at most {_MAX_NDIM})")
        out: list[int | None] = []
        for i, x in enumerate(items):
            if x is None and allow_none:
                out.append(None)
            else:
                out.append(self.int_(x, f"{where}[{i}]", 0, 2**40))
        return tuple(out)


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(v), f"a {type(v).__name__}"
    )


_C = _Check()


def _check_graph(d: Any) -> Graph:
    c = _C
    g = c.obj(d, "graph")
    layers = c.lst(c.key(g, "layers", "graph"), "graph.layers")
    if not layers:
        raise c.fail("graph.layers", "the graph has no layers")
    for i, raw in enumerate(layers):
        w = f"graph.layers[{i}]"
        layer = c.obj(raw, w)
        c.int_(c.key(layer, "id", w), f"{w}.id")
        c.str_(c.key(layer, "name", w), f"{w}.name")
        kind = c.str_(c.key(layer, "kind", w), f"{w}.kind")
        if kind not in KINDS:
            raise c.fail(f"{w}.kind", f"unknown layer kind {kind!r}")
        c.str_(c.key(layer, "op", w), f"{w}.op")
        c.shape(layer.get("output_shape", []), f"{w}.output_shape", allow_none=True)
        for j, s in enumerate(c.lst(layer.get("input_shapes", []), f"{w}.input_shapes")):
            c.shape(s, f"{w}.input_shapes[{j}]", allow_none=True)
        if layer.get("units") is not None:
            c.int_(layer["units"], f"{w}.units", 0)
        for k, s in c.obj(layer.get("param_shapes", {}), f"{w}.param_shapes").items():
            c.shape(s, f"{w}.param_shapes[{k!r}]", allow_none=True)
        c.int_(layer.get("params", 0), f"{w}.params", 0)
        if layer.get("parent") is not None:
            c.str_(layer["parent"], f"{w}.parent")
        c.obj(layer.get("detail", {}), f"{w}.detail")
    for i, e in enumerate(c.lst(c.key(g, "edges", "graph"), "graph.edges")):
        pair = c.lst(e, f"graph.edges[{i}]")
        if len(pair) != 2:
            raise c.fail(f"graph.edges[{i}]", "an edge is a [source, target] pair")
        c.str_(pair[0], f"graph.edges[{i}][0]")
        c.str_(pair[1], f"graph.edges[{i}][1]")
    for k in ("framework", "model_name", "data_format"):
        if k in g:
            c.str_(g[k], f"graph.{k}")
    if "approximate" in g:
        c.bool_(g["approximate"], "graph.approximate")
    for i, n in enumerate(c.lst(g.get("notes", []), "graph.notes")):
        c.str_(n, f"graph.notes[{i}]")
    for i, raw in enumerate(c.lst(g.get("modules", []), "graph.modules")):  # absent in older files
        w = f"graph.modules[{i}]"
        mod = c.obj(raw, w)
        c.str_(c.key(mod, "path", w), f"{w}.path")
        if mod.get("parent") is not None:
            c.str_(mod["parent"], f"{w}.parent")
        c.str_(mod.get("class", ""), f"{w}.class")
        c.bool_(mod.get("container", False), f"{w}.container")
        c.str_(mod.get("signature", ""), f"{w}.signature")
    try:
        graph = Graph.from_dict(g)
        graph.to_dict()  # derived fields (neuron sources) must work too
    except (ValueError, TypeError, KeyError, IndexError) as e:
        raise c.fail("graph", str(e)) from e
    return graph


class _Reader:
    """Reads and checks one archive's members against the manifest."""

    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        names = [i.filename for i in zf.infolist()]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise RunFileError(f"the archive lists members more than once: {dup[:5]}")
        self.infos = {i.filename: i for i in zf.infolist()}
        self.used: set[str] = set()
        # zip bombs, refused from the sizes the zip directory declares, before unpacking any
        # (zipfile never unpacks a member past its declared size)
        manifest = self.infos.get(MANIFEST)
        if manifest is not None and manifest.file_size > _MANIFEST_RATIO_FROM:
            ratio = manifest.file_size / max(1, manifest.compress_size)
            if ratio > _MAX_MANIFEST_RATIO:
                raise RunFileError(
                    f"{MANIFEST} unpacks {ratio:,.0f}-fold ({manifest.compress_size:,} to "
                    f"{manifest.file_size:,} bytes): padding, not a manifest (a zip bomb?)"
                )
        inflation = sum(
            max(0, i.file_size - i.compress_size) for i in zf.infolist() if i.filename != MANIFEST
        )
        if inflation > _MAX_INFLATION:
            raise RunFileError(
                f"the archive's arrays unpack to {inflation:,} bytes more than they take in the "
                f"file (at most {_MAX_INFLATION:,}): a zip bomb, or a run re-zipped with "
                "compression (run files store arrays uncompressed: zip -0)"
            )

    def manifest(self) -> dict[str, Any]:
        info = self.infos.get(MANIFEST)
        if info is None:
            raise RunFileError(f"not a .nnviz file: the archive has no {MANIFEST}")
        if info.file_size > _MAX_MANIFEST_BYTES:
            raise RunFileError(f"{MANIFEST} is implausibly large ({info.file_size:,} bytes)")
        raw = self.zf.read(info)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise RunFileError(f"{MANIFEST} is not UTF-8 text ({e})") from e

        def no_constants(name: str) -> Any:
            raise RunFileError(f"{MANIFEST} holds a bare {name}: not valid JSON")

        try:
            data = json.loads(text, parse_constant=no_constants)
        except json.JSONDecodeError as e:
            raise RunFileError(f"{MANIFEST} is not valid JSON ({e})") from e
        except RecursionError as e:
            raise RunFileError(f"{MANIFEST} is nested too deeply") from e
        return _C.obj(data, "the manifest")

    def array(self, ref: Any, where: str) -> np.ndarray:
        c = _C
        r = c.obj(ref, where)
        member = c.str_(c.key(r, "member", where), f"{where}.member")
        dtype = c.str_(c.key(r, "dtype", where), f"{where}.dtype")
        if dtype not in DTYPES:
            raise c.fail(f"{where}.dtype", f"{dtype!r} is not one of {list(DTYPES)}")
        shape = c.shape(c.key(r, "shape", where), f"{where}.shape")
        count = math.prod(shape)
        if count > 2**34:
            raise c.fail(f"{where}.shape", f"{list(shape)} is implausibly large")
        info = self.infos.get(member)
        if info is None:
            raise RunFileError(f"member {member!r} ({where}) is missing from the archive")
        if member in self.used:
            raise c.fail(f"{where}.member", f"{member!r} is used twice")
        self.used.add(member)
        nbytes = count * np.dtype(dtype).itemsize
        if not nbytes <= info.file_size <= nbytes + _NPY_SLACK:
            raise RunFileError(
                f"member {member!r} ({where}) holds {info.file_size:,} bytes; a {dtype} array of "
                f"shape {list(shape)} takes {nbytes:,} bytes plus a small header"
            )
        with self.zf.open(info) as f:
            arr = self._npy(f, member, where, dtype, shape)
            if f.read(1):  # reading to the end also checks the member's CRC
                raise RunFileError(f"member {member!r} ({where}) has bytes past its array")
        return arr

    @staticmethod
    def _npy(f: Any, member: str, where: str, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
        """The array in an open ``.npy`` member: its header is read and checked against the
        manifest before anything is allocated (``np.load`` would allocate whatever shape a
        header declares), then the data is read into the array in chunks."""
        fmt = np.lib.format
        try:
            version = fmt.read_magic(f)
            if version == (1, 0):
                got_shape, fortran, got_dtype = fmt.read_array_header_1_0(f)
            elif version == (2, 0):
                got_shape, fortran, got_dtype = fmt.read_array_header_2_0(f)
            else:
                raise ValueError(f".npy format version {version} (run files use 1.0)")
        except (zipfile.BadZipFile, zlib.error):  # a damaged archive: said as such by read()
            raise
        except Exception as e:  # numpy parses the header text (tokenize, literal_eval): any
            # failure there means the same thing
            raise RunFileError(
                f"member {member!r} ({where}) is not a valid .npy array ({e})"
            ) from e
        if got_dtype.hasobject:  # allow_pickle=False: object arrays are refused, never read
            raise RunFileError(
                f"member {member!r} ({where}) holds Python objects (pickled data); run files "
                "hold numbers only"
            )
        if got_dtype.name != dtype or got_dtype.byteorder == ">":
            raise RunFileError(
                f"member {member!r} ({where}) has dtype {got_dtype.str}; the manifest says {dtype}"
            )
        if tuple(got_shape) != tuple(shape):
            raise RunFileError(
                f"member {member!r} ({where}) has shape {list(got_shape)}; the manifest says "
                f"{list(shape)}"
            )
        arr = np.empty(shape, np.dtype(dtype).newbyteorder("<"), order="F" if fortran else "C")
        view = arr.reshape(-1, order="A").data.cast("B")
        pos = 0
        while pos < len(view):
            n = f.readinto(view[pos : pos + _READ_CHUNK])
            if not n:
                raise RunFileError(
                    f"member {member!r} ({where}) is truncated: {pos:,} of {len(view):,} bytes of "
                    "array data"
                )
            pos += n
        return np.ascontiguousarray(arr)


def _check_snapshot(
    d: Any,
    where: str,
    reader: _Reader,
    names: set[str],
    samples: dict[tuple[str, str], Any],
    since: int | None = None,
) -> Snapshot:
    c = _C
    s = c.obj(d, where)
    epoch = c.int_(c.key(s, "epoch", where), f"{where}.epoch", INIT_EPOCH, 2**53)
    skip_arrays = since is not None and epoch <= since
    snap = Snapshot(
        epoch=epoch,
        label=c.str_(c.key(s, "label", where), f"{where}.label"),
        thinned=c.bool_(s.get("thinned", False), f"{where}.thinned"),
    )
    metrics = c.numbers(c.key(s, "metrics", where), f"{where}.metrics", allow_none=False)
    snap.metrics = {k: float(v) for k, v in metrics.items() if v is not None}

    def layer_of(k: str, w: str) -> str:
        if k not in names:
            raise c.fail(w, f"names layer {k!r}, which is not in the graph")
        return k

    for layer, st in c.obj(s.get("stats", {}), f"{where}.stats").items():
        w = f"{where}.stats[{layer!r}]"
        snap.stats[layer_of(layer, w)] = c.numbers(st, w)
    for layer, h in c.obj(s.get("health", {}), f"{where}.health").items():
        w = f"{where}.health[{layer!r}]"
        snap.health[layer_of(layer, w)] = c.numbers(h, w)
    snap.preds = [
        c.int_(p, f"{where}.preds[{i}]", 0, 2**31)
        for i, p in enumerate(c.lst(s.get("preds", []), f"{where}.preds"))
    ]
    for i, pair in enumerate(c.lst(s.get("tokens", []), f"{where}.tokens")):
        w = f"{where}.tokens[{i}]"
        pair = c.lst(pair, w)
        if len(pair) != 2:
            raise c.fail(w, "a token is [id, text]")
        snap.tokens[c.int_(pair[0], f"{w}[0]", 0, 2**32)] = c.str_(pair[1], f"{w}[1]")
    meta = c.obj(s.get("boundary_meta", {}), f"{where}.boundary_meta")
    snap.boundary_meta = _from_json_any(meta)
    act_index: dict[str, np.ndarray] = {}
    if skip_arrays:  # read(since=...): a follower already holds this snapshot's arrays
        return snap
    for i, ref in enumerate(c.lst(c.key(s, "arrays", where), f"{where}.arrays")):
        w = f"{where}.arrays[{i}]"
        r = c.obj(ref, w)
        group = c.str_(c.key(r, "group", w), f"{w}.group")
        if group not in _GROUPS:
            raise c.fail(f"{w}.group", f"unknown array group {group!r}")
        needs_layer, needs_param = _GROUPS[group]
        layer = layer_of(c.str_(c.key(r, "layer", w), f"{w}.layer"), w) if needs_layer else ""
        param = c.str_(c.key(r, "param", w), f"{w}.param") if needs_param else ""
        arr = reader.array(r, w)
        if group in ("weights", "grads", "acts"):
            bucket: dict[str, dict[str, np.ndarray]] = getattr(snap, group)
            if param in bucket.get(layer, {}):
                raise c.fail(w, f"{group} {layer}/{param} appears twice")
            bucket.setdefault(layer, {})[param] = arr
            hit = samples.get((layer, param))
            if group in ("weights", "grads") and hit is not None and arr.shape != hit.shape:
                raise c.fail(
                    w,
                    f"sampled {group} {layer}/{param} holds {list(arr.shape)} values; its fixed "
                    f"sample has {hit.size}",
                )
        elif group == "hists":
            if arr.shape != (HIST_BINS,):
                raise c.fail(w, f"a histogram has {HIST_BINS} bins, got shape {list(arr.shape)}")
            snap.hists[layer] = arr
        elif group == "act_index":
            if arr.ndim != 1 or arr.dtype != np.uint32:
                raise c.fail(w, "activation unit indices are a 1-D uint32 array")
            act_index[layer] = arr
        elif group == "boundary":
            snap.boundary[param] = arr
        elif group == "top":
            if param not in ("ids", "p") or arr.ndim != 3:
                raise c.fail(w, "top tokens are 'ids' / 'p' arrays of (samples, positions, k)")
            snap.top[param] = arr
        else:
            snap.fields[layer] = arr
    for layer, raw in c.obj(s.get("act_info", {}), f"{where}.act_info").items():
        w = f"{where}.act_info[{layer!r}]"
        info = c.obj(raw, w)
        mode = c.str_(c.key(info, "mode", w), f"{w}.mode")
        if mode not in _ACT_MODES:
            raise c.fail(f"{w}.mode", f"unknown mode {mode!r}")
        shape = [int(v) for v in c.shape(c.key(info, "shape", w), f"{w}.shape")]
        n = c.int_(c.key(info, "samples", w), f"{w}.samples", 0)
        snap.act_info[layer_of(layer, w)] = ActInfo(mode, shape, n, act_index.pop(layer, None))
    if act_index:
        raise c.fail(where, f"activation indices without act_info for {sorted(act_index)}")
    return snap


def _parse(zf: zipfile.ZipFile, since: int | None = None) -> Run:
    c = _C
    reader = _Reader(zf)
    m = reader.manifest()
    fmt = m.get("format")
    if fmt != FORMAT:
        raise RunFileError(f"not a .nnviz file: its manifest says format {fmt!r}")
    version = c.int_(c.key(m, "format_version", "the manifest"), "format_version")
    if version > FORMAT_VERSION:
        lib = m.get("library_version")
        raise RunFileError(
            f"this run was written in .nnviz format version {version}"
            + (f" (nnviz-widget {lib})" if isinstance(lib, str) else "")
            + f"; this nnviz-widget reads up to version {FORMAT_VERSION}: upgrade it "
            "(pip install -U nnviz-widget)"
        )
    if version < 1:
        raise c.fail("format_version", f"{version} is not a valid version")
    graph = _check_graph(c.key(m, "graph", "the manifest"))
    names = set(graph.names)
    st = c.obj(c.key(m, "settings", "the manifest"), "settings")
    settings: dict[str, Any] = {
        "max_bytes": c.int_(c.key(st, "max_bytes", "settings"), "settings.max_bytes", 1),
        "record_gradients": c.bool_(st.get("record_gradients", True), "settings.record_gradients"),
        "notes": [
            c.str_(n, f"settings.notes[{i}]")
            for i, n in enumerate(c.lst(st.get("notes", []), "settings.notes"))
        ],
    }
    probe = _from_json_any(c.obj(st.get("probe_info", {}), "settings.probe_info"))
    if "n" in probe:
        c.int_(probe["n"], "settings.probe_info.n", 0)
    if probe.get("labels") is not None:
        for i, v in enumerate(c.lst(probe["labels"], "settings.probe_info.labels")):
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise c.fail(
                    f"settings.probe_info.labels[{i}]", f"expected a number, got {_kind(v)}"
                )
    if probe.get("input") is not None:
        c.str_(probe["input"], "settings.probe_info.input")
    if probe.get("image_shape") is not None:
        c.shape(probe["image_shape"], "settings.probe_info.image_shape")
    if probe.get("tokens") is not None:
        w = "settings.probe_info.tokens"
        tok = c.obj(probe["tokens"], w)
        for i, row in enumerate(c.lst(c.key(tok, "ids", w), f"{w}.ids")):
            for j, v in enumerate(c.lst(row, f"{w}.ids[{i}]")):
                c.int_(v, f"{w}.ids[{i}][{j}]", 0, 2**32)
        if tok.get("text") is not None:
            for i, row in enumerate(c.lst(tok["text"], f"{w}.text")):
                for j, v in enumerate(c.lst(row, f"{w}.text[{i}]")):
                    c.str_(v, f"{w}.text[{i}][{j}]")
    settings["probe_info"] = probe
    if st.get("labels") is not None:
        settings["labels"] = reader.array(st["labels"], "settings.labels")
    samples: dict[tuple[str, str], tuple[np.ndarray, tuple[int, ...]]] = {}
    for i, ref in enumerate(c.lst(m.get("samples", []), "samples")):
        w = f"samples[{i}]"
        r = c.obj(ref, w)
        layer = c.str_(c.key(r, "layer", w), f"{w}.layer")
        if layer not in names:
            raise c.fail(w, f"names layer {layer!r}, which is not in the graph")
        param = c.str_(c.key(r, "param", w), f"{w}.param")
        full = tuple(int(v) for v in c.shape(c.key(r, "full_shape", w), f"{w}.full_shape"))
        idx = reader.array(r, w)
        if idx.ndim != 1 or idx.dtype != np.uint32:
            raise c.fail(w, "sample indices are a 1-D uint32 array")
        if idx.size and int(idx.max()) >= math.prod(full):
            raise c.fail(w, f"an index is past the end of a parameter of shape {list(full)}")
        if (layer, param) in samples:
            raise c.fail(w, f"{layer}/{param} is sampled twice")
        samples[(layer, param)] = (idx, full)
    sample_idx = {k: v[0] for k, v in samples.items()}
    raw_snaps = c.lst(c.key(m, "snapshots", "the manifest"), "snapshots")
    if not raw_snaps:
        raise c.fail("snapshots", "the run has no snapshots")
    snaps = [
        _check_snapshot(s, f"snapshots[{i}]", reader, names, sample_idx, since)
        for i, s in enumerate(raw_snaps)
    ]
    if snaps[0].epoch != INIT_EPOCH:
        raise c.fail("snapshots[0].epoch", f"the first snapshot is init ({INIT_EPOCH})")
    for i in range(1, len(snaps)):
        if snaps[i].epoch <= snaps[i - 1].epoch:
            raise c.fail(f"snapshots[{i}].epoch", "epochs must increase")
    return Run(graph, snaps, samples, settings)


# Everything a damaged archive can make zipfile / zlib / numpy raise while reading it.
_READ_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    NotImplementedError,  # e.g. a flipped byte naming an unknown compression method
    struct.error,
    UnicodeDecodeError,
    OverflowError,
    ValueError,
    OSError,
    RuntimeError,  # zipfile: a flipped flag bit says "encrypted, password required"
)


def read(path: str | os.PathLike[str], since: int | None = None) -> Run:
    """The run in a ``.nnviz`` file. With ``since``, snapshots up to that epoch come without
    their arrays (metrics, stats and health only): what a follower needs of epochs it holds.

    Raises ``RunFileError`` (a ValueError) for anything wrong with the file, FileNotFoundError
    when there is no file."""
    p = Path(path).expanduser()
    with open(p, "rb") as f:  # FileNotFoundError / PermissionError / IsADirectoryError as is
        if not f.read(1):
            raise RunFileError(f"{p}: the file is empty")
        f.seek(0)
        try:
            with zipfile.ZipFile(f) as zf:
                return _parse(zf, since)
        except RunFileError as e:
            raise RunFileError(f"{p}: {e}") from None
        except zipfile.BadZipFile as e:
            raise RunFileError(
                f"{p}: not a .nnviz file, or a truncated or corrupted one (zip: {e})"
            ) from e
        except _READ_ERRORS as e:
            raise RunFileError(
                f"{p}: a truncated or corrupted .nnviz file ({type(e).__name__}: {e})"
            ) from e
