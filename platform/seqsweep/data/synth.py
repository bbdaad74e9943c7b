"""A deterministic, JUND-like synthetic dataset: learnable, but not trivially (the other task types' generators,
built on this one's background, are in synth_tasks.py).

Background: a first-order Markov chain over A,C,G,T with human-like dinucleotide statistics (CpG depleted),
so a model cannot separate classes by composition alone.

Positives (label 1) carry a JUND (AP-1, TGA[C/G]TCA) site sampled from JASPAR MA0491.1, at a random position
on a random strand, except that, as in real ChIP-seq peaks,
  * a share carries a weak site (two core positions mutated), and
  * a share carries no site at all (label noise: a peak bound through a partner, or a bad peak call).
Negatives (label 0) sometimes carry a decoy: an AP-1 half-site, or a site one mismatch from the consensus.
Negatives also contain perfect sites by chance (about 1% of 101-bp windows), as the genome does.
A good CNN should reach a weighted accuracy of about 0.85-0.95, not 1.0.

Each row is a window on a fake chromosome laid out contiguously, ids ``chrS:{start}-{end}`` with
start = i * length, so grouping folds by genomic block works the same way as on real data.
Accessibility is Beta-distributed and higher for positives (informative, not decisive).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from seqsweep.data.dataset import Dataset
from seqsweep.data.encoding import _ONE_HOT, _ZERO, class_balancing_weights
from seqsweep.data.shards import write_shards
from seqsweep.errors import DataError

logger = logging.getLogger(__name__)

# JASPAR MA0491.1 (JUND, ChIP-seq), counts per position in A, C, G, T order, as published in the JASPAR 2015
# CORE vertebrates matrix file. Consensus [GAT][GA] T G A [CG] T C A T [CG]; the AP-1 core TGA[CG]TCA is 2..8.
JUND_MA0491_1 = np.array(
    [
        [12389, 759, 13640, 11922],
        [15163, 4824, 18723, 0],
        [0, 0, 0, 38710],
        [0, 0, 38710, 0],
        [38710, 0, 0, 0],
        [0, 22857, 14078, 1775],
        [0, 0, 0, 38710],
        [1547, 37163, 0, 0],
        [38710, 0, 0, 0],
        [0, 5136, 2301, 31273],
        [5786, 14956, 12429, 5539],
    ],
    dtype=np.float64,
)  # (11, 4)
_CORE = np.arange(2, 9)  # positions of TGA[CG]TCA inside the motif

# P(next | current), rows and columns A, C, G, T. Approximate human-genome dinucleotide frequencies (per cent:
# AA 9.8 AC 5.0 AG 7.0 AT 7.7 / CA 7.3 CC 5.2 CG 1.0 CT 7.0 / GA 6.0 GC 4.3 GG 5.2 GT 5.0 / TA 6.6 TC 5.9
# TG 7.3 TT 9.8) turned into conditionals; CG is about a fifth of its expected rate, as in the genome.
TRANSITIONS = np.array(
    [
        [9.8, 5.0, 7.0, 7.7],
        [7.3, 5.2, 1.0, 7.0],
        [6.0, 4.3, 5.2, 5.0],
        [6.6, 5.9, 7.3, 9.8],
    ]
)
TRANSITIONS = TRANSITIONS / TRANSITIONS.sum(axis=1, keepdims=True)
START = np.array([0.295, 0.205, 0.205, 0.295])  # AT-rich, like the genome

# How positives and negatives are made (shares of their class). Chosen by measurement (n=40000, 2% positives):
# the best threshold on the MA0491.1 log-odds scan scores a weighted accuracy of 0.86-0.87, a 64-filter CNN
# without accessibility 0.86 on held-out rows, accessibility alone 0.70.
POSITIVE_STRONG, POSITIVE_WEAK = 0.82, 0.10  # the remaining 0.08 of positives carry no site
NEGATIVE_HALF_SITE, NEGATIVE_ONE_MISMATCH = 0.05, 0.03
N_RUN_RATE = 0.002  # share of rows with a short run of N (real windows have a few)
ACCESSIBILITY_BETA = {1: (3.0, 2.0), 0: (2.0, 3.0)}  # mean 0.6 vs 0.4


def _categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of `probs` (..., 4) -> (...) int8 codes."""
    cum = np.cumsum(probs, axis=-1)[..., :3]  # the last bin takes the rest, whatever the rounding
    u = rng.random(probs.shape[:-1])
    return (u[..., None] > cum).sum(axis=-1).astype(np.int8)


