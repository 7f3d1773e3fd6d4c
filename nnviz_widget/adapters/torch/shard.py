"""Sharded models: FSDP2 (``torch.distributed.fsdp.fully_shard``), gathered whole for a reading.

Every rank holds a shard of each parameter (a DTensor). ``Unsharded`` gathers them on every rank
(``FSDPModule.unshard()``, collective) with FSDP's reshard after forward turned off, so that rank
0 can run the probe passes alone; the gradients' shards are gathered too (``full_tensor()``) and
put on the gathered parameters for the reading. On exit the gradients put there are taken off and
each module is resharded (local) with its reshard-after-forward setting as it was. The gather
costs one full copy of the model's parameters (and gradients) on every rank, at every record.

FSDP1 (``FullyShardedDataParallel``) needs an accelerator and could not be tried here (CPU with
gloo): a model wrapped in it is refused with a message rather than recorded as shards.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

from torch import nn

FSDP1_REFUSED = (
    "this model is wrapped in FullyShardedDataParallel (FSDP1), which nnviz cannot record: it "
    "would see only each rank's flat shards. Shard it with torch.distributed.fsdp.fully_shard "
    "(FSDP2), whose full parameters nnviz gathers at each record, or record an unsharded copy"
)
DTENSOR_REFUSED = (
    "this model's parameters are sharded DTensors but not by fully_shard (FSDP2), so nnviz "
    "would record shards; record an unsharded copy of the model (e.g. on rank 0)"
)


def _fsdp() -> Any:
    """torch.distributed.fsdp where it was imported: a sharded model's script imported it (so a
    plain model costs no import of it); else None."""
    return sys.modules.get("torch.distributed.fsdp")


def fsdp_modules(model: nn.Module) -> list[nn.Module]:
    """The FSDP2 modules of ``model`` (outermost first); a clear error for FSDP1 or for DTensor
    parameters that FSDP2 does not manage."""
    fsdp = _fsdp()
    if fsdp is None:
        return []
    mods = list(model.modules())
    if any(isinstance(m, fsdp.FullyShardedDataParallel) for m in mods):
        raise TypeError(FSDP1_REFUSED)
    found = [m for m in mods if isinstance(m, fsdp.FSDPModule)]
    tensor = sys.modules.get("torch.distributed.tensor")
    if (
        not found
        and tensor is not None
        and any(isinstance(p, tensor.DTensor) for p in model.parameters())
    ):
        raise TypeError(DTENSOR_REFUSED)
    return found


def _reshards_after_forward(m: nn.Module) -> bool:
    """A module's reshard_after_forward (FSDP keeps it as its post-forward mesh; True if the
    internals moved)."""
    try:
        group = m._get_fsdp_state()._fsdp_param_group  # type: ignore[operator]
        return group is None or group.post_forward_mesh_info is not None
    except AttributeError:
        return True


class Unsharded:
    """Context: ``model``'s FSDP2 parameters (and gradients) whole on every rank; re-entrant."""

    def __init__(self, model: nn.Module, mods: list[nn.Module]) -> None:
        self.model = model
        self.mods = mods
        self._depth = 0
        self._flags: list[bool] = []
        self._put: list[nn.Parameter] = []

    def __enter__(self) -> None:
        self._depth += 1
        if self._depth > 1 or not self.mods:
            return
        # the gradients' shards first (collective; the same order on every rank)
        grads = {}
        for name, p in self.model.named_parameters():
            g = p.grad
            if g is not None:
                grads[name] = g.full_tensor() if hasattr(g, "full_tensor") else g
        self._flags = [_reshards_after_forward(m) for m in self.mods]
        for m in self.mods:
            m.set_reshard_after_forward(False, recurse=False)  # type: ignore[operator]
            m.unshard()  # type: ignore[operator]
        self._put = []
        for name, p in self.model.named_parameters():
            if name in grads and p.grad is None:
                p.grad = grads[name].to(p.dtype)
                self._put.append(p)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth > 0 or not self.mods:
            return
        for p in self._put:  # FSDP's backward must find no gradient on a gathered parameter
            p.grad = None
        self._put = []
        for m, flag in zip(self.mods, self._flags, strict=True):
            m.reshard()  # type: ignore[operator]
            m.set_reshard_after_forward(flag, recurse=False)  # type: ignore[operator]
