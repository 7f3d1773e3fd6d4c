"""The kind table in graph.py: the one list of layer kinds and their properties."""

from __future__ import annotations

import json
import re
from pathlib import Path

from nnviz_widget.graph import KINDS, LAYER_KINDS, Graph, Layer, kinds_dict

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
