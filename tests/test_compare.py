"""nnv.compare: two runs side by side, shared jslinked slider, loss figure, difference, page."""

from __future__ import annotations

from pathlib import Path

import ipywidgets as widgets
import numpy as np
import pytest
import torch

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
    cmp.link.value = False
    a.layer = n[2]
    assert b.layer == n[1]


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
