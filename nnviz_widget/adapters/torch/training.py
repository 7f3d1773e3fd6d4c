"""What the training-framework callbacks (Lightning, the Hugging Face Trainer) share: which
recorder they feed, when a record is due, and the metrics as floats."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

from torch import nn


def recorder_of(target: Any, who: str) -> Any:
    """The Recorder behind ``target`` (an ``NNViz`` or a ``Recorder``), or one clear error."""
    rec = getattr(target, "recorder", target)
    if not all(callable(getattr(rec, name, None)) for name in ("record", "flush")):
        raise TypeError(
            f"{who} takes an nnv.NNViz or an nnv.Recorder, got {type(target).__name__}; "
            f"build one first: viz = nnv.NNViz(model, inputs=x_probe)"
        )
    if getattr(rec, "loaded", False):
        raise ValueError(
            f"{who}: this run was loaded from a file and has no model to record; build "
            "nnv.NNViz(model, ...) with the model you train"
        )
    return rec


def check_trained_model(recorder: Any, trained: Any, where: str) -> None:
    """Raise if ``trained`` shares no parameter with the recorded model: the view would show a
    model that never changes."""
    model = getattr(recorder, "model", None)
    if not isinstance(model, nn.Module) or not isinstance(trained, nn.Module):
        raise TypeError(
            f"{where} trains a {type(trained).__name__}, but the view records a "
            f"{type(model).__name__}: build nnv.NNViz with the torch model being trained"
        )
    shown = {id(p) for p in model.parameters()}
    if shown and not shown & {id(p) for p in trained.parameters()}:
        raise ValueError(
            f"{where} trains a {type(trained).__name__} that holds none of the parameters of "
            f"the recorded {type(model).__name__}: build nnv.NNViz with the model being trained "
            "(or one of its submodules), not a copy of it"
        )


def as_float(value: Any) -> float | None:
    """A logged value as a float; None for what is not one number (text, a vector)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    numel = getattr(value, "numel", None)  # torch tensors, scalar only
    size = numel() if callable(numel) else getattr(value, "size", None)
    if size == 1:
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    return None


def metrics_of(logged: Mapping[str, Any], drop: tuple[str, ...] = ()) -> dict[str, float]:
    """Each logged scalar as a float, by its logged name (``drop`` left out)."""
    out = {}
    for key, value in logged.items():
        v = as_float(value)
        if v is not None and key not in drop:
            out[str(key)] = v
    return out


class Schedule:
    """When a callback records: after each epoch end (``every_n_steps=None``) or after every N
    optimizer steps; the record's number continues after the last one recorded."""

    def __init__(self, recorder: Any, every_n_steps: int | None, who: str) -> None:
        if every_n_steps is not None and (
            isinstance(every_n_steps, bool)
            or not isinstance(every_n_steps, numbers.Integral)
            or every_n_steps < 1
        ):
            raise ValueError(
                f"{who}: every_n_steps must be a positive int (or None to record at each "
                f"epoch end), got {every_n_steps!r}"
            )
        self.recorder = recorder
        self.every_n_steps = None if every_n_steps is None else int(every_n_steps)
        self.next = 0  # the number the next record gets
        self.due = False  # a record is owed for the epoch or step that just ended
        self.last_step = -1

    def start(self, global_step: int) -> None:
        """A fit begins: continue after the last recorded epoch (a second fit appends)."""
        epochs = self.recorder.history.epochs
        self.next = epochs[-1] + 1 if epochs else 0
        self.due = False
        self.last_step = int(global_step)

    def step(self, global_step: int) -> None:
        """An optimizer step may have ended (``global_step`` counts them)."""
        step = int(global_step)
        if self.every_n_steps is None or step == self.last_step:
            return
        self.last_step = step
        if step % self.every_n_steps == 0:
            self.due = True

    def epoch_end(self) -> None:
        if self.every_n_steps is None:
            self.due = True

    def record(self, metrics: dict[str, float]) -> None:
        """Record the due epoch (or step) now, with ``metrics``."""
        self.due = False
        self.recorder.record(self.next, **metrics)
        self.next += 1
