"""Snapshot <-> (JSON header, one binary buffer). The browser decodes it in js/src/data/decode.ts.

Arrays are packed back to back at 8-byte aligned offsets; the header lists each array's layer,
param, kind, dtype, shape and offset. Non-finite metrics travel as the strings "NaN",
"Infinity" and "-Infinity" (JSON has no NaN).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .snapshot import Snapshot

WIRE_VERSION = 1
_DTYPES = {"float16", "float32", "int32", "uint32", "uint8"}
# little-endian dtype -> wire name (a dict lookup: dtype.name is slow, and this runs per array
# at every record())
_WIRE_NAME = {np.dtype(n).newbyteorder("<"): n for n in _DTYPES}


def encode_number(x: float | None) -> float | str | None:
    if x is None:
        return None
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return float(x)


def _numbers(d: dict[str, Any]) -> dict[str, Any]:
    """``{k: encode_number(v)}``; a copy when every value is None or a finite float already
    (``v - v`` is 0.0 only for those: NaN and infinities give NaN), which is the usual case
    and over twice as fast as a call per number (a header holds ~40 numbers per snapshot)."""
    for v in d.values():
        if type(v) is not float:
            if v is not None:
                break
        elif v - v:
            break
    else:
        return d.copy()
    return {k: encode_number(v) for k, v in d.items()}


def decode_number(x: float | str | None) -> float | None:
    if x is None:
        return None
    return float(x)  # float("NaN") / float("Infinity") parse


_ZEROS = [b"\0" * n for n in range(8)]  # padding to the next 8-aligned offset
_F32 = np.dtype(np.float32)
_U32 = np.dtype(np.uint32)


def _wire_array(layer: str, param: str, arr: np.ndarray) -> tuple[np.ndarray, str]:
    """``arr`` as it is sent (C-contiguous, little-endian) and its wire dtype name (the slow
    path of encode_snapshot's loop: big-endian arrays, dtypes that cannot be sent)."""
    arr = np.ascontiguousarray(arr)  # the array itself when it is one already
    name = _WIRE_NAME.get(arr.dtype)
    if name is None and arr.dtype.name in _DTYPES:  # big-endian: swapped
        name = arr.dtype.name
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    if name is None:
        raise TypeError(f"cannot send dtype {arr.dtype} for {layer}/{param}")
    return arr, name


class _Packer:
    """Byte strings back to back at 8-aligned offsets (join_snapshots)."""

    __slots__ = ("parts", "size")

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def append(self, data: bytes) -> int:
        """Put ``data`` at the next 8-aligned offset; returns that offset."""
        size = self.size
        pad = -size & 7
        if pad:
            self.parts.append(_ZEROS[pad])
            size += pad
        self.parts.append(data)
        self.size = size + len(data)
        return size


def encode_snapshot(
    snap: Snapshot,
    sampled: dict[tuple[str, str], tuple[np.ndarray, tuple[int, ...]]] | None = None,
    include_indices: bool = False,
) -> tuple[dict[str, Any], bytes]:
    """Header + bytes of one snapshot.

    ``sampled`` maps (layer, param) of sampled arrays to (flat indices, full shape). The indices
    never change, so only the init snapshot carries them (``include_indices``).
    """
    # This runs for every recorded epoch inside the user's training loop, so it is written for
    # speed: (layer, param, kind, array, full shape) gathered first, then packed in one loop
    # with the refs built inline; each deferred Snapshot field is read once.
    sampled = sampled or {}
    items: list[tuple[str, str, str, np.ndarray, list[int] | None]] = []
    add = items.append
    for layer, params in snap.weights.items():
        for param, arr in params.items():
            hit = sampled.get((layer, param)) if sampled else None
            add((layer, param, "weight", arr, list(hit[1]) if hit is not None else None))
    for layer, params in snap.grads.items():
        for param, arr in params.items():
            add((layer, param, "grad", arr, None))
    for layer, hist in snap.hists.items():
        # astype copies even to its own dtype: only a hist of another dtype needs it
        add((layer, "*", "hist", hist if hist.dtype is _F32 else hist.astype(np.float32), None))
    act_info = snap.act_info
    for layer, arrays in snap.acts.items():
        # "act", "act_mean" (reduced image maps), "attn" (attention layers: (samples, T, S),
        # the mean attention over heads, float16)
        for param, arr in arrays.items():
            add((layer, param, "act", arr, None))
        info = act_info.get(layer)
        if info is not None and info.index is not None:
            add((layer, "act", "act_index", info.index, None))
    for param, arr in snap.boundary.items():  # "value" | "class" + "confidence"
        add(("", param, "boundary", arr, None))
    for layer, arr in snap.fields.items():  # (units, r, r) per-neuron fields on the plane
        add((layer, "field", "field", arr, None))
    for param, arr in snap.top.items():  # "ids" uint32 / "p" float16, (samples, positions, k)
        add(("", param, "top", arr, None))
    if include_indices:
        for (layer, param), (idx, full_shape) in sampled.items():
            # astype copies even to its own dtype
            idx32 = idx if idx.dtype is _U32 else idx.astype(np.uint32)
            add((layer, param, "index", idx32, list(full_shape)))

    parts: list[Any] = []
    refs: list[dict[str, Any]] = []
    size = 0
    for layer, param, kind, arr, full in items:
        arr = np.ascontiguousarray(arr)  # the array itself when it is one already
        name = _WIRE_NAME.get(arr.dtype)
        if name is None:
            arr, name = _wire_array(layer, param, arr)
        pad = -size & 7
        if pad:
            parts.append(_ZEROS[pad])
            size += pad
        ref = {
            "layer": layer,
            "param": param,
            "kind": kind,
            "dtype": name,
            "shape": list(arr.shape),
            "offset": size,
        }
        if full is not None:
            ref["full_shape"] = full
        refs.append(ref)
        parts.append(arr)  # its buffer, copied once by the join below
        size += arr.nbytes

    header: dict[str, Any] = {
        "v": WIRE_VERSION,
        "epoch": snap.epoch,
        "label": snap.label,
        "metrics": _numbers(snap.metrics),
        "arrays": refs,
        "stats": {layer: _numbers(st) for layer, st in snap.stats.items()},
    }
    if snap.thinned:
        header["thinned"] = True
    if act_info:
        header["act_info"] = {k: v.to_json() for k, v in act_info.items()}
    health = snap.health
    if health:
        header["health"] = {layer: _numbers(h) for layer, h in health.items()}
    preds = snap.preds
    if preds:
        header["pred"] = list(preds)
    if snap.tokens:  # text of the token ids in "top" and "pred" (JSON strings, never HTML)
        header["tokens"] = {str(i): t for i, t in snap.tokens.items()}
    if snap.boundary_meta:
        header["boundary"] = {
            k: (encode_number(v) if isinstance(v, float) else v)
            for k, v in snap.boundary_meta.items()
        }
    return header, b"".join(parts)


def join_snapshots(parts: list[tuple[dict[str, Any], bytes]]) -> tuple[dict[str, Any], bytes]:
    """Several encoded snapshots as one child (a batch sent at once): ``{"v", "chunk": [{base,
    size, header}]}`` over their bytes back to back at 8-aligned bases; each header keeps its
    own offsets, relative to its base. One part stays a plain snapshot."""
    if len(parts) == 1:
        return parts[0]
    packer = _Packer()
    chunk = [
        {"base": packer.append(data), "size": len(data), "header": header} for header, data in parts
    ]
    return {"v": WIRE_VERSION, "chunk": chunk}, b"".join(packer.parts)


def split_snapshots(
    header: dict[str, Any], data: bytes | memoryview
) -> list[tuple[dict[str, Any], bytes]]:
    """Inverse of join_snapshots: each snapshot's (header, bytes), for a plain one too."""
    if "chunk" not in header:
        return [(header, bytes(data))]
    buf = memoryview(data).cast("B")
    out = []
    for part in header["chunk"]:
        base, n = int(part["base"]), int(part["size"])
        if base < 0 or base + n > len(buf):
            raise ValueError(f"chunk part at {base} (+{n}) runs past the data")
        out.append((part["header"], bytes(buf[base : base + n])))
    return out


def decode_snapshot(header: dict[str, Any], data: bytes | memoryview) -> dict[str, Any]:
    """Inverse of encode_snapshot (tests, loading): arrays keyed by (kind, layer, param)."""
    if header.get("v") != WIRE_VERSION:
        raise ValueError(f"unsupported wire version {header.get('v')!r}")
    buf = memoryview(data).cast("B")
    arrays: dict[tuple[str, str, str], np.ndarray] = {}
    for ref in header["arrays"]:
        dt = np.dtype(ref["dtype"]).newbyteorder("<")
        n = int(np.prod(ref["shape"], dtype=np.int64))
        end = ref["offset"] + n * dt.itemsize
        if end > len(buf):
            raise ValueError(f"array {ref['layer']}/{ref['param']} runs past the data")
        arr = np.frombuffer(buf[ref["offset"] : end], dtype=dt).reshape(ref["shape"])
        arrays[(ref["kind"], ref["layer"], ref["param"])] = arr
    return {
        "epoch": header["epoch"],
        "label": header["label"],
        "metrics": {k: decode_number(v) for k, v in header["metrics"].items()},
        "stats": {
            layer: {k: decode_number(v) for k, v in st.items()}
            for layer, st in header["stats"].items()
        },
        "arrays": arrays,
        "thinned": bool(header.get("thinned", False)),
        "health": {
            layer: {k: decode_number(v) for k, v in h.items()}
            for layer, h in header.get("health", {}).items()
        },
        "act_info": header.get("act_info", {}),
        "pred": header.get("pred", []),
        "boundary": header.get("boundary", {}),
        "tokens": {int(k): str(v) for k, v in header.get("tokens", {}).items()},
    }
