"""Build small real runs and dump their widget state as JSON for the browser harness.

    python scripts/make_probe_state.py [OUT_DIR]        (default: js/test-dist/probe-state/)

Writes one JSON file per run:
  digits.json   torch MLP 64-32-10 on sklearn's 8x8 digits (no download), 6 epochs
  moons.json    torch MLP 2-8-8-1 on generated two-moons data, 8 epochs (decision boundary + fields)
  cnn.json      a small torch CNN on the 8x8 digits (1x8x8), 4 epochs (feature maps, filters)
  seq.json      a token model (embedding -> dense per token), 4 epochs: (tokens, features) outputs
  attn.json     a one-layer transformer encoder on the same tokens, 6 epochs: attention maps
  lm.json       a tiny Hugging Face GPT-2 with a word tokenizer, 4 epochs: the probe as tokens,
                the predicted next tokens, per-head attention

Each file is ``{"traits": {...}, "graph": {...}, "snapshots": [{"header", "data_b64"}]}``:
``traits`` holds every synced trait of the NNViz widget except ``_snapshots`` and ``_esm``
(``_graph`` included; ``graph`` repeats it so js/dev's ``?state=`` loader reads the file too),
``snapshots`` each SnapshotModel's header and base64 bytes, in recording order.
Deterministic: seeded, CPU only; a few seconds in all.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def dump(viz: Any) -> dict[str, Any]:
    """The widget's synced state as portable JSON (no comm, no kernel)."""
    parts = viz._snapshot_parts()  # every recorded epoch (record() batches a fast loop's)
    state = viz.get_state()
    traits = {
        k: v
        for k, v in state.items()
        if k not in ("_snapshots", "_esm", "_css") and not isinstance(v, (bytes, memoryview))
    }
    snaps = [
        {"header": header, "data_b64": base64.b64encode(data).decode("ascii")}
        for header, data in parts
    ]
    return {"traits": traits, "graph": traits.get("_graph"), "snapshots": snaps}


def _argmax_accuracy(out: Any, target: Any) -> Any:
    return (out.argmax(1) == target).float().mean()


def _train(
    model: Any,
    viz: Any,
    x: Any,
    y: Any,
    *,
    epochs: int,
    lr: float,
    loss_fn: Any = None,
    acc: Any = _argmax_accuracy,
    batch: int = 64,
) -> None:
    """Adam on minibatches (cross-entropy unless ``loss_fn``), one record per epoch."""
    import torch

    loss_fn = loss_fn or torch.nn.CrossEntropyLoss()

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = len(x)
    g = torch.Generator().manual_seed(1)
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for idx in torch.randperm(n, generator=g).split(batch):
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        model.eval()
        with torch.no_grad():
            accuracy = float(acc(model(x), y))
        viz.record(epoch, loss=total / n, accuracy=accuracy)


def digits_mlp() -> Any:
    import torch
    from sklearn.datasets import load_digits
    from torch import nn

    import nnviz_widget as nnv

    torch.manual_seed(0)
    d = load_digits()
    x = torch.tensor(d.data / 16.0, dtype=torch.float32)
    y = torch.tensor(d.target, dtype=torch.int64)

    class DigitsMLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(64, 32)
            self.relu = nn.ReLU()
            self.fc2 = nn.Linear(32, 10)

        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return self.fc2(self.relu(self.fc1(t)))

    model = DigitsMLP()
    viz = nnv.NNViz(model, inputs=x[1500:1516], labels=y[1500:1516])
    _train(model, viz, x[:1500], y[:1500], epochs=6, lr=3e-3)
    return viz


