"""What the driver knows about each trial, and the views of it that the leaderboard and the registry take.

Plain data: nothing here talks to MLflow or Ray.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

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
    started: float = field(default_factory=time.time)
    seconds: float = 0.0
    error: str | None = None
    model_uri: str | None = None
    node: str | None = None
    host: str | None = None
    device: str | None = None
    precision: str | None = None  # float32 | bfloat16, as the trial resolved train.precision
    checkpoint: str | None = None
    attempt: int = 1


def completed_records(records: Iterable[TrialRecord], metric: str) -> list[TrialRecord]:
    """Trials that ran all their epochs and have a finite score."""
    return [r for r in records if r.status == "completed" and finite(float(r.last.get(metric, math.nan)))]


def best_record(records: Iterable[TrialRecord], metric: str) -> TrialRecord | None:
    """The completed trial with the highest `metric` (pruned and failed trials never count)."""
    done = completed_records(records, metric)
    return max(done, key=lambda r: r.last[metric]) if done else None


def leaderboard_frame(records: Iterable[TrialRecord], metric: str):
    """One row per trial (best `metric` first), the sweep run's leaderboard.csv and its plots' input."""
    import pandas as pd

    rows = []
    for r in sorted(records, key=lambda r: r.number):
        row = {
            "trial": r.number,
            "status": r.status,
            "architecture": r.config.get("architecture"),
            metric: r.last.get(metric),
            f"{metric}_std": r.last.get(f"{metric}_std"),
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
        board = board.sort_values(metric, ascending=False, na_position="last")
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
