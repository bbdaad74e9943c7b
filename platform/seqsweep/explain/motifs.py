"""From attributions to named motifs: TF-MoDISco's seqlets and their clusters, matched to JASPAR by TomTom.

    found = discover(X, hypothetical)          # TF-MoDISco (modisco-lite): list[Motif], most seqlets first
    matches = match(found)                     # TomTom (memelite) against JASPAR CORE vertebrates (jaspar.py)

A Motif is one TF-MoDISco pattern: its seqlets' base frequencies (ppm) and mean contributions (cwm, the
contribution-weighted matrix), both (w, 4), trimmed as modisco's own report trims them (positions whose
total |contribution| is below 30% of the pattern's largest), and its number of seqlets. Positive patterns
(bases that raise the prediction) come first; negative ones (bases that lower it) are kept and marked.

TomTom compares each motif's trimmed ppm with every JASPAR matrix on both strands; q-values are
Benjamini-Hochberg over one motif's p-values against the whole database (as MEME's tomtom does per query).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np

from seqsweep.explain import jaspar

log = logging.getLogger(__name__)

TRIM_THRESHOLD = 0.3  # modisco's report: cut the flanks whose |contribution| is below 30% of the maximum
TOP_MATCHES = 3


@dataclass(frozen=True)
class Match:
    id: str
    name: str
    families: tuple[str, ...]
    p: float
    q: float
    strand: str  # '+': the JASPAR matrix as published lines up with the motif; '-': its reverse complement
    offset: int

    def describe(self) -> str:
        return f"{self.id} {self.name} q={self.q:.2g}"


@dataclass(frozen=True)
class Motif:
    """name: pos_0, neg_1, ... (modisco's metacluster and pattern index); ppm, cwm: (w, 4) trimmed."""

    name: str
    sign: int
    n_seqlets: int
    ppm: np.ndarray
    cwm: np.ndarray
    matches: tuple[Match, ...] = field(default=())

    @property
    def consensus(self) -> str:
        return "".join("ACGT"[i] if self.ppm[j, i] >= 0.5 else "ACGT"[i].lower()
                       for j, i in enumerate(self.ppm.argmax(1)))

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None


def _trim(ppm: np.ndarray, cwm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    score = np.abs(cwm).sum(axis=1)
    keep = np.flatnonzero(score >= score.max() * TRIM_THRESHOLD)
    if keep.size == 0:
        return ppm, cwm
    return ppm[keep.min(): keep.max() + 1], cwm[keep.min(): keep.max() + 1]


def modisco_settings(n_sequences: int, length: int) -> dict:
    """TF-MoDISco's knobs, sized to the data: its defaults assume thousands of 1 kb sequences. Windows of 21
    bases with 10 of flank fit 100-200 bp windows; a metacluster needs min(100, a fifth of the sequences)
    seqlets; fewer Leiden runs (10, not 50) on a few hundred seqlets lose nothing measurable here."""
    window = min(21, max(7, length // 4 * 2 - 1))
    flank = min(10, max(3, (length - window) // 4))
    return {
        "sliding_window_size": window,
        "flank_size": flank,
        "min_metacluster_size": max(20, min(100, n_sequences // 5)),
        "final_min_cluster_size": max(10, min(20, n_sequences // 25)),
        "max_seqlets_per_metacluster": 2000,
        "target_seqlet_fdr": 0.05,
        "n_leiden_runs": 10,
        "trim_to_window_size": min(30, window + 2 * flank),
        "initial_flank_to_add": flank,
    }


def discover(X: np.ndarray, hypothetical: np.ndarray, *, settings: dict | None = None) -> list[Motif]:
    """TF-MoDISco over one-hot X (N, L, 4) and hypothetical contributions (N, L, 4): the motifs, positive
    first, then by number of seqlets. Empty when too few seqlets pass (no metacluster)."""
    from modiscolite.tfmodisco import TFMoDISco

    X = np.asarray(X, dtype=np.float32)
    hyp = np.asarray(hypothetical, dtype=np.float32)
    opts = {**modisco_settings(*X.shape[:2]), **(settings or {})}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pos, neg = TFMoDISco(one_hot=X, hypothetical_contribs=hyp, verbose=False, **opts)
    out: list[Motif] = []
    for sign, patterns, tag in ((1, pos, "pos"), (-1, neg, "neg")):
        for i, p in enumerate(patterns or []):
            ppm, cwm = _trim(np.asarray(p.sequence), np.asarray(p.contrib_scores))
            out.append(Motif(name=f"{tag}_{i}", sign=sign, n_seqlets=len(p.seqlets), ppm=ppm, cwm=cwm))
    out.sort(key=lambda m: (-m.sign, -m.n_seqlets))
    log.info("TF-MoDISco: %d motifs from %d sequences", len(out), len(X))
    return out


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values of one row of p-values."""
    order = np.argsort(p)
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    out = np.empty_like(q)
    out[order] = q
    return out


def match(motifs: list[Motif], *, top: int = TOP_MATCHES, release: str | None = None) -> list[Motif]:
    """Each motif with its `top` JASPAR matches (TomTom, both strands), lowest p-value first."""
    if not motifs:
        return []
    from memelite import tomtom

    db = jaspar.database(release)
    targets = [m.pfm().T for m in db]  # (4, m) each, as memelite wants
    queries = [np.ascontiguousarray(m.ppm.T, dtype=np.float64) for m in motifs]  # (4, w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, _scores, offsets, _overlaps, strands = tomtom(queries, targets, n_jobs=1)
    out = []
    for i, m in enumerate(motifs):
        q = _bh(p[i])
        best = np.argsort(p[i], kind="stable")[:top]
        found = tuple(
            Match(id=db[j].id, name=db[j].name, families=db[j].families, p=float(p[i, j]), q=float(q[j]),
                  strand="-" if int(strands[i, j]) == 1 else "+", offset=int(offsets[i, j]))
            for j in best
        )
        out.append(Motif(m.name, m.sign, m.n_seqlets, m.ppm, m.cwm, found))
    return out


def recovered(motifs: list[Motif], motif_id: str, *, q_max: float = 0.05, release: str | None = None) -> Motif | None:
    """The first positive motif whose best match is `motif_id`'s matrix or family at q <= q_max, or None."""
    want = jaspar.fetch(motif_id, release)
    for m in motifs:
        b = m.best
        if m.sign > 0 and b is not None and b.q <= q_max:
            hit = jaspar.JasparMotif(b.id, b.name, b.families, np.zeros((1, 4)))
            if jaspar.same_family(want, hit):
                return m
    return None
