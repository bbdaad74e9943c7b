"""The only module that talks to the MLflow tracking store.

One parent run per sweep, one child run per trial nested under it. Trials never touch the store: the
driver's `SweepCallback` receives every result from Ray Tune and writes it with `log_batch` (one call per
epoch report), so the embedded sqlite store sees a single writer and a remote server sees few requests.
The callback's writes run on one background thread, in the order Tune's events came: Tune's loop hands a
trial its next epoch only after the callbacks return (function trainables report synchronously), so a
write on that path would stall training (measured on the 2-core Xeon: ~30 ms per epoch report, ~0.35 s to
log a trial's model while the next trial waits to start).
"""

from __future__ import annotations

import logging
import math
import os
import platform as _platform
import re
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from ray.tune import Callback

from seqsweep import store
from seqsweep.errors import TrackingError

log = logging.getLogger(__name__)

TAG_SWEEP = "seqsweep.sweep"  # the sweep id, on the parent and every child
TAG_TRIAL = "seqsweep.trial_id"  # Tune's trial id, on child runs
TAG_KIND = "seqsweep.kind"  # "sweep" | "trial"
TAG_STATUS = "seqsweep.status"  # running | completed | pruned | failed
TAG_JOB = "seqsweep.job"
PARENT_TAG = "mlflow.parentRunId"

#: Result keys that are metrics of ours (Tune adds its own bookkeeping keys to every result).
_METRIC_PREFIXES = ("cv_", "fold", "train_loss")


def client(uri: str):
    import mlflow

    return mlflow.MlflowClient(tracking_uri=uri)


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


def _is_metric(key: str, value: Any) -> bool:
    return key.startswith(_METRIC_PREFIXES) and isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(v: float) -> bool:
    return not (math.isnan(v) or math.isinf(v))


def completed_records(records: Iterable[TrialRecord], metric: str) -> list[TrialRecord]:
    """Trials that ran all their epochs and have a finite score."""
    return [r for r in records if r.status == "completed" and _finite(float(r.last.get(metric, math.nan)))]


def best_record(records: Iterable[TrialRecord], metric: str) -> TrialRecord | None:
    """The completed trial with the highest `metric` (pruned and failed trials never count)."""
    done = completed_records(records, metric)
    return max(done, key=lambda r: r.last[metric]) if done else None


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


