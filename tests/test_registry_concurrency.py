"""Two processes promoting at the same moment: one decides first, the other compares with its result.

Both processes load everything, then wait on one file and call `promote_if_better` together. Without a lock
both read "no champion yet" and the last alias move wins, whichever version it is.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import mlflow
import pytest
import torch

from seqsweep import registry
from seqsweep.data import synth
from seqsweep.ensemble import save_ensemble
from seqsweep.models import create_model
from seqsweep.pyfunc_model import log_ensemble_model

from e2e_helpers import env_for, seed_store

NAME = "conc"

WORKER = """
import json, pathlib, sys, time
from seqsweep import data, registry
version, heldout, go = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
ds = data.load(heldout)
from seqsweep.registry import client
client.open_client(None)  # connect before the start signal
pathlib.Path(f"{go}.ready{version}").touch()
while not go.exists():
    time.sleep(0.01)
# bootstrap=0: the point scores decide, so "the better one is champion" is the oracle (the interval rule
# has tests of its own; here only the lock is tested)
decision = registry.promote_if_better("conc", version, test_data=ds, metric="roc_auc", bootstrap=0)
print(json.dumps(decision.to_dict()))
"""


@pytest.fixture
def two_versions(tmp_path, monkeypatch):
    """(home, held-out shard dir): model `conc` with versions 1 and 2 (two differently seeded MLPs), no champion."""
    seed_store(tmp_path)
    uri = f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    monkeypatch.setenv("SEQSWEEP_HOME", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    heldout = synth(tmp_path / "heldout", n=400, positive_rate=0.3, seed=1).source
    client = mlflow.MlflowClient(uri)
    exp = client.create_experiment("conc", artifact_location=(tmp_path / "mlruns" / "artifacts").as_uri())
    for seed in (1, 2):
        torch.manual_seed(seed)
        model = create_model("mlp", seq_len=101, hidden_size=8, num_layers=1)
        ens = save_ensemble(tmp_path / f"ens{seed}", architecture="mlp", hparams={"hidden_size": 8, "num_layers": 1},
                            seq_len=101, use_accessibility=False, rc_average=False, state_dicts=[model.state_dict()])
        run = client.create_run(exp)
        info = log_ensemble_model(ens, run_id=run.info.run_id, tracking_uri=uri)
        client.set_terminated(run.info.run_id)
        registry.register_trial_model(info.model_uri, model_name=NAME, tags={}, tracking_uri=uri)
    mlflow.set_tracking_uri(None)
    return tmp_path, heldout


def test_simultaneous_promotions_leave_the_better_version_champion(two_versions):
    home, heldout = two_versions
    go = home / "go"
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, v, heldout, str(go)], cwd=home, env=env_for(home),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for v in ("1", "2")]
    try:
        deadline = time.time() + 180
        while not all((home / f"go.ready{v}").exists() for v in ("1", "2")):
            assert time.time() < deadline and all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.05)
        go.touch()
        outs = [p.communicate(timeout=180) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert all(p.returncode == 0 for p in procs), [e[-2000:] for _, e in outs]
    decisions = [json.loads(o.strip().splitlines()[-1]) for o, _ in outs]

    # one of them found no champion; the other was compared with the champion the first one made
    firsts = [d for d in decisions if d["champion_version_before"] is None]
    assert len(firsts) == 1, [d["reason"] for d in decisions]
    second = next(d for d in decisions if d is not firsts[0])
    assert second["champion_version_before"] == firsts[0]["version"], second["reason"]

    client = mlflow.MlflowClient(f"sqlite:///{home}/mlruns/mlflow.db")
    champion = int(client.get_registered_model(NAME).aliases["champion"])
    scores = {d["version"]: d["challenger_score"] for d in decisions}
    assert scores[champion] == max(scores.values()), (champion, scores)
    assert scores[1] != scores[2], scores  # ROC AUC of two random networks: a tie would test nothing
    assert champion == max(scores, key=scores.get)
