"""How sure a score is: standard errors over CV folds, and bootstrap intervals over held-out sites.

Plain numpy; nothing here talks to MLflow or Ray. Two sources of noise matter on small data:

  * CV: the k fold scores of a trial scatter; the standard error of their mean is std(ddof=1) / sqrt(k).
    Two trials scored on the same folds are compared by their paired fold differences, which cancels
    what the folds share (a hard fold is hard for both).
  * held-out: a score on 26 binding sites moves by a site; resampling whole genomic blocks (so windows of
    one site stay together) with replacement gives its interval, and scoring two models on the same
    resamples gives the interval of their difference (docs/design.md#intervals).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom (so a k-fold interval is honest
#: for k = 5: 2.776, not the normal 1.96); beyond 30 the normal quantile is close enough.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def t975(dof: int) -> float:
    """The 97.5% quantile of Student's t with `dof` degrees of freedom (dof >= 1)."""
    return _T975[dof - 1] if dof <= len(_T975) else 1.96


@dataclass(frozen=True)
class Estimate:
    """A score, its standard error and a 95% interval. se and the bounds are NaN when unknown."""

    value: float
    se: float
    low: float
    high: float
    n: int = 0  # folds (CV) or bootstrap replicates that went into it

    def text(self, nd: int = 3, signed: bool = False) -> str:
        """0.712 [95% CI 0.650, 0.780] (signed: +0.012 [95% CI -0.020, +0.045]); the value alone without an interval."""
        f = f"+.{nd}f" if signed else f".{nd}f"
        if not math.isfinite(self.low):
            return format(self.value, f)
        return f"{format(self.value, f)} [95% CI {format(self.low, f)}, {format(self.high, f)}]"


def fold_se(values) -> float:
    """Standard error of the mean of k fold scores: std(ddof=1) / sqrt(k); NaN for fewer than 2 finite ones."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) >= 2 else math.nan


def se_from_population_std(std: float, k: int) -> float:
    """The trainer reports the folds' population std (ddof=0); the standard error of their mean is
    std * sqrt(k / (k - 1)) / sqrt(k) = std / sqrt(k - 1)."""
    return std / math.sqrt(k - 1) if k >= 2 and math.isfinite(std) else math.nan


def cv_estimate(values) -> Estimate:
    """The mean of k fold scores with its standard error and a t interval (k - 1 degrees of freedom)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return Estimate(math.nan, math.nan, math.nan, math.nan, 0)
    mean, se = float(v.mean()), fold_se(v)
    if not math.isfinite(se):
        return Estimate(mean, math.nan, math.nan, math.nan, len(v))
    half = t975(len(v) - 1) * se
    return Estimate(mean, se, mean - half, mean + half, len(v))


def paired_difference(a, b) -> Estimate:
    """a - b over the same folds: the mean difference, its standard error and t interval."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired_difference: {a.shape} and {b.shape} fold scores")
    return cv_estimate(a - b)


# ---------------------------------------------------------------------------------------------------------
# Bootstrap over groups (genomic blocks, sites) of held-out rows


def group_index(groups: np.ndarray | None, n: int) -> list[np.ndarray]:
    """Rows of each group: a list of index arrays (one per row when groups is None)."""
    if groups is None:
        return [np.array([i]) for i in range(n)]
    groups = np.asarray(groups).reshape(-1)
    if len(groups) != n:
        raise ValueError(f"group_index: {len(groups)} groups for {n} rows")
    _, inverse = np.unique(groups, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    cuts = np.flatnonzero(np.diff(inverse[order])) + 1
    return np.split(order, cuts)


def resamples(groups: np.ndarray | None, n: int, replicates: int, seed: int = 0):
    """Yield `replicates` row-index arrays, each the rows of len(groups) groups drawn with replacement."""
    members = group_index(groups, n)
    sizes = np.array([len(m) for m in members])
    flat = np.concatenate(members) if members else np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    rng = np.random.default_rng(seed)
    for _ in range(replicates):
        pick = rng.integers(0, len(members), len(members))
        # the rows of the picked groups, concatenated without a Python loop over groups
        lens = sizes[pick]
        offsets = np.repeat(starts[pick] - np.r_[0, np.cumsum(lens)[:-1]], lens)
        yield flat[np.arange(lens.sum()) + offsets]


@dataclass(frozen=True)
class Bootstrap:
    """Percentile intervals from a group bootstrap, for each named score and for the paired differences."""

    estimates: dict[str, Estimate]
    replicates: int
    groups: int


def bootstrap(
    scores: Callable[[np.ndarray], dict[str, float]],
    n: int,
    *,
    groups: np.ndarray | None = None,
    replicates: int = 1000,
    seed: int = 0,
    differences: dict[str, tuple[str, str]] | None = None,
    budget_s: float | None = 60.0,
    min_replicates: int = 200,
) -> Bootstrap:
    """95% percentile intervals of the named values `scores(row indices)` returns, over the n rows,
    resampling whole `groups` with replacement. Every value sees the same resamples, so `differences`
    (name -> (value a, value b)) get the interval of a - b paired on them.

    value is each score on all rows; se the replicates' std. Replicates where a value is NaN (a resample
    without positives has no ROC AUC) are left out of its interval. With `budget_s`, the replicates stop
    once they have taken that long (after at least `min_replicates`): a 256-class ROC AUC costs far more per
    replicate than a binary one.
    """
    differences = differences or {}
    full = {k: float(v) for k, v in scores(np.arange(n)).items()}
    drawn: dict[str, list[float]] = {name: [] for name in full}
    started = time.perf_counter()
    done = 0
    for idx in resamples(groups, n, replicates, seed):
        got = scores(idx)
        for name in full:
            drawn[name].append(float(got.get(name, math.nan)))
        done += 1
        if budget_s is not None and done >= min_replicates and time.perf_counter() - started > budget_s:
            break
    values = {name: np.asarray(v, dtype=np.float64) for name, v in drawn.items()}
    for name, (a, b) in differences.items():
        values[name] = values[a] - values[b]
        full[name] = full[a] - full[b]
    out = {}
    for name, v in values.items():
        v = v[np.isfinite(v)]
        if len(v) < 2 or not math.isfinite(full[name]):
            out[name] = Estimate(full[name], math.nan, math.nan, math.nan, len(v))
            continue
        low, high = np.percentile(v, [2.5, 97.5])
        out[name] = Estimate(full[name], float(v.std(ddof=1)), float(low), float(high), len(v))
    n_groups = n if groups is None else len(np.unique(np.asarray(groups)))
    return Bootstrap(out, done, n_groups)
