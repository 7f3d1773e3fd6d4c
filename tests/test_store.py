"""The .nnviz file (save / load), the standalone HTML page, to_png and the command line.

Round trips are exact (every array's dtype, shape and bytes; every stat, NaN included); every
kind of damage to a file is a RunFileError; writes are atomic and never overwrite by accident.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import math
import os
import queue
import re
import subprocess
import sys
import time
import types
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import nnviz_widget as nnv
from nnviz_widget import export, png, runfile, widget
from nnviz_widget.recorder import Recorder
from nnviz_widget.snapshot import Snapshot

from .fakes import FakeModel, patch_adapt

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
HYP = settings(
    max_examples=int(os.environ.get("NNVIZ_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


# ------------------------------------------------------------------------------------------------
# comparing runs exactly


def _same_number(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    fa, fb = float(a), float(b)
    return (math.isnan(fa) and math.isnan(fb)) or fa == fb


def _same_numbers(a: dict[str, Any], b: dict[str, Any], where: str) -> None:
    assert list(a) == list(b), where
    for k in a:
        assert _same_number(a[k], b[k]), f"{where}[{k!r}]: {a[k]!r} != {b[k]!r}"


def _same_array(a: np.ndarray, b: np.ndarray, where: str) -> None:
    assert a.dtype == b.dtype, f"{where}: {a.dtype} != {b.dtype}"
    assert a.shape == b.shape, f"{where}: {a.shape} != {b.shape}"
    assert a.tobytes() == b.tobytes(), f"{where}: values differ"


def _same_arrays(a: dict[str, Any], b: dict[str, Any], where: str) -> None:
    assert list(a) == list(b), where
    for k in a:
        if isinstance(a[k], dict):
            _same_arrays(a[k], b[k], f"{where}[{k!r}]")
        else:
            _same_array(a[k], b[k], f"{where}[{k!r}]")


def assert_same_run(a: Recorder, b: Recorder) -> None:
    assert a.graph.to_dict() == b.graph.to_dict()
    assert (a.max_bytes, a.record_gradients, a.notes) == (b.max_bytes, b.record_gradients, b.notes)
    assert json.dumps(a.probe_info, sort_keys=True) == json.dumps(b.probe_info, sort_keys=True)
    if a.labels is None:
        assert b.labels is None
    else:
        assert b.labels is not None
        np.testing.assert_array_equal(a.labels, b.labels)
    assert list(a.sampled) == list(b.sampled)
    for key, (idx, shape) in a.sampled.items():
        _same_array(idx, b.sampled[key][0], f"sample {key}")
        assert tuple(shape) == tuple(b.sampled[key][1])
    assert len(a.snapshots) == len(b.snapshots)
    for i, (s, t) in enumerate(zip(a.snapshots, b.snapshots, strict=True)):
        w = f"snapshot {i} (epoch {s.epoch})"
        assert (s.epoch, s.label, s.thinned) == (t.epoch, t.label, t.thinned), w
        _same_numbers(s.metrics, t.metrics, f"{w} metrics")
        for group in ("stats", "health"):
            sa, sb = getattr(s, group), getattr(t, group)
            assert list(sa) == list(sb), f"{w} {group}"
            for layer in sa:
                _same_numbers(sa[layer], sb[layer], f"{w} {group}[{layer!r}]")
        for group in ("weights", "grads", "hists", "acts", "boundary", "fields"):
            _same_arrays(getattr(s, group), getattr(t, group), f"{w} {group}")
        assert list(s.act_info) == list(t.act_info), w
        for layer, info in s.act_info.items():
            other = t.act_info[layer]
            assert (info.mode, info.shape, info.samples) == (
                other.mode,
                other.shape,
                other.samples,
            )
            if info.index is None:
                assert other.index is None
            else:
                assert other.index is not None
                _same_array(info.index, other.index, f"{w} act index {layer}")
        assert s.preds == t.preds, w
        assert json.dumps(s.boundary_meta, sort_keys=True) == json.dumps(
            t.boundary_meta, sort_keys=True
        ), w


def assert_same_widget_state(a: nnv.NNViz, b: nnv.NNViz) -> None:
    """What the browser gets is byte-identical: graph, traits, every snapshot's header + data."""
    a.flush()
    b.flush()
    assert a._graph == b._graph
    assert a._probe == b._probe
    assert (a.epoch, a._notice) == (b.epoch, b._notice)
    pa, pb = a._snapshot_parts(), b._snapshot_parts()  # per epoch (a batch is one child)
    assert len(pa) == len(pb)
    for (ha, da), (hb, db) in zip(pa, pb, strict=True):
        assert json.dumps(ha, sort_keys=True) == json.dumps(hb, sort_keys=True)
        assert da == db


def test_every_snapshot_field_is_stored() -> None:
    """A field added to Snapshot must be added to the file format (runfile.py) too."""
    assert {f.name for f in dataclasses.fields(Snapshot) if not f.name.startswith("_")} == set(
        runfile.SNAPSHOT_FIELDS
    )


# ------------------------------------------------------------------------------------------------
# runs


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> None:
    patch_adapt(monkeypatch)


def fake_run(epochs: int = 6, sizes: tuple[int, ...] = (784, 64, 10), **kw: Any) -> Recorder:
    m = FakeModel(sizes)
    rec = Recorder(m, **kw)
    for e in range(epochs):
        m.step(seed=e)
        rec.record(e, loss=1.0 / (e + 1), acc=0.1 * e)
    return rec


@pytest.fixture(scope="module")
def torch_run() -> Recorder:
    """2-D inputs (decision boundary + neuron fields), a sampled layer, activations kept as a
    unit sample, thinned epochs, NaN / Inf metrics, labels."""
    torch = pytest.importorskip("torch")
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 300), nn.ReLU(), nn.Linear(300, 3)
    )
    x = torch.randn(48, 2)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    rec = Recorder(model, inputs=x, labels=y, max_bytes=120_000)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for epoch in range(12):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        extra = {"weird": math.nan} if epoch % 3 == 0 else {"weird": -math.inf}
        rec.record(epoch, loss=loss.item(), grad_inf=math.inf, **extra)
    rec.flush()
    assert rec.thinned_epochs, "the run should thin epochs"
    assert rec.sampled, "the run should sample a layer"
    last = rec.snapshots[-1]
    assert last.boundary and last.fields and last.preds
    assert last.grads and all(  # per-connection gradients, at the weights' samples
        last.grads[layer][k].shape == a.shape
        for layer, p in last.weights.items()
        for k, a in p.items()
    )
    assert any(i.index is not None for i in last.act_info.values()), "a unit sample"
    return rec