def _background(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    """(n, length) int8 codes from the Markov chain; vectorised over rows, one step per position."""
    c = np.empty((n, length), dtype=np.int8)
    c[:, 0] = _categorical(rng, np.broadcast_to(START, (n, 4)))
    for t in range(1, length):
        c[:, t] = _categorical(rng, TRANSITIONS[c[:, t - 1]])  # (n, 4) rows of the chain
    return c


def _sites(rng: np.random.Generator, k: int) -> np.ndarray:
    """(k, 11) int8 codes sampled from MA0491.1 (a small pseudocount so no base is impossible)."""
    pfm = JUND_MA0491_1 + 0.005 * JUND_MA0491_1.sum(axis=1, keepdims=True)
    pfm = pfm / pfm.sum(axis=1, keepdims=True)
    return _categorical(rng, np.broadcast_to(pfm, (k, *pfm.shape)))


def _mutate(rng: np.random.Generator, sites: np.ndarray, n_mut: int) -> np.ndarray:
    """Change `n_mut` distinct core positions of every site to a different base."""
    sites = sites.copy()
    for r in range(len(sites)):
        for j in rng.choice(_CORE, size=n_mut, replace=False):
            sites[r, j] = (sites[r, j] + rng.integers(1, 4)) % 4
    return sites


def _implant(rng: np.random.Generator, c: np.ndarray, rows: np.ndarray, sites: np.ndarray) -> None:
    """Write sites (k, m) into rows of c (n, L) at random offsets, each on a random strand."""
    m = sites.shape[1]
    starts = rng.integers(0, c.shape[1] - m + 1, size=len(rows))
    reverse = rng.random(len(rows)) < 0.5
    for row, s, site, rev in zip(rows, starts, sites, reverse):
        c[row, s : s + m] = 3 - site[::-1] if rev else site  # reverse complement: A<->T, C<->G


def synth(
    out_dir: str | Path, *, n: int = 20000, positive_rate: float = 0.02, seed: int = 0, length: int = 101
) -> Dataset:
    """Generate the synthetic dataset, write it as shards in `out_dir`, and return it.

    Same arguments -> byte-identical files. Weights balance the classes (w_i = N / (2 N_{y_i})).

    Raises:
        DataError: n < 2, positive_rate outside (0, 1) or rounding to no positives or no negatives,
        length shorter than the motif.
    """
    m = len(JUND_MA0491_1)
    if length < m:
        raise DataError(f"synth: length must be >= {m} (the JUND motif), got {length}")
    if not 0.0 < positive_rate < 1.0:
        raise DataError(f"synth: positive_rate must be in (0, 1), got {positive_rate}")
    n_pos = int(round(n * positive_rate))
    if n < 2 or not 1 <= n_pos <= n - 1:
        raise DataError(f"synth: n={n} with positive_rate={positive_rate} gives {n_pos} positives: need both classes")

    rng = np.random.default_rng(seed)
    c = _background(rng, n, length)  # (n, L) codes

    # a few short runs of N, before the sites so a site is never masked
    for row in np.flatnonzero(rng.random(n) < N_RUN_RATE):
        run = int(rng.integers(1, 5))
        s = int(rng.integers(0, length - run + 1))
        c[row, s : s + run] = _ZERO

    y = np.zeros(n, dtype=np.uint8)
    pos = np.sort(rng.permutation(n)[:n_pos])
    y[pos] = 1
    neg = np.flatnonzero(y == 0)

    # positives: strong site | weak site | none
    kind = rng.random(n_pos)
    strong = pos[kind < POSITIVE_STRONG]
    weak = pos[(kind >= POSITIVE_STRONG) & (kind < POSITIVE_STRONG + POSITIVE_WEAK)]
    _implant(rng, c, strong, _sites(rng, len(strong)))
    _implant(rng, c, weak, _mutate(rng, _sites(rng, len(weak)), 2))

    # negatives: half-site decoy | one-mismatch decoy | plain background
    kind = rng.random(len(neg))
    half = neg[kind < NEGATIVE_HALF_SITE]
    near = neg[(kind >= NEGATIVE_HALF_SITE) & (kind < NEGATIVE_HALF_SITE + NEGATIVE_ONE_MISMATCH)]
    _implant(rng, c, half, _sites(rng, len(half))[:, :6])  # [GAT][GA]TGA[CG]: one half of the palindrome
    _implant(rng, c, near, _mutate(rng, _sites(rng, len(near)), 1))

    a = np.empty(n, dtype=np.float32)
    for label, (alpha, beta) in ACCESSIBILITY_BETA.items():
        rows = y == label
        a[rows] = rng.beta(alpha, beta, size=int(rows.sum()))

    ids = np.array([f"chrS:{i * length}-{(i + 1) * length}" for i in range(n)])
    out_dir = Path(out_dir)
    ds = Dataset(
        tokens=c.astype(np.uint8),  # (n, L) tokens, 4 = N
        y=y,
        w=class_balancing_weights(y),
        ids=ids,
        a=a,
        source=str(out_dir),
    )
    write_shards(ds, out_dir)
    logger.info(
        "%s: synthetic JUND-like data, %d rows (%d positives: %d strong, %d weak sites), seed %d",
        out_dir, n, n_pos, len(strong), len(weak), seed,
    )
    return ds
