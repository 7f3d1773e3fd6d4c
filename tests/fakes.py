"""A framework-free model + adapter for testing the recorder, wire format and widget."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from nnviz_widget.adapters import ModelAdapter, ParamDict
from nnviz_widget.graph import Graph, Layer


class FakeModel:
    """An MLP held as numpy arrays: sizes e.g. (784, 128, 10). Tests mutate ``params``."""

    def __init__(self, sizes: tuple[int, ...] = (4, 3, 2), seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.sizes = sizes
        self.params: ParamDict = {}
        for i, (a, b) in enumerate(itertools.pairwise(sizes)):
            self.params[f"fc{i + 1}"] = {
                "weight": rng.normal(0, 1 / np.sqrt(a), (b, a)).astype(np.float32),
                "bias": np.zeros(b, np.float32),
            }
        self.grads: ParamDict = {}

    def step(self, lr: float = 0.1, seed: int = 1) -> None:
        rng = np.random.default_rng(seed)
        for p in self.params.values():
            for k in p:
                p[k] = p[k] + lr * rng.normal(size=p[k].shape).astype(np.float32)


class FakeAdapter(ModelAdapter):
    framework = "fake"

    def graph(self) -> Graph:
        m: FakeModel = self.model
        layers = [Layer(0, "x", "input", "Input", output_shape=(m.sizes[0],))]
        edges = []
        prev = "x"
        for i, name in enumerate(m.params):
            w = m.params[name]["weight"]
            layers.append(
                Layer(
                    len(layers),
                    name,
                    "dense",
                    "Linear",
                    output_shape=(w.shape[0],),
                    input_shapes=[(w.shape[1],)],
                    units=w.shape[0],
                    param_shapes={k: v.shape for k, v in m.params[name].items()},
                    params=sum(v.size for v in m.params[name].values()),
                )
            )
            edges.append((prev, name))
            prev = name
            if i < len(m.params) - 1:
                act = f"relu{i + 1}"
                layers.append(
                    Layer(len(layers), act, "activation", "ReLU", output_shape=(w.shape[0],))
                )
                edges.append((prev, act))
                prev = act
        layers.append(Layer(len(layers), "output", "output", "output", output_shape=(m.sizes[-1],)))
        edges.append((prev, "output"))
        return Graph(layers, edges, framework="fake", model_name="FakeMLP")

    def parameters(self) -> ParamDict:
        m: FakeModel = self.model
        return {n: {k: v.copy() for k, v in p.items()} for n, p in m.params.items()}

    def gradients(self) -> ParamDict:
        m: FakeModel = self.model
        return {n: {k: v.copy() for k, v in p.items()} for n, p in m.grads.items()}


def patch_adapt(monkeypatch: Any) -> None:
    """Make Recorder/NNViz accept FakeModel."""
    import nnviz_widget.recorder as recorder

    real = recorder.adapt

    def adapt(model: Any, **kw: Any) -> ModelAdapter:
        if isinstance(model, FakeModel):
            return FakeAdapter(model, **kw)
        return real(model, **kw)

    monkeypatch.setattr(recorder, "adapt", adapt)
