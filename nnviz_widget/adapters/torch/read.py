"""What every ``record()`` reads, inside the user's training loop, so kept lean: the parameters
(one copy of them all, a view per parameter and per layer, the plan cached while the model's
parameters are the same objects), the gradients (copied the same way: a record keeps their fixed
sample) and the gradient norms (one ``_foreach_norm`` over the ``.grad`` the loop left, else
gradients of a probe loss)."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..base import LayerParams, ParamDict
from .describe import _canonical, _reordered
from .modules import _Live, _Owned
from .run import Runner, _first_tensor, _to_numpy

#: where each parameter, and each layer's run of them, lies in the one flat buffer:
#: (layer, start, stop, [(param, start, stop, shape)])
Layout = list[tuple[str, int, int, list[tuple[str, int, int, tuple[int, ...]]]]]


@dataclass
class _ParamPlan:
    """``parameters()`` while the model's parameters are the known ones: what to copy, in
    order, and where each lands in the one buffer (for the shapes last seen)."""

    owners: dict[str, _Owned]
    keys: list[tuple[str, str]]  # (node name, param name), a layer's params consecutive
    params: list[torch.Tensor]
    transposed: list[nn.Module | None]  # the ConvTranspose module whose weight is reordered
    reordered: bool = False  # some transposed entry is not None
    shapes: list[torch.Size] = field(default_factory=list)  # canonical, for ``layout``
    # (node name, start, stop, [(param name, start, stop, shape)]) per layer with parameters
    layout: Layout = field(default_factory=list)


@dataclass
class _NormPlan:
    """``gradient_norms()`` for one ``_Live``: the known parameters that are the model's."""

    owners: dict[str, _Owned]
    live: _Live
    names: list[str]  # nodes owning parameters (each gets a norm)
    params: list[nn.Parameter]  # their parameters that are still the model's
    owner: list[str]  # node name of each
    covers: bool  # params are all the model's parameters


