"""Security defaults: telemetry off, credentials redacted, everything listens on 127.0.0.1 by default."""

from __future__ import annotations

import subprocess
import sys

import pytest

from seqsweep import cli, store


def test_mlflow_telemetry_is_off_once_seqsweep_is_imported():
    code = (
        "import os; os.environ.pop('MLFLOW_DISABLE_TELEMETRY', None); os.environ.pop('DO_NOT_TRACK', None)\n"
        "import seqsweep.store\n"
        "from mlflow.telemetry.utils import is_telemetry_disabled\n"
        "print(os.environ['MLFLOW_DISABLE_TELEMETRY'], is_telemetry_disabled())\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK", "CI")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["true", "True"]


@pytest.mark.parametrize(
    "uri, shown",
    [
        ("https://alice:s3cr3t@mlflow.example.org", "https://alice:***@mlflow.example.org"),
        ("postgresql://svc:p%40ss@db:5432/mlflow", "postgresql://svc:***@db:5432/mlflow"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("sqlite:////abs/mlruns/mlflow.db", "sqlite:////abs/mlruns/mlflow.db"),
    ],
)
def test_credentials_in_tracking_uris_are_redacted(uri, shown):
    assert store.redact(uri) == shown


def test_job_tracking_uri_password_never_reaches_mlflow(tmp_path, monkeypatch):
    """The parent run's tags and job.json carry the redacted URI (checked on a real sqlite store)."""
    import json

    import mlflow

    from seqsweep import tracking
    from seqsweep.config import load_job

    from e2e_helpers import seed_store, write_tiny_job

    seed_store(tmp_path)
    monkeypatch.setenv("SEQSWEEP_HOME", str(tmp_path))
    job = load_job(write_tiny_job(tmp_path), ["tracking.uri=https://bob:hunter2@mlflow.example.org"])
    uri = f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    exp = tracking.open_store(uri, "sec")
    rid = tracking.start_sweep_run(uri, exp, sweep_id="s1", job=job, search_space_text="architecture: cnn\n",
                                   data_info={"fingerprint": "f"})
    c = mlflow.MlflowClient(uri)
    run = c.get_run(rid)
    everything = json.dumps([run.data.tags, run.data.params])
    local = c.download_artifacts(rid, "job.json", str(tmp_path / "dl"))
    everything += open(local).read()
    assert "hunter2" not in everything
    assert "bob:***@mlflow.example.org" in open(local).read()


HOST_FLAGS = ("--host", "-h")


@pytest.mark.parametrize("argv, program", [
    (["ui"], ["ui"]),
    (["serve", "--model", "models:/x@champion"], ["-m", "mlflow", "models", "serve"]),
    (["dashboard"], ["optuna-dashboard"]),
])
def test_servers_bind_loopback_by_default(argv, program, tmp_path, monkeypatch):
    """The argv each server command actually executes binds 127.0.0.1 (nothing is started: processes.run_foreground
    is where the CLI hands over, and it is intercepted there)."""
    from seqsweep import processes

    executed: list[list[str]] = []
    monkeypatch.setattr(processes, "run_foreground", lambda cmd, *a, **kw: executed.append(list(cmd)) or 0)
    monkeypatch.setenv("SEQSWEEP_HOME", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    monkeypatch.setenv("PATH", __import__("os").environ["PATH"])  # _exec prepends the venv's bin/
    (tmp_path / "mlruns").mkdir()
    (tmp_path / "mlruns" / "optuna.db").touch()  # the dashboard refuses to start without a study database

    assert cli.main(argv) == 0
    assert len(executed) == 1
    cmd = executed[0]
    joined = " ".join(cmd)
    assert " ".join(program) in joined  # the real server command, not something else
    hosts = [cmd[i + 1] for i, arg in enumerate(cmd) if arg in HOST_FLAGS]
    assert hosts == ["127.0.0.1"], cmd
    assert "0.0.0.0" not in joined and "::" not in cmd


def test_serve_command_binds_loopback():
    from seqsweep.predict import serve_command

    argv = serve_command("models:/x@champion")
    assert argv[argv.index("-h") + 1] == "127.0.0.1" if "-h" in argv else argv[argv.index("--host") + 1] == "127.0.0.1"

