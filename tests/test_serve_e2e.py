"""Serving the champion over HTTP, used as a person would: `seqsweep serve`, then plain HTTP requests.

After a real tiny sweep, `seqsweep serve --model models:/tiny@champion` runs `mlflow models serve` in this
environment; the tests POST to /invocations the way the curl example in docs/tracking.md does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

from e2e_helpers import env_for
from ui_helpers import SHARED_JOB, Server, free_port, http, listening_addresses, shared_sweep

pytestmark = pytest.mark.e2e

MODEL_URI = f"models:/{SHARED_JOB}@champion"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """(home, sequence length the sweep's data has) of the shared tiny sweep."""
    home, proc = shared_sweep(tmp_path_factory)
    assert proc.returncode == 0, f"the tiny sweep failed:\n{proc.stderr[-3000:]}"
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{home}/mlruns/mlflow.db")
    exp = client.get_experiment_by_name(SHARED_JOB)
    sweep_run = client.search_runs([exp.experiment_id], filter_string="tags.`seqsweep.kind` = 'sweep'")[0]
    return home, int(sweep_run.data.params["data.length"])


def _env_as_make_runs_it(home: Path) -> dict[str, str]:
    """`make serve` runs .venv/bin/seqsweep without activating the virtualenv: its bin/ is not on PATH."""
    env = env_for(home)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != venv_bin)
    return env


@pytest.fixture(scope="module")
def server(store):
    """(base URL, port) of `seqsweep serve --model models:/tiny@champion --port P`, up and answering."""
    home, _ = store
    port = free_port()
    srv = Server(home, "serve", "--model", MODEL_URI, "--port", str(port), log=home / "serve.log",
                 env=_env_as_make_runs_it(home))
    try:
        srv.wait_until_up(f"http://127.0.0.1:{port}/ping", timeout=180)  # 10-60 s: it loads torch and the model
        yield f"http://127.0.0.1:{port}", port
    finally:
        srv.stop()


def _sequences(length: int) -> list[str]:
    """Three sequences of the model's length: upper case, lower case, and one with Ns."""
    return [("ACGTTGCA" * 20)[:length], ("ttgactcatcc" * 10)[:length].ljust(length, "a"), "N" * 5 + ("GATC" * 30)[: length - 5]]


def _invocations(base: str, columns: list[str], rows: list[list]) -> tuple[int, str]:
    return http("POST", f"{base}/invocations", {"dataframe_split": {"columns": columns, "data": rows}})


def test_invocations_return_the_champions_probability_and_label_per_row(server, store):
    base, _ = server
    home, length = store
    seqs = _sequences(length)
    status, body = _invocations(base, ["sequence"], [[s] for s in seqs])
    assert status == 200, body
    predictions = json.loads(body)["predictions"]
    assert len(predictions) == len(seqs), predictions
    for p in predictions:
        assert set(p) == {"probability", "label"}, p
        assert 0.0 <= p["probability"] <= 1.0 and p["label"] == int(p["probability"] > 0.5), p

    # The server serves the registered champion: the same numbers as loading it with MLflow, in a fresh process.
    code = (
        "import json, sys, mlflow, pandas as pd\n"
        "m = mlflow.pyfunc.load_model(sys.argv[1])\n"
        "print(json.dumps(m.predict(pd.DataFrame({'sequence': json.loads(sys.argv[2])}))['probability'].tolist()))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, MODEL_URI, json.dumps(seqs)], env=env_for(home),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    expected = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [p["probability"] for p in predictions] == pytest.approx(expected, abs=1e-6)


def test_a_sequence_of_the_wrong_length_is_refused_with_the_reason(server, store):
    base, _ = server
    _, length = store
    status, body = _invocations(base, ["sequence"], [[_sequences(length)[0]], ["ACGT"]])
    assert 400 <= status < 600, (status, body)
    assert f"expects {length}" in body and "length 4" in body, body


def test_a_missing_sequence_column_is_refused_naming_it(server, store):
    base, _ = server
    _, length = store
    status, body = _invocations(base, ["seq"], [[_sequences(length)[0]]])
    assert 400 <= status < 500, (status, body)
    assert "sequence" in json.loads(body)["message"], body


def test_server_listens_on_loopback_only(server):
    _, port = server
    assert listening_addresses(port) == {"127.0.0.1"}
