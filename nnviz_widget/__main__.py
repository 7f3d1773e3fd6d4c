"""Command line: ``python -m nnviz_widget export run.nnviz -o run.html`` and ``demo -o demo.html``.

Exit status: 0 done, 1 the work failed (bad run file, existing output, missing framework ...),
2 bad command line (argparse).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .recorder import Recorder, load_recorder
from .runfile import RunFileError
from .widget import to_html


class CliError(Exception):
    """A failure to report as one line on stderr (exit status 1)."""


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 1024:.0f} kB"


def _export(args: argparse.Namespace) -> None:
    src = Path(args.run)
    out = Path(args.output) if args.output else src.with_suffix(".html")
    if not src.exists():
        raise CliError(f"{src}: no such file")
    rec = load_recorder(src)  # RunFileError says what is wrong with the file
    to_html(rec, out, overwrite=args.overwrite, title=args.title)
    print(f"wrote {out} ({_size(out.stat().st_size)}) from {src} ({_size(src.stat().st_size)})")


# -- demo: a small classifier learning sklearn's 8x8 digits (bundled with sklearn: no download) --


def _data(seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        rng = np.random.default_rng(seed)  # 10 noisy prototypes of 64 "pixels"
        protos = rng.uniform(0, 1, (10, 64))
        y = rng.integers(0, 10, 1797)
        x = protos[y] + rng.normal(0, 0.35, (y.size, 64))
        return x.astype(np.float32), y.astype(np.int64), "generated data (sklearn not installed)"
    d = load_digits()
    return (d.data / 16.0).astype(np.float32), d.target.astype(np.int64), "sklearn digits (8x8)"


def _demo_torch(x: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> Any:
    import torch
    from torch import nn

    class DigitsMLP(nn.Sequential):
        """64 pixels -> 32 -> 16 -> 10 classes."""

    torch.manual_seed(seed)
    model = DigitsMLP(
        OrderedDict(
            [
                ("fc1", nn.Linear(64, 32)),
                ("relu1", nn.ReLU()),
                ("fc2", nn.Linear(32, 16)),
                ("relu2", nn.ReLU()),
                ("out", nn.Linear(16, 10)),
            ]
        )
    )
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    n_train = int(len(xt) * 0.8)
    xtr, ytr, xva, yva = xt[:n_train], yt[:n_train], xt[n_train:], yt[n_train:]
    rec = Recorder(model, inputs=xva[:32], labels=yva[:32])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for idx in torch.randperm(n_train, generator=gen).split(64):
            opt.zero_grad()
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        model.eval()
        with torch.no_grad():
            out = model(xva)
            val_loss = float(loss_fn(out, yva))
            acc = float((out.argmax(1) == yva).float().mean())
        rec.record(epoch, loss=total / n_train, val_loss=val_loss, val_accuracy=acc)
    return rec


def _demo_keras(x: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(32, activation="relu", name="fc1"),
            keras.layers.Dense(16, activation="relu", name="fc2"),
            keras.layers.Dense(10, activation="softmax", name="out"),
        ],
        name="DigitsMLP",
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    n_train = int(len(x) * 0.8)
    rec = Recorder(model, inputs=x[n_train : n_train + 32], labels=y[n_train : n_train + 32])
    model.fit(
        x[:n_train],
        y[:n_train],
        validation_data=(x[n_train:], y[n_train:]),
        epochs=epochs,
        batch_size=64,
        verbose=0,
        callbacks=[rec.keras_callback()],
    )
    return rec


def _have(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _demo(args: argparse.Namespace) -> None:
    out = Path(args.output)
    if out.exists() and not args.overwrite:
        raise CliError(f"{out} exists; pass --overwrite to replace it")
    if args.epochs < 1:
        raise CliError("--epochs must be at least 1")
    x, y, source = _data(args.seed)
    framework = args.framework
    if framework == "auto":
        framework = "torch" if _have("torch") else "keras" if _have("keras") else ""
    if not framework or not _have(framework):
        raise CliError(
            "the demo trains a model: install torch (pip install 'nnviz-widget[torch]') or "
            "keras (pip install 'nnviz-widget[tensorflow]')"
            + (f"; {framework} is not installed" if framework else "")
        )
    train = _demo_torch if framework == "torch" else _demo_keras
    rec = train(x, y, args.epochs, args.seed)
    title = f"nnviz demo: an MLP learning {source} ({framework}, {args.epochs} epochs)"
    to_html(rec, out, overwrite=args.overwrite, title=title)
    print(f"wrote {out} ({_size(out.stat().st_size)}): {title}")
    if args.save:
        saved = rec.save(args.save, overwrite=args.overwrite)
        if saved is not None:
            print(f"wrote {saved} ({_size(saved.stat().st_size)})")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m nnviz_widget",
        description="Offline pages of recorded nnviz runs.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    e = sub.add_parser(
        "export",
        help="write a self-contained HTML page of a saved run (.nnviz)",
        description="Write one self-contained HTML page (works offline) of a saved .nnviz run.",
    )
    e.add_argument("run", help="the .nnviz file (from viz.save / rec.save)")
    e.add_argument("-o", "--output", help="the page to write (default: RUN with .html)")
    e.add_argument("--title", help="the page title")
    e.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    e.set_defaults(func=_export)
    d = sub.add_parser(
        "demo",
        help="train a small model on sklearn's digits, record it, write its page",
        description="Train a small MLP on sklearn's 8x8 digits (torch, else keras; no download), "
        "record every epoch and write the offline page.",
    )
    d.add_argument("-o", "--output", required=True, help="the page to write")
    d.add_argument("--epochs", type=int, default=8, help="epochs to train (default 8)")
    d.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    d.add_argument(
        "--framework",
        choices=("auto", "torch", "keras"),
        default="auto",
        help="which framework trains the model (default: torch if installed, else keras)",
    )
    d.add_argument("--save", metavar="RUN", help="also save the run as a .nnviz file")
    d.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    d.set_defaults(func=_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)

    try:
        args.func(args)
    except (CliError, RunFileError, FileExistsError, FileNotFoundError, IsADirectoryError) as e:
        print(f"nnviz: error: {e}", file=sys.stderr)
        return 1
    except PermissionError as e:
        print(f"nnviz: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