class Read(Runner):
    """``parameters()``, ``gradients()`` and ``gradient_norms()`` of ``TorchAdapter``."""

    # set in TorchAdapter.__init__; the plans are made on the first call
    _param_ids: list[int] | None  # the model's parameters at the first call
    _param_ref: list[nn.Parameter] | None  # a _Live.params with those ids
    _param_plan: _ParamPlan | None
    _norm_plan: _NormPlan | None

    def parameters(self) -> ParamDict:
        """{node name: {param name: float32 copy}} in canonical orientation."""
        owners = self._owners()
        # the user may have replaced a module or a parameter since: then each is resolved by
        # its path; while the model's parameters are the same objects, the known ones are read
        params = self._live().params
        if params is not self._param_ref:
            ids = [id(p) for p in params]
            if self._param_ids is None:
                self._param_ids = ids
            if ids != self._param_ids:
                return self._parameters_by_path(owners)
            self._param_ref = params
        plan = self._param_plan
        if plan is None or plan.owners is not owners:
            plan = self._param_plan = _param_plan(owners)
        if not plan.params:
            return {}
        # one copy of all of them (this runs at every record): views into it per parameter, and
        # per layer (LayerParams.flat: its statistics need no concatenation)
        grad = torch.is_grad_enabled()
        torch.set_grad_enabled(False)  # no autograd: the parameters need no .detach() each
        try:
            if plan.reordered:
                tensors = [
                    p if sub is None else _canonical(sub, "weight", p)
                    for p, sub in zip(plan.params, plan.transposed, strict=True)
                ]
            else:
                tensors = plan.params
            shapes = [t.shape for t in tensors]
            flat = _flat_float32(tensors)
        finally:
            torch.set_grad_enabled(grad)
        if shapes != plan.shapes:
            plan.shapes, plan.layout = shapes, _param_layout(plan.keys, shapes)
        return _layer_views(flat, plan.layout)

    def _parameters_by_path(self, owners: dict[str, _Owned]) -> ParamDict:
        """``parameters()`` once the model's parameters are not the known ones: each found
        again by its path (one that is gone is left out)."""
        out: ParamDict = {}
        where: list[tuple[str, str, tuple[int, ...]]] = []
        tensors: list[torch.Tensor] = []
        for name, owned in owners.items():
            for pname, _sub, attr, _p in owned.params:
                found = self._param_at(owned.path, pname)
                if found is not None:
                    sub, p = found
                    t = _canonical(sub, attr, p.detach()).to("cpu", torch.float32)
                    where.append((name, pname, tuple(t.shape)))
                    tensors.append(t.reshape(-1))
        if not tensors:
            return out
        flat = torch.cat(tensors).numpy()
        at = 0
        for name, pname, shape in where:  # a layer's parameters are consecutive
            n = math.prod(shape)
            layer = out.get(name)
            if not isinstance(layer, LayerParams):
                layer = out[name] = LayerParams()
                layer.start = at
            layer[pname] = flat[at : at + n].reshape(shape)
            at += n
            layer.flat = flat[layer.start : at]
        return out

    def _param_at(self, path: str, pname: str) -> tuple[nn.Module, torch.Tensor] | None:
        """(submodule, parameter) now at ``path.pname`` in the model, or None if it is gone."""
        full = f"{path}.{pname}" if path else pname
        sub_path, _, attr = full.rpartition(".")
        try:
            sub = self.model.get_submodule(sub_path) if sub_path else self.model
        except AttributeError:
            return None
        p = getattr(sub, attr, None)
        return (sub, p) if isinstance(p, torch.Tensor) else None

    def gradients(self) -> ParamDict:
        """Gradients, same keys as ``parameters()``.

        The ``.grad`` the user's loop left, where every trainable parameter has one; otherwise
        computed on the probe batch with ``torch.autograd.grad`` (so no ``.grad`` is touched).
        Parameters that get no gradient (frozen or unused) read as zeros.
        """
        grads = self._gradient_tensors()
        out: ParamDict = {}
        for name, owned in self._owners().items():
            if not owned.params:
                continue
            layer: dict[str, np.ndarray] = {}
            for pname, sub, attr, p in owned.params:
                g = grads.get(id(p))
                g = torch.zeros_like(p) if g is None else g.detach()
                layer[pname] = _to_numpy(_canonical(sub, attr, g))
            out[name] = layer
        return out

    def gradient_arrays(self) -> ParamDict:
        """``gradients()`` as one float32 copy of them all, with a view per parameter and per
        layer (``LayerParams.flat``), as ``parameters()`` does: what a record copies (it keeps
        the fixed sample later). Falls back to ``gradients()`` once the model's parameters are
        not the ones ``parameters()`` last read."""
        plan = self._param_plan
        if (
            plan is None
            or plan.owners is not self._owners_cache
            or self._live().params is not self._param_ref
        ):
            return self.gradients()
        if not plan.params:
            return {}
        grads = self._gradient_tensors()
        with torch.no_grad():
            tensors = []
            for p, sub in zip(plan.params, plan.transposed, strict=True):
                g = grads.get(id(p))
                if g is None:  # frozen or unused: zeros, as gradients() gives
                    g = torch.zeros_like(p)
                elif g.is_sparse:
                    g = g.to_dense()
                tensors.append(g if sub is None else _canonical(sub, "weight", g))
            shapes = [t.shape for t in tensors]
            flat = _flat_float32(tensors)
        layout = plan.layout if shapes == plan.shapes else _param_layout(plan.keys, shapes)
        return _layer_views(flat, layout)

    def _gradient_tensors(self) -> dict[int, torch.Tensor | None]:
        """id(parameter) -> its gradient: the ``.grad`` the user's loop left where every
        trainable parameter has one, otherwise computed on the probe batch."""
        trainable = [p for p in self._live().params if p.requires_grad]
        if all(p.grad is not None for p in trainable):
            return {id(p): p.grad for p in trainable}
        return self._compute_gradients(trainable)

    def gradient_norms(self) -> dict[str, float | None]:
        """Per-layer gradient norms computed in torch: no copies of the gradients (a record
        keeps only the norms). Same gradients as ``gradients()``; non-finite entries ignored."""
        owners = self._owners()
        live = self._live()
        plan = self._norm_plan
        if plan is None or plan.owners is not owners or plan.live is not live:
            plan = self._norm_plan = _norm_plan(owners, live)
        # the .grad the user's loop left, where every trainable parameter has one
        tensors: list[torch.Tensor] = []
        owner: list[str] = []
        for p, name in zip(plan.params, plan.owner, strict=True):
            if p.requires_grad:
                g = p.grad
                if g is None:
                    break
                tensors.append(g.detach())
                owner.append(name)
        else:
            if plan.covers or all(p.grad is not None for p in live.params if p.requires_grad):
                return _norms(plan.names, tensors, owner)
        # else computed on the probe batch
        grads = self._gradient_tensors()
        tensors, owner = [], []
        for p, name in zip(plan.params, plan.owner, strict=True):
            g = grads.get(id(p))
            if g is not None:
                tensors.append(g.detach())
                owner.append(name)
        return _norms(plan.names, tensors, owner)

    def _compute_gradients(self, trainable: list[nn.Parameter]) -> dict[int, torch.Tensor | None]:
        """Gradients of a probe loss, without touching any ``.grad``."""
        with self._guard(), torch.enable_grad():
            try:  # a plain call: hooks on every module would cost more than the pass
                output = self.model(*self._args, **self._kwargs)
            except Exception:
                output = self._forward().output  # raises the ValueError naming the layer
            out = _first_tensor(output)
            if out is None or not out.is_floating_point() or not trainable:
                return {}
            loss = self._loss(out)
            if not loss.requires_grad:
                return {}
            grads = torch.autograd.grad(loss, trainable, allow_unused=True)
        return {id(p): g for p, g in zip(trainable, grads, strict=True)}

    def _loss(self, out: torch.Tensor) -> torch.Tensor:
        """Cross-entropy for class labels, binary cross-entropy for 0/1 labels of a single
        output, MSE for float targets, else the mean square output."""
        y = self._labels
        if isinstance(y, torch.Tensor):
            if out.ndim == 2 and out.shape[1] == 1 and y.numel() == out.shape[0]:
                target = y.reshape(-1, 1).float()
                if bool(((target == 0) | (target == 1)).all()):
                    o = out.float()
                    inside = bool(((o >= 0) & (o <= 1)).all())  # already a probability?
                    return (
                        F.binary_cross_entropy(o.clamp(1e-7, 1 - 1e-7), target)
                        if inside
                        else F.binary_cross_entropy_with_logits(o, target)
                    )
                return F.mse_loss(out.float(), target)
            if (
                not y.is_floating_point()
                and out.ndim == 2
                and y.shape == (out.shape[0],)
                and not y.is_complex()
                and y.dtype != torch.bool
            ):
                return F.cross_entropy(out.float(), y.long())
            if y.is_floating_point() and y.shape == out.shape:
                return F.mse_loss(out.float(), y.float())
        return out.float().pow(2).mean()


