"""The sweep's final model: the best trial, or the ensemble of its top-k trials, chosen by CV alone.

After the trials end, the driver ranks the completed trials (search.rank_by), and when registry.top_k > 1
scores the ensemble of the top k trials by cross-validation without training anything: every trial was
scored on the same folds and left its out-of-fold probabilities (each training row scored by the fold model
that never saw it), so the ensemble's out-of-fold probability of a row is the mean of its members'. The
ensemble is kept when its CV score, ranked the same way, is at least the best trial's; the held-out data
play no part (docs/design.md#final-model).

    final = choose(records, ranking, top_k=3, dataset=train, folds=folds, oof=fetch)   # pure, no MLflow
    model_uri = log_ensemble(final, ...)                                               # the ensemble's model
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seqsweep import cv
from seqsweep.data import Dataset
from seqsweep.intervals import Estimate, cv_estimate, paired_difference
from seqsweep.tracking.records import Ranking, TrialRecord, ranked_records

log = logging.getLogger(__name__)

#: registry.top_k when the job leaves it null: an ensemble of 3 trials on small data, else the best trial.
AUTO_TOP_K = 3
#: "Small data": the rarest class (binary: positives; multilabel: rows without any positive label or with
#: one; multiclass: the smallest class) has fewer rows than this in the training part.
SMALL_DATA_ROWS = 1000
#: The CV metrics recorded on a registered version (cv_accuracy for single-label tasks only).
CV_METRICS = ("weighted_accuracy", "roc_auc", "pr_auc", "accuracy")
_TIE = 1e-9  # the mean of identical probabilities can differ from them in the last bit


def resolve_top_k(top_k: int | None, train: Dataset) -> int:
    """registry.top_k, or for null AUTO_TOP_K on small data (SMALL_DATA_ROWS) and 1 otherwise."""
    if top_k is not None:
        return top_k
    s = cv.strata(train.y, train.w, train.task)
    counts = np.bincount(s)
    rarest = int(counts[counts > 0].min()) if counts.size else 0
    return AUTO_TOP_K if rarest < SMALL_DATA_ROWS else 1


@dataclass(frozen=True)
class Candidate:
    """A possible final model and its CV scores: `folds` the per-fold `metric`, `cv` the means (and _std)
    of every CV metric, `estimate` the metric's mean with its standard error and t interval."""

    trials: tuple[TrialRecord, ...]
    folds: np.ndarray
    estimate: Estimate
    score: float  # what the ranking sorts by
    cv: dict[str, float]

    @property
    def is_ensemble(self) -> bool:
        return len(self.trials) > 1

    @property
    def name(self) -> str:
        numbers = ", ".join(f"#{r.number}" for r in self.trials)
        return f"top-{len(self.trials)} ensemble ({numbers})" if self.is_ensemble else f"trial {numbers}"


@dataclass(frozen=True)
class FinalChoice:
    """What the sweep registers (chosen) and what it was compared with."""

    metric: str  # the ranked cv_ metric
    chosen: Candidate
    single: Candidate
    ensemble: Candidate | None = None
    difference: Estimate | None = None  # ensemble - single, paired over the folds
    notes: list[str] = field(default_factory=list)


def fold_metrics(task, y, w, p: np.ndarray, folds: Sequence[tuple[np.ndarray, np.ndarray]], names: Sequence[str]) -> dict[str, np.ndarray]:
    """Each metric of `names` on each validation fold of the out-of-fold probabilities p: name -> (k,)."""
    from seqsweep.metrics import task_scores

    out: dict[str, list[float]] = {n: [] for n in names}
    for _, va in folds:
        scores = task_scores(task, np.asarray(y)[va], p[va], np.asarray(w)[va], logits=False)
        for n in names:
            out[n].append(float(scores.get(n, math.nan)))
    return {n: np.asarray(v) for n, v in out.items()}


def _cv_of(per_fold: dict[str, np.ndarray]) -> dict[str, float]:
    cv_: dict[str, float] = {}
    for n, v in per_fold.items():
        cv_[f"cv_{n}"] = float(np.nanmean(v)) if np.isfinite(v).any() else math.nan
        cv_[f"cv_{n}_std"] = float(np.nanstd(v)) if np.isfinite(v).any() else math.nan
    return cv_


def _trial_candidate(r: TrialRecord, ranking: Ranking, names: Sequence[str]) -> Candidate:
    """The best trial alone, with the scores it reported (its fold models scored their own folds)."""
    cv_ = {}
    for n in names:
        for key in (f"cv_{n}", f"cv_{n}_std"):
            if key in r.last:
                cv_[key] = float(r.last[key])
    return Candidate((r,), ranking.fold_scores(r), ranking.estimate(r), ranking.score(r), cv_)


