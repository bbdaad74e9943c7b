"""Peaks on a genome: BED / narrowPeak files, windows centred on them, negatives drawn from the rest.

    peaks = read_bed("JUND.narrowPeak")                      # BED3+ or narrowPeak (summit in column 10)
    starts = peak_windows(peaks, store, 1000)                 # flat offsets of 1 kb windows on the summits
    neg = sample_negatives(store, starts, 1000, ratio=10, match="gc", avoid=[peaks], seed=0)

Coordinates are BED's: 0-based, end exclusive. Messages name the file and its line (1-based, as an editor
shows it). A peak file whose contigs are named `1` where the genome says `chr1` (or the other way round) is
matched to the genome's names, and the log says so.
"""

from __future__ import annotations

import gzip
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqsweep.data.genome import TOKEN_N, TokenStore
from seqsweep.errors import DataError

log = logging.getLogger(__name__)

_SKIP = ("#", "track", "browser")
_HEADER_START = ("start", "chromstart", "chrom_start")


@dataclass(frozen=True)
class Intervals:
    """Rows of a BED file: chrom (N,) str, start and end (N,) int64, name (N,) str, summit (N,) int64 offset
    from start (-1: none), strand (N,) str ('+', '-' or '.'), line (N,) int64 1-based line numbers."""

    source: str
    chrom: np.ndarray
    start: np.ndarray
    end: np.ndarray
    name: np.ndarray
    summit: np.ndarray
    strand: np.ndarray
    line: np.ndarray
    # columns named by a header line (`#chrom start end label_JUND ...` or `chrom start end class`), beyond the 3rd
    extra: dict[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return int(self.start.shape[0])

    def where(self, i: int) -> str:
        return f"{self.source}: line {int(self.line[i])}"


def _int(text: str, what: str, where: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise DataError(f"{where}: {what} must be an integer, got {text!r}") from None


def read_bed(path: str | Path) -> Intervals:
    """A BED3+ or narrowPeak file (optionally .gz). Header, `track`, `browser` and `#` lines are skipped.

    Raises DataError naming the file and line: fewer than 3 columns, a coordinate that is not an integer or is
    negative, start > end, a summit outside its peak, or a file without any interval.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such BED file")
    opener = gzip.open if path.suffix == ".gz" else open
    chrom, start, end, name, summit, strand, line = [], [], [], [], [], [], []
    header: list[str] | None = None
    extra: list[list[str]] = []
    with opener(path, "rt") as f:
        for no, raw in enumerate(f, start=1):
            text = raw.rstrip("\n\r")
            cols = text.lstrip("#").split("\t") if "\t" in text else text.lstrip("#").split()
            if header is None and not chrom and len(cols) >= 3 and cols[1].strip().lower() in _HEADER_START:
                header = [c.strip() for c in cols]  # a header line names the columns (label_<task>, class, ...)
                continue
            if not text.strip() or text.startswith(_SKIP):
                continue
            cols = text.split("\t") if "\t" in text else text.split()
            where = f"{path}: line {no}"
            if len(cols) < 3:
                raise DataError(f"{where}: a BED line needs chrom, start, end (tab-separated), got {text[:60]!r}")
            s, e = _int(cols[1], "start", where), _int(cols[2], "end", where)
            if s < 0:
                raise DataError(f"{where}: start must be >= 0, got {s}")
            if s > e:
                raise DataError(f"{where}: start {s} > end {e}")
            peak = -1
            if header is None and len(cols) >= 10 and cols[9] not in ("", "."):
                peak = _int(cols[9], "the narrowPeak summit (column 10)", where)
                if peak != -1 and not 0 <= peak < max(e - s, 1):
                    raise DataError(f"{where}: summit offset {peak} lies outside the peak ({e - s} bp)")
            chrom.append(cols[0])
            start.append(s)
            end.append(e)
            name.append(cols[3] if len(cols) > 3 else ".")
            strand.append(cols[5] if len(cols) > 5 and cols[5] in "+-." else ".")
            summit.append(peak)
            line.append(no)
            if header is not None:
                if len(cols) != len(header):
                    raise DataError(f"{where}: has {len(cols)} columns, the header names {len(header)}")
                extra.append(cols[3:])
    if not chrom:
        raise DataError(f"{path}: holds no interval (chrom, start, end lines)")
    return Intervals(str(path), np.array(chrom, dtype=str), np.array(start, dtype=np.int64), np.array(end, dtype=np.int64),
                     np.array(name, dtype=str), np.array(summit, dtype=np.int64), np.array(strand, dtype=str),
                     np.array(line, dtype=np.int64),
                     None if header is None else {h: np.array([r[k] for r in extra], dtype=str) for k, h in enumerate(header[3:])})


def match_contigs(iv: Intervals, store: TokenStore) -> np.ndarray:
    """The store's contig index of every interval, (N,) int64. Names differing only by a `chr` prefix are
    matched (and said so); a contig the genome lacks is a DataError naming both files and the line."""
    have = set(store.names)
    mapping: dict[str, str] = {}
    renamed = []
    for c in np.unique(iv.chrom).tolist():
        if c in have:
            mapping[c] = c
            continue
        alt = c[3:] if c.startswith("chr") else "chr" + c
        if alt in have:
            mapping[c] = alt
            renamed.append(f"{c}->{alt}")
            continue
        i = int(np.flatnonzero(iv.chrom == c)[0])
        shown = ", ".join(store.names[:6]) + (" ..." if len(store.names) > 6 else "")
        raise DataError(f"{iv.where(i)}: contig {c!r} is not in the genome {store.source} (it has {shown})")
    if renamed:
        log.info("%s: contig names matched to the genome's: %s", iv.source, ", ".join(renamed[:5]) + (" ..." if len(renamed) > 5 else ""))
    index = {n: i for i, n in enumerate(store.names)}
    return np.array([index[mapping[c]] for c in iv.chrom], dtype=np.int64)


def flat_intervals(iv: Intervals, store: TokenStore) -> tuple[np.ndarray, np.ndarray]:
    """Intervals as flat [start, end) offsets into the store; DataError for one past its contig's end."""
    c = match_contigs(iv, store)
    n = store.lengths[c]
    past = iv.end > n
    if past.any():
        i = int(np.flatnonzero(past)[0])
        raise DataError(f"{iv.where(i)}: interval {iv.chrom[i]}:{iv.start[i]}-{iv.end[i]} ends past the end of "
                        f"{store.names[c[i]]} ({int(n[i]):,} bp in {store.source})")
    return store.offsets[c] + iv.start, store.offsets[c] + iv.end


def peak_windows(iv: Intervals, store: TokenStore, window: int) -> np.ndarray:
    """Flat start of a `window`-bp window centred on each peak's summit (narrowPeak) or centre, shifted inside
    its contig where the peak sits near an end. DataError for a window larger than the contig."""
    lo, hi = flat_intervals(iv, store)
    c = store.locate(lo)[0]
    centre = np.where(iv.summit >= 0, lo + iv.summit, (lo + hi) // 2)
    start = centre - window // 2
    c_lo, c_hi = store.offsets[c], store.offsets[c + 1]
    small = (c_hi - c_lo) < window
    if small.any():
        i = int(np.flatnonzero(small)[0])
        raise DataError(f"{iv.where(i)}: data.window {window} is larger than contig {store.names[c[i]]} "
                        f"({int(c_hi[i] - c_lo[i]):,} bp)")
    return np.clip(start, c_lo, c_hi - window)


def _merged(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted, non-overlapping union of flat intervals."""
    order = np.argsort(lo, kind="stable")
    lo, hi = lo[order], hi[order]
    reach = np.maximum.accumulate(hi)
    new = np.ones(len(lo), dtype=bool)
    new[1:] = lo[1:] > reach[:-1]
    group = np.cumsum(new) - 1
    out_lo = lo[new]
    out_hi = np.zeros(len(out_lo), dtype=np.int64)
    np.maximum.at(out_hi, group, hi)
    return out_lo, out_hi


def overlaps(starts: np.ndarray, window: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(N,) bool: whether [start, start + window) overlaps any of the merged intervals [lo, hi)."""
    if len(lo) == 0:
        return np.zeros(len(starts), dtype=bool)
    i = np.searchsorted(hi, starts, side="right")  # the first interval ending after the window's start
    ok = i < len(lo)
    out = np.zeros(len(starts), dtype=bool)
    out[ok] = lo[i[ok]] < starts[ok] + window
    return out


def gc_and_n(store: TokenStore, starts: np.ndarray, window: int, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """GC fraction among the called bases, and the N fraction, of each window; (N,) float64 each."""
    gc = np.empty(len(starts))
    nf = np.empty(len(starts))
    for a in range(0, len(starts), chunk):
        tok = store.gather(starts[a : a + chunk], window)
        n = (tok == TOKEN_N).sum(1)
        g = ((tok == 1) | (tok == 2)).sum(1)
        gc[a : a + chunk] = g / np.maximum(window - n, 1)
        nf[a : a + chunk] = n / window
    return gc, nf


GC_BINS = 20


def sample_negatives(
    store: TokenStore, positives: np.ndarray, window: int, *, ratio: float, match: str | None, avoid: list[tuple[np.ndarray, np.ndarray]],
    max_n: float = 0.1, seed: int = 0, rounds: int = 30, where: str = "data.negatives",
) -> np.ndarray:
    """Flat starts of `ratio` negatives per positive window, drawn uniformly over the genome outside every
    interval of `avoid` (flat [lo, hi) pairs: the peaks, the exclude regions) and with at most `max_n` N;
    GC-matched to the positives (the same histogram over 20 GC bins) when match == 'gc'. Seeded.

    Raises DataError saying how many were found when the genome does not hold enough such windows.
    """
    rng = np.random.default_rng(seed)
    need_total = int(round(ratio * len(positives)))
    lo = np.concatenate([a for a, _ in avoid]) if avoid else np.zeros(0, dtype=np.int64)
    hi = np.concatenate([b for _, b in avoid]) if avoid else np.zeros(0, dtype=np.int64)
    lo, hi = _merged(lo, hi) if len(lo) else (lo, hi)
    lengths = store.lengths
    usable = np.maximum(lengths - window + 1, 0)
    if usable.sum() == 0:
        raise DataError(f"{where}: no contig of {store.source} holds a {window}-bp window")
    p = usable / usable.sum()
    if match == "gc":
        pos_gc, _ = gc_and_n(store, positives, window)
        bins = np.minimum((pos_gc * GC_BINS).astype(np.int64), GC_BINS - 1)
        need = np.round(np.bincount(bins, minlength=GC_BINS) * ratio).astype(np.int64)
    else:
        need = np.array([need_total], dtype=np.int64)
    found: list[list[np.ndarray]] = [[] for _ in need]
    have = np.zeros(len(need), dtype=np.int64)
    taken = np.zeros(0, dtype=np.int64)
    batch = max(10_000, 4 * need_total)
    for _ in range(rounds):
        if (have >= need).all():
            break
        c = rng.choice(len(lengths), size=batch, p=p)
        s = store.offsets[c] + (rng.random(batch) * usable[c]).astype(np.int64)
        s = s[~overlaps(s, window, lo, hi)]
        s = np.setdiff1d(s, taken)  # sorted, unique, not drawn before
        gc, nf = gc_and_n(store, s, window)
        keep = nf <= max_n
        s, gc = s[keep], gc[keep]
        s_order = rng.permutation(len(s))
        s, gc = s[s_order], gc[s_order]
        b = np.minimum((gc * GC_BINS).astype(np.int64), GC_BINS - 1) if match == "gc" else np.zeros(len(s), dtype=np.int64)
        for k in np.flatnonzero(have < need):
            pick = s[b == k][: need[k] - have[k]]
            found[k].append(pick)
            have[k] += len(pick)
            taken = np.union1d(taken, pick)
    if (have < need).any():
        short = [f"GC {k / GC_BINS:.2f}-{(k + 1) / GC_BINS:.2f}: {have[k]} of {need[k]}" for k in np.flatnonzero(have < need)][:4]
        detail = f" ({'; '.join(short)})" if match == "gc" else ""
        raise DataError(
            f"{where}: found {int(np.minimum(have, need).sum()):,} of the {int(need.sum()):,} negative windows asked for "
            f"(ratio {ratio}) outside the peaks and excluded regions with at most {max_n:.0%} N{detail}; lower the ratio"
            + (", or drop match: gc" if match == "gc" else "")
        )
    return np.sort(np.concatenate([np.concatenate(f) if f else np.zeros(0, dtype=np.int64) for f in found]))
