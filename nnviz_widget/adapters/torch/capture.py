"""The probe pass of every ``record()``: each input, module and output node's output on the probe
batch, each ``nn.MultiheadAttention``'s attention weights and each traced
``scaled_dot_product_attention`` op's (per head: the functional op is wrapped for the pass and
its weights computed from its own query, key and mask, as Hugging Face's "sdpa" models call it).
The captured
modules' ``forward`` is wrapped for the pass only: a forward hook anywhere would send every module
down torch's slow call path."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .run import Runner, _first_tensor, _tensor_leaves, _to_numpy

# Positions of need_weights / average_attn_weights in nn.MultiheadAttention.forward's arguments.
_MHA_NEED_WEIGHTS, _MHA_AVERAGE = 4, 6
# scaled_dot_product_attention's arguments after (query, key, value), in order
_SDPA_ARGS = ("attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")
#: the probe samples whose scaled_dot_product_attention weights are computed (an extra QK^T)
SDPA_SAMPLES = 8


@dataclass
class _ProbePlan:
    """What every probe pass (``activations()``) needs from the graph, which never changes."""

    module_nodes: dict[str, str]  # node name -> module path
    paths: set[str]  # the module paths whose first output is kept
    wrap: list[tuple[str, nn.Module]]  # (path, module) whose forward is wrapped for the pass
    attention: bool  # an nn.MultiheadAttention among the module nodes
    sdpa: list[str]  # the traced scaled_dot_product_attention nodes, in the order they run
    inputs: list[str]  # input node names
    outputs: list[str]  # output node names


_NONE = object()


class Capture(Runner):
    """``activations()`` and ``activations_for()`` of ``TorchAdapter``."""

    # set in TorchAdapter.__init__; made on the first activations()
    _input_acts: tuple[Any, dict[str, np.ndarray]] | None  # (probe args, their numpy copies)
    _probe_plan: _ProbePlan | None

    def activations(self) -> dict[str, np.ndarray]:
        """Output of every input, module and output node on the probe, (batch, ...) float32.

        Functional nodes (``add``, ``view`` ...) are omitted.
        """
        plan = self._probe_plan if self._probe_plan is not None else self._make_probe_plan()
        attention: dict[str, np.ndarray] = {}
        # what `with self._guard(), torch.no_grad(), self._attention_hooks(...)` does, with
        # fewer calls (this runs at every record, inside the training loop)
        saved = self._guard_enter()
        try:
            grad = torch.is_grad_enabled()
            torch.set_grad_enabled(False)
            try:
                with contextlib.ExitStack() as stack:
                    if plan.attention:  # no hooks to place or remove without attention
                        attention = stack.enter_context(self._attention_hooks(plan.module_nodes))
                    calls = stack.enter_context(_sdpa_calls()) if plan.sdpa else []
                    captured, output = self._capture(plan)
            finally:
                torch.set_grad_enabled(grad)
        finally:
            self._guard_exit(saved)
        self.attention = attention
        if self._input_acts is None or self._input_acts[0] is not self._args:
            # the probe never changes: copied once (activations_for swaps in other args)
            got = {}
            for name, arg in zip(plan.inputs, [*self._args, *self._kwargs.values()], strict=False):
                t = _first_tensor(arg)
                if t is not None:
                    got[name] = _to_numpy(t)
            self._input_acts = (self._args, got)
        acts = dict(self._input_acts[1])
        for name, path in plan.module_nodes.items():
            if path in captured:
                acts[name] = captured[path]
        if plan.sdpa and len(calls) == len(plan.sdpa):  # else a call can't be told from another
            for name, (out, weights) in zip(plan.sdpa, calls, strict=True):
                acts[name] = out
                if weights is not None:
                    attention[name] = weights
        for name, t in zip(plan.outputs, _tensor_leaves(output), strict=False):
            acts[name] = _to_numpy(t)
        return acts

    def _make_probe_plan(self) -> _ProbePlan:
        graph = self.graph()
        module_nodes = {
            layer.name: path
            for layer in graph.layers
            if (path := self._node_path.get(layer.name)) is not None
        }
        wrap = []
        for path in dict.fromkeys(module_nodes.values()):
            m = self._mods.get(path)
            if m is not None and m is not self.model:
                wrap.append((path, m))
        self._probe_plan = _ProbePlan(
            module_nodes=module_nodes,
            paths=set(module_nodes.values()),
            wrap=wrap,
            attention=any(
                isinstance(self._mods.get(path), nn.MultiheadAttention)
                for path in module_nodes.values()
            ),
            sdpa=[
                layer.name
                for layer in graph.layers
                if layer.kind == "attention" and "scaled_dot_product_attention" in layer.op
            ],
            inputs=[layer.name for layer in graph.layers if layer.kind == "input"],
            outputs=[layer.name for layer in graph.layers if layer.kind == "output"],
        )
        return self._probe_plan

    @contextlib.contextmanager
    def _attention_hooks(self, nodes: dict[str, str]) -> Iterator[dict[str, np.ndarray]]:
        """For one probe pass: each ``nn.MultiheadAttention`` node's attention weights on its
        first call, per head (batch, heads, queries, keys), by node name; (batch, queries, keys)
        where the caller asked for the mean itself.

        A call made with ``need_weights=False`` (``nn.TransformerEncoderLayer`` does) is made
        with ``need_weights=True, average_attn_weights=False`` instead, and its caller gets
        ``(output, None)`` back as it asked for. Calls whose weights can't be had (unbatched,
        functional ``scaled_dot_product_attention``) are skipped silently. Hooks are removed
        on exit. The probe runs in the model's own mode: in train mode with attention dropout
        the weights are the dropped-out ones torch returns (rows then need not sum to 1)."""
        found: dict[str, np.ndarray] = {}
        handles: list[Any] = []

        def pre(forced: list[bool]) -> Callable[..., Any]:
            def hook(_m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
                pos = list(args)
                need = pos[_MHA_NEED_WEIGHTS] if len(pos) > _MHA_NEED_WEIGHTS else None
                if need is None:
                    need = kwargs.get("need_weights", True)
                forced.append(not need)
                if need:
                    return None  # weights come back anyway: leave the call as it is
                kw = dict(kwargs)
                for i, key, value in (
                    (_MHA_NEED_WEIGHTS, "need_weights", True),
                    (_MHA_AVERAGE, "average_attn_weights", False),  # per head
                ):
                    if len(pos) > i:
                        pos[i] = value
                    else:
                        kw[key] = value
                return tuple(pos), kw

            return hook

        def post(name: str, forced: list[bool]) -> Callable[..., Any]:
            def hook(_m: nn.Module, _a: Any, _k: Any, output: Any) -> Any:
                was_forced = forced.pop() if forced else False
                if not (isinstance(output, tuple) and len(output) == 2):
                    return None
                w = output[1]
                if name not in found and isinstance(w, torch.Tensor) and w.ndim in (3, 4):
                    # (batch, heads, q, k) per head, or the caller's own mean (batch, q, k)
                    found[name] = _to_numpy(w.detach())
                return (output[0], None) if was_forced else None

            return hook

        try:
            hooked: set[str] = set()
            for name, path in nodes.items():
                m = self._mods.get(path)
                if isinstance(m, nn.MultiheadAttention) and path not in hooked:
                    hooked.add(path)
                    forced: list[bool] = []
                    handles.append(m.register_forward_pre_hook(pre(forced), with_kwargs=True))
                    handles.append(m.register_forward_hook(post(name, forced), with_kwargs=True))
            yield found
        finally:
            for h in handles:
                h.remove()

    def activations_for(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """activations() on the batch ``x`` instead of the probe (the probe is restored)."""
        saved = self._args, self._kwargs
        self._args, self._kwargs = (self._to_tensor(np.asarray(x)),), {}
        try:
            return self.activations()
        finally:
            self._args, self._kwargs = saved

    def _capture(self, plan: _ProbePlan) -> tuple[dict[str, np.ndarray], Any]:
        """One probe pass keeping the first output of each module in ``plan.paths``; this runs
        at every record. Each captured module's ``forward`` is wrapped for the pass (an instance
        attribute, removed after): a forward hook anywhere sends every module through torch's
        slow call path, which cost more than the pass itself. On failure the pass is repeated
        with ``_forward``'s bookkeeping hooks, for an error that names the layer."""
        captured: dict[str, np.ndarray] = {}

        def wrap(path: str, forward: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                out = forward(*args, **kwargs)
                if path not in captured:
                    t = out if isinstance(out, torch.Tensor) else _first_tensor(out)
                    if t is not None:
                        captured[path] = _to_numpy(t)  # copy now: later in-place ops change it
                return out

            return call

        patched: list[tuple[nn.Module, Any]] = []  # (module, its own instance attribute or _NONE)
        try:
            try:
                for path, m in plan.wrap:
                    # what `m.forward = ...` does (nn.Module.__setattr__ ends there for a
                    # function), without that method's checks
                    attrs = m.__dict__
                    patched.append((m, attrs.get("forward", _NONE)))
                    attrs["forward"] = wrap(path, m.forward)
                output = self.model(*self._args, **self._kwargs)
            finally:
                _unpatch(patched)
        except Exception:
            run = self._forward(capture=plan.paths)  # raises the ValueError naming the layer
            return run.captured, run.output
        return captured, output


def _unpatch(patched: list[tuple[nn.Module, Any]]) -> None:
    """Undo _capture's forward wrappers (restoring an instance ``forward`` that was there)."""
    for m, own in reversed(patched):
        if own is _NONE:
            m.__dict__.pop("forward", None)
        else:
            m.__dict__["forward"] = own


@contextlib.contextmanager
def _sdpa_calls() -> Iterator[list[tuple[np.ndarray, np.ndarray | None]]]:
    """For one probe pass: ``torch.nn.functional.scaled_dot_product_attention`` wrapped, each
    call's (output as (batch, queries, heads * dim), its weights per head (samples, heads,
    queries, keys) for the first ``SDPA_SAMPLES`` samples, or None) in call order."""
    calls: list[tuple[np.ndarray, np.ndarray | None]] = []
    original = torch.nn.functional.scaled_dot_product_attention

    def sdpa(query: Any, key: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        out = original(query, key, value, *args, **kwargs)
        if isinstance(out, torch.Tensor) and out.ndim == 4:
            options = dict(zip(_SDPA_ARGS, args, strict=False)) | kwargs
            flat = out.detach().transpose(1, 2).flatten(2)  # what the output projection reads
            try:
                weights = _sdpa_weights(query, key, **options)
            except Exception:  # an argument form not known here: the output still counts
                weights = None
            calls.append((_to_numpy(flat), weights))
        return out

    torch.nn.functional.scaled_dot_product_attention = sdpa
    try:
        yield calls
    finally:
        torch.nn.functional.scaled_dot_product_attention = original


def _sdpa_weights(
    query: torch.Tensor,
    key: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> np.ndarray | None:
    """softmax(q k^T * scale + mask) per head, as scaled_dot_product_attention computes it
    (without its dropout), for the first samples; None for inputs that are not (B, H, L, E)."""
    if query.ndim != 4 or key.ndim != 4:
        return None
    q = query[:SDPA_SAMPLES].detach().float()
    k = key[:SDPA_SAMPLES].detach().float()
    if k.shape[1] != q.shape[1]:  # grouped-query attention: each key head serves a group
        k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
    s = scale if scale is not None else 1.0 / math.sqrt(q.shape[-1])
    scores = q @ k.transpose(-2, -1) * s
    n_q, n_k = scores.shape[-2], scores.shape[-1]
    if is_causal:
        keep = torch.ones(n_q, n_k, dtype=torch.bool, device=scores.device).tril()
        scores = scores.masked_fill(~keep, -math.inf)
    if attn_mask is not None:
        m = attn_mask[: scores.shape[0]] if attn_mask.ndim == 4 else attn_mask
        bool_mask = m.dtype == torch.bool  # True: may attend; else added to the scores
        scores = scores.masked_fill(~m, -math.inf) if bool_mask else scores + m.float()
    w = torch.softmax(scores, dim=-1).nan_to_num(0.0)  # a row with every key masked: zeros
    return _to_numpy(w)
