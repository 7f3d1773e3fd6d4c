"""Snapshot <-> (JSON header, one binary buffer). The browser decodes it in js/src/decode.ts.

Arrays are packed back to back at 8-byte aligned offsets; the header lists each array's layer,
param, kind, dtype, shape and offset. Non-finite metrics travel as the strings "NaN",
"Infinity" and "-Infinity" (JSON has no NaN).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .timeline import Snapshot

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


def decode_number(x: float | str | None) -> float | None:
    if x is None:
        return None
    return float(x)  # float("NaN") / float("Infinity") parse


class _Packer:
    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.arrays: list[dict[str, Any]] = []

    def add(self, layer: str, param: str, kind: str, arr: np.ndarray, **extra: Any) -> None:
        arr = np.ascontiguousarray(arr)
        name = _WIRE_NAME.get(arr.dtype)
        if name is None and arr.dtype.name in _DTYPES:  # big-endian: swapped below
            name = arr.dtype.name
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        if name is None:
            raise TypeError(f"cannot send dtype {arr.dtype} for {layer}/{param}")
        offset = self.append(arr.tobytes())
        ref = {
            "layer": layer,
            "param": param,
            "kind": kind,
            "dtype": name,
            "shape": list(arr.shape),
            "offset": offset,
        }
        ref.update(extra)
        self.arrays.append(ref)

    def append(self, data: bytes) -> int:
        """Put ``data`` at the next 8-aligned offset; returns that offset."""
        pad = (-self.size) % 8
        if pad:
            self.parts.append(b"\0" * pad)
            self.size += pad
        offset = self.size
        self.parts.append(data)
        self.size += len(data)
        return offset


def encode_snapshot(
    snap: Snapshot,
    sampled: dict[tuple[str, str], tuple[np.ndarray, tuple[int, ...]]] | None = None,
    include_indices: bool = False,
) -> tuple[dict[str, Any], bytes]:
    """Header + bytes of one snapshot.

    ``sampled`` maps (layer, param) of sampled arrays to (flat indices, full shape). The indices
    never change, so only the init snapshot carries them (``include_indices``).
    """
    packer = _Packer()
    sampled = sampled or {}
    for layer, params in snap.weights.items():
        for param, arr in params.items():
            hit = sampled.get((layer, param))
            extra = {"full_shape": list(hit[1])} if hit is not None else {}
            packer.add(layer, param, "weight", arr, **extra)
    for layer, params in snap.grads.items():
        for param, arr in params.items():
            packer.add(layer, param, "grad", arr)
    for layer, hist in snap.hists.items():
        packer.add(layer, "*", "hist", hist.astype(np.float32))
    for layer, arrays in snap.acts.items():
        # "act", "act_mean" (reduced image maps), "attn" (attention layers: (samples, T, S),
        # the mean attention over heads, float16)
        for param, arr in arrays.items():
            packer.add(layer, param, "act", arr)
        info = snap.act_info.get(layer)
        if info is not None and info.index is not None:
            packer.add(layer, "act", "act_index", info.index)
    for param, arr in snap.boundary.items():  # "value" | "class" + "confidence"
        packer.add("", param, "boundary", arr)
    for layer, arr in snap.fields.items():  # (units, r, r) per-neuron fields on the plane
        packer.add(layer, "field", "field", arr)
    if include_indices:
        for (layer, param), (idx, full_shape) in sampled.items():
            packer.add(layer, param, "index", idx.astype(np.uint32), full_shape=list(full_shape))
    header = {
        "v": WIRE_VERSION,
        "epoch": snap.epoch,
        "label": snap.label,
        "metrics": {k: encode_number(v) for k, v in snap.metrics.items()},
        "arrays": packer.arrays,
        "stats": {
            layer: {k: encode_number(v) for k, v in st.items()} for layer, st in snap.stats.items()
        },
    }
    if snap.thinned:
        header["thinned"] = True
    if snap.act_info:
        header["act_info"] = {k: v.to_json() for k, v in snap.act_info.items()}
    if snap.health:
        header["health"] = {
            layer: {k: encode_number(v) for k, v in h.items()} for layer, h in snap.health.items()
        }
    if snap.preds:
        header["pred"] = list(snap.preds)
    if snap.boundary_meta:
        header["boundary"] = {
            k: (encode_number(v) if isinstance(v, float) else v)
            for k, v in snap.boundary_meta.items()
        }
    return header, b"".join(packer.parts)


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
    }
