"""The training-framework callbacks with the real frameworks on CPU: lightning.Trainer
(``viz.lightning_callback()``) and transformers.Trainer (``viz.hf_callback()``).

The contract is the Keras callback's: one record per epoch end (or every N optimizer steps),
with exactly the metrics the framework logs; a second fit continues the numbering; fit's end
flushes, so the view has every record; only the global rank 0 records.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nnviz_widget as nnv

torch = pytest.importorskip("torch")
nn = torch.nn


def _data(n: int = 64, batch: int = 16) -> tuple[Any, Any]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=g)
    y = x[:, :1] * 2 - x[:, 1:2]
    ds = torch.utils.data.TensorDataset(x, y)
    return x, torch.utils.data.DataLoader(ds, batch_size=batch)


# -- Lightning -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def L() -> Any:
    return pytest.importorskip("lightning")


def _lit(L: Any) -> Any:
    class Lit(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))

        def forward(self, x: Any) -> Any:
            return self.net(x)

        def training_step(self, batch: Any, i: int) -> Any:
            x, y = batch
            loss = nn.functional.mse_loss(self(x), y)
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            return loss

        def validation_step(self, batch: Any, i: int) -> None:
            x, y = batch
            self.log("val_loss", nn.functional.mse_loss(self(x), y))

        def on_train_epoch_end(self) -> None:
            # logged after the callbacks' on_train_epoch_end: recorded all the same
            self.log("epoch_seen", float(self.current_epoch))

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.05)

    torch.manual_seed(0)
    return Lit()


def _trainer(L: Any, tmp_path: Path, callbacks: list[Any], **kw: Any) -> Any:
    kw.setdefault("logger", False)
    return L.Trainer(
        callbacks=callbacks,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path),
        accelerator="cpu",
        devices=1,
        **kw,
    )


def _fit(trainer: Any, model: Any, dl: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lightning's own: few dataloader workers, ...
        trainer.fit(model, dl, dl)


def _memory_logger(L: Any) -> Any:
    """A Lightning logger keeping every ``log_metrics`` call: what Lightning logs."""

    class Memory(L.pytorch.loggers.Logger):
        name = "memory"
        version = 0

        def __init__(self) -> None:
            super().__init__()
            self.rows: list[tuple[int | None, dict[str, float]]] = []

        def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
            self.rows.append((step, dict(metrics)))

        def log_hyperparams(self, *args: Any, **kwargs: Any) -> None:
            pass

    return Memory()


def test_lightning_records_each_epoch_with_the_logged_metrics(L: Any, tmp_path: Path) -> None:
    model = _lit(L)
    x, dl = _data()
    viz = nnv.NNViz(model, inputs=x[:8])
    assert [layer.name for layer in viz.graph.layers] == ["x", "net.0", "net.1", "net.2", "output"]
    kept: list[np.ndarray] = []

    class KeepWeights(L.Callback):  # the weights as each epoch ends
        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            kept.append(model.net[0].weight.detach().numpy().copy())

    logger = _memory_logger(L)
    trainer = _trainer(
        L,
        tmp_path,
        [KeepWeights(), nnv.LightningCallback(viz)],
        max_epochs=3,
        logger=logger,
        log_every_n_steps=1,
    )
    _fit(trainer, model, dl)
    h = viz.history
    assert h.epochs == [0, 1, 2]
    assert not viz.recorder.pending  # fit's end flushed: the view has every epoch
    assert [head["epoch"] for head, _ in viz._snapshot_parts()] == [-1, 0, 1, 2]
    # what the logger got, per epoch (the last value of each name wins), is what was recorded
    for epoch in range(3):
        logged: dict[str, float] = {}
        for _, row in logger.rows:
            if row.get("epoch") == epoch:
                logged.update({k: v for k, v in row.items() if k != "epoch"})
        assert {"train_loss_step", "train_loss_epoch", "val_loss", "epoch_seen"} <= set(logged)
        for key, value in logged.items():
            assert h.metrics[key][epoch] == pytest.approx(value, rel=1e-6), (key, epoch)
    # ... and the names are exactly Lightning's callback_metrics, equal at the last epoch
    final = {k: float(v) for k, v in trainer.callback_metrics.items()}
    assert set(h.metrics) == set(final)
    for key, value in final.items():
        assert h.metrics[key][-1] == pytest.approx(value, rel=1e-6), key
    # the recorded weights are the epoch's (the record is taken after the epoch's end)
    for epoch, w in enumerate(kept):
        np.testing.assert_allclose(h.weights("net.0", epoch), w, atol=2e-3)
    assert not np.allclose(kept[0], kept[-1], atol=1e-3)


def test_lightning_second_fit_continues_and_every_n_steps(L: Any, tmp_path: Path) -> None:
    model = _lit(L)
    x, dl = _data()  # 4 batches per epoch
    viz = nnv.NNViz(model, inputs=x[:8])
    _fit(_trainer(L, tmp_path, [viz.lightning_callback()], max_epochs=2), model, dl)
    assert viz.history.epochs == [0, 1]
    # a second fit (a new Trainer) appends after the last record, every 3 of its 8 steps
    trainer = _trainer(L, tmp_path, [viz.lightning_callback(every_n_steps=3)], max_epochs=2)
    _fit(trainer, model, dl)
    assert trainer.global_step == 8
    assert viz.history.epochs == [0, 1, 2, 3]  # steps 3 and 6
    assert not viz.recorder.pending
    loss = viz.history.metrics["train_loss_step"]
    assert np.all(np.isfinite(loss)) and loss[-1] != loss[-2]


def test_lightning_records_on_global_rank_zero_only(
    L: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _lit(L)
    x, dl = _data()
    viz = nnv.NNViz(model, inputs=x[:8])
    monkeypatch.setattr(L.Trainer, "is_global_zero", property(lambda self: False))
    _fit(_trainer(L, tmp_path, [viz.lightning_callback()], max_epochs=2), model, dl)
    assert viz.history.epochs == []


def test_lightning_callback_says_what_is_wrong(L: Any, tmp_path: Path) -> None:
    model = _lit(L)
    x, dl = _data()
    viz = nnv.NNViz(model, inputs=x[:8])
    with pytest.raises(ValueError, match="every_n_steps must be a positive int"):
        viz.lightning_callback(every_n_steps=0)
    with pytest.raises(TypeError, match=r"takes an nnv\.NNViz or an nnv\.Recorder"):
        nnv.LightningCallback(model)
    other = _lit(L)  # a different model than the one shown
    with pytest.raises(ValueError, match="holds none of the parameters"):
        _fit(_trainer(L, tmp_path, [viz.lightning_callback()], max_epochs=1), other, dl)
    assert viz.history.epochs == []


# -- Hugging Face Trainer --------------------------------------------------------------------


@pytest.fixture(scope="module")
def transformers() -> Any:
    tf = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")  # the Trainer needs it (nnviz-widget[transformers])
    return tf


@pytest.fixture
def one_thread() -> Any:
    """Tiny models train fastest on one thread, and don't slow to a crawl on a busy machine
    (torch's two threads fighting other processes for two cores made 12 steps take 10 s)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _gpt2(transformers: Any) -> Any:
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=32, n_positions=16)
    return transformers.GPT2LMHeadModel(cfg)


