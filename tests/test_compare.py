"""nnv.compare: two runs side by side, shared jslinked slider, loss figure, difference, page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as widgets
import numpy as np
import pytest
import torch
import traitlets

import nnviz_widget as nnv


def _run(hidden: int = 8, seed: int = 0, epochs: int = 3) -> nnv.NNViz:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 3)
    )
    x = torch.randn(16, 4)
    viz = nnv.NNViz(model, x)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for e in range(epochs):
        opt.zero_grad()
        loss = model(x).pow(2).mean()
        loss.backward()
        opt.step()
        viz.record(e, loss=loss.item(), acc=0.5 + 0.1 * e)
    return viz


def test_live_views_share_one_jslinked_slider_and_play() -> None:
    a, b = _run(seed=0), _run(seed=1, epochs=5)
    cmp = nnv.compare(a, b, names=("plain", "dropout"))
    box = cmp.widget()
    assert "nnviz-controls" in box._dom_classes  # the views draw no controls of their own
    assert isinstance(box, widgets.VBox)
    labels = [w.value for w in box.children[0].children]
    assert labels == ["plain", "dropout"]
    assert (cmp.slider.min, cmp.slider.max) == (-1, 4)  # union of both runs' epochs
    targets = {(lk.source[0], lk.target[0], lk.target[1]) for lk in cmp.links}
    for ctl in (cmp.slider, cmp.play):
        assert (ctl, a, "epoch") in targets and (ctl, b, "epoch") in targets
    assert (cmp.mode, a, "_mode_index") in targets and (cmp.mode, b, "_mode_index") in targets
    assert "application/vnd.jupyter.widget-view+json" in cmp._repr_mimebundle_()


def test_link_toggle_links_layer_and_sample() -> None:
    a, b = _run(seed=0), _run(seed=1)
    cmp = nnv.compare(a, b)
    cmp.widget()
    n = a.graph.names
    cmp.link.value = True
    a.layer = n[1]
    assert b.layer == n[1]
    a.sample = 3
    assert b.sample == 3
    (cam,) = cmp._camera_links  # the cameras move together in the browser
    assert (cam.source, cam.target) == ((a, "_camera"), (b, "_camera"))
    cmp.link.value = False
    a.layer = n[2]
    assert b.layer == n[1]
    assert cmp._camera_links == [] and cam.comm is None  # the link widget closed


def test_difference_equals_a_minus_b_from_recorders_and_files(tmp_path: Path) -> None:
    a, b = _run(seed=0), _run(seed=1)
    a.save(tmp_path / "a.nnviz")
    b.save(tmp_path / "b.nnviz")
    layer = a.graph.names[1]
    want = a.history.weights(layer, 2) - b.history.weights(layer, 2)
    for x, y in (
        (a, b),
        (a.recorder, b.recorder),
        (tmp_path / "a.nnviz", str(tmp_path / "b.nnviz")),
    ):
        cmp = nnv.compare(x, y)
        assert layer in cmp.matched_layers
        np.testing.assert_array_equal(cmp.difference(layer, 2), want)
        assert not np.all(want == 0)


def test_mismatched_architectures_side_by_side_but_difference_raises() -> None:
    a, b = _run(hidden=8), _run(hidden=5)
    cmp = nnv.compare(a, b)
    assert len(cmp.widget().children[1].children) == 2
    with pytest.raises(ValueError, match="architectures differ"):
        cmp.difference(a.graph.names[1], 1)


def test_loss_figure_has_both_runs_with_dash_styles() -> None:
    cmp = nnv.compare(_run(seed=0), _run(seed=1), names=("A", "B"))
    fig = cmp.figure("loss")
    by_name = {t.name: t for t in fig.data}
    assert by_name["loss · A"].line.dash == "solid" and by_name["loss · B"].line.dash == "dash"
    assert by_name["loss · A"].line.color == by_name["loss · B"].line.color
    assert by_name["acc · A"].line.color != by_name["loss · A"].line.color
    g = cmp.figure("gradients")
    assert g.layout.yaxis.type == "log" and len(g.data) == 4


def test_to_html_holds_both_runs(tmp_path: Path) -> None:
    cmp = nnv.compare(_run(seed=0), _run(seed=1), names=("plain run", "dropout run"))
    out = cmp.to_html(tmp_path / "cmp.html")
    text = out.read_text()
    assert "plain run" in text and "dropout run" in text
    assert text.count("id=&quot;nnviz-state&quot;") == 2  # two mounted pages
    assert "<title>plain run vs dropout run</title>" in text
    titled = cmp.to_html(tmp_path / "titled.html", title="Lesson 5 <overfitting>").read_text()
    assert "<title>Lesson 5 &lt;overfitting&gt;</title>" in titled


def _live(hidden: int = 8, seed: int = 0) -> tuple[nnv.NNViz, Any]:
    """A view still recording, and a function that trains and records one more epoch."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 3)
    )
    x = torch.randn(16, 4)
    viz = nnv.NNViz(model, x, sync_interval=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def step(epoch: int) -> None:
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
        viz.record(epoch, loss=float(epoch))

    return viz, step


def test_difference_mode_shows_one_view_of_a_minus_b_and_back() -> None:
    a, b = _run(seed=0), _run(seed=1)
    cmp = nnv.compare(a, b, names=("plain", "dropout"))
    box = cmp.widget()
    cmp.color_by = "difference"
    d = cmp.diff
    assert d is not None and d.color_by == "weight"  # the diverging weight scale
    assert box.children[1].children[0].children == (d,)  # one view, A's graph
    assert [w.value for w in box.children[0].children] == ["plain − dropout"]
    assert d.history.epochs == a.history.epochs
    la, lb = a.history.metrics["loss"], b.history.metrics["loss"]
    np.testing.assert_allclose(d.history.metrics["loss A − B"], np.asarray(la) - np.asarray(lb))
    weighted = [n for n in cmp.matched_layers if n in a.recorder.snapshots[-1].weights]
    assert len(weighted) == 2
    for layer in weighted:
        for param in ("weight", "bias"):
            want = a.history.weights(layer, 2, param).astype(np.float32) - b.history.weights(
                layer, 2, param
            ).astype(np.float32)
            got = d.history.weights(layer, 2, param)
            np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)
            assert np.abs(want).max() > 0
    # the one slider drives the A − B view too (in the browser: no kernel needed)
    assert (cmp.slider, d, "epoch") in {
        (lk.source[0], lk.target[0], lk.target[1]) for lk in cmp.links
    }
    assert cmp.color.value == "difference"
    cmp.color_by = "gradient"  # back to the pair, both views in the mode
    assert len(box.children[1].children) == 2 and a.color_by == b.color_by == "gradient"
    assert [w.value for w in box.children[0].children] == ["plain", "dropout"]
    cmp.color.value = "difference"  # the box's dropdown does the same
    assert box.children[1].children[0].children == (d,)
    with pytest.raises(ValueError, match="color_by must be one of"):
        cmp.color_by = "nope"


