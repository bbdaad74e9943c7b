"""`data.synthetic` generates only into the project's data/generated/: a typo in `data.train` is an error."""

from __future__ import annotations

import shutil

import pytest

from seqsweep import cli

from e2e_helpers import ROOT


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A project home holding the shipped quickstart job and its search space."""
    for rel in ("jobs/quickstart.yaml", "search_spaces/quick.yaml"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    monkeypatch.setenv("SEQSWEEP_HOME", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    return tmp_path


SMALL = ["--set", "data.synthetic.n=300", "--set", "search.num_trials=1", "--set", "train.max_epochs=1"]


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "sweep"])
def test_a_missing_data_train_outside_data_generated_is_no_such_file(home, tmp_path_factory, capsys, dry_run):
    typo = tmp_path_factory.mktemp("elsewhere") / "does-not-exist"
    argv = ["sweep", str(home / "jobs/quickstart.yaml"), "--set", f"data.train={typo}", *SMALL]
    code = cli.main(argv + (["--dry-run"] if dry_run else []))
    err = capsys.readouterr().err
    assert not typo.exists(), "synthetic data was generated at the mistyped path"
    assert code == 2, err
    lines = [ln for ln in err.splitlines() if ln.startswith("seqsweep: error:")]
    assert len(lines) == 1 and f"{typo}: no such file or directory" in lines[0], err
    assert not (home / "mlruns").exists()  # nothing reached the store


def test_the_jobs_own_generated_data_is_still_generated(home, capsys):
    code = cli.main(["sweep", str(home / "jobs/quickstart.yaml"), *SMALL, "--dry-run"])
    assert code == 0, capsys.readouterr().err
    assert (home / "data/generated/quickstart/shard-0-X.joblib").exists()