class _Regressor(nn.Module):
    """The smallest model the Trainer takes: keyword inputs, a dict with the loss."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(8, 1)

    def forward(self, x: Any, labels: Any = None) -> Any:
        out = self.fc2(self.act(self.fc1(x)))
        if labels is None:
            return out
        return {"loss": nn.functional.mse_loss(out, labels), "logits": out}


def _regression_rows(n: int = 32) -> tuple[Any, list[dict[str, Any]]]:
    x, _ = _data(n)
    y = x[:, :1] * 2 - x[:, 1:2]
    return x, [{"x": a, "labels": b} for a, b in zip(x, y, strict=True)]


def _hf_trainer(
    transformers: Any, tmp_path: Path, model: Any, rows: Any, callbacks: list[Any], **kw: Any
) -> Any:
    kw.setdefault("learning_rate", 1e-2)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=8,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        **kw,
    )
    return transformers.Trainer(
        model=model,
        args=args,
        train_dataset=rows,
        eval_dataset=rows[:8] if kw.get("eval_strategy") else None,
        callbacks=callbacks,
    )


def _train(trainer: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.train()


def test_hf_trainer_records_each_epoch_with_the_logged_values(
    transformers: Any, tmp_path: Path, one_thread: None
) -> None:
    model = _gpt2(transformers)
    ids = torch.randint(0, 32, (32, 8), generator=torch.Generator().manual_seed(0))
    rows = [{"input_ids": r, "labels": r} for r in ids]
    viz = nnv.NNViz(model, inputs=ids[:2])
    names = {layer.name for layer in viz.graph.layers}
    assert {"transformer.h.0.attn.c_attn", "transformer.h.0.mlp.c_fc"} <= names
    assert sum(layer.params for layer in viz.graph) == sum(p.numel() for p in model.parameters())
    kept: list[np.ndarray] = []

    class KeepWeights(transformers.TrainerCallback):  # the weights as each epoch ends
        def on_epoch_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            kept.append(model.transformer.h[0].mlp.c_fc.weight.detach().numpy().T.copy())

    trainer = _hf_trainer(
        transformers,
        tmp_path,
        model,
        rows,
        [KeepWeights(), nnv.HFCallback(viz)],
        num_train_epochs=3,  # 4 steps an epoch
        logging_steps=3,
        eval_strategy="epoch",
    )
    _train(trainer)
    h = viz.history
    assert h.epochs == [0, 1, 2]
    assert not viz.recorder.pending
    assert [head["epoch"] for head, _ in viz._snapshot_parts()] == [-1, 0, 1, 2]
    # each record holds the latest value of every name the Trainer logged in its epoch
    logs = [row for row in trainer.state.log_history if "train_runtime" not in row]
    seen: set[str] = set()
    for epoch in range(3):
        logged: dict[str, float] = {}
        for row in logs:
            if 4 * epoch < row["step"] <= 4 * (epoch + 1):
                logged.update({k: v for k, v in row.items() if k not in ("epoch", "step")})
        speed = {k for k in logged if k.endswith(("_runtime", "_per_second"))}
        assert "eval_runtime" in speed  # timing, not training: not recorded
        logged = {k: v for k, v in logged.items() if k not in speed}
        assert "eval_loss" in logged
        seen |= set(logged)
        for key in set(h.metrics):
            if key in logged:
                assert h.metrics[key][epoch] == pytest.approx(logged[key], rel=1e-6), key
            else:
                assert np.isnan(h.metrics[key][epoch]), (key, epoch)
    assert set(h.metrics) == seen
    assert {"loss", "grad_norm", "learning_rate", "eval_loss"} <= seen
    # the recorded weights are the epoch's, not the next step's
    for epoch, w in enumerate(kept):
        np.testing.assert_allclose(h.weights("transformer.h.0.mlp.c_fc", epoch), w, atol=2e-3)
    assert not np.allclose(kept[0], kept[-1], atol=1e-3)


def test_hf_second_train_continues_and_every_n_steps(
    transformers: Any, tmp_path: Path, one_thread: None
) -> None:
    x, rows = _regression_rows()
    model = _Regressor()
    viz = nnv.NNViz(model, inputs=x[:8])
    assert [layer.name for layer in viz.graph.layers] == ["x", "fc1", "act", "fc2", "output"]
    _train(
        _hf_trainer(transformers, tmp_path, model, rows, [viz.hf_callback()], num_train_epochs=2)
    )
    assert viz.history.epochs == [0, 1]
    # a second train() appends, one record every 3 of its 8 optimizer steps
    trainer = _hf_trainer(
        transformers,
        tmp_path,
        model,
        rows,
        [viz.hf_callback(every_n_steps=3)],
        num_train_epochs=2,
        logging_steps=3,
    )
    _train(trainer)
    assert trainer.state.global_step == 8
    h = viz.history
    assert h.epochs == [0, 1, 2, 3]  # steps 3 and 6
    assert not viz.recorder.pending
    step_loss = {row["step"]: row["loss"] for row in trainer.state.log_history if "loss" in row}
    assert h.metrics["loss"][2:].tolist() == pytest.approx([step_loss[3], step_loss[6]], rel=1e-6)


def test_hf_trainer_records_on_world_process_zero_only(
    transformers: Any, tmp_path: Path, one_thread: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    x, rows = _regression_rows()
    model = _Regressor()
    viz = nnv.NNViz(model, inputs=x[:8])
    monkeypatch.setattr(transformers.Trainer, "is_world_process_zero", lambda self: False)
    _train(
        _hf_trainer(transformers, tmp_path, model, rows, [viz.hf_callback()], num_train_epochs=2)
    )
    assert viz.history.epochs == []


def test_hf_callback_says_what_is_wrong(
    transformers: Any, tmp_path: Path, one_thread: None
) -> None:
    x, rows = _regression_rows()
    viz = nnv.NNViz(_Regressor(), inputs=x[:8])
    with pytest.raises(ValueError, match="every_n_steps must be a positive int"):
        viz.hf_callback(every_n_steps=-1)
    with pytest.raises(TypeError, match=r"takes an nnv\.NNViz or an nnv\.Recorder"):
        nnv.HFCallback(object())
    other = _Regressor()
    trainer = _hf_trainer(transformers, tmp_path, other, rows, [viz.hf_callback()])
    with pytest.raises(ValueError, match="holds none of the parameters"):
        _train(trainer)
    assert viz.history.epochs == []