def test_difference_mode_refused_for_other_architectures_with_one_message() -> None:
    a, b = _run(hidden=8), _run(hidden=5)
    cmp = nnv.compare(a, b)
    box = cmp.widget()
    with pytest.raises(ValueError, match=r"architectures differ.*parameters") as err:
        cmp.color_by = "difference"
    assert repr(a.graph.names[1]) in str(err.value)  # names the layer that doesn't match
    assert cmp.color_by == "weight" and cmp.diff is None
    assert len(box.children[1].children) == 2  # still side by side
    note = box.children[2]
    assert note.value == str(err.value) and note.layout.display == ""
    cmp.color.value = "difference"  # from the dropdown: no exception, the same message
    assert cmp.color.value == "weight" and note.value == str(err.value)
    cmp.color_by = "delta"  # a mode both runs have: the message goes
    assert note.layout.display == "none" and a.color_by == "delta"


def test_difference_mode_refused_for_unmatched_layer_names() -> None:
    a = _run()
    torch.manual_seed(0)
    other = torch.nn.Sequential(torch.nn.Linear(4, 3))
    b = nnv.NNViz(other, torch.randn(4, 4))
    with pytest.raises(ValueError, match="unmatched layers"):
        nnv.compare(a, b).color_by = "difference"


def test_live_runs_grow_the_slider_and_the_difference_run() -> None:
    (a, step_a), (b, step_b) = _live(seed=0), _live(seed=1)
    for e in range(2):
        step_a(e)
        step_b(e)
    cmp = nnv.compare(a, b)
    cmp.widget()
    assert cmp.slider.max == 1
    cmp.color_by = "difference"
    assert cmp.diff is not None and cmp.diff.history.epochs == [0, 1]
    step_a(2)
    step_a(3)
    a.flush()
    assert (cmp.slider.max, cmp.play.max) == (3, 3)  # grows with either run
    assert cmp.diff.history.epochs == [0, 1]  # only epochs both runs have
    step_b(2)
    b.flush()
    assert cmp.diff.history.epochs == [0, 1, 2]
    layer = cmp.matched_layers[1]
    want = a.history.weights(layer, 2).astype(np.float32) - b.history.weights(layer, 2)
    np.testing.assert_allclose(cmp.diff.history.weights(layer, 2), want, rtol=1e-3, atol=1e-4)
    assert len(cmp.diff._snapshots) >= 2  # the new epoch went to the browser as a batch


def test_shared_slider_past_one_runs_end_is_accepted_from_the_browser() -> None:
    a, b = _run(epochs=3), _run(epochs=5)
    nnv.compare(a, b).widget()
    a.set_state({"epoch": 4})  # the slider's value, past a's last epoch 2: a shows epoch 2
    assert a.epoch == 4
    with pytest.raises(traitlets.TraitError, match="recorded range"):
        a.epoch = 99  # from Python it is still an error


def test_the_difference_run_stays_within_the_byte_budget() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 64), torch.nn.ReLU(), torch.nn.Linear(64, 3))
    x = torch.randn(8, 4)
    a, b = (nnv.NNViz(model, x, max_bytes=40_000, sync_interval=0) for _ in range(2))
    cmp = nnv.compare(a, b)
    cmp.color_by = "difference"
    assert cmp.diff is not None
    for e in range(40):
        with torch.no_grad():
            model[0].weight.add_(0.01)
        a.record(e, loss=1.0)
        b.record(e, loss=2.0)
        a.flush()
        b.flush()
    rec = cmp.diff.recorder
    assert len(rec.snapshots) == 41 and rec.nbytes <= rec.max_bytes
    assert rec.thinned_epochs  # older epochs gave their arrays, as in a recorded run
