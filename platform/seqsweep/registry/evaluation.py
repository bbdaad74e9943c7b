"""Score a model version on held-out data, loaded as users load it, and record what was measured.

What is recorded where:
  * on the model version, as tags: the held-out metrics (`heldout_weighted_accuracy`, ... plus the data's
    name, fingerprint and row count) and, at promotion, their 95% intervals from a bootstrap over genomic
    blocks (`heldout_weighted_accuracy_ci_low`, `_ci_high`), next to the CV metrics set at registration;
  * on the version's source run (the trial's run), as artifacts: the ROC, PR and confusion-matrix PNGs and
    metrics.json, under `evaluation/<model>/v<version>/`. The registry stores no files of its own, and
    adding them to the logged model would change the package people download and serve; the run is where
    the MLflow UI shows a trial's files.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqsweep import plots
from seqsweep.data.dataset import Dataset
from seqsweep.errors import RegistryError
from seqsweep.intervals import Bootstrap, bootstrap
from seqsweep.registry import client
from seqsweep.registry.tags import HELDOUT_PREFIX, TAG_HELDOUT_DATA, TAG_HELDOUT_FINGERPRINT, TAG_HELDOUT_ROWS
from seqsweep.tracking import runs

log = logging.getLogger(__name__)


#: Rows scored per call of the served model: strings of a genome's held-out windows are made a chunk at a time.
SCORE_CHUNK = 50_000


def served_scores(model, dataset: Dataset) -> np.ndarray:
    """The served model's probabilities for every row of `dataset`, chunk by chunk (memory bounded by the chunk)."""
    parts = []
    for a in range(0, len(dataset), SCORE_CHUNK):
        rows = np.arange(a, min(a + SCORE_CHUNK, len(dataset)))
        parts.append(model_scores(dataset.task, model.predict(_model_input(model, dataset.subset(rows)))))
    return np.concatenate(parts)


def _model_input(model, dataset: Dataset):
    """The Dataset as the DataFrame the served model takes (so evaluation goes through the served path)."""
    import pandas as pd

    df = pd.DataFrame({"sequence": dataset.sequences()})  # without padding: the model pads as trained
    schema = model.metadata.get_input_schema()
    wants_accessibility = schema is not None and "accessibility" in schema.input_names()
    if wants_accessibility:
        if dataset.a is None:
            raise RegistryError(
                f"{dataset.source}: the model needs accessibility values, and this dataset has none"
            )
        df["accessibility"] = dataset.a.astype(np.float64)
    return df


def model_scores(task, out) -> np.ndarray:
    """The model's output table -> its probabilities, (N,) for binary, (N, K) for K tasks or classes."""
    if task.type == "binary":
        return out["probability"].to_numpy(dtype=np.float64)
    missing = [n for n in task.names if n not in out.columns]
    if missing:
        raise RegistryError(f"the model's output has no column {missing[0]!r}: it was not trained for these {task.type} data")
    return out[list(task.names)].to_numpy(dtype=np.float64)


#: The held-out metrics that get a bootstrap interval (accuracy: single-label tasks only).
INTERVAL_METRICS = ("weighted_accuracy", "roc_auc", "pr_auc", "accuracy")
#: Seconds a bootstrap may take per promotion (it runs while the registry lock is held).
BOOTSTRAP_BUDGET_S = 30.0


@dataclass(frozen=True)
class Evaluation:
    """A version scored on held-out data: its metrics and its probabilities (for intervals)."""

    version: int
    metrics: dict[str, float]
    p: np.ndarray


def interval_metrics(task) -> list[str]:
    return [m for m in INTERVAL_METRICS if m != "accuracy" or task.single_label]


def heldout_bootstrap(
    dataset: Dataset,
    probs: dict[str, np.ndarray],
    *,
    groups: np.ndarray | None,
    replicates: int,
    differences: dict[str, tuple[str, str]] | None = None,
    seed: int = 0,
) -> Bootstrap:
    """Intervals of each model's held-out metrics (`"<name>:<metric>"` for each name in probs), resampling
    whole `groups` (genomic blocks) of the held-out rows; the models share the resamples, so `differences`
    between them are paired."""
    from seqsweep.metrics import task_metric, task_scores

    task, y, w = dataset.task, np.asarray(dataset.y), np.asarray(dataset.w)
    names = interval_metrics(task)

    def scores(idx: np.ndarray) -> dict[str, float]:
        out = {}
        for who, p in probs.items():
            if task.type == "binary":  # one metric at a time is cheaper than the full report
                for m in names:
                    out[f"{who}:{m}"] = task_metric(task, m, y[idx], p[idx], w[idx])
            else:
                found = task_scores(task, y[idx], p[idx], w[idx], logits=False)
                out.update({f"{who}:{m}": float(found[m]) for m in names})
        return out

    return bootstrap(scores, len(dataset), groups=groups, replicates=replicates, seed=seed,
                     differences=differences, budget_s=BOOTSTRAP_BUDGET_S)


