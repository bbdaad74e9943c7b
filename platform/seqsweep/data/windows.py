"""Next-base prediction data: context windows cut from every sequence, labelled with the k-mer that follows.

    contigs -> blocks of `block_size` positions -> windows of context + k positions, every `stride`

Windows never cross a block boundary, so windows of different blocks never overlap: folds (and a held-out
part) grouped by block keep every validation window apart from every training window. Rows whose ids are
genomic coordinates (``chr22:100-201``, the JUND windows) are first joined into contigs where they abut or
overlap, so a context can span neighbouring windows; other sequences are contigs of their own.
"""

from __future__ import annotations

import logging

import numpy as np

from seqsweep.data.dataset import Dataset
from seqsweep.data.encoding import _ZERO, class_balancing_weights, codes
from seqsweep.data.genome import TokenStore
from seqsweep.data.validate import genomic_coordinates, validate
from seqsweep.errors import DataError
from seqsweep.tasks import Task, kmer_names

log = logging.getLogger(__name__)


def contigs(ids: np.ndarray, seqs: list[str]) -> list[tuple[str, int, str]]:
    """(name, start, sequence) per contig. With coordinate ids, abutting or overlapping windows of one
    chromosome are joined (an overlap keeps the earlier window's letters); otherwise each sequence is one
    contig named by its id, starting at 0."""
    coords = genomic_coordinates(ids)
    if coords is None:
        return [(str(i).replace(":", "_"), 0, s) for i, s in zip(ids, seqs)]
    chroms, starts = coords
    out: list[tuple[str, int, str]] = []
    order = np.lexsort((starts, chroms))
    name, begin, parts, end = None, 0, [], 0
    for i in order:
        c, s, seq = str(chroms[i]), int(starts[i]), seqs[i]
        if c == name and s <= end:
            if s + len(seq) > end:
                parts.append(seq[end - s :])
                end = s + len(seq)
            continue
        if name is not None:
            out.append((name, begin, "".join(parts)))
        name, begin, parts, end = c, s, [seq], s + len(seq)
    if name is not None:
        out.append((name, begin, "".join(parts)))
    return out


def next_base_windows(
    ids: np.ndarray, seqs: list[str], *, context: int, k: int = 1, stride: int = 50, block_size: int = 100_000,
    source: str = "<input>",
) -> Dataset:
    """Cut next-base windows from sequences (see the module docstring): their contigs become a token store,
    and the windows are offsets into it (`windows_over`)."""
    parts = [(name, begin, codes([seq], source=source)[0].astype(np.uint8)) for name, begin, seq in contigs(np.asarray(ids), list(seqs))]
    return windows_over(TokenStore.from_contigs(parts, source=source), context=context, k=k, stride=stride,
                        block_size=block_size, source=source)


def windows_over(
    store: TokenStore, *, context: int, k: int = 1, stride: int = 50, block_size: int = 100_000, source: str = "<input>",
) -> Dataset:
    """next_base windows over every contig of a token store, as offsets into it: nothing is copied.

    Row i: the context [start, start + context) of the store, y the index of the following k-mer in
    kmer_names(k) (A,C,G,T = 0..3, first base most significant), ids ``name:start-end`` of the context (made on
    first use). Windows whose next k bases hold an N are skipped (no label). Weights are class-balancing, as
    for binary data.

    Raises DataError when block_size cannot hold one window or no window fits.
    """
    span = context + k
    if block_size < span:
        raise DataError(
            f"{source}: cv.block_size {block_size} cannot hold one next_base window of context {context} + k {k}; "
            "use larger blocks"
        )
    tokens = store.tokens
    place = 4 ** np.arange(k - 1, -1, -1)
    start_rows, y_rows = [], []
    for c in range(len(store.names)):
        begin, offset, n = int(store.begins[c]), int(store.offsets[c]), int(store.lengths[c])
        # window starts, genome coordinates, within blocks: [b * block_size, (b + 1) * block_size - span]
        first_block, last_block = begin // block_size, (begin + n - 1) // block_size
        for b in range(first_block, last_block + 1):
            lo = max(begin, b * block_size)
            hi = min(begin + n, (b + 1) * block_size) - span  # last start inside the block
            if hi < lo:
                continue
            starts = np.arange(lo, hi + 1, stride, dtype=np.int64) - begin + offset  # flat offsets
            if starts.size == 0:
                continue
            target = np.stack([tokens[starts + context + j] for j in range(k)], 1)  # (n, k)
            ok = (target != _ZERO).all(1)
            start_rows.append(starts[ok])
            y_rows.append((target[ok].astype(np.int64) * place).sum(1))
    if not start_rows or not sum(len(s) for s in start_rows):
        raise DataError(
            f"{source}: no next_base window of context {context} + k {k} fits in any sequence (the longest "
            "contig is shorter, or every next base is an N); use a shorter context"
        )
    y = np.concatenate(y_rows)
    task = Task("next_base", kmer_names(k))
    ds = Dataset(store=store, starts=np.concatenate(start_rows), length=context, y=y, w=class_balancing_weights(y),
                 source=source, task=task)
    ds = validate(ds)
    log.info("%s: %d next_base windows of %d bases (k=%d, stride %d)", source, len(ds), context, k, stride)
    return ds
