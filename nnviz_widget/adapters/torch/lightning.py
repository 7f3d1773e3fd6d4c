"""The Lightning callback: records a Recorder (or NNViz) while ``lightning.Trainer`` trains.

Same contract as the Keras callback: one record per epoch end (or every N optimizer steps), with
the metrics Lightning hands its callbacks (``trainer.callback_metrics``, as floats); a second
``fit`` continues the numbering; ``on_train_end`` flushes, so a view gets every record. Only the
global rank 0 records.

A record is taken at the next hook after the epoch (or step) ended, not in
``on_train_epoch_end`` itself: what the LightningModule logs in its own ``on_train_epoch_end``,
and the epoch's aggregated ``on_epoch=True`` values, reach ``callback_metrics`` only after the
callbacks' ``on_train_epoch_end`` ran. Nothing trains in between, so the weights are the epoch's.
"""

from __future__ import annotations

from typing import Any

try:
    import lightning.pytorch as pl
except ModuleNotFoundError as e:  # say what to install
    raise ImportError(
        "nnv.LightningCallback needs lightning: pip install lightning (or nnviz-widget[lightning])"
    ) from e

from .training import Schedule, check_trained_model, metrics_of, recorder_of

__all__ = ["LightningCallback"]


class LightningCallback(pl.Callback):
    """Records ``target`` (an ``NNViz`` or a ``Recorder``) at each epoch end, or every
    ``every_n_steps`` optimizer steps, with ``trainer.callback_metrics``.

    ``lightning.Trainer(callbacks=[viz.lightning_callback()])``."""

    def __init__(self, target: Any, every_n_steps: int | None = None) -> None:
        super().__init__()
        self.recorder = recorder_of(target, "LightningCallback")
        self.schedule = Schedule(self.recorder, every_n_steps, "LightningCallback")

    @property
    def state_key(self) -> str:
        # one instance per recorder may sit in a Trainer's callbacks
        return f"{type(self).__qualname__}[{id(self.recorder)}]"

    def _record_due(self, trainer: pl.Trainer) -> None:
        if self.schedule.due:
            self.schedule.record(metrics_of(trainer.callback_metrics))

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        check_trained_model(self.recorder, pl_module, "this Trainer")
        self.schedule.start(trainer.global_step)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero:
            self._record_due(trainer)

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if trainer.is_global_zero:
            self._record_due(trainer)

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if trainer.is_global_zero:
            self.schedule.step(trainer.global_step)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero:
            self._record_due(trainer)  # a step record due at the epoch's last batch
            self.schedule.epoch_end()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero:
            self._record_due(trainer)
            self.recorder.flush()  # a view sends the records still pending

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if trainer.is_global_zero:
            self.schedule.due = False  # the weights may have moved since: not the epoch's
            self.recorder.flush()  # what was recorded is kept