def _layer_views(flat: np.ndarray, layout: Layout) -> ParamDict:
    """{layer: LayerParams} of views into the one buffer ``flat``, as ``layout`` places them."""
    out: ParamDict = {}
    for name, start, stop, items in layout:
        layer = out[name] = LayerParams()
        for pname, a, b, shape in items:
            layer[pname] = flat[a:b].reshape(shape)
        layer.start = start
        layer.flat = flat[start:stop]
    return out


def _flat_float32(tensors: list[torch.Tensor]) -> np.ndarray:
    """What ``torch.cat([t.to("cpu", torch.float32).reshape(-1) for t in tensors]).numpy()``
    gives (a new buffer), in fewer calls; with autograd off, or of tensors that need none."""
    flat: torch.Tensor | None = None
    if len(tensors) > 1:  # (of one tensor it gives a view, not a copy)
        with contextlib.suppress(Exception):  # mixed devices: converted one by one
            # one call: each tensor made contiguous and viewed 1-D, then concatenated
            flat = torch._utils._flatten_dense_tensors(tensors)
    if flat is None or flat.dtype is not torch.float32:
        # the float32 result of cat is each value converted once, as .to() does; any other
        # (float64, half, complex) is converted tensor by tensor, as it always was
        flat = torch.cat([t.to("cpu", torch.float32).reshape(-1) for t in tensors])
    elif not flat.is_cpu:
        flat = flat.cpu()
    return flat.numpy()


