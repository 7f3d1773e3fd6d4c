"""The Hugging Face ``transformers.Trainer`` callback: records a Recorder (or NNViz) as it trains.

Same contract as the Keras callback: one record per epoch end (or every N optimizer steps), with
the values the Trainer logs (the ``logs`` of ``on_log``: ``loss``, ``grad_norm``,
``learning_rate``, ``eval_loss``, ... as present; the latest of each since the last record, by
its logged name; ``epoch``, the Trainer's fractional epoch counter, is the record's number
instead; the speed figures, ``*_runtime`` and ``*_per_second``, are left out: they time the
machine, not the training, and in the thousands they would flatten the chart's losses); a second
``train()`` continues the numbering; the end of training flushes. Only the
world process zero records.

The Trainer logs and evaluates an epoch (``logging_strategy`` / ``eval_strategy="epoch"``) after
``on_epoch_end``, and a step after ``on_step_end``, so a record is taken at the next hook (the
next step or epoch begins, or the end-of-training summary is logged): the weights are still the
epoch's, and its logs are in. The summary (``train_runtime``, ``train_loss``, ...) is about the
whole run, not an epoch: it is not recorded.
"""

from __future__ import annotations

from typing import Any

try:
    import transformers
except ModuleNotFoundError as e:  # say what to install
    raise ImportError(
        "nnv.HFCallback needs transformers: pip install transformers "
        "(or nnviz-widget[transformers])"
    ) from e

from .training import Schedule, check_trained_model, metrics_of, recorder_of

__all__ = ["HFCallback"]

#: a key only the Trainer's end-of-training summary log has
SUMMARY_KEY = "train_runtime"
#: the speed metrics, told apart as the Trainer does (``default_compute_objective``)
SPEED_SUFFIXES = ("_runtime", "_per_second", "_model_preparation_time")


def logged_metrics(logs: dict[str, Any]) -> dict[str, float]:
    """What a record keeps of one ``on_log``: every scalar but ``epoch`` and the speed figures."""
    keep = {k: v for k, v in logs.items() if not str(k).endswith(SPEED_SUFFIXES)}
    return metrics_of(keep, drop=("epoch",))


class HFCallback(transformers.TrainerCallback):
    """Records ``target`` (an ``NNViz`` or a ``Recorder``) at each epoch end, or every
    ``every_n_steps`` optimizer steps, with what the Trainer logged since the last record.

    ``transformers.Trainer(..., callbacks=[viz.hf_callback()])``."""

    def __init__(self, target: Any, every_n_steps: int | None = None) -> None:
        self.recorder = recorder_of(target, "HFCallback")
        self.schedule = Schedule(self.recorder, every_n_steps, "HFCallback")
        self.logged: dict[str, float] = {}

    def _record_due(self) -> None:
        if self.schedule.due:
            self.schedule.record(self.logged)
            self.logged = {}

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        check_trained_model(self.recorder, kwargs.get("model"), "this Trainer")
        self.schedule.start(state.global_step)
        self.logged = {}

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            self._record_due()

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            self._record_due()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            self.schedule.step(state.global_step)

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            self._record_due()  # a step record due at the epoch's last step
            self.schedule.epoch_end()

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        if not state.is_world_process_zero or logs is None:
            return
        if SUMMARY_KEY in logs:
            # training is over; the best checkpoint may be loaded next, so record the last
            # epoch now, while the weights are still its own
            self._record_due()
            return
        self.logged.update(logged_metrics(logs))

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            self._record_due()
            self.recorder.flush()  # a view sends the records still pending
