"""Multilabel targets held sparsely: each row's positive tasks, and weights made from per-task counts.

DeepSEA's label set is 4.4M bins x 919 targets, ~2% positive: as a dense float32 matrix 16 GB, its weights as
much again; held as the positives of each row (CSR) it is ~0.3 GB, and the class-balancing weights of a task
are two numbers. Rows are made dense a batch at a time (the trainer's `_batch`, a validation fold, held-out
scoring).

    y = SparseLabels.from_pairs(rows, tasks, n_rows=N, n_tasks=T)
    w = TaskWeights.balanced(y)            # w[i, t] = M / (2 M_pos_t) where y = 1, M / (2 M_neg_t) where 0
    y.dense(idx), w.dense(idx)            # (B, T) uint8 / float32
    y[idx], w[idx]                        # row subsets, still sparse (Dataset.subset)
"""

from __future__ import annotations

import numpy as np


def _take(indptr: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(new indptr, positions into the old indices array) of rows `idx`."""
    lens = indptr[idx + 1] - indptr[idx]  # only these rows: a diff of the whole indptr cost ms at millions of rows
    new = np.zeros(len(idx) + 1, dtype=np.int64)
    np.cumsum(lens, out=new[1:])
    pos = np.repeat(indptr[:-1][idx] - new[:-1], lens) + np.arange(new[-1], dtype=np.int64)
    return new, pos


class SparseLabels:
    """(N, T) 0/1 labels, every one measured, held as each row's positive task indices (CSR)."""

    ndim = 2

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, n_tasks: int):
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.indices = np.asarray(indices, dtype=np.int32)
        self.n_tasks = int(n_tasks)

    @classmethod
    def from_pairs(cls, rows: np.ndarray, tasks: np.ndarray, *, n_rows: int, n_tasks: int) -> "SparseLabels":
        """From (row, task) pairs of positive labels (duplicates count once)."""
        key = np.unique(np.asarray(rows, dtype=np.int64) * n_tasks + np.asarray(tasks, dtype=np.int64))
        r, t = np.divmod(key, n_tasks)
        indptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(r, minlength=n_rows), out=indptr[1:])
        return cls(indptr, t, n_tasks)

    @classmethod
    def from_dense(cls, y: np.ndarray) -> "SparseLabels":
        r, t = np.nonzero(np.asarray(y))
        return cls.from_pairs(r, t, n_rows=y.shape[0], n_tasks=y.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.indptr) - 1, self.n_tasks)

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @property
    def nbytes(self) -> int:
        return self.indptr.nbytes + self.indices.nbytes

    def __getitem__(self, idx) -> "SparseLabels":
        idx = np.arange(*idx.indices(len(self))) if isinstance(idx, slice) else np.asarray(idx)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        indptr, pos = _take(self.indptr, idx)
        return SparseLabels(indptr, self.indices[pos], self.n_tasks)

    def dense(self, idx=None) -> np.ndarray:
        """(B, T) uint8 of rows `idx` (all rows when None)."""
        sub = self if idx is None else self[idx]
        out = np.zeros(sub.shape, dtype=np.uint8)
        out[np.repeat(np.arange(len(sub)), np.diff(sub.indptr)), sub.indices] = 1
        return out

    def positives(self) -> np.ndarray:
        """(T,) positive labels per task."""
        return np.bincount(self.indices, minlength=self.n_tasks)

    def any_positive(self) -> np.ndarray:
        """(N,) bool: rows with at least one positive label."""
        return np.diff(self.indptr) > 0

    def sum(self) -> int:
        return int(len(self.indices))

    def __array__(self, dtype=None, copy=None):
        return self.dense().astype(dtype) if dtype is not None else self.dense()


class TaskWeights:
    """Class-balancing weights of SparseLabels: within task t over the M rows, M / (2 M_pos_t) on its positives and
    M / (2 M_neg_t) on its negatives (seqsweep.data.encoding.multilabel_weights, without a missing label)."""

    ndim = 2

    def __init__(self, labels: SparseLabels, w_pos: np.ndarray, w_neg: np.ndarray):
        self.labels = labels
        self.w_pos = np.asarray(w_pos, dtype=np.float32)
        self.w_neg = np.asarray(w_neg, dtype=np.float32)

    @classmethod
    def balanced(cls, labels: SparseLabels) -> "TaskWeights":
        m = len(labels)
        pos = labels.positives().astype(np.float64)
        neg = m - pos
        both = (pos > 0) & (neg > 0)  # a task of one class has nothing to balance: weight 1
        w_pos = np.where(both, m / (2 * np.maximum(pos, 1)), 1.0)
        w_neg = np.where(both, m / (2 * np.maximum(neg, 1)), 1.0)
        return cls(labels, w_pos, w_neg)

    @property
    def shape(self) -> tuple[int, int]:
        return self.labels.shape

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, idx) -> "TaskWeights":
        return TaskWeights(self.labels[idx], self.w_pos, self.w_neg)

    def dense(self, idx=None, labels: np.ndarray | None = None) -> np.ndarray:
        """(B, T) float32 weights of rows `idx`; `labels`: those rows' dense labels when the caller has them."""
        y = self.labels.dense(idx) if labels is None else labels
        return np.where(y == 1, self.w_pos[None, :], self.w_neg[None, :])

    def row_weights(self) -> np.ndarray:
        """(N,) each row's weight summed over its tasks (the trainer's loss normaliser), without a dense matrix."""
        base = float(self.w_neg.sum())
        extra = (self.w_pos - self.w_neg)[self.labels.indices]
        out = np.full(len(self), base, dtype=np.float64)
        np.add.at(out, np.repeat(np.arange(len(self)), np.diff(self.labels.indptr)), extra)
        return out

    def __array__(self, dtype=None, copy=None):
        return self.dense().astype(dtype) if dtype is not None else self.dense()


def is_sparse(y) -> bool:
    return isinstance(y, SparseLabels)
