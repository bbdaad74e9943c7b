"""Batch prediction with a logged or registered model, and the command that serves one over HTTP.

    seqsweep predict models:/jund@champion data.fa predictions.csv

Any MLflow model URI works (``models:/NAME@ALIAS``, ``models:/NAME/VERSION``, ``runs:/RUN/model``, a local
directory). The model is loaded once with `mlflow.pyfunc.load_model`, exactly as a user would load it.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from seqsweep import registry
from seqsweep.errors import DataError

log = logging.getLogger(__name__)


def _model_expectations(model) -> tuple[int | None, bool]:
    """(sequence length, needs accessibility) of a seqsweep model; (None, False) for any other pyfunc model."""
    from mlflow.exceptions import MlflowException

    try:
        inner = model.unwrap_python_model()
    except MlflowException:  # not a PythonModel-based pyfunc model
        return None, False
    # The model's code runs from the model's own copy of pyfunc_model.py (a module MLflow names itself), so
    # the class is recognised by name rather than with isinstance.
    ensemble = getattr(inner, "ensemble", None)
    if type(inner).__name__ != "SeqsweepModel" or ensemble is None:
        return None, False
    return ensemble.seq_len, ensemble.use_accessibility


def _check_input(df: pd.DataFrame, input_path: Path, seq_len: int | None, needs_accessibility: bool) -> None:
    """File-level checks before predicting, so errors name the file, the row and the record id."""
    if seq_len is not None:
        lengths = df["sequence"].str.len().to_numpy()
        bad = np.flatnonzero(lengths != seq_len)
        if bad.size:
            i = int(bad[0])
            raise DataError(
                f"{input_path}: row {i} (id {df['id'].iat[i]!r}): sequence has length {lengths[i]}, "
                f"the model expects {seq_len}" + (f" ({bad.size} rows have another length)" if bad.size > 1 else "")
            )
    if needs_accessibility and "accessibility" not in df.columns:
        raise DataError(
            f"{input_path}: the model was trained with accessibility, and this file has none "
            "(CSV column 'accessibility' or FASTA header token accessibility=...)"
        )


def _write_atomically(df: pd.DataFrame, out_path: Path) -> None:
    """Write next to the target, then rename: a crash never leaves a half-written predictions file."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            df.to_csv(fh, index=False)
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def predict_file(
    model_uri: str,
    input_path: str | Path,
    out_path: str | Path,
    *,
    batch_size: int = 8192,
    progress: bool = True,
    labels: str | Path | None = None,
    tracking_uri: str | None = None,
) -> dict[str, float]:
    """Predict every sequence in `input_path` (CSV/TSV, FASTA, DeepChem shard directory) and write a CSV.

    Output columns: id, probability, label (probability > 0.5), and true_label when the input has labels.
    Returns evaluate_proba's metrics when the input has labels (weighted by its weights, else by
    class-balancing weights), else {}. `labels`: a CSV of labels for a FASTA input (see seqsweep.data).

    Raises RegistryError when the model cannot be loaded, DataError for unreadable input or sequences of
    the wrong length (naming the row).
    """
    from tqdm.auto import tqdm

    from seqsweep.data import class_balancing_weights, read_sequences
    from seqsweep.metrics import evaluate_proba

    if batch_size < 1:
        raise DataError(f"batch_size must be >= 1, got {batch_size}")
    input_path, out_path = Path(input_path), Path(out_path)
    df = read_sequences(input_path, labels=labels)  # DataError on a bad file, before the model loads
    model = registry.load_model(model_uri, tracking_uri)
    seq_len, needs_accessibility = _model_expectations(model)
    _check_input(df, input_path, seq_len, needs_accessibility)

    columns = ["sequence"] + (["accessibility"] if needs_accessibility else [])
    n = len(df)
    probs = np.empty(n, dtype=np.float64)
    # A bar only when there is more than one batch to wait for; tqdm writes to stderr, never stdout.
    with tqdm(total=n, unit="seq", desc="predict", disable=not progress or n <= batch_size, file=sys.stderr) as bar:
        for start in range(0, n, batch_size):
            batch = df.iloc[start : start + batch_size][columns].reset_index(drop=True)
            out = model.predict(batch)
            probs[start : start + len(batch)] = np.asarray(out["probability"], dtype=np.float64)
            bar.update(len(batch))

    result = pd.DataFrame({"id": df["id"].astype(str), "probability": probs, "label": (probs > 0.5).astype(np.int64)})
    metrics: dict[str, float] = {}
    if "label" in df.columns and df["label"].notna().all():
        y = df["label"].to_numpy().astype(np.int64)
        result["true_label"] = y
        w = df["weight"].to_numpy(dtype=np.float64) if "weight" in df.columns else class_balancing_weights(y)
        metrics = evaluate_proba(y, probs, w)
    _write_atomically(result, out_path)
    log.info("wrote %d predictions to %s", n, out_path)
    return metrics


def serve_command(model_uri: str, port: int = 5001, host: str = "127.0.0.1") -> list[str]:
    """argv of `mlflow models serve` for `model_uri` in this environment (no new virtualenv: --env-manager
    local). A models:/ URI is resolved through $MLFLOW_TRACKING_URI, which the caller's environment must hold.

    Once started:  curl -X POST http://HOST:PORT/invocations -H 'Content-Type: application/json'
                        -d '{"dataframe_records": [{"sequence": "ACGT..."}]}'
    """
    # `python -m mlflow` from this interpreter: the `mlflow` on PATH may belong to another environment.
    return [
        sys.executable, "-m", "mlflow", "models", "serve",
        "-m", model_uri, "--env-manager", "local", "-h", host, "-p", str(int(port)),
    ]
