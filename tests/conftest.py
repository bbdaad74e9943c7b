"""Shared fixtures. Keep this small; add a fixture here only when several test files need it."""

from __future__ import annotations

from pathlib import Path

import pytest

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
