"""Shared fixtures. Keep this small; add a fixture here only when several test files need it."""

from __future__ import annotations

from pathlib import Path

import pytest

import mlflow

from seqsweep import store
from seqsweep.data import Dataset, load, synth

#: The real JUND chr22 validation split (DeepChem shards), outside the repo; tests skip when it is absent.
JUND_VALID = Path(__file__).resolve().parents[1].parent / "shared/data/jund-chr22/valid"


@pytest.fixture(scope="session")
def synthetic_shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shard directory: 2,000 rows of length 101, 10% positives carrying a JUND/AP-1 site, with accessibility."""
    out = tmp_path_factory.mktemp("synthetic") / "shards"
    synth(out, n=2000, positive_rate=0.1, seed=0, length=101)
    return out


@pytest.fixture(scope="session")
def synthetic_dataset(synthetic_shards: Path) -> Dataset:
    """The `synthetic_shards` data loaded (and validated). Shared by the session: do not modify its arrays."""
    return load(synthetic_shards)


@pytest.fixture
def jund_valid() -> Path:
    """Path of the real JUND split; skips the test when the data is not on this machine."""
    if not (JUND_VALID / "shard-0-X.joblib").exists():
        pytest.skip(f"real JUND data not found at {JUND_VALID}")
    return JUND_VALID


@pytest.fixture(scope="module")
def tracking(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """A real sqlite MLflow store under the session's tmp dir; yields the test module's experiment id.

    The store is shared by the test modules of a session (migrating a fresh sqlite store takes seconds);
    each module has its own experiment (named after the module) and its own registered model names.
    """
    home = tmp_path_factory.getbasetemp() / "seqsweep-home"
    uri = f"sqlite:///{home}/mlruns/mlflow.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEQSWEEP_HOME", str(home))
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mlflow.set_tracking_uri(uri)
        store.artifacts_dir().mkdir(parents=True, exist_ok=True)
        client = mlflow.MlflowClient()
        name = request.module.__name__
        exp = client.get_experiment_by_name(name)
        yield exp.experiment_id if exp else client.create_experiment(name, artifact_location=store.artifacts_dir().as_uri())
        mlflow.set_tracking_uri(None)  # leave no process-wide URI pointing into the tmp dir


@pytest.fixture(scope="module")
def one_thread():
    """torch at one thread for the module (two cores shared with other test processes), restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
