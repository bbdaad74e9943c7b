"""Multilabel targets held sparsely: the same numbers as the dense labels and weights, at a fraction of the memory."""

from __future__ import annotations


import numpy as np

from seqsweep.data import Dataset
from seqsweep.data.encoding import multilabel_weights
from seqsweep.data.sparse import SparseLabels, TaskWeights


def _labels(n=400, T=7, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, T)) < np.linspace(0.02, 0.3, T)).astype(np.uint8)
    return y


def test_rows_subsets_and_weights_match_the_dense_definitions():
    y = _labels()
    s = SparseLabels.from_dense(y)
    np.testing.assert_array_equal(s.dense(), y)
    idx = np.array([5, 3, 399, 3, 0])
    np.testing.assert_array_equal(s.dense(idx), y[idx])
    np.testing.assert_array_equal(s[idx].dense(), y[idx])
    np.testing.assert_array_equal(s[10:20].dense(), y[10:20])
    np.testing.assert_array_equal(s.positives(), y.sum(0))
    np.testing.assert_array_equal(s.any_positive(), y.any(1))
    w = TaskWeights.balanced(s)
    expected = multilabel_weights(y, np.ones_like(y, dtype=bool))
    np.testing.assert_allclose(w.dense(), expected, rtol=1e-6)
    np.testing.assert_allclose(w[idx].dense(), expected[idx], rtol=1e-6)
    np.testing.assert_allclose(w.row_weights(), expected.sum(1), rtol=1e-5)
    # at DeepSEA's density (919 targets, ~2% positive) the positives take a small share of even a uint8 matrix
    big = SparseLabels.from_dense((np.random.default_rng(1).random((2000, 919)) < 0.02).astype(np.uint8))
    assert big.nbytes < 0.1 * 2000 * 919


def test_the_trainer_gives_the_same_metrics_for_sparse_and_dense_labels():
    from seqsweep.cv import make_folds
    from seqsweep.tasks import Task
    from seqsweep.train import CVTrainer, TrainConfig

    rng = np.random.default_rng(2)
    n, L, T = 300, 30, 5
    tokens = rng.integers(0, 4, (n, L)).astype(np.uint8)
    y = _labels(n, T, seed=3)
    task = Task("multilabel", tuple(f"t{i}" for i in range(T)))
    w = multilabel_weights(y, np.ones_like(y, dtype=bool))
    dense = Dataset(tokens=tokens, y=y, w=w, task=task)
    s = SparseLabels.from_dense(y)
    sparse = Dataset(tokens=tokens, y=s, w=TaskWeights.balanced(s), task=task)
    assert sparse.n_positive == dense.n_positive
    folds = make_folds(y, 3, seed=0, task=task, w=w)
    assert [f[1].tolist() for f in make_folds(s, 3, seed=0, task=task, w=sparse.w)] == [f[1].tolist() for f in folds]
    cfg = TrainConfig("cnn", {"filters": 4, "kernel_size": 5}, epochs=2, batch_size=32)
    a = CVTrainer(dense, folds, cfg, precision="float32").fit()
    b = CVTrainer(sparse, folds, cfg, precision="float32").fit()
    for ma, mb in zip(a, b):
        assert ma.keys() == mb.keys()
        for k in ma:
            assert np.isclose(ma[k], mb[k], rtol=1e-6, atol=1e-9, equal_nan=True), k
    sub = sparse.subset(np.arange(0, n, 2))
    np.testing.assert_array_equal(sub.y.dense(), y[::2])