def moons_mlp() -> Any:
    import torch
    from torch import nn

    import nnviz_widget as nnv

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    n = 400
    t = rng.uniform(0, np.pi, n)
    upper = np.stack([np.cos(t), np.sin(t)], 1)
    lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1)
    pts = np.concatenate([upper[: n // 2], lower[n // 2 :]]) + rng.normal(0, 0.12, (n, 2))
    lab = np.concatenate([np.zeros(n // 2), np.ones(n - n // 2)])
    order = rng.permutation(n)
    x = torch.tensor(pts[order], dtype=torch.float32)
    y = torch.tensor(lab[order], dtype=torch.float32).unsqueeze(1)

    class Moons(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(2, 8)
            self.act1 = nn.Tanh()
            self.fc2 = nn.Linear(8, 8)
            self.act2 = nn.Tanh()
            self.out = nn.Linear(8, 1)
            self.sig = nn.Sigmoid()

        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return self.sig(self.out(self.act2(self.fc2(self.act1(self.fc1(t))))))

    model = Moons()
    viz = nnv.NNViz(model, inputs=x[:32], labels=y[:32, 0].long())
    _train(
        model,
        viz,
        x,
        y,
        epochs=8,
        lr=2e-2,
        loss_fn=nn.BCELoss(),
        acc=lambda o, t: ((o > 0.5).float() == t).float().mean(),
        batch=32,
    )
    return viz


def digits_cnn() -> Any:
    import torch
    from sklearn.datasets import load_digits
    from torch import nn

    import nnviz_widget as nnv

    torch.manual_seed(0)
    d = load_digits()
    x = torch.tensor(d.images / 16.0, dtype=torch.float32).unsqueeze(1)  # (n, 1, 8, 8)
    y = torch.tensor(d.target, dtype=torch.int64)

    class SmallCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
            self.relu1 = nn.ReLU()
            self.pool = nn.MaxPool2d(2)
            self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
            self.relu2 = nn.ReLU()
            self.fc = nn.Linear(16 * 4 * 4, 10)

        def forward(self, t: torch.Tensor) -> torch.Tensor:
            t = self.pool(self.relu1(self.conv1(t)))
            t = self.relu2(self.conv2(t))
            return self.fc(torch.flatten(t, 1))

    model = SmallCNN()
    viz = nnv.NNViz(model, inputs=x[1500:1516], labels=y[1500:1516])
    _train(model, viz, x[:1500], y[:1500], epochs=4, lr=3e-3)
    return viz


def token_model() -> Any:
    import torch
    from torch import nn

    import nnviz_widget as nnv

    torch.manual_seed(0)
    x = torch.randint(0, 12, (512, 10))
    y = (x == 3).any(1).long()  # does token 3 occur?

    class Tokens(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(12, 8)
            self.mix = nn.Linear(8, 16)
            self.relu = nn.ReLU()
            self.head = nn.Linear(16, 2)

        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return self.head(self.relu(self.mix(self.embed(t))).mean(1))

    model = Tokens()
    viz = nnv.NNViz(model, inputs=x[:8], labels=y[:8])
    _train(model, viz, x, y, epochs=4, lr=1e-2)
    return viz


def attention_model() -> Any:
    """A one-layer transformer encoder on the token task: its self-attention maps (mean over
    heads) learn to look at token 3."""
    import torch
    from torch import nn

    import nnviz_widget as nnv

    torch.manual_seed(0)
    x = torch.randint(0, 12, (512, 10))
    y = (x == 3).any(1).long()

    class Attn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(12, 16)
            self.encoder = nn.TransformerEncoderLayer(
                16, 2, dim_feedforward=32, dropout=0.0, batch_first=True
            )
            self.head = nn.Linear(16, 2)

        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return self.head(self.encoder(self.embed(t)).mean(1))

    model = Attn()
    viz = nnv.NNViz(model, inputs=x[:8], labels=y[:8])
    viz.layer = "encoder.self_attn"
    _train(model, viz, x, y, epochs=6, lr=1e-2)
    return viz


class WordTokenizer:
    """A tokenizer of made-up words (what the widget needs of one: ``decode(ids)``)."""

    WORDS = ("the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "big", "red")

    def decode(self, ids: list[int]) -> str:
        return "".join(
            " " + self.WORDS[i % len(self.WORDS)] + ("" if i < 12 else str(i)) for i in ids
        )


def language_model() -> Any:
    """A tiny Hugging Face GPT-2 (built from its config, no download) learning to repeat a
    pattern of words: its probe as tokens, the next tokens it predicts, per-head attention."""
    import torch
    import transformers

    import nnviz_widget as nnv

    torch.manual_seed(0)
    cfg = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=24, n_positions=16)
    model = transformers.GPT2LMHeadModel(cfg)
    pattern = torch.tensor([0, 1, 2, 3, 4, 5])  # "the cat sat on a mat"
    x = torch.stack([pattern.roll(-k).repeat(2)[:10] for k in range(6)])
    viz = nnv.NNViz(model, inputs=x[:4], tokenizer=WordTokenizer())
    opt = torch.optim.AdamW(model.parameters(), lr=3e-2)
    for epoch in range(4):
        for _ in range(15):
            opt.zero_grad()
            loss = model(x, labels=x).loss
            loss.backward()
            opt.step()
        model.eval()
        viz.record(epoch, loss=float(loss))
        model.train()
    viz.flush()
    return viz


RUNS = {
    "digits": digits_mlp,
    "moons": moons_mlp,
    "cnn": digits_cnn,
    "seq": token_model,
    "attn": attention_model,
    "lm": language_model,
}


def main(argv: list[str]) -> None:
    """``make_probe_state.py [OUT_DIR] [RUN ...]``: all runs unless some are named."""
    import torch

    torch.set_num_threads(1)  # tiny models: threads only add overhead (and nondeterminism)
    out = Path(argv[1]) if len(argv) > 1 else REPO / "js" / "test-dist" / "probe-state"
    out.mkdir(parents=True, exist_ok=True)
    names = argv[2:] or list(RUNS)
    unknown = set(names) - set(RUNS)
    if unknown:
        raise SystemExit(f"unknown run(s) {sorted(unknown)}; have {list(RUNS)}")
    for name in names:
        make = RUNS[name]
        state = dump(make())
        path = out / f"{name}.json"
        path.write_text(json.dumps(state, allow_nan=False))
        print(f"{path}: {len(state['snapshots'])} snapshots, {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main(sys.argv)
