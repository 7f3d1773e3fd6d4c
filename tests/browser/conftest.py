"""Headless Chromium for browser tests (generic: no page or app assumptions here).

Fixtures:
  chromium      (package) a Playwright Chromium browser: Debian's /usr/bin/chromium with
                SwiftShader for WebGL. Never `playwright install`. Missing Chromium: skipped
                locally, a failure when CI=true.
  widget_bundle (session) path of nnviz_widget/static/widget.js, built with npm if missing.
  dev_pages     (session) path of js/test-dist/dev/ (the dev harness page), built each session.
  page          a fresh page (own context, 1000x800) that records console errors, page errors
                and dialogs in `page.nnviz_errors` / `page.nnviz_dialogs`; dialogs are dismissed.
  artifacts     the git-ignored test-artifacts/ directory (screenshots).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--disable-gpu", "--enable-unsafe-swiftshader", "--no-sandbox"]
REPO = Path(__file__).resolve().parents[2]
JS = REPO / "js"
BUNDLE = REPO / "nnviz_widget" / "static" / "widget.js"
DEV_DIR = JS / "test-dist" / "dev"
ARTIFACTS = REPO / "test-artifacts"


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _npm(*args: str) -> None:
    npm = shutil.which("npm")
    if npm is None:
        _missing("npm is not installed: cannot build the JS bundle")
        return
    if not (JS / "node_modules").exists():
        subprocess.run([npm, "ci"], cwd=JS, check=True)
    subprocess.run([npm, *args], cwd=JS, check=True)


@pytest.fixture(scope="session")
def widget_bundle() -> Path:
    if not BUNDLE.exists():
        _npm("run", "build")
    assert BUNDLE.exists(), f"{BUNDLE} was not built"
    return BUNDLE


@pytest.fixture(scope="session")
def dev_pages(widget_bundle: Path) -> Path:
    node = shutil.which("node")
    if node is None:
        _missing("node is not installed: cannot build the dev harness")
    if not (JS / "node_modules").exists():
        _npm("ci")
    subprocess.run([node or "node", "build.mjs", "--dev"], cwd=JS, check=True)
    assert (DEV_DIR / "harness.js").exists()
    return DEV_DIR


# Package scope, not session: Playwright's sync API leaves an asyncio loop marked running in
# the main thread while it is open, so tests after tests/browser (nnv.follow, asyncio.run) would
# find a "running" loop that never runs. It closes when the last browser test is done.
@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} not found (install Debian's chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright (Python) is not installed")
        raise
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture()
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1000, "height": 800}, device_scale_factor=1)
    pg = context.new_page()
    errors: list[str] = []
    dialogs: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    pg.on(
        "console",
        lambda msg: (
            errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )

    def on_dialog(dialog: Any) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    pg.nnviz_errors = errors
    pg.nnviz_dialogs = dialogs
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
