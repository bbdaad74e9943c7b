"""DeepSEA-style multilabel data: the genome cut into bins, each labelled by its overlap with every target's peaks.

    ds = binned_dataset("ref.fa", {"JUND": "JUND.bed", "CTCF": "CTCF.narrowPeak", ...}, window=1000,
                        bins=BinsSpec(stride=200, bin=200, overlap=0.5, over="peaks"))

A row is a `window`-bp window every `stride` bases of a contig (DeepSEA: 1,000 bp around 200-bp bins); target t
is 1 when its peaks cover at least `overlap` of the window's central `bin` bases (DeepSEA: half of the 200 bp).
`over: peaks` keeps the windows that overlap some target's peak (DeepSEA kept the bins with at least one
binding event), `over: genome` every window with at most `max_n` N. The labels are sparse
(seqsweep.data.sparse): 919 targets over millions of bins are never a dense matrix.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from seqsweep.data.dataset import Dataset
from seqsweep.data.genome import TokenStore, genome
from seqsweep.data.intervals import _merged, flat_intervals, gc_and_n, overlaps, read_bed
from seqsweep.data.sparse import SparseLabels, TaskWeights
from seqsweep.data.validate import validate
from seqsweep.errors import DataError
from seqsweep.tasks import Task

log = logging.getLogger(__name__)

BED_SUFFIXES = (".bed", ".narrowPeak", ".broadPeak", ".bed.gz", ".narrowPeak.gz", ".broadPeak.gz")


def target_files(peaks) -> dict[str, Path]:
    """{target: file} from a mapping, or from a folder of BED files (each named by its file name up to the first
    dot). DataError for a folder without any."""
    if isinstance(peaks, dict):
        return {str(k): Path(v) for k, v in peaks.items()}
    folder = Path(peaks)
    files = sorted(p for p in folder.iterdir() if p.name.endswith(BED_SUFFIXES)) if folder.is_dir() else []
    if not files:
        raise DataError(f"{folder}: no BED or narrowPeak files ({', '.join(BED_SUFFIXES)}) to read targets from")
    return {p.name.split(".")[0]: p for p in files}


def bin_starts(store: TokenStore, window: int, stride: int) -> np.ndarray:
    """Flat starts of every `window`-bp window every `stride` bases of every contig that holds one."""
    parts = []
    for c in range(len(store.names)):
        n = int(store.lengths[c])
        if n >= window:
            parts.append(store.offsets[c] + np.arange(0, n - window + 1, stride, dtype=np.int64))
    if not parts:
        raise DataError(f"{store.source}: no contig holds a {window}-bp window")
    return np.concatenate(parts)


def bin_labels(starts: np.ndarray, window: int, bin_size: int, overlap: float,
               targets: list[tuple[np.ndarray, np.ndarray]]) -> SparseLabels:
    """Target t of window i is 1 when t's merged intervals cover >= overlap * bin_size of the window's central bin.
    Only the windows near each interval are visited (two binary searches per interval)."""
    m = (window - bin_size) // 2  # the central bin is [start + m, start + m + bin_size)
    need = overlap * bin_size
    rows, tasks = [], []
    for t, (lo, hi) in enumerate(targets):
        lo, hi = _merged(lo, hi)
        first = np.searchsorted(starts, lo - m - bin_size + 1, side="left")  # first bin whose centre reaches lo
        last = np.searchsorted(starts, hi - m, side="left")  # first bin whose centre starts at or after hi
        count = np.maximum(last - first, 0)
        if count.sum() == 0:
            continue
        which = np.repeat(np.arange(len(lo)), count)
        idx = np.repeat(first, count) + np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        c0 = starts[idx] + m
        cover = np.minimum(hi[which], c0 + bin_size) - np.maximum(lo[which], c0)
        total = np.bincount(idx, weights=cover, minlength=len(starts))
        hit = np.flatnonzero(total >= need)
        rows.append(hit)
        tasks.append(np.full(len(hit), t, dtype=np.int64))
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    k = np.concatenate(tasks) if tasks else np.zeros(0, dtype=np.int64)
    return SparseLabels.from_pairs(r, k, n_rows=len(starts), n_tasks=len(targets))


def binned_dataset(genome_path, peaks, window: int, *, bins=None, store: TokenStore | None = None) -> Dataset:
    """The multilabel dataset of `peaks` ({target: BED} or a folder) on a genome; see the module docstring."""
    from seqsweep.config import BinsSpec

    bins = bins if bins is not None else BinsSpec()
    if bins.bin > window:
        raise DataError(f"data.bins.bin {bins.bin} is larger than data.window {window}")
    store = store if store is not None else genome(genome_path)
    files = target_files(peaks)
    targets = [flat_intervals(read_bed(f), store) for f in files.values()]
    starts = bin_starts(store, window, bins.stride)
    if bins.over == "peaks":
        lo = np.concatenate([a for a, _ in targets])
        hi = np.concatenate([b for _, b in targets])
        lo, hi = _merged(lo, hi)
        starts = starts[overlaps(starts, window, lo, hi)]
    _, nf = gc_and_n(store, starts, window)
    starts = starts[nf <= bins.max_n]
    if len(starts) == 0:
        raise DataError(f"{genome_path}: no {window}-bp window with at most {bins.max_n:.0%} N overlaps a peak")
    y = bin_labels(starts, window, bins.bin, bins.overlap, targets)
    task = Task("multilabel", tuple(files))
    source = f"{len(files)} targets on {store.source}"
    ds = validate(Dataset(store=store, starts=starts, length=window, y=y, w=TaskWeights.balanced(y), task=task,
                          source=source))
    log.info("%s: %d windows of %d bp every %d, %d positive labels (%.2f%%)", source, len(ds), window, bins.stride,
             y.sum(), 100 * y.sum() / max(1, len(ds) * len(files)))
    return ds
