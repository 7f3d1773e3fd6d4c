"""hierarchy.py, the reference cut of the module tree, on hand-built graphs (no framework)."""

from __future__ import annotations

import pytest

from nnviz_widget import hierarchy as h
from nnviz_widget.graph import Graph, Layer, module_tree


def _model(n_blocks: int, head_layers: int = 1) -> Graph:
    """A GPT-2-like tree: x -> emb (in "body") -> body.h.i blocks (fc, act, add; fc inside
    "body.h.i.mlp") -> body.ln -> head layers -> out."""
    known: dict[str, tuple[str | None, str, bool]] = {
        "body": (None, "Body", False),
        "body.h": ("body", "ModuleList", True),
    }
    layers = [
        Layer(0, "x", "input", "Input", (4,)),
        Layer(1, "body.emb", "embedding", "Embedding", (4,), params=40, parent="body"),
    ]
    edges = [("x", "body.emb")]
    prev = "body.emb"
    for i in range(n_blocks):
        p = f"body.h.{i}"
        known[p] = ("body.h", "Block", False)
        known[f"{p}.mlp"] = (p, "MLP", False)
        fc = Layer(
            len(layers), f"{p}.mlp.fc", "dense", "Linear", (4,), params=20, parent=f"{p}.mlp"
        )
        act = Layer(len(layers) + 1, f"{p}.act", "activation", "ReLU", (4,), parent=p)
        add = Layer(len(layers) + 2, f"add_{i}", "merge", "add", (4,), parent=p)
        layers += [fc, act, add]
        edges += [(prev, fc.name), (fc.name, act.name), (act.name, add.name), (prev, add.name)]
        prev = add.name
    layers.append(Layer(len(layers), "body.ln", "norm", "LayerNorm", (4,), params=8, parent="body"))
    edges.append((prev, "body.ln"))
    prev = "body.ln"
    for k in range(head_layers):
        layers.append(Layer(len(layers), f"head{k}", "dense", "Linear", (4,), params=20))
        edges.append((prev, f"head{k}"))
        prev = f"head{k}"
    layers.append(Layer(len(layers), "out", "output", "Output", (4,)))
    edges.append((prev, "out"))
    return Graph(layers, edges, modules=module_tree(layers, edges, known))


def test_small_graphs_open_fully_expanded() -> None:
    g = _model(3)  # 15 layers
    exp = h.default_expanded(g)
    assert "body.h" not in exp  # containers are always open, never listed
    assert set(exp) == {m.path for m in g.modules if not m.container}
    assert h.visible(g, exp) == g.names


def test_big_graphs_open_at_their_blocks_through_a_dominant_module() -> None:
    g = _model(25)  # 80 layers: "body" holds all but 3, so it opens; no block dominates it
    assert len(g) > h.COLLAPSE_ABOVE
    exp = h.default_expanded(g)
    assert exp == ["body"]
    shown = h.visible(g, exp)
    assert shown == [
        "x",
        "body.emb",
        *[f"body.h.{i}" for i in range(25)],
        "body.ln",
        "head0",
        "out",
    ]
    sigs = {m.signature for m in g.modules if m.cls == "Block"}
    assert len(sigs) == 1  # one roll-up: "Block × 25"
    # 25 of the 80 layers in the head: "body" no longer dominates, the model opens collapsed
    assert h.default_expanded(_model(15, head_layers=25)) == []
    assert h.visible(_model(15, head_layers=25), [])[:3] == ["x", "body", "head0"]


def test_the_outermost_closed_ancestor_stands_for_a_layer() -> None:
    g = _model(2)
    # body closed: its open blocks do not matter
    assert h.visible(g, ["body.h.0", "body.h.0.mlp"]) == ["x", "body", "head0", "out"]
    assert h.visible(g, ["body", "body.h.0"]) == [
        "x",
        "body.emb",
        "body.h.0.mlp",
        "body.h.0.act",
        "add_0",
        "body.h.1",
        "body.ln",
        "head0",
        "out",
    ]


def test_edges_of_a_cut_join_display_nodes() -> None:
    g = _model(2)
    assert h.visible_edges(g, ["body"]) == [
        ("x", "body.emb"),
        ("body.emb", "body.h.0"),
        ("body.h.0", "body.h.1"),
        ("body.h.1", "body.ln"),
        ("body.ln", "head0"),
        ("head0", "out"),
    ]
    assert h.visible_edges(g, []) == [("x", "body"), ("body", "head0"), ("head0", "out")]


def test_expand_then_collapse_round_trips() -> None:
    g = _model(25)
    before = h.default_expanded(g)
    opened = [*before, "body.h.3"]
    assert len(h.visible(g, opened)) == len(h.visible(g, before)) + 2  # mlp, act, add for 1
    assert h.visible(g, [p for p in opened if p != "body.h.3"]) == h.visible(g, before)


def test_depths_and_the_depth_cut() -> None:
    g = _model(2)
    d = h.depths(g)
    assert d == {
        "body": 0,
        "body.h": 1,
        "body.h.0": 1,
        "body.h.0.mlp": 2,
        "body.h.1": 1,
        "body.h.1.mlp": 2,
    }
    assert h.at_depth(g, 0) == []
    assert h.at_depth(g, 1) == ["body"]
    assert h.at_depth(g, 2) == ["body", "body.h.0", "body.h.1"]
    assert h.visible(g, h.at_depth(g, 9)) == g.names


def test_block_totals_sum_every_layer_inside() -> None:
    g = _model(2)
    totals = h.block_totals(g)
    assert totals["body.h.0.mlp"] == totals["body.h.0"] == 20
    assert totals["body.h"] == 40 and totals["body"] == 40 + 40 + 8
    assert h.layer_counts(g)["body"] == 1 + 6 + 1


def test_an_unknown_path_names_close_matches() -> None:
    g = _model(2)
    assert h.check_path(g, "body.h.1").cls == "Block"
    with pytest.raises(ValueError, match=r"no module 'body.h.7'.*did you mean 'body.h.1'"):
        h.check_path(g, "body.h.7")
    flat = Graph(
        [Layer(0, "x", "input", "Input", (2,)), Layer(1, "fc", "dense", "Linear", (2,))],
        [("x", "fc")],
    )
    with pytest.raises(ValueError, match="no module tree"):
        h.check_path(flat, "fc")
