"""The one dataset value every part of seqsweep passes around: windows over a token store, with labels.

A row is a window (start, length, strand) into a `TokenStore` (seqsweep.data.genome): a genome's contigs
memory-mapped from its cache, or pre-cut rows held once as tokens. Subsets, next-base windows and the reverse
strand are index arithmetic over the same store; a one-hot copy of the data is never held. The trainer makes
each batch's one-hot on its device from `tokens(rows)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seqsweep.alphabet import ALPHABET  # importable from here as before (seqsweep.data.ALPHABET)
from seqsweep.data.encoding import decode_tokens
from seqsweep.data.genome import ONE_HOT, TOKEN_N, TokenStore
from seqsweep.errors import DataError
from seqsweep.tasks import BINARY, Task


def tokens_from_onehot(X: np.ndarray, source: str = "<memory>") -> np.ndarray:
    """(N, L, 4) one-hot -> (N, L) uint8 tokens (an all-zero position is N). DataError naming the source, the
    row and position and the rule: not (N, L, 4), no rows, length 0, values other than 0/1, two letters at
    one position."""
    X = np.asarray(X)
    if X.ndim != 3 or X.shape[-1] != 4:
        raise DataError(f"{source}: X must have shape (N, L, 4) (one-hot A,C,G,T), got {X.shape}")
    if X.shape[0] == 0:
        raise DataError(f"{source}: the dataset is empty (0 rows)")
    if X.shape[1] == 0:
        raise DataError(f"{source}: sequences have length 0")
    if X.dtype != np.uint8 and X.dtype != np.bool_:
        if X.dtype.kind not in "biuf":
            raise DataError(f"{source}: X must hold numbers 0 or 1, got dtype {X.dtype}")
        bad = (X != 0) & (X != 1)
        if bad.any():
            i, j, k = np.argwhere(bad)[0]
            v = X[i, j, k]
            v = int(v) if float(v).is_integer() else v
            raise DataError(f"{source}: row {i}: position {j}: one-hot values must be 0 or 1, got {v}")
    X = X.astype(np.uint8, copy=False)
    if X.max() > 1:  # uint8 input can hold 2..255
        i, j, k = np.argwhere(X > 1)[0]
        raise DataError(f"{source}: row {i}: position {j}: one-hot values must be 0 or 1, got {X[i, j, k]}")
    sums = X.sum(axis=-1, dtype=np.uint8)  # (N, L, 4) -> (N, L)
    if (sums > 1).any():
        i, j = np.argwhere(sums > 1)[0]
        raise DataError(
            f"{source}: row {i}: position {j}: one-hot row sums to {sums[i, j]}: at most one letter per position"
        )
    tok = X.argmax(-1).astype(np.uint8)  # (N, L, 4) -> (N, L)
    tok[sums == 0] = TOKEN_N
    return tok


@dataclass(frozen=True, init=False, eq=False)
class Dataset:
    """Windows of one length over a token store, with labels and weights.

    store:   the tokens (seqsweep.data.genome.TokenStore).
    starts:  (N,) int64 flat offset of each window's first base in store.tokens.
    length:  L, the window length (every row has L positions; shorter sequences are padded, see spans).
    reverse: (N,) bool, rows read as the reverse complement of their window, or None (all forward).
    y:     binary (N,) uint8 in {0, 1}; multilabel (N, T) uint8; multiclass and next_base (N,) int64 class
           indices into task.names.
    w:     sample weights, float32, the shape of y; multilabel: 0 where a label is missing.
    ids:   (N,) str identifiers, e.g. ``chr22:27247552-27247653``; made from the store's coordinates on first
           use when not given (a genome's windows: millions of strings nobody may ask for).
    a:     (N,) float32 accessibility, or None when the source has none.
    task:  what y holds (seqsweep.tasks.Task).
    spans: (N, 2) int32 [start, end) of each row's real sequence within the L positions, or None when every
           row fills all L (fixed-length data). Positions outside the span are padding: models that can
           (recurrent, global pooling) ignore them.
    source: where it was loaded from (for messages and MLflow tags).

    Made from rows as before, Dataset(X=one_hot (N, L, 4), y=..., w=..., ids=...), or Dataset(tokens=(N, L)
    uint8, ...), or over a store: Dataset(store=..., starts=..., length=..., ...).
    """

    store: TokenStore
    starts: np.ndarray
    length: int
    y: np.ndarray
    w: np.ndarray
    a: np.ndarray | None
    source: str
    task: Task
    spans: np.ndarray | None
    reverse: np.ndarray | None
    _ids: np.ndarray | None = field(repr=False)

    def __init__(
        self, X: np.ndarray | None = None, y: np.ndarray | None = None, w: np.ndarray | None = None,
        ids: np.ndarray | None = None, a: np.ndarray | None = None, source: str = "<memory>", task: Task = BINARY,
        spans: np.ndarray | None = None, *, tokens: np.ndarray | None = None, store: TokenStore | None = None,
        starts: np.ndarray | None = None, length: int | None = None, reverse: np.ndarray | None = None,
    ):
        if sum(v is not None for v in (X, tokens, store)) != 1:
            raise ValueError("Dataset: give exactly one of X (one-hot rows), tokens (token rows) or store (+ starts, length)")
        if X is not None:
            tokens = tokens_from_onehot(X, source)
        if tokens is not None:
            tokens = np.asarray(tokens, dtype=np.uint8)
            if tokens.ndim != 2:
                raise DataError(f"{source}: tokens must have shape (N, L), got {tokens.shape}")
            n, length = tokens.shape
            store = TokenStore.from_rows(tokens, source=source)
            starts = np.arange(n, dtype=np.int64) * length
        if starts is None or length is None:
            raise ValueError("Dataset: a store needs starts and length")
        s = object.__setattr__
        s(self, "store", store)
        s(self, "starts", np.asarray(starts, dtype=np.int64))
        s(self, "length", int(length))
        s(self, "y", y)
        s(self, "w", w)
        s(self, "a", a)
        s(self, "source", source)
        s(self, "task", task)
        s(self, "spans", spans)
        s(self, "reverse", None if reverse is None else np.asarray(reverse, dtype=bool))
        s(self, "_ids", None if ids is None else np.asarray(ids))

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    @property
    def seq_len(self) -> int:
        return self.length

    @property
    def ids(self) -> np.ndarray:
        if self._ids is None:
            c, pos = self.coordinates()
            names = np.asarray(self.store.names, dtype=object)[c]
            object.__setattr__(self, "_ids", np.array([f"{n}:{p}-{p + self.length}" for n, p in zip(names, pos.tolist())]))
        return self._ids

    def coordinates(self) -> tuple[np.ndarray, np.ndarray]:
        """(contig index (N,) int64 into store.names, genomic start (N,) int64) of each window."""
        return self.store.locate(self.starts)

    @property
    def n_positive(self) -> int:
        """Positive labels (binary, multilabel: over all tasks, missing labels not counted); 0 otherwise."""
        if self.task.single_label:
            return 0
        if self.task.type == "multilabel":
            if hasattr(self.y, "positives"):  # sparse labels (seqsweep.data.sparse): every label measured
                return self.y.sum()
            return int(((self.y == 1) & (self.w > 0)).sum())
        return int(self.y.sum())

    def lengths(self) -> np.ndarray:
        """(N,) int64 length of each row's real sequence."""
        if self.spans is None:
            return np.full(len(self), self.seq_len, dtype=np.int64)
        return (self.spans[:, 1] - self.spans[:, 0]).astype(np.int64)

    # --- sequence ---

    def tokens(self, rows: np.ndarray | slice | None = None, shift: np.ndarray | None = None) -> np.ndarray:
        """(B, L) uint8 tokens of `rows` (all rows when None), each read on its strand, its window moved by
        `shift` bases when given (jitter; the caller keeps it inside the contig, see shift_bounds)."""
        rows = slice(None) if rows is None else rows
        rev = None if self.reverse is None else self.reverse[rows]
        starts = self.starts[rows] if shift is None else self.starts[rows] + shift
        return self.store.gather(starts, self.length, rev)

    def shift_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(N,) int64 each: how far each window can move left (<= 0) and right (>= 0) inside its contig.
        Pre-cut rows (one store contig of rows) cannot move: their neighbours are other rows."""
        if self.store.pre_cut:
            zero = np.zeros(len(self), dtype=np.int64)
            return zero, zero
        c, _ = self.coordinates()
        return self.store.offsets[c] - self.starts, self.store.offsets[c + 1] - self.length - self.starts

    def onehot(self, rows: np.ndarray | slice | None = None) -> np.ndarray:
        """(B, L, 4) uint8 one-hot of `rows`. For a few rows at a time: the trainer makes its float one-hot per
        batch on the device instead (seqsweep.ensemble.tokens_to_tensor)."""
        return ONE_HOT[self.tokens(rows)]

    @property
    def X(self) -> np.ndarray:
        """(N, L, 4) uint8 one-hot of every row, materialised: for small data, tests and baselines only."""
        return self.onehot()

    def sequences(self) -> list[str]:
        """The rows as DNA strings without their padding (what a user would have passed a model)."""
        seqs = decode_tokens(self.tokens())
        if self.spans is None:
            return seqs
        return [s[a:b] for s, (a, b) in zip(seqs, self.spans.tolist())]

    # --- derived datasets (index arithmetic: the store is shared, never copied) ---

    def replace(self, **changes) -> "Dataset":
        """A copy with some fields changed: y, w, ids, a, source, task, spans, reverse, starts, or the
        sequences themselves (X one-hot or tokens rows, which replace the store)."""
        values = dict(y=self.y, w=self.w, ids=self._ids, a=self.a, source=self.source, task=self.task,
                      spans=self.spans)
        if "X" not in changes and "tokens" not in changes:
            values.update(store=self.store, length=self.length, starts=self.starts, reverse=self.reverse)
        values.update(changes)
        return Dataset(**values)

    def subset(self, idx: np.ndarray) -> "Dataset":
        """Rows `idx`, weights kept as they are (stratified subsets keep the class ratio)."""
        return Dataset(
            store=self.store,
            starts=self.starts[idx],
            length=self.length,
            reverse=None if self.reverse is None else self.reverse[idx],
            y=self.y[idx],
            w=self.w[idx],
            ids=None if self._ids is None else self._ids[idx],
            a=None if self.a is None else self.a[idx],
            source=self.source,
            task=self.task,
            spans=None if self.spans is None else self.spans[idx],
        )
