"""seqsweep.tracking.records: which trials count, and the leaderboard the sweep run stores."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seqsweep.tracking.records import (
    Ranking,
    TrialRecord,
    best_record,
    best_summary,
    completed_records,
    leaderboard_frame,
    ranked_records,
    within_noise,
)

METRIC = "cv_weighted_accuracy"


def rec(number: int, status: str, score: float | None, **config) -> TrialRecord:
    last = {} if score is None else {METRIC: score, "epoch": 3, "train_loss": 0.1, "pid": 7}
    return TrialRecord(number=number, trial_id=f"t{number}", run_id=f"r{number}",
                       config={"architecture": "cnn", **config}, status=status, last=last, seconds=1.234)


RECORDS = [rec(1, "completed", 0.6), rec(2, "pruned", 0.9), rec(3, "completed", math.nan), rec(4, "failed", None),
           rec(5, "completed", 0.7, filters=8)]


def test_only_completed_trials_with_a_finite_score_count():
    assert [r.number for r in completed_records(RECORDS, METRIC)] == [1, 5]
    assert best_record(RECORDS, METRIC).number == 5  # the pruned trial's 0.9 never counts
    assert best_record(RECORDS[1:4], METRIC) is None


def test_leaderboard_is_best_first_with_params_and_the_summary_keeps_only_metrics():
    board = leaderboard_frame(RECORDS, METRIC)
    assert list(board["trial"]) == [2, 5, 1, 3, 4]  # by score; NaN and missing last
    assert board.loc[board["trial"] == 5, "param.filters"].item() == 8 and "param.architecture" not in board
    assert board["seconds"].iloc[0] == 1.23
    summary = best_summary(RECORDS[4])
    assert summary["metrics"] == {METRIC: 0.7, "train_loss": 0.1} and summary["run_id"] == "r5"


def folds_rec(number: int, folds: list[float], status: str = "completed") -> TrialRecord:
    last = {METRIC: float(np.mean(folds)), f"{METRIC}_std": float(np.std(folds)), "epoch": 5,
            **{f"fold{k}_weighted_accuracy": v for k, v in enumerate(folds)}}
    return TrialRecord(number=number, trial_id=f"t{number}", run_id=f"r{number}", config={"architecture": "kmer"},
                       status=status, last=last)


# #1 has the highest mean thanks to one lucky fold; #2 is a little lower and steady; #3 is #2 plus 0.001 on
# every fold; #4 was pruned with the best score of all
LUCKY = folds_rec(1, [0.55, 0.56, 0.54, 0.90, 0.55])
STEADY = folds_rec(2, [0.61, 0.62, 0.60, 0.63, 0.61])
STEADIER = folds_rec(3, [0.611, 0.621, 0.601, 0.631, 0.611])
PRUNED = folds_rec(4, [0.9] * 5, status="pruned")
TRIALS = [LUCKY, STEADY, STEADIER, PRUNED]


def test_ranking_by_mean_takes_the_lucky_trial_and_by_lower_bound_the_steady_one():
    by_mean, by_bound = Ranking(METRIC, "mean"), Ranking(METRIC, "lower_bound", se=1.0)
    assert best_record(TRIALS, METRIC).number == 1 == best_record(TRIALS, METRIC, by_mean).number
    assert [r.number for r in ranked_records(TRIALS, by_bound)] == [3, 2, 1]  # the pruned trial never counts
    e = by_bound.estimate(LUCKY)
    se = np.std([0.55, 0.56, 0.54, 0.90, 0.55], ddof=1) / np.sqrt(5)
    assert e.se == pytest.approx(se) and by_bound.score(LUCKY) == pytest.approx(LUCKY.last[METRIC] - se)
    assert Ranking(METRIC, "lower_bound", se=2.0).score(LUCKY) == pytest.approx(LUCKY.last[METRIC] - 2 * se)
    assert by_bound.describe() == "cv_weighted_accuracy mean - 1 standard error over the folds"


def test_within_noise_pairs_fold_scores_against_the_best():
    by_bound = Ranking(METRIC, "lower_bound")
    # #3 beats #2 by 0.001 on every fold: separable (paired), though their unpaired intervals overlap fully
    d = by_bound.difference(STEADIER, STEADY)
    assert d.value == pytest.approx(0.001) and d.low == pytest.approx(0.001)
    close = within_noise(TRIALS, by_bound)
    assert [r.number for r, _ in close] == [1]  # the lucky one is not worse beyond noise
    assert close[0][1].low < 0 < close[0][1].high
    assert within_noise([STEADY], by_bound) == []


def test_leaderboard_sorts_by_the_ranking_and_records_its_score():
    board = leaderboard_frame(TRIALS, METRIC, Ranking(METRIC, "lower_bound"))
    assert list(board["trial"]) == [4, 3, 2, 1]  # the pruned trial's partial score is listed too, by the same rule
    row = board[board["trial"] == 1].iloc[0]
    assert row["rank_score"] == pytest.approx(Ranking(METRIC, "lower_bound").score(LUCKY))
    assert row[f"{METRIC}_se"] == pytest.approx(np.std([0.55, 0.56, 0.54, 0.90, 0.55], ddof=1) / np.sqrt(5))
