"""Experiment tracking: what a sweep records in the MLflow tracking store.

    runs.py        the only code that talks to the tracking store (experiments, runs, logged models)
    callback.py    SweepCallback: Ray Tune's events on the driver -> runs.py, on one writer thread
    records.py     TrialRecord, what the driver knows about each trial, and the leaderboard built from it
    ray_errors.py  a failed trial's error file -> one line

The flow: sweep.py (the driver) -> SweepCallback -> runs.py -> the store; then registry/ for the best trial.
"""

from seqsweep.tracking.records import Ranking, TrialRecord, best_record, completed_records, ranked_records, within_noise
from seqsweep.tracking.runs import (
    PARENT_TAG,
    TAG_JOB,
    TAG_KIND,
    TAG_STATUS,
    TAG_SWEEP,
    TAG_TRIAL,
    check_reachable,
    client,
    close_stale_runs,
    find_sweep_run,
    finish_sweep_run,
    git_commit,
    log_ensemble_model,
    open_store,
    package_versions,
    reopen_sweep_run,
    start_sweep_run,
    use_tracking_uri,
)

__all__ = [
    "PARENT_TAG", "TAG_JOB", "TAG_KIND", "TAG_STATUS", "TAG_SWEEP", "TAG_TRIAL",
    "Ranking", "SweepCallback", "TrialRecord", "ranked_records", "within_noise", "best_record", "check_reachable", "client", "close_stale_runs",
    "completed_records", "find_sweep_run", "finish_sweep_run", "git_commit", "log_ensemble_model", "open_store",
    "package_versions", "reopen_sweep_run", "start_sweep_run", "use_tracking_uri",
]


def __getattr__(name: str):
    # SweepCallback subclasses Ray Tune's Callback: imported on first use, so that the registry, `seqsweep
    # predict` and `models list`, which use runs.py, do not import Ray (docs/design.md#tracking).
    if name == "SweepCallback":
        from seqsweep.tracking.callback import SweepCallback

        return SweepCallback
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
