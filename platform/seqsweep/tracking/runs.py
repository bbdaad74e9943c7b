"""The only code that talks to the MLflow tracking store: experiments, runs, their metrics, artifacts and models.

One parent run per sweep, one child run per trial nested under it, told apart by the tags below. Trials never
call this module: the driver does (sweep.py, and the SweepCallback in callback.py), so the embedded sqlite
store sees a single writer and a remote server sees few requests (docs/design.md#tracking).
"""

from __future__ import annotations

import logging
import math
import platform as _platform
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from seqsweep import plots, store
from seqsweep.errors import TrackingError, first_line
from seqsweep.tracking.records import (
    Ranking,
    TrialRecord,
    best_record,
    best_summary,
    completed_records,
    finite,
    leaderboard_frame,
)

log = logging.getLogger(__name__)

TAG_SWEEP = "seqsweep.sweep"  # the sweep id, on the parent and every child
TAG_TRIAL = "seqsweep.trial_id"  # Tune's trial id, on child runs
TAG_KIND = "seqsweep.kind"  # "sweep" | "trial"
TAG_STATUS = "seqsweep.status"  # running | completed | pruned | failed
TAG_JOB = "seqsweep.job"
PARENT_TAG = "mlflow.parentRunId"


def client(uri: str):
    import mlflow

    return mlflow.MlflowClient(tracking_uri=uri)


def use_tracking_uri(uri: str | None = None) -> str:
    """Make `uri` (default: store.tracking_uri()) MLflow's process-wide URI, and return it.

    MLflow's model logging, `register_model` and `load_model("models:/...")` read only that one.
    """
    import mlflow

    uri = store.tracking_uri(uri)
    if mlflow.get_tracking_uri() != uri:
        mlflow.set_tracking_uri(uri)
    return uri


