"""Label columns as a file holds them -> (y, w, Task) for the job's task type.

Every format ends up here with its label columns by name (`label`, or one `label_<name>` column per task, or a
DeepChem shard's (N, T) y with tasks.json names) and the cells as they were written (numbers or class
names, empty for missing). The rules of each task type are checked here, once, and a file that holds
another kind of labels than `task.type` asks for gets an error that says what it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from seqsweep.data.encoding import class_balancing_weights, multilabel_weights
from seqsweep.errors import DataError
from seqsweep.tasks import RESERVED_NAMES, Task

MISSING = ("", "nan", "na", "n/a", "none", "null")


@dataclass(frozen=True)
class LabelSpec:
    """What the job asks for: the task type, and optionally which columns are tasks (multilabel) or the class
    order (multiclass). `classes_from` names where `classes` came from, for messages (e.g. 'the training data')."""

    type: str = "binary"
    columns: tuple[str, ...] | None = None
    classes: tuple[str, ...] | None = None
    classes_from: str = "task.classes"


BINARY_LABELS = LabelSpec()


def _cells(col: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values as float64 with NaN where missing or not a number, missing mask, text of each cell)."""
    col = np.asarray(col)
    if col.dtype.kind in "biuf":
        vals = col.astype(np.float64)
        return vals, np.isnan(vals), np.array([_fmt(v) for v in vals], dtype=object)
    text = np.array([str(c).strip() for c in col.ravel()], dtype=object)
    missing = np.array([t.lower() in MISSING for t in text], dtype=bool)
    vals = np.full(len(text), np.nan)
    for i, t in enumerate(text):
        if not missing[i]:
            try:
                vals[i] = float(t)
            except ValueError:
                pass
    return vals, missing, text


def _fmt(v: float) -> str:
    return str(int(v)) if np.isfinite(v) and float(v).is_integer() else str(v)


def _distinct(text: np.ndarray, limit: int = 6) -> str:
    uniq = list(dict.fromkeys(text.tolist()))
    shown = ", ".join(str(u) for u in uniq[:limit])
    return shown + (f", ... ({len(uniq)} in all)" if len(uniq) > limit else "")


def _binary(name: str, col: np.ndarray, src: str) -> np.ndarray:
    vals, missing, text = _cells(col)
    bad = missing | ~np.isin(vals, (0.0, 1.0))
    if not bad.any():
        return vals.astype(np.uint8)
    i = int(np.flatnonzero(bad)[0])
    got = "nan" if missing[i] else (repr(str(text[i])) if np.isnan(vals[i]) else _fmt(vals[i]))
    hint = ""
    present = text[~missing]
    if np.isnan(vals[~missing]).any():
        hint = f" (the labels are class names: {_distinct(present)}; set task.type: multiclass)"
    elif len(np.unique(vals[~missing])) > 2 or (vals[~missing] > 1).any():
        n_values = len(np.unique(vals[~missing]))
        hint = f" (the labels hold {n_values} values: {_distinct(present)}; set task.type: multiclass)"
    rule = "label must be 0 or 1" if name == "label" else f"{name} must be 0 or 1"
    raise DataError(f"{src}: row {i}: {rule}, got {got}{hint}")


def _multilabel(names: list[str], cols: list[np.ndarray], src: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, T) uint8 labels and (N, T) bool 'measured' mask."""
    n = len(cols[0])
    y = np.zeros((n, len(cols)), dtype=np.uint8)
    measured = np.zeros((n, len(cols)), dtype=bool)
    for t, (name, col) in enumerate(zip(names, cols)):
        vals, missing, text = _cells(col)
        bad = ~missing & ~np.isin(vals, (0.0, 1.0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            got = text[i]
            hint = ""
            if len(cols) == 1:
                hint = f" (one label column holding {_distinct(text[~missing])}: set task.type: multiclass)"
            raise DataError(
                f"{src}: row {i}: task {name!r}: a multilabel label must be 0, 1 or empty (missing), got {got!r}{hint}"
            )
        y[:, t] = np.where(missing, 0, vals).astype(np.uint8)
        measured[:, t] = ~missing
    return y, measured


def _class_names(values: np.ndarray, text: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Class names in their natural order (integers numerically, names alphabetically) and each row's name."""
    if not np.isnan(values).any() and np.all(values == np.round(values)):
        ints = values.astype(np.int64)
        order = sorted(set(ints.tolist()))
        return [str(c) for c in order], np.array([str(v) for v in ints], dtype=object)
    return sorted(set(text.tolist())), text


