"""Sweeps in a row on one store: a better model takes `champion`, a worse one leaves it (saying why),
and `seqsweep promote --force` overrides. Real sweeps, real registry, held-out evaluation."""

from __future__ import annotations

import mlflow
import pytest

from e2e_helpers import run_cli, seed_store, write_tiny_job

pytestmark = pytest.mark.e2e

WEAK = "architecture: mlp\nlearning_rate: [1.0e-4]\nhidden_size: [4]\nbatch_size: [256]\nmlp.num_layers: [1]\n"
STRONG = ("architecture: deepbind\nlearning_rate: [1.0e-2]\nhidden_size: [16]\nbatch_size: [64]\n"
          "deepbind.filters: [16]\ndeepbind.kernel_size: [9]\n")


def test_better_model_takes_champion_worse_one_does_not_force_overrides(tmp_path):
    job = write_tiny_job(tmp_path, name="promo", trials=1, epochs=4, n=1500)
    seed_store(tmp_path)
    (tmp_path / "search_spaces" / "weak.yaml").write_text(WEAK)
    (tmp_path / "search_spaces" / "strong.yaml").write_text(STRONG)
    c = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")

    first = run_cli(tmp_path, "sweep", str(job), "--set", "search_space=search_spaces/weak.yaml")
    assert first.returncode == 0, first.stderr[-3000:]
    assert str(c.get_model_version_by_alias("promo", "champion").version) == "1"

    better = run_cli(tmp_path, "sweep", str(job), "--set", "search_space=search_spaces/strong.yaml")
    assert better.returncode == 0, better.stderr[-3000:]
    assert "PROMOTED to champion" in better.stdout
    assert str(c.get_model_version_by_alias("promo", "champion").version) == "2"
    v1, v2 = (c.get_model_version("promo", v) for v in ("1", "2"))
    assert float(v2.tags["heldout_weighted_accuracy"]) > float(v1.tags["heldout_weighted_accuracy"])

    worse = run_cli(tmp_path, "sweep", str(job), "--set", "search_space=search_spaces/weak.yaml")
    assert worse.returncode == 0, worse.stderr[-3000:]
    assert "champion unchanged" in worse.stdout and "does not beat" in worse.stdout
    assert str(c.get_model_version_by_alias("promo", "champion").version) == "2"
    assert str(c.get_model_version_by_alias("promo", "challenger").version) == "3"

    refused = run_cli(tmp_path, "promote", "promo", "3")
    assert refused.returncode == 1 and str(c.get_model_version_by_alias("promo", "champion").version) == "2"
    forced = run_cli(tmp_path, "promote", "promo", "3", "--force")
    assert forced.returncode == 0, forced.stderr[-2000:]
    assert str(c.get_model_version_by_alias("promo", "champion").version) == "3"
