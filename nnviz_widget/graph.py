"""The framework-neutral graph: layers, edges and nesting, built by the adapters."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

#: The neutral vocabulary of layer kinds. Adapters map every framework class onto one of these;
#: anything unknown becomes ``"other"`` (its class name stays in ``Layer.op``).
KINDS: tuple[str, ...] = (
    "input",
    "dense",
    "conv",
    "pool",
    "norm",
    "dropout",
    "activation",
    "reshape",  # flatten / reshape / permute
    "embedding",
    "recurrent",  # rnn / lstm / gru
    "attention",
    "merge",  # add / concat / multiply
    "output",
    "other",
)

#: Kinds that map each element of their input to one element of their output, so a neuron
#: (or channel) on one side is the same neuron on the other. Used to find which neurons feed
#: a dense layer through e.g. ReLU -> Dropout -> Flatten.
PASS_THROUGH_KINDS: frozenset[str] = frozenset({"activation", "dropout", "norm", "reshape"})

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

    def __post_init__(self) -> None:
        if not self.layers:
            raise ValueError("the model has no layers: nothing to show")
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

    def __getitem__(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer named {name!r}; layers are {[x.name for x in self.layers]}")

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
        return [a for a, b in self.edges if b == name]

    def successors(self, name: str) -> list[str]:
        return [b for a, b in self.edges if a == name]

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
            if src.kind in ("dense", "input", "embedding", "recurrent", "merge", "output"):
                return src.name if fan_in is None or size == fan_in else None
            if src.kind in PASS_THROUGH_KINDS:
                cur = src.name
                continue
            return src.name if fan_in is not None and size == fan_in else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (this is what the browser gets, plus derived ``neuron_source``)."""
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
