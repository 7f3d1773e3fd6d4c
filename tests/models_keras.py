"""Small Keras models for the adapter tests; importable under any Keras backend.

Each builder returns ``(model, probe)``; probes are seeded so runs are repeatable.
"""

from __future__ import annotations

import warnings
from typing import Any

import keras
import numpy as np
from keras import layers

RNG = np.random.default_rng(0)


def _x(*shape: int) -> np.ndarray:
    return RNG.normal(size=shape).astype("float32")


def seed_mnist_mlp() -> tuple[keras.Model, np.ndarray]:
    """The README's seed model, written the Keras 2 way (``input_shape=`` on the first layer)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*input_shape.*", category=UserWarning)
        model = keras.Sequential(
            [
                layers.Dense(64, activation="relu", input_shape=(784,)),
                layers.Dense(1, activation="sigmoid"),
            ]
        )
    return model, _x(8, 784)


def seed_xor_mlp() -> tuple[keras.Model, np.ndarray]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*input_shape.*", category=UserWarning)
        model = keras.Sequential(
            [
                layers.Dense(10, activation="relu", input_shape=(2,)),
                layers.Dense(1, activation="sigmoid"),
            ]
        )
    return model, _x(4, 2)


def small_cnn() -> tuple[keras.Model, np.ndarray]:
    model = keras.Sequential(
        [
            keras.Input((12, 12, 1), name="image"),
            layers.Conv2D(4, 3, activation="relu", name="conv"),
            layers.BatchNormalization(name="bn"),
            layers.MaxPooling2D(2, name="pool"),
            layers.Flatten(name="flatten"),
            layers.Dropout(0.5, name="drop"),
            layers.Dense(10, activation="softmax", name="fc"),
        ],
        name="cnn",
    )
    return model, _x(6, 12, 12, 1)


def residual_block() -> tuple[keras.Model, np.ndarray]:
    inp = keras.Input((16,), name="x")
    h = layers.Dense(16, activation="relu", name="fc1")(inp)
    h = layers.Dense(16, name="fc2")(h)
    out = layers.Add(name="add")([inp, h])  # skip edge x -> add
    out = layers.Activation("relu", name="relu")(out)
    out = layers.Dense(3, name="head")(out)
    return keras.Model(inp, out, name="resnet"), _x(5, 16)


def two_in_two_out() -> tuple[keras.Model, list[np.ndarray]]:
    a = keras.Input((4,), name="a")
    b = keras.Input((6,), name="b")
    h = layers.Concatenate(name="cat")([layers.Dense(5, name="fa")(a), b])
    h = layers.Dense(8, activation="tanh", name="trunk")(h)
    cls = layers.Dense(3, activation="softmax", name="cls")(h)
    reg = layers.Dense(1, name="reg")(h)
    model = keras.Model([a, b], [cls, reg], name="two_heads")
    return model, [_x(7, 4), _x(7, 6)]


def nested_sequential() -> tuple[keras.Model, np.ndarray]:
    block = keras.Sequential(
        [keras.Input((8,)), layers.Dense(8, name="inner1"), layers.Dense(4, name="inner2")],
        name="block",
    )
    inp = keras.Input((8,), name="x")
    h = block(inp)
    out = layers.Dense(2, name="head")(h)
    return keras.Model(inp, out, name="outer"), _x(3, 8)


class TwoLayerNet(keras.Model):
    """A subclassed model: no functional graph, only a ``call``."""

    def __init__(self) -> None:
        super().__init__(name="subnet")
        self.fc1 = layers.Dense(8, activation="relu", name="sub_fc1")
        self.norm = layers.LayerNormalization(name="sub_norm")
        self.fc2 = layers.Dense(3, name="sub_fc2")

    def call(self, x: Any, training: bool = False) -> Any:
        return self.fc2(self.norm(self.fc1(x)))


def subclassed() -> tuple[keras.Model, np.ndarray]:
    return TwoLayerNet(), _x(4, 5)


class Scale(layers.Layer):
    """A custom layer with its own weight: unknown to the adapter, so kind "other"."""

    def build(self, input_shape: Any) -> None:
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")

    def call(self, x: Any) -> Any:
        return x * self.scale


def custom_layer() -> tuple[keras.Model, np.ndarray]:
    inp = keras.Input((6,), name="x")
    h = Scale(name="scale")(inp)
    out = layers.Dense(2, name="fc")(h)
    return keras.Model(inp, out, name="custom"), _x(4, 6)


#: name -> builder, for the torch-backend check script
BUILDERS = {
    "seed_mnist_mlp": seed_mnist_mlp,
    "seed_xor_mlp": seed_xor_mlp,
    "small_cnn": small_cnn,
    "residual_block": residual_block,
    "two_in_two_out": two_in_two_out,
    "nested_sequential": nested_sequential,
    "subclassed": subclassed,
    "custom_layer": custom_layer,
}
