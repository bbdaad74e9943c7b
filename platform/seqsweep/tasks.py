"""What a model predicts: the four task types seqsweep trains, and what differs between them.

    type        labels per sequence                     outputs             loss
    binary      one label in {0, 1}                     1 logit             weighted BCE
    multilabel  T labels in {0, 1}, some missing        T logits (sigmoid)  weighted BCE per task, masked
    multiclass  one class out of C                      C logits (softmax)  weighted cross-entropy
    next_base   the base (or k-mer) after a context     4**k logits         weighted cross-entropy

A `Task` travels with every Dataset and every saved model (model.json), so a model knows its output names:
task names for multilabel, class names for multiclass and next_base.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from seqsweep.alphabet import ALPHABET

TYPES = ("binary", "multilabel", "multiclass", "next_base")
#: Output column names a prediction table uses itself; no task or class may take them.
RESERVED_NAMES = ("id", "sequence", "label", "probability", "accessibility", "true_label")


@dataclass(frozen=True)
class Task:
    """type: one of TYPES. names: task names (multilabel) or class names (multiclass, next_base); () for binary."""

    type: str = "binary"
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"task type must be one of {', '.join(TYPES)}, got {self.type!r}")
        object.__setattr__(self, "names", tuple(str(n) for n in self.names))

    @property
    def n_outputs(self) -> int:
        """Width of the model's output head."""
        return 1 if self.type == "binary" else len(self.names)

    @property
    def single_label(self) -> bool:
        """One class per sequence, chosen by argmax over the outputs (softmax, cross-entropy)."""
        return self.type in ("multiclass", "next_base")

    @property
    def head(self) -> str:
        """The output head in words, for `models list` and `--dry-run`."""
        if self.type == "binary":
            return "1 logit (sigmoid)"
        if self.type == "multilabel":
            return f"{self.n_outputs} sigmoid outputs (one per task)"
        return f"{self.n_outputs} softmax outputs (one per class)"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "names": list(self.names)}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "Task":
        """model.json's `task`; a model saved before tasks existed is binary."""
        if not d:
            return BINARY
        return cls(type=d["type"], names=tuple(d.get("names", ())))


BINARY = Task()


def kmer_names(k: int) -> tuple[str, ...]:
    """The 4**k k-mers in code order (A,C,G,T = 0..3, first base most significant): the classes of next_base."""
    return tuple("".join(p) for p in itertools.product(ALPHABET, repeat=k))


HEAD_TEXT = (
    "Output head, sized from the job's task: binary 1 logit; multilabel T sigmoid outputs (one per task); "
    "multiclass C softmax outputs (one per class); next_base 4**k softmax outputs (one per k-mer)."
)
