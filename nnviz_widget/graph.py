"""The framework-neutral graph: layers, edges and nesting, built by the adapters."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class LayerKind:
    """What the graph and the views need to know about one kind of layer (sent in ``kinds``)."""

    #: "#rrggbb" of its blocks, boxes and chips; muted so weight colors stay the loud part
    color: str
    #: maps each input element to one output element, so a neuron (or channel) on one side is the
    #: same neuron on the other: neuron sources are found through it, 2D folds it into the neuron
    #: column before it, 3D draws it as a thin plate and labels it by its op
    pass_through: bool = False
    #: drawn as a grid of neurons in 3D when small enough (other kinds only when they feed a dense)
    neurons: bool = False
    #: its outputs are units a following dense layer is wired to as they are (no fan-in check)
    feeds_dense: bool = False
    label_tier: int = 3  # label priority: 3 computing layers, 2 the input, 1 pass-through / output
    block_depth: float = 2.0  # thickness of its 3D block along the flow (neuron spacings)
    units_label: str = "units"  # what ``Layer.units`` counts, as the details panel names it


#: The neutral vocabulary of layer kinds: the one table of them. Adapters map every framework
#: class onto one of these; anything unknown becomes ``"other"`` (its class name stays in
#: ``Layer.op``). The browser gets it as ``graph.kinds`` and reads colors and properties from it.
LAYER_KINDS: dict[str, LayerKind] = {
    "input": LayerKind("#7a8aa0", neurons=True, feeds_dense=True, label_tier=2),
    "dense": LayerKind("#4c78a8", neurons=True, feeds_dense=True),
    "conv": LayerKind("#54a24b", units_label="channels"),
    "pool": LayerKind("#88b06a", block_depth=1.0),
    "norm": LayerKind("#b279a2", pass_through=True, label_tier=1),
    "dropout": LayerKind("#9d9d9d", pass_through=True, label_tier=1),
    "activation": LayerKind("#e0a030", pass_through=True, label_tier=1),
    "reshape": LayerKind("#8c8c8c", pass_through=True, label_tier=1),  # flatten / reshape / permute
    "embedding": LayerKind("#f58518", feeds_dense=True),
    "recurrent": LayerKind("#e45756", feeds_dense=True),  # rnn / lstm / gru
    "attention": LayerKind("#d6616b"),
    "merge": LayerKind("#72b7b2", feeds_dense=True, block_depth=1.0),  # add / concat / multiply
    "output": LayerKind("#5f6b7a", neurons=True, feeds_dense=True, label_tier=1, block_depth=1.2),
    "other": LayerKind("#a0a0a0"),
}

KINDS: tuple[str, ...] = tuple(LAYER_KINDS)  # the names alone, in table order


def kinds_dict() -> dict[str, dict[str, Any]]:
    """``LAYER_KINDS`` as JSON (the ``kinds`` entry of ``Graph.to_dict()``)."""
    return {name: asdict(kind) for name, kind in LAYER_KINDS.items()}


Shape = tuple[int | None, ...]


@dataclass
class Layer:
    """One node of the graph. ``output_shape`` and ``input_shapes`` are per sample (no batch)."""

    id: int
    name: str
    kind: str
    op: str  # framework class name ("Linear", "Conv2D") or functional op ("add", "cat")
    output_shape: Shape = ()
    input_shapes: list[Shape] = field(default_factory=list)
    units: int | None = None  # neurons (dense), channels (conv), embedding dim ...
    param_shapes: dict[str, Shape] = field(default_factory=dict)
    params: int = 0  # own parameter count as the framework counts it, never double counted
    parent: str | None = None  # enclosing module / model path, for nesting
    detail: dict[str, Any] = field(default_factory=dict)  # activation, kernel_size, dim ...

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown layer kind {self.kind!r}; expected one of {KINDS}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "op": self.op,
            "output_shape": list(self.output_shape),
            "input_shapes": [list(s) for s in self.input_shapes],
            "units": self.units,
            "param_shapes": {k: list(v) for k, v in self.param_shapes.items()},
            "params": self.params,
            "parent": self.parent,
            "detail": _jsonable(self.detail),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Layer:
        return cls(
            id=int(d["id"]),
            name=str(d["name"]),
            kind=str(d["kind"]),
            op=str(d["op"]),
            output_shape=tuple(d.get("output_shape", ())),
            input_shapes=[tuple(s) for s in d.get("input_shapes", [])],
            units=d.get("units"),
            param_shapes={k: tuple(v) for k, v in d.get("param_shapes", {}).items()},
            params=int(d.get("params", 0)),
            parent=d.get("parent"),
            detail=dict(d.get("detail", {})),
        )


@dataclass
class Module:
    """One node of the module tree: a torch submodule, a nested Keras model, or a block derived
    from layer names. Layers point at their innermost module with ``Layer.parent``."""

    path: str  # torch "transformer.h.0"; Keras "outer/inner"
    parent: str | None = None  # enclosing module's path; None at the top level
    cls: str = ""  # framework class name ("GPT2Block", "ModuleList", "Functional")
    #: a pure container (torch ModuleList / ModuleDict / Sequential below the model): never
    #: shown as a block of its own, its children are shown in its place
    container: bool = False
    #: equal for structurally identical modules (class, descendant layers, internal edges):
    #: what rolls up "GPT2Block × 12"
    signature: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "parent": self.parent,
            "class": self.cls,
            "container": self.container,
            "signature": self.signature,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Module:
        parent = d.get("parent")
        return cls(
            path=str(d["path"]),
            parent=None if parent is None else str(parent),
            cls=str(d.get("class", "")),
            container=bool(d.get("container", False)),
            signature=str(d.get("signature", "")),
        )


@dataclass
class Graph:
    """Layers in topological order plus edges as (source name, target name) pairs, and the
    module tree that ``Layer.parent`` points into (parents before children)."""

    layers: list[Layer]
    edges: list[tuple[str, str]]
    framework: str = ""
    model_name: str = ""
    approximate: bool = False  # topology guessed from execution order, not traced
    notes: list[str] = field(default_factory=list)
    # where image-like shapes keep their channels: torch (C, H, W), Keras by default (H, W, C)
    data_format: str = "channels_first"
    #: every module that is a layer's parent or an ancestor of one, parents first; empty for
    #: graphs without a module tree (old run files)
    modules: list[Module] = field(default_factory=list)
    # name -> layer, predecessors and successors, built on first use (graphs of 10,000 layers
    # would otherwise scan every layer / edge per lookup); rebuilt if the lists are replaced
    # or change length
    _index: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not any(layer.kind not in ("input", "output") for layer in self.layers):
            # e.g. torch.nn.Sequential(): the adapter's input and output nodes alone
            raise ValueError(
                "the model has no layers: nothing to show (pass a model with at least one layer)"
            )
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"layer names must be unique, got duplicates {dup}")
        known = set(names)
        for a, b in self.edges:
            if a not in known or b not in known:
                raise ValueError(f"edge ({a!r}, {b!r}) names a layer that is not in the graph")
        if self.modules:
            self._check_modules()

    def _check_modules(self) -> None:
        seen: set[str] = set()
        for m in self.modules:
            if m.path in seen:
                raise ValueError(f"module {m.path!r} is listed twice")
            if m.parent is not None and m.parent not in seen:
                raise ValueError(f"module {m.path!r} comes before its parent {m.parent!r}")
            seen.add(m.path)
        for layer in self.layers:
            if layer.parent is not None and layer.parent not in seen:
                raise ValueError(f"layer {layer.name!r} has parent {layer.parent!r}, not a module")

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def _lookup(
        self,
    ) -> tuple[dict[str, Layer], dict[str, list[str]], dict[str, list[str]]]:
        key = (id(self.layers), len(self.layers), id(self.edges), len(self.edges))
        if self._index is None or self._index[0] != key:
            by_name = {layer.name: layer for layer in self.layers}
            preds: dict[str, list[str]] = {}
            succs: dict[str, list[str]] = {}
            for a, b in self.edges:
                preds.setdefault(b, []).append(a)
                succs.setdefault(a, []).append(b)
            self._index = (key, (by_name, preds, succs))
        return self._index[1]

    def __getitem__(self, name: str) -> Layer:
        layer = self._lookup()[0].get(name)
        if layer is None:
            shown = [x.name for x in self.layers[:50]]
            more = f" ... ({len(self.layers)} in all)" if len(self.layers) > 50 else ""
            raise KeyError(f"no layer named {name!r}; layers are {shown}{more}")
        return layer

    def __repr__(self) -> str:
        return (
            f"Graph({self.framework or '?'} {self.model_name!r}: {len(self.layers)} layers, "
            f"{len(self.edges)} edges, {self.total_params:,} params"
            f"{', approximate' if self.approximate else ''})"
        )

    @property
    def names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    @property
    def total_params(self) -> int:
        return sum(layer.params for layer in self.layers)

    def predecessors(self, name: str) -> list[str]:
        return list(self._lookup()[1].get(name, ()))

    def successors(self, name: str) -> list[str]:
        return list(self._lookup()[2].get(name, ()))

    def neuron_source(self, name: str) -> str | None:
        """The layer whose neurons feed dense layer ``name`` (through pass-through layers).

        A dense layer with weight (out, in) is drawn as connections from the ``in`` neurons of
        this source to its own ``out`` neurons; None where no single source of ``in`` units exists.
        """
        self[name]  # KeyError naming the layers
        return self._neuron_sources().get(name)

    def _neuron_sources(self) -> dict[str, str]:
        """``neuron_source`` of every dense layer that has one, from one table of layers and
        predecessors (a lookup per layer was quadratic: 20 s for a graph of 9,000 layers)."""
        by_name, preds, _ = self._lookup()
        out: dict[str, str] = {}
        for layer in self.layers:
            if layer.kind != "dense" or layer.units is None:
                continue
            w = layer.param_shapes.get("weight")
            fan_in = w[1] if w is not None and len(w) == 2 else None
            cur = layer.name
            while True:
                ps = preds.get(cur, [])
                if len(ps) != 1:
                    break
                src = by_name[ps[0]]
                size = _numel(src.output_shape)
                if LAYER_KINDS[src.kind].feeds_dense:
                    if fan_in is None or size == fan_in:
                        out[layer.name] = src.name
                    break
                if LAYER_KINDS[src.kind].pass_through:
                    cur = src.name
                    continue
                if fan_in is not None and size == fan_in:
                    out[layer.name] = src.name
                break
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what the browser gets: plus derived ``neuron_source`` and ``kinds``)."""
        return {
            "framework": self.framework,
            "model_name": self.model_name,
            "approximate": self.approximate,
            "notes": list(self.notes),
            "data_format": self.data_format,
            "layers": [layer.to_dict() for layer in self.layers],
            "edges": [list(e) for e in self.edges],
            "neuron_source": self._neuron_sources(),
            "total_params": self.total_params,
            "kinds": kinds_dict(),
            "modules": [m.to_dict() for m in self.modules],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Graph:
        return cls(
            layers=[Layer.from_dict(x) for x in d["layers"]],
            edges=[(str(a), str(b)) for a, b in d["edges"]],
            framework=str(d.get("framework", "")),
            model_name=str(d.get("model_name", "")),
            approximate=bool(d.get("approximate", False)),
            notes=list(d.get("notes", [])),
            data_format=str(d.get("data_format", "channels_first")),
            modules=[Module.from_dict(m) for m in d.get("modules", [])],
        )


def module_tree(
    layers: list[Layer],
    edges: list[tuple[str, str]],
    known: Mapping[str, tuple[str | None, str, bool]],
) -> list[Module]:
    """The ``Graph.modules`` of ``layers``: every module that is a layer's ``parent`` or an
    ancestor of one, parents first, siblings in the order of their first layer, each with its
    structural signature.

    ``known`` maps module path -> (parent path, class name, container) for every module the
    adapter knows (it may hold more than the layers use); a parent it lacks becomes a top-level
    module of no class."""
    known = dict(known)
    used: dict[str, None] = {}  # insertion order = first layer's order, ancestors included
    for layer in layers:
        chain: list[str] = []
        p = layer.parent
        while p is not None and p not in used:
            if p not in known:  # never a crash over a path the adapter did not list
                known[p] = (None, "", False)
            chain.append(p)
            p = known[p][0]
        for q in reversed(chain):
            used[q] = None
    children: dict[str | None, list[str]] = {}
    for path in used:
        children.setdefault(known[path][0], []).append(path)
    ordered: list[str] = []
    todo = list(reversed(children.get(None, [])))
    while todo:  # preorder: a parent, then its subtree
        path = todo.pop()
        ordered.append(path)
        todo.extend(reversed(children.get(path, [])))
    sigs = _signatures(
        layers, edges, {p: known[p][0] for p in used}, {p: known[p][1] for p in used}
    )
    return [Module(p, known[p][0], known[p][1], known[p][2], sigs[p]) for p in ordered]


def _signatures(
    layers: list[Layer],
    edges: list[tuple[str, str]],
    parent_of: dict[str, str | None],
    cls_of: dict[str, str],
) -> dict[str, str]:
    """A short hash per module of its class, its descendant layers in order (kind, op, parameter
    shapes, output shape, module path below it) and its internal edges by position (plus which
    positions take input from outside and which feed the outside): names play no part, so the
    12 blocks of GPT-2 share one. One pass over layers and edges, times the tree's depth."""
    chains: dict[str, list[str]] = {}  # layer -> its ancestors, innermost first
    for layer in layers:
        chain, p = [], layer.parent
        while p is not None:
            chain.append(p)
            p = parent_of[p]
        chains[layer.name] = chain
    items: dict[str, list[str]] = {p: [] for p in parent_of}
    pos: dict[tuple[str, str], int] = {}  # (module, layer) -> the layer's index inside it
    for layer in layers:
        key = json.dumps(
            [
                layer.kind,
                layer.op,
                sorted((k, list(v)) for k, v in layer.param_shapes.items()),
                list(layer.output_shape),
            ],
            separators=(",", ":"),
        )
        below = ""  # the layer's module path inside m, grown one part per level up
        for i, m in enumerate(chain := chains[layer.name]):
            if i:
                part = _last(chain[i - 1])
                below = f"{part}/{below}" if below else part
            pos[(m, layer.name)] = len(items[m])
            items[m].append(f"{key} {below}")
    # a set: how many outside layers read a block's output is not the block's structure
    inner: dict[str, set[tuple[Any, ...]]] = {p: set() for p in parent_of}
    for a, b in edges:
        ca, cb = chains.get(a, []), chains.get(b, [])
        sa, sb = set(ca), set(cb)
        for m in ca:
            inner[m].add(("e", pos[(m, a)], pos[(m, b)]) if m in sb else ("out", pos[(m, a)]))
        for m in cb:
            if m not in sa:
                inner[m].add(("in", pos[(m, b)]))
    out: dict[str, str] = {}
    for p in parent_of:
        text = "\n".join([cls_of[p], *items[p], repr(sorted(inner[p]))])
        out[p] = hashlib.sha1(text.encode()).hexdigest()[:12]
    return out


def _last(path: str) -> str:
    """A module path's last part (torch "a.b.c" -> "c", Keras "a/b" -> "b")."""
    return path.replace("/", ".").rpartition(".")[2]


def _numel(shape: Shape) -> int | None:
    n = 1
    for s in shape:
        if s is None:
            return None
        n *= int(s)
    return n


def _jsonable(value: Any) -> Any:
    """Recursively turn tuples and numpy scalars into plain JSON types."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if hasattr(value, "item"):
        return value.item()
    return str(value)
