"""The widget on a host that gives anywidget's model API and nothing more (as VS Code, Colab and
other front-ends may): ``get`` / ``set`` / ``on`` / ``off`` / ``save_changes`` / ``send``, no
``widget_manager``. The real ``_esm`` (nnviz_widget/loader.js) and the real kernel side
(``NNViz._on_custom`` -> ``sync.answer``) talk through custom messages only: the loader asks for
the bundle, the view asks for the snapshots, and both are answered by Python in this process
(``page.expose_function``). The view paints, its own controls scrub, and an epoch recorded in
Python reaches it live as a state change."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.lab.labtools import pixel_stats

pytestmark = [pytest.mark.browser, pytest.mark.torch]

ORIGIN = "http://nnviz.test"
LOADER = Path(__file__).resolve().parents[2] / "nnviz_widget" / "loader.js"

# The host: one model object with anywidget's API. Messages to the kernel go to window.pySend
# (Python); its answers come back as "msg:custom" events with DataView buffers, as anywidget
# delivers them. window.__saved collects what the view wrote back (save_changes).
PAGE = """<!doctype html><html><body style="margin:0"><div id="host" style="width:900px"></div>
<script type="module">
const b64 = (s) => { const t = atob(s); const u = new Uint8Array(t.length);
  for (let i = 0; i < t.length; i++) u[i] = t.charCodeAt(i); return new DataView(u.buffer); };
class Model {
  constructor(state) { this.state = state; this.ls = new Map(); this.dirty = {}; }
  get(k) { return this.state[k]; }
  set(k, v) { this.state[k] = v; this.dirty[k] = v; this.emit("change:" + k); }
  save_changes() { window.__saved.push(this.dirty); this.dirty = {}; }
  on(ev, cb) { if (!this.ls.has(ev)) this.ls.set(ev, []); this.ls.get(ev).push(cb); }
  off(ev, cb) {
    const l = this.ls.get(ev) || []; const i = l.indexOf(cb); if (i >= 0) l.splice(i, 1);
  }
  emit(ev, ...args) { for (const cb of [...(this.ls.get(ev) || [])]) cb(...args); }
  send(msg) {
    window.__sent.push(msg.kind);
    window.pySend(JSON.stringify(msg)).then((replies) => {
      for (const r of JSON.parse(replies)) {
        setTimeout(() => this.emit("msg:custom", r.content, r.buffers.map(b64)), 0);
      }
    });
  }
  // the kernel changed traits: what a front-end does on a comm update
  update(changes) {
    for (const [k, v] of Object.entries(changes)) { this.state[k] = v; this.emit("change:" + k); }
  }
}
window.__saved = []; window.__sent = [];
window.start = async (stateJson) => {
  const model = new Model(JSON.parse(stateJson));
  window.__model = model;
  const mod = (await import("/loader.js")).default;
  await mod.initialize({ model });
  await mod.render({ model, el: document.getElementById("host") });
};
</script></body></html>"""


def _state(viz: Any) -> str:
    state = viz.get_state()
    state.pop("_esm", None)  # the page imports the same loader from /loader.js
    return json.dumps(state)


def test_renders_scrubs_and_updates_live_with_the_model_api_only(
    page: Any, widget_bundle: Path, artifacts: Path
) -> None:
    import torch

    import nnviz_widget as nnv

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    x = torch.randn(16, 2)
    viz = nnv.NNViz(model, inputs=x, sync_interval=0, mode="2d", height=420)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)

    def step(epoch: int) -> None:
        loss = torch.nn.functional.cross_entropy(model(x), (x[:, 0] > 0).long())
        opt.zero_grad()
        loss.backward()
        opt.step()
        viz.record(epoch, loss=float(loss.detach()))

    for e in range(3):
        step(e)
    viz.flush()

    def py_send(msg_json: str) -> str:
        replies: list[dict[str, Any]] = []

        def send(content: dict[str, Any], buffers: list[bytes]) -> None:
            b64 = [base64.b64encode(bytes(b)).decode() for b in buffers]
            replies.append({"content": content, "buffers": b64})

        viz.send = send  # what the comm would carry; the handler is the widget's own
        viz._on_custom(viz, json.loads(msg_json), [])
        return json.dumps(replies)

    page.expose_function("pySend", py_send)

    def route(r: Any) -> None:
        name = r.request.url.split("?")[0].rsplit("/", 1)[-1]
        body = {"loader.js": LOADER.read_bytes()}.get(name)
        if name in ("", "index.html"):
            r.fulfill(status=200, body=PAGE, headers={"content-type": "text/html"})
        elif body is not None:
            r.fulfill(status=200, body=body, headers={"content-type": "text/javascript"})
        else:
            r.fulfill(status=404, body="not found")

    page.route(f"{ORIGIN}/**", route)
    page.goto(f"{ORIGIN}/index.html")
    page.evaluate("(s) => window.start(s)", _state(viz))
    canvas = ".nnviz-root .nnviz-view2d-canvas"
    page.wait_for_function(
        "() => { const r = document.querySelector('.nnviz-root');"
        " return !!r && r.dataset.ready === '1' && r.dataset.epoch === '2'; }",
        timeout=30_000,
    )
    page.wait_for_timeout(300)
    sent = page.evaluate("window.__sent")
    assert "nnviz:bundle?" in sent and "nnviz:snapshots?" in sent, sent
    painted = page.locator(canvas).screenshot()
    assert pixel_stats(page, painted)["nonBackground"] > 0.02

    # the view's own slider (no ipywidgets here) scrubs back to the initial weights
    slider = page.locator(".nnviz-own-controls .nnviz-page-slider")
    assert slider.get_attribute("min") == "-1" and slider.get_attribute("max") == "2"
    slider.focus()
    page.keyboard.press("Home")
    page.wait_for_function("() => document.querySelector('.nnviz-root').dataset.epoch === '-1'")
    page.wait_for_timeout(300)
    assert any(d.get("epoch") == -1 for d in page.evaluate("window.__saved"))
    scrubbed = page.locator(canvas).screenshot()
    assert pixel_stats(page, scrubbed, painted)["differing"] > 0.001

    # live: an epoch recorded in Python arrives as a state change, its bytes by message
    step(3)
    viz.flush()
    page.evaluate(
        "(c) => window.__model.update(JSON.parse(c))",
        json.dumps({"_snapshots": viz.get_state()["_snapshots"], "epoch": 3}),
    )
    page.wait_for_function("() => document.querySelector('.nnviz-root').dataset.epoch === '3'")
    assert slider.get_attribute("max") == "3"
    assert page.evaluate("window.__sent.filter((k) => k === 'nnviz:snapshots?').length") >= 2
    page.screenshot(path=str(artifacts / "model_api_only.png"))
    assert not page.nnviz_errors, page.nnviz_errors
