"""A tracking server that goes away mid-sweep: the sweep neither hangs nor loses the trials' results."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from e2e_helpers import env_for, seed_store, write_tiny_job

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _finished_trials(db: Path) -> int:
    if not db.exists():
        return 0
    con = sqlite3.connect(db)
    try:
        return con.execute(
            "select count(*) from runs r join tags t on t.run_uuid = r.run_uuid "
            "where t.key = 'seqsweep.kind' and t.value = 'trial' and r.status = 'FINISHED'"
        ).fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def test_server_dies_mid_sweep(tmp_path):
    server_home = tmp_path / "server"
    seed_store(server_home)
    db = server_home / "mlruns" / "mlflow.db"
    port = _free_port()
    mlflow_bin = str(Path(sys.executable).with_name("mlflow"))
    server = subprocess.Popen(
        [mlflow_bin, "server", "--backend-store-uri", f"sqlite:///{db}", "--artifacts-destination",
         str(server_home / "artifacts"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    sweep = None
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not start")

        job = write_tiny_job(tmp_path, name="outage", trials=4, epochs=3, n=2000)
        job.write_text(job.read_text().replace("max_concurrent: 2", "max_concurrent: 1"))
        env = env_for(tmp_path)
        env.pop("MLFLOW_TRACKING_URI")
        sweep = subprocess.Popen([sys.executable, "-m", "seqsweep", "sweep", str(job), "--set",
                                  f"tracking.uri=http://127.0.0.1:{port}"], cwd=tmp_path, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        deadline = time.time() + 300
        while time.time() < deadline and _finished_trials(db) < 1 and sweep.poll() is None:
            time.sleep(0.5)
        assert _finished_trials(db) >= 1
        os.killpg(server.pid, signal.SIGKILL)  # the tracking server goes away
        out, err = sweep.communicate(timeout=400)  # ... and the sweep still ends, in bounded time
    finally:
        for p in (server, sweep):
            if p is not None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    assert sweep.returncode == 1, err[-3000:]
    assert "tracking store http://127.0.0.1" in err and "failed" in err
    assert "NOTE: the tracking store" in out
    results = list((tmp_path / "mlruns" / "tune").glob("outage-*/seqsweep_results.json"))
    assert len(results) == 1
    saved = json.loads(results[0].read_text())
    assert len(saved["trials"]) == 4
    completed = [t for t in saved["trials"] if t["status"] == "completed"]
    assert len(completed) == 4
    for t in completed:
        assert 0.0 <= t["metrics"]["cv_weighted_accuracy"] <= 1.0 and t["metrics"]["epoch"] == 3
        assert t["checkpoint"] and Path(t["checkpoint"], "model.json").exists()
