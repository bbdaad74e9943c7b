"""The MLflow "model from code": DNA sequences in, probabilities out.

MLflow logs this file itself as the model's code (python_model=<this file>) instead of pickling a Python
object, and loads it by executing it; the final `mlflow.models.set_model(...)` tells MLflow which object is
the model. The weights travel as the `ensemble` artifact (safetensors + model.json, see ensemble.py), so
loading a registered model never unpickles anything.

    model = mlflow.pyfunc.load_model("models:/jund@champion")
    model.predict(pd.DataFrame({"sequence": ["ACGT...", ...]}))   # -> DataFrame(probability, label)

The output follows the model's task: binary `probability` and `label` (0/1); multilabel one probability
column per task, named after it; multiclass and next_base one probability column per class, named after
it, and `label`, the most probable class's name. The signature says which.

The `seqsweep` package is logged with the model (code_paths); MLflow puts the model's `code/` directory at
the front of sys.path before it runs this file, so a process that has mlflow and torch but not seqsweep can
still load and serve the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models.model import ModelInfo

from seqsweep.ensemble import Ensemble, load_ensemble
from seqsweep.errors import DataError
from seqsweep.pyfunc_packaging import (  # model_signature .. warm_up: importable from here, as before
    ACCESSIBILITY,
    SEQUENCE,
    model_signature,
    package,
    pip_requirements,
    warm_up,
)
from seqsweep.tasks import Task


def output_frame(task: Task, p: np.ndarray) -> pd.DataFrame:
    """The ensemble's probabilities as the model's output table (see the module docstring).

    binary: `probability`, `label` (1 when probability > 0.5, the rule weighted accuracy is scored with);
    multilabel: a column per task; multiclass, next_base: a column per class and `label`, the argmax's name.
    """
    p = np.asarray(p, dtype=np.float64)
    if task.type == "binary":
        return pd.DataFrame({"probability": p, "label": (p > 0.5).astype(np.int64)})
    p = p.reshape(len(p), task.n_outputs)
    out = pd.DataFrame(p, columns=list(task.names))
    if task.single_label:
        names = np.asarray(task.names, dtype=object)
        out["label"] = names[p.argmax(1)] if len(p) else np.array([], dtype=object)
    return out


class SeqsweepModel(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper of a seqsweep fold ensemble.

    Input:  DataFrame with a `sequence` column (strings of the model's length, any case, N allowed; any
            length for a model trained with data.length, padded and trimmed as in training) and, when the
            model was trained with it, an `accessibility` column (float).
    Output: output_frame: the mean over fold models of their probabilities, by task.
    """

    ensemble: Ensemble | None = None

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.ensemble = load_ensemble(context.artifacts["ensemble"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        if self.ensemble is None:
            raise RuntimeError("SeqsweepModel.predict called before load_context")
        df = _as_frame(model_input)
        if SEQUENCE not in df.columns:
            raise DataError(f"model input needs a {SEQUENCE!r} column, got columns {list(df.columns)}")
        a = None
        if self.ensemble.use_accessibility:
            if ACCESSIBILITY not in df.columns:
                raise DataError(
                    f"this model was trained with accessibility: the input needs an {ACCESSIBILITY!r} column "
                    f"next to {SEQUENCE!r}, got columns {list(df.columns)}"
                )
            a = pd.to_numeric(df[ACCESSIBILITY], errors="coerce").to_numpy(dtype=np.float32)
        p = self.ensemble.predict_sequences(df[SEQUENCE].tolist(), a)
        return output_frame(self.ensemble.task, p)


def _as_frame(model_input: Any) -> pd.DataFrame:
    """Accept what people naturally pass: a DataFrame, a Series/list of sequences, or a column dict."""
    if isinstance(model_input, pd.DataFrame):
        return model_input
    if isinstance(model_input, pd.Series):
        return model_input.to_frame(name=SEQUENCE)
    if isinstance(model_input, dict):
        return pd.DataFrame(model_input)
    if isinstance(model_input, (list, tuple, np.ndarray)):
        return pd.DataFrame({SEQUENCE: list(model_input)})
    raise DataError(f"model input must be a DataFrame with a {SEQUENCE!r} column, got {type(model_input).__name__}")


# --------------------------------------------------------------------------------------------------------
# Packaging, for logging the model (in the driver, never in the model-serving process): in
# seqsweep.pyfunc_packaging, which tracking/runs.py imports; its names stay importable from here.


def log_ensemble_model(ensemble_dir: str | Path, **kwargs: Any) -> ModelInfo:
    """seqsweep.tracking.log_ensemble_model, kept importable from here; imported when called, because this file
    also runs in serving processes, which need neither the tracking code nor Ray."""
    from seqsweep.tracking.runs import log_ensemble_model as log_model

    return log_model(ensemble_dir, **kwargs)


mlflow.models.set_model(SeqsweepModel())
