"""Packaging: the wheel carries the JS bundle, and `import nnviz_widget` needs no framework."""

from __future__ import annotations

import email
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUNDLE = "nnviz_widget/static/widget.js"
LOADER = "nnviz_widget/loader.js"  # every NNViz's _esm (tracked source, not build output)
FRAMEWORKS = ("torch", "tensorflow", "keras", "sklearn")
#: the training frameworks the callbacks serve: never loaded by `import nnviz_widget` either
TRAINERS = ("lightning", "pytorch_lightning", "lightning_fabric", "transformers")
#: their callbacks, attributes of nnviz_widget imported on first use
CALLBACKS = {"LightningCallback": "lightning", "HFCallback": "transformers"}
# The real bundle holds three.js and the views: hundreds of kB. A placeholder is tens of bytes.
MIN_BUNDLE_BYTES = 20_000


def _require(module: str) -> None:
    try:
        __import__(module)
    except ImportError:
        message = f"{module} is not installed (make setup installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def _python(code: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter (the venv's), from a neutral directory."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO / "tests",  # not the repo root: the installed package, not ./nnviz_widget
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for module in ("build", "hatchling", "hatch_jupyter_builder"):
        _require(module)
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    wheels = sorted(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_contains_the_bundle(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert BUNDLE in names, f"{BUNDLE} missing from {wheel.name}: {names}"
        data = zf.read(BUNDLE)
    assert len(data) >= MIN_BUNDLE_BYTES, (
        f"{BUNDLE} in the wheel is {len(data)} bytes: a placeholder, not the built views"
    )
    text = data.decode("utf-8")
    assert "export" in text, "the bundle is not an ES module (anywidget's _esm needs one)"
    source_tree = REPO / BUNDLE
    if source_tree.exists():
        assert data == source_tree.read_bytes(), "the wheel's bundle differs from the built one"


def test_wheel_contains_the_loader(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        assert LOADER in zf.namelist(), f"{LOADER} missing from {wheel.name}"
        data = zf.read(LOADER)
    assert data == (REPO / LOADER).read_bytes()
    assert b"export default" in data


def test_wheel_holds_only_the_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = email.message_from_bytes(
            zf.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
        )
    stray = [
        n
        for n in names
        if not (n.startswith("nnviz_widget/") or ".dist-info/" in n)
        or "node_modules" in n
        or n.endswith((".ts", ".map"))
    ]
    assert not stray, f"unexpected files in the wheel: {stray[:20]}"
    assert metadata["Name"] == "nnviz-widget"
    requires = metadata.get_all("Requires-Dist") or []
    hard = [r for r in requires if "extra ==" not in r]
    framework_reqs = [r for r in hard if r.split(";")[0].strip().startswith(FRAMEWORKS)]
    assert not framework_reqs, f"frameworks must be optional extras, not requirements: {hard}"


def test_import_works_with_the_frameworks_blocked() -> None:
    """With torch/tensorflow/keras unimportable, the package and every module outside the
    framework adapters import, and NNViz is there."""
    result = _python(
        f"""
        import importlib, pkgutil, sys
        for name in {FRAMEWORKS + TRAINERS!r}:
            sys.modules[name] = None  # `import torch` now raises ImportError
        import nnviz_widget as nnv
        assert hasattr(nnv, "NNViz"), "nnviz_widget.NNViz is missing"
        for name in {CALLBACKS!r}:
            try:
                getattr(nnv, name)
            except ImportError:
                pass
            else:
                raise AssertionError(f"nnv.{{name}} imported with the frameworks blocked")
        skipped = []
        for info in pkgutil.walk_packages(nnv.__path__, "nnviz_widget."):
            parts = info.name.split(".")
            if len(parts) > 2 and parts[1] == "adapters" and parts[2] != "base":
                skipped.append(info.name)  # framework adapters: these may import a framework
                continue
            importlib.import_module(info.name)
        print("skipped", skipped)
        """
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_callbacks_without_their_framework_say_what_to_install() -> None:
    """With torch but no lightning / transformers, nnv.LightningCallback (and the others) raise
    an ImportError naming what to pip install."""
    _require("torch")
    result = _python(
        f"""
        import sys
        for name in {TRAINERS!r}:
            sys.modules[name] = None
        import nnviz_widget as nnv
        for name, package in {CALLBACKS!r}.items():
            try:
                getattr(nnv, name)
            except ImportError as e:
                assert f"pip install {{package}}" in str(e), (name, str(e))
            else:
                raise AssertionError(f"nnv.{{name}} imported with {{package}} blocked")
        """
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_import_does_not_load_a_framework() -> None:
    """Importing the package (installed, in a clean interpreter) loads no framework."""
    result = _python(
        f"""
        import sys
        import nnviz_widget
        from nnviz_widget import *
        from nnviz_widget import NNViz, Recorder
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in {FRAMEWORKS + TRAINERS!r})
        assert not loaded, f"importing nnviz_widget loaded {{loaded[:10]}}"
        print(nnviz_widget.__file__)
        """
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert str(REPO / "nnviz_widget") in result.stdout, (
        "the venv's nnviz_widget is not this checkout (make setup installs it editable)"
    )
