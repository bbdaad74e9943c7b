"""The JUND job end to end on the real chr22 data, reduced to a few cheap trials so the path stays green.

The full `jobs/jund.yaml` (16 trials, 5 grouped folds, 15 epochs) is the search-quality run; this checks that
the same job, data, grouping by genomic block and held-out promotion work, on the same data.
"""

from __future__ import annotations

import shutil

import mlflow
import pytest

from e2e_helpers import ROOT, run_cli, seed_store

pytestmark = pytest.mark.e2e

JUND = ROOT.parent / "shared" / "data" / "jund-chr22" / "valid"


@pytest.mark.skipif(not (JUND / "shard-0-X.joblib").exists(), reason=f"real JUND data not found at {JUND}")
def test_reduced_jund_job(tmp_path):
    shutil.copytree(ROOT / "jobs", tmp_path / "jobs")
    shutil.copytree(ROOT / "search_spaces", tmp_path / "search_spaces")
    seed_store(tmp_path)
    proc = run_cli(
        tmp_path, "sweep", "jobs/jund.yaml",
        "--set", f"data.train={JUND}",
        "--set", "search.num_trials=2", "--set", "search.scheduler=none", "--set", "cv.folds=2",
        "--set", "train.max_epochs=1", "--set", "search.startup_trials=2",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    c = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    mv = c.get_model_version_by_alias("jund", "champion")
    # the champion was scored on the held-out 20% of chr22 (whole 1 Mb blocks never seen in tuning)
    assert 0.0 <= float(mv.tags["heldout_weighted_accuracy"]) <= 1.0
    assert int(mv.tags["heldout_rows"]) > 5000
    exp = c.get_experiment_by_name("jund")
    parent = [r for r in c.search_runs([exp.experiment_id]) if r.data.tags.get("seqsweep.kind") == "sweep"][0]
    assert int(parent.data.params["data.rows"]) + int(parent.data.params["data.test_rows"]) == 34527
    assert int(parent.data.params["data.positives"]) + int(parent.data.params["data.test_positives"]) == 146
