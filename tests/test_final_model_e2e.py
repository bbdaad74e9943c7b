"""A sweep whose final model is an ensemble of trials, end to end: real Ray, MLflow store and registry.

Three trials of one fixed configuration train identical models, so their ensemble ties the best trial by CV
and is kept (on a tie the ensemble wins): the registered version is a format-3 model of three members logged
in the sweep's run, whose predictions are those of any one trial. The trials keep their out-of-fold
predictions as run artifacts, not inside their models.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from e2e_helpers import run_cli, seed_store, write_tiny_job

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def no_process_wide_uri_left():
    yield
    mlflow.set_tracking_uri(None)  # the test points MLflow's process-wide URI into its tmp dir

FIXED = "architecture: cnn\nlearning_rate: 5.0e-3\nhidden_size: 16\nbatch_size: 128\ncnn.filters: 8\ncnn.kernel_size: 9\n"


def test_a_tie_by_cv_registers_the_ensemble_of_the_top_trials(tmp_path):
    job = write_tiny_job(tmp_path, name="ens", trials=3, epochs=2, n=1500)
    job.write_text(job.read_text().replace("registry: {model_name: ens}",
                                           "registry: {model_name: ens, top_k: 3}").replace(
        "search_space: search_spaces/tiny.yaml", "search_space: search_spaces/fixed.yaml"))
    (tmp_path / "search_spaces" / "fixed.yaml").write_text(FIXED)
    seed_store(tmp_path)
    proc = run_cli(tmp_path, "sweep", str(job))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "ranked by cv_weighted_accuracy mean - 1 standard error over the folds" in out
    assert "NOT SEPARABLE" in out  # identical trials cannot be told apart
    assert "final model: the ensemble, by CV on the training part only: top-3 ensemble" in out
    assert "ensemble - best +0.000" in out and "PROMOTED to champion" in out
    assert "held-out, version 1: weighted_accuracy 0." in out and "(95% intervals, bootstrap)" in out

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlruns/mlflow.db")  # models:/ URIs resolve through it
    c = mlflow.MlflowClient()
    mv = c.get_model_version_by_alias("ens", "champion")
    exp = c.get_experiment_by_name("ens")
    runs = c.search_runs([exp.experiment_id])
    parent = next(r for r in runs if r.data.tags.get("seqsweep.kind") == "sweep")
    trials = [r for r in runs if r.data.tags.get("seqsweep.kind") == "trial"]
    assert mv.run_id == parent.info.run_id == mv.tags["sweep_run_id"]
    assert mv.tags["final"].startswith("top-3 ensemble") and sorted(mv.tags["trial"].split(",")) == ["1", "2", "3"]
    for key in ("cv_weighted_accuracy_se", "cv_weighted_accuracy_ci_low", "cv_weighted_accuracy_ci_high",
                "heldout_weighted_accuracy_ci_low", "heldout_roc_auc_ci_high"):
        assert key in mv.tags, key
    assert float(mv.tags["cv_weighted_accuracy_ci_low"]) <= float(mv.tags["cv_weighted_accuracy"])
    assert parent.data.tags["registry.final"] == mv.tags["final"]
    assert parent.data.metrics["heldout_roc_auc_ci_low"] == pytest.approx(float(mv.tags["heldout_roc_auc_ci_low"]))

    # each trial's out-of-fold predictions are an artifact of its run, not a file of its model
    for r in trials:
        assert [a.path for a in c.list_artifacts(r.info.run_id, "cv_predictions")] == ["cv_predictions/cv_predictions.safetensors"]
        model_dir = Path(mlflow.artifacts.download_artifacts(r.data.tags["seqsweep.model_uri"], dst_path=str(tmp_path / r.info.run_id)))
        assert not list(model_dir.rglob("cv_predictions*"))

    # the registered ensemble: three members; it predicts what one (identical) trial predicts
    local = Path(mlflow.artifacts.download_artifacts(f"models:/ens/{mv.version}", dst_path=str(tmp_path / "reg")))
    [meta_file] = [p for p in local.rglob("model.json") if p.parent.name.startswith("ensemble")]
    meta = json.loads(meta_file.read_text())
    assert meta["format_version"] == 3 and meta["members"] == ["member0", "member1", "member2"]
    seqs = pd.DataFrame({"sequence": ["ACGT" * 25 + "A", "TGACTCA" * 14 + "ACG"]})
    p_ens = mlflow.pyfunc.load_model(f"models:/ens/{mv.version}").predict(seqs)["probability"].to_numpy()
    p_one = mlflow.pyfunc.load_model(trials[0].data.tags["seqsweep.model_uri"]).predict(seqs)["probability"].to_numpy()
    np.testing.assert_allclose(p_ens, p_one, rtol=1e-5)
