"""What the driver knows about each trial, and the views of it that the leaderboard and the registry take.

Plain data: nothing here talks to MLflow or Ray.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from seqsweep.intervals import Estimate, cv_estimate, paired_difference, se_from_population_std

#: Result keys that are metrics of ours (Tune adds its own bookkeeping keys to every result).
_METRIC_PREFIXES = ("cv_", "fold", "train_loss")


def is_metric(key: str, value: Any) -> bool:
    return key.startswith(_METRIC_PREFIXES) and isinstance(value, (int, float)) and not isinstance(value, bool)


def finite(v: float) -> bool:
    return not (math.isnan(v) or math.isinf(v))


@dataclass
class TrialRecord:
    """What the driver knows about one trial, for the progress line, the leaderboard and the registry."""

    number: int
    trial_id: str
    run_id: str
    config: dict[str, Any]
    status: str = "running"
    last: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.time)  # when Tune started the trial (its worker is up)
    ended: float | None = None  # when the driver learnt that it ended (time.time())
    seconds: float = 0.0
    error: str | None = None
    model_uri: str | None = None
    node: str | None = None
    host: str | None = None
    device: str | None = None
    precision: str | None = None  # float32 | bfloat16, as the trial resolved train.precision
    data_store: str | None = None  # where the trial read its sequences (a memory-mapped genome cache, or memory)
    checkpoint: str | None = None
    attempt: int = 1


def completed_records(records: Iterable[TrialRecord], metric: str) -> list[TrialRecord]:
    """Trials that ran all their epochs and have a finite score."""
    return [r for r in records if r.status == "completed" and finite(float(r.last.get(metric, math.nan)))]


@dataclass(frozen=True)
class Ranking:
    """How trials are ranked for registration (search.rank_by): by the CV mean of `metric`, or by its lower
    bound, the mean minus `se` standard errors of it over the folds. Optuna maximises the mean either way;
    the lower bound only decides which trials the sweep keeps. With 120 binding sites the folds of one trial
    disagree by more than trials differ, and the highest mean is then often a lucky fold split
    (docs/design.md#ranking)."""

    metric: str
    by: str = "mean"  # mean | lower_bound
    se: float = 1.0

    @property
    def fold_key(self) -> re.Pattern:
        return re.compile(rf"^fold(\d+)_{re.escape(self.metric.removeprefix('cv_'))}$")

    def fold_scores(self, r: TrialRecord) -> np.ndarray:
        """The trial's fold scores of `metric` in fold order (empty when it reported none)."""
        found = {int(m.group(1)): float(v) for k, v in r.last.items() if (m := self.fold_key.match(k))}
        return np.array([found[k] for k in sorted(found)], dtype=np.float64)

    def estimate(self, r: TrialRecord) -> Estimate:
        """The CV mean of `metric` with its standard error over the folds and a t interval."""
        folds = self.fold_scores(r)
        mean = float(r.last.get(self.metric, math.nan))
        if len(folds) >= 2:
            e = cv_estimate(folds)
            return Estimate(mean, e.se, e.low, e.high, e.n)  # the mean as reported (NaN folds are left out of it)
        se = se_from_population_std(float(r.last.get(f"{self.metric}_std", math.nan)), len(folds))
        return Estimate(mean, se, math.nan, math.nan, len(folds))

    def score(self, r: TrialRecord) -> float:
        """What the ranking sorts by (NaN for a trial without a score)."""
        return self.score_of(self.estimate(r))

    def score_of(self, e: Estimate) -> float:
        """The ranking's statistic of a CV estimate (a trial's, or an ensemble's)."""
        if self.by == "mean":
            return e.value
        return e.value - self.se * (e.se if finite(e.se) else 0.0)

    def describe(self) -> str:
        if self.by == "mean":
            return f"{self.metric} mean over the folds"
        return f"{self.metric} mean - {self.se:g} standard error over the folds"

    def difference(self, a: TrialRecord, b: TrialRecord) -> Estimate:
        """a - b paired over the folds both were scored on."""
        fa, fb = self.fold_scores(a), self.fold_scores(b)
        if len(fa) != len(fb) or len(fa) < 2:
            return Estimate(float(a.last.get(self.metric, math.nan)) - float(b.last.get(self.metric, math.nan)),
                            math.nan, math.nan, math.nan, 0)
        return paired_difference(fa, fb)


def ranked_records(records: Iterable[TrialRecord], ranking: Ranking) -> list[TrialRecord]:
    """Completed trials with a finite score, best first by the ranking (ties: the earlier trial)."""
    done = completed_records(records, ranking.metric)
    return sorted(done, key=lambda r: (-or_neg_inf(ranking.score(r)), r.number))


def or_neg_inf(x: float) -> float:
    """x, or -inf for NaN: a sort key that puts trials without a score last."""
    return x if finite(x) else -math.inf


def best_record(records: Iterable[TrialRecord], metric: str, ranking: Ranking | None = None) -> TrialRecord | None:
    """The best completed trial by `ranking` (default: the highest `metric`); pruned and failed trials never count."""
    ranked = ranked_records(records, ranking or Ranking(metric))
    return ranked[0] if ranked else None


def within_noise(records: Iterable[TrialRecord], ranking: Ranking) -> list[tuple[TrialRecord, Estimate]]:
    """The completed trials the best one cannot be told apart from: those whose fold-paired difference from
    it has a 95% interval reaching 0 (or below), with that difference (best - trial), in ranking order."""
    ranked = ranked_records(records, ranking)
    if len(ranked) < 2:
        return []
    best = ranked[0]
    out = []
    for r in ranked[1:]:
        d = ranking.difference(best, r)
        if not finite(d.low) or d.low <= 0:
            out.append((r, d))
    return out


def leaderboard_frame(records: Iterable[TrialRecord], metric: str, ranking: Ranking | None = None):
    """One row per trial (best first by `ranking`, default the mean of `metric`), the sweep run's
    leaderboard.csv and its plots' input."""
    import pandas as pd

    ranking = ranking or Ranking(metric)
    rows = []
    for r in sorted(records, key=lambda r: r.number):
        est = ranking.estimate(r)
        row = {
            "trial": r.number,
            "status": r.status,
            "architecture": r.config.get("architecture"),
            metric: r.last.get(metric),
            f"{metric}_std": r.last.get(f"{metric}_std"),
            f"{metric}_se": est.se if r.last else None,
            "rank_score": ranking.score(r) if r.last else None,
            "cv_roc_auc": r.last.get("cv_roc_auc"),
            "cv_pr_auc": r.last.get("cv_pr_auc"),
            "epochs": r.last.get("epoch"),
            "seconds": round(r.seconds, 2),
            "run_id": r.run_id,
            "error": r.error,
            **{f"param.{k}": v for k, v in r.config.items() if k != "architecture"},
        }
        rows.append(row)
    board = pd.DataFrame(rows)
    if not board.empty:
        board = board.sort_values("rank_score", ascending=False, na_position="last", kind="stable")
    return board


def best_summary(best: TrialRecord) -> dict[str, Any]:
    """The sweep run's best_trial.json."""
    return {
        "trial": best.number,
        "run_id": best.run_id,
        "model_uri": best.model_uri,
        "config": best.config,
        "metrics": {k: v for k, v in best.last.items() if is_metric(k, v)},
    }
