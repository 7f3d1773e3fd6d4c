"""The exported page: one self-contained HTML file of a view's widget state (the standalone
bundle + the run as base64; no server, no CDN). Takes state, not a widget class."""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path
from typing import Any

import traitlets

from .graph import Graph
from .runfile import atomic_write
from .snapshot import INIT_EPOCH
from .version import __version__

_STANDALONE = Path(__file__).parent / "static" / "standalone.js"

#: synced traits that are the widget machinery, not the view's state
_NOT_STATE = frozenset(
    {"_snapshots", "_esm", "_css", "_anywidget_id", "_dom_classes", "layout", "tabbable", "tooltip"}
)


def widget_state(
    widget: traitlets.HasTraits, parts: list[tuple[dict[str, Any], bytes]]
) -> dict[str, Any]:
    """What the page mounts: the widget's synced JSON traits (its view state, ``_choices``
    included) and every snapshot's (header, bytes) in ``parts``, one entry per epoch."""
    traits: dict[str, Any] = {}
    for name in widget.trait_names(sync=True):
        if name in _NOT_STATE or name.startswith(("_model_", "_view_")):
            continue
        value = getattr(widget, name)
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            continue  # bytes / widgets: not view state
        traits[name] = value
    snapshots = [
        {"header": header, "data": base64.b64encode(data).decode("ascii")} for header, data in parts
    ]
    return {"version": 1, "traits": traits, "snapshots": snapshots}


def _script_json(value: Any) -> str:
    """JSON that is safe inside <script type="application/json">: no '<', '>' or '&'."""
    text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def standalone_bundle() -> str:
    """The JS of the standalone page (``js/src/standalone.ts``, built by ``npm run build``)."""
    if not _STANDALONE.exists():
        raise FileNotFoundError(
            f"{_STANDALONE} is missing: build the JS with `cd js && npm install && npm run build` "
            "(or reinstall nnviz-widget)"
        )
    js = _STANDALONE.read_text(encoding="utf-8")
    # inside an inline <script>, "</script" would end it early; "<\/" means "</" in JS strings
    return js.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")


_PAGE = """<!DOCTYPE html>
<html lang="en" data-nnviz-theme="auto">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="generator" content="nnviz-widget {version}">
<title>{title}</title>
<style>
body {{ margin: 0; padding: 16px 20px; font: 14px/1.4 system-ui, -apple-system, "Segoe UI",
  Roboto, sans-serif; color: #1f2328; background: #fff; }}
h1.nnviz-page-title {{ font-size: 18px; font-weight: 600; margin: 0 0 10px; }}
.nnviz-page-foot {{ margin-top: 10px; color: #6e7781; font-size: 12px; }}
noscript {{ display: block; padding: 12px; background: #fff8c5; }}
@media (prefers-color-scheme: dark) {{
  body {{ color: #e6e8eb; background: #14161a; }}
  .nnviz-page-foot {{ color: #9aa3ae; }}
  noscript {{ background: #3a2c14; }}
}}
</style>
</head>
<body>
<h1 class="nnviz-page-title">{title}</h1>
<noscript>This page shows a recorded neural network run; it needs JavaScript.</noscript>
<div id="nnviz-app"></div>
<div class="nnviz-page-foot">{foot}</div>
<script type="application/json" id="nnviz-state">{state}</script>
<script>{js}</script>
</body>
</html>
"""


def html_page(state: dict[str, Any], graph: Graph, title: str | None = None) -> str:
    """The text of the standalone page of ``state`` (``widget_state``) of a run of ``graph``."""
    epochs = [s["header"]["epoch"] for s in state["snapshots"]]
    epochs = [e for e in epochs if e != INIT_EPOCH]
    span = f"epochs {epochs[0]}–{epochs[-1]}" if epochs else "no epochs recorded"
    g = graph
    name = g.model_name or "model"
    title = title if title is not None else f"{name}: nnviz run"
    foot = (
        f"{g.framework or 'model'} {name} · {len(g.layers)} layers · {g.total_params:,} params · "
        f"{span} · written by nnviz-widget {__version__}; works offline"
    )
    return _PAGE.format(
        version=html.escape(__version__),
        title=html.escape(title),
        foot=html.escape(foot),
        state=_script_json({**state, "title": title}),
        js=standalone_bundle(),
    )


def write_html(
    state: dict[str, Any],
    graph: Graph,
    path: str | os.PathLike[str],
    overwrite: bool = False,
    title: str | None = None,
) -> Path:
    """Write ``html_page(state, graph, title)`` to ``path`` (atomically)."""
    data = html_page(state, graph, title=title).encode("utf-8")
    return atomic_write(Path(path), lambda f: f.write(data), overwrite)