@pytest.fixture(scope="module")
def torch_cnn_run() -> Recorder:
    """Conv activations kept as maps + channel means."""
    torch = pytest.importorskip("torch")

    from .models_torch import SmallCNN

    torch.manual_seed(0)
    model = SmallCNN()
    rec = Recorder(model, inputs=torch.randn(8, 1, 28, 28), max_bytes=400_000)
    rec.record(0, loss=2.3)
    rec.record(1, loss=2.1)
    rec.flush()
    assert any(i.mode == "maps" for i in rec.snapshots[-1].act_info.values())
    return rec


@pytest.fixture(scope="module")
def keras_run() -> Recorder:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras = pytest.importorskip("keras")
    from .models_keras import seed_xor_mlp

    keras.utils.set_random_seed(0)
    model, _ = seed_xor_mlp()
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 4, np.float32)
    y = np.array([0, 1, 1, 0] * 4, np.float32)
    model.compile("adam", "binary_crossentropy")
    rec = Recorder(model, inputs=x, labels=y)
    model.fit(x, y, epochs=3, verbose=0, callbacks=[rec.keras_callback()])
    rec.record(rec.history.epochs[-1] + 1, loss=math.nan, note=math.inf)
    rec.flush()
    assert rec.snapshots[-1].boundary
    return rec


# ------------------------------------------------------------------------------------------------
# round trips


