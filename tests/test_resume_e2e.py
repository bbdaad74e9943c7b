"""An interrupted sweep (Ctrl-C, or SIGTERM from `timeout`, `docker stop`, a batch scheduler) continues with
--resume to exactly num_trials trials, in the same parent run."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import mlflow
import pytest

from e2e_helpers import env_for, run_cli, seed_store, write_tiny_job

pytestmark = pytest.mark.e2e


def _trial_runs(client, exp_id):
    return [r for r in client.search_runs([exp_id]) if r.data.tags.get("seqsweep.kind") == "trial"]


@pytest.mark.parametrize(
    "sig, code, last_line",
    [(signal.SIGINT, 130, "interrupted. Continue this sweep with: seqsweep sweep {job} --resume"),
     (signal.SIGTERM, 143, "terminated (SIGTERM). Continue this sweep with: seqsweep sweep {job} --resume")],
    ids=["ctrl-c", "sigterm"],
)
def test_interrupt_then_resume_finishes_the_same_sweep(tmp_path, sig, code, last_line):
    # Enough work after the first trial that the signal lands mid-sweep on a fast machine too: at 3 epochs all
    # 4 trials were once done 0.1-0.8 s each before the signal went out.
    trials = 6
    job = write_tiny_job(tmp_path, name="resumable", trials=trials, epochs=20, extra="")
    text = job.read_text().replace("max_concurrent: 2", "max_concurrent: 1")
    job.write_text(text)
    seed_store(tmp_path)
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlruns/mlflow.db")

    proc = subprocess.Popen([sys.executable, "-m", "seqsweep", "sweep", str(job)], cwd=tmp_path,
                            env=env_for(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 300
        finished = 0
        while time.time() < deadline and proc.poll() is None:
            exp = client.get_experiment_by_name("resumable")
            if exp is not None:
                finished = sum(r.info.status == "FINISHED" for r in _trial_runs(client, exp.experiment_id))
                if finished >= 1:
                    break
            time.sleep(0.2)
        assert finished >= 1, "no trial finished before the deadline"
        proc.send_signal(sig)  # to the driver only, as Ctrl-C in a terminal or `timeout` would
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err[-3000:]
    assert "SIGTERM received" not in err and "PC: @" not in err, err[-3000:]  # no C++ stack traces
    assert err.strip().splitlines()[-1] == last_line.format(job=job), err[-3000:]

    exp_id = client.get_experiment_by_name("resumable").experiment_id
    parents = [r for r in client.search_runs([exp_id]) if r.data.tags.get("seqsweep.kind") == "sweep"]
    assert len(parents) == 1 and parents[0].info.status == "KILLED"
    assert all(r.info.status in ("FINISHED", "KILLED") for r in _trial_runs(client, exp_id))
    done_before = {r.data.tags["seqsweep.trial_id"] for r in _trial_runs(client, exp_id)
                   if r.data.tags.get("seqsweep.status") == "completed"}
    assert 1 <= len(done_before) < trials

    resumed = run_cli(tmp_path, "sweep", str(job), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    parents_after = [r for r in client.search_runs([exp_id]) if r.data.tags.get("seqsweep.kind") == "sweep"]
    assert [p.info.run_id for p in parents_after] == [parents[0].info.run_id]
    assert parents_after[0].info.status == "FINISHED"
    runs = _trial_runs(client, exp_id)
    completed = {r.data.tags["seqsweep.trial_id"] for r in runs if r.data.tags.get("seqsweep.status") == "completed"}
    assert len(completed) == trials and done_before <= completed
    # a trial finished before the interruption was not logged again
    for tid in done_before:
        assert sum(r.data.tags["seqsweep.trial_id"] == tid for r in runs) == 1
    assert all(r.info.status != "RUNNING" for r in runs)