def choose(
    records: Sequence[TrialRecord],
    ranking: Ranking,
    *,
    top_k: int,
    dataset: Dataset,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    oof: Callable[[TrialRecord], np.ndarray | None],
) -> FinalChoice | None:
    """The final model of a sweep: the best completed trial by `ranking`, or the ensemble of the top `top_k`
    when its out-of-fold CV score ranks at least as high. `oof(record)` gives a trial's out-of-fold
    probabilities (None when it has none). None when no trial completed."""
    ranked = ranked_records(records, ranking)
    if not ranked:
        return None
    task = dataset.task
    names = [n for n in CV_METRICS if n != "accuracy" or task.single_label]
    metric = ranking.metric.removeprefix("cv_")
    single = _trial_candidate(ranked[0], ranking, names)
    if top_k < 2 or len(ranked) < 2:
        return FinalChoice(ranking.metric, single, single)
    notes = []
    members, probs = [], []
    for r in ranked:
        if len(members) == top_k:
            break
        p = oof(r)
        if p is None or len(p) != len(dataset):
            notes.append(f"trial #{r.number} left out of the ensemble: it has no out-of-fold predictions")
            if r is ranked[0]:
                return FinalChoice(ranking.metric, single, single, notes=notes)
            continue
        members.append(r)
        probs.append(np.asarray(p, dtype=np.float64))
    if len(members) < 2:
        return FinalChoice(ranking.metric, single, single, notes=notes)
    mean_p = np.mean(probs, axis=0)
    per_fold = fold_metrics(task, dataset.y, dataset.w, mean_p, folds, names)
    est = cv_estimate(per_fold[metric])
    ensemble = Candidate(tuple(members), per_fold[metric], est, ranking.score_of(est), _cv_of(per_fold))
    # The single trial's fold scores from its stored probabilities, so both sides of the comparison are
    # computed the same way (float32 probabilities tie where logits did not).
    alone = fold_metrics(task, dataset.y, dataset.w, probs[0], folds, [metric])[metric]
    diff = paired_difference(per_fold[metric], alone)
    # on a tie the ensemble: averaging models whose CV cannot be told apart lowers the variance of the result
    chosen = ensemble if ensemble.score >= ranking.score_of(cv_estimate(alone)) - _TIE else single
    return FinalChoice(ranking.metric, chosen, single, ensemble, diff, notes)


# ---------------------------------------------------------------------------------------------------------
# MLflow: the trials' stored predictions and models, and the ensemble's model


def fetch_oof(uri: str) -> Callable[[TrialRecord], np.ndarray | None]:
    """oof(record) for `choose`: the out-of-fold probabilities a trial's run holds (trainable.OOF_FILE)."""
    from safetensors.numpy import load_file

    from seqsweep.tracking import runs
    from seqsweep.trainable import OOF_FILE

    def get(r: TrialRecord) -> np.ndarray | None:
        if not r.run_id:
            return None
        with tempfile.TemporaryDirectory(prefix="seqsweep-oof-") as tmp:
            path = runs.download_run_file(uri, r.run_id, f"{runs.OOF_ARTIFACT_DIR}/{OOF_FILE}", tmp)
            return None if path is None else load_file(str(path))["proba"]

    return get


def log_ensemble(choice: FinalChoice, *, uri: str, run_id: str, example_sequences: list[str]) -> str:
    """Build the chosen ensemble from its members' logged models (loaded as users load them: safetensors and
    JSON only), log it as the model of run `run_id` (the sweep's run); return its model URI."""
    from seqsweep.ensemble import save_trial_ensemble
    from seqsweep.registry import load_model
    from seqsweep.tracking import log_ensemble_model

    members = [load_model(r.model_uri, tracking_uri=uri).unwrap_python_model().ensemble for r in choice.chosen.trials]
    extra: dict[str, Any] = {
        "trials": [{"trial": r.number, "run_id": r.run_id, "config": r.config} for r in choice.chosen.trials],
    }
    with tempfile.TemporaryDirectory(prefix="seqsweep-final-") as tmp:
        model_dir = save_trial_ensemble(Path(tmp) / "ensemble", members, extra=extra)
        info = log_ensemble_model(model_dir, name="model", run_id=run_id, input_example_sequences=example_sequences,
                                  tracking_uri=uri)
    return info.model_uri


