"""Which module is which: canonical module paths, the *layer modules* (graph nodes), which node
owns which parameter, and the model's live modules and parameters (walked again only on change)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from torch import nn

from ..base import ModelAdapter

# Modules whose children are implementation details: one node each, owning all their params.
_ATOMIC: tuple[type[nn.Module], ...] = (nn.MultiheadAttention, nn.RNNBase, nn.RNNCellBase)


@dataclass
class _Owned:
    """The parameters a graph node owns (each Parameter object has exactly one owner)."""

    path: str  # module path of the owner ("" for the model itself)
    params: list[tuple[str, nn.Module, str, nn.Parameter]]  # (canonical name, submodule, attr, p)
    tied: dict[str, str]  # canonical name -> full name of the owner that counts it


@dataclass
class _Live:
    """``list(model.modules())`` and ``list(model.parameters())`` as last walked, and what says
    whether they still are: the entries of every module's ``_modules`` and ``_parameters``."""

    modules: list[nn.Module]
    params: list[nn.Parameter]
    members: list[Any]  # per module: itself, its _modules values, its _parameters values
    has_mha: bool  # an nn.MultiheadAttention among the modules


class ModuleTable(ModelAdapter):
    """The module table of ``TorchAdapter`` (its first part; the others build on it)."""

    # set in TorchAdapter.__init__ (the table itself: ``_scan_modules``)
    _owners_cache: dict[str, _Owned] | None
    _live_cache: _Live | None

    def _scan_modules(self) -> None:
        """Canonical module paths, aliases, layer modules and the root's display name."""
        model = self.model
        self._mods: dict[str, nn.Module] = dict(model.named_modules())
        path_of = {id(m): p for p, m in self._mods.items()}
        self._alias: dict[str, str] = {
            p: path_of[id(m)] for p, m in model.named_modules(remove_duplicate=False)
        }
        # layer_of[path]: the layer module that a module belongs to (itself, or its atomic
        # ancestor); None for containers. named_modules lists parents before children.
        self._layer_of: dict[str, str | None] = {}
        for path, m in self._mods.items():
            parent = path.rpartition(".")[0] if path else None
            inherited = self._layer_of.get(parent) if parent is not None else None
            if inherited is not None:
                self._layer_of[path] = inherited
            elif isinstance(m, _ATOMIC) or not any(True for _ in m.children()):
                self._layer_of[path] = path
            else:
                self._layer_of[path] = None
        root = type(model).__name__
        self._root_name = root if root not in self._mods else f"{root}_root"
        self._node_path: dict[str, str | None] = {}  # node name -> module path (module nodes)

    def _node_name(self, path: str) -> str:
        return path if path else self._root_name

    def _canon(self, raw: str) -> str | None:
        """A module path as written in a trace -> the canonical path, or None if unknown."""
        if raw in self._alias:
            return self._alias[raw]
        p = re.sub(r"\[['\"]?([^\]'\"]+)['\"]?\]", r".\1", raw)  # a['b'][0] -> a.b.0
        p = re.sub(r"^(L\.self|self|L__self__)\.?", "", p)
        return self._alias.get(p)

    def _owners(self) -> dict[str, _Owned]:
        """Node name -> the params it owns; first owner (in module order) wins on tying."""
        if self._owners_cache is not None:
            return self._owners_cache
        if any(isinstance(p, nn.parameter.UninitializedParameter) for p in self.model.parameters()):
            self.graph()  # lazy modules get their shapes on the first forward
        seen: dict[int, str] = {}
        owners: dict[str, _Owned] = {}
        for path, m in self._mods.items():
            layer = self._layer_of[path]
            if layer is not None and layer != path:
                continue  # inside an atomic module: its owner takes these
            recurse = layer is not None
            owned = _Owned(path, [], {})
            for pname, p in m.named_parameters(recurse=recurse, remove_duplicate=False):
                full = f"{path}.{pname}" if path else pname
                if id(p) in seen:
                    owned.tied[pname] = seen[id(p)]
                    continue
                seen[id(p)] = full
                sub_path, _, attr = pname.rpartition(".")
                sub = m.get_submodule(sub_path) if sub_path else m
                owned.params.append((pname, sub, attr, p))
            if layer is not None or owned.params:
                owners[self._node_name(path)] = owned
        self._owners_cache = owners
        return owners

    def _live(self) -> _Live:
        """The model's modules and parameters now (``model.modules()``, ``model.parameters()``),
        walked again only when some module's ``_modules`` or ``_parameters`` changed (a module
        or parameter replaced, added or removed): this runs several times per record, and the
        check is a plain loop over what the walk would visit."""
        live = self._live_cache
        if live is not None and _same_members(live.modules, live.members):
            return live
        modules = list(self.model.modules())
        live = self._live_cache = _Live(
            modules=modules,
            params=list(self.model.parameters()),
            members=_members(modules),
            has_mha=any(isinstance(m, nn.MultiheadAttention) for m in modules),
        )
        return live


def _members(modules: list[nn.Module]) -> list[Any]:
    """What ``_same_members`` compares: each module, then its ``_modules`` and ``_parameters``
    values (None entries included)."""
    out: list[Any] = []
    for m in modules:
        out.append(m)
        out.extend(m._modules.values())
        out.extend(m._parameters.values())
    return out


def _same_members(modules: list[nn.Module], members: list[Any]) -> bool:
    """Whether ``_members(modules)`` would give the same objects again (by identity: a
    parameter's ``==`` compares values). Then ``model.modules()`` and ``model.parameters()``
    give what they gave."""
    i = 0
    try:
        for m in modules:
            if members[i] is not m:
                return False
            i += 1
            for v in m._modules.values():
                if members[i] is not v:
                    return False
                i += 1
            for v in m._parameters.values():
                if members[i] is not v:
                    return False
                i += 1
    except IndexError:  # more than there were
        return False
    return i == len(members)
