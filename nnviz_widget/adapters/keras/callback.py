"""The Keras callback that records each epoch end into a Recorder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def make_callback(recorder: Any) -> Any:
    """A keras.callbacks.Callback recording every epoch end with all of Keras' logs.

    A second ``fit`` continues the numbering after the last recorded epoch instead of failing.
    """
    import keras

    record: Callable[..., Any] = recorder.record

    class NNVizCallback(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.offset = 0

        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            epochs = recorder.history.epochs
            self.offset = epochs[-1] + 1 if epochs else 0

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            record(self.offset + int(epoch), **dict(logs or {}))

        def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
            recorder.flush()  # a view sends the epochs still pending

    return NNVizCallback()
