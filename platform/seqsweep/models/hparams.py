"""Hyperparameter types: an architecture declares each hyperparameter once, in its constructor's signature, as
`name: Type = default`, where the type carries the rule (`typing.Annotated`); `check` applies every rule.

    class CNN(SequenceModel):
        def __init__(self, seq_len: SeqLen = 101, ..., filters: Count = 32, kernel_size: Width = 9): ...

`register_model` wraps the constructor so that `check` runs before its body: the body gets valid values and
checks nothing itself. The registry reads the same signature for the defaults (`model_hparams`) and the rules
(`rules`, shown by `seqsweep models list`).
"""

from __future__ import annotations

import numbers
import typing
from dataclasses import dataclass
from typing import Annotated, Any

from seqsweep.errors import ModelError


@dataclass(frozen=True)
class Int:
    """An integer in [low, high]; with `seq_len`, also at most the data's sequence length."""

    low: int = 1
    high: int | None = None
    seq_len: bool = False

    def problem(self, value: object, seq_len: int) -> str | None:
        high = self.high
        if self.seq_len:
            high = seq_len if high is None else min(high, seq_len)
        # bool is an Integral too, but `filters: true` in a YAML file is a mistake, not 1 filter.
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        if ok and value >= self.low and (high is None or value <= high):
            return None
        rule = f"an integer >= {self.low}" if high is None else f"an integer in [{self.low}, {high}]"
        if self.seq_len:
            rule += " (<= seq_len)" if self.high is None else " (and <= seq_len)"
        return rule

    def __str__(self) -> str:
        high = "seq_len" if self.seq_len and self.high is None else (
            f"min({self.high}, seq_len)" if self.seq_len else self.high)
        return f"int >= {self.low}" if high is None else f"int in [{self.low}, {high}]"


@dataclass(frozen=True)
class Fraction:
    """A number in [0, 1)."""

    def problem(self, value: object, seq_len: int) -> str | None:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        return None if ok and 0.0 <= value < 1.0 else "a number in [0, 1)"

    def __str__(self) -> str:
        return "number in [0, 1)"


@dataclass(frozen=True)
class Choice:
    """One of the given strings."""

    choices: tuple[str, ...]

    def problem(self, value: object, seq_len: int) -> str | None:
        return None if value in self.choices else f"one of {', '.join(self.choices)}"

    def __str__(self) -> str:
        return " | ".join(self.choices)


@dataclass(frozen=True)
class Flag:
    """true or false."""

    def problem(self, value: object, seq_len: int) -> str | None:
        return None if isinstance(value, bool) else "true or false"

    def __str__(self) -> str:
        return "true | false"


Rule = Int | Fraction | Choice | Flag

# The types the architectures share (each declared here once).
SeqLen = Annotated[int, Int(1)]  # data: the sequence length
Outputs = Annotated[int, Int(1)]  # data: the output head's width, from the task
Accessibility = Annotated[bool, Flag()]  # data: whether the model reads an accessibility value per sequence
Count = Annotated[int, Int(1)]  # hidden units, filters, layers: at least one
Width = Annotated[int, Int(1, seq_len=True)]  # kernel and pool sizes: at least 1, at most the sequence
Dropout = Annotated[float, Fraction()]


def rules(cls: type) -> dict[str, Rule]:
    """{constructor argument: its rule} for the arguments of `cls.__init__` whose type carries one."""
    hints = typing.get_type_hints(cls.__init__, include_extras=True)
    out = {}
    for name, hint in hints.items():
        found = [m for m in getattr(hint, "__metadata__", ()) if isinstance(m, Rule)]
        if found:
            out[name] = found[0]
    return out


def check(architecture: str, rules_: dict[str, Rule], values: dict[str, Any]) -> None:
    """Raise ModelError, one line naming the architecture, the key, the rule and the value, for the first value
    that breaks its rule; seq_len first, since other rules depend on it."""
    order = sorted(values, key=lambda k: k != "seq_len")
    seq_len = values.get("seq_len")
    for key in order:
        rule = rules_.get(key)
        if rule is None:
            continue
        problem = rule.problem(values[key], seq_len if isinstance(seq_len, int) else 0)
        if problem is not None:
            raise ModelError(f"architecture {architecture!r}: {key} must be {problem}, got {values[key]!r}")
