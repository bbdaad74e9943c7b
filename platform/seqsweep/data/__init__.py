"""The data layer: load, encode, validate, describe and synthesise DNA-sequence datasets.

    from seqsweep.data import load, encode, summary
    ds = load("../shared/data/jund-chr22/valid")       # DeepChem shards, FASTA or CSV/TSV
    X = encode(["ACGTN", "acgtr"])                      # (2, 5, 4) uint8, A,C,G,T; N/IUPAC -> zeros

Every loaded Dataset has passed `validate`; rows in messages are 0-based Dataset indices.
"""

from seqsweep.data.dataset import ALPHABET, Dataset
from seqsweep.data.encoding import class_balancing_weights, decode, encode
from seqsweep.data.loaders import load, read_sequences
from seqsweep.data.shards import write_shards
from seqsweep.data.synth import synth
from seqsweep.data.synth_tasks import synth_multiclass, synth_multilabel
from seqsweep.data.validate import fingerprint, format_summary, genomic_coordinates, summary, validate

__all__ = [
    "ALPHABET",
    "Dataset",
    "class_balancing_weights",
    "decode",
    "encode",
    "fingerprint",
    "format_summary",
    "genomic_coordinates",
    "load",
    "read_sequences",
    "summary",
    "synth",
    "synth_multiclass",
    "synth_multilabel",
    "validate",
    "write_shards",
]
