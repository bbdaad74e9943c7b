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


def _seqsweep_ensemble(model):
    """The fold ensemble inside a seqsweep pyfunc model, or None for any other pyfunc model."""
    from mlflow.exceptions import MlflowException

    try:
        inner = model.unwrap_python_model()
    except MlflowException:  # not a PythonModel-based pyfunc model
        return None
    # The model's code runs from the model's own copy of pyfunc_model.py (a module MLflow names itself), so
    # the class is recognised by name rather than with isinstance.
    if type(inner).__name__ != "SeqsweepModel":
        return None
    return getattr(inner, "ensemble", None)


def _check_input(df: pd.DataFrame, input_path: Path, ensemble) -> None:
    """File-level checks before predicting, so errors name the file, the row and the record id."""
    if ensemble is None:
        return
    lengths = df["sequence"].str.len().to_numpy()
    ensemble.check_lengths(lengths, where=lambda i: f"{input_path}: row {i} (id {df['id'].iat[i]!r}): sequence")
    if ensemble.use_accessibility and "accessibility" not in df.columns:
        raise DataError(
            f"{input_path}: the model was trained with accessibility, and this file has none "
            "(CSV column 'accessibility' or FASTA header token accessibility=...)"
        )


def _labelled_metrics(df: pd.DataFrame, out: pd.DataFrame, ensemble, input_path: Path) -> tuple[dict[str, float], pd.DataFrame]:
    """When the input has labels for the model's task: (the task's metrics, the true labels as columns)."""
    from seqsweep.data.labels import LabelSpec, interpret
    from seqsweep.data.loaders import label_columns
    from seqsweep.metrics import evaluate_task

    task = ensemble.task
    names = label_columns(df)
    if not names or task.type == "next_base":
        return {}, pd.DataFrame(index=df.index)
    if task.type == "multilabel":
        wanted = [f"label_{t}" for t in task.names]
        if not set(wanted) <= set(df.columns):
            return {}, pd.DataFrame(index=df.index)
        names = wanted
    spec = LabelSpec(type=task.type, classes=task.names if task.single_label else None, classes_from="the model")
    weights = df["weight"].to_numpy(dtype=np.float64) if "weight" in df.columns else None
    y, w, _ = interpret({n: df[n].to_numpy() for n in names}, weights, spec, str(input_path))
    if task.type == "binary":
        scores = out["probability"].to_numpy(dtype=np.float64)
        truth = pd.DataFrame({"true_label": y.astype(np.int64)})
    elif task.type == "multilabel":
        scores = out[list(task.names)].to_numpy(dtype=np.float64)
        truth = pd.DataFrame({f"true_{t}": y[:, j] for j, t in enumerate(task.names)})
    else:
        scores = out[list(task.names)].to_numpy(dtype=np.float64)
        truth = pd.DataFrame({"true_label": np.asarray(task.names, dtype=object)[y]})
    found = evaluate_task(task, y, scores, w)
    metrics = {k: float(v) for k, v in found.items() if np.ndim(v) == 0 and not k.startswith("scorable")}
    return metrics, truth


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

    Output columns: id, then the model's output columns (binary: probability, label; multilabel: one
    probability per task; multiclass: one probability per class and label, the predicted class), and the
    true labels when the input has them. Returns the task's metrics when the input has labels (weighted by
    its weights, else by class-balancing weights), else {}. `labels`: a CSV of labels for a FASTA input.

    Raises RegistryError when the model cannot be loaded, DataError for unreadable input or sequences of
    the wrong length (naming the row).
    """
    from tqdm.auto import tqdm

    from seqsweep.data import read_sequences

    if batch_size < 1:
        raise DataError(f"batch_size must be >= 1, got {batch_size}")
    input_path, out_path = Path(input_path), Path(out_path)
    df = read_sequences(input_path, labels=labels)  # DataError on a bad file, before the model loads
    model = registry.load_model(model_uri, tracking_uri)
    ensemble = _seqsweep_ensemble(model)
    _check_input(df, input_path, ensemble)

    columns = ["sequence"] + (["accessibility"] if ensemble is not None and ensemble.use_accessibility else [])
    n = len(df)
    parts = []
    # A bar only when there is more than one batch to wait for; tqdm writes to stderr, never stdout.
    with tqdm(total=n, unit="seq", desc="predict", disable=not progress or n <= batch_size, file=sys.stderr) as bar:
        for start in range(0, n, batch_size):
            batch = df.iloc[start : start + batch_size][columns].reset_index(drop=True)
            parts.append(pd.DataFrame(model.predict(batch)))
            bar.update(len(batch))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    result = pd.concat([pd.DataFrame({"id": df["id"].astype(str)}), out], axis=1)
    metrics: dict[str, float] = {}
    if ensemble is not None:
        metrics, truth = _labelled_metrics(df, out, ensemble, input_path)
        result = pd.concat([result, truth], axis=1)
    _write_atomically(result, out_path)
    log.info("wrote %d predictions to %s", n, out_path)
    return metrics


def predict_regions(
    model_uri: str,
    genome_path: str | Path,
    regions: str | Path,
    out_path: str | Path,
    *,
    signal: str | Path | None = None,
    batch_size: int = 8192,
    progress: bool = True,
    tracking_uri: str | None = None,
) -> int:
    """Score the regions of a BED (or narrowPeak) file on a genome: a window of the model's length centred on
    each region's summit or centre, read from the genome's token cache, through the served model. Writes a CSV
    with chrom, start, end, name, window_start, window_end and the model's output columns; returns the rows.

    signal: a bigWig whose window means are the accessibility a model trained with it needs.
    Raises DataError (naming the file and line) for a region on a contig the genome lacks or past its end,
    RegistryError when the model cannot be loaded.
    """
    from tqdm.auto import tqdm

    from seqsweep.data.encoding import decode_tokens
    from seqsweep.data.genome import genome
    from seqsweep.data.intervals import peak_windows, read_bed

    if batch_size < 1:
        raise DataError(f"batch_size must be >= 1, got {batch_size}")
    out_path = Path(out_path)
    store = genome(genome_path)
    iv = read_bed(regions)  # DataError on a bad file, before the model loads
    model = registry.load_model(model_uri, tracking_uri)
    ensemble = _seqsweep_ensemble(model)
    if ensemble is None:
        raise DataError(f"{model_uri}: --genome/--regions needs a seqsweep model (its window length is read from it)")
    L = ensemble.seq_len
    starts = peak_windows(iv, store, L)
    a = None
    if ensemble.use_accessibility:
        if signal is None:
            raise DataError(f"{model_uri}: the model was trained with accessibility: pass --signal (a bigWig)")
        from seqsweep.data.peaks import window_signal

        a = window_signal(signal, store, starts, L)
    contig, pos = store.locate(starts)
    parts = []
    n = len(starts)
    with tqdm(total=n, unit="region", desc="predict", disable=not progress or n <= batch_size, file=sys.stderr) as bar:
        for lo in range(0, n, batch_size):
            batch = pd.DataFrame({"sequence": decode_tokens(store.gather(starts[lo : lo + batch_size], L))})
            if a is not None:
                batch["accessibility"] = a[lo : lo + batch_size].astype(np.float64)
            parts.append(pd.DataFrame(model.predict(batch)))
            bar.update(len(batch))
    result = pd.concat([
        pd.DataFrame({"chrom": iv.chrom, "start": iv.start, "end": iv.end, "name": iv.name,
                      "window_chrom": np.asarray(store.names)[contig], "window_start": pos, "window_end": pos + L}),
        pd.concat(parts, ignore_index=True),
    ], axis=1)
    _write_atomically(result, out_path)
    log.info("wrote %d region predictions to %s", n, out_path)
    return n


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
