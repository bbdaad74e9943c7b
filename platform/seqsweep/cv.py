"""Cross-validation folds and the held-out split, computed once per sweep and shared by every trial.

Neighbouring genomic windows overlap and share sequence, so a random split lets a model "recognise" a
validation window from its training neighbour. `genomic_blocks` labels each window with its contiguous
block (`chr22:27` for 1 Mb blocks), and grouping folds (or the held-out split) by block keeps whole
blocks on one side.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from seqsweep.data import genomic_coordinates
from seqsweep.errors import ConfigError, DataError
from seqsweep.tasks import BINARY, Task

log = logging.getLogger(__name__)

Fold = tuple[np.ndarray, np.ndarray]  # (train_idx, val_idx), sorted int64 row indices


def _check_int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(f"{name}: must be an integer >= {low}, got {value!r}")
    return int(value)


def strata(y: np.ndarray, w: np.ndarray | None, task: Task) -> np.ndarray:
    """(N,) labels to stratify folds on: the label (binary), the class (multiclass, next_base), or whether a
    row has any positive label (multilabel: there is no joint stratification of T tasks in sklearn, and
    spreading the rows that carry positives keeps every fold's tasks scorable)."""
    if task.type == "multilabel" and hasattr(y, "any_positive"):  # sparse labels: every label measured
        return y.any_positive().astype(np.int64)
    y = np.asarray(y)
    if task.type == "multilabel":
        measured = np.ones(y.shape, dtype=bool) if w is None else np.asarray(w) > 0
        return ((y == 1) & measured).any(1).astype(np.int64)
    return y.reshape(-1).astype(np.int64)


def make_folds(
    y: np.ndarray, k: int, *, seed: int, groups: np.ndarray | None = None, task: Task = BINARY,
    w: np.ndarray | None = None,
) -> list[Fold]:
    """k stratified folds of the rows of `y` (shuffled with `seed`; the same seed gives the same folds).

    Stratified on `strata(y, w, task)`. With `groups` (e.g. `genomic_blocks(ids, ...)`) rows sharing a group
    stay on one side of every split (sklearn StratifiedGroupKFold), so the class ratio is kept only
    approximately. Returns k (train_idx, val_idx) pairs; each validation fold holds two classes at least
    (multilabel: rows with and without a positive label).
    """
    s = strata(y, w, task)
    counts = np.bincount(s)
    present = counts[counts > 0]
    what = "classes" if task.single_label else ("rows with and without a positive label" if task.type == "multilabel" else "positives and negatives")
    if task.type == "binary":
        n_pos, n_neg = int((s == 1).sum()), int((s == 0).sum())
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 2 <= k <= min(n_pos, n_neg):
            raise ConfigError(
                f"cv.folds: needs 2 <= k <= the number of positives and of negatives, "
                f"got k={k!r} with {n_pos} positives and {n_neg} negatives"
            )
    elif isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 2 <= k <= len(s) or (
        len(present) < 2 and task.single_label
    ):
        raise ConfigError(f"cv.folds: needs 2 <= k <= the number of rows and two {what}, got k={k!r}, {len(s)} rows")
    k = int(k)
    placeholder = np.zeros((len(s), 1))  # sklearn splitters want an X; only its length matters
    if groups is None:
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The least populated class")  # rare classes: said below
            splits = list(splitter.split(placeholder, s))
    else:
        groups = np.asarray(groups).reshape(-1)
        if len(groups) != len(s):
            raise ValueError(f"make_folds: groups has {len(groups)} rows, y has {len(s)}")
        n_groups = len(np.unique(groups if task.type != "binary" else groups[s == 1]))
        if n_groups < k:
            holding = "groups" if task.type != "binary" else "groups holding positives"
            raise ConfigError(
                f"cv.folds: grouped folds need at least k {holding}, "
                f"got k={k} with {n_groups} such groups (use fewer folds or smaller blocks)"
            )
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The least populated class")
            splits = list(splitter.split(placeholder, s, groups))

    folds = [(np.sort(tr).astype(np.int64), np.sort(va).astype(np.int64)) for tr, va in splits]
    for i, (_, va) in enumerate(folds):
        if task.type == "multilabel":
            break  # a task one fold cannot score is left out of that fold's mean, and said so (prepare.py)
        # ungrouped binary folds always pass (k <= n_pos, n_neg); grouped ones can fail when the groups are lumpy
        if len(np.unique(s[va])) < 2:
            detail = f"{int(s[va].sum())} positives in {len(va)} rows" if task.type == "binary" else f"{len(va)} rows"
            raise ConfigError(
                f"cv.folds: validation fold {i} of k={k} holds one class only "
                f"({detail}); use fewer folds or smaller blocks"
            )
    log.info("made %d %sfolds of %d rows (seed %d)", k, "grouped " if groups is not None else "", len(s), seed)
    return folds


def _parse_coordinates(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(chrom (N,) str, start (N,) int64) from ids like 'chr22:27247552-27247653'; DataError on the first bad id."""
    coords = genomic_coordinates(ids)
    if coords is not None:
        return coords
    # the error path only: find the first id that does not parse, with the same parser, to name it
    for row, id_ in enumerate(ids):
        if genomic_coordinates([id_]) is None:
            raise DataError(
                f"ids: row {row}: id must look like 'chr22:27247552-27247653' (chrom:start-end), got {str(id_)!r}"
            )
    raise DataError("ids: genomic coordinates did not parse")  # unreachable unless the parser changes


def genomic_blocks(ids: np.ndarray, block_size: int) -> np.ndarray:
    """Group label 'chrom:start//block_size' for each id (e.g. 'chr22:27' with 1 Mb blocks); (N,) str."""
    block_size = _check_int("block_size", block_size, 1)
    ids = np.asarray(ids).reshape(-1)
    chroms, starts = _parse_coordinates(ids)
    return np.array([f"{c}:{s // block_size}" for c, s in zip(chroms, starts)])


def dataset_blocks(ds, block_size: int) -> np.ndarray:
    """`genomic_blocks` of a Dataset's rows: from its ids when it has them, else from its windows' coordinates
    in the store as integers (contig, block) packed in one int64: no string per row for a genome's windows."""
    block_size = _check_int("block_size", block_size, 1)
    if ds._ids is not None:
        return genomic_blocks(ds.ids, block_size)
    contig, start = ds.coordinates()
    return contig.astype(np.int64) * (1 << 40) + start // block_size


def dataset_chromosomes(ds) -> np.ndarray:
    """(N,) str chromosome of each row: its contig in the store (windows on a genome), else from ids like
    'chr22:100-201'. DataError naming the first id without coordinates."""
    if ds._ids is None:
        contig, _ = ds.coordinates()
        return np.asarray(ds.store.names, dtype=str)[contig]
    return _parse_coordinates(np.asarray(ds.ids).reshape(-1))[0]


def chromosome_split(chroms: np.ndarray, held_out: list[str], *, y: np.ndarray, task: Task = BINARY,
                     w: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, test_idx): the rows on the `held_out` chromosomes are the test part (data.holdout.chromosomes).
    A chromosome with no row, or a side without positives (binary, multilabel), is a DataError naming them."""
    present = set(np.unique(chroms).tolist())
    missing = [c for c in held_out if c not in present]
    if missing:
        shown = ", ".join(sorted(present)[:8]) + (" ..." if len(present) > 8 else "")
        raise DataError(f"data.holdout.chromosomes: no row lies on {', '.join(missing)} (rows lie on {shown})")
    is_test = np.isin(chroms, held_out)
    test_idx, train_idx = np.flatnonzero(is_test).astype(np.int64), np.flatnonzero(~is_test).astype(np.int64)
    s = strata(y, w, task)
    for side, idx in (("held-out", test_idx), ("training", train_idx)):
        if len(idx) == 0 or (not task.single_label and not (s[idx] == 1).any()):
            raise DataError(f"data.holdout.chromosomes: the {side} part ({', '.join(held_out) if side == 'held-out' else 'the other chromosomes'}) "
                            f"holds {len(idx)} rows and no positives; hold out other chromosomes")
    log.info("held out %d of %d rows on %s", len(test_idx), len(s), ", ".join(held_out))
    return train_idx, test_idx


def holdout_split(
    ids: np.ndarray | None,
    y: np.ndarray,
    *,
    fraction: float = 0.2,
    block_size: int = 1_000_000,
    seed: int = 0,
    task: Task = BINARY,
    w: np.ndarray | None = None,
    blocks: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Split rows into (train_idx, test_idx) by whole genomic blocks, for held-out evaluation.

    Blocks are drawn at random (seeded) into the held-out part until it holds at least `fraction` of the
    rows, so it overshoots by at most one block. Neighbouring windows never straddle the split.
    DataError if either side ends up without positives (binary, multilabel), or the training side without
    one of the classes (multiclass, next_base).
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise ConfigError(f"fraction: must be a number with 0 < fraction < 1, got {fraction!r}")
    y = strata(y, w, task)
    blocks = genomic_blocks(ids, block_size) if blocks is None else np.asarray(blocks)  # (N,) the rows' blocks
    if len(blocks) != len(y):
        raise ValueError(f"holdout_split: ids has {len(blocks)} rows, y has {len(y)}")

    names, block_of_row, block_rows = np.unique(blocks, return_inverse=True, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(names))
    # the first blocks of the permutation whose running row count reaches the target go to the test side
    needed = fraction * len(y)
    n_test_blocks = int(np.searchsorted(np.cumsum(block_rows[order]), needed) + 1)
    is_test_block = np.zeros(len(names), dtype=bool)
    is_test_block[order[:n_test_blocks]] = True

    is_test = is_test_block[block_of_row]
    test_idx = np.flatnonzero(is_test).astype(np.int64)
    train_idx = np.flatnonzero(~is_test).astype(np.int64)
    if task.single_label:
        missing = sorted(set(np.unique(y).tolist()) - set(np.unique(y[train_idx]).tolist()))
        if missing:
            names = ", ".join(repr(task.names[c]) for c in missing[:5])
            raise DataError(
                f"holdout: the training part holds no row of class {names} ({len(train_idx)} rows in "
                f"{len(np.unique(blocks[train_idx]))} blocks of {block_size} bp, fraction={fraction}, "
                f"seed={seed}); change block_size, fraction or seed"
            )
    for side, idx in (() if task.single_label else (("held-out", test_idx), ("training", train_idx))):
        if not (y[idx] == 1).any():
            raise DataError(
                f"holdout: the {side} part holds no positives ({len(idx)} rows in "
                f"{n_test_blocks if side == 'held-out' else len(names) - n_test_blocks} blocks of "
                f"{block_size} bp, fraction={fraction}, seed={seed}); change block_size, fraction or seed"
            )
    log.info(
        "held out %d of %d rows (%d of %d blocks of %d bp%s)",
        len(test_idx), len(y), n_test_blocks, len(names), block_size,
        "" if task.single_label else f", {int(y[test_idx].sum())} {'positives' if task.type == 'binary' else 'rows with a positive label'}",
    )
    return train_idx, test_idx
