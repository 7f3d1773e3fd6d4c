"""nnv.follow in JupyterLab: a notebook follows a run file that another process (this test,
standing in for a training script on a cluster node) writes with ``Recorder(path=...)``; with no
cell running, the view in the browser shows each new epoch as the file grows, and a run started
over in the same file replaces the shown one. Screenshots:
test-artifacts/lab_follow.png, lab_follow_restarted.png."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import ARTIFACTS, LabServer
from .labtools import cell_errors, open_notebook, run_all, wait_all_executed, write_notebook

pytestmark = [pytest.mark.lab, pytest.mark.browser, pytest.mark.torch]

NOTEBOOK = "lab_follow.ipynb"
RUN = "follow_run.nnviz"
CELLS = [
    "import nnviz_widget as nnv\n"
    f"viz = nnv.follow({RUN!r}, interval=0.2)\n"
    "assert viz.follower._task is not None  # polled on the kernel's event loop\n"
    "viz",
]
ROOT = ".jp-OutputArea-output .nnviz-root"


def _wait_epoch(page: Any, epoch: int, timeout_ms: int = 60_000) -> None:
    page.wait_for_function(
        """([sel, value]) => {
          const el = document.querySelector(sel);
          return !!el && el.getAttribute('data-ready') === '1'
            && el.getAttribute('data-epoch') === value;
        }""",
        arg=[ROOT, str(epoch)],
        timeout=timeout_ms,
    )


def _scenario(browser: Any, server: LabServer, train: Any, restart: Any) -> None:
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    try:
        open_notebook(page, server, NOTEBOOK)
        run_all(page)
        wait_all_executed(page)
        assert cell_errors(page) == []
        _wait_epoch(page, 0)
        for epoch in (1, 2):  # the "script" records; no cell runs in the notebook
            train(epoch)
            _wait_epoch(page, epoch)
        page.wait_for_timeout(300)
        page.locator(ROOT).first.screenshot(path=str(ARTIFACTS / "lab_follow.png"))
        restart()  # the script starts over: the same view shows the new run
        _wait_epoch(page, 0)
        page.wait_for_function(  # the notice comes in the message after the new run's
            """(sel) => (document.querySelector(sel)?.textContent ?? '')
              .includes('written again from the start')""",
            arg=f"{ROOT} .nnviz-notice",
            timeout=30_000,
        )
        page.wait_for_timeout(300)
        page.locator(ROOT).first.screenshot(path=str(ARTIFACTS / "lab_follow_restarted.png"))
    finally:
        page.close()


def test_lab_follow_shows_a_growing_run_file(lab_server: LabServer, in_browser: Any) -> None:
    torch = pytest.importorskip("torch")
    from torch import nn

    import nnviz_widget as nnv

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 12), nn.ReLU(), nn.Linear(12, 3))
    x = torch.randn(32, 4)
    y = torch.randint(0, 3, (32,))
    rec = nnv.Recorder(model, inputs=x[:8], labels=y[:8], path=lab_server.root_dir / RUN)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)

    def train(epoch: int) -> None:
        for _ in range(5):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        rec.record(epoch, loss=loss.item())

    def restart() -> None:
        nonlocal rec
        rec = nnv.Recorder(model, inputs=x[:8], labels=y[:8], path=lab_server.root_dir / RUN)
        train(0)

    train(0)
    write_notebook(lab_server.root_dir / NOTEBOOK, CELLS)
    in_browser(_scenario, lab_server, train, restart)
