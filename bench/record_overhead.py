"""Training time of a digits MLP (64-64-10, 30 epochs) with record() every epoch vs without.

Torch (the user's own loop) and Keras (fit with the callback), measured in the same run, with
the probe batch (32 samples) recording activations, gradients and health each epoch; and a
small CNN on the 8x8 digits, to show what feature maps cost. Goal: <= 5% for the MLPs.

This machine's speed drifts under it (shared cores: the same run varies by +-10% from one
minute to the next), about as much as the effect measured. So runs with and without are
interleaved in pairs, and two estimates are printed:

* whole runs: the median of the pairs' total-time ratios (end to end: cache effects on the
  next epoch and the final flush count);
* inside: the time spent in record() (and the final flush) as a share of the training time
  without: the direct cost, steady from run to run.

(A per-epoch median would understate it: a view sends a fast loop's epochs in batches, so most
epochs carry no sending and every few carry several.)

Prints ratios; asserts nothing.
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
REPEATS = 9


class Run:
    """One training run's timings: the whole run and the time spent inside record()/flush()."""

    def __init__(self) -> None:
        self.total = 0.0
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


def _tf_one_thread() -> None:
    """TensorFlow's thread pools on this machine's 2 shared cores make epochs bimodal (65 or
    ~140 ms, at random, with or without recording): one thread each (faster here for this
    small model, the same for both arms) leaves a whole-run ratio that measures something."""
    import tensorflow as tf

    try:
        tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.config.threading.set_intra_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already started: leave it as it is
        pass


def keras_run(record: bool) -> Run:
    import keras

    if keras.backend.backend() == "tensorflow":
        _tf_one_thread()

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
    callbacks: list[Any] = []
    if record:
        viz = timed_viz(model, X[:32], run)
        callbacks.append(viz.keras_callback())
    t0 = time.perf_counter()
    model.fit(X, y, epochs=EPOCHS, batch_size=BATCH, verbose=0, callbacks=callbacks)
    run.total = time.perf_counter() - t0
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
    return {
        "base": statistics.median([b.total for b in base]),
        "rec": statistics.median([r.total for r in rec]),
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
            f"  {name:9s} {r['base']:5.2f} s -> {r['rec']:5.2f} s   overhead: whole runs "
            f"{100 * r['runs']:+5.1f}% (median of pairs), inside record() {100 * r['inside']:4.1f}%"
        )
    print("goal: <= 5% for the MLPs")


if __name__ == "__main__":
    main()
