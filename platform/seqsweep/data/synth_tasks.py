"""Synthetic data for the task types beyond binary: co-bound targets (multilabel) and regulatory classes of
different lengths (multiclass), on the background and motif machinery of the binary generator (synth.py)."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from seqsweep.data.dataset import Dataset
from seqsweep.data.encoding import _ONE_HOT, _ZERO, multilabel_weights
from seqsweep.data.shards import write_shards
from seqsweep.data.motifs import KEEP, MOTIFS, Motif, mutate, reverse_complement, sample
from seqsweep.data.synth import N_RUN_RATE, START, TRANSITIONS, _background, _categorical
from seqsweep.errors import DataError
from seqsweep.tasks import Task

if TYPE_CHECKING:  # pandas is imported where used: a trial's worker never needs it
    import pandas as pd

logger = logging.getLogger(__name__)


# =========================================================================================================
# Multilabel: many ChIP-seq targets per window (DeepSEA / DanQ style)
#
# Each row of the table below is an *event*: what one bound (or decoy) locus plants in a window, and which
# targets that makes positive. Events come in four layouts:
#   site   one motif                         (a target bound at its own site)
#   near   two motifs 0..NEAR_GAP bp apart,  (a target bound only with a partner close by: cooperative
#          in any order and orientation       binding, e.g. ELK1 needs SRF on a CArG box next to its ETS site)
#   far    two motifs >= FAR_GAP bp apart    (the same two motifs, too far apart to cooperate: a decoy)
# and composites, fixed-spacing elements written as one motif with N spacers (AICE for BATF, E-box-GATA for
# TAL1, Sox-Oct for POU5F1). Shared motifs: JUND and BATF both bind AP-1, but BATF only inside an AICE;
# MAX binds every E-box, MYC only next to a GC box; GATA1 every GATA site, TAL1 only the composite. So a
# model that knows motif combinations, spacings and orientations beats per-task k-mer counts, and motif
# detectors learned for one target help its partners (the rarer targets have 1.5% positives).
# How baselines and the search score on it: docs/results-tasks.md.
# =========================================================================================================

NEAR_GAP = 20  # bp between the two motifs of a cooperative pair, at most
FAR_GAP = 40  # bp between the two motifs of a decoy pair, at least

# (target, event layout, motifs, share of rows, targets the event makes positive). The first target of a row
# is the one it defines; the task list is the targets in order of first appearance.
ML_EVENTS: tuple[tuple[str, str, tuple[str, ...], float, tuple[str, ...]], ...] = (
    ("JUND", "site", ("AP1",), 0.025, ("JUND",)),
    ("BATF", "site", ("AICE",), 0.015, ("JUND", "BATF")),
    ("MAX", "site", ("EBOX",), 0.025, ("MAX",)),
    ("MYC", "near", ("EBOX", "SP1"), 0.015, ("MAX", "MYC", "SP1")),
    ("GATA1", "site", ("GATA",), 0.020, ("GATA1",)),
    ("TAL1", "site", ("TAL1_GATA",), 0.015, ("GATA1", "TAL1")),
    ("SOX2", "site", ("SOX",), 0.020, ("SOX2",)),
    ("POU5F1", "site", ("OCT_SOX",), 0.020, ("SOX2", "POU5F1")),
    ("GABPA", "site", ("ETS",), 0.025, ("GABPA",)),
    ("ELK1", "near", ("ETS", "CARG"), 0.015, ("GABPA", "ELK1", "SRF")),
    ("SRF", "site", ("CARG",), 0.015, ("SRF",)),
    ("FOXA1", "site", ("FOX",), 0.025, ("FOXA1",)),
    ("FOXA2", "near", ("FOX", "DR1"), 0.015, ("FOXA1", "FOXA2", "HNF4A")),
    ("HNF4A", "site", ("DR1",), 0.015, ("HNF4A",)),
    ("CTCF", "site", ("CTCF",), 0.030, ("CTCF",)),
    ("REST", "site", ("REST",), 0.015, ("REST",)),
    ("NRF1", "site", ("NRF1",), 0.020, ("NRF1",)),
    ("YY1", "site", ("YY1",), 0.020, ("YY1",)),
    ("CEBPB", "site", ("CEBP",), 0.025, ("CEBPB",)),
    ("CREB1", "site", ("CRE",), 0.020, ("CREB1",)),
    ("TP53", "site", ("TP53",), 0.010, ("TP53",)),
    ("MEF2A", "site", ("MEF2",), 0.020, ("MEF2A",)),
    ("RELA", "site", ("NFKB",), 0.020, ("RELA",)),
    ("SP1", "site", ("SP1",), 0.020, ("SP1",)),
)
# Decoys: (the target they fool, layout, motifs, share of rows, targets they do make positive).
ML_DECOYS: tuple[tuple[str, str, tuple[str, ...], float, tuple[str, ...]], ...] = (
    ("BATF", "site", ("AICE_SHIFTED",), 0.010, ("JUND",)),  # IRF half 8 bp away: no composite
    ("MYC", "far", ("EBOX", "SP1"), 0.010, ("MAX", "SP1")),
    ("TAL1", "far", ("EBOX_T", "GATA"), 0.015, ("GATA1",)),
    ("TAL1", "site", ("EBOX_T",), 0.010, ()),
    ("POU5F1", "site", ("OCT",), 0.015, ()),  # lone octamers: POU5F1 in ES cells binds with SOX2
    ("POU5F1", "far", ("SOX", "OCT"), 0.010, ("SOX2",)),
    ("ELK1", "far", ("ETS", "CARG"), 0.010, ("GABPA", "SRF")),
    ("FOXA2", "far", ("FOX", "DR1"), 0.010, ("FOXA1", "HNF4A")),
)
TASK_NAMES = tuple(dict.fromkeys(t for e in ML_EVENTS for t in e[4]))
ML_NEAR_MISS = 0.010  # per target with a site event: share of rows with its site one mutation past weak
# Positive events: strong site | weak site (1 mutation, 2 for motifs with >= 10 informative positions) |
# nothing planted (a peak bound through a partner, or a bad peak call). As in `synth`.
ML_STRONG, ML_WEAK = 0.78, 0.14


def _motif(name: str) -> Motif:
    if name == "AICE_SHIFTED":
        return Motif("AICE_SHIFTED", "TTTCNNNNNNNNTGASTCA", "AICE with the IRF half 8 bp away (decoy)")
    return MOTIFS[name]


def _n_weak(motif: Motif) -> int:
    return 1 if len(motif.informative()) < 10 else 2


def _strands(rng: np.random.Generator, sites: np.ndarray) -> np.ndarray:
    """Each row of sites on a random strand."""
    rev = rng.random(len(sites)) < 0.5
    out = sites.copy()
    out[rev] = reverse_complement(sites[rev])
    return out


def _pairs(rng: np.random.Generator, a: np.ndarray, b: np.ndarray, gaps: np.ndarray) -> list[np.ndarray]:
    """Two motifs per event, each on a random strand, in random order, `gaps` bp of background between."""
    a, b = _strands(rng, a), _strands(rng, b)
    swap = rng.random(len(a)) < 0.5
    out = []
    for x, z, g, s in zip(a, b, gaps, swap):
        first, second = (z, x) if s else (x, z)
        out.append(np.concatenate([first, np.full(int(g), KEEP, dtype=np.int8), second]))
    return out


def _min_span(layout: str, motifs: tuple[str, ...]) -> int:
    m = sum(len(_motif(x)) for x in motifs)
    return m + (FAR_GAP if layout == "far" else 0)


def _draw_events(
    rng: np.random.Generator, layout: str, motifs: tuple[str, ...], k: int, length: int, n_mut: int | None
) -> list[np.ndarray]:
    """k planted elements (int8 codes, KEEP in spacers). n_mut: mutations of the first motif (None: none)."""
    first = _motif(motifs[0])
    sites = sample(rng, first, k)
    if n_mut:
        sites = mutate(rng, sites, first, n_mut)
    if layout == "site":
        return list(_strands(rng, sites))
    second = _motif(motifs[1])
    other = sample(rng, second, k)
    if layout == "near":
        gaps = rng.integers(0, NEAR_GAP + 1, size=k)
    else:
        gaps = rng.integers(FAR_GAP, length - len(first) - len(second) + 1, size=k)
    return _pairs(rng, sites, other, gaps)


def _place(rng: np.random.Generator, row: np.ndarray, occupied: np.ndarray, element: np.ndarray,
           lo: int = 0, hi: int | None = None) -> bool:
    """Write `element` into `row` at a random start in [lo, hi] where its defined bases hit no occupied
    position (spacers may overlap anything); False when there is no room."""
    m = len(element)
    last = len(row) - m if hi is None else min(hi, len(row) - m)
    lo = max(lo, 0)
    if last < lo:
        return False
    fixed = element != KEEP
    windows = sliding_window_view(occupied, m)[lo : last + 1]  # (starts, m)
    free = np.flatnonzero(~(windows & fixed).any(axis=1))
    if free.size == 0:
        return False
    s = lo + int(free[rng.integers(free.size)])
    row[s : s + m][fixed] = element[fixed]
    occupied[s : s + m] |= fixed
    return True


def synth_multilabel(
    out_dir: str | Path,
    *,
    n: int = 20000,
    n_tasks: int = 20,
    length: int = 101,
    seed: int = 0,
    missing_rate: float = 0.02,
) -> Dataset:
    """Generate a multilabel dataset (one ChIP-seq target per task), write it as shards in `out_dir`, return it.

    Targets are the first `n_tasks` of TASK_NAMES (JUND, BATF, MAX, MYC, ...; see ML_EVENTS for what binds
    each), every one with 1-5% positives. Background, N runs and the `chrS:{start}-{end}` layout are those
    of `synth`. A `missing_rate` share of the (row, task) labels is missing: y = 0 and w = 0 there, as
    DeepChem stores them; the other weights balance the classes per task over its measured rows.
    Same arguments -> byte-identical files.

    Raises:
        DataError: n_tasks outside 1..len(TASK_NAMES), missing_rate outside [0, 1), length too short for
        the longest element, n too small to give every task both classes.
    """
    if isinstance(n_tasks, bool) or not isinstance(n_tasks, (int, np.integer)) or not 1 <= n_tasks <= len(TASK_NAMES):
        raise DataError(f"synth_multilabel: n_tasks must be an integer in 1..{len(TASK_NAMES)}, got {n_tasks!r}")
    if not 0.0 <= missing_rate < 1.0:
        raise DataError(f"synth_multilabel: missing_rate must be in [0, 1), got {missing_rate}")
    names = TASK_NAMES[:n_tasks]
    active = set(names)
    col = {t: j for j, t in enumerate(names)}
    # what is planted: events binding an active target, decoys fooling one
    events = [(e, False) for e in ML_EVENTS if active & set(e[4])]
    events += [(d, True) for d in ML_DECOYS if d[0] in active]
    near_miss = [e for e in ML_EVENTS if e[0] in active and e[1] == "site"]
    need = max(_min_span(e[1], e[2]) for e, _ in events)
    if length < need:
        raise DataError(f"synth_multilabel: length must be >= {need} (the longest element of {n_tasks} tasks), got {length}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise DataError(f"synth_multilabel: n must be an integer >= 2, got {n!r}")

    rng = np.random.default_rng(seed)
    c = _background(rng, n, length)  # (n, L) codes
    for row in np.flatnonzero(rng.random(n) < N_RUN_RATE):  # short runs of N, before the sites
        run = int(rng.integers(1, 5))
        s = int(rng.integers(0, length - run + 1))
        c[row, s : s + run] = _ZERO

    # every element with its row and the targets it binds; drawn event by event (vectorised per event)
    per_row: dict[int, list[tuple[np.ndarray, tuple[str, ...]]]] = {}
    unplanted: list[tuple[np.ndarray, tuple[str, ...]]] = []  # positives with nothing planted
    for (_, layout, motifs, rate, binds), decoy in events:
        k = int(round(n * rate))
        if k == 0:
            continue
        rows = np.sort(rng.choice(n, size=k, replace=False))
        binds = tuple(t for t in binds if t in active)
        if decoy:
            groups = [(rows, None)]
        else:
            kind = rng.random(k)
            strong, weak = rows[kind < ML_STRONG], rows[(kind >= ML_STRONG) & (kind < ML_STRONG + ML_WEAK)]
            unplanted.append((rows[kind >= ML_STRONG + ML_WEAK], binds))
            groups = [(strong, None), (weak, _n_weak(_motif(motifs[0])))]
        for group, n_mut in groups:
            for row, el in zip(group, _draw_events(rng, layout, motifs, len(group), length, n_mut)):
                per_row.setdefault(int(row), []).append((el, binds))
    for _, _, motifs, _, _ in near_miss:
        k = int(round(n * ML_NEAR_MISS))
        rows = np.sort(rng.choice(n, size=k, replace=False))
        n_mut = _n_weak(_motif(motifs[0])) + 1
        for row, el in zip(rows, _draw_events(rng, "site", motifs, k, length, n_mut)):
            per_row.setdefault(int(row), []).append((el, ()))

    y = np.zeros((n, n_tasks), dtype=np.uint8)
    for rows, binds in unplanted:
        y[np.ix_(rows, [col[t] for t in binds])] = 1
    dropped = 0
    for row in sorted(per_row):
        occupied = np.zeros(length, dtype=bool)
        items = sorted(per_row[row], key=lambda item: -int((item[0] >= 0).sum()))  # longest first: they fit
        for el, binds in items:
            if _place(rng, c[row], occupied, el):
                y[row, [col[t] for t in binds]] = 1
            else:
                dropped += 1

    measured = rng.random((n, n_tasks)) >= missing_rate
    y[~measured] = 0
    for j, t in enumerate(names):
        yt = y[measured[:, j], j]
        if not (yt == 1).any() or not (yt == 0).any():
            raise DataError(f"synth_multilabel: n={n} gives task {t!r} {int(yt.sum())} measured positives in "
                            f"{len(yt)} measured rows: need both classes (use a larger n)")
    ids = np.array([f"chrS:{i * length}-{(i + 1) * length}" for i in range(n)])
    out_dir = Path(out_dir)
    ds = Dataset(
        X=_ONE_HOT[c],  # (n, L) -> (n, L, 4)
        y=y,
        w=multilabel_weights(y, measured),
        ids=ids,
        source=str(out_dir),
        task=Task("multilabel", names),
    )
    write_shards(ds, out_dir)
    logger.info(
        "%s: synthetic multilabel data, %d rows x %d tasks, %d positive labels, %d elements without room, seed %d",
        out_dir, n, n_tasks, int((y == 1).sum()), dropped, seed,
    )
    return ds


# =========================================================================================================
# Multiclass: promoter / enhancer / background sequences of different lengths
#
# promoter    the sequence ends PROMOTER_DOWNSTREAM bp past the transcription start site (TSS), so the core
#             promoter sits at a fixed distance from the END: initiator over the TSS, TATA box about 30 bp
#             upstream, CCAAT box 60-100 bp upstream (Bucher 1990). Most are CpG-island promoters (CpG-rich
#             background, several SP1 GC boxes, often NRF1 and ETS sites, rarely TATA); the rest are CpG-poor
#             with a TATA box more often, as in the human genome.
# enhancer    genomic background with a cluster of 2-4 TF sites (3-25 bp apart) anywhere.
# background  genomic background (a share GC-rich but CpG-depleted, like GC-rich isochores, so GC content is
#             not CpG), often with one TF site, sometimes two far apart, or a TATA box at a random place.
# Length: promoters run longer than enhancers on average, background is uniform; the ranges overlap.
# How baselines and the search score on it: docs/results-tasks.md.
# =========================================================================================================

MC_CLASSES = ("promoter", "enhancer", "background")
MC_SHARES = (0.30, 0.30, 0.40)  # background is the commonest, as in a genome
PROMOTER_DOWNSTREAM = 50
MC_MIN_LENGTH = 100  # room for the core promoter (CCAAT box at -100 is clipped to the sequence)


def _chain(base: tuple[float, float, float, float], cpg: float) -> np.ndarray:
    """P(next | current) ∝ base composition, with the CG step scaled by `cpg` (its observed/expected ratio)."""
    t = np.tile(np.asarray(base, dtype=np.float64), (4, 1))
    t[1, 2] *= cpg
    return t / t.sum(axis=1, keepdims=True)


# 0 the genome (TRANSITIONS above), 1 CpG island (GC about 0.64, CpG o/e about 0.8; Gardiner-Garden & Frommer
# 1987 call a stretch an island from GC > 0.5 and o/e > 0.6), 2 GC-rich but CpG-depleted (o/e 0.2)
MC_CHAINS = np.stack([TRANSITIONS, _chain((0.18, 0.32, 0.32, 0.18), 0.8), _chain((0.2, 0.3, 0.3, 0.2), 0.2)])
PROMOTER_CGI = 0.65  # share of promoters that are CpG-island promoters
# per promoter kind (CGI, CpG-poor): the share carrying each element; SP1 GC boxes are Poisson counts
PROMOTER_ELEMENTS = {"INR": (0.6, 0.7), "TATA": (0.15, 0.6), "CCAAT": (0.4, 0.3), "NRF1": (0.25, 0.05), "ETS": (0.25, 0.1)}
PROMOTER_SP1_MEAN = (1.5, 0.4)
ENHANCER_TFS = ("AP1", "ETS", "GATA", "FOX", "CEBP", "EBOX_T", "RUNX", "SOX", "OCT", "TEAD", "NFKB", "MEF2")
ENHANCER_SP1, ENHANCER_TATA = 0.15, 0.05  # enhancers carrying a GC box / TATA box elsewhere (decoys)
BACKGROUND_ONE, BACKGROUND_TWO, BACKGROUND_TATA = 0.35, 0.10, 0.08  # single site | two far apart | a TATA
BACKGROUND_GC_RICH = 0.2
MC_WEAK = 0.15  # share of planted sites with one mutation


def _lengths(rng: np.random.Generator, k: int, lo: int, hi: int, where: float | None) -> np.ndarray:
    """k lengths in [lo, hi]: a normal around lo + where * (hi - lo) (sd 0.22 of the range, redrawn until
    inside, so no spike at the bounds), or uniform when `where` is None."""
    if where is None or hi == lo:
        return rng.integers(lo, hi + 1, size=k)
    out = np.empty(k, dtype=np.int64)
    todo = np.arange(k)
    while todo.size:
        draw = np.rint(rng.normal(lo + where * (hi - lo), 0.22 * (hi - lo), size=todo.size)).astype(np.int64)
        ok = (draw >= lo) & (draw <= hi)
        out[todo[ok]] = draw[ok]
        todo = todo[~ok]
    return out


def _site(rng: np.random.Generator, name: str, strand: bool = True) -> np.ndarray:
    """One site of motif `name` (weak with probability MC_WEAK), on a random strand unless strand=False."""
    motif = MOTIFS[name]
    s = sample(rng, motif, 1)
    if rng.random() < MC_WEAK:
        s = mutate(rng, s, motif, 1)
    if strand and rng.random() < 0.5:
        s = reverse_complement(s)
    return s[0]


def _cluster(rng: np.random.Generator, names: list[str], gap_lo: int, gap_hi: int) -> np.ndarray:
    """Sites of `names` in order, gap_lo..gap_hi bp of background between neighbours, as one element."""
    parts: list[np.ndarray] = []
    for j, name in enumerate(names):
        if j:
            parts.append(np.full(int(rng.integers(gap_lo, gap_hi + 1)), KEEP, dtype=np.int8))
        parts.append(_site(rng, name))
    return np.concatenate(parts)


def synth_multiclass(
    out_path: str | Path, *, n: int = 6000, seed: int = 0, lengths: tuple[int, int] = (150, 500)
) -> pd.DataFrame:
    """Generate promoter / enhancer / background sequences of lengths in `lengths`, write them as a CSV
    (`id,sequence,label`, label = the class name) at `out_path`, and return the same table.

    Classes are 30/30/40% (exact counts), interleaved along a fake chromosome: ids ``chrS:{start}-{end}``
    with each sequence starting where the previous one ends. Load with
    ``load(path, task=LabelSpec("multiclass"), length=Length(to=lengths[1]))``: the lengths differ, so
    data.length is needed. The core promoter sits at a fixed distance from each sequence's end, so
    ``pad: left`` lines it up across rows and ``pad: right`` does not (a model then has to find the end).
    Same arguments -> byte-identical file; the file is written whole or not at all.

    Raises:
        DataError: n < 10, lengths not two integers with MC_MIN_LENGTH <= low <= high.
    """
    import pandas as pd
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 10:
        raise DataError(f"synth_multiclass: n must be an integer >= 10, got {n!r}")
    try:
        lo, hi = (int(v) for v in lengths)
        ok = lo == lengths[0] and hi == lengths[1]
    except (TypeError, ValueError):
        ok = False
    if not ok or not MC_MIN_LENGTH <= lo <= hi:
        raise DataError(f"synth_multiclass: lengths must be two integers ({MC_MIN_LENGTH} <= low <= high), got {lengths!r}")

    rng = np.random.default_rng(seed)
    counts = [int(round(n * s)) for s in MC_SHARES[:2]]
    counts.append(n - sum(counts))
    label = rng.permutation(np.repeat(np.arange(3), counts))  # (n,) class index, interleaved
    size = np.empty(n, dtype=np.int64)
    for cls, where in zip(range(3), (0.6, 0.4, None)):
        rows = label == cls
        size[rows] = _lengths(rng, int(rows.sum()), lo, hi, where)

    cgi = rng.random(n) < PROMOTER_CGI
    chain = np.zeros(n, dtype=np.int64)
    chain[(label == 0) & cgi] = 1
    chain[(label == 2) & (rng.random(n) < BACKGROUND_GC_RICH)] = 2
    c = np.empty((n, hi), dtype=np.int8)  # each row uses its first size[i] positions
    c[:, 0] = _categorical(rng, np.broadcast_to(START, (n, 4)))
    for t in range(1, hi):
        c[:, t] = _categorical(rng, MC_CHAINS[chain, c[:, t - 1]])  # (n, 4): each row's own chain

    for i in range(n):
        L = int(size[i])
        row, occupied = c[i, :L], np.zeros(L, dtype=bool)
        if label[i] == 0:
            kind = 0 if cgi[i] else 1
            tss = L - PROMOTER_DOWNSTREAM
            # fixed-position core elements first, sense strand (they point at the TSS)
            if rng.random() < PROMOTER_ELEMENTS["INR"][kind]:
                _place(rng, row, occupied, _site(rng, "INR", strand=False), tss - 2, tss - 2)  # its A at +1
            if rng.random() < PROMOTER_ELEMENTS["TATA"][kind]:
                s = tss - 31 + int(rng.integers(-2, 3))
                _place(rng, row, occupied, _site(rng, "TATA", strand=False), s, s)
            if rng.random() < PROMOTER_ELEMENTS["CCAAT"][kind]:
                _place(rng, row, occupied, _site(rng, "CCAAT"), tss - 100, tss - 60)
            for _ in range(int(rng.poisson(PROMOTER_SP1_MEAN[kind]))):
                _place(rng, row, occupied, _site(rng, "SP1"), tss - 250, tss - 40)
            if rng.random() < PROMOTER_ELEMENTS["NRF1"][kind]:
                _place(rng, row, occupied, _site(rng, "NRF1"), tss - 150, tss - 20)
            if rng.random() < PROMOTER_ELEMENTS["ETS"][kind]:
                _place(rng, row, occupied, _site(rng, "ETS"), tss - 150, tss - 10)
        elif label[i] == 1:
            names = list(rng.choice(ENHANCER_TFS, size=int(rng.integers(2, 5))))
            _place(rng, row, occupied, _cluster(rng, names, 3, 25))
            if rng.random() < ENHANCER_SP1:
                _place(rng, row, occupied, _site(rng, "SP1"))
            if rng.random() < ENHANCER_TATA:
                _place(rng, row, occupied, _site(rng, "TATA"))
        else:
            u = rng.random()
            if u < BACKGROUND_ONE:
                _place(rng, row, occupied, _site(rng, str(rng.choice(ENHANCER_TFS + ("SP1",)))))
            elif u < BACKGROUND_ONE + BACKGROUND_TWO:
                a, b = (str(x) for x in rng.choice(ENHANCER_TFS, size=2))
                room = L - len(MOTIFS[a]) - len(MOTIFS[b])
                _place(rng, row, occupied, _cluster(rng, [a, b], min(80, room), max(min(80, room), room)))
            elif u < BACKGROUND_ONE + BACKGROUND_TWO + BACKGROUND_TATA:
                _place(rng, row, occupied, _site(rng, "TATA"))

    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    seqs = [letters[c[i, : size[i]]].tobytes().decode("ascii") for i in range(n)]
    end = np.cumsum(size)
    start = end - size
    df = pd.DataFrame({
        "id": [f"chrS:{s}-{e}" for s, e in zip(start, end)],
        "sequence": seqs,
        "label": np.asarray(MC_CLASSES, dtype=object)[label],
    })
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=f".{out_path.name}.tmp-")
    try:
        with os.fdopen(fd, "w", newline="") as f:
            df.to_csv(f, index=False, lineterminator="\n")
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    logger.info("%s: synthetic promoter/enhancer/background data, %d rows (%s), lengths %d-%d, seed %d",
                out_path, n, ", ".join(f"{k} {name}" for k, name in zip(counts, MC_CLASSES)), lo, hi, seed)
    return df
