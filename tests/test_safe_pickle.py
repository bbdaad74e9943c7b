"""Loading a shard never runs code: joblib files are read through an allow-list of numpy types."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import joblib
import numpy as np
import pytest

from seqsweep.data import load, read_sequences, write_shards
from seqsweep.errors import DataError


class WritesAFile:
    """Unpickling this runs `touch <marker>` (what a hostile shard would do)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture
def hostile_shards(tmp_path, synthetic_dataset):
    """A valid 20-row shard directory whose shard-0-ids.joblib holds a payload; (dir, marker)."""
    d = write_shards(synthetic_dataset.subset(np.arange(20)), tmp_path / "shards")
    marker = tmp_path / "pwned"
    joblib.dump(WritesAFile(marker), d / "shard-0-ids.joblib")
    return d, marker


def test_data_check_refuses_a_shard_that_would_run_code(hostile_shards):
    d, marker = hostile_shards
    env = {**os.environ, "SEQSWEEP_HOME": str(d.parent)}
    out = subprocess.run([sys.executable, "-m", "seqsweep", "data", "check", str(d)], capture_output=True,
                         text=True, timeout=120, env=env)
    assert not marker.exists(), "loading the shard ran its payload"
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "shard-0-ids.joblib" in lines[0] and "posix.system" in lines[0], lines[0]
    # the payload is live: joblib's own loader runs it
    joblib.load(d / "shard-0-ids.joblib")
    assert marker.exists()


def test_every_shard_reader_refuses_it(hostile_shards):
    d, marker = hostile_shards
    for read in (load, read_sequences):
        with pytest.raises(DataError, match=r"shard-0-ids\.joblib: refused to load posix\.system"):
            read(d)
    assert not marker.exists()


def test_object_array_of_non_str_is_refused(tmp_path):
    from seqsweep.data import safe_pickle

    path = tmp_path / "x.joblib"
    joblib.dump(np.array(["a", 3], dtype=object), path)
    with pytest.raises(safe_pickle.UnsafePickleError, match="object array holding int"):
        safe_pickle.load(path)


@pytest.mark.parametrize("compress", [0, 3])
def test_arrays_scalars_and_plain_containers_load(tmp_path, compress):
    from seqsweep.data import safe_pickle

    obj = {
        "X": np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        "w": np.array([[0.5], [1.5]], dtype=">f8"),  # big-endian comes back native
        "ids": np.array(["chr1:0-101", "chr1:101-202"], dtype=object),
        "u": np.array(["a", "bc"]),
        "items": [np.float32(1.5), (1, "two"), {3, 4}],
    }
    path = tmp_path / "x.joblib"
    joblib.dump(obj, path, compress=compress)
    back = safe_pickle.load(path)
    assert back["X"].dtype == np.uint8 and np.array_equal(back["X"], obj["X"])
    assert back["w"].dtype.isnative and np.array_equal(back["w"], obj["w"])
    assert back["ids"].dtype == object and back["ids"].tolist() == ["chr1:0-101", "chr1:101-202"]
    assert back["u"].tolist() == ["a", "bc"]
    assert back["items"] == [np.float32(1.5), (1, "two"), {3, 4}]


def test_object_arrays_written_by_numpy_1_load(tmp_path):
    """numpy 1 names numpy.core.multiarray where numpy 2 names numpy._core.multiarray."""
    from seqsweep.data import safe_pickle

    ids = np.array(["chr22:0-101", "chr22:101-202"], dtype=object)
    path = tmp_path / "ids.joblib"
    joblib.dump(ids, path)
    raw = path.read_bytes()
    # joblib writes an object array as its header, a nested pickle of the array, then the outer STOP; put a
    # protocol-2 nested pickle (text GLOBAL opcodes) spelled the numpy 1 way in its place
    inner_start = raw.rindex(b"\x80\x05")
    inner = pickle.dumps(ids, protocol=2)
    assert b"numpy._core.multiarray\n" in inner or b"numpy.core.multiarray\n" in inner
    inner = inner.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    path.write_bytes(raw[:inner_start] + inner + b".")
    assert safe_pickle.load(path).tolist() == ids.tolist()


def test_real_jund_shards_load_exactly_as_joblib_loads_them(jund_valid):
    from seqsweep.data import safe_pickle

    for part in ("X", "y", "w", "ids"):
        f = jund_valid / f"shard-0-{part}.joblib"
        ours, theirs = safe_pickle.load(f), joblib.load(f)
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        assert np.array_equal(ours, theirs), part
