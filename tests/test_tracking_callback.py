"""The sweep callback against a real sqlite MLflow store: Tune's hooks return without waiting for the store,
and `flush()` leaves every write done, in the order the events came."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import mlflow

from seqsweep.tracking.callback import SweepCallback
from seqsweep.tracking.ray_errors import error_line
from seqsweep.tracking.runs import TAG_STATUS

from e2e_helpers import seed_store


def _callback(home) -> tuple[SweepCallback, mlflow.MlflowClient]:
    seed_store(home)
    uri = f"sqlite:///{home}/mlruns/mlflow.db"
    reader = mlflow.MlflowClient(tracking_uri=uri)
    experiment_id = reader.create_experiment("cb")
    parent = reader.create_run(experiment_id).info.run_id
    cb = SweepCallback(uri=uri, experiment_id=experiment_id, parent_run_id=parent, sweep_id="s1",
                       metric="cv_weighted_accuracy", num_trials=1, example_sequences=["ACGT"])
    return cb, reader


def _result(epoch: int, value: float) -> dict:
    return {"epoch": epoch, "epochs_planned": 2, "training_iteration": epoch, "cv_weighted_accuracy": value,
            "cv_roc_auc": value + 0.1, "trial_seconds": float(epoch), "pid": 4242}


def test_hooks_do_not_wait_for_the_store_and_flush_writes_everything_in_order(tmp_path):
    cb, reader = _callback(tmp_path)
    gate = threading.Event()
    real_log_batch = cb.c.log_batch

    def held_log_batch(*args, **kwargs):  # the store is slow: every log_batch waits for the gate
        assert gate.wait(60), "the gate was never opened"
        return real_log_batch(*args, **kwargs)

    cb.c.log_batch = held_log_batch
    trial = SimpleNamespace(trial_id="t1", config={"architecture": "cnn", "learning_rate": 0.01}, checkpoint=None)

    # Each hook must return while the writer thread is held (were a write made on Tune's loop, this would hang).
    done = threading.Event()

    def tune_loop() -> None:
        cb.on_trial_start(0, [], trial)
        cb.on_trial_result(0, [], trial, _result(1, 0.6))
        cb.on_trial_result(0, [], trial, _result(2, 0.7))
        cb.on_trial_complete(0, [], trial)
        done.set()

    threading.Thread(target=tune_loop, daemon=True).start()
    assert done.wait(30), "a Tune hook waited for the tracking store"
    rec = cb.trials["t1"]
    assert rec.status == "completed" and rec.last["cv_weighted_accuracy"] == 0.7
    for _ in range(600):  # the writer creates the run (create_run is not held), then waits at the gate
        if rec.run_id:
            break
        threading.Event().wait(0.05)
    run = reader.get_run(rec.run_id)
    assert run.data.metrics == {} and run.info.status == "RUNNING"  # nothing else written yet

    gate.set()
    cb.flush()
    run = reader.get_run(rec.run_id)
    assert run.info.status == "FINISHED" and run.data.tags[TAG_STATUS] == "completed"
    assert run.data.tags["worker_pid"] == "4242" and run.data.params["learning_rate"] == "0.01"
    history = reader.get_metric_history(rec.run_id, "cv_weighted_accuracy")
    assert [(m.step, m.value) for m in history] == [(1, 0.6), (2, 0.7)]
    assert cb.store_error is None


def test_a_store_failure_on_the_writer_thread_is_recorded_and_later_writes_are_skipped(tmp_path):
    cb, reader = _callback(tmp_path)
    calls = []

    def broken_log_batch(*args, **kwargs):
        calls.append(kwargs.keys())
        raise ConnectionError("store went away")

    cb.c.log_batch = broken_log_batch
    trial = SimpleNamespace(trial_id="t1", config={"architecture": "cnn"}, checkpoint=None)
    cb.on_trial_start(0, [], trial)
    cb.on_trial_result(0, [], trial, _result(1, 0.6))
    cb.on_trial_complete(0, [], trial)
    cb.flush()
    assert cb.store_error is not None and "store went away" in cb.store_error
    assert len(calls) == 1  # the params; after the first failure nothing else is attempted
    assert cb.trials["t1"].status == "pruned"  # the driver's own record is complete regardless


# What Tune writes to a trial's error.txt: one block per failure; a dead worker has no traceback.
WORKER_DIED = """Failure # 1 (occurred at 2026-12-02_06-26-17)
The actor died unexpectedly before finishing this task.
\tclass_name: ImplicitFunc
\tpid: 29848
The actor is dead because its worker process has died. Worker exit type: SYSTEM_ERROR Worker exit detail: Worker \
unexpectedly exits with a connection error code 2. End of file. Some common causes include: (1) the process was killed
"""
RAISED = """Failure # 2 (occurred at 2026-12-02_06-30-45)
\x1b[36mray::ImplicitFunc.train()\x1b[39m (pid=31380, ip=192.0.2.2, actor_id=0e15f22c2d2a69ab2b0aab8601000000, repr=run_trial)
  File "/work/main/platform/seqsweep/train.py", line 418, in _check_loss
    raise TrainingError(
seqsweep.train.TrainingError: architecture 'mlp': training loss became nan in fold 0 at epoch 1
"""


def _failed_trial(tmp_path, trial_id: str, text: str = WORKER_DIED) -> SimpleNamespace:
    error_file = tmp_path / f"{trial_id}-error.txt"
    error_file.write_text(text)
    return SimpleNamespace(trial_id=trial_id, config={"architecture": "mlp"}, checkpoint=None,
                           error_file=str(error_file))


def test_error_line_is_the_last_failure_in_one_line(tmp_path):
    died = "The actor died unexpectedly before finishing this task. The actor is dead because its worker process has died."
    assert error_line(_failed_trial(tmp_path, "a")) == died
    assert error_line(_failed_trial(tmp_path, "b", WORKER_DIED + RAISED)) == (
        "seqsweep.train.TrainingError: architecture 'mlp': training loss became nan in fold 0 at epoch 1")
    assert error_line(_failed_trial(tmp_path, "c", RAISED + WORKER_DIED.replace("# 1", "# 3"))) == died


def test_a_trial_that_fails_before_it_starts_is_accounted_for(tmp_path):
    """Tune errors a trial without retrying it when the reused worker it is handed to dies: the trial gets a
    FAILED run of its own (it used to be missing, which made a finished sweep look interrupted)."""
    cb, reader = _callback(tmp_path)
    never_started = _failed_trial(tmp_path, "t1")
    cb.on_trial_error(0, [], never_started)
    # a trial whose retry (attempt 2) dies before it starts: attempt 1 stays as it was, attempt 2 is a run too
    retried = _failed_trial(tmp_path, "t2")
    cb.on_trial_start(0, [], retried)
    cb.on_trial_result(0, [], retried, _result(1, 0.6))
    cb.on_trial_recover(0, [], retried)
    cb.on_trial_error(0, [], retried)
    cb.flush()

    assert [r.status for r in cb.trials.values()] == ["failed", "failed"]
    assert all(r.status != "running" for r in cb.trials.values())  # what the sweep counts as ended
    runs = {(r.data.tags["seqsweep.trial_id"], r.data.tags["seqsweep.attempt"]): r
            for r in reader.search_runs([cb.experiment_id]) if r.data.tags.get("seqsweep.kind") == "trial"}
    assert sorted(runs) == [("t1", "1"), ("t2", "1"), ("t2", "2")]
    assert all(r.info.status == "FAILED" for r in runs.values())
    assert runs[("t1", "1")].data.tags["seqsweep.error"] == (
        "The actor died unexpectedly before finishing this task. The actor is dead because its worker process has "
        "died. (before the trial started; Ray Tune does not retry that)")
    assert runs[("t2", "1")].data.tags["seqsweep.error"].endswith("(retrying)")
    assert runs[("t2", "2")].data.tags["seqsweep.error"].endswith("(before the trial started; Ray Tune does not retry that)")
