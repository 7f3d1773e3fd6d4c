"""The package's import rules, read from its source with ``ast``.

Data flows one way (model -> graph + recording -> wire / file -> widget), so a module imports
only modules of lower layers (or of its own layer where the table says so), and every import
of a package module is at the top of its file: a function-local import would hide a cycle.
The one exception: lazy imports of the framework adapters (they import torch / keras).
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "nnviz_widget"

#: layer of each top-level module, lowest first; ``adapters`` stands for the whole subpackage
LAYERS: list[set[str]] = [
    {"version", "graph"},
    {"hierarchy"},
    {"adapters"},
    {"probe"},
    {"snapshot"},
    {"wire"},
    {"runfile"},
    {"history"},
    {"recorder"},
    {"sync", "controls", "export", "png", "figures"},
    {"widget"},
    {"compare", "follow"},
    {"__init__", "__main__"},
]
LEVEL = {name: i for i, names in enumerate(LAYERS) for name in names}
#: what the adapters subpackage may import outside itself
ADAPTERS_MAY_IMPORT = {"graph"}


def _unit(module: str) -> str:
    """The layer table's name for a module path inside the package ("adapters.torch" ...)."""
    return module.split(".")[0]


def _name(path: Path) -> tuple[str, list[str]]:
    """(module path inside the package, its package's parts) of a source file."""
    rel = list(path.relative_to(PKG).with_suffix("").parts)
    if rel[-1] == "__init__":
        package = rel[:-1]
        return (".".join(package) or "__init__"), package
    return ".".join(rel), rel[:-1]


def _targets(node: ast.Import | ast.ImportFrom, package: list[str]) -> list[str]:
    """Package modules (paths inside the package) that ``node`` imports."""
    if isinstance(node, ast.Import):
        return [
            ".".join(a.name.split(".")[1:]) or "__init__"
            for a in node.names
            if a.name.split(".")[0] == "nnviz_widget"
        ]
    if node.level == 0:
        if (node.module or "").split(".")[0] != "nnviz_widget":
            return []
        base = (node.module or "").split(".")[1:]
    else:
        base = package[: len(package) - (node.level - 1)]
        base = base + (node.module.split(".") if node.module else [])
    if node.module is None:  # from . import a, b
        return [".".join([*base, a.name]) for a in node.names]
    return [".".join(base) or "__init__"]


def _imports() -> list[tuple[str, str, int, bool]]:
    """(importer, imported, line, at module level) for every import of a package module."""
    found = []
    for path in sorted(PKG.rglob("*.py")):
        module, package = _name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = set(map(id, tree.body))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _targets(node, package):
                    found.append((module, target, node.lineno, id(node) in top))
    return found


def _where(module: str, line: int) -> str:
    path = PKG / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = PKG / module.replace(".", "/") / "__init__.py"
    return f"{path.relative_to(PKG.parent)}:{line}"


def test_the_parser_sees_the_imports() -> None:
    pairs = {(a, b) for a, b, _, _ in _imports()}
    assert ("widget", "recorder") in pairs and ("recorder", "snapshot") in pairs
    assert any(a.startswith("adapters") and b == "graph" for a, b in pairs)


def test_every_module_has_a_layer() -> None:
    missing = sorted({u for p in PKG.rglob("*.py") if (u := _unit(_name(p)[0])) not in LEVEL})
    assert not missing, f"add these modules to LAYERS in tests/test_layers.py: {missing}"


def test_no_module_imports_its_own_layer_or_one_above() -> None:
    broken = []
    for importer, imported, line, _ in _imports():
        src, dst = _unit(importer), _unit(imported)
        if src == "adapters":
            if dst != "adapters" and dst not in ADAPTERS_MAY_IMPORT:
                broken.append(
                    f"{_where(importer, line)} imports {imported}: the adapters may import "
                    f"only {sorted(ADAPTERS_MAY_IMPORT)} and their own subpackage"
                )
        elif LEVEL[dst] >= LEVEL[src]:
            where = "its own layer" if LEVEL[dst] == LEVEL[src] else "a layer above it"
            broken.append(
                f"{_where(importer, line)} imports {imported}, which is in {where} "
                f"({sorted(LAYERS[LEVEL[dst]])} is layer {LEVEL[dst]}, "
                f"{sorted(LAYERS[LEVEL[src]])} layer {LEVEL[src]})"
            )
    assert not broken, "import rules broken:\n" + "\n".join(broken)


def test_package_imports_are_at_the_top() -> None:
    """A function-local import of a package module hides a cycle; only the framework adapters
    (which import torch / keras) may be imported lazily."""
    lazy_ok = {"adapters"}  # the subpackage's modules, not its framework-free base
    broken = [
        f"{_where(importer, line)} imports {imported} inside a function: import it at the top "
        "(if that makes a cycle, a module is in the wrong layer)"
        for importer, imported, line, top in _imports()
        if not top
        and not (_unit(imported) in lazy_ok and imported not in ("adapters", "adapters.base"))
    ]
    assert not broken, "\n".join(broken)