def open_store(uri: str, experiment: str) -> str:
    """Make sure the store is usable and the experiment exists (before any trial starts); return its id.

    The embedded sqlite store is created here, by the driver alone: concurrent first use of a fresh sqlite
    store by several processes corrupts its migrations.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        store.artifacts_dir().mkdir(parents=True, exist_ok=True)
    c = mlflow.MlflowClient(tracking_uri=uri)
    try:
        exp = c.get_experiment_by_name(experiment)
        if exp is not None:
            if exp.lifecycle_stage == "deleted":
                c.restore_experiment(exp.experiment_id)
            return exp.experiment_id
        location = store.artifacts_dir().as_uri() if store.uses_embedded_store(uri) else None
        return c.create_experiment(experiment, artifact_location=location)
    except MlflowException as exc:
        raise TrackingError(f"tracking store {store.redact(uri)}: {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # requests' connection errors and the like: the server is not there
        raise TrackingError(
            f"tracking store {store.redact(uri)} is unreachable: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        ) from None


def check_reachable(uri: str, timeout_s: float = 5.0) -> None:
    """Fail fast (one line) when a remote tracking server does not answer, instead of MLflow's long retries."""
    if not uri.startswith(("http://", "https://")):
        return
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout_s)
    except urllib.error.HTTPError:
        return  # it answered; auth or a missing /health route is for MLflow to report
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingError(f"tracking.uri {store.redact(uri)} is unreachable: {reason}") from None


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("seqsweep", "torch", "ray", "optuna", "mlflow", "numpy", "scikit-learn"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    out["python"] = _platform.python_version()
    return out


# --------------------------------------------------------------------------------------------------------
# The sweep's parent run


def start_sweep_run(
    uri: str, experiment_id: str, *, sweep_id: str, job: Any, search_space_text: str, data_info: dict[str, Any]
) -> str:
    """Create the parent run with the resolved job, search space, data fingerprint, git commit and versions."""
    import mlflow

    c = client(uri)
    tags = {
        TAG_SWEEP: sweep_id,
        TAG_KIND: "sweep",
        TAG_JOB: job.name,
        "mlflow.runName": f"sweep-{sweep_id}",
        "mlflow.source.name": str(job.source or job.name),
        "data.fingerprint": data_info.get("fingerprint", ""),
        "tracking.uri": store.redact(uri),
    }
    commit = git_commit()
    if commit:
        tags["mlflow.source.git.commit"] = commit
    run = c.create_run(experiment_id, tags=tags, run_name=f"sweep-{sweep_id}")
    rid = run.info.run_id
    params = {
        "job": job.name,
        "search_space": Path(job.search_space).name,
        "num_trials": job.search.num_trials,
        "sampler": job.search.sampler,
        "scheduler": job.search.scheduler,
        "folds": job.cv.folds,
        "max_epochs": job.train.max_epochs,
        **{f"data.{k}": v for k, v in data_info.items()},
        **{f"version.{k}": v for k, v in package_versions().items()},
    }
    c.log_batch(rid, params=[mlflow.entities.Param(k, str(v)[:6000]) for k, v in params.items()])
    resolved = job.resolved()
    if isinstance(resolved.get("tracking"), dict) and resolved["tracking"].get("uri"):
        resolved["tracking"]["uri"] = store.redact(resolved["tracking"]["uri"])
    c.log_dict(rid, resolved, "job.json")
    c.log_text(rid, search_space_text, f"search_space/{Path(job.search_space).name}")
    return rid


def find_sweep_run(uri: str, experiment_id: str, sweep_id: str) -> str | None:
    runs = client(uri).search_runs(
        [experiment_id], filter_string=f"tags.`{TAG_SWEEP}` = '{sweep_id}' and tags.`{TAG_KIND}` = 'sweep'"
    )
    return runs[0].info.run_id if runs else None


def reopen_sweep_run(uri: str, run_id: str) -> None:
    """Mark a resumed sweep's parent run RUNNING again."""
    client(uri).update_run(run_id, status="RUNNING")


def close_stale_runs(uri: str, experiment_id: str, sweep_id: str, status: str = "KILLED") -> int:
    """Mark every run of this sweep still RUNNING (left by a killed driver or worker) as `status`."""
    c = client(uri)
    runs = c.search_runs(
        [experiment_id], filter_string=f"tags.`{TAG_SWEEP}` = '{sweep_id}' and attributes.status = 'RUNNING'"
    )
    for r in runs:
        c.set_tag(r.info.run_id, TAG_STATUS, "killed")
        c.set_terminated(r.info.run_id, status)
    return len(runs)


def finish_sweep_run(
    uri: str,
    parent_run_id: str,
    records: list[TrialRecord],
    *,
    metric: str,
    study: Any | None,
    status: str = "FINISHED",
    extra_metrics: dict[str, float] | None = None,
    extra_tags: dict[str, str] | None = None,
    ranking: Ranking | None = None,
) -> None:
    """Leaderboard CSV, best-trial summary and plots on the parent run; then close it."""
    import mlflow

    c = client(uri)
    board = leaderboard_frame(records, metric, ranking)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        board.to_csv(tmp_path / "leaderboard.csv", index=False)
        c.log_artifact(parent_run_id, str(tmp_path / "leaderboard.csv"))
        done = completed_records(records, metric)
        best = best_record(done, metric, ranking)
        if best is not None:
            c.log_dict(parent_run_id, best_summary(best), "best_trial.json")
        for path in plots.save(plots.sweep_figures(board, metric, study), tmp_path, **plots.SWEEP_SAVE):
            c.log_artifact(parent_run_id, str(path), "plots")
    counts = {s: sum(r.status == s for r in records) for s in ("completed", "pruned", "failed")}
    metrics = {f"trials_{k}": float(v) for k, v in counts.items()}
    if done:
        metrics[f"best_{metric}"] = float(max(r.last[metric] for r in done))
    metrics.update(extra_metrics or {})
    now = int(time.time() * 1000)
    c.log_batch(
        parent_run_id,
        metrics=[mlflow.entities.Metric(k, v, now, 0) for k, v in metrics.items() if finite(v)],
        tags=[mlflow.entities.RunTag(k, v) for k, v in (extra_tags or {}).items()],
    )
    c.set_terminated(parent_run_id, status)


# --------------------------------------------------------------------------------------------------------
# Trial runs: the SweepCallback's writes, one store call each (it stops writing at the first failure)


def trial_runs(c, experiment_id: str, sweep_id: str) -> list:
    """The trial runs this sweep has logged so far (MLflow Run objects)."""
    return c.search_runs(
        [experiment_id],
        filter_string=f"tags.`{TAG_SWEEP}` = '{sweep_id}' and tags.`{TAG_KIND}` = 'trial'",
        max_results=10000,
    )


def create_run(c, experiment_id: str, run_name: str, tags: dict[str, str]) -> str:
    return c.create_run(experiment_id, run_name=run_name, tags=tags).info.run_id


def log_batch(
    c,
    run_id: str,
    *,
    params: dict[str, Any] | None = None,
    metrics: dict[str, float] | None = None,
    step: int = 0,
    timestamp_ms: int | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    """One log_batch call: params, metrics (at `step`, stamped `timestamp_ms`, default now) and tags."""
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    c.log_batch(
        run_id,
        metrics=[Metric(k, float(v), now, step) for k, v in (metrics or {}).items()],
        params=[Param(k, str(v)) for k, v in (params or {}).items()],
        tags=[RunTag(k, v) for k, v in (tags or {}).items()],
    )


def terminate(c, run_id: str, status: str) -> None:
    c.set_terminated(run_id, status)


def log_trial_model(c, uri: str, run_id: str, ensemble_dir: str | Path, example_sequences: list[str]) -> str:
    """Log a trial's fold ensemble as its run's model; return the model URI (also tagged on the run)."""
    info = log_ensemble_model(
        ensemble_dir, name="model", run_id=run_id, input_example_sequences=example_sequences, tracking_uri=uri
    )
    c.set_tag(run_id, "seqsweep.model_uri", info.model_uri)
    return info.model_uri


# --------------------------------------------------------------------------------------------------------
# Models and artifacts in runs (also what the registry reads and writes of a version's source run)


def log_ensemble_model(
    ensemble_dir: str | Path,
    *,
    name: str = "model",
    run_id: str | None = None,
    input_example_sequences: list[str] | None = None,
    tracking_uri: str | None = None,
):
    """Log the ensemble in `ensemble_dir` as a pyfunc model (seqsweep.pyfunc_model) into run `run_id`
    (default: the active run).

    tracking_uri: the store holding that run (default: store.tracking_uri(), i.e. $MLFLOW_TRACKING_URI or
    the embedded store). MLflow's model logging only uses the process-wide tracking URI, so it is set.
    Returns MLflow's ModelInfo; `info.model_uri` (``models:/m-...``) is what registry.register_trial_model takes.
    """
    import mlflow
    from mlflow.models import Model

    from seqsweep import pyfunc_packaging  # not pyfunc_model: it imports this module (its log_ensemble_model)
    from seqsweep.ensemble import read_meta

    ensemble_dir = Path(ensemble_dir).resolve()
    meta = read_meta(ensemble_dir)  # fail here, with a clear message, rather than inside MLflow
    uri = use_tracking_uri(tracking_uri)
    if run_id is None:
        active = mlflow.active_run()
        if active is None:
            raise TrackingError("log_ensemble_model: no active MLflow run; start one or pass run_id")
        run_id = active.info.run_id
    package = pyfunc_packaging.package(ensemble_dir, meta, input_example_sequences)  # DataError on a bad example
    log.debug("logging %s as model %r of run %s", ensemble_dir, name, run_id)
    # Model.log rather than mlflow.pyfunc.log_model: only it takes a run_id, and the driver logs a trial's
    # model into that trial's run without making it the active run. The signature is given, so MLflow does
    # not run the model to infer one; it still loads the logged model once and predicts on the example to
    # check that the model can be served, which catches a broken model at logging time.
    # MLflow files a logged model under the *active* experiment (Default when none is set), not under the
    # experiment of `run_id`: make the run's experiment the active one so the model lands next to its run
    # (and in that experiment's artifact location).
    experiment_id = mlflow.MlflowClient(uri).get_run(run_id).info.experiment_id
    if mlflow.active_run() is None:
        mlflow.set_experiment(experiment_id=experiment_id)
    return Model.log(
        artifact_path=None,  # deprecated in favour of `name`, but still a required positional
        name=name,
        flavor=mlflow.pyfunc,
        run_id=run_id,
        **package,
    )


def log_artifacts(c, run_id: str, local_dir: str | Path, artifact_path: str) -> None:
    c.log_artifacts(run_id, str(local_dir), artifact_path=artifact_path)


_METRIC_KEY = re.compile(r"[^A-Za-z0-9_\-. /]")


def log_output_report(
    c,
    run_id: str,
    *,
    rows: list[dict[str, Any]],
    names: list[str],
    confusion: list[list[int]] | None,
    title: str,
    artifact_dir: str,
    metric_prefix: str | None = None,
) -> None:
    """Per-task or per-class scores of a run: per_output.csv (+ confusion.csv), their figures (seqsweep.plots),
    under `artifact_dir`; with metric_prefix also one metric per output and score, e.g. `cv_roc_auc/CTCF`
    (the MLflow UI groups them by what precedes the slash)."""
    import pandas as pd

    with tempfile.TemporaryDirectory(prefix="seqsweep-outputs-") as tmp:
        out = Path(tmp)
        pd.DataFrame(rows).to_csv(out / "per_output.csv", index=False)
        if confusion is not None:
            pd.DataFrame(confusion, index=names, columns=names).to_csv(out / "confusion.csv", index_label="true \\ predicted")
        plots.save(plots.output_figures(title, rows, confusion, names), out, **plots.EVALUATION_SAVE)
        c.log_artifacts(run_id, str(out), artifact_path=artifact_dir)
    if metric_prefix is None:
        return
    metrics = {
        f"{metric_prefix}_{key}/{_METRIC_KEY.sub('_', str(row['name']))}": float(value)
        for row in rows
        for key, value in row.items()
        if key in ("roc_auc", "pr_auc", "weighted_accuracy") and value is not None and math.isfinite(float(value))
    }
    items = list(metrics.items())
    for start in range(0, len(items), 1000):  # MLflow takes at most 1,000 metrics per log_batch
        log_batch(c, run_id, metrics=dict(items[start : start + 1000]))


def _user_tags(tags: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in sorted(tags.items()) if not k.startswith("mlflow.")}


def run_and_sweep(c, run_id: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A trial run (id, name, status, params, tags) and its parent sweep run (id, name, tags), for display.

    A run that cannot be read is {"id": ..., "error": first line of MLflow's message}.
    """
    from mlflow.exceptions import MlflowException

    try:
        run = c.get_run(run_id)
    except MlflowException as exc:
        return {"id": run_id, "error": first_line(exc)}, None
    trial = {
        "id": run_id,
        "name": run.info.run_name,
        "status": run.info.status,
        "params": dict(sorted(run.data.params.items())),
        "tags": _user_tags(run.data.tags),
    }
    parent_id = run.data.tags.get(PARENT_TAG)
    if not parent_id:
        return trial, None
    try:
        parent = c.get_run(parent_id)
        return trial, {"id": parent_id, "name": parent.info.run_name, "tags": _user_tags(parent.data.tags)}
    except MlflowException as exc:
        return trial, {"id": parent_id, "error": first_line(exc)}


#: Where a trial's run keeps its out-of-fold probabilities (trainable.OOF_FILE).
OOF_ARTIFACT_DIR = "cv_predictions"


def log_artifact(c, run_id: str, local_path: str | Path, artifact_path: str | None = None) -> None:
    c.log_artifact(run_id, str(local_path), artifact_path=artifact_path)


def download_run_file(uri: str, run_id: str, artifact_path: str, dst: str | Path) -> Path | None:
    """One artifact of a run into `dst`; None when the run has no such artifact."""
    import mlflow
    from mlflow.exceptions import MlflowException

    use_tracking_uri(uri)
    try:
        return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path, dst_path=str(dst)))
    except (MlflowException, OSError) as exc:
        log.debug("run %s has no artifact %s: %s", run_id, artifact_path, first_line(exc))
        return None
