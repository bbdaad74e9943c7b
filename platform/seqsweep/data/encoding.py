"""One-hot encoding of DNA strings, and class-balancing weights.

Encoding policy (stored with every logged model, so keep it stable):
  * channels in A, C, G, T order (the DeepChem JUND shards use it);
  * lower case is the same letter (soft-masked repeats are still sequence);
  * N and the other IUPAC ambiguity letters (R Y S W K M B D H V) encode as an all-zero row:
    the model sees "unknown here" rather than a guess;
  * anything else is an error, because it usually means the wrong column or a corrupt file.

`encode` runs at inference on 100k sequences, so it never loops per letter in Python: the sequences are
joined into one byte string and mapped through a 256-entry lookup table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqsweep.alphabet import ALPHABET
from seqsweep.data.genome import LUT, ONE_HOT, TOKEN_N
from seqsweep.errors import DataError

# The tables live with the token store (seqsweep.data.genome): token 0..3 = A,C,G,T, 4 = N/IUPAC.
_ZERO = TOKEN_N  # code for "ambiguous -> all-zero row"
_INVALID = -1
_LUT = LUT.astype(np.int8)  # byte value -> 0..3, 4 (ambiguous) or -1 (255 as int8: not a nucleotide)
_ONE_HOT = ONE_HOT  # code -> one-hot row; the fifth row (ambiguous) is all zeros, (5, 4)


def _check_lengths(seqs: Sequence[str], source: str, length: int | None) -> int:
    """The common length of `seqs`, or a DataError naming the first row that breaks it."""
    expected = length
    for i, s in enumerate(seqs):
        if not isinstance(s, str):
            raise DataError(f"{source}: row {i}: sequence must be a string, got {s!r}")
        if expected is None:
            expected = len(s)
        elif len(s) != expected:
            if length is not None:
                raise DataError(f"{source}: row {i}: sequence has length {len(s)}, expected {length}")
            raise DataError(
                f"{source}: row {i}: sequence has length {len(s)} but row 0 has length {expected}: "
                "all sequences must have the same length"
            )
    return 0 if expected is None else expected


def codes(seqs: Sequence[str], *, source: str = "<input>", length: int | None = None) -> np.ndarray:
    """Integer codes (N, L) int8: 0..3 for A,C,G,T, 4 for N/IUPAC. Same checks as `encode`."""
    seqs = seqs if isinstance(seqs, list) else list(seqs)
    L = _check_lengths(seqs, source, length)
    joined = "".join(seqs)
    try:
        raw = joined.encode("ascii")
    except UnicodeEncodeError as e:  # a non-ASCII character can never be a nucleotide
        i = e.start // L
        raise DataError(
            f"{source}: row {i}: letter {joined[e.start]!r} is not a nucleotide (ACGT or IUPAC)"
        ) from None
    c = _LUT[np.frombuffer(raw, dtype=np.uint8)].reshape(len(seqs), L)  # (N*L,) -> (N, L)
    bad = np.flatnonzero(c.ravel() == _INVALID)
    if bad.size:
        i, j = divmod(int(bad[0]), L)
        raise DataError(f"{source}: row {i}: letter {seqs[i][j]!r} is not a nucleotide (ACGT or IUPAC)")
    return c


def encode(seqs: Sequence[str], *, source: str = "<input>", length: int | None = None) -> np.ndarray:
    """One-hot encode equal-length DNA strings.

    Args:
        seqs: N strings of one length L (list, tuple, numpy array or pandas Series).
        source: file name (or other label) used in error messages.
        length: when given, every sequence must have exactly this length.

    Returns:
        X: (N, L, 4) uint8, channels A, C, G, T; N and other IUPAC letters are all-zero rows.

    Raises:
        DataError: a letter that is not a nucleotide, ragged lengths, a wrong length, a non-string.
    """
    c = codes(seqs, source=source, length=length)  # (N, L)
    return _ONE_HOT[c]  # (N, L) -> (N, L, 4)


_LETTERS = np.frombuffer((ALPHABET + "N").encode("ascii"), dtype=np.uint8)  # code -> byte


def decode_tokens(tokens: np.ndarray) -> list[str]:
    """Strings from (N, L) tokens; token 4 becomes 'N'."""
    letters = _LETTERS[np.asarray(tokens, dtype=np.uint8)]  # (N, L) bytes
    return [row.tobytes().decode("ascii") for row in letters]


def decode(X: np.ndarray) -> list[str]:
    """Strings from one-hot X (N, L, 4); an all-zero position becomes 'N'.

    A position with more than one hot channel decodes to its first hot letter (validate() rejects such data).
    """
    X = np.asarray(X)
    if X.ndim != 3 or X.shape[-1] != 4:
        raise DataError(f"decode: X must have shape (N, L, 4), got {X.shape}")
    c = X.argmax(axis=-1)  # (N, L, 4) -> (N, L)
    c[~X.any(axis=-1)] = _ZERO
    letters = _LETTERS[c]  # (N, L) bytes
    return [row.tobytes().decode("ascii") for row in letters]


def class_balancing_weights(y: np.ndarray) -> np.ndarray:
    """w_i = N / (C N_{y_i}) over the C classes present: each class then carries an equal share of the total
    weight N. For binary labels w_i = N / (2 N_{y_i}), what DeepChem's JUND holds.

    Args:
        y: (N,) class labels (0/1, or class indices).
    Returns:
        w: (N,) float32.
    """
    y = np.asarray(y).ravel().astype(np.int64)
    if y.size == 0:
        return np.zeros(0, dtype=np.float32)
    counts = np.bincount(y, minlength=2)  # only counts of classes present are ever indexed
    present = max(int((counts > 0).sum()), 2)  # a lone class keeps the binary formula's 2
    return (y.size / (present * counts[y])).astype(np.float32)


def multilabel_weights(y: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """Class-balancing weights per task of (N, T) labels: within task t, over its measured rows M_t,
    w_it = M_t / (2 M_{t, y_it}); 0 where the label is missing. A task whose measured rows hold one class
    only gets weight 1 on them (there is nothing to balance)."""
    y = np.asarray(y, dtype=np.int64)
    measured = np.asarray(measured, dtype=bool)
    w = np.zeros(y.shape, dtype=np.float32)
    for t in range(y.shape[1]):
        rows = measured[:, t]
        yt = y[rows, t]
        counts = np.bincount(yt, minlength=2)
        if (counts > 0).all():
            w[rows, t] = rows.sum() / (2.0 * counts[yt])
        else:
            w[rows, t] = 1.0
    return w


# ---------------------------------------------------------------------------------------------------------
# Variable-length sequences: pad with N and trim to one length

PLACEMENTS = ("right", "left", "center")


@dataclass(frozen=True)
class Length:
    """`data.length`: every sequence becomes `to` positions long.

    pad:  where the N padding goes when a sequence is shorter: 'right' (after it), 'left' (before it, as
          Keras pad_sequences does by default) or 'center' (both sides, the extra one on the right).
    trim: which end is cut when it is longer: 'right' keeps the start, 'left' keeps the end, 'center' keeps
          the middle.
    """

    to: int
    pad: str = "right"
    trim: str = "right"

    def __post_init__(self) -> None:
        if isinstance(self.to, bool) or not isinstance(self.to, (int, np.integer)) or self.to < 1:
            raise DataError(f"data.length.to: must be an integer >= 1, got {self.to!r}")
        for key in ("pad", "trim"):
            if getattr(self, key) not in PLACEMENTS:
                raise DataError(f"data.length.{key}: must be one of {', '.join(PLACEMENTS)}, got {getattr(self, key)!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"to": int(self.to), "pad": self.pad, "trim": self.trim}

    def window(self, n: int) -> tuple[int, int, int]:
        """For a sequence of n letters: (first letter kept, letters kept, offset of the kept part in the output)."""
        L = self.to
        if n >= L:
            cut = n - L
            first = {"right": 0, "left": cut, "center": cut // 2}[self.trim]
            return first, L, 0
        room = L - n
        offset = {"right": 0, "left": room, "center": room // 2}[self.pad]
        return 0, n, offset


def encode_to_length(seqs: Sequence[str], length: Length, *, source: str = "<input>") -> tuple[np.ndarray, np.ndarray | None]:
    """One-hot encode DNA strings of any lengths to `length.to` positions (trimmed or padded with N).

    Returns X (N, to, 4) uint8 and spans (N, 2) int32, [start, end) of each row's letters in X, or None when
    no row is padded (every row fills all positions). Letters are checked as in `encode`.
    """
    c, spans = codes_to_length(seqs, length, source=source)
    return _ONE_HOT[c], spans


def codes_to_length(seqs: Sequence[str], length: Length, *, source: str = "<input>") -> tuple[np.ndarray, np.ndarray | None]:
    """`encode_to_length` as tokens: (N, to) uint8 (4 = N or padding) and spans or None."""
    seqs = seqs if isinstance(seqs, list) else list(seqs)
    L = int(length.to)
    pieces: list[str] = []
    spans = np.empty((len(seqs), 2), dtype=np.int32)
    for i, s in enumerate(seqs):
        if not isinstance(s, str):
            raise DataError(f"{source}: row {i}: sequence must be a string, got {s!r}")
        if not s:
            raise DataError(f"{source}: row {i}: sequence is empty")
        first, n, offset = length.window(len(s))
        pieces.append(s[first : first + n])
        spans[i] = (offset, offset + n)
    n_kept = (spans[:, 1] - spans[:, 0]).astype(np.int64)
    ends = np.cumsum(n_kept)  # where each row's letters end in the joined string
    joined = "".join(pieces)
    try:
        raw = joined.encode("ascii")
    except UnicodeEncodeError as e:
        i = int(np.searchsorted(ends, e.start, side="right"))
        raise DataError(f"{source}: row {i}: letter {joined[e.start]!r} is not a nucleotide (ACGT or IUPAC)") from None
    vals = _LUT[np.frombuffer(raw, dtype=np.uint8)]
    bad = np.flatnonzero(vals == _INVALID)
    if bad.size:
        i = int(np.searchsorted(ends, bad[0], side="right"))
        raise DataError(f"{source}: row {i}: letter {joined[bad[0]]!r} is not a nucleotide (ACGT or IUPAC)")
    rows = np.repeat(np.arange(len(seqs)), n_kept)
    within = np.arange(len(vals)) - np.repeat(ends - n_kept, n_kept)  # position inside the kept piece
    c = np.full((len(seqs), L), _ZERO, dtype=np.int8)
    c[rows, np.repeat(spans[:, 0], n_kept) + within] = vals
    padded = (spans[:, 0] > 0) | (spans[:, 1] < L)
    return c.astype(np.uint8), (spans if padded.any() else None)
