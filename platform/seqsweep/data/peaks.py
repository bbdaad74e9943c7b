"""A binary dataset from peaks on a reference genome, the way ChIP-seq and ATAC-seq data arrive.

    ds = peak_dataset(genome="ref.fa", peaks="JUND.narrowPeak", window=1000,
                      negatives=NegativesSpec(ratio=10, match="gc"), signal=SignalSpec(accessibility="dnase.bw"))

Positives: a window centred on each peak's summit (narrowPeak) or centre. Negatives: drawn from the genome
outside every peak and excluded region (seqsweep.data.intervals.sample_negatives), GC-matched and seeded, or
read from a BED of your own. Every row is a window into the genome's token store: nothing is copied, and ids
(`chr1:1000-2000`) are made from the coordinates when asked for. A bigWig gives each window's mean signal as
its accessibility.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from seqsweep.data.dataset import Dataset
from seqsweep.data.encoding import class_balancing_weights
from seqsweep.data.genome import TokenStore, genome
from seqsweep.data.intervals import flat_intervals, gc_and_n, peak_windows, read_bed, sample_negatives
from seqsweep.data.validate import validate
from seqsweep.errors import DataError

log = logging.getLogger(__name__)


def window_signal(path: str | Path, store: TokenStore, starts: np.ndarray, window: int) -> np.ndarray:
    """The mean of a bigWig over each window, (N,) float32; 0 where it has no value. DataError for a file that
    is not a bigWig or lacks a contig the windows are on."""
    import pyBigWig

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such bigWig file")
    try:
        bw = pyBigWig.open(str(path))
    except RuntimeError:
        bw = None
    if bw is None or not bw.isBigWig():
        raise DataError(f"{path}: not a bigWig file")
    try:
        chroms = bw.chroms()
        contig, pos = store.locate(starts)
        out = np.zeros(len(starts), dtype=np.float32)
        for c in np.unique(contig):
            name = store.names[c]
            alias = name if name in chroms else (name[3:] if name.startswith("chr") else "chr" + name)
            if alias not in chroms:
                raise DataError(f"{path}: has no contig {name!r} (windows lie on it; the bigWig has "
                                f"{', '.join(list(chroms)[:6])}{' ...' if len(chroms) > 6 else ''})")
            rows = np.flatnonzero(contig == c)
            end = int(chroms[alias])
            for i in rows:
                s = int(pos[i])
                if s >= end:
                    continue
                v = bw.stats(alias, s, min(s + window, end), type="mean")[0]
                out[i] = 0.0 if v is None or not np.isfinite(v) else v
        return out
    finally:
        bw.close()


def peak_dataset(
    genome_path: str | Path, peaks_path: str | Path, window: int, *, negatives=None, signal=None,
    store: TokenStore | None = None,
) -> Dataset:
    """Positives on the peaks, negatives as `negatives` (a seqsweep.config.NegativesSpec) says; validated.

    Raises DataError (one line naming the file and line) for the faults in seqsweep.data.intervals, a
    negatives BED that overlaps no contig, and negatives that cannot be drawn (how many were found).
    """
    from seqsweep.config import NegativesSpec

    negatives = negatives if negatives is not None else NegativesSpec()
    store = store if store is not None else genome(genome_path)
    peaks = read_bed(peaks_path)
    pos = np.unique(peak_windows(peaks, store, window))
    avoid = [flat_intervals(peaks, store)]
    for bed in negatives.exclude:
        avoid.append(flat_intervals(read_bed(bed), store))
    if negatives.bed is not None:
        neg = np.unique(peak_windows(read_bed(negatives.bed), store, window))
        neg = np.setdiff1d(neg, pos)
    else:
        neg = sample_negatives(store, pos, window, ratio=negatives.ratio, match=None if negatives.match == "none" else "gc",
                               avoid=avoid, max_n=negatives.max_n, seed=negatives.seed)
    starts = np.concatenate([pos, neg])
    order = np.argsort(starts, kind="stable")  # genome order: neighbouring windows together
    starts = starts[order]
    y = np.concatenate([np.ones(len(pos), np.uint8), np.zeros(len(neg), np.uint8)])[order]
    a = None
    if signal is not None:
        a = window_signal(signal.accessibility, store, starts, window)
    source = f"{peaks_path} on {store.source}"
    ds = validate(Dataset(store=store, starts=starts, length=window, y=y, w=class_balancing_weights(y), a=a,
                          source=source))
    log.info("%s: %d peak windows and %d negatives of %d bp", source, len(pos), len(neg), window)
    return ds


def class_dataset(
    genome_path: str | Path, peaks_path: str | Path, window: int, *, classes: list[str] | None = None, negatives=None,
    store: TokenStore | None = None,
) -> Dataset:
    """A multiclass dataset: a window on each interval of a BED whose name column (column 4) holds its class
    (promoter, enhancer, ...), in `classes` order (default: sorted). With `negatives`, windows drawn as for binary
    peaks (outside every interval, GC-matched) form one more class, 'background'.

    Raises DataError naming the file and line: a class not in `classes`, a line without a name column.
    """
    from seqsweep.tasks import Task

    store = store if store is not None else genome(genome_path)
    iv = read_bed(peaks_path)
    labels = iv.extra["class"] if iv.extra and "class" in iv.extra else iv.name  # a `class` column, else the name
    missing = np.flatnonzero((labels == ".") | (labels == ""))
    if len(missing):
        raise DataError(f"{iv.where(int(missing[0]))}: a multiclass BED needs the class in its name column (column 4) "
                        "or in a column a header line names 'class'")
    found = sorted(set(labels.tolist()))
    names = list(classes) if classes else found
    unknown = [c for c in found if c not in names]
    if unknown:
        i = int(np.flatnonzero(labels == unknown[0])[0])
        raise DataError(f"{iv.where(i)}: class {unknown[0]!r} is not one of task.classes ({', '.join(names)})")
    starts = peak_windows(iv, store, window)
    y = np.array([names.index(c) for c in labels], dtype=np.int64)
    if negatives is not None:
        neg = sample_negatives(store, starts, window, ratio=negatives.ratio, match=None if negatives.match == "none" else "gc",
                               avoid=[flat_intervals(iv, store)] + [flat_intervals(read_bed(b), store) for b in negatives.exclude],
                               max_n=negatives.max_n, seed=negatives.seed)
        names = names + ["background"]
        starts = np.concatenate([starts, neg])
        y = np.concatenate([y, np.full(len(neg), len(names) - 1, dtype=np.int64)])
    order = np.argsort(starts, kind="stable")
    starts, y = starts[order], y[order]
    source = f"{peaks_path} on {store.source}"
    ds = validate(Dataset(store=store, starts=starts, length=window, y=y, w=class_balancing_weights(y),
                          task=Task("multiclass", tuple(names)), source=source))
    log.info("%s: %d windows of %d classes", source, len(ds), len(names))
    return ds


def labelled_dataset(genome_path: str | Path, peaks_path: str | Path, window: int, *, store: TokenStore | None = None) -> Dataset:
    """A multilabel dataset from a BED whose header line names one `label_<target>` column per target: a window
    on each interval, labels 0/1 (an empty cell, `.` or NA is a missing label, weight 0), class-balancing weights
    per target over its measured rows.

    Raises DataError naming the file and line: no header with label_ columns, a label other than 0/1/missing.
    """
    from seqsweep.data.encoding import multilabel_weights
    from seqsweep.tasks import Task

    store = store if store is not None else genome(genome_path)
    iv = read_bed(peaks_path)
    cols = [c for c in (iv.extra or {}) if c.startswith("label_")]
    if not cols:
        raise DataError(f"{peaks_path}: a multilabel BED needs a header line naming label_<target> columns "
                        "(#chrom start end label_JUND label_CTCF ...), or a folder of peak files (data.bins)")
    raw = np.stack([iv.extra[c] for c in cols], 1)  # (N, T) text
    measured = ~np.isin(np.char.upper(raw), ["", ".", "NA", "NAN"])
    ok = np.isin(raw, ["0", "1"]) | ~measured
    if not ok.all():
        i, t = (int(v) for v in np.argwhere(~ok)[0])
        raise DataError(f"{iv.where(i)}: {cols[t]} must be 0, 1 or empty (missing), got {str(raw[i, t])!r}")
    y = np.where(measured, raw == "1", 0).astype(np.uint8)
    starts = peak_windows(iv, store, window)
    order = np.argsort(starts, kind="stable")
    source = f"{peaks_path} on {store.source}"
    ds = validate(Dataset(store=store, starts=starts[order], length=window, y=y[order],
                          w=multilabel_weights(y[order], measured[order]),
                          task=Task("multilabel", tuple(c[len("label_"):] for c in cols)), source=source))
    log.info("%s: %d windows, %d targets from label_ columns", source, len(ds), len(cols))
    return ds


def describe(ds: Dataset) -> dict:
    """What `seqsweep data check` shows for windows on a genome: contigs, rows per class and their GC."""
    gc, nf = gc_and_n(ds.store, ds.starts, ds.length)
    contig, _ = ds.coordinates()
    used = np.unique(contig)
    out = {
        "genome": ds.store.source,
        "contigs": len(ds.store.names),
        "bases": len(ds.store),
        "contigs_with_windows": [ds.store.names[c] for c in used][:20],
        "gc": {},
    }
    if ds.task.type == "binary":
        groups = ((ds.y == 1, "positives"), (ds.y == 0, "negatives"))
    else:  # binned targets: every window, and those that no target labels
        none = ~ds.y.any_positive() if hasattr(ds.y, "any_positive") else ~np.asarray(ds.y).any(1)
        groups = ((np.ones(len(ds), dtype=bool), "windows"), (none, "no target"))
    for m, name in groups:
        if m.any():
            out["gc"][name] = {"rows": int(m.sum()), "mean": float(gc[m].mean()), "sd": float(gc[m].std()),
                               "n_fraction": float(nf[m].mean())}
    return out