def _multiclass(names: list[str], cols: list[np.ndarray], spec: LabelSpec, src: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """(N,) int64 class indices and the class names."""
    if len(cols) > 1:
        # One 0/1 column per class (a one-hot label vector): each row's class is the column holding its 1.
        y_ml, measured = _multilabel(names, cols, src)
        ones = y_ml.sum(1)
        bad = (ones != 1) | ~measured.all(1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{src}: row {i}: {len(cols)} label columns ({', '.join(names)}) with {int(ones[i])} ones in this row: "
                "multiclass takes one class column, or one-hot label columns with exactly one 1 per row "
                "(for several labels per sequence set task.type: multilabel)"
            )
        row_class = np.array([names[j] for j in y_ml.argmax(1)], dtype=object)
        classes = list(names)
    else:
        vals, missing, text = _cells(cols[0])
        if missing.any():
            i = int(np.flatnonzero(missing)[0])
            raise DataError(f"{src}: row {i}: {names[0]} is missing: every sequence needs its class")
        classes, row_class = _class_names(vals, text)
    if spec.classes is not None:
        known = {c: j for j, c in enumerate(spec.classes)}
        unknown = [i for i, c in enumerate(row_class) if c not in known]
        if unknown:
            i = unknown[0]
            raise DataError(
                f"{src}: row {i}: class {row_class[i]!r} is not one of the classes of {spec.classes_from} "
                f"({', '.join(spec.classes)})"
            )
        classes = list(spec.classes)
    index = {c: j for j, c in enumerate(classes)}
    y = np.array([index[c] for c in row_class], dtype=np.int64)
    return y, tuple(classes)


def check_names(names: Sequence[str], what: str, src: str) -> None:
    """Task or class names become output column names: unique, non-empty, not a reserved column name."""
    seen: set[str] = set()
    for n in names:
        if not n:
            raise DataError(f"{src}: a {what} name is empty")
        if n in RESERVED_NAMES:
            raise DataError(f"{src}: {what} name {n!r} is reserved for a prediction column ({', '.join(RESERVED_NAMES)})")
        if n in seen:
            raise DataError(f"{src}: {what} name {n!r} appears twice")
        seen.add(n)


def interpret(
    columns: dict[str, np.ndarray],
    weights: np.ndarray | None,
    spec: LabelSpec,
    src: str,
) -> tuple[np.ndarray, np.ndarray, Task]:
    """Label columns (name -> N cells, in file order) and optional weights ((N,) or (N, T)) -> (y, w, Task).

    Missing weights become class-balancing weights (per task for multilabel). Raises DataError naming the
    row, the column and the rule, with what the file holds when it does not fit `spec.type`.
    """
    names = list(columns)
    cols = [np.asarray(columns[n]).ravel() for n in names]
    n_cols = len(names)
    if spec.type == "binary":
        if n_cols > 1:
            raise DataError(
                f"{src}: holds {n_cols} label columns ({_distinct(np.array(names))}): set task.type: multilabel "
                "for several labels per sequence, or multiclass for one-hot class columns"
            )
        y = _binary(names[0], cols[0], src)
        task = Task("binary")
        w = class_balancing_weights(y) if weights is None else np.asarray(weights)
        return y, w, task
    if spec.type == "multilabel":
        task_names = [n.removeprefix("label_") for n in names]
        check_names(task_names, "task", src)
        y, measured = _multilabel(task_names, cols, src)
        if weights is None:
            w = multilabel_weights(y, measured)
        else:
            w = np.asarray(weights, dtype=np.float64)
            if w.ndim == 1:
                w = np.repeat(w[:, None], n_cols, axis=1)  # one weight per row: the same for each of its tasks
            if w.ndim == 2 and w.shape[1] == 1 and n_cols > 1:
                w = np.repeat(w, n_cols, axis=1)
            if w.shape != y.shape:
                raise DataError(f"{src}: weights have shape {w.shape}, the labels {y.shape}: they must match")
            w = np.where(measured, w, 0.0)
        return y, w, Task("multilabel", tuple(task_names))
    if spec.type == "multiclass":
        col_names = [n.removeprefix("label_") for n in names]
        y, classes = _multiclass(col_names, cols, spec, src)
        check_names(classes, "class", src)
        w = class_balancing_weights(y) if weights is None else np.asarray(weights)
        return y, w, Task("multiclass", classes)
    raise DataError(f"{src}: task.type {spec.type!r} does not read label columns")
