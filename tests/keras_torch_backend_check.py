"""Run the Keras adapter under the backend chosen by KERAS_BACKEND; print a JSON report.

Used by tests/test_keras_adapter.py in a subprocess with KERAS_BACKEND=torch (Keras fixes its
backend once per process). Prints one JSON object: model name -> graph, param totals, gradient
and activation summaries.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402

from nnviz_widget.adapters.keras import KerasAdapter  # noqa: E402
from tests.models_keras import BUILDERS  # noqa: E402


def check(name: str) -> dict[str, Any]:
    model, probe = BUILDERS[name]()
    adapter = KerasAdapter(model, inputs=probe)
    before = adapter.parameters()
    grads = adapter.gradients()
    after = adapter.parameters()
    acts = adapter.activations()
    graph = adapter.graph()
    return {
        "graph": graph.to_dict(),
        "count_params": int(model.count_params()),
        "param_shapes": {k: {n: list(a.shape) for n, a in d.items()} for k, d in before.items()},
        "grad_shapes": {k: {n: list(a.shape) for n, a in d.items()} for k, d in grads.items()},
        "grad_nonzero": {
            k: bool(any(np.abs(a).sum() > 0 for a in d.values())) for k, d in grads.items()
        },
        "unchanged": all(
            np.array_equal(before[k][n], after[k][n]) for k in before for n in before[k]
        ),
        "act_shapes": {k: list(a.shape) for k, a in acts.items()},
        "act_dtypes": sorted({str(a.dtype) for a in acts.values()}),
    }


def main() -> None:
    names = sys.argv[1:] or list(BUILDERS)
    report = {"backend": keras.backend.backend(), "models": {n: check(n) for n in names}}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
