"""The adapter registry: ``adapt()`` picks a framework's adapter from ``FRAMEWORKS``."""

from __future__ import annotations

import pytest

import nnviz_widget.adapters as adapters
from nnviz_widget.adapters import FRAMEWORKS, Framework, adapt, framework_of
from tests.fakes import FakeAdapter, FakeModel


def test_a_framework_is_one_registry_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new entry (a class test and where its adapter lives) is all adapt() needs."""
    fake = Framework("fake", lambda cls: cls is FakeModel, "tests.fakes:FakeAdapter", "a FakeModel")
    monkeypatch.setattr(adapters, "FRAMEWORKS", (*FRAMEWORKS, fake))
    model = FakeModel()
    assert framework_of(model) == "fake"
    adapter = adapt(model, input_shape=(4,))
    assert isinstance(adapter, FakeAdapter)
    assert adapter.model is model and adapter.input_shape == (4,)
    with pytest.raises(TypeError, match=r"or a FakeModel, or an nnviz_widget\.Recorder"):
        adapt(object())


def test_anything_else_is_a_clear_type_error() -> None:
    assert framework_of(FakeModel()) is None
    with pytest.raises(TypeError) as err:
        adapt(FakeModel())
    assert str(err.value) == (
        "NNViz takes a torch.nn.Module, a keras.Model (Sequential, functional or subclassed) or "
        "a fitted sklearn MLPClassifier / MLPRegressor, or an nnviz_widget.Recorder; "
        "got tests.fakes.FakeModel"
    )


def test_the_base_declares_what_the_recorder_reads() -> None:
    """notes, attention and inputs exist on every adapter, whatever its framework."""
    adapter = FakeAdapter(FakeModel())
    assert adapter.inputs is None
    assert adapter.notes == [] and adapter.attention == {}
    assert FakeAdapter(FakeModel()).notes is not adapter.notes  # not shared between adapters
