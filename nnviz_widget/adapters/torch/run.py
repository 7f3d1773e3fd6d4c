"""Running the model on the probe batch and leaving no trace: the probe batch (tensors on the
model's device, cut to ``MAX_PROBE_SAMPLES``, one name per forward argument), the guard that puts
back train flags, buffers, RNG state and the MHA fast path, and the hooked forward pass that
records each module's shapes and names the layer that fails."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils import _pytree as pytree

from .modules import ModuleTable

#: The probe batch is cut to this many samples (activations are recorded every epoch).
MAX_PROBE_SAMPLES = 32


# What _guard_enter saved: (modules, their train flags, (module, buffer name, buffer, copy),
# the CPU RNG state or the entered fork_rng, torch.backends.mha or None, its fast-path flag).
_Saved = tuple[
    list[nn.Module],
    list[bool],
    list[tuple[nn.Module, str, torch.Tensor, torch.Tensor]],
    Any,
    Any,
    bool | None,
]


@dataclass
class _Call:
    """What the hooks saw on a module's first call (shapes include the batch dim)."""

    input_shapes: list[tuple[int, ...]] = field(default_factory=list)
    output_shape: tuple[int, ...] | None = None
    count: int = 1  # how many times it was called in the pass


@dataclass
class _Run:
    """Result of one hooked forward pass."""

    output: Any
    calls: dict[str, _Call]  # canonical module path -> first call
    order: list[str]  # canonical module paths in the order they were entered
    captured: dict[str, np.ndarray]  # module path -> first tensor output (when asked for)


