"""wire.py's exact output on the cases its fast paths skip: non-finite, None, int and numpy
scalar numbers; big-endian, non-contiguous, 0-d and float64 arrays; sample indices; chunks."""

from __future__ import annotations

import json

import numpy as np

from nnviz_widget.snapshot import Snapshot
from nnviz_widget.wire import decode_snapshot, encode_snapshot, join_snapshots, split_snapshots

_JSON = json.JSONEncoder(separators=(",", ":"), check_circular=False)  # as widget.py sends it


def _snapshot() -> tuple[Snapshot, np.ndarray, np.ndarray]:
    weight = np.arange(6, dtype=np.float16).reshape(2, 3).T  # (3, 2), not C-contiguous
    bias = np.array([1, 2, 3], dtype=">f2")  # big-endian
    snap = Snapshot(
        3,
        "epoch 3",
        metrics={"loss": float("nan"), "acc": 1, "lr": np.float32(0.5), "gap": None},
        weights={"fc": {"weight": weight, "bias": bias, "scale": np.array(2.0, np.float16)}},
        stats={
            "fc": {"mean": 0.25, "max": float("inf"), "min": -float("inf"), "grad_norm": None},
            "ok": {"mean": 0.5, "std": None, "n": np.float64(2.0)},
            "fine": {"mean": 0.5, "std": None},
        },
        hists={"fc": np.arange(3, dtype=np.float64)},
        health={"fc": {"dead": np.float64(0.5), "saturated": None}},
        thinned=True,
    )
    return snap, weight, bias


def test_header_numbers_and_array_layout_exact() -> None:
    snap, weight, bias = _snapshot()
    idx = np.array([0, 2, 5, 7, 1, 3], dtype=np.int64)
    header, data = encode_snapshot(snap, {("fc", "weight"): (idx, (4, 2))}, include_indices=True)
    ref = '{{"layer":"fc","param":"{}","kind":"{}","dtype":"{}","shape":{},"offset":{}{}}}'
    arrays = ",".join(
        [
            ref.format("weight", "weight", "float16", "[3,2]", 0, ',"full_shape":[4,2]'),
            ref.format("bias", "weight", "float16", "[3]", 16, ""),
            ref.format("scale", "weight", "float16", "[1]", 24, ""),  # 0-d travels as (1,)
            ref.format("*", "hist", "float32", "[3]", 32, ""),
            ref.format("weight", "index", "uint32", "[6]", 48, ',"full_shape":[4,2]'),
        ]
    )
    assert _JSON.encode(header) == (
        '{"v":1,"epoch":3,"label":"epoch 3",'
        '"metrics":{"loss":"NaN","acc":1.0,"lr":0.5,"gap":null},'
        f'"arrays":[{arrays}],'
        '"stats":{"fc":{"mean":0.25,"max":"Infinity","min":"-Infinity","grad_norm":null},'
        '"ok":{"mean":0.5,"std":null,"n":2.0},"fine":{"mean":0.5,"std":null}},'
        '"thinned":true,"health":{"fc":{"dead":0.5,"saturated":null}}}'
    )
    # numbers are plain floats (numpy scalars and ints converted), dicts are copies
    assert type(header["stats"]["ok"]["n"]) is float and type(header["metrics"]["acc"]) is float
    assert type(header["health"]["fc"]["dead"]) is float
    assert header["stats"]["fine"] == snap.stats["fine"]
    assert header["stats"]["fine"] is not snap.stats["fine"]
    assert isinstance(data, bytes)
    assert data == b"".join(
        [
            np.ascontiguousarray(weight).tobytes(),
            b"\0" * 4,
            bias.astype("<f2").tobytes(),
            b"\0" * 2,
            np.array([2.0], "<f2").tobytes(),
            b"\0" * 6,
            np.arange(3, dtype="<f4").tobytes(),
            b"\0" * 4,
            idx.astype("<u4").tobytes(),
        ]
    )
    back = decode_snapshot(header, data)["arrays"]
    np.testing.assert_array_equal(back[("weight", "fc", "weight")], weight)
    np.testing.assert_array_equal(back[("weight", "fc", "bias")], bias)
    np.testing.assert_array_equal(back[("index", "fc", "weight")], idx)


def test_empty_snapshot_and_chunk_bases() -> None:
    snap, _, _ = _snapshot()
    empty = Snapshot(-1, "init")
    header, data = encode_snapshot(empty)
    assert _JSON.encode(header) == (
        '{"v":1,"epoch":-1,"label":"init","metrics":{},"arrays":[],"stats":{}}'
    )
    assert data == b""
    parts = [encode_snapshot(snap), (header, data), encode_snapshot(snap)]
    joined, blob = join_snapshots(parts)
    n = len(parts[0][1])  # 44: the next part starts 8-aligned
    assert n == 44
    assert [(c["base"], c["size"]) for c in joined["chunk"]] == [(0, n), (48, 0), (48, n)]
    assert blob == parts[0][1] + b"\0" * 4 + parts[2][1]
    assert split_snapshots(joined, blob) == parts
    assert join_snapshots(parts[:1]) == parts[0]
