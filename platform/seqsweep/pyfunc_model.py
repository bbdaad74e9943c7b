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

import logging
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.models.model import ModelInfo
from mlflow.types import ColSpec, Schema

from seqsweep.ensemble import Ensemble, load_ensemble
from seqsweep.errors import DataError
from seqsweep.tasks import Task

log = logging.getLogger(__name__)

SEQUENCE = "sequence"
ACCESSIBILITY = "accessibility"


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
# Packaging, for logging the model (in the driver, never in the model-serving process)


def model_signature(use_accessibility: bool, task: Task | None = None) -> ModelSignature:
    task = task or Task()
    inputs = [ColSpec("string", SEQUENCE)]
    if use_accessibility:
        # Declared but not `required`: MLflow's own check for a missing required column raises a message that
        # dumps the whole input frame; SeqsweepModel.predict says in one line what is missing instead.
        inputs.append(ColSpec("double", ACCESSIBILITY, required=False))
    if task.type == "binary":
        outputs = [ColSpec("double", "probability"), ColSpec("long", "label")]
    else:
        outputs = [ColSpec("double", name) for name in task.names]
        if task.single_label:
            outputs.append(ColSpec("string", "label"))
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs))


def _example_sequences(seq_len: int, n: int = 3, variable: bool = False) -> list[str]:
    """A few fixed random sequences that also show the encoding policy: upper case, lower case, and an N
    (and, for a model trained with data.length, a shorter one)."""
    rng = np.random.default_rng(0)
    sizes = [seq_len, max(1, seq_len // 2), seq_len] if variable else [seq_len] * n
    seqs = ["".join(rng.choice(list("ACGT"), size=m)) for m in sizes[:n]]
    seqs[1] = seqs[1].lower()
    seqs[2] = "N" + seqs[2][1:]
    return seqs


def pip_requirements() -> list[str]:
    """What a serving environment needs to install to load the model (MLflow's env managers read this).

    torch is a range, not the logging machine's exact version: the local build is `2.x.y+cpu`, a tag that exists
    only on the PyTorch wheel index, while a plain `torch==2.x.y` makes pip fetch the multi-GB CUDA build on
    Linux. A range lets an environment keep the CPU (or GPU) wheel it already has. The other packages are
    what importing the model code pulls in (seqsweep.data reads shards with joblib); scoring lives in
    seqsweep.ensemble, so neither the trainer nor scikit-learn is needed to serve.
    """
    import joblib
    import safetensors

    numpy_major = int(np.__version__.split(".")[0])  # numpy 2 reads arrays differently from numpy 1
    return [
        f"mlflow=={mlflow.__version__}",
        "torch>=2.4,<3",
        f"numpy>={numpy_major}.0,<{numpy_major + 1}",
        "pandas>=2.0",
        f"safetensors>={safetensors.__version__}",
        f"joblib>={joblib.__version__}",
    ]


def warm_up() -> None:
    """Do the one-time work of a process's first model logging ahead of time, best effort.

    The first model logging in a process is slower than the next ones: MLflow scans every installed
    distribution to check the pip requirements (importlib_metadata.packages_distributions, cached afterwards;
    docs/design.md#warm-up). The sweep driver runs this in a background thread while the first trials train,
    so the first finished trial does not hold up the sweep.
    """
    try:
        from mlflow.utils.requirements_utils import warn_dependency_requirement_mismatches

        warn_dependency_requirement_mismatches(pip_requirements())
    except Exception as e:  # an internal MLflow helper: if it moves, the first log is just slower
        log.debug("model-logging warm-up skipped: %s", e)


def _package_dir() -> Path:
    """The directory of the `seqsweep` package; logged as code so the model loads without seqsweep installed."""
    import seqsweep

    return Path(seqsweep.__file__).resolve().parent


def package(ensemble_dir: Path, meta: dict[str, Any], input_example_sequences: list[str] | None) -> dict[str, Any]:
    """What MLflow's Model.log needs to package the ensemble in `ensemble_dir` (its model.json read as `meta`)
    as this model from code; tracking.log_ensemble_model logs it into a run."""
    use_acc = bool(meta["use_accessibility"])
    seq_len = int(meta["seq_len"])
    variable = "pad" in meta.get("encoding", {})  # trained with data.length: any length is padded and trimmed
    seqs = list(input_example_sequences or [])
    for i, s in enumerate(seqs):
        if not isinstance(s, str) or (len(s) != seq_len and not variable):
            got = f"length {len(s)}" if isinstance(s, str) else type(s).__name__
            raise DataError(f"input example sequence {i}: must be a string of length {seq_len}, got {got}")
    # More than one row: an example of batch 1 can lead MLflow tooling to assume a batch size of 1.
    seqs += _example_sequences(seq_len, variable=variable)[: max(0, 3 - len(seqs))]
    example = pd.DataFrame({SEQUENCE: seqs})
    if use_acc:
        example[ACCESSIBILITY] = np.linspace(0.0, 1.0, len(seqs))
    return {
        "python_model": str(Path(__file__).resolve()),
        "artifacts": {"ensemble": str(ensemble_dir)},
        "code_paths": [str(_package_dir())],
        "signature": model_signature(use_acc, Task.from_dict(meta.get("task"))),
        "input_example": example,
        "pip_requirements": pip_requirements(),
        "metadata": {
            "seqsweep_architecture": meta["architecture"],
            "seqsweep_version": meta.get("seqsweep_version"),
            "seqsweep_task": Task.from_dict(meta.get("task")).type,
        },
    }


def log_ensemble_model(ensemble_dir: str | Path, **kwargs: Any) -> ModelInfo:
    """seqsweep.tracking.log_ensemble_model, kept importable from here; imported when called, because this file
    also runs in serving processes, which need neither the tracking code nor Ray."""
    from seqsweep.tracking.runs import log_ensemble_model as log_model

    return log_model(ensemble_dir, **kwargs)


mlflow.models.set_model(SeqsweepModel())