@pytest.mark.parametrize("run", ["torch_run", "torch_cnn_run", "keras_run"])
def test_round_trip_is_exact(run: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    rec: Recorder = request.getfixturevalue(run)
    path = tmp_path / "run.nnviz"
    assert rec.save(path) == path
    back = nnv.load_recorder(path)
    assert_same_run(rec, back)
    # the same view: what the browser receives is byte-identical
    viz = nnv.NNViz(rec)
    loaded = nnv.load(path)
    assert isinstance(loaded, nnv.NNViz)
    assert_same_widget_state(viz, loaded)
    # the read API works on the loaded run
    h = loaded.history
    assert h.epochs == rec.history.epochs
    np.testing.assert_array_equal(h.metrics["loss"], rec.history.metrics["loss"])
    layer = next(x.name for x in rec.graph.layers if x.params)
    np.testing.assert_array_equal(h.stats(layer)["norm"], rec.history.stats(layer)["norm"])
    loaded.figure("loss")
    # saving the loaded run again gives the same bytes (members carry no timestamps)
    again = tmp_path / "again.nnviz"
    loaded.save(again)
    m1, a1 = runfile.manifest_of(rec.as_run())
    m2, a2 = runfile.manifest_of(back.as_run())
    m1.pop("created"), m2.pop("created")
    assert m1 == m2
    assert [(n, a.tobytes()) for n, a in a1] == [(n, a.tobytes()) for n, a in a2]


def test_round_trip_keeps_nan_metrics_and_thinned_epochs(
    torch_run: Recorder, tmp_path: Path
) -> None:
    torch_run.save(tmp_path / "r.nnviz")
    back = nnv.load_recorder(tmp_path / "r.nnviz")
    weird = back.history.metrics["weird"]
    assert np.isnan(weird[0]) and weird[1] == -math.inf
    assert np.all(back.history.metrics["grad_inf"] == math.inf)
    assert back.thinned_epochs == torch_run.thinned_epochs
    thinned = back.thinned_epochs[0]
    with pytest.raises(KeyError, match="thinned"):
        back.history.weights("2", thinned)
    manifest = json.loads(zipfile.ZipFile(tmp_path / "r.nnviz").read("manifest.json"))
    assert manifest["snapshots"][1]["metrics"]["weird"] == "NaN"
    assert manifest["snapshots"][2]["metrics"]["weird"] == "-Infinity"
    assert manifest["format"] == "nnviz" and manifest["format_version"] == 1
    assert manifest["library_version"] == nnv.__version__
    assert manifest["settings"]["max_bytes"] == 120_000
    assert {tuple(s["full_shape"]) for s in manifest["samples"]} >= {(300, 16)}


def test_loaded_run_cannot_record(fake: None, tmp_path: Path) -> None:
    fake_run().save(tmp_path / "r.nnviz")
    viz = nnv.load(tmp_path / "r.nnviz")
    assert viz.recorder.loaded and viz.recorder.model is None
    with pytest.raises(RuntimeError, match=r"loaded from a file.*can't record"):
        viz.record(10, loss=0.1)
    with pytest.raises(RuntimeError, match="can't record"):
        viz.recorder.record(10)


def test_a_loaded_recorder_has_every_attribute_of_a_live_one(fake: None, tmp_path: Path) -> None:
    """Recorder.from_snapshots must set whatever Recorder.__init__ sets (guards against drift)."""
    rec = fake_run(epochs=1)
    rec.save(tmp_path / "r.nnviz")
    loaded = nnv.load_recorder(tmp_path / "r.nnviz")
    assert set(vars(rec)) - set(vars(loaded)) == set()


def test_no_pickle_anywhere(fake: None, tmp_path: Path) -> None:
    path = tmp_path / "r.nnviz"
    fake_run().save(path)
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.endswith(".npy"):
                arr = np.load(io.BytesIO(zf.read(name)), allow_pickle=False)
                assert arr.dtype != object


# ------------------------------------------------------------------------------------------------
# damaged files


@pytest.fixture
def good(fake: None, tmp_path: Path) -> tuple[Path, Recorder]:
    rec = fake_run(epochs=4, sizes=(784, 64, 10), max_bytes=300_000)
    path = tmp_path / "good.nnviz"
    rec.save(path)
    return path, rec


def _rewrite(src: Path, dst: Path, edit: Any) -> None:
    """Copy a run file, letting edit(name, bytes) -> bytes | None change or drop members."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = edit(info.filename, zin.read(info))
            if data is not None:
                zout.writestr(info.filename, data)


def _edit_manifest(src: Path, dst: Path, change: Any) -> None:
    def edit(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        m = json.loads(data)
        change(m)
        return json.dumps(m).encode()

    _rewrite(src, dst, edit)


def test_not_a_zip_and_empty(tmp_path: Path) -> None:
    (tmp_path / "empty.nnviz").write_bytes(b"")
    with pytest.raises(nnv.RunFileError, match="empty"):
        nnv.load(tmp_path / "empty.nnviz")
    (tmp_path / "text.nnviz").write_text("hello, I am not a run")
    with pytest.raises(nnv.RunFileError, match=r"not a \.nnviz file"):
        nnv.load(tmp_path / "text.nnviz")
    np.save(tmp_path / "arr.npy", np.zeros(3))
    with pytest.raises(nnv.RunFileError, match=r"not a \.nnviz file"):
        nnv.load(tmp_path / "arr.npy")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(nnv.RunFileError, match=r"no manifest\.json"):
        nnv.load(tmp_path / "other.zip")
    with pytest.raises(FileNotFoundError):
        nnv.load(tmp_path / "missing.nnviz")
    assert issubclass(nnv.RunFileError, ValueError)


def test_truncated_files(good: tuple[Path, Recorder], tmp_path: Path) -> None:
    path, _ = good
    data = path.read_bytes()
    n = len(data)
    for cut in sorted({1, 4, 30, 100, 1000, n // 4, n // 2, 3 * n // 4, n - 100, n - 22, n - 1}):
        bad = tmp_path / f"cut{cut}.nnviz"
        bad.write_bytes(data[:cut])
        with pytest.raises(nnv.RunFileError) as e:
            nnv.load(bad)
        assert str(bad) in str(e.value)


def test_flipped_bytes(good: tuple[Path, Recorder], tmp_path: Path) -> None:
    """A flipped byte is either caught (RunFileError) or lands where it changes nothing read
    (e.g. a zip timestamp): never another exception, never a different run."""
    path, rec = good
    data = path.read_bytes()
    raised = 0
    offsets = sorted(set(range(0, len(data), max(1, len(data) // 150))) | {len(data) - 3})
    bad = tmp_path / "flip.nnviz"
    for off in offsets:
        flipped = bytearray(data)
        flipped[off] ^= 0xFF
        bad.write_bytes(bytes(flipped))
        try:
            back = nnv.load_recorder(bad)
        except nnv.RunFileError:
            raised += 1
        else:
            assert_same_run(rec, back)
    assert raised / len(offsets) > 0.9, (raised, len(offsets))
    # the "encrypted" flag of the first central-directory entry (the manifest's)
    flipped = bytearray(data)
    flipped[data.index(b"PK\x01\x02") + 8] ^= 0x01
    bad.write_bytes(bytes(flipped))
    with pytest.raises(nnv.RunFileError, match="encrypted"):
        nnv.load_recorder(bad)
    # a flip that changes what is read is always caught (the member's CRC-32, or the deflate
    # stream): anywhere in an array's data and inside the manifest's stream; near the end of
    # the deflate stream a flip may hit padding bits (where, depends on the content): then
    # the run read back must be the same run
    with zipfile.ZipFile(path) as zf:
        manifest, array = zf.getinfo("manifest.json"), zf.infolist()[5]
    for info, offsets_in in (
        (manifest, [1, 100, manifest.compress_size // 3, manifest.compress_size - 2]),
        (array, [0, 10, 64, 127, array.compress_size // 2, array.compress_size - 1]),
    ):
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        for off in offsets_in:
            flipped = bytearray(data)
            flipped[start + off] ^= 0x01
            bad.write_bytes(bytes(flipped))
            tail = info.compress_type == zipfile.ZIP_DEFLATED and off >= info.compress_size - 2
            if tail:
                try:
                    back = nnv.load_recorder(bad)
                except nnv.RunFileError as e:
                    assert "corrupted" in str(e)
                else:
                    assert_same_run(rec, back)
                continue
            with pytest.raises(nnv.RunFileError, match="corrupted"):
                nnv.load_recorder(bad)


def test_newer_and_wrong_versions(good: tuple[Path, Recorder], tmp_path: Path) -> None:
    path, _ = good
    bad = tmp_path / "v.nnviz"
    _edit_manifest(path, bad, lambda m: m.update(format_version=2, library_version="9.0"))
    with pytest.raises(
        nnv.RunFileError, match=r"version 2 \(nnviz-widget 9.0\).*up to version 1.*upgrade"
    ):
        nnv.load(bad)
    _edit_manifest(path, bad, lambda m: m.update(format_version=0))
    with pytest.raises(nnv.RunFileError, match="format_version"):
        nnv.load(bad)
    _edit_manifest(path, bad, lambda m: m.update(format_version="1"))
    with pytest.raises(nnv.RunFileError, match="format_version: expected an integer"):
        nnv.load(bad)
    _edit_manifest(path, bad, lambda m: m.update(format="tensorboard"))
    with pytest.raises(nnv.RunFileError, match="format 'tensorboard'"):
        nnv.load(bad)


def test_missing_member(good: tuple[Path, Recorder], tmp_path: Path) -> None:
    path, _ = good
    bad = tmp_path / "m.nnviz"
    _rewrite(path, bad, lambda name, data: None if name == "arrays/000003.npy" else data)
    with pytest.raises(nnv.RunFileError, match=r"'arrays/000003.npy' .* is missing"):
        nnv.load(bad)
    _rewrite(path, bad, lambda name, data: None if name == "manifest.json" else data)
    with pytest.raises(nnv.RunFileError, match=r"no manifest\.json"):
        nnv.load(bad)


def _npy(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def _member_of(path: Path, group: str) -> tuple[str, dict[str, Any]]:
    m = json.loads(zipfile.ZipFile(path).read("manifest.json"))
    ref = next(a for a in m["snapshots"][1]["arrays"] if a["group"] == group)
    return ref["member"], ref


def test_arrays_that_disagree_with_the_manifest(
    good: tuple[Path, Recorder], tmp_path: Path
) -> None:
    path, _ = good
    bad = tmp_path / "a.nnviz"
    member, ref = _member_of(path, "weights")
    shape = ref["shape"]
    # another shape, same number of bytes
    other = np.zeros((*shape, 1), np.float16)
    _rewrite(path, bad, lambda n, d: _npy(other) if n == member else d)
    with pytest.raises(nnv.RunFileError, match=r"has shape \[.*, 1\]; the manifest says"):
        nnv.load(bad)
    # another dtype
    wrong = np.zeros(shape, np.float32)
    _rewrite(path, bad, lambda n, d: _npy(wrong) if n == member else d)
    with pytest.raises(nnv.RunFileError, match="float16"):
        nnv.load(bad)

    # the manifest lies about the shape
    def lie(m: dict[str, Any]) -> None:
        for a in m["snapshots"][1]["arrays"]:
            if a["member"] == member:
                a["shape"] = [*shape[:-1], shape[-1] + 1]

    _edit_manifest(path, bad, lie)
    with pytest.raises(nnv.RunFileError, match=member):
        nnv.load(bad)
    # garbage in an .npy member
    _rewrite(path, bad, lambda n, d: b"\x93NUMPY" + b"\0" * (len(d) - 6) if n == member else d)
    with pytest.raises(nnv.RunFileError, match=r"not a valid \.npy"):
        nnv.load(bad)


PICKLE_RAN: list[str] = []


def _pwned(tag: str) -> str:
    PICKLE_RAN.append(tag)
    return tag


class _Boom:
    def __reduce__(self) -> tuple[Any, ...]:
        return (_pwned, ("unpickled!",))


def pickle_runs(payload: bytes) -> bool:
    np.load(io.BytesIO(payload), allow_pickle=True)
    return PICKLE_RAN == ["unpickled!"] * 64 or bool(PICKLE_RAN)


def test_a_pickled_member_is_never_unpickled(good: tuple[Path, Recorder], tmp_path: Path) -> None:
    path, _ = good
    member, _ = _member_of(path, "hists")
    evil = np.empty(64, dtype=object)
    evil[:] = [_Boom()] * 64
    payload = _npy(evil, allow_pickle=True)
    bad = tmp_path / "p.nnviz"
    _rewrite(path, bad, lambda n, d: payload if n == member else d)
    assert pickle_runs(payload)  # the payload does run code when unpickled
    PICKLE_RAN.clear()
    with pytest.raises(nnv.RunFileError):
        nnv.load(bad)

    # and with the manifest saying "object" too
    def obj(m: dict[str, Any]) -> None:
        for a in m["snapshots"][1]["arrays"]:
            if a["member"] == member:
                a["dtype"] = "object"

    _rewrite(path, bad, lambda n, d: payload if n == member else d)
    _edit_manifest(bad, tmp_path / "p2.nnviz", obj)
    with pytest.raises(nnv.RunFileError, match="'object' is not one of"):
        nnv.load(tmp_path / "p2.nnviz")
    assert PICKLE_RAN == []


def test_bad_manifest_fields_are_named(good: tuple[Path, Recorder], tmp_path: Path) -> None:
    path, _ = good
    bad = tmp_path / "f.nnviz"
    cases = [
        (
            lambda m: m["snapshots"][1]["metrics"].update(loss="lots"),
            r"snapshots\[1\]\.metrics\['loss'\]",
        ),
        (lambda m: m["snapshots"][2].update(epoch=-5), r"snapshots\[2\]\.epoch"),
        (
            lambda m: m["snapshots"][3].update(epoch=0),
            r"snapshots\[3\]\.epoch: epochs must increase",
        ),
        (
            lambda m: m["graph"]["layers"][1].update(kind="wormhole"),
            "unknown layer kind 'wormhole'",
        ),
        (lambda m: m["graph"].update(edges=[["x", "nowhere"]]), "nowhere"),
        (lambda m: m["snapshots"][1]["stats"].update(ghost={"mean": 1.0}), "'ghost'"),
        (lambda m: m["settings"].pop("max_bytes"), "missing field 'max_bytes'"),
        (lambda m: m.update(snapshots=[]), "no snapshots"),
        (lambda m: m["snapshots"][1]["arrays"][0].update(group="secrets"), "unknown array group"),
        (lambda m: m["samples"][0].update(full_shape=[2, 2]), "past the end"),
    ]
    for change, message in cases:
        _edit_manifest(path, bad, change)
        with pytest.raises(nnv.RunFileError, match=message):
            nnv.load(bad)
    _rewrite(path, bad, lambda n, d: b"{not json" if n == "manifest.json" else d)
    with pytest.raises(nnv.RunFileError, match="not valid JSON"):
        nnv.load(bad)
    _rewrite(path, bad, lambda n, d: b'{"format": NaN}' if n == "manifest.json" else d)
    with pytest.raises(nnv.RunFileError, match="NaN"):
        nnv.load(bad)


# ------------------------------------------------------------------------------------------------
# hostile files: each one RunFileError that says what is wrong, before allocating what it declares


def _load_peak(path: Path, match: str) -> int:
    """Load a file that must be refused; returns the peak of Python-traced memory (numpy's
    arrays included) while it ran."""
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(nnv.RunFileError, match=match):
            nnv.load(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _assert_lean(path: Path, match: str) -> None:
    peak = _load_peak(path, match)
    assert peak < path.stat().st_size + 100 * 2**20, f"{peak:,} bytes traced"


def _npy_header(shape: tuple[int, ...], descr: str = "<f2") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buf.getvalue()


def test_a_header_declaring_a_huge_shape_is_refused_before_allocating(
    good: tuple[Path, Recorder], tmp_path: Path
) -> None:
    path, _ = good
    member, ref = _member_of(path, "weights")
    assert ref["dtype"] == "float16"
    bad = tmp_path / "huge.nnviz"
    # the member's header says 100000 x 100000 (18.6 GiB of float16); its size and the
    # manifest say the real shape
    _rewrite(
        path,
        bad,
        lambda n, d: _npy_header((100000, 100000)) + d[128:] if n == member else d,
    )
    _assert_lean(bad, r"has shape \[100000, 100000\]; the manifest says")

    # the manifest says so too: its size in the zip directory gives it away
    def huge(m: dict[str, Any]) -> None:
        for a in m["snapshots"][1]["arrays"]:
            if a["member"] == member:
                a["shape"] = [100000, 100000]

    _rewrite(path, bad, lambda n, d: _npy_header((100000, 100000)) + d[128:] if n == member else d)
    _edit_manifest(bad, tmp_path / "huge2.nnviz", huge)
    _assert_lean(tmp_path / "huge2.nnviz", r"takes 20,000,000,000 bytes")


def test_hostile_members_and_manifests(good: tuple[Path, Recorder], tmp_path: Path) -> None:
    path, _ = good
    member, ref = _member_of(path, "weights")
    shape = ref["shape"]
    n = int(np.prod(shape))
    PICKLE_RAN.clear()
    evil = np.empty(n // 4, dtype=object)  # about as many bytes as the real member
    evil[:] = [_Boom()] * evil.size
    members: list[tuple[str, Any, str]] = [
        # a truncated member (half its bytes)
        ("truncated", lambda d: d[: len(d) // 2], r"holds [\d,]+ bytes; a float16 array"),
        # its data cut but its size kept: the header promises more than there is
        (
            "cut data",
            lambda d: _npy_header((*shape[:-1], shape[-1] + 8))[: len(d)] + d[128 : len(d) - 8],
            r"has shape .*; the manifest says",
        ),
        # text, a complex number, an object array (pickled) where float16 should be
        (
            "text",
            lambda d: _npy_header(tuple(shape), "<U1") + d[128:],
            r"has dtype <U1; the manifest says float16",
        ),
        (
            "complex",
            lambda d: _npy_header(tuple(shape), "<c8") + d[128:],
            r"has dtype <c8",
        ),
        (
            "pickle",
            lambda d: (_npy(evil, allow_pickle=True) + b"\0" * len(d))[: len(d)],
            r"holds Python objects \(pickled data\)",
        ),
        ("not npy", lambda d: b"PK\x03\x04" * (len(d) // 4), r"not a valid \.npy array"),
        # bytes after the array
        ("trailing", lambda d: d + b"x", r"bytes past its array"),
    ]
    bad = tmp_path / "h.nnviz"
    for what, change, message in members:
        _rewrite(path, bad, lambda name, d, change=change: change(d) if name == member else d)
        with pytest.raises(nnv.RunFileError, match=message) as e:
            nnv.load(bad)
        assert str(e.value).startswith(f"{bad}: member {member!r}"), what
    assert PICKLE_RAN == []

    manifests: list[tuple[Any, str]] = [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "not UTF-8"),
        (b"definitely not json", "not valid JSON"),
        (b"[" * 100_000, "nested too deeply|not valid JSON"),
        (b'["a list"]', "expected an object, got a list"),
        (b'{"format": Infinity}', "Infinity"),
    ]
    for text, message in manifests:
        _rewrite(path, bad, lambda name, d, text=text: text if name == "manifest.json" else d)
        with pytest.raises(nnv.RunFileError, match=message):
            nnv.load(bad)

    def lie(change: Any) -> Path:
        def edit(m: dict[str, Any]) -> None:
            for a in m["snapshots"][1]["arrays"]:
                if a["member"] == member:
                    change(a)

        _edit_manifest(path, bad, edit)
        return bad

    for change, message in [
        (lambda a: a.update(shape=[-1, 4]), r"shape\[0\]: -1 is out of range"),
        (lambda a: a.update(shape=[2**40] * 8), "implausibly large"),
        (lambda a: a.update(shape="big"), "expected a list"),
        (lambda a: a.update(dtype="object"), "'object' is not one of"),
        (lambda a: a.update(dtype="complex64"), "'complex64' is not one of"),
        (lambda a: a.update(member="../../etc/passwd"), "missing from the archive"),
    ]:
        with pytest.raises(nnv.RunFileError, match=message):
            nnv.load(lie(change))


def _zip_with_big_member(
    src: Path, dst: Path, name: str, size: int, fill: bytes = b"\0", prefix: bytes = b""
) -> None:
    """src with member `name` replaced by `size` bytes of `fill`, deflated, streamed (the test
    never holds them in memory)."""
    chunk = fill * (2**20 // len(fill))
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename != name:
                zout.writestr(info.filename, zin.read(info))
                continue
            big = zipfile.ZipInfo(name)
            big.compress_type = zipfile.ZIP_DEFLATED
            with zout.open(big, "w", force_zip64=True) as f:
                f.write(prefix)
                left = size - len(prefix)
                while left > 0:
                    f.write(chunk[:left])
                    left -= len(chunk)


def test_zip_bombs_are_refused_from_the_zip_directory(
    good: tuple[Path, Recorder], tmp_path: Path
) -> None:
    path, _ = good
    member, _ = _member_of(path, "weights")
    # an array member of 256 MiB of zeros (256 kB deflated), the manifest saying that shape
    shape = [2**14, 2**13]

    def says(m: dict[str, Any]) -> None:
        for a in m["snapshots"][1]["arrays"]:
            if a["member"] == member:
                a["shape"] = shape

    said, bomb = tmp_path / "said.nnviz", tmp_path / "bomb.nnviz"
    _edit_manifest(path, said, says)
    _zip_with_big_member(said, bomb, member, 2**28 + 128, prefix=_npy_header(tuple(shape)))
    assert bomb.stat().st_size < 2 * 2**20
    _assert_lean(bomb, r"arrays unpack to 268,[\d,]+ bytes more .* a zip bomb")
    # a manifest padded with 48 MiB of spaces (valid JSON, 50 kB deflated)
    padded = tmp_path / "padded.nnviz"
    manifest = zipfile.ZipFile(path).read("manifest.json")
    _zip_with_big_member(path, padded, "manifest.json", 48 * 2**20, b" ", prefix=manifest)
    _assert_lean(padded, r"manifest\.json unpacks [\d,]+-fold .* zip bomb")


# ------------------------------------------------------------------------------------------------
# writing: overwrite protection, atomicity, distributed training


def test_existing_paths_need_overwrite(fake: None, tmp_path: Path) -> None:
    rec = fake_run(epochs=2)
    path = tmp_path / "r.nnviz"
    rec.save(path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        rec.save(path)
    assert path.read_bytes() == before
    rec.record(5, loss=0.1)
    rec.save(path, overwrite=True)
    assert nnv.load_recorder(path).history.epochs == [0, 1, 5]
    viz = nnv.NNViz(rec)
    page = tmp_path / "r.html"
    viz.to_html(page)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        viz.to_html(page)
    viz.to_html(page, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.nnviz"]


def test_a_failed_write_leaves_the_old_file(
    fake: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = fake_run(epochs=3)
    path = tmp_path / "r.nnviz"
    rec.save(path)
    before = path.read_bytes()
    rec.record(7, loss=0.01)
    real_save = np.save
    calls = {"n": 0}

    def crashing_save(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError("disk full (simulated)")
        real_save(*args, **kwargs)

    monkeypatch.setattr(np, "save", crashing_save)
    with pytest.raises(OSError, match="disk full"):
        rec.save(path, overwrite=True)
    assert path.read_bytes() == before  # the old run, intact
    assert [p.name for p in tmp_path.iterdir()] == ["r.nnviz"]  # no temporary file left
    calls["n"] = 0
    with pytest.raises(OSError, match="disk full"):
        rec.save(tmp_path / "new.nnviz")
    assert [p.name for p in tmp_path.iterdir()] == ["r.nnviz"]
    monkeypatch.setattr(np, "save", real_save)
    rec.save(path, overwrite=True)
    assert nnv.load_recorder(path).history.epochs == [0, 1, 2, 7]


def test_saving_every_epoch_during_training(fake: None, tmp_path: Path) -> None:
    m = FakeModel((8, 4, 2))
    rec = Recorder(m)
    path = tmp_path / "live.nnviz"
    for e in range(5):
        m.step(seed=e)
        rec.record(e, loss=1.0 / (e + 1))
        rec.save(path, overwrite=True)
        assert nnv.load_recorder(path).history.epochs == list(range(e + 1))
    assert [p.name for p in tmp_path.iterdir()] == ["live.nnviz"]


def _fake_torch(rank: int, initialized: bool = True) -> types.ModuleType:
    torch = types.ModuleType("torch")
    dist = types.SimpleNamespace(
        is_available=lambda: True, is_initialized=lambda: initialized, get_rank=lambda: rank
    )
    torch.distributed = dist  # type: ignore[attr-defined]
    return torch


def test_only_rank_zero_writes(fake: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rec = fake_run(epochs=1)
    monkeypatch.setitem(sys.modules, "torch", _fake_torch(rank=1))
    assert rec.save(tmp_path / "r1.nnviz") is None
    assert not (tmp_path / "r1.nnviz").exists()
    monkeypatch.setitem(sys.modules, "torch", _fake_torch(rank=0))
    assert rec.save(tmp_path / "r0.nnviz") == tmp_path / "r0.nnviz"
    monkeypatch.setitem(sys.modules, "torch", _fake_torch(rank=3, initialized=False))
    assert rec.save(tmp_path / "single.nnviz") is not None


def test_rank_check_never_imports_torch() -> None:
    code = (
        "import sys, nnviz_widget.runfile as s; assert not s.other_rank(); "
        "assert 'torch' not in sys.modules and 'tensorflow' not in sys.modules; print('ok')"
    )
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "ok"


# ------------------------------------------------------------------------------------------------
# property tests: manifest fields round trip; garbage manifests are RunFileError


finite_or_not = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0, 1e-308, 1.7976931348623157e308]),
)
names = st.text(min_size=1, max_size=20)  # unicode, HTML, quotes, "</script>"
hostile = st.one_of(
    names, st.sampled_from(["</script><script>alert(1)</script>", "<!--", "a&b", '"', "\u2028"])
)


@HYP
@given(
    metrics=st.lists(st.dictionaries(hostile, finite_or_not, max_size=5), min_size=1, max_size=4),
    labels=st.lists(hostile, min_size=5, max_size=5),
    gaps=st.lists(st.integers(1, 10**6), min_size=4, max_size=4),
)
def test_manifest_fields_round_trip(
    fake: None,
    tmp_path_factory: pytest.TempPathFactory,
    metrics: list[dict[str, float]],
    labels: list[str],
    gaps: list[int],
) -> None:
    m = FakeModel((6, 5, 3))
    rec = Recorder(m, max_bytes=50_000)
    epoch = -1
    for i, mets in enumerate(metrics):
        epoch += gaps[i]
        m.step(seed=i)
        rec.record(epoch, **mets)
    rec.flush()
    for snap, label in zip(rec.snapshots, labels, strict=False):
        snap.label = label
    path = tmp_path_factory.mktemp("prop") / "r.nnviz"
    rec.save(path)
    back = nnv.load_recorder(path)
    assert_same_run(rec, back)
    page = widget.html_page(back)
    state = page.split('id="nnviz-state">', 1)[1].split("</script>", 1)[0]
    assert "<" not in state  # nothing in the data can close the script element
    assert json.loads(state)["snapshots"][-1]["header"]["label"] == rec.snapshots[-1].label


@pytest.fixture(scope="module")
def valid_manifest(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, Any], dict[str, bytes]]:
    mp = pytest.MonkeyPatch()
    patch_adapt(mp)
    try:
        rec = fake_run(epochs=3, sizes=(20, 8, 3), max_bytes=8_000)
    finally:
        mp.undo()
    manifest, arrays = runfile.manifest_of(rec.as_run())
    return manifest, {name: _npy(a) for name, a in arrays}


def _zip(manifest_bytes: bytes, members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("manifest.json", manifest_bytes)
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _load_bytes(tmp: Path, data: bytes) -> Recorder | None:
    path = tmp / "g.nnviz"
    path.write_bytes(data)
    try:
        rec = nnv.load_recorder(path)
    except nnv.RunFileError:
        return None
    return rec


@HYP
@given(garbage=json_values)
def test_garbage_manifests_are_run_file_errors(
    tmp_path_factory: pytest.TempPathFactory,
    valid_manifest: tuple[dict[str, Any], dict[str, bytes]],
    garbage: Any,
) -> None:
    _, members = valid_manifest
    tmp = tmp_path_factory.mktemp("garbage")
    assert _load_bytes(tmp, _zip(json.dumps(garbage).encode(), members)) is None
    # garbage with the right format header goes further in, and still fails cleanly
    if isinstance(garbage, dict):
        garbage.update(format="nnviz", format_version=1)
        assert _load_bytes(tmp, _zip(json.dumps(garbage).encode(), members)) is None


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@HYP
@given(data=st.data(), replacement=json_values)
def test_mutated_manifests_load_cleanly_or_fail_cleanly(
    tmp_path_factory: pytest.TempPathFactory,
    valid_manifest: tuple[dict[str, Any], dict[str, bytes]],
    data: st.DataObject,
    replacement: Any,
) -> None:
    """Any one field replaced by any JSON value: a RunFileError, or a run the widget and the
    page can show. Never another exception."""
    manifest, members = valid_manifest
    m = json.loads(json.dumps(manifest))
    paths = [p for p in _paths(m) if p]
    path = data.draw(st.sampled_from(paths))
    target = m
    for k in path[:-1]:
        target = target[k]
    assume(target[path[-1]] != replacement)
    target[path[-1]] = replacement
    rec = _load_bytes(tmp_path_factory.mktemp("mut"), _zip(json.dumps(m).encode(), members))
    if rec is not None:
        viz = nnv.NNViz(rec)
        widget.html_page(viz)
        viz.figure("loss")


# ------------------------------------------------------------------------------------------------
# the page


def test_page_is_self_contained(fake: None, tmp_path: Path) -> None:
    rec = fake_run(epochs=3, sizes=(30, 12, 4))
    viz = nnv.NNViz(rec, layer="fc1", mode="2d")
    path = viz.to_html(tmp_path / "p.html", title="My <run> & more")
    page = path.read_text(encoding="utf-8")
    assert "<title>My &lt;run&gt; &amp; more</title>" in page
    assert not re.search(r"<script[^>]+src=", page)  # nothing loaded from anywhere
    assert not re.search(r"<link[^>]+href=", page)
    assert "require.js" not in page
    state = json.loads(page.split('id="nnviz-state">', 1)[1].split("</script>", 1)[0])
    assert state["traits"]["layer"] == "fc1" and state["traits"]["mode"] == "2d"
    assert state["traits"]["_graph"] == viz._graph
    assert [s["header"]["epoch"] for s in state["snapshots"]] == [-1, 0, 1, 2]
    for s, (_, data) in zip(state["snapshots"], viz._snapshot_parts(), strict=True):
        assert base64.b64decode(s["data"]) == data
    # size: about the bundle plus the data (base64: 4/3)
    bundle = export.standalone_bundle()
    data = sum(len(m.data) for m in viz._snapshots)
    assert len(page) < len(bundle) + data * 4 / 3 + 64_000


def test_to_html_of_a_recorder_or_a_file(fake: None, tmp_path: Path) -> None:
    rec = fake_run(epochs=2)
    nnv.to_html(rec, tmp_path / "a.html")
    rec.save(tmp_path / "r.nnviz")
    nnv.to_html(nnv.load_recorder(tmp_path / "r.nnviz"), tmp_path / "b.html")
    a = (tmp_path / "a.html").read_text()
    b = (tmp_path / "b.html").read_text()
    state = [x.split('id="nnviz-state">', 1)[1].split("</script>", 1)[0] for x in (a, b)]
    assert state[0] == state[1]


# ------------------------------------------------------------------------------------------------
# to_png


def test_to_png_without_a_live_view_says_to_display_first(fake: None, tmp_path: Path) -> None:
    viz = nnv.NNViz(fake_run(epochs=1))
    with pytest.raises(RuntimeError, match="last expression of a cell"):
        viz.to_png(tmp_path / "v.png")
    assert not (tmp_path / "v.png").exists()


PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def test_to_png_writes_the_views_answer(
    fake: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    viz = nnv.NNViz(fake_run(epochs=1))
    monkeypatch.setattr(png, "_kernel", lambda: object())  # "in a kernel", no pump available
    sent: list[Any] = []

    def answer(content: Any, buffers: Any = None) -> None:  # the view, answering at once
        sent.append(content)
        url = "data:image/png;base64," + base64.b64encode(PNG_1PX).decode()
        viz._handle_custom_msg({"type": "png", "id": "someone else's", "data": "x"}, [])
        viz._handle_custom_msg({"type": "png", "id": content["id"], "data": url}, [])

    monkeypatch.setattr(viz, "send", answer)
    out = viz.to_png(tmp_path / "v.png")
    assert out.read_bytes() == PNG_1PX
    assert sent[0]["type"] == "png" and len(sent[0]["id"]) == 16
    with pytest.raises(FileExistsError, match="overwrite=True"):
        viz.to_png(tmp_path / "v.png")
    assert len(sent) == 1  # refused before asking the browser
    viz.to_png(tmp_path / "v.png", overwrite=True)

    def hidden(content: Any, buffers: Any = None) -> None:
        viz._handle_custom_msg({"type": "png", "id": content["id"], "error": "not visible"}, [])

    monkeypatch.setattr(viz, "send", hidden)
    with pytest.raises(RuntimeError, match="not visible"):
        viz.to_png(tmp_path / "w.png")

    monkeypatch.setattr(viz, "send", lambda content, buffers=None: None)  # nobody answers
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match=r"no view .* answered within 0.3 s.*last expression"):
        viz.to_png(tmp_path / "x.png", timeout=0.3)
    assert time.monotonic() - t0 < 3
    assert not (tmp_path / "w.png").exists() and not (tmp_path / "x.png").exists()


def test_to_png_in_a_real_kernel_pumps_messages_and_keeps_queued_cells(tmp_path: Path) -> None:
    """A real ipykernel runs `viz.to_png(...)` inside a cell; this test plays the browser: it
    answers the png request on the shell channel, after queueing another cell. The answer is
    read while the cell runs, and the queued cell still runs, after it."""
    jc = pytest.importorskip("jupyter_client.manager")
    mp = pytest.MonkeyPatch()
    patch_adapt(mp)
    try:
        fake_run(epochs=2, sizes=(8, 4, 2)).save(tmp_path / "r.nnviz")
    finally:
        mp.undo()
    try:
        km, kc = jc.start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    except Exception as e:  # no kernelspec: `python -m ipykernel install --sys-prefix`
        pytest.skip(f"no python3 kernel: {e}")
    url = "data:image/png;base64," + base64.b64encode(PNG_1PX).decode()
    try:
        first = kc.execute(
            "import nnviz_widget as nnv\nviz = nnv.load('r.nnviz')\n"
            "print('png', viz.to_png('view.png', timeout=20).stat().st_size)"
        )
        second = None
        out: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                msg = kc.get_iopub_msg(timeout=1)
            except queue.Empty:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out.append(content["text"])
            if kind == "error":
                pytest.fail(f"{content['ename']}: {content['evalue']}")
            data = content.get("data", {}) if kind == "comm_msg" else {}
            if data.get("method") == "custom" and data["content"].get("type") == "png":
                second = kc.execute("print('second cell ran')")
                time.sleep(0.2)
                reply = {"type": "png", "id": data["content"]["id"], "data": url}
                kc.shell_channel.send(
                    kc.session.msg(
                        "comm_msg",
                        {
                            "comm_id": content["comm_id"],
                            "data": {"method": "custom", "content": reply},
                        },
                    )
                )
            state = content.get("execution_state") if kind == "status" else None
            if state == "idle" and second and msg["parent_header"].get("msg_id") == second:
                break
        # only the two cells' replies: wait_for_ready's kernel_info replies may still be queued
        replies = []
        while len(replies) < 2:
            reply = kc.get_shell_msg(timeout=10)
            if reply["msg_type"] == "execute_reply":
                replies.append(reply)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert "".join(out).splitlines() == [f"png {len(PNG_1PX)}", "second cell ran"]
    assert [r["parent_header"]["msg_id"] for r in replies] == [first, second]
    assert all(r["content"]["status"] == "ok" for r in replies)
    assert (tmp_path / "view.png").read_bytes() == PNG_1PX


# ------------------------------------------------------------------------------------------------
# command line


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [PY, "-m", "nnviz_widget", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def test_cli_export(fake: None, tmp_path: Path) -> None:
    fake_run(epochs=2).save(tmp_path / "run.nnviz")
    r = _cli("export", "run.nnviz", "-o", "run.html", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "wrote run.html" in r.stdout
    assert 'id="nnviz-state"' in (tmp_path / "run.html").read_text()
    r = _cli("export", "run.nnviz", "-o", "run.html", cwd=tmp_path)
    assert r.returncode == 1 and "--overwrite" not in r.stderr and "overwrite" in r.stderr
    assert (
        _cli("export", "run.nnviz", "-o", "run.html", "--overwrite", cwd=tmp_path).returncode == 0
    )
    (tmp_path / "bad.nnviz").write_bytes(b"PK\x03\x04 truncated")
    r = _cli("export", "bad.nnviz", cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.startswith("nnviz: error: bad.nnviz:")
    assert "Traceback" not in r.stderr
    r = _cli("export", "nope.nnviz", cwd=tmp_path)
    assert r.returncode == 1 and "no such file" in r.stderr
    assert _cli("export", cwd=tmp_path).returncode == 2
    assert _cli("frobnicate", cwd=tmp_path).returncode == 2


def test_cli_demo(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    r = _cli("demo", "-o", "demo.html", "--epochs", "3", "--save", "demo.nnviz", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "demo.html").read_text()
    state = json.loads(page.split('id="nnviz-state">', 1)[1].split("</script>", 1)[0])
    assert [s["header"]["epoch"] for s in state["snapshots"]] == [-1, 0, 1, 2]
    assert "val_accuracy" in state["snapshots"][-1]["header"]["metrics"]
    run = nnv.load_recorder(tmp_path / "demo.nnviz")
    assert run.graph.names[:3] == ["input", "fc1", "relu1"]
    assert run.history.metrics["loss"][-1] < run.history.metrics["loss"][0]
    r = _cli("demo", "-o", "demo.html", cwd=tmp_path)
    assert r.returncode == 1 and "exists" in r.stderr
    assert _cli("demo", cwd=tmp_path).returncode == 2


def test_a_damaged_module_tree(good: tuple[Path, Recorder], tmp_path: Path) -> None:
    path, _ = good
    bad = tmp_path / "m.nnviz"
    cases: list[tuple[Any, str]] = [
        ("nope", r"graph\.modules: expected a list"),
        ([{"parent": None}], r"graph\.modules\[0\]"),
        ([{"path": "a", "container": "yes"}], r"graph\.modules\[0\]\.container"),
        ([{"path": "a", "parent": "b"}], "before its parent"),
    ]
    for modules, match in cases:
        _edit_manifest(path, bad, lambda m, v=modules: m["graph"].__setitem__("modules", v))
        with pytest.raises(nnv.RunFileError, match=match):
            nnv.load(bad)
    tree = [{"path": "body", "parent": None, "class": "Body", "container": False}]
    _edit_manifest(path, bad, lambda m: m["graph"].__setitem__("modules", tree))
    assert [m.path for m in nnv.load(bad).graph.modules] == ["body"]
