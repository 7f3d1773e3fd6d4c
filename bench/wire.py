"""Bytes sent to the browser for 20 recorded epochs of the 784-128-10 MLP.

Compared, in the same run, with the raw float32 size of the same weights and with the same data
as a plotly figure (one frame per epoch of a Scatter3d network). Goals: <= 0.55x raw float32,
>= 10x smaller than plotly. Prints ratios; asserts nothing.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np
from _common import count_comm_bytes, torch_mlp

EPOCHS = 20


def run(totals: dict[str, int], probe: bool) -> tuple[int, float, list[list[np.ndarray]]]:
    """Record 20 epochs; (data bytes sent, bytes per record(), weights per epoch)."""
    import torch

    import nnviz_widget as nnv

    totals.clear()
    torch.manual_seed(0)
    model = torch_mlp()
    x = torch.randn(32, 1, 28, 28)
    y = torch.randint(0, 10, (32,))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    # without a probe batch only the structure and timeline travel; with one, activations too
    viz = nnv.NNViz(model, inputs=x) if probe else nnv.NNViz(model, input_shape=(1, 28, 28))
    viz.controls()
    start = totals.get("binary", 0) + totals.get("json", 0)
    weights: list[list[np.ndarray]] = []
    for e in range(EPOCHS):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        viz.record(e, loss=loss.item())
        weights.append([p.detach().numpy().copy() for p in model.parameters()])
    viz.flush()  # a fast loop's last epochs wait for the cell's end: counted here
    # the JS bundle is code, sent once per kernel (BundleModel), not recorded data: apart
    bundle = len(viz._bundle.code) if start > len(viz._bundle.code) else 0
    sent = totals.get("binary", 0) + totals.get("json", 0) - bundle
    return sent, (totals.get("binary", 0) + totals.get("json", 0) - start) / EPOCHS, weights


def main() -> None:
    totals = count_comm_bytes()
    sent, per_record, weights = run(totals, probe=False)
    sent_p, per_record_p, _ = run(totals, probe=True)
    n_params = sum(w.size for w in weights[0])
    raw = n_params * 4 * (EPOCHS + 1)  # the init snapshot too
    t0 = time.perf_counter()
    plotly_bytes = plotly_size(weights)
    t_plotly = time.perf_counter() - t0

    print(f"784-128-10 MLP, {EPOCHS} epochs + init, {n_params:,} parameters")
    rec = per_record / 1e6
    print(f"  nnviz, timeline only          {sent / 1e6:7.2f} MB   per record() {rec:.3f} MB")
    rec = per_record_p / 1e6
    print(f"  nnviz, + 32-sample probe      {sent_p / 1e6:7.2f} MB   per record() {rec:.3f} MB")
    print(f"  raw float32 weights           {raw / 1e6:7.2f} MB")
    mb = plotly_bytes / 1e6
    print(f"  plotly, one frame per epoch   {mb:7.2f} MB   (built in {t_plotly:.1f} s)")
    print("  (the JS bundle, ~0.7 MB, is sent once per kernel and not counted)")
    print(f"ratio nnviz / raw float32:          {sent / raw:.3f}x   (goal <= 0.55x)")
    print(f"ratio nnviz+probe / raw float32:    {sent_p / raw:.3f}x   (activations of 32 samples)")
    print(f"ratio plotly / nnviz:               {plotly_bytes / sent:.1f}x   (goal >= 10x)")


def plotly_size(weights_per_epoch: list[list[np.ndarray]]) -> int:
    """JSON size of a plotly Scatter3d network with one frame per epoch (colors = weights)."""
    import plotly.graph_objects as go

    w1 = weights_per_epoch[0][0]  # (128, 784)
    w2 = weights_per_epoch[0][2]  # (10, 128)

    def grid(n: int, x: float) -> np.ndarray:
        side = int(np.ceil(np.sqrt(n)))
        i = np.arange(n)
        return np.stack([np.full(n, x), i % side, i // side], axis=1).astype(float)

    p0, p1, p2 = grid(784, 0), grid(128, 1), grid(10, 2)

    def segments(w: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
        out_i, in_i = np.indices(w.shape)
        src, dst = a[in_i.ravel()], b[out_i.ravel()]
        nan = np.full((src.shape[0], 3), np.nan)
        pts = np.stack([src, dst, nan], axis=1).reshape(-1, 3)
        return pts[:, 0], pts[:, 1], pts[:, 2]

    xs1, ys1, zs1 = segments(w1, p0, p1)
    xs2, ys2, zs2 = segments(w2, p1, p2)
    xs, ys, zs = (np.concatenate(v) for v in ((xs1, xs2), (ys1, ys2), (zs1, zs2)))

    def colors(ws: list[np.ndarray]) -> np.ndarray:
        c = np.concatenate([ws[0].ravel(), ws[2].ravel()])
        return np.repeat(c, 3)

    frames = [
        go.Frame(data=[go.Scatter3d(line={"color": colors(ws)})], name=str(e))
        for e, ws in enumerate(weights_per_epoch)
    ]
    fig = go.Figure(
        data=[
            go.Scatter3d(
                x=xs,
                y=ys,
                z=zs,
                mode="lines",
                line={"color": colors(weights_per_epoch[0]), "colorscale": "RdBu"},
            )
        ],
        frames=frames,
    )
    return len(fig.to_json().encode())


if __name__ == "__main__":
    main()
