"""A small catalogue of real transcription-factor motifs for the synthetic generators, and how sites are drawn.

Each motif is its published IUPAC consensus (source named next to it; nothing is downloaded). A consensus
becomes a position frequency matrix by giving its letter(s) CONSENSUS_SHARE of the probability at each
position (split evenly over a degenerate letter's bases) and the rest to the other bases, so sampled sites
vary the way bound sites do. AP-1 uses the published JASPAR MA0491.1 (JUND) counts instead.

Sites are int8 codes 0..3 (A, C, G, T) with KEEP (-1) where the consensus says N: a spacer position keeps
the background sequence under it, so a composite element adds no composition of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IUPAC = {
    "A": "A", "C": "C", "G": "G", "T": "T",
    "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
    "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT",
}
KEEP = -1  # "leave the background here" (an N of the consensus)
#: Probability of the consensus letter(s) at a defined position of a sampled site.
CONSENSUS_SHARE = 0.9


@dataclass(frozen=True)
class Motif:
    """consensus: IUPAC letters (N = spacer, left to the background). source: where the consensus comes from.
    counts: a published (m, 4) count matrix in A, C, G, T order, used instead of the consensus when given."""

    name: str
    consensus: str
    source: str
    counts: tuple[tuple[float, float, float, float], ...] | None = None

    def __len__(self) -> int:
        return len(self.consensus)

    def pfm(self) -> np.ndarray:
        """(m, 4) probabilities; rows of N positions are NaN (those positions are not sampled)."""
        if self.counts is not None:
            c = np.asarray(self.counts, dtype=np.float64)
            c = c + 0.005 * c.sum(axis=1, keepdims=True)  # no base impossible
            return c / c.sum(axis=1, keepdims=True)
        p = np.full((len(self), 4), np.nan)
        for j, letter in enumerate(self.consensus):
            allowed = IUPAC[letter]
            if letter == "N":
                continue
            p[j] = (1.0 - CONSENSUS_SHARE) / (4 - len(allowed)) if len(allowed) < 4 else 0.0
            for b in allowed:
                p[j, "ACGT".index(b)] = CONSENSUS_SHARE / len(allowed)
        return p

    def informative(self) -> np.ndarray:
        """Positions that allow one or two bases: where a mutation breaks the site (weak sites, decoys)."""
        return np.array([j for j, letter in enumerate(self.consensus) if len(IUPAC[letter]) <= 2], dtype=np.int64)

    def allowed(self) -> np.ndarray:
        """(m, 4) bool: bases the consensus allows at each position."""
        return np.array([[b in IUPAC[letter] for b in "ACGT"] for letter in self.consensus], dtype=bool)


# JASPAR MA0491.1 (JUND, ChIP-seq) counts, as in synth.JUND_MA0491_1; consensus [GAT][GA]TGA[CG]TCAT[CG].
_MA0491_1 = (
    (12389, 759, 13640, 11922), (15163, 4824, 18723, 0), (0, 0, 0, 38710), (0, 0, 38710, 0),
    (38710, 0, 0, 0), (0, 22857, 14078, 1775), (0, 0, 0, 38710), (1547, 37163, 0, 0),
    (38710, 0, 0, 0), (0, 5136, 2301, 31273), (5786, 14956, 12429, 5539),
)

MOTIFS: dict[str, Motif] = {m.name: m for m in (
    # --- bZIP
    Motif("AP1", "DRTGASTCATS", "AP-1/TRE TGA(C/G)TCA (Angel et al. 1987, Cell); JASPAR MA0491.1 JUND counts",
          counts=_MA0491_1),
    Motif("AICE", "TTTCNNNNTGASTCA", "AP-1-IRF composite element, IRF half 4 bp 5' of AP-1 (Glasmacher et al. 2012, Science)"),
    Motif("CRE", "TGACGTCA", "cAMP response element, CREB/ATF (Montminy et al. 1986, PNAS)"),
    Motif("CEBP", "ATTGCGCAAT", "C/EBP palindrome (Osada et al. 1996, J Biol Chem)"),
    # --- bHLH E-boxes
    Motif("EBOX", "CCACGTGG", "class B E-box CACGTG with the flanks MYC/MAX prefer (Blackwell et al. 1990, Science; Solomon et al. 1993, NAR)"),
    Motif("EBOX_T", "CAGCTG", "E-box bound by TAL1/E47 heterodimers, CAGCTG (Hsu et al. 1994, MCB)"),
    Motif("TAL1_GATA", "CAGCTGNNNNNNNWGATAA", "E-box-GATA composite of the TAL1 complex, CTG(N7)WGATAA (Wadman et al. 1997, EMBO J)"),
    # --- zinc fingers
    Motif("GATA", "SAGATAAGR", "GATA site WGATAR (Ko & Engel 1993, MCB) with the flanks of GATA1 ChIP-seq peaks (HOMER, Heinz et al. 2010, Mol Cell)"),
    Motif("SP1", "GGGGCGGGGC", "GC box (Briggs et al. 1986, Science; Bucher 1990, J Mol Biol)"),
    Motif("CTCF", "CCGCGNGGNGGCAG", "CTCF core from ChIP-chip (Kim et al. 2007, Cell)"),
    Motif("REST", "TTCAGCACCAYGGACAGCGCC", "RE1/NRSE, 21 bp (Chong et al. 1995, Cell; Schoenherr et al. 1996, PNAS)"),
    Motif("YY1", "CAAGATGGCGGC", "YY1 site, core AANATGGC (Hyde-DeRuyscher et al. 1995, NAR), as in promoter peaks (HOMER, Heinz et al. 2010)"),
    Motif("DR1", "RGGTCAAAGGTCA", "HNF4 DR1, two AGGTCA half sites 1 bp apart (Jiang et al. 1995, MCB)"),
    # --- others
    Motif("NRF1", "YGCGCAYGCGCR", "NRF-1 site (Virbasius et al. 1993, Genes Dev)"),
    Motif("ETS", "ACCGGAAGT", "class I ETS site, GABPA/ELK1 (Wei et al. 2010, EMBO J)"),
    Motif("CARG", "CCWWWWWWGG", "CArG box of the serum response element, bound by SRF (Minty & Kedes 1986, MCB)"),
    Motif("FOX", "TGTTTACTTW", "forkhead core TRTTTRY (Overdier et al. 1994, MCB) as in FOXA1 ChIP-seq peaks (HOMER, Heinz et al. 2010)"),
    Motif("SOX", "CCATTGTTC", "SOX site WWCAAWG (Harley et al. 1994, NAR) as in ES-cell SOX2 peaks (HOMER, Heinz et al. 2010)"),
    Motif("OCT", "ATGCAAAT", "octamer (Staudt et al. 1986, Nature)"),
    Motif("OCT_SOX", "CTTTGTTATGCAAAT", "Sox-Oct composite of ES-cell enhancers, no spacer (Chen et al. 2008, Cell; JASPAR MA0142.1)"),
    Motif("TP53", "RRRCWWGYYYRRRCWWGYYY", "p53 response element, two half sites (el-Deiry et al. 1992, Nat Genet)"),
    Motif("MEF2", "CTAWWWWTAG", "MEF2 site (Gossett et al. 1989, MCB; Pollock & Treisman 1991, Genes Dev)"),
    Motif("NFKB", "GGGACTTTCC", "kappa B site of the Ig kappa enhancer (Sen & Baltimore 1986, Cell)"),
    Motif("RUNX", "TGTGGTTW", "RUNX/PEBP2 site YGYGGTY (Melnikova et al. 1993, J Virol)"),
    Motif("TEAD", "ACATTCCW", "TEAD GT-IIC/M-CAT site (Xiao et al. 1991, Cell)"),
    # --- core promoter (Bucher 1990, J Mol Biol: weight matrices from 502 promoters; Javahery et al. 1994, MCB)
    Motif("TATA", "TATAWAWR", "TATA box, about 30 bp upstream of the TSS (Bucher 1990, J Mol Biol)"),
    Motif("INR", "YYANWYY", "initiator, A at the TSS (Javahery et al. 1994, MCB)"),
    Motif("CCAAT", "RRCCAATSR", "CCAAT box bound by NF-Y, 60-100 bp upstream (Bucher 1990, J Mol Biol)"),
)}


def reverse_complement(sites: np.ndarray) -> np.ndarray:
    """(k, m) codes -> their reverse complements (A<->T, C<->G, order reversed); KEEP stays KEEP."""
    flipped = sites[..., ::-1]
    return np.where(flipped == KEEP, KEEP, 3 - flipped).astype(np.int8)


def sample(rng: np.random.Generator, motif: Motif, k: int) -> np.ndarray:
    """(k, m) int8 sites drawn from the motif's matrix, KEEP at its N positions."""
    p = motif.pfm()
    spacer = np.isnan(p[:, 0])
    p = np.where(spacer[:, None], 0.25, p)
    cum = np.cumsum(p, axis=-1)[:, :3]  # the last bin takes the rest, whatever the rounding
    u = rng.random((k, len(motif)))
    sites = (u[..., None] > cum).sum(axis=-1).astype(np.int8)  # (k, m, 1) vs (m, 3) -> (k, m)
    sites[:, spacer] = KEEP
    return sites


