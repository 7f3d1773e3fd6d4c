"""A two-process torch.distributed training run (gloo, CPU) recording with nnv.Recorder, run by
tests/test_follow.py as ``python tests/distributed_run.py OUT MODE`` (MODE: ddp or fsdp) once
per rank, with torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT).

Each rank logs every file write nnviz makes to OUT/writes-rank<r>.log. Rank 0 waits after each
recorded epoch until the test says it saw it (OUT/seen-<epoch>), so the test watches the epochs
arrive while the run is going."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

EPOCHS = 3


def _log_writes(out: Path, rank: int) -> None:
    from nnviz_widget import runfile

    real = runfile.atomic_write

    def logged(path: Path, *args: Any) -> Path:
        with open(out / f"writes-rank{rank}.log", "a") as f:
            f.write(f"{path}\n")
        return real(path, *args)

    runfile.atomic_write = logged  # type: ignore[assignment]


def _wait_for(flag: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not flag.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the test never wrote {flag}")
        time.sleep(0.02)


def main(out: Path, mode: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo")  # env://, as torchrun sets it
    rank, world = dist.get_rank(), dist.get_world_size()
    _log_writes(out, rank)
    import nnviz_widget as nnv

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    if mode == "fsdp":  # FSDP2: each Linear and the whole model sharded over the ranks
        from torch.distributed.fsdp import fully_shard

        for layer in net:
            if isinstance(layer, nn.Linear):
                fully_shard(layer)
        model: nn.Module = fully_shard(net)
    else:
        model = nn.parallel.DistributedDataParallel(net)
    g = torch.Generator().manual_seed(rank)
    x = torch.randn(64, 4, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    rec = nnv.Recorder(model, inputs=x[:8], labels=y[:8], path=out / "run.nnviz")
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    losses = []
    for epoch in range(EPOCHS):
        for i in range(0, 64, 16):
            loss = nn.functional.cross_entropy(model(x[i : i + 16]), y[i : i + 16])
            opt.zero_grad()
            loss.backward()
            opt.step()
        t = loss.detach().clone()
        dist.all_reduce(t)
        losses.append(float(t) / world)
        rec.record(epoch, loss=losses[-1])
        if rank == 0:
            _wait_for(out / f"seen-{epoch}")
        dist.barrier()
    full = {  # collective under FSDP: every rank gathers
        name: (p.full_tensor() if hasattr(p, "full_tensor") else p).detach().tolist()
        for name, p in model.named_parameters()
    }
    result = {"epochs": rec.history.epochs, "losses": losses, "params": full}
    (out / f"result-rank{rank}.json").write_text(json.dumps(result))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
