"""End to end: a tiny sweep with real Ray, Optuna, a real sqlite MLflow store and the model registry."""

from __future__ import annotations

import json
import subprocess
import sys

import mlflow
import pytest
import torch

from seqsweep.models import create_model
from seqsweep.train import bf16_hardware

from e2e_helpers import env_for, run_cli, seed_store, write_tiny_job

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    job = write_tiny_job(home, trials=3, epochs=2)
    seed_store(home)
    proc = run_cli(home, "sweep", str(job))
    return home, proc


def _client(home):
    return mlflow.MlflowClient(tracking_uri=f"sqlite:///{home}/mlruns/mlflow.db")


def test_sweep_exits_zero_and_prints_leaderboard(swept):
    home, proc = swept
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "cv_weighted_accuracy" in proc.stdout and "3 trials: 3 completed" in proc.stdout
    # one progress line per finished trial on stderr
    assert proc.stderr.count("trial ") >= 3 and "best " in proc.stderr


def test_parent_and_child_runs_with_per_epoch_metrics(swept):
    home, _ = swept
    c = _client(home)
    exp = c.get_experiment_by_name("tiny")
    runs = c.search_runs([exp.experiment_id])
    parents = [r for r in runs if r.data.tags.get("seqsweep.kind") == "sweep"]
    children = [r for r in runs if r.data.tags.get("seqsweep.kind") == "trial"]
    assert len(parents) == 1 and len(children) == 3
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["data.fingerprint"]
    assert "version.torch" in parent.data.params and parent.data.params["num_trials"] == "3"
    artifacts = {a.path for a in c.list_artifacts(parent.info.run_id)}
    assert {"job.json", "leaderboard.csv", "best_trial.json", "plots", "search_space"} <= artifacts
    plots = {a.path for a in c.list_artifacts(parent.info.run_id, "plots")}
    assert "plots/optimization_history.png" in plots and "plots/scores_per_architecture.png" in plots
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.info.status == "FINISHED" and child.data.tags["seqsweep.status"] == "completed"
        assert "architecture" in child.data.params and "learning_rate" in child.data.params
        history = c.get_metric_history(child.info.run_id, "cv_weighted_accuracy")
        assert sorted(m.step for m in history) == [1, 2]
        for k in ("cv_weighted_accuracy_std", "cv_roc_auc", "cv_pr_auc", "fold0_weighted_accuracy",
                  "fold1_weighted_accuracy", "train_loss"):
            assert k in child.data.metrics, k
        assert 0.0 <= child.data.metrics["cv_weighted_accuracy"] <= 1.0
        # train.precision 'auto', resolved in the trial and tagged on its run
        arch = child.data.params["architecture"]
        bf16 = bf16_hardware(torch.device("cpu")) and create_model(arch).bf16_pays
        assert child.data.tags["precision"] == ("bfloat16" if bf16 else "float32"), arch


def test_every_completed_trial_model_loads_in_a_fresh_process(swept):
    home, _ = swept
    c = _client(home)
    exp = c.get_experiment_by_name("tiny")
    children = [r for r in c.search_runs([exp.experiment_id]) if r.data.tags.get("seqsweep.kind") == "trial"]
    uris = [r.data.tags["seqsweep.model_uri"] for r in children]
    assert len(uris) == 3
    # each model sits in the job's experiment, its files under the home's artifact root (not in Default)
    for uri in uris:
        model = c.get_logged_model(uri.split("/")[-1])
        assert model.experiment_id == exp.experiment_id
        assert model.artifact_location.startswith((home / "mlruns" / "artifacts").as_uri())
    code = (
        "import json, sys, mlflow, pandas as pd\n"
        "out = {}\n"
        "for uri in json.loads(sys.argv[1]):\n"
        "    m = mlflow.pyfunc.load_model(uri)\n"
        "    p = m.predict(pd.DataFrame({'sequence': ['ACGT' * 25 + 'A', 'acgtn' * 20 + 'N']}))\n"
        "    out[uri] = [list(p.columns), p['probability'].tolist()]\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(uris)], env=env_for(home), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for cols, probs in out.values():
        assert cols == ["probability", "label"]
        assert len(probs) == 2 and all(0.0 <= p <= 1.0 for p in probs)


def test_best_trial_registered_and_promoted(swept):
    home, _ = swept
    c = _client(home)
    mv = c.get_model_version_by_alias("tiny", "champion")
    assert str(mv.version) == "1"
    assert str(c.get_model_version_by_alias("tiny", "challenger").version) == "1"
    assert mv.tags["job"] == "tiny" and float(mv.tags["cv_weighted_accuracy"]) > 0


def test_dry_run_builds_each_architecture_and_starts_nothing(tmp_path):
    job = write_tiny_job(tmp_path, name="dry")
    proc = run_cli(tmp_path, "sweep", str(job), "--dry-run")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "cnn" in proc.stdout and "mlp" in proc.stdout and "builds" in proc.stdout
    assert not (tmp_path / "mlruns" / "mlflow.db").exists()


def test_optuna_study_storage_is_wal_and_keeps_studies(tmp_path):
    import optuna
    import sqlalchemy

    from seqsweep.runtime import optuna_storage

    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    storage = optuna_storage(url)
    with storage.engine.connect() as conn:
        assert conn.execute(sqlalchemy.text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(sqlalchemy.text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    study = optuna.create_study(storage=storage, study_name="s", direction="maximize")
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    trial.report(0.5, 1)
    study.tell(trial, 0.7)
    # what sweep.run reads back at the end, through a storage of its own
    again = optuna.load_study(study_name="s", storage=url)
    assert [t.value for t in again.trials] == [0.7] and again.trials[0].intermediate_values == {1: 0.5}


def test_asha_prunes_on_its_own_metric(tmp_path):
    from seqsweep.config import load_job
    from seqsweep.runtime import scheduler

    job_path = write_tiny_job(tmp_path)
    text = job_path.read_text().replace("scheduler: none", "scheduler: asha, grace_period: 1")
    job_path.write_text(text)
    default = scheduler(load_job(job_path))
    assert default.metric == "cv_weighted_accuracy"
    job_path.write_text(text.replace("grace_period: 1", "grace_period: 1, prune_metric: cv_roc_auc"))
    on_auc = scheduler(load_job(job_path))
    assert on_auc.metric == "cv_roc_auc"


def test_sweep_with_asha_pruning_on_roc_auc(tmp_path):
    # Tune refuses a metric given to both the Tuner and the scheduler: the sweep passes it to ASHA only.
    job = write_tiny_job(tmp_path, trials=4, epochs=3)
    job.write_text(job.read_text().replace(
        "scheduler: none", "scheduler: asha, grace_period: 1, reduction_factor: 2, prune_metric: cv_roc_auc"))
    seed_store(tmp_path)
    proc = run_cli(tmp_path, "sweep", str(job))
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = _client(tmp_path)
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], filter_string="tags.`seqsweep.kind` = 'trial'"
    )
    statuses = sorted(r.data.tags["seqsweep.status"] for r in runs)
    assert len(runs) == 4 and set(statuses) <= {"completed", "pruned"} and "completed" in statuses
    # every epoch a trial ran is in its run's history, pruned or not
    for r in runs:
        hist = client.get_metric_history(r.info.run_id, "cv_roc_auc")
        assert [m.step for m in hist] == list(range(1, len(hist) + 1))
