"""seqsweep.tracking.records: which trials count, and the leaderboard the sweep run stores."""

from __future__ import annotations

import math

from seqsweep.tracking.records import TrialRecord, best_record, best_summary, completed_records, leaderboard_frame

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