def _param_plan(owners: dict[str, _Owned]) -> _ParamPlan:
    plan = _ParamPlan(owners=owners, keys=[], params=[], transposed=[])
    for name, owned in owners.items():
        for pname, sub, attr, p in owned.params:
            plan.keys.append((name, pname))
            plan.params.append(p)
            reordered = _reordered(sub, attr)
            plan.transposed.append(sub if reordered else None)
            plan.reordered = plan.reordered or reordered
    return plan


def _param_layout(keys: list[tuple[str, str]], shapes: list[torch.Size]) -> Layout:
    """Where each parameter (and each layer's run of them) lies in the one flat buffer."""
    layout: Layout = []
    at = 0
    for (name, pname), shape in zip(keys, shapes, strict=True):
        n = math.prod(shape)
        if not layout or layout[-1][0] != name:
            layout.append((name, at, at, []))
        layer, start, _, items = layout[-1]
        items.append((pname, at, at + n, tuple(shape)))
        at += n
        layout[-1] = (layer, start, at, items)
    return layout


def _norm_plan(owners: dict[str, _Owned], live: _Live) -> _NormPlan:
    model_params = {id(p) for p in live.params}
    plan = _NormPlan(owners=owners, live=live, names=[], params=[], owner=[], covers=False)
    for name, owned in owners.items():
        if not owned.params:
            continue
        plan.names.append(name)
        for _pname, _sub, _attr, p in owned.params:
            if id(p) in model_params:
                plan.params.append(p)
                plan.owner.append(name)
    plan.covers = len(plan.params) == len(model_params)
    return plan


def _norms(
    names: list[str], tensors: list[torch.Tensor], owner: list[str]
) -> dict[str, float | None]:
    """Per layer: the L2 norm of its gradients ``tensors`` (each owned by ``owner``)."""
    totals = dict.fromkeys(names, 0.0)
    if tensors:
        try:  # one fused call for all of them (as clip_grad_norm_ does)
            found = torch._foreach_norm(tensors)
            # on the CPU one .item() each is cheaper than stacking; elsewhere one sync
            cpu = found[0].is_cpu
            norms = [n.item() for n in found] if cpu else torch.stack(found).tolist()
        except Exception:  # sparse, mixed devices or dtypes: one by one
            norms = [math.nan] * len(tensors)
        for name, g, norm in zip(owner, tensors, norms, strict=True):
            # non-finite entries (or a float32 overflow): exact, without them
            totals[name] += norm * norm if math.isfinite(norm) else _sum_squares(g)
    return {name: math.sqrt(total) for name, total in totals.items()}


def _sum_squares(g: torch.Tensor) -> float:
    """Sum of squares in float64, non-finite entries left out (dense or sparse gradients)."""
    if g.is_sparse:
        g = g.coalesce().values()
    sq = float(torch.linalg.vector_norm(g, dtype=torch.float64)) ** 2
    if not math.isfinite(sq):
        g = g[torch.isfinite(g)]
        sq = float(torch.linalg.vector_norm(g, dtype=torch.float64)) ** 2
    return sq
