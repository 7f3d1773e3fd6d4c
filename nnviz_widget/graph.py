"""The framework-neutral graph: layers, edges and nesting, built by the adapters."""

from __future__ import annotations

from collections.abc import Iterator
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
class Graph:
    """Layers in topological order plus edges as (source name, target name) pairs."""

    layers: list[Layer]
    edges: list[tuple[str, str]]
    framework: str = ""
    model_name: str = ""
    approximate: bool = False  # topology guessed from execution order, not traced
    notes: list[str] = field(default_factory=list)
    # where image-like shapes keep their channels: torch (C, H, W), Keras by default (H, W, C)
    data_format: str = "channels_first"
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
        layer = self[name]
        if layer.kind != "dense" or layer.units is None:
            return None
        w = layer.param_shapes.get("weight")
        fan_in = w[1] if w is not None and len(w) == 2 else None
        cur = name
        while True:
            preds = self.predecessors(cur)
            if len(preds) != 1:
                return None
            src = self[preds[0]]
            size = _numel(src.output_shape)
            if LAYER_KINDS[src.kind].feeds_dense:
                return src.name if fan_in is None or size == fan_in else None
            if LAYER_KINDS[src.kind].pass_through:
                cur = src.name
                continue
            return src.name if fan_in is not None and size == fan_in else None

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
            "neuron_source": {
                layer.name: src
                for layer in self.layers
                if (src := self.neuron_source(layer.name)) is not None
            },
            "total_params": self.total_params,
            "kinds": kinds_dict(),
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
        )


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
