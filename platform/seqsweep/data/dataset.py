"""The one in-memory dataset value every part of seqsweep passes around."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: One-hot channel order (the DeepChem JUND shards use it). N and other IUPAC letters encode as all zeros.
ALPHABET = "ACGT"


@dataclass(frozen=True)
class Dataset:
    """Sequences with labels and weights.

    X:   (N, L, 4) uint8 one-hot in A,C,G,T order; an all-zero row is an N.
    y:   (N,) uint8 labels in {0, 1}.
    w:   (N,) float32 sample weights (class-balancing when the source had none).
    ids: (N,) str identifiers, e.g. ``chr22:27247552-27247653``.
    a:   (N,) float32 accessibility, or None when the source has none.
    source: where it was loaded from (for messages and MLflow tags).
    """

    X: np.ndarray
    y: np.ndarray
    w: np.ndarray
    ids: np.ndarray
    a: np.ndarray | None = None
    source: str = "<memory>"

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def seq_len(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_positive(self) -> int:
        return int(self.y.sum())

    def subset(self, idx: np.ndarray) -> "Dataset":
        """Rows `idx`, weights kept as they are (stratified subsets keep the class ratio)."""
        return Dataset(
            X=self.X[idx],
            y=self.y[idx],
            w=self.w[idx],
            ids=self.ids[idx],
            a=None if self.a is None else self.a[idx],
            source=self.source,
        )
