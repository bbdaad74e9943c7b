"""The DNA alphabet: one-hot channel and token order A, C, G, T (= tokens 0..3; the DeepChem JUND shards use it).

N and the other IUPAC letters are token 4, an all-zero one-hot row (seqsweep.data.genome). Stored with every
logged model (ensemble.py), so keep it stable.

A module of its own that imports nothing: the encoding (seqsweep.data), the dataset and the task types
(seqsweep.tasks: next_base's classes are k-mers in this order) all import it, and seqsweep.tasks, which the
data layer imports, must not import the data layer back.
"""

#: One-hot channel order (the DeepChem JUND shards use it). N and other IUPAC letters encode as all zeros.
ALPHABET = "ACGT"
