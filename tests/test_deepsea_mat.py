"""DeepSEA / DanQ .mat files: train.mat as HDF5 (MATLAB v7.3's transposed layout) and valid/test.mat as MATLAB v5,
read in chunks into a cached token store with sparse labels, AGCT one-hot order by default."""

from __future__ import annotations

import numpy as np
import pytest

from seqsweep.data import load
from seqsweep.data.deepsea_mat import read_mat
from seqsweep.data.encoding import decode_tokens
from seqsweep.data.labels import LabelSpec
from seqsweep.errors import DataError

AGCT = "AGCT"


def _windows(n=120, L=50, T=9, seed=0):
    rng = np.random.default_rng(seed)
    seqs = ["".join(rng.choice(list("ACGT"), L)) for _ in range(n)]
    seqs[3] = "N" * 5 + seqs[3][5:]
    x = np.zeros((n, 4, L), dtype=np.uint8)  # (N, 4, L), channels in AGCT order as DeepSEA writes them
    for i, s in enumerate(seqs):
        for j, c in enumerate(s):
            if c != "N":
                x[i, AGCT.index(c), j] = 1
    y = (rng.random((n, T)) < 0.2).astype(np.uint8)
    return seqs, x, y


def test_train_mat_hdf5_and_test_mat_v5_read_the_same_windows(tmp_path, monkeypatch):
    h5py = pytest.importorskip("h5py")
    import scipy.io

    monkeypatch.setattr("seqsweep.data.deepsea_mat.CHUNK", 32)  # several chunks
    seqs, x, y = _windows()
    with h5py.File(tmp_path / "train.mat", "w") as f:  # MATLAB v7.3 as h5py sees it: (L, 4, N) and (T, N)
        f["trainxdata"] = np.transpose(x, (2, 1, 0))
        f["traindata"] = y.T
    scipy.io.savemat(tmp_path / "test.mat", {"testxdata": x, "testdata": y})
    for name in ("train.mat", "test.mat"):
        ds = read_mat(tmp_path / name, cache_dir=tmp_path / "cache")
        assert decode_tokens(ds.tokens()) == seqs
        np.testing.assert_array_equal(ds.y.dense(), y)
        assert ds.task.names[0] == "target_0" and ds.task.n_outputs == 9
        assert ds.store.cache is not None and ds.store.pre_cut
    via_loader = load(tmp_path / "test.mat", task=LabelSpec("multilabel"))
    assert len(via_loader) == 120
    with pytest.raises(DataError, match="test.mat: a DeepSEA .mat file holds multilabel targets"):
        load(tmp_path / "test.mat")


def test_a_mat_file_that_is_not_deepsea_is_one_line(tmp_path):
    import scipy.io

    scipy.io.savemat(tmp_path / "other.mat", {"something": np.zeros((3, 3))})
    with pytest.raises(DataError, match=r"other.mat: expected one '\*xdata' \(sequences\) and one '\*data'"):
        read_mat(tmp_path / "other.mat", cache_dir=tmp_path / "cache")
    _, x, y = _windows(n=10)
    x[4, 0, 7] = 2
    scipy.io.savemat(tmp_path / "bad.mat", {"validxdata": x, "validdata": y})
    with pytest.raises(DataError, match=r"bad.mat: window 4: one-hot values must be 0 or 1"):
        read_mat(tmp_path / "bad.mat", cache_dir=tmp_path / "cache")
    assert not any(p.name.startswith("bad") for p in (tmp_path / "cache").iterdir())
