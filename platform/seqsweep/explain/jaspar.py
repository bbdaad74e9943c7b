"""JASPAR, offline: the matrices pyjaspar ships in its package (sqlite files; nothing is downloaded).

    fetch("MA0491.1")                  # one matrix by ID (any version), counts (m, 4) in A, C, G, T order
    database()                         # the CORE vertebrate matrices, latest version of each: what TomTom searches

`same_family` is what "matches its own motif or its family" means in the tests and the report: the same base
ID (MA0491.1 and MA0491.3 are versions of one matrix) or a shared TF family (JASPAR's `tf_family`), where
'Jun-related' and 'Fos-related' count as one, AP-1: they bind the same TGA[CG]TCA site as dimers of each
other, and JASPAR files FOS::JUN under both.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np

from seqsweep.errors import DataError

#: The release TomTom searches. JASPAR2024 has 879 CORE vertebrate matrices (latest versions).
RELEASE = "JASPAR2024"
COLLECTION = "CORE"
TAX_GROUP = "vertebrates"


@dataclass(frozen=True)
class JasparMotif:
    """One JASPAR matrix: its ID (MA0491.1), name (JUND), families, and counts (m, 4) in A, C, G, T order."""

    id: str
    name: str
    families: tuple[str, ...]
    counts: np.ndarray

    @property
    def base_id(self) -> str:
        return self.id.split(".")[0]

    def pfm(self, pseudocount: float = 0.01) -> np.ndarray:
        """(m, 4) probabilities; each row gets `pseudocount` of its total spread over the four bases."""
        c = self.counts + pseudocount * self.counts.sum(axis=1, keepdims=True) / 4
        return c / c.sum(axis=1, keepdims=True)

    def describe(self) -> str:
        return f"{self.id} {self.name}"


@functools.cache
def _db(release: str):
    with warnings.catch_warnings():  # Biopython warns about its own deprecations on import
        warnings.simplefilter("ignore")
        from pyjaspar import jaspar_releases, jaspardb

    if release not in jaspar_releases:
        raise DataError(f"JASPAR release must be one of {', '.join(sorted(jaspar_releases))}, got {release!r}")
    return jaspardb(release=release)


def _convert(m) -> JasparMotif:
    counts = np.array([[m.counts[b][j] for b in "ACGT"] for j in range(m.length)], dtype=np.float64)
    return JasparMotif(id=m.matrix_id, name=m.name, families=tuple(m.tf_family or ()), counts=counts)


@functools.cache
def fetch(motif_id: str, release: str | None = None) -> JasparMotif:
    """One matrix by its versioned ID; DataError naming the ID when the release has none."""
    db = _db(release or RELEASE)
    with warnings.catch_warnings():  # pyjaspar warns, then returns None, for an unknown ID
        warnings.simplefilter("ignore")
        m = db.fetch_motif_by_id(motif_id)
    if m is None:
        raise DataError(f"JASPAR {release or RELEASE} has no matrix {motif_id!r}")
    return _convert(m)


@functools.cache
def database(release: str | None = None) -> tuple[JasparMotif, ...]:
    """The CORE vertebrate matrices of `release`, the latest version of each."""
    ms = _db(release or RELEASE).fetch_motifs(collection=COLLECTION, tax_group=[TAX_GROUP], all_versions=False)
    return tuple(_convert(m) for m in ms)


FAMILY_GROUPS = {"Jun-related": "AP-1", "Fos-related": "AP-1"}


def families(m: JasparMotif) -> set[str]:
    return {FAMILY_GROUPS.get(f, f) for f in m.families}


def same_family(a: JasparMotif, b: JasparMotif) -> bool:
    """One matrix (any version), or a TF family in common (AP-1: Jun- and Fos-related as one)."""
    return a.base_id == b.base_id or bool(families(a) & families(b))