class SweepCallback(Callback):
    """Ray Tune callback (driver side): trials -> MLflow child runs, plus one progress line per finished trial."""

    def __init__(
        self,
        *,
        uri: str,
        experiment_id: str,
        parent_run_id: str,
        sweep_id: str,
        metric: str,
        num_trials: int,
        example_sequences: list[str],
        emit: Callable[[str], None] = lambda line: None,
        log_models: bool = True,
    ) -> None:
        self.uri = uri
        self.experiment_id = experiment_id
        self.parent_run_id = parent_run_id
        self.sweep_id = sweep_id
        self.metric = metric
        self.num_trials = num_trials
        self.example_sequences = example_sequences
        self.emit = emit
        self.log_models = log_models
        self.trials: dict[str, TrialRecord] = {}
        # The first error of the tracking store: from then on the sweep goes on without it, keeping results
        # in memory (and on disk at the end) instead of hanging on retries or losing what trials report.
        self.store_error: str | None = None
        self._client = None
        self._writer: ThreadPoolExecutor | None = None
        self._numbers: dict[str, int] = {}
        self._adopt_existing()

    def __getstate__(self):
        # Tune pickles its callbacks with the experiment state; an MLflow client and a thread are not picklable.
        state = self.__dict__.copy()
        state["_client"] = None
        state["_writer"] = None
        return state

    # -- helpers -----------------------------------------------------------------------------------
    @property
    def c(self):
        if self._client is None:
            self._client = client(self.uri)
        return self._client

    def _write(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call an MLflow write; on its first failure, stop writing and say so once."""
        if self.store_error is not None:
            return None
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # any failure of the store (connection, HTTP 5xx, database): same handling
            self.store_error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}"
            self.emit(
                f"tracking store {store.redact(self.uri)} failed ({self.store_error}); the sweep goes on and keeps "
                "every trial's results, which are saved next to the Tune state when it ends"
            )
            return None

    def _submit(self, task: Callable[[], None]) -> None:
        """Queue MLflow work for the writer thread. One thread, so the writes keep their order: a run is
        created before its metrics, and ends only after its model is logged."""
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seqsweep-tracking")

        def run() -> None:
            try:
                task()
            except Exception:  # _write handles store failures; anything else is a bug, said and not swallowed
                log.exception("tracking write failed")

        self._writer.submit(run)

    def flush(self) -> None:
        """Wait until every queued write is done: the driver calls it when Tune returns, before it reads the
        records' run ids and model URIs, or `store_error`."""
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None

    def _adopt_existing(self) -> None:
        """On --resume: the trials this sweep already logged, so they are neither renumbered nor logged twice."""
        runs = self.c.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`{TAG_SWEEP}` = '{self.sweep_id}' and tags.`{TAG_KIND}` = 'trial'",
            max_results=10000,
        )
        for r in runs:
            tid = r.data.tags.get(TAG_TRIAL)
            if not tid:
                continue
            number = int(r.data.tags.get("seqsweep.trial_number", "0"))
            self._numbers.setdefault(tid, number)
            status = r.data.tags.get(TAG_STATUS, "running")
            if tid in self.trials and self.trials[tid].attempt >= int(r.data.tags.get("seqsweep.attempt", "1")):
                continue
            self.trials[tid] = TrialRecord(
                number=number,
                trial_id=tid,
                run_id=r.info.run_id,
                config={k: _parse_param(v) for k, v in r.data.params.items()},
                status=status,
                last=dict(r.data.metrics),
                attempt=int(r.data.tags.get("seqsweep.attempt", "1")),
                model_uri=r.data.tags.get("seqsweep.model_uri"),
                seconds=float(r.data.metrics.get("trial_seconds", 0.0)),
                error=r.data.tags.get("seqsweep.error"),
            )

    def _number(self, trial_id: str) -> int:
        if trial_id not in self._numbers:
            self._numbers[trial_id] = max(self._numbers.values(), default=0) + 1
        return self._numbers[trial_id]

    def best(self) -> TrialRecord | None:
        return best_record(self.trials.values(), self.metric)

    # -- Tune hooks --------------------------------------------------------------------------------
    def on_trial_start(self, iteration, trials, trial, **info):
        import mlflow

        tid = trial.trial_id
        previous = self.trials.get(tid)
        attempt = 1
        if previous is not None:
            if previous.status in ("completed", "pruned"):
                return
            # A retry (the worker died, or the trial was restored): close the earlier attempt's run as failed,
            # so nothing stays RUNNING, and log the new attempt in a run of its own.
            if previous.status == "running":
                self._end_run(previous, "failed", "FAILED", error=previous.error or "attempt did not finish")
            attempt = previous.attempt + 1
        number = self._number(tid)
        config = dict(trial.config)
        arch = config.get("architecture", "?")
        rec = TrialRecord(number=number, trial_id=tid, run_id="", config=config, attempt=attempt)
        self.trials[tid] = rec
        run_name = f"trial-{number:03d}-{arch}" + (f"-attempt{attempt}" if attempt > 1 else "")
        tags = {
            PARENT_TAG: self.parent_run_id,
            TAG_SWEEP: self.sweep_id,
            TAG_KIND: "trial",
            TAG_TRIAL: tid,
            TAG_STATUS: "running",
            "seqsweep.trial_number": str(number),
            "seqsweep.attempt": str(attempt),
            "architecture": str(arch),
        }
        params = [mlflow.entities.Param(k, str(v)) for k, v in sorted(config.items())]

        def create() -> None:
            run = self._write(self.c.create_run, self.experiment_id, run_name=run_name, tags=tags)
            if run is not None:
                rec.run_id = run.info.run_id
                self._write(self.c.log_batch, rec.run_id, params=params)

        self._submit(create)

    def on_trial_recover(self, iteration, trials, trial, **info):
        """The trial's worker died or it raised, and Tune will retry it: close this attempt's run as FAILED."""
        rec = self.trials.get(trial.trial_id)
        if rec is None or rec.status != "running":
            return
        rec.error = _error_line(trial) + " (retrying)"
        self._end_run(rec, "failed", "FAILED", error=rec.error)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        import mlflow

        rec = self.trials.get(trial.trial_id)
        if rec is not None and rec.status == "failed":
            # A retried trial reporting again, without Tune having announced its restart: a new attempt's run.
            self.on_trial_start(iteration, trials, trial)
            rec = self.trials.get(trial.trial_id)
        if rec is None or rec.status != "running":
            return
        first = not rec.last
        rec.last = dict(result)
        rec.node = result.get("node_id") or result.get("node_ip")
        rec.host = f"{result.get('hostname', '?')} ({result.get('node_ip', '?')})"
        rec.device = result.get("device")
        rec.precision = result.get("precision")
        step = int(result.get("epoch", result.get("training_iteration", 0)))
        now = int(time.time() * 1000)
        metrics = [
            mlflow.entities.Metric(k, float(v), now, step)
            for k, v in result.items()
            if _is_metric(k, v) and _finite(float(v))
        ]
        if "trial_seconds" in result:
            metrics.append(mlflow.entities.Metric("trial_seconds", float(result["trial_seconds"]), now, step))
        # Which worker process runs this attempt (operators kill stuck workers by PID; the fault tests too).
        tags = [mlflow.entities.RunTag("worker_pid", str(result["pid"]))] if first and "pid" in result else []

        def write() -> None:
            if rec.run_id:
                self._write(self.c.log_batch, rec.run_id, metrics=metrics, tags=tags)

        self._submit(write)

    def on_trial_complete(self, iteration, trials, trial, **info):
        rec = self.trials.get(trial.trial_id)
        if rec is None or rec.status != "running":
            return
        planned = int(rec.last.get("epochs_planned", 0) or 0)
        done = int(rec.last.get("epoch", 0) or 0)
        status = "completed" if planned and done >= planned else "pruned"
        if status == "completed" and trial.checkpoint is not None:
            rec.checkpoint = trial.checkpoint.path
            if self.log_models:
                checkpoint = trial.checkpoint

                def log_model() -> None:
                    if rec.run_id:
                        rec.model_uri = self._write(self._log_model, rec, checkpoint)

                self._submit(log_model)
        self._end_run(rec, status, "FINISHED")

    def on_trial_error(self, iteration, trials, trial, **info):
        rec = self.trials.get(trial.trial_id)
        error = _error_line(trial)
        if rec is None or rec.status != "running":
            # The trial failed before (this attempt of) it started: Tune errors a trial, without retrying it, when
            # the reused worker it was being handed to dies (it retries only trials that had started). It gets a
            # run of its own all the same, so that it is accounted for and visible, not silently missing.
            self.on_trial_start(iteration, trials, trial)
            rec = self.trials.get(trial.trial_id)
            if rec is None or rec.status != "running":
                return
            error += " (before the trial started; Ray Tune does not retry that)"
        rec.error = error
        self._end_run(rec, "failed", "FAILED", error=rec.error)

    # -- internals ---------------------------------------------------------------------------------
    def _log_model(self, rec: TrialRecord, checkpoint) -> str | None:
        from seqsweep.pyfunc_model import log_ensemble_model

        with checkpoint.as_directory() as ckpt_dir:
            info = log_ensemble_model(
                ckpt_dir,
                name="model",
                run_id=rec.run_id,
                input_example_sequences=self.example_sequences,
                tracking_uri=self.uri,
            )
        self.c.set_tag(rec.run_id, "seqsweep.model_uri", info.model_uri)
        return info.model_uri

    def _end_run(self, rec: TrialRecord, status: str, mlflow_status: str, error: str | None = None) -> None:
        import mlflow

        rec.status = status
        rec.seconds = float(rec.last.get("trial_seconds", time.time() - rec.started))
        tags = {TAG_STATUS: status}
        if rec.node:
            tags["ray.node_id"] = str(rec.node)
        if rec.host:
            tags["host"] = rec.host
        if rec.device:
            tags["device"] = rec.device
        if rec.precision:
            tags["precision"] = rec.precision
        tags["duration_s"] = f"{rec.seconds:.2f}"
        if error:
            tags["seqsweep.error"] = error[:5000]
        run_tags = [mlflow.entities.RunTag(k, v) for k, v in tags.items()]

        def write() -> None:
            if rec.run_id:
                self._write(self.c.log_batch, rec.run_id, tags=run_tags)
                self._write(self.c.set_terminated, rec.run_id, mlflow_status)

        self._submit(write)
        self.emit(self.progress_line(rec))

    def progress_line(self, rec: TrialRecord) -> str:
        arch = rec.config.get("architecture", "?")
        keys = [k for k in sorted(rec.config) if k != "architecture" and (k.startswith(f"{arch}.") or "." not in k)]
        shown = " ".join(f"{k.split('.')[-1]}={_short(rec.config[k])}" for k in keys[:6])
        best = self.best()
        best_txt = f"best {best.last[self.metric]:.3f} (#{best.number})" if best else "best -"
        if rec.status == "failed":
            score = f"FAILED: {rec.error}"
        else:
            m = rec.last.get(self.metric, math.nan)
            s = rec.last.get(f"{self.metric}_std", math.nan)
            score = f"{self.metric} {m:.3f} ± {s:.3f}" + (
                f" (pruned at epoch {int(rec.last.get('epoch', 0))})" if rec.status == "pruned" else ""
            )
        n_done = sum(t.status != "running" for t in self.trials.values())
        return (
            f"trial {rec.number:>3} [{n_done}/{self.num_trials}] {arch:<10} {shown} | {score} | "
            f"{rec.seconds:.1f}s | {best_txt}"
        )


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def _parse_param(v: str) -> Any:
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return {"True": True, "False": False}.get(v, v)