def mutate(rng: np.random.Generator, sites: np.ndarray, motif: Motif, n_mut: int) -> np.ndarray:
    """Sites with `n_mut` distinct informative positions each set to a base the consensus does not allow
    there (a mismatch that really breaks the site), so at least `n_mut` positions break it (a drawn site may
    already miss elsewhere). Vectorised over sites."""
    sites = sites.copy()
    inf = motif.informative()
    n_mut = min(n_mut, len(inf))
    if n_mut == 0 or len(sites) == 0:
        return sites
    k = len(sites)
    pos = inf[rng.random((k, len(inf))).argsort(axis=1)[:, :n_mut]]  # (k, n_mut) distinct positions per site
    allowed = motif.allowed()  # from the consensus, also for a count matrix (its consensus is written to match)
    # choose uniformly among the disallowed bases: rank a random key, disallowed bases first
    keys = rng.random((k, n_mut, 4)) + allowed[pos]  # allowed bases get +1: sorted after every disallowed one
    n_bad = (~allowed[pos]).sum(axis=-1)  # (k, n_mut), >= 2 at informative positions
    choice = (rng.random((k, n_mut)) * n_bad).astype(np.int64)
    new = np.take_along_axis(keys.argsort(axis=-1), choice[..., None], axis=-1)[..., 0]
    np.put_along_axis(sites, pos, new.astype(np.int8), axis=1)
    return sites
