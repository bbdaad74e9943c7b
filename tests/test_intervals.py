"""seqsweep.intervals: fold standard errors, t intervals, and the group bootstrap (exact cases and coverage)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seqsweep.intervals import (
    bootstrap,
    cv_estimate,
    fold_se,
    group_index,
    paired_difference,
    resamples,
    se_from_population_std,
    t975,
)


def test_fold_standard_error_and_t_interval():
    v = [0.60, 0.62, 0.58, 0.64, 0.56]
    se = np.std(v, ddof=1) / math.sqrt(5)
    assert fold_se(v) == pytest.approx(se)
    # the trainer's population std converts to the same standard error
    assert se_from_population_std(float(np.std(v)), 5) == pytest.approx(se)
    e = cv_estimate(v)
    assert (e.value, e.se, e.n) == (pytest.approx(0.60), pytest.approx(se), 5)
    assert (e.low, e.high) == (pytest.approx(0.60 - 2.776 * se), pytest.approx(0.60 + 2.776 * se))
    assert t975(4) == 2.776 and t975(1000) == 1.96
    # a NaN fold (an unscorable fold) is left out; one fold has no standard error
    assert cv_estimate([0.5, math.nan, 0.7]).value == pytest.approx(0.6)
    one = cv_estimate([0.5])
    assert one.value == 0.5 and math.isnan(one.se) and math.isnan(one.low)
    assert "[95% CI" in e.text() and one.text() == "0.500"


def test_paired_difference_cancels_what_the_folds_share():
    hard_and_easy = np.array([0.50, 0.70, 0.55, 0.80, 0.60])
    a, b = hard_and_easy + 0.02, hard_and_easy  # a is better on every fold by the same 0.02
    assert cv_estimate(a).low < cv_estimate(b).value  # unpaired, the intervals overlap widely
    d = paired_difference(a, b)
    assert d.value == pytest.approx(0.02) and d.se == pytest.approx(0.0, abs=1e-12) and d.low == pytest.approx(0.02)
    with pytest.raises(ValueError):
        paired_difference([1.0, 2.0], [1.0])


def test_resamples_draw_whole_groups():
    groups = np.array(["a", "a", "b", "c", "c", "c"])
    assert [list(m) for m in group_index(groups, 6)] == [[0, 1], [2], [3, 4, 5]]
    assert [list(m) for m in group_index(None, 3)] == [[0], [1], [2]]
    members = {"a": {0, 1}, "b": {2}, "c": {3, 4, 5}}
    for idx in resamples(groups, 6, replicates=50, seed=1):
        # the rows come in whole groups: each group's rows appear equally often
        counts = np.bincount(idx, minlength=6)
        for rows in members.values():
            assert len({counts[r] for r in rows}) == 1
        assert sum(counts[min(rows)] for rows in members.values()) == 3  # 3 groups drawn


def test_bootstrap_of_identical_models_has_a_zero_difference_and_covers_the_mean():
    rng = np.random.default_rng(0)
    x = rng.normal(0.7, 0.1, size=400)

    def scores(idx):
        return {"a": float(x[idx].mean()), "b": float(x[idx].mean())}

    boot = bootstrap(scores, 400, replicates=300, differences={"a-b": ("a", "b")}, budget_s=None)
    assert boot.replicates == 300 and boot.groups == 400
    d = boot.estimates["a-b"]
    assert (d.value, d.low, d.high) == (0.0, 0.0, 0.0)
    a = boot.estimates["a"]
    assert a.value == pytest.approx(x.mean())
    assert a.se == pytest.approx(x.std(ddof=1) / 20, rel=0.15)  # the bootstrap finds the textbook standard error
    assert a.low < x.mean() < a.high


def test_bootstrap_leaves_nan_replicates_out_and_stops_at_its_budget():
    calls = {"n": 0}

    def scores(idx):
        calls["n"] += 1
        return {"s": math.nan if (idx == 0).sum() > 1 else float(len(idx))}

    boot = bootstrap(scores, 10, replicates=100, budget_s=None)
    assert 0 < boot.estimates["s"].n < 100  # resamples that drew row 0 twice are left out
    slow = bootstrap(scores, 10, replicates=10_000, budget_s=0.0, min_replicates=5)
    assert slow.replicates == 5