def _error_line(trial) -> str:
    """The last line of the trial's error (the exception type and message), not the whole traceback."""
    path = getattr(trial, "error_file", None) or getattr(getattr(trial, "run_metadata", None), "error_filename", None)
    text = ""
    if path and os.path.exists(str(path)):
        text = Path(path).read_text(errors="replace")
    # Tune appends one "Failure # N (occurred at ...)" block per failure of the trial: the last one is this one.
    text = re.split(r"^Failure # \d+ \(occurred at [^)\n]*\)$", text, flags=re.M)[-1]
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if lines and not any(ln.startswith("File ") for ln in lines):
        # A worker that died (Ray's message, no stack): "The actor died unexpectedly ..." and the first sentence
        # of why, not Ray's paragraph of common causes.
        why = next((ln for ln in lines[1:] if ln.startswith("The actor is dead because")), "")
        return (lines[0] + (f" {why.split('. ')[0].rstrip('.')}." if why else ""))[:500]
    # Ray wraps the worker's exception; the innermost "SomeError: message" line is the useful one.
    for ln in reversed(lines):
        if ":" in ln and not ln.startswith(("File ", "^", "During handling", "The above exception")):
            return ln[:500]
    return lines[-1][:500] if lines else "trial failed (no error file)"


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
) -> None:
    """Leaderboard CSV, best-trial summary and plots on the parent run; then close it."""
    import mlflow
    import pandas as pd

    c = client(uri)
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
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        board.to_csv(tmp_path / "leaderboard.csv", index=False)
        c.log_artifact(parent_run_id, str(tmp_path / "leaderboard.csv"))
        done = completed_records(records, metric)
        best = best_record(done, metric)
        if best is not None:
            summary = {
                "trial": best.number,
                "run_id": best.run_id,
                "model_uri": best.model_uri,
                "config": best.config,
                "metrics": {k: v for k, v in best.last.items() if _is_metric(k, v)},
            }
            c.log_dict(parent_run_id, summary, "best_trial.json")
        for name, fig in _plots(board, metric, study):
            fig.savefig(tmp_path / name, dpi=110, bbox_inches="tight")
            c.log_artifact(parent_run_id, str(tmp_path / name), "plots")
    counts = {s: sum(r.status == s for r in records) for s in ("completed", "pruned", "failed")}
    metrics = {f"trials_{k}": float(v) for k, v in counts.items()}
    if done:
        metrics[f"best_{metric}"] = float(max(r.last[metric] for r in done))
    metrics.update(extra_metrics or {})
    now = int(time.time() * 1000)
    c.log_batch(
        parent_run_id,
        metrics=[mlflow.entities.Metric(k, v, now, 0) for k, v in metrics.items() if _finite(v)],
        tags=[mlflow.entities.RunTag(k, v) for k, v in (extra_tags or {}).items()],
    )
    c.set_terminated(parent_run_id, status)


