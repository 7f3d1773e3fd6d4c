"""NNViz's synced state: binary snapshots, incremental sync, index mirrors, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import traitlets

import nnviz_widget as nnv
from nnviz_widget.wire import decode_snapshot, encode_snapshot

from .conftest import CommLog
from .fakes import FakeModel, patch_adapt


@pytest.fixture(autouse=True)
def _fake(monkeypatch: pytest.MonkeyPatch) -> None:
    patch_adapt(monkeypatch)


def _has_float_list(obj: object, min_len: int = 8) -> bool:
    """True where JSON state holds a list of floats (arrays must travel as buffers)."""
    if isinstance(obj, dict):
        return any(_has_float_list(v, min_len) for v in obj.values())
    if isinstance(obj, list):
        if len(obj) >= min_len and all(isinstance(x, float) for x in obj):
            return True
        return any(_has_float_list(v, min_len) for v in obj)
    return False


def test_state_is_graph_json_plus_binary_snapshots(comm_log: CommLog) -> None:
    viz = nnv.NNViz(FakeModel((64, 32, 10)))
    assert viz._graph["layers"][1]["name"] == "fc1"
    assert viz._graph["neuron_source"] == {"fc1": "x", "fc2": "fc1"}  # through relu1
    snap = viz._snapshots[0]
    assert isinstance(snap.data, bytes) and len(snap.data) > 64 * 32 * 2
    assert snap.meta["epoch"] == -1 and snap.meta["label"] == "init"
    for kind, data, _ in comm_log.messages:
        assert not _has_float_list(data), f"a JSON float list in a {kind} message"
    assert comm_log.binary_bytes >= 64 * 32 * 2


def test_wire_round_trip_exact() -> None:
    m = FakeModel((20, 7, 3))
    viz = nnv.NNViz(m)
    m.step()
    viz.record(0, loss=float("nan"), acc=0.5)
    snap = viz.recorder.snapshots[-1]
    header, data = encode_snapshot(snap)
    json.dumps(header, allow_nan=False)  # strictly valid JSON
    back = decode_snapshot(header, data)
    assert np.isnan(back["metrics"]["loss"]) and back["metrics"]["acc"] == 0.5
    for layer, params in snap.weights.items():
        for p, arr in params.items():
            np.testing.assert_array_equal(back["arrays"][("weight", layer, p)], arr)
    np.testing.assert_array_equal(back["arrays"][("hist", "fc1", "*")], snap.hists["fc1"])
    for ref in header["arrays"]:
        assert ref["offset"] % 8 == 0


def test_record_sends_only_the_new_epoch(comm_log: CommLog) -> None:
    m = FakeModel((100, 50, 10))
    viz = nnv.NNViz(m, sync_interval=0)  # every record sends at once
    one_epoch = len(viz._snapshots[0].data)
    for e in range(3):
        m.step(seed=e)
        viz.record(e, loss=1.0)
    comm_log.clear()
    m.step(seed=9)
    viz.record(3, loss=0.5)
    sent = comm_log.binary_bytes
    # one new snapshot's bytes (plus nothing else binary), not the 5 snapshots of history
    assert one_epoch * 0.8 <= sent <= one_epoch * 1.2, (sent, one_epoch)
    assert comm_log.json_bytes < 20_000


def test_fast_records_are_batched_then_flushed(comm_log: CommLog) -> None:
    m = FakeModel((100, 50, 10))
    viz = nnv.NNViz(m, sync_interval=3600)
    one_epoch = len(viz._snapshots[0].data)
    m.step(seed=0)
    viz.record(0, loss=1.0)  # the first goes at once
    assert [s.meta["epoch"] for s in viz._snapshots] == [-1, 0]  # one plain child each
    comm_log.clear()
    for e in range(1, 4):
        m.step(seed=e)
        viz.record(e, loss=1.0)
    assert comm_log.binary_bytes == 0 and viz.epoch == 3  # held back; epoch follows here
    viz.flush()  # (a notebook cell's end does this)
    # the batch is one child (a chunk) holding each held-back epoch's bytes once
    assert [h["epoch"] for h, _ in viz._snapshot_parts()] == [-1, 0, 1, 2, 3]
    assert len(viz._snapshots) == 3 and len(viz._snapshots[-1].meta["chunk"]) == 3
    assert one_epoch * 2.4 <= comm_log.binary_bytes <= one_epoch * 3.6  # no history again
    for header, data in viz._snapshot_parts()[2:]:
        back = decode_snapshot(header, data)
        snap = viz.recorder.snapshots[header["epoch"] + 1]
        np.testing.assert_array_equal(
            back["arrays"][("weight", "fc1", "weight")], snap.weights["fc1"]["weight"]
        )
    sent_epochs = [
        d["state"]["epoch"] for k, d, _ in comm_log.messages if "epoch" in d.get("state", {})
    ]
    assert sent_epochs[-1] == 3
    assert viz.history.epochs == [0, 1, 2, 3]
    # an exported page gets every epoch as its own snapshot (the page knows no chunks)
    state = viz._page_state()
    assert [s["header"]["epoch"] for s in state["snapshots"]] == [-1, 0, 1, 2, 3]


def test_thinning_and_replacing_inside_a_batch() -> None:
    """A batched child is re-sent whole when one of its epochs is thinned or replaced."""
    m = FakeModel((40, 20, 5))
    viz = nnv.NNViz(m, sync_interval=3600)
    for e in range(4):
        m.step(seed=e)
        viz.record(e, loss=float(e))
    viz.flush()
    assert len(viz._snapshots) == 3  # init, epoch 0 alone, then the chunk 1-3
    chunk = viz._snapshots[-1]
    with pytest.warns(UserWarning, match="replacing"):
        viz.record(3, loss=9.0)  # the last epoch of the chunk, recorded again
    # the chunk is re-encoded without it at once; the new epoch 3 goes with the next batch
    assert len(viz._snapshots) == 3 and chunk.comm is None
    assert len(viz._snapshots[-1].meta["chunk"]) == 2
    parts = viz._snapshot_parts()
    assert [h["epoch"] for h, _ in parts] == [-1, 0, 1, 2, 3]
    assert decode_snapshot(*parts[-1])["metrics"]["loss"] == 9.0
    assert len(viz._snapshots) == 4
    # thinning an epoch inside a chunk re-encodes that child
    chunk = viz._snapshots[2]
    snap = viz.recorder.snapshots[2]  # epoch 1
    snap.weights = {}
    snap.thinned = True
    viz.recorder._emit("thin", [snap])
    assert viz._snapshots[2] is not chunk and chunk.comm is None
    assert [h.get("thinned", False) for h, _ in viz._snapshot_parts()] == [
        False,
        False,
        True,
        False,
        False,
    ]


def test_live_follow_unless_scrubbed_back() -> None:
    m = FakeModel()
    viz = nnv.NNViz(m)
    assert viz.epoch == -1
    viz.record(0)
    viz.record(1)
    assert viz.epoch == 1  # follows the newest
    viz.epoch = 0  # the user scrubs back
    viz.record(2)
    assert viz.epoch == 0
    viz.epoch = 2
    viz.record(3)
    assert viz.epoch == 3


def test_index_mirrors() -> None:
    viz = nnv.NNViz(FakeModel())
    viz.layer = "fc2"
    assert viz._layer_index == viz.graph.names.index("fc2") + 1
    viz._layer_index = 0
    assert viz.layer == ""
    viz.mode = "2d"
    assert viz._mode_index == 1
    viz._color_index = 1
    assert viz.color_by == "delta"
    viz.delta_ref = "init"
    assert viz._delta_index == 1


def test_choices_are_sent_once_from_one_table() -> None:
    """The enum lists the browser uses come from Python's one table (controls.CHOICES): the
    traits' values, the index mirrors and the controls' options all agree with it."""
    from nnviz_widget.controls import CHOICES

    viz = nnv.NNViz(FakeModel())
    assert viz._choices == {
        "mode": ["3d", "2d"],
        "color_by": ["weight", "delta", "gradient", "activation"],
        "delta_ref": ["previous", "init"],
    }
    assert "_choices" in viz.get_state()
    assert viz._choice_labels["color_by"]["delta"] == "color: Δ weight"  # the page's own controls
    for trait, choice in CHOICES.items():
        assert list(viz.traits()[trait].values) == viz._choices[trait]
        for i, value in enumerate(choice.values):
            setattr(viz, trait, value)
            assert getattr(viz, choice.index) == i
    controls = viz.controls() and viz._controls
    assert controls is not None
    assert len(controls.color.options) == len(CHOICES["color_by"].values)
    assert list(controls.mode.options) == list(CHOICES["mode"].labels)


def test_epoch_must_be_in_the_recorded_range() -> None:
    viz = nnv.NNViz(FakeModel())  # nothing recorded yet: only init
    viz.epoch = -1
    with pytest.raises(traitlets.TraitError, match=r"epoch 0 is not in this run: only -1 \(init\)"):
        viz.epoch = 0
    for e in range(4):
        viz.record(e)  # pending: settable at once (the view follows them)
    assert viz.epoch == 3
    viz.epoch = 1
    viz.flush()
    for bad in (99, 4, -2):
        with pytest.raises(
            traitlets.TraitError, match=rf"epoch {bad} .*range is -1 \(init\) to 3$"
        ):
            viz.epoch = bad
    assert viz.epoch == 1  # unchanged
    viz.record(10)
    viz.epoch = 7  # a gap between recorded epochs: the view shows 3, as the slider does
    viz.epoch = 10


def test_unknown_layer_and_kwargs_rejected() -> None:
    viz = nnv.NNViz(FakeModel())
    with pytest.raises(traitlets.TraitError, match="no layer named 'nope'"):
        viz.layer = "nope"
    with pytest.raises(TypeError, match="unexpected keyword"):
        nnv.NNViz(FakeModel(), colour="red")


def test_not_a_model() -> None:
    with pytest.raises(TypeError, match=r"torch\.nn\.Module, a keras\.Model"):
        nnv.NNViz([1, 2, 3])


def test_controls_are_jslinked() -> None:
    viz = nnv.NNViz(FakeModel())
    box = viz.controls()
    assert viz.controls() is box  # built once
    assert viz._controls is not None
    sources = {(lk.source[0].model_id, lk.source[1]) for lk in viz._controls.links}
    for trait in ("_layer_index", "_mode_index", "_color_index", "_delta_index", "epoch", "sample"):
        assert (viz.model_id, trait) in sources, trait  # the view is the source of truth
    bundle = viz._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == box.model_id
    assert "layers" in repr(viz) and len(repr(viz)) < 200


def test_slider_range_grows_live() -> None:
    m = FakeModel()
    viz = nnv.NNViz(m)
    viz.controls()
    for e in range(5):
        viz.record(e)
    viz.flush()
    assert viz._controls is not None
    assert viz._controls.slider.min == -1 and viz._controls.slider.max == 4


def test_recorder_then_view() -> None:
    rec = nnv.Recorder(FakeModel())
    rec.record(0, loss=2.0)
    viz = nnv.NNViz(rec)
    assert len(viz._snapshots) == 2 and viz.history.epochs == [0]
    with pytest.raises(TypeError, match="takes no inputs"):
        nnv.NNViz(rec, inputs=np.zeros(3))


def test_figures() -> None:
    m = FakeModel((8, 6, 3))
    viz = nnv.NNViz(m)
    m.grads = {"fc1": {"weight": np.ones((6, 8), np.float32)}}
    for e in range(4):
        m.step(seed=e)
        viz.record(e, loss=1 / (e + 1), val_loss=float("nan") if e == 2 else 1.2, accuracy=0.5)
    loss = viz.figure("loss")
    names = {tr.name for tr in loss.data}
    assert {"loss", "val_loss", "accuracy", "val_loss: non-finite"} <= names
    w = viz.figure("weights")
    assert len([tr for tr in w.data if tr.type == "heatmap"]) == 2
    g = viz.figure("gradients")
    assert g.layout.yaxis.type == "log"
    u = viz.figure("updates")
    assert any(s.y0 == 1e-3 for s in u.layout.shapes)
    with pytest.raises(ValueError, match="choose one of"):
        viz.figure("nope")


def test_budget_holds_while_epochs_wait_to_be_sent() -> None:
    """Thinning reaches epochs not sent yet too; the notice says so; every epoch still arrives."""
    m = FakeModel((100, 50, 10))
    one = nnv.Recorder(FakeModel((100, 50, 10))).snapshots[0].nbytes
    viz = nnv.NNViz(m, max_bytes=12 * one, sync_interval=3600)
    for e in range(40):
        m.step(seed=e)
        viz.record(e, loss=1.0)
        if e % 10 == 9:
            viz.recorder.flush()  # the batch is thinned before it is sent
            assert viz.recorder.nbytes <= 12 * one
    assert viz.recorder.thinned_epochs and "thinned" in viz._notice
    viz.flush()
    assert [h["epoch"] for h, _ in viz._snapshot_parts()] == [-1, *range(40)]


def test_a_front_end_without_child_models_gets_bundle_and_snapshots_by_message(
    comm_log: CommLog,
) -> None:
    """loader.js and shell/ask.ts ask with custom messages where the widget manager can't
    resolve the BundleModel / SnapshotModels: the answers carry the bytes as buffers."""
    m = FakeModel((6, 4, 2))
    viz = nnv.NNViz(m, sync_interval=0)
    m.step()
    viz.record(0, loss=1.0)
    comm_log.clear()
    viz._handle_custom_msg({"kind": "nnviz:bundle?", "id": "b1"}, [])
    (_kind, data, bufs), *_ = comm_log.messages
    content = data["content"]
    assert content == {"kind": "nnviz:bundle", "id": "b1", "digest": viz._bundle.digest}
    assert bufs[0] == viz._bundle.code.encode()

    comm_log.clear()
    ids = [s.model_id for s in viz._snapshots] + ["gone"]
    viz._handle_custom_msg({"kind": "nnviz:snapshots?", "id": "s1", "ids": ids}, [])
    (_kind, data, bufs), *_ = comm_log.messages
    content = data["content"]
    assert content["id"] == "s1"
    assert [p["id"] for p in content["parts"]] == ids[:-1]  # an unknown id is left out
    assert [json.loads(p["header"])["epoch"] for p in content["parts"]] == [-1, 0]
    assert bufs == [s.data for s in viz._snapshots]
