"""Packaging the pyfunc model for MLflow's Model.log: signature, input example, pip requirements, code paths.

What logging needs around seqsweep/pyfunc_model.py, the model's code. Here rather than in pyfunc_model.py so
that the imports go one way: tracking/runs.py (which logs the model) imports this module, pyfunc_model.py
imports it too (SEQUENCE, ACCESSIBILITY; its other names stay importable from pyfunc_model) and imports
tracking/runs.py only inside its own `log_ensemble_model`. This module never imports pyfunc_model.py: MLflow
executes that file as the model's code, and importing it runs its `mlflow.models.set_model(...)`. It imports
no more than pyfunc_model.py already does (mlflow, numpy, pandas), so a serving process pays nothing for it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from seqsweep.errors import DataError
from seqsweep.tasks import Task

log = logging.getLogger(__name__)

#: The model's input columns (pyfunc_model.SeqsweepModel.predict reads them).
SEQUENCE = "sequence"
ACCESSIBILITY = "accessibility"
#: The model's code, logged as the model itself (MLflow's "model from code"); next to this file.
MODEL_CODE = Path(__file__).resolve().with_name("pyfunc_model.py")


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
    as the model from code in pyfunc_model.py; tracking.log_ensemble_model logs it into a run."""
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
        "python_model": str(MODEL_CODE),
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