def _plots(board, metric: str, study: Any | None):
    """(filename, figure) pairs: optimisation history, parameter importances, scores per architecture.

    Built with matplotlib's object API, as registry._plots: a bare Figure saves to PNG through Agg by itself,
    so no pyplot, no global backend switch in the caller's process (a notebook keeps its backend) and no
    figure registry to leak.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figs = []
    scored = board.dropna(subset=[metric]) if not board.empty else board
    if not scored.empty:
        ordered = scored.sort_values("trial")
        fig = Figure(figsize=(7, 4))
        ax = fig.add_subplot()
        for arch, grp in ordered.groupby("architecture"):
            ax.scatter(grp["trial"], grp[metric], label=arch, s=28)
        ax.plot(ordered["trial"], ordered[metric].cummax(), color="black", lw=1.2, label="best so far")
        ax.set_xlabel("trial")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # trial numbers, not 0.5 steps
        ax.set_ylabel(metric)
        ax.set_title("Optimisation history")
        ax.legend(fontsize=7, ncol=2)
        figs.append(("optimization_history.png", fig))

        fig = Figure(figsize=(7, 4))
        ax = fig.add_subplot()
        groups = [(a, g[metric].to_numpy()) for a, g in scored.groupby("architecture")]
        ax.boxplot([g for _, g in groups], tick_labels=[a for a, _ in groups])
        for i, (_, g) in enumerate(groups, start=1):
            ax.scatter([i] * len(g), g, s=12, alpha=0.6)
        ax.set_ylabel(metric)
        ax.set_title("Scores per architecture")
        figs.append(("scores_per_architecture.png", fig))
    if study is not None:
        try:
            import optuna

            complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
            if len(complete) >= 3:
                importances = optuna.importance.get_param_importances(study)
                if importances:
                    fig = Figure(figsize=(7, 0.4 * len(importances) + 1.5))
                    ax = fig.add_subplot()
                    names = list(importances)[::-1]
                    ax.barh(names, [importances[n] for n in names])
                    ax.set_xlabel("importance (fANOVA)")
                    ax.set_title("Hyperparameter importances")
                    figs.append(("param_importances.png", fig))
        except (RuntimeError, ValueError, ZeroDivisionError) as exc:  # too few or degenerate trials
            log.info("parameter importances skipped: %s", exc)
    return figs
