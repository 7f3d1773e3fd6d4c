"""scikit-learn adapter: a fitted ``MLPClassifier`` / ``MLPRegressor`` -> the neutral graph,
parameters, gradients and activations.

sklearn's MLPs are plain numpy: ``coefs_[i]`` is the (in, out) weight of layer ``i`` and
``intercepts_[i]`` its bias, hidden layers share one ``activation`` and the last one applies
``out_activation_``. So the forward and backward passes here are a few lines of numpy, written
by hand (sklearn's own ``_forward_pass`` / ``_backprop`` are private). This package imports
nothing from sklearn: the estimator's public attributes are all it reads.

Train it one epoch per ``record()`` with ``partial_fit`` (or ``max_iter=1, warm_start=True``):
the arrays are replaced, not updated in place, so they are read afresh at every record.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...graph import Graph, Layer
from ..base import ModelAdapter, ParamDict

__all__ = ["MAX_PROBE_SAMPLES", "SklearnAdapter"]

MAX_PROBE_SAMPLES = 32

#: sklearn's activation names -> (function, derivative written in terms of the output)
_ACTIVATIONS: dict[str, tuple[Any, Any]] = {
    "identity": (lambda z: z, lambda a: np.ones_like(a)),
    "logistic": (lambda z: 1.0 / (1.0 + np.exp(-z)), lambda a: a * (1.0 - a)),
    "tanh": (np.tanh, lambda a: 1.0 - a * a),
    "relu": (lambda z: np.maximum(z, 0.0), lambda a: (a > 0).astype(a.dtype)),
    "exp": (np.exp, lambda a: a),  # MLPRegressor(loss="poisson")'s output
}


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _out_fn(name: str) -> Any:
    return _softmax if name == "softmax" else _ACTIVATIONS[name][0]


class SklearnAdapter(ModelAdapter):
    """Adapter for a fitted ``sklearn.neural_network.MLPClassifier`` / ``MLPRegressor``.

    ``inputs`` is the probe batch (array-like, (n, n_features)); without it, ``input_shape``
    gives a zero batch of 2. ``labels`` (class labels or targets) give the gradients sklearn's
    own loss has on the probe; without them, the mean square output's.
    """

    framework = "sklearn"

    def __init__(
        self, model: Any, inputs: Any = None, input_shape: Any = None, labels: Any = None
    ) -> None:
        super().__init__(model, inputs=inputs, input_shape=input_shape, labels=labels)
        if not hasattr(model, "coefs_"):
            raise ValueError(
                f"this {type(model).__name__} is not fitted yet, so its layer sizes are unknown: "
                "call model.partial_fit(X, y, classes=...) (or fit) once before NNViz(model)"
            )
        n_in = int(model.coefs_[0].shape[0])
        if inputs is not None:
            x = np.asarray(inputs, dtype=np.float64)
            if x.ndim != 2 or x.shape[1] != n_in:
                raise ValueError(
                    f"inputs must be (n_samples, {n_in}) for this {type(model).__name__}, "
                    f"got shape {x.shape}"
                )
            if len(x) > MAX_PROBE_SAMPLES:
                self.notes.append(
                    f"the probe batch was cut to its first {MAX_PROBE_SAMPLES} of {len(x)} samples"
                )
            self._x = x[:MAX_PROBE_SAMPLES]
        else:
            self._x = np.zeros((2, n_in))
        self.inputs = None if inputs is None else self._x
        self._y = None if labels is None else np.asarray(labels).reshape(-1)[: len(self._x)]
        self._graph = self._build_graph()

    # -- structure --
    def _dense(self, i: int) -> str:
        return f"dense_{i}"

    def _act(self, i: int) -> str:
        return f"{self._act_name(i)}_{i}"

    def _act_name(self, i: int) -> str:
        last = i == len(self.model.coefs_) - 1
        return str(self.model.out_activation_ if last else self.model.activation)

    def _build_graph(self) -> Graph:
        coefs = self.model.coefs_
        layers = [Layer(0, "input", "input", "input", output_shape=(int(coefs[0].shape[0]),))]
        edges: list[tuple[str, str]] = []
        prev = "input"
        for i, w in enumerate(coefs):
            n_in, n_out = (int(v) for v in w.shape)
            dense = Layer(
                len(layers),
                self._dense(i),
                "dense",
                "Dense",
                output_shape=(n_out,),
                input_shapes=[(n_in,)],
                units=n_out,
                param_shapes={"weight": (n_out, n_in), "bias": (n_out,)},
                params=n_in * n_out + n_out,
                detail={"in_features": n_in},
            )
            act = Layer(
                len(layers) + 1,
                self._act(i),
                "activation",
                self._act_name(i),
                output_shape=(n_out,),
                input_shapes=[(n_out,)],
                detail={"activation": self._act_name(i)},
            )
            layers += [dense, act]
            edges += [(prev, dense.name), (dense.name, act.name)]
            prev = act.name
        n_out = int(coefs[-1].shape[1])
        layers.append(
            Layer(len(layers), "output", "output", "output", (n_out,), input_shapes=[(n_out,)])
        )
        edges.append((prev, "output"))
        return Graph(layers, edges, framework="sklearn", model_name=type(self.model).__name__)

    def graph(self) -> Graph:
        """The neutral graph (built once, from the fitted layer sizes)."""
        return self._graph

    # -- reading --
    def parameters(self) -> ParamDict:
        """Weights as (out, in) (sklearn keeps (in, out)) and biases, float32 copies."""
        m = self.model
        return {
            self._dense(i): {
                "weight": np.ascontiguousarray(w.T, dtype=np.float32),
                "bias": np.asarray(b, dtype=np.float32).copy(),
            }
            for i, (w, b) in enumerate(zip(m.coefs_, m.intercepts_, strict=True))
        }

    def _forward(self, x: np.ndarray) -> list[np.ndarray]:
        """Each dense layer's pre-activation and its activation, alternating."""
        m = self.model
        outs: list[np.ndarray] = []
        a = x
        for i, (w, b) in enumerate(zip(m.coefs_, m.intercepts_, strict=True)):
            z = a @ w + b
            last = i == len(m.coefs_) - 1
            a = _out_fn(m.out_activation_)(z) if last else _ACTIVATIONS[m.activation][0](z)
            outs += [z, a]
        return outs

    def _acts_dict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        outs = self._forward(x)
        acts = {"input": x.astype(np.float32)}
        for i in range(len(self.model.coefs_)):
            acts[self._dense(i)] = outs[2 * i].astype(np.float32)
            acts[self._act(i)] = outs[2 * i + 1].astype(np.float32)
        acts["output"] = acts[self._act(len(self.model.coefs_) - 1)]
        return acts

    def activations(self) -> dict[str, np.ndarray]:
        """Every layer's output on the probe batch."""
        return self._acts_dict(self._x) if self.inputs is not None else {}

    def activations_for(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Every layer's output on ``x`` (the decision boundary's grid)."""
        return self._acts_dict(np.asarray(x, dtype=np.float64))

    def _output_delta(self, out: np.ndarray) -> np.ndarray:
        """d loss / d (last pre-activation), summed over the batch as sklearn does (then / n).

        With labels: sklearn's own losses, whose output activations make this ``out - target``
        (softmax or logistic with log-loss, identity with squared error, exp with Poisson).
        Without: the mean square output's."""
        y = self._y
        m = self.model
        if y is None:
            g = 2.0 * out / out.shape[1]  # d mean(out**2) / d out, times n
            if m.out_activation_ == "softmax":  # its Jacobian mixes the outputs
                return out * (g - (g * out).sum(axis=1, keepdims=True))
            return g * _ACTIVATIONS[m.out_activation_][1](out)
        classes = getattr(m, "classes_", None)
        if classes is None:  # regressor
            target = y.reshape(len(out), -1).astype(np.float64)
        elif out.shape[1] == 1:  # binary: one logistic unit
            target = (y == classes[1]).astype(np.float64).reshape(-1, 1)
        else:
            target = (y.reshape(-1, 1) == np.asarray(classes).reshape(1, -1)).astype(np.float64)
        return out - target

    def gradients(self) -> ParamDict:
        """Gradients of sklearn's loss (with its L2 term ``alpha``) on the probe, per layer."""
        m = self.model
        x = self._x
        n = len(x)
        outs = self._forward(x)
        acts = [x] + [outs[2 * i + 1] for i in range(len(m.coefs_))]
        delta = self._output_delta(acts[-1])
        grads: ParamDict = {}
        deriv = _ACTIVATIONS[m.activation][1]
        for i in range(len(m.coefs_) - 1, -1, -1):
            w = m.coefs_[i]
            gw = (acts[i].T @ delta + m.alpha * w) / n
            gb = delta.mean(axis=0)
            grads[self._dense(i)] = {
                "weight": np.ascontiguousarray(gw.T, dtype=np.float32),
                "bias": gb.astype(np.float32),
            }
            if i:
                delta = (delta @ w.T) * deriv(acts[i])
        return dict(reversed(grads.items()))
