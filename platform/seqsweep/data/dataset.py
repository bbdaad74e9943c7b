"""The one in-memory dataset value every part of seqsweep passes around."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seqsweep.tasks import BINARY, Task

#: One-hot channel order (the DeepChem JUND shards use it). N and other IUPAC letters encode as all zeros.
ALPHABET = "ACGT"


@dataclass(frozen=True)
class Dataset:
    """Sequences with labels and weights.

    X:     (N, L, 4) uint8 one-hot in A,C,G,T order; an all-zero row is an N (or padding, see spans).
    y:     binary (N,) uint8 in {0, 1}; multilabel (N, T) uint8; multiclass and next_base (N,) int64 class
           indices into task.names.
    w:     sample weights, float32, the shape of y; multilabel: 0 where a label is missing.
    ids:   (N,) str identifiers, e.g. ``chr22:27247552-27247653``.
    a:     (N,) float32 accessibility, or None when the source has none.
    task:  what y holds (seqsweep.tasks.Task).
    spans: (N, 2) int32 [start, end) of each row's real sequence within the L positions, or None when every
           row fills all L (fixed-length data). Positions outside the span are padding: models that can
           (recurrent, global pooling) ignore them.
    source: where it was loaded from (for messages and MLflow tags).
    """

    X: np.ndarray
    y: np.ndarray
    w: np.ndarray
    ids: np.ndarray
    a: np.ndarray | None = None
    source: str = "<memory>"
    task: Task = field(default=BINARY)
    spans: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def seq_len(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_positive(self) -> int:
        """Positive labels (binary, multilabel: over all tasks, missing labels not counted); 0 otherwise."""
        if self.task.single_label:
            return 0
        if self.task.type == "multilabel":
            return int(((self.y == 1) & (self.w > 0)).sum())
        return int(self.y.sum())

    def lengths(self) -> np.ndarray:
        """(N,) int64 length of each row's real sequence."""
        if self.spans is None:
            return np.full(len(self), self.seq_len, dtype=np.int64)
        return (self.spans[:, 1] - self.spans[:, 0]).astype(np.int64)

    def subset(self, idx: np.ndarray) -> "Dataset":
        """Rows `idx`, weights kept as they are (stratified subsets keep the class ratio)."""
        return Dataset(
            X=self.X[idx],
            y=self.y[idx],
            w=self.w[idx],
            ids=self.ids[idx],
            a=None if self.a is None else self.a[idx],
            source=self.source,
            task=self.task,
            spans=None if self.spans is None else self.spans[idx],
        )
