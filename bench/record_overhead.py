"""Training time of a digits MLP (64-64-10, 30 epochs) with record() every epoch vs without.

Torch (the user's own loop) and Keras (fit with the callback), measured in the same run, with
the probe batch (32 samples) recording activations, gradients and health each epoch; and a
small CNN on the 8x8 digits, to show what feature maps cost. Goal: <= 5% for the MLPs.

This machine's speed drifts under it (shared cores: the same run varies by +-10% from one
minute to the next), more than the effect measured. So runs with and without are interleaved
in pairs and three estimates are printed:

* per epoch: the median epoch time (training + record(), end to end, so cache effects on the
  next epoch count) with vs without, over every epoch of every run: robust to the drift;
* whole runs: the median of the pairs' total-time ratios (includes the final flush);
* inside: the time spent in record() itself as a share of the training time.

Prints ratios; asserts nothing.
"""

from __future__ import annotations

import itertools
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


class Run:
    """One training run's timings: the whole run, each epoch (training + record), and the
    time spent inside record()/flush()."""

    def __init__(self) -> None:
        self.total = 0.0
        self.epochs: list[float] = []
        self.inside = 0.0

    def timed(self, fn: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.inside += time.perf_counter() - t0

        return call


def timed_viz(model: Any, probe: Any, run: Run) -> Any:
    """NNViz(model, inputs=probe) whose record() and flush() add their time to ``run``."""
    import nnviz_widget as nnv

    viz = nnv.NNViz(model, inputs=probe)
    viz.recorder.record = run.timed(viz.recorder.record)  # what viz.record and the callback call
    viz.flush = run.timed(viz.flush)
    return viz


def _torch_loop(model: Any, X_t: Any, y_t: Any, record: bool, metric: bool) -> Run:
    import torch

    run = Run()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    viz = timed_viz(model, X_t[:32], run) if record else None
    t0 = time.perf_counter()
    for epoch in range(EPOCHS):
        e0 = time.perf_counter()
        perm = torch.randperm(len(X_t))
        total = 0.0
        for i in range(0, len(X_t), BATCH):
            idx = perm[i : i + BATCH]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(X_t[idx]), y_t[idx])
            loss.backward()
            opt.step()
            if metric:
                total += loss.item()
        if viz is not None:
            viz.record(epoch, loss=total / (len(X_t) / BATCH) if metric else loss.item())
        run.epochs.append(time.perf_counter() - e0)
    if viz is not None:
        viz.flush()  # what a notebook does when the cell ends: counted
    run.total = time.perf_counter() - t0
    return run


def torch_run(record: bool) -> Run:
    import torch

    X, y = digits()
    torch.manual_seed(0)
    model = torch_mlp((64, 64, 10))
    return _torch_loop(model, torch.from_numpy(X), torch.from_numpy(y), record, metric=True)


def torch_cnn_run(record: bool) -> Run:
    """A small CNN on the 8x8 digits: what probe activations (feature maps) cost there."""
    import torch
    from torch import nn

    X, y = digits()
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * 64, 10),
    )
    X_t, y_t = torch.from_numpy(X).view(-1, 1, 8, 8), torch.from_numpy(y)
    return _torch_loop(model, X_t, y_t, record, metric=False)


def keras_run(record: bool) -> Run:
    import keras

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
    run = Run()
    starts: list[float] = []

    class EpochClock(keras.callbacks.Callback):
        """First in the list: epoch e's time runs from its start to epoch e+1's start, so it
        holds every epoch-end callback (the recording) too."""

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            starts.append(time.perf_counter())

        def on_train_end(self, logs: Any = None) -> None:
            starts.append(time.perf_counter())

    callbacks: list[Any] = [EpochClock()]
    if record:
        viz = timed_viz(model, X[:32], run)
        callbacks.append(viz.keras_callback())
    t0 = time.perf_counter()
    model.fit(X, y, epochs=EPOCHS, batch_size=BATCH, verbose=0, callbacks=callbacks)
    run.total = time.perf_counter() - t0
    run.epochs = [b - a for a, b in itertools.pairwise(starts)]
    return run


def interleaved(fn: Any) -> dict[str, float]:
    """REPEATS pairs of runs, each pair back to back (alternating which goes first)."""
    base: list[Run] = []
    rec: list[Run] = []
    for i in range(REPEATS):
        if i % 2:
            r, b = fn(True), fn(False)
        else:
            b, r = fn(False), fn(True)
        base.append(b)
        rec.append(r)
    # the first epochs warm up (and the first record may compile): the steady state is compared
    ep_base = [t for b in base for t in b.epochs[2:]]
    ep_rec = [t for r in rec for t in r.epochs[2:]]
    return {
        "epoch_base": statistics.median(ep_base),
        "epoch_rec": statistics.median(ep_rec),
        "per_epoch": statistics.median(ep_rec) / statistics.median(ep_base) - 1,
        "runs": statistics.median([r.total / b.total for r, b in zip(rec, base, strict=True)]) - 1,
        "inside": statistics.median([r.inside / b.total for r, b in zip(rec, base, strict=True)]),
    }


def main() -> None:
    count_comm_bytes()  # widgets talk to a counting comm, as if a browser were attached
    print(f"digits MLP 64-64-10, {EPOCHS} epochs, batch {BATCH}, {REPEATS} interleaved pairs")
    runs = (("torch", torch_run), ("keras", keras_run), ("torch CNN", torch_cnn_run))
    for name, fn in runs:
        fn(False)  # warm-up (imports, graph building)
        fn(True)
        r = interleaved(fn)
        print(
            f"  {name:9s} epoch {1000 * r['epoch_base']:5.1f} ms -> {1000 * r['epoch_rec']:5.1f} ms"
            f"   overhead per epoch {100 * r['per_epoch']:+5.1f}%   whole runs "
            f"{100 * r['runs']:+5.1f}%   inside record() {100 * r['inside']:4.1f}%"
        )
    print("goal: <= 5% for the MLPs (per epoch: the estimate the machine's drift does not swamp)")


if __name__ == "__main__":
    main()
