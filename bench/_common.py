"""Shared bench helpers: models, data and a comm that counts bytes (no Jupyter needed)."""

from __future__ import annotations

import json
from typing import Any


class CountingComm:
    """Counts the JSON and binary bytes widgets would send to the browser."""

    def __init__(self, totals: dict[str, int]) -> None:
        self.totals = totals
        self.comm_id = f"bench{totals.setdefault('n', 0)}"
        totals["n"] += 1
        self.kernel = "bench"

    def _count(self, data: Any, buffers: Any) -> None:
        self.totals["json"] = self.totals.get("json", 0) + len(json.dumps(data or {}, default=str))
        self.totals["binary"] = self.totals.get("binary", 0) + sum(
            memoryview(b).nbytes for b in buffers or []
        )

    def open(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        self._count(data, buffers)

    def send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        self._count(data, buffers)

    def on_msg(self, *a: Any, **k: Any) -> None: ...

    def on_close(self, *a: Any, **k: Any) -> None: ...

    def close(self, *a: Any, **k: Any) -> None: ...


def count_comm_bytes() -> dict[str, int]:
    """Route every widget's comm to a counter; returns the live totals dict."""
    import comm

    totals: dict[str, int] = {}

    def create_comm(**kwargs: Any) -> CountingComm:
        c = CountingComm(totals)
        c._count(kwargs.get("data"), kwargs.get("buffers"))
        return c

    comm.create_comm = create_comm  # type: ignore[assignment]
    return totals


def torch_mlp(sizes: tuple[int, ...] = (784, 128, 10)) -> Any:
    """The seed MLP: Linear -> ReLU -> Linear, with a forward that flattens its input."""
    import torch
    from torch import nn

    class MLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(sizes[0], sizes[1])
            self.relu = nn.ReLU()
            self.fc2 = nn.Linear(sizes[1], sizes[2])

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = torch.flatten(x, 1)
            return self.fc2(self.relu(self.fc1(x)))

    return MLP()


def digits() -> tuple[Any, Any]:
    """sklearn's bundled 8x8 digits, scaled to [0, 1] (no download)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.data / 16.0).astype("float32"), d.target.astype("int64")
