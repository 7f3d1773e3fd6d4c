"""Training time of a digits MLP (64-64-10, 30 epochs) with record() every epoch vs without.

Torch (the user's own loop) and Keras (fit with the callback), measured in the same run, with
the probe batch (32 samples) recording activations and health each epoch; and a small CNN on
the 8x8 digits, to show what feature maps cost. Goal: <= 5% overhead for the MLPs. Prints
ratios; asserts nothing.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from _common import count_comm_bytes, digits, torch_mlp

EPOCHS = 30
BATCH = 32
REPEATS = 7


def torch_run(record: bool) -> float:
    import torch

    import nnviz_widget as nnv

    X, y = digits()
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    torch.manual_seed(0)
    model = torch_mlp((64, 64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    viz = nnv.NNViz(model, inputs=X_t[:32]) if record else None
    t0 = time.perf_counter()
    for epoch in range(EPOCHS):
        perm = torch.randperm(len(X_t))
        total = 0.0
        for i in range(0, len(X_t), BATCH):
            idx = perm[i : i + BATCH]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(X_t[idx]), y_t[idx])
            loss.backward()
            opt.step()
            total += loss.item()
        if viz is not None:
            viz.record(epoch, loss=total / (len(X_t) / BATCH))
    if viz is not None:
        viz.flush()  # what a notebook does when the cell ends: counted
    return time.perf_counter() - t0


def torch_cnn_run(record: bool) -> float:
    """A small CNN on the 8x8 digits: what probe activations (feature maps) cost there."""
    import torch
    from torch import nn

    import nnviz_widget as nnv

    X, y = digits()
    X_t, y_t = torch.from_numpy(X).view(-1, 1, 8, 8), torch.from_numpy(y)
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * 64, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    viz = nnv.NNViz(model, inputs=X_t[:32]) if record else None
    t0 = time.perf_counter()
    for epoch in range(EPOCHS):
        perm = torch.randperm(len(X_t))
        for i in range(0, len(X_t), BATCH):
            idx = perm[i : i + BATCH]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(X_t[idx]), y_t[idx])
            loss.backward()
            opt.step()
        if viz is not None:
            viz.record(epoch, loss=loss.item())
    if viz is not None:
        viz.flush()
    return time.perf_counter() - t0


def keras_run(record: bool) -> float:
    import keras

    import nnviz_widget as nnv

    X, y = digits()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)]
    )
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    callbacks: list[Any] = []
    if record:
        viz = nnv.NNViz(model, inputs=X[:32])
        callbacks.append(viz.keras_callback())
    t0 = time.perf_counter()
    model.fit(X, y, epochs=EPOCHS, batch_size=BATCH, verbose=0, callbacks=callbacks)
    return time.perf_counter() - t0


def interleaved(fn: Any) -> tuple[float, float, float]:
    """REPEATS pairs of runs, each pair back to back (alternating which goes first), so the
    machine's drift hits both alike. Returns the best time of each and the median of the
    pairs' ratios: on a shared machine whose speed changes under it, the paired median is the
    steadier of the two estimates."""
    base, rec, ratios = [], [], []
    for i in range(REPEATS):
        if i % 2:
            r, b = fn(True), fn(False)
        else:
            b, r = fn(False), fn(True)
        base.append(b)
        rec.append(r)
        ratios.append(r / b)
    return min(base), min(rec), statistics.median(ratios)


def main() -> None:
    count_comm_bytes()  # widgets talk to a counting comm, as if a browser were attached
    print(f"digits MLP 64-64-10, {EPOCHS} epochs, batch {BATCH}, {REPEATS} interleaved pairs")
    runs = (("torch", torch_run), ("keras", keras_run), ("torch CNN", torch_cnn_run))
    for name, fn in runs:
        fn(False)  # warm-up (imports, graph building)
        fn(True)
        base, rec, paired = interleaved(fn)
        print(
            f"  {name:9s} without record {base:6.2f} s   with record {rec:6.2f} s   "
            f"overhead: best-of {100 * (rec / base - 1):+5.1f}%, "
            f"median of pairs {100 * (paired - 1):+5.1f}%   (goal <= 5% for the MLPs)"
        )


if __name__ == "__main__":
    main()
