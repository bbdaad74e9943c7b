"""The driver's Ray Tune callback: every trial's results -> its MLflow run (through runs.py), and one progress
line per finished trial.

The writes run on one background thread, in the order Tune's events came: Tune's loop hands a trial its next
epoch only after the callbacks return (function trainables report synchronously), so a write on that path
would stall training (docs/design.md#tracking).
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from ray.tune import Callback

from seqsweep import store
from seqsweep.trainable import EVALUATION_JSON, OOF_FILE
from seqsweep.tracking import runs
from seqsweep.tracking.records import Ranking, TrialRecord, best_record, finite, is_metric
from seqsweep.tracking.ray_errors import error_line

log = logging.getLogger(__name__)


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
        ranking: Ranking | None = None,
    ) -> None:
        self.uri = uri
        self.experiment_id = experiment_id
        self.parent_run_id = parent_run_id
        self.sweep_id = sweep_id
        self.metric = metric
        self.ranking = ranking or Ranking(metric)
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
            self._client = runs.client(self.uri)
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
        for r in runs.trial_runs(self.c, self.experiment_id, self.sweep_id):
            tid = r.data.tags.get(runs.TAG_TRIAL)
            if not tid:
                continue
            number = int(r.data.tags.get("seqsweep.trial_number", "0"))
            self._numbers.setdefault(tid, number)
            status = r.data.tags.get(runs.TAG_STATUS, "running")
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
        return best_record(self.trials.values(), self.metric, self.ranking)

    # -- Tune hooks --------------------------------------------------------------------------------
    def on_trial_start(self, iteration, trials, trial, **info):
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
            runs.PARENT_TAG: self.parent_run_id,
            runs.TAG_SWEEP: self.sweep_id,
            runs.TAG_KIND: "trial",
            runs.TAG_TRIAL: tid,
            runs.TAG_STATUS: "running",
            "seqsweep.trial_number": str(number),
            "seqsweep.attempt": str(attempt),
            "architecture": str(arch),
        }
        params = dict(sorted(config.items()))

        def create() -> None:
            run_id = self._write(runs.create_run, self.c, self.experiment_id, run_name, tags)
            if run_id is not None:
                rec.run_id = run_id
                self._write(runs.log_batch, self.c, rec.run_id, params=params)

        self._submit(create)

    def on_trial_recover(self, iteration, trials, trial, **info):
        """The trial's worker died or it raised, and Tune will retry it: close this attempt's run as FAILED."""
        rec = self.trials.get(trial.trial_id)
        if rec is None or rec.status != "running":
            return
        rec.error = error_line(trial) + " (retrying)"
        self._end_run(rec, "failed", "FAILED", error=rec.error)

    def on_trial_result(self, iteration, trials, trial, result, **info):
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
        rec.data_store = result.get("data_store")
        step = int(result.get("epoch", result.get("training_iteration", 0)))
        now = int(time.time() * 1000)
        metrics = {k: float(v) for k, v in result.items() if is_metric(k, v) and finite(float(v))}
        if "trial_seconds" in result:
            metrics["trial_seconds"] = float(result["trial_seconds"])
        # Which worker process runs this attempt (operators kill stuck workers by PID; the fault tests too).
        tags = {"worker_pid": str(result["pid"])} if first and "pid" in result else {}

        def write() -> None:
            if rec.run_id:
                self._write(runs.log_batch, self.c, rec.run_id, metrics=metrics, step=step, timestamp_ms=now, tags=tags)

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
        error = error_line(trial)
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
        from seqsweep.ensemble import copy_model_files

        with checkpoint.as_directory() as ckpt_dir, tempfile.TemporaryDirectory(prefix="seqsweep-model-") as tmp:
            # the model is its model.json and weights; the checkpoint's other files go to the run, not the model
            model_dir = copy_model_files(ckpt_dir, Path(tmp) / "ensemble")
            uri = runs.log_trial_model(self.c, self.uri, rec.run_id, model_dir, self.example_sequences)
            oof = Path(ckpt_dir) / OOF_FILE
            if oof.is_file():  # out-of-fold probabilities, for ensembles of trials (seqsweep.final_model)
                runs.log_artifact(self.c, rec.run_id, oof, runs.OOF_ARTIFACT_DIR)
            evaluation = Path(ckpt_dir) / EVALUATION_JSON
            if evaluation.is_file():  # per-task or per-class CV scores (multilabel, multiclass, next_base)
                ev = json.loads(evaluation.read_text())
                names = [r["name"] for r in ev["outputs"]]
                rows = [{k: (math.nan if v is None else v) for k, v in r.items()} for r in ev["outputs"]]
                runs.log_output_report(
                    self.c, rec.run_id, rows=rows, names=names, confusion=ev.get("confusion"),
                    title=f"trial {rec.number} ({rec.config.get('architecture', '?')}), cross-validation",
                    artifact_dir="cv_evaluation", metric_prefix="cv",
                )
            return uri

    def _end_run(self, rec: TrialRecord, status: str, mlflow_status: str, error: str | None = None) -> None:
        rec.status = status
        rec.ended = time.time()
        rec.seconds = float(rec.last.get("trial_seconds", time.time() - rec.started))
        tags = {runs.TAG_STATUS: status}
        if rec.node:
            tags["ray.node_id"] = str(rec.node)
        if rec.host:
            tags["host"] = rec.host
        if rec.device:
            tags["device"] = rec.device
        if rec.precision:
            tags["precision"] = rec.precision
        if rec.data_store:
            tags["data.store"] = rec.data_store
        tags["duration_s"] = f"{rec.seconds:.2f}"
        if error:
            tags["seqsweep.error"] = error[:5000]

        def write() -> None:
            if rec.run_id:
                self._write(runs.log_batch, self.c, rec.run_id, tags=tags)
                self._write(runs.terminate, self.c, rec.run_id, mlflow_status)

        self._submit(write)
        self.emit(self.progress_line(rec))

    def progress_line(self, rec: TrialRecord) -> str:
        arch = rec.config.get("architecture", "?")
        keys = [k for k in sorted(rec.config) if k != "architecture" and (k.startswith(f"{arch}.") or "." not in k)]
        shown = " ".join(f"{k.split('.')[-1]}={_short(rec.config[k])}" for k in keys[:6])
        best = self.best()
        best_txt = f"best {best.last[self.metric]:.3f} (#{best.number})" if best else "best -"
        if best is not None and self.ranking.by != "mean":
            best_txt = f"best {self.ranking.score(best):.3f} lower bound (#{best.number})"
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