class Runner(ModuleTable):
    """The probe batch and the guarded forward pass of ``TorchAdapter``."""

    # set in TorchAdapter.__init__
    _device: torch.device
    _float: torch.dtype  # the model's float dtype (numpy float64 probes are cast to it)
    _args: tuple[Any, ...]  # the probe: positional forward arguments
    _kwargs: dict[str, Any]  # ... and keyword arguments
    _labels: Any  # the probe labels as a tensor, or None
    _input_names: list[str]  # one per forward argument

    def _to_tensor(self, x: Any) -> Any:
        """numpy -> tensor (float64 -> the model's float dtype), moved to the model's device."""
        if isinstance(x, np.ndarray):
            t = torch.from_numpy(np.ascontiguousarray(x))
            if t.is_floating_point():
                t = t.to(self._float)
            return t.to(self._device)
        if isinstance(x, torch.Tensor):
            return x.to(self._device)
        return x

    def _cut(self, x: Any, what: str) -> Any:
        """Keep at most MAX_PROBE_SAMPLES along the batch dim of every tensor in ``x``."""
        sizes = [t.shape[0] for t in _tensor_leaves(x) if t.ndim >= 1]
        if not sizes or max(sizes) <= MAX_PROBE_SAMPLES:
            return x
        self.notes.append(
            f"{what}: probe batch cut from {max(sizes)} to {MAX_PROBE_SAMPLES} samples"
        )
        return pytree.tree_map(
            lambda t: t[:MAX_PROBE_SAMPLES] if isinstance(t, torch.Tensor) and t.ndim else t, x
        )

    def _make_probe(self, inputs: Any, input_shape: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if inputs is not None:
            conv = lambda v: pytree.tree_map(self._to_tensor, v)  # noqa: E731
            if isinstance(inputs, dict):
                args: tuple[Any, ...] = ()
                kwargs = {str(k): conv(v) for k, v in inputs.items()}
            elif isinstance(inputs, tuple | list):
                args, kwargs = tuple(conv(v) for v in inputs), {}
            else:
                args, kwargs = (conv(inputs),), {}
            cut = self._cut((args, kwargs), "inputs")
            return tuple(cut[0]), dict(cut[1])
        if input_shape is None:
            raise ValueError(
                f"{type(self.model).__name__}: cannot find the layer shapes without a probe; "
                "pass inputs=<a probe batch> or input_shape=<per-sample shape> "
                "(e.g. input_shape=(1, 28, 28))"
            )
        shapes = _shape_list(input_shape)
        # An embedding as first layer wants indices; anything else gets float zeros.
        first = next((m for m in self.model.modules() if not list(m.children())), None)
        dtype = torch.long if isinstance(first, nn.Embedding | nn.EmbeddingBag) else self._float
        # Batch of 2: BatchNorm in train mode refuses a batch of 1.
        return tuple(torch.zeros((2, *s), dtype=dtype, device=self._device) for s in shapes), {}

    def _name_inputs(self) -> list[str]:
        """One name per forward argument, from the forward's signature."""
        try:
            params = list(inspect.signature(self.model.forward).parameters.values())
        except (TypeError, ValueError):
            params = []
        pos = [
            p.name
            for p in params
            if p.kind
            in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        ]
        var = next((p.name for p in params if p.kind == inspect.Parameter.VAR_POSITIONAL), "input")
        names = [pos[i] if i < len(pos) else f"{var}_{i}" for i in range(len(self._args))]
        return names + list(self._kwargs)

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Run something on the model and leave no trace: buffers, modes, RNG, MHA fast path."""
        saved = self._guard_enter()
        try:
            yield
        finally:
            self._guard_exit(saved)

    def _guard_enter(self) -> _Saved:
        """``_guard``'s entry: saves every module's train flag, its buffers and the RNG state
        (``_guard_exit`` puts them back) and turns the MHA fast path off."""
        # one pass over the modules (this runs at every record, inside the training loop)
        live = self._live()
        modules = live.modules
        modes = [m.training for m in modules]
        saved: list[tuple[nn.Module, str, torch.Tensor, torch.Tensor]] = []
        for m in modules:
            if m._buffers:
                saved.extend(
                    (m, n, b, b.detach().clone()) for n, b in m._buffers.items() if b is not None
                )
        # no CUDA RNG to protect unless CUDA is in use
        cuda = (
            sorted({p.device.index or 0 for p in live.params if p.device.type == "cuda"})
            if torch.cuda.is_initialized()
            else []
        )
        rng: Any
        if cuda:
            rng = torch.random.fork_rng(devices=cuda)
            rng.__enter__()
        else:
            rng = torch.get_rng_state()  # what fork_rng(devices=[]) saves, in one call
        mha = getattr(torch.backends, "mha", None) if live.has_mha else None
        fast = mha.get_fastpath_enabled() if mha is not None else None
        if mha is not None:
            # The fused path skips the submodules of TransformerEncoderLayer: no hooks, no shapes.
            mha.set_fastpath_enabled(False)
        return modules, modes, saved, rng, mha, fast

    def _guard_exit(self, saved_state: _Saved) -> None:
        """``_guard``'s exit: puts back what ``_guard_enter`` saved."""
        modules, modes, saved, rng, mha, fast = saved_state
        try:
            if isinstance(rng, torch.Tensor):
                torch.set_rng_state(rng)
            else:
                rng.__exit__(None, None, None)
        finally:
            if mha is not None and fast is not None:
                mha.set_fastpath_enabled(fast)
            for m, mode in zip(modules, modes, strict=True):
                if m.training is not mode:
                    m.training = mode
            if saved:
                with torch.no_grad():
                    for m, name, b, copy in saved:
                        m._buffers[name] = b
                        if b.shape == copy.shape:
                            b.copy_(copy)

    def _forward(self, capture: set[str] | None = None) -> _Run:
        """One forward pass of the probe with hooks; a ValueError naming the failing layer."""
        calls: dict[str, _Call] = {}
        order: list[str] = []
        captured: dict[str, np.ndarray] = {}
        stack: list[tuple[str, list[tuple[int, ...]]]] = []
        handles: list[Any] = []

        def pre(path: str) -> Callable[..., None]:
            def hook(_m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
                shapes = [tuple(t.shape) for t in _tensor_leaves((args, kwargs))]
                stack.append((path, shapes))
                if path not in calls:
                    calls[path] = _Call(input_shapes=shapes)
                    order.append(path)
                else:
                    calls[path].count += 1

            return hook

        def post(path: str) -> Callable[..., None]:
            def hook(_m: nn.Module, _a: Any, _k: Any, output: Any) -> None:
                # pop this module (and anything a caught exception left above it)
                for i in range(len(stack) - 1, -1, -1):
                    if stack[i][0] == path:
                        del stack[i:]
                        break
                call = calls[path]
                t = _first_tensor(output)
                if call.output_shape is None and t is not None:
                    call.output_shape = tuple(t.shape)
                    if capture is not None and path in capture:
                        captured[path] = _to_numpy(t)  # copy now: later in-place ops change it

            return hook

        try:
            for path, m in self._mods.items():
                handles.append(m.register_forward_pre_hook(pre(path), with_kwargs=True))
                handles.append(m.register_forward_hook(post(path), with_kwargs=True))
            try:
                output = self.model(*self._args, **self._kwargs)
            except Exception as err:
                path, shapes = stack[-1] if stack else ("", [])
                raise self._forward_error(err, path, shapes) from err
        finally:
            for h in handles:
                h.remove()
        return _Run(output, calls, order, captured)

    def _forward_error(
        self, err: Exception, path: str, shapes: list[tuple[int, ...]]
    ) -> ValueError:
        m = self._mods.get(path, self.model)
        cls = type(m).__name__
        extra = m.extra_repr().split("\n")[0]
        extra = extra if len(extra) <= 100 else extra[:97] + "..."
        what = f"layer '{path}' ({cls}{', ' + extra if extra else ''})"
        if not path:
            what = f"model {cls} (in its own forward, outside any submodule)"
        text = ", ".join(_fmt(s) for s in shapes)
        if len(shapes) == 1:
            got = f"input of shape {text} does not fit"
        elif shapes:
            got = f"inputs of shapes {text} do not fit"
        else:
            got = "the probe does not fit"
        return ValueError(f"{got} {what}: {type(err).__name__}: {err}")


def _device_and_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    device = torch.device("cpu")
    dtype = torch.float32
    for t in [*model.parameters(), *model.buffers()]:
        if isinstance(t, nn.parameter.UninitializedParameter):
            continue
        device = t.device
        if t.is_floating_point():
            return device, t.dtype
    return device, dtype


def _shape_list(input_shape: Any) -> list[tuple[int, ...]]:
    """``(784,)`` -> one shape; ``[(3,), (5, 2)]`` -> several (one per forward argument)."""
    if isinstance(input_shape, int):
        return [(input_shape,)]
    items = list(input_shape)
    if all(isinstance(s, int) for s in items):
        return [tuple(int(s) for s in items)]
    shapes = []
    for s in items:
        if isinstance(s, int) or any(not isinstance(d, int) for d in s):
            raise ValueError(
                f"input_shape must be a per-sample shape of ints like (1, 28, 28), or a list of "
                f"such shapes; got {input_shape!r}"
            )
        shapes.append(tuple(int(d) for d in s))
    return shapes


def _tensor_leaves(x: Any) -> list[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        return [x]  # what pytree gives for a tensor, in one call
    return [t for t in pytree.tree_leaves(x) if isinstance(t, torch.Tensor)]


def _first_tensor(x: Any) -> torch.Tensor | None:
    leaves = _tensor_leaves(x)
    return leaves[0] if leaves else None


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    """A float32 numpy copy (not a view) of ``t``, in its own memory order."""
    t = t.detach()
    if t.dtype is not torch.float32 or not t.is_cpu:
        t = t.to("cpu", torch.float32)
    return np.array(t.numpy())  # a copy, in the tensor's memory order


def _fmt(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