def interval_tags(boot: Bootstrap, who: str, unit: str = "groups") -> dict[str, Any]:
    """heldout_<metric>_ci_low / _ci_high of one model of a heldout_bootstrap, and how it was resampled."""
    tags: dict[str, Any] = {}
    for key, e in boot.estimates.items():
        name, _, metric = key.partition(":")
        if name == who and math.isfinite(e.low):
            tags[f"{HELDOUT_PREFIX}{metric}_ci_low"] = e.low
            tags[f"{HELDOUT_PREFIX}{metric}_ci_high"] = e.high
    tags[f"{HELDOUT_PREFIX}bootstrap"] = f"{boot.replicates} resamples of {boot.groups} {unit}"
    return tags


def evaluate_version(
    model_name: str, version: int | str, dataset: Dataset, *, tracking_uri: str | None = None
) -> dict[str, float]:
    """Score version `version` of `model_name` on `dataset` and record it (score_version); its metrics."""
    return score_version(model_name, version, dataset, tracking_uri=tracking_uri).metrics


def score_version(
    model_name: str, version: int | str, dataset: Dataset, *, tracking_uri: str | None = None
) -> Evaluation:
    """Score version `version` of `model_name` on `dataset`, loaded as users load it (pyfunc, models:/ URI).

    Returns an Evaluation: the probabilities and the task's scalar metrics (seqsweep.metrics.evaluate_task: for binary weighted_accuracy, roc_auc,
    pr_auc, precision, recall, f1, tn, fp, fn, tp; for multilabel the task means; for multiclass and
    next_base also accuracy and top_k_accuracy), weighted by dataset.w. Records them on the version as
    `heldout_*` tags (with the data's source, fingerprint and row count) and logs the plots to the version's
    source run: ROC/PR/confusion PNGs for binary; the per-task or per-class table (per_output.csv, also
    named by the version's `heldout_outputs` tag), its ROC AUC bars and the class confusion matrix otherwise.
    """
    from seqsweep.data import fingerprint
    from seqsweep.metrics import evaluate_task, output_rows

    c = client.open_client(tracking_uri)
    mv = client.get_version(c, model_name, version)
    v = int(mv.version)
    model = client.load_version(model_name, v)
    task = dataset.task
    p = served_scores(model, dataset)
    found = evaluate_task(task, dataset.y, p, dataset.w)
    metrics = {k: float(val) for k, val in found.items() if np.ndim(val) == 0}
    tags: dict[str, Any] = {f"{HELDOUT_PREFIX}{k}": val for k, val in metrics.items()}
    tags[TAG_HELDOUT_DATA] = dataset.source
    tags[TAG_HELDOUT_FINGERPRINT] = fingerprint(dataset)
    tags[TAG_HELDOUT_ROWS] = len(dataset)
    artifact_dir = f"evaluation/{model_name}/v{v}"
    if task.type != "binary":
        tags[f"{HELDOUT_PREFIX}outputs"] = f"runs:/{mv.run_id}/{artifact_dir}/per_output.csv" if mv.run_id else "-"
    client.set_tags(c, model_name, v, tags)
    if not mv.run_id:
        log.warning("%s v%s has no source run; evaluation plots not stored", model_name, v)
        return Evaluation(v, metrics, p)
    title = f"{model_name} v{v} on {Path(dataset.source).name}"
    with client.registry_errors(f"model {model_name!r} version {v}: cannot log plots to run {mv.run_id}"):
        if task.type == "binary":
            with tempfile.TemporaryDirectory(prefix="seqsweep-eval-") as tmp:
                figures = plots.evaluation_figures(title, dataset.y, p, dataset.w, metrics)
                plots.save(figures, Path(tmp), **plots.EVALUATION_SAVE)
                (Path(tmp) / "metrics.json").write_text(
                    json.dumps({"data": dataset.source, "rows": len(dataset), **metrics}, indent=2) + "\n"
                )
                runs.log_artifacts(c, mv.run_id, tmp, artifact_dir)
        else:
            confusion = found["confusion"].tolist() if task.single_label else None
            runs.log_output_report(c, mv.run_id, rows=output_rows(task, found), names=list(task.names),
                                   confusion=confusion, title=title, artifact_dir=artifact_dir)
            with tempfile.TemporaryDirectory(prefix="seqsweep-eval-") as tmp:
                (Path(tmp) / "metrics.json").write_text(
                    json.dumps({"data": dataset.source, "rows": len(dataset), **metrics}, indent=2) + "\n"
                )
                runs.log_artifacts(c, mv.run_id, tmp, artifact_dir)
    log.info("evaluation plots of %s v%s: run %s, artifacts %s/", model_name, v, mv.run_id, artifact_dir)
    return Evaluation(v, metrics, p)
