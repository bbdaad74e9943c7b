"""SIGTERM (`timeout`, `docker stop`, a batch scheduler) stops a sweep the way Ctrl-C does, and --resume finishes it."""

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


def test_sigterm_stops_like_ctrl_c_exit_143_then_resume_finishes(tmp_path):
    trials = 3
    # 20 epochs a trial, one at a time: the signal lands while the second trial trains
    job = write_tiny_job(tmp_path, name="termed", trials=trials, epochs=20)
    job.write_text(job.read_text().replace("max_concurrent: 2", "max_concurrent: 1"))
    seed_store(tmp_path)
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlruns/mlflow.db")

    proc = subprocess.Popen([sys.executable, "-m", "seqsweep", "sweep", str(job)], cwd=tmp_path,
                            env=env_for(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 300
        finished = 0
        while time.time() < deadline and proc.poll() is None:
            exp = client.get_experiment_by_name("termed")
            if exp is not None:
                finished = sum(r.info.status == "FINISHED" for r in _trial_runs(client, exp.experiment_id))
                if finished >= 1:
                    break
            time.sleep(0.2)
        assert finished >= 1, "no trial finished before the deadline"
        proc.send_signal(signal.SIGTERM)  # what `timeout` and `docker stop` send, to the driver only
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err[-3000:]
    assert "SIGTERM received" not in err and "PC: @" not in err, err[-3000:]  # no C++ stack traces
    last = err.strip().splitlines()[-1]
    assert last == f"terminated (SIGTERM). Continue this sweep with: seqsweep sweep {job} --resume", err[-3000:]

    exp_id = client.get_experiment_by_name("termed").experiment_id
    parents = [r for r in client.search_runs([exp_id]) if r.data.tags.get("seqsweep.kind") == "sweep"]
    assert len(parents) == 1 and parents[0].info.status == "KILLED"
    runs = _trial_runs(client, exp_id)
    assert all(r.info.status in ("FINISHED", "KILLED") for r in runs), [(r.info.run_name, r.info.status) for r in runs]
    done_before = {r.data.tags["seqsweep.trial_id"] for r in runs if r.data.tags.get("seqsweep.status") == "completed"}
    assert 1 <= len(done_before) < trials

    resumed = run_cli(tmp_path, "sweep", str(job), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    parents_after = [r for r in client.search_runs([exp_id]) if r.data.tags.get("seqsweep.kind") == "sweep"]
    assert [p.info.run_id for p in parents_after] == [parents[0].info.run_id]
    assert parents_after[0].info.status == "FINISHED"
    runs = _trial_runs(client, exp_id)
    completed = {r.data.tags["seqsweep.trial_id"] for r in runs if r.data.tags.get("seqsweep.status") == "completed"}
    assert len(completed) == trials and done_before <= completed
    assert all(r.info.status != "RUNNING" for r in runs)
