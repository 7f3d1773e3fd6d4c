"""Hierarchy in the browser (issue 11): a graph with a module tree opens collapsed to its blocks,
a click on a block expands it (the display nodes change and ``expanded`` is written), the
breadcrumb collapses it again; in 3D and in 2D. On the fake-model page (js/dev/, no kernel).
Screenshots in test-artifacts/hier-*.png (look at them: no overlapping labels).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_fake_page import harness, mount, root_data, set_trait

pytestmark = pytest.mark.browser

__all__ = ["harness"]  # the fixture, shared with test_fake_page.py

RUN = "transformer.h.0..transformer.h.3"


def nodes(page: Any) -> list[str]:
    return root_data(page)["nodes"].split("|")


def expanded(page: Any) -> list[str]:
    return page.evaluate("() => mounted[0].model.get('expanded')")


def wait_nodes(page: Any, test: str) -> None:
    page.wait_for_function(
        "() => { const n = (document.querySelector('.nnviz-root').dataset.nodes || '')"
        f".split('|'); return {test}; }}"
    )


def click_node(page: Any, name: str, mode: str) -> None:
    """Click the middle of display node `name` (3D: its label's anchor under it; 2D: its box)."""
    if mode == "3d":
        label = page.query_selector(f'.nnviz-label[data-layer="{name}"]')
        assert label is not None and label.is_visible(), f"no label for {name}"
        title = label.query_selector(".nnviz-label-name").inner_text()
        box = label.bounding_box()
        # the label sits above its block: find the block under it by its tooltip, click there
        for dy in (20, 35, 50, 70, 90, 115):
            for dx in (0, -20, 20):
                x, y = box["x"] + box["width"] / 2 + dx, box["y"] + box["height"] + dy
                page.mouse.move(x, y)
                page.wait_for_timeout(60)
                tip = page.query_selector(".nnviz-tooltip")
                if (
                    tip.is_visible()
                    and tip.query_selector(".nnviz-tooltip-title").inner_text() == title
                ):
                    page.mouse.click(x, y)
                    return
        raise AssertionError(f"no point over the block {name}")
    else:
        pos = page.evaluate(
            """(name) => { const btns = [...document.querySelectorAll('.nnviz-sr-only button')];
                 const b = btns.find((x) => x.textContent === name); b.click(); return !!b; }""",
            name,
        )
        assert pos


def overlapping_labels(page: Any) -> list[tuple[str, str]]:
    return page.evaluate(
        """() => {
          const ls = [...document.querySelectorAll('.nnviz-label')]
            .filter((l) => l.style.display !== 'none');
          const r = ls.map((l) => [l.dataset.layer, l.getBoundingClientRect()]);
          const out = [];
          for (let i = 0; i < r.length; i++) for (let j = i + 1; j < r.length; j++) {
            const a = r[i][1], b = r[j][1];
            const x = a.left < b.right - 1 && b.left < a.right - 1;
            if (x && a.top < b.bottom - 1 && b.top < a.bottom - 1) out.push([r[i][0], r[j][0]]);
          }
          return out;
        }"""
    )


@pytest.mark.parametrize("mode", ["3d", "2d"])
def test_blocks_expand_and_collapse(harness: Any, artifacts: Path, mode: str) -> None:
    page = harness
    mount(page, "gpt", traits={"mode": mode})
    root = page.query_selector(".nnviz-root")
    # opens at the transformer: embeddings, the four identical blocks rolled up, ln_f, the head
    wait_nodes(page, f"n.includes('{RUN}')")
    assert nodes(page) == [
        "input_ids", "transformer.wte", "transformer.wpe", "transformer.add", "transformer.drop",
        RUN, "transformer.ln_f", "lm_head", "output",
    ]  # fmt: skip
    assert root_data(page)["blocks"] == "GPT2Block × 4"
    crumbs = page.eval_on_selector_all(".nnviz-crumb", "bs => bs.map(b => b.textContent)")
    assert crumbs == ["GPT2LMHeadModel", "transformer"]
    if mode == "3d":
        label = page.query_selector(f'.nnviz-label[data-layer="{RUN}"]')
        assert label.inner_text().startswith("GPT2Block × 4")
        assert overlapping_labels(page) == []
    root.screenshot(path=str(artifacts / f"hier-{mode}-collapsed.png"))
    # every color mode colors the blocks (by their aggregate); the legend says what it shows
    set_trait(page, "color_by", "gradient")
    page.wait_for_function(
        "() => document.querySelector('.nnviz-legend').textContent"
        ".includes('gradient norm per block')"
    )
    root.screenshot(path=str(artifacts / f"hier-{mode}-gradient.png"))
    set_trait(page, "color_by", "weight")

    # a click on the roll-up opens its first block (the others stay rolled up: "GPT2Block × 3")
    click_node(page, RUN, mode)
    wait_nodes(page, "n.includes('transformer.h.0.ln_1')")
    assert expanded(page) == ["transformer", "transformer.h.0"]
    shown = nodes(page)
    assert "transformer.h.0.attn" in shown and "transformer.h.0.mlp" in shown  # submodules closed
    rest = "transformer.h.1..transformer.h.3"
    assert rest in shown
    assert root_data(page)["blocks"] == "GPT2Attention|GPT2MLP|GPT2Block × 3"
    if mode == "3d":
        assert overlapping_labels(page) == []
    root.screenshot(path=str(artifacts / f"hier-{mode}-expanded.png"))
    # the next click opens the next block
    click_node(page, rest, mode)
    wait_nodes(page, "n.includes('transformer.h.1.ln_1')")
    assert expanded(page) == ["transformer", "transformer.h.0", "transformer.h.1"]
    assert root_data(page)["blocks"].endswith("GPT2Block × 2")
    if mode == "3d":
        assert overlapping_labels(page) == []
    root.screenshot(path=str(artifacts / f"hier-{mode}-expanded2.png"))

    # the breadcrumb: model › transformer › h.1; a click on "h.1" closes it again
    crumbs = page.eval_on_selector_all(".nnviz-crumb", "bs => bs.map(b => b.textContent)")
    assert crumbs == ["GPT2LMHeadModel", "transformer", "h.1"]
    page.click('.nnviz-crumb[data-path="transformer.h.1"]')
    wait_nodes(page, "!n.includes('transformer.h.1.ln_1')")
    assert expanded(page) == ["transformer", "transformer.h.0"]
    assert rest in nodes(page)
    # the root step collapses everything: the whole transformer is one block
    page.click('.nnviz-crumb[data-path=""]')
    wait_nodes(page, "n.includes('transformer')")
    assert nodes(page) == ["input_ids", "transformer", "lm_head", "output"]
    assert expanded(page) == []
    # and Python (or a saved notebook) setting the trait redraws the view
    set_trait(page, "expanded", ["transformer"])
    wait_nodes(page, f"n.includes('{RUN}')")
    root.screenshot(path=str(artifacts / f"hier-{mode}-top.png"))
