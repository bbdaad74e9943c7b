"""Synthetic binary data whose positives carry real JASPAR motifs, named by matrix ID: the ground truth that
`seqsweep explain` must recover (each discovered motif matched back to the ID that was planted).

    ds = synth_planted("data/generated/planted", motif_ids=("MA0139.2", "MA0035.4", "MA0491.1"), n=3000)

The matrices come from pyjaspar's bundled JASPAR sqlite databases (offline; explain/jaspar.py). Background:
the human-like Markov chain of synth.py. Each positive carries one site of one motif (chosen in turn, so the
motifs are equally common), sampled from the motif's count matrix (a small pseudocount, as synth.py), at a
random position on a random strand; negatives are background only. Which motif went where is written next
to the shards as `planted.json` (row, motif ID, start, strand) for tests that look at single sites.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from seqsweep.data.dataset import Dataset
from seqsweep.data.encoding import _ONE_HOT, class_balancing_weights
from seqsweep.data.shards import write_shards
from seqsweep.data.synth import _background, _categorical
from seqsweep.errors import DataError

log = logging.getLogger(__name__)

#: CTCF (15 bp, 15.8 bits), NFKB1 (13 bp, 19.9 bits) and JUND/AP-1 (11 bp, 14.2 bits): three families.
#: GATA1 (MA0035.4, 9.9 bits) was tried first: a site that weak also turns up by chance in about a fifth of
#: 100-bp background windows, and a small deepbind gave it a sixth of the attribution it gave CTCF.
DEFAULT_MOTIFS = ("MA0139.2", "MA0105.4", "MA0491.1")
PLANTED_JSON = "planted.json"


def planted_pfm(motif_id: str, release: str | None = None) -> np.ndarray:
    """(m, 4) probabilities (A, C, G, T) of a JASPAR matrix, with the pseudocount synth.py uses."""
    from seqsweep.explain.jaspar import fetch

    counts = fetch(motif_id, release=release).counts  # (m, 4)
    pfm = counts + 0.005 * counts.sum(axis=1, keepdims=True)
    return pfm / pfm.sum(axis=1, keepdims=True)


def synth_planted(
    out_dir: str | Path,
    *,
    motif_ids: tuple[str, ...] = DEFAULT_MOTIFS,
    n: int = 3000,
    positive_rate: float = 0.3,
    length: int = 100,
    seed: int = 0,
    release: str | None = None,
) -> Dataset:
    """Write the dataset as shards (plus planted.json) into `out_dir` and return it. Same arguments ->
    identical files. DataError for an unknown ID, a motif longer than `length`, or a class left empty."""
    if not motif_ids:
        raise DataError("synth_planted: motif_ids must name at least one JASPAR matrix")
    pfms = [planted_pfm(mid, release) for mid in motif_ids]
    longest = max(len(p) for p in pfms)
    if length < longest:
        raise DataError(f"synth_planted: length must be >= {longest} (the longest motif), got {length}")
    n_pos = int(round(n * positive_rate))
    if not 0.0 < positive_rate < 1.0 or not 1 <= n_pos <= n - 1:
        raise DataError(f"synth_planted: n={n} with positive_rate={positive_rate} gives {n_pos} positives: need both classes")

    rng = np.random.default_rng(seed)
    c = _background(rng, n, length)  # (n, L) codes
    y = np.zeros(n, dtype=np.uint8)
    pos = np.sort(rng.permutation(n)[:n_pos])
    y[pos] = 1
    which = np.arange(n_pos) % len(motif_ids)
    rng.shuffle(which)
    planted = []
    for row, k in zip(pos, which):
        pfm = pfms[k]
        site = _categorical(rng, pfm)  # (m,) codes
        start = int(rng.integers(0, length - len(pfm) + 1))
        reverse = bool(rng.random() < 0.5)
        c[row, start : start + len(pfm)] = 3 - site[::-1] if reverse else site
        planted.append({"row": int(row), "motif": motif_ids[k], "start": start, "strand": "-" if reverse else "+"})

    out_dir = Path(out_dir)
    ds = Dataset(
        X=_ONE_HOT[c], y=y, w=class_balancing_weights(y),
        ids=np.array([f"chrP:{i * length}-{(i + 1) * length}" for i in range(n)]), source=str(out_dir),
    )
    write_shards(ds, out_dir)
    (out_dir / PLANTED_JSON).write_text(json.dumps({"motifs": list(motif_ids), "sites": planted}) + "\n")
    log.info("%s: %d rows, %d positives carrying %s", out_dir, n, n_pos, ", ".join(motif_ids))
    return ds