def version_tags(choice: FinalChoice) -> dict[str, str]:
    """The CV tags of the registered version: the chosen model's cv metrics, the ranked metric's standard
    error and 95% interval over the folds, and what it was chosen from."""
    c = choice.chosen
    tags = {k: f"{v:.6f}" for k, v in c.cv.items()}
    for suffix, value in (("se", c.estimate.se), ("ci_low", c.estimate.low), ("ci_high", c.estimate.high)):
        tags[f"{choice.metric}_{suffix}"] = f"{value:.6f}"
    tags["final"] = c.name
    tags["final.trials"] = ",".join(str(r.number) for r in c.trials)
    if choice.ensemble is not None and choice.difference is not None:
        tags["final.ensemble"] = choice.ensemble.name
        tags["final.ensemble_minus_best"] = f"{choice.difference.value:.6f}"
        tags["final.ensemble_minus_best_se"] = f"{choice.difference.se:.6f}"
    return tags


@dataclass(frozen=True)
class Registration:
    """What register_and_promote did: the choice, the new version, the promotion decision, and what the
    sweep's run records about it."""

    choice: FinalChoice
    version: str
    decision: Any
    metrics: dict[str, float]
    tags: dict[str, str]
    heldout: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # metric -> (score, ci low, high)


def register_and_promote(
    job, prepared, records: Sequence[TrialRecord], ranking: Ranking, *, uri: str, sweep_id: str,
    parent_run_id: str, example_sequences: list[str],
) -> Registration | None:
    """Choose the final model (best trial or top-k ensemble, by CV), register it as a new version
    (`challenger`) and let promote_if_better decide on the champion. None when no trial completed."""
    from seqsweep import registry

    top_k = resolve_top_k(job.registry.top_k, prepared.train)
    choice = choose(records, ranking, top_k=top_k, dataset=prepared.train, folds=prepared.folds,
                    oof=fetch_oof(uri) if top_k > 1 else (lambda r: None))
    if choice is None:
        return None
    for note in choice.notes:
        log.warning("%s", note)
    best = choice.single.trials[0]
    if choice.chosen.is_ensemble:
        model_uri = log_ensemble(choice, uri=uri, run_id=parent_run_id, example_sequences=example_sequences)
        source_run = parent_run_id
    else:
        model_uri, source_run = best.model_uri, best.run_id
    mv = registry.register_trial_model(
        model_uri,
        model_name=job.model_name,
        tracking_uri=uri,
        tags={
            "sweep": sweep_id,
            "sweep_run_id": parent_run_id,
            "trial": ",".join(str(r.number) for r in choice.chosen.trials),
            "run_id": source_run,
            "job": job.name,
            "data.fingerprint": prepared.info["fingerprint"],
            "task": prepared.train.task.type,
            "rank_by": ranking.describe(),
            **version_tags(choice),
        },
    )
    decision = registry.promote_if_better(
        job.model_name,
        mv.version,
        test_data=prepared.test,
        metric=job.registry.metric,
        min_improvement=job.registry.min_improvement,
        tracking_uri=uri,
        groups=prepared.test_groups,
        bootstrap=job.registry.bootstrap,
    )
    metrics: dict[str, float] = {}
    if decision.challenger_score is not None and not math.isnan(decision.challenger_score):
        key = f"heldout_{job.registry.metric}" if prepared.test is not None else "registered_score"
        metrics[key] = float(decision.challenger_score)
        e = decision.challenger_interval
        if e is not None and math.isfinite(e.low):
            metrics[f"{key}_ci_low"], metrics[f"{key}_ci_high"] = e.low, e.high
    for k, v in choice.chosen.cv.items():
        metrics[f"final_{k}"] = v
    tags = {"registry.model": f"{job.model_name}/{mv.version}", "registry.decision": decision.reason[:5000],
            "registry.final": choice.chosen.name}
    heldout = {}
    if prepared.test is not None:
        recorded = registry.show(f"{job.model_name}/{mv.version}", tracking_uri=uri)["tags"]
        for m in CV_METRICS:
            v, lo, hi = (recorded.get(f"heldout_{m}{s}") for s in ("", "_ci_low", "_ci_high"))
            if v is not None:
                heldout[m] = (float(v), float(lo) if lo else math.nan, float(hi) if hi else math.nan)
                for key, x in zip(("", "_ci_low", "_ci_high"), heldout[m]):
                    if math.isfinite(x):
                        metrics[f"heldout_{m}{key}"] = x
    return Registration(choice, str(mv.version), decision, metrics, tags, heldout)
