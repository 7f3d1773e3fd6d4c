"""graph.py: the one table of layer kinds and their properties; the module tree."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from nnviz_widget.graph import KINDS, LAYER_KINDS, Graph, Layer, kinds_dict, module_tree

REPO = Path(__file__).resolve().parents[1]


def test_every_kind_has_a_color_and_sane_properties() -> None:
    assert tuple(LAYER_KINDS) == KINDS
    assert "other" in LAYER_KINDS  # what adapters map unknown classes onto
    for name, kind in LAYER_KINDS.items():
        assert re.fullmatch(r"#[0-9a-f]{6}", kind.color), name
        assert kind.label_tier in (1, 2, 3), name
        assert kind.block_depth > 0, name
    # the colors the views had before the table moved here (pixels must not change)
    assert LAYER_KINDS["dense"].color == "#4c78a8"
    assert LAYER_KINDS["conv"].color == "#54a24b"
    assert LAYER_KINDS["other"].color == "#a0a0a0"


#: the kinds as they were when the views kept their own lists (a new kind is free to differ)
BEFORE = ("input", "dense", "conv", "pool", "norm", "dropout", "activation", "reshape")
BEFORE += ("embedding", "recurrent", "attention", "merge", "output", "other")


def test_the_generic_properties_keep_their_sets() -> None:
    assert set(BEFORE) <= set(LAYER_KINDS)

    def having(prop: str) -> set[str]:
        return {k for k in BEFORE if getattr(LAYER_KINDS[k], prop)}

    assert having("pass_through") == {"activation", "dropout", "norm", "reshape"}
    assert having("neurons") == {"dense", "input", "output"}
    assert having("feeds_dense") == {"dense", "input", "embedding", "recurrent", "merge", "output"}
    tiers = {k: LAYER_KINDS[k].label_tier for k in BEFORE}
    assert tiers["conv"] == tiers["attention"] == tiers["dense"] == 3
    assert tiers["input"] == 2
    assert tiers["dropout"] == tiers["output"] == 1
    depth = {k: LAYER_KINDS[k].block_depth for k in BEFORE}
    assert (
        depth["pool"] == depth["merge"] == 1.0 and depth["output"] == 1.2 and depth["conv"] == 2.0
    )
    assert {k for k in BEFORE if LAYER_KINDS[k].units_label != "units"} == {"conv"}


def test_the_browser_gets_the_table_with_the_graph() -> None:
    g = Graph(
        [Layer(0, "x", "input", "Input", (4,)), Layer(1, "fc", "dense", "Linear", (2,))],
        [("x", "fc")],
    )
    d = g.to_dict()
    assert d["kinds"] == kinds_dict()
    assert d["kinds"]["dense"]["color"] == "#4c78a8"
    assert json.loads(json.dumps(d)) == d
    assert Graph.from_dict(d).to_dict() == d  # a saved run's stale table is rebuilt, not read


def test_the_js_fixtures_copy_of_the_table_agrees() -> None:
    """js/dev/kinds.json feeds the graphs the JS tests and the dev harness build without Python."""
    copy = json.loads((REPO / "js" / "dev" / "kinds.json").read_text())
    table = kinds_dict()
    for name, props in copy.items():
        assert name in table, f"js/dev/kinds.json has {name!r}, which graph.py no longer has"
        assert props == table[name], f"js/dev/kinds.json[{name!r}] differs from LAYER_KINDS"


def _blocks_graph(n: int = 3, odd: bool = False) -> Graph:
    """x -> n blocks ("h.i": fc then act, a residual add) -> out; ``odd``: the last block's fc
    is wider, so its signature differs."""
    layers = [Layer(0, "x", "input", "Input", (4,))]
    edges: list[tuple[str, str]] = []
    known: dict[str, tuple[str | None, str, bool]] = {
        "body": (None, "Body", False),
        "body.h": ("body", "ModuleList", True),
    }
    prev = "x"
    for i in range(n):
        p = f"body.h.{i}"
        known[p] = ("body.h", "Block", False)
        width = 5 if odd and i == n - 1 else 4
        fc = Layer(len(layers), f"{p}.fc", "dense", "Linear", (4,), params=4 * width + 4)
        fc.param_shapes = {"weight": (4, width)}
        fc.parent = p
        act = Layer(len(layers) + 1, f"{p}.act", "activation", "ReLU", (4,), parent=p)
        add = Layer(len(layers) + 2, f"add_{3 * i + 7}", "merge", "add", (4,), parent=p)
        layers += [fc, act, add]
        edges += [(prev, fc.name), (fc.name, act.name), (act.name, add.name), (prev, add.name)]
        prev = add.name
    layers.append(Layer(len(layers), "out", "output", "Output", (4,)))
    edges.append((prev, "out"))
    return Graph(layers, edges, modules=module_tree(layers, edges, known))


def test_the_module_tree_lists_parents_first_with_signatures() -> None:
    g = _blocks_graph(3)
    assert [m.path for m in g.modules] == ["body", "body.h", "body.h.0", "body.h.1", "body.h.2"]
    assert [m.container for m in g.modules] == [False, True, False, False, False]
    sigs = {m.path: m.signature for m in g.modules}
    assert sigs["body.h.0"] == sigs["body.h.1"] == sigs["body.h.2"]  # names play no part
    odd = {m.path: m.signature for m in _blocks_graph(3, odd=True).modules}
    assert odd["body.h.0"] == odd["body.h.1"] != odd["body.h.2"]
    assert odd["body.h.0"] == sigs["body.h.0"]


def test_modules_travel_with_the_graph_and_old_graphs_load() -> None:
    g = _blocks_graph(2)
    d = json.loads(json.dumps(g.to_dict()))
    assert d["modules"][1] == {
        "path": "body.h",
        "parent": "body",
        "class": "ModuleList",
        "container": True,
        "signature": g.modules[1].signature,
    }
    back = Graph.from_dict(d)
    assert back.modules == g.modules and back.to_dict() == g.to_dict()
    del d["modules"]  # a run file from before the module tree
    assert Graph.from_dict(d).modules == []


def test_a_bad_module_tree_is_refused() -> None:
    g = _blocks_graph(2)
    with pytest.raises(ValueError, match="before its parent"):
        Graph(g.layers, g.edges, modules=g.modules[1:])
    with pytest.raises(ValueError, match="not a module"):
        Graph(g.layers, g.edges, modules=g.modules[:3])
    with pytest.raises(ValueError, match="listed twice"):
        Graph(g.layers, g.edges, modules=[*g.modules, g.modules[-1]])


def test_a_parent_the_adapter_did_not_list_is_a_top_level_module() -> None:
    layers = [Layer(0, "x", "input", "Input", (2,)), Layer(1, "fc", "dense", "Linear", (2,))]
    layers[1].parent = "mystery"
    tree = module_tree(layers, [("x", "fc")], {})
    assert [(m.path, m.parent, m.cls) for m in tree] == [("mystery", None, "")]
