"""Checks a Dataset once, at load time, so that training code can trust it; and describes it.

Every message is one line that names the dataset's source, the row (0-based, the Dataset index) where there
is one, the rule that was broken, and the offending value.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import numpy as np

from seqsweep.data.dataset import Dataset
from seqsweep.data.genome import TOKEN_N
from seqsweep.data.sparse import SparseLabels, TaskWeights
from seqsweep.errors import DataError


def _fmt(v: Any) -> str:
    """A value for a message: 3 rather than 3.0, nan rather than np.float64(nan)."""
    if isinstance(v, (np.floating, float)) and np.isfinite(v) and float(v).is_integer():
        return str(int(v))
    if isinstance(v, np.generic):
        return str(v.item())
    return str(v)


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _column(name: str, arr: Any, n: int, src: str) -> np.ndarray:
    """`arr` as a 1-D array of n rows; (n, 1) is flattened (DeepChem stores y and w that way)."""
    a = np.asarray(arr)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise DataError(f"{src}: {name} must be 1-D (one value per row), got shape {a.shape}")
    if a.shape[0] != n:
        raise DataError(f"{src}: {name} has {a.shape[0]} rows but X has {n}: they must match")
    return a


def check_labels(y: np.ndarray, src: str) -> np.ndarray:
    """(N,) labels -> uint8, or a DataError naming the first row whose label is not 0 or 1."""
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise DataError(f"{src}: labels must be numbers 0 or 1, got dtype {y.dtype}")
    bad = (y != 0) & (y != 1)  # NaN compares unequal to both
    if bad.any():
        i = _first(bad)
        raise DataError(f"{src}: row {i}: label must be 0 or 1, got {_fmt(y[i])}")
    return y.astype(np.uint8)


def _check_y(ds: Dataset, n: int, src: str) -> np.ndarray:
    """Labels in the canonical dtype of the task: binary (N,) uint8, multilabel (N, T) uint8, else (N,) int64."""
    task = ds.task
    if task.type == "binary":
        y = check_labels(_column("y", ds.y, n, src), src)
        if y.min() == y.max():
            raise DataError(f"{src}: only label {y[0]} present: need both classes")
        return y
    if task.type == "multilabel":
        y = np.asarray(ds.y)
        if y.ndim == 1:
            y = y[:, None]
        if y.ndim != 2 or y.shape[0] != n or y.shape[1] != task.n_outputs:
            raise DataError(f"{src}: multilabel y must have shape ({n}, {task.n_outputs}) (one column per task), got {y.shape}")
        if y.dtype.kind not in "biuf" or ((y != 0) & (y != 1)).any():
            raise DataError(f"{src}: multilabel labels must be 0 or 1 (missing ones carry weight 0)")
        return y.astype(np.uint8)
    y = _column("y", ds.y, n, src)
    C = task.n_outputs
    if y.dtype.kind not in "biu" or y.min() < 0 or y.max() >= C:
        bad = _first((y < 0) | (y >= C)) if y.dtype.kind in "biuf" else 0
        raise DataError(f"{src}: row {bad}: class index must be an integer in [0, {C}), got {_fmt(y[bad])}")
    if len(np.unique(y)) < 2:
        raise DataError(f"{src}: only class {task.names[int(y[0])]!r} present: need at least two classes")
    return y.astype(np.int64)


def _check_spans(spans, n: int, L: int, src: str) -> np.ndarray | None:
    if spans is None:
        return None
    s = np.asarray(spans)
    if s.shape != (n, 2) or s.dtype.kind not in "iu":
        raise DataError(f"{src}: spans must be (N, 2) integers [start, end), got shape {s.shape}")
    bad = (s[:, 0] < 0) | (s[:, 1] > L) | (s[:, 0] > s[:, 1])
    if bad.any():
        i = _first(bad)
        raise DataError(f"{src}: row {i}: span {s[i].tolist()} must satisfy 0 <= start <= end <= {L}")
    return s.astype(np.int32)


def _validate_sparse(ds: Dataset, n: int, src: str) -> Dataset:
    """Multilabel targets held sparsely (seqsweep.data.sparse): shapes, task indices, weights, one learnable task."""
    y, w = ds.y, ds.w
    if ds.task.type != "multilabel" or not isinstance(w, TaskWeights):
        raise DataError(f"{src}: sparse labels are multilabel, with TaskWeights")
    if y.shape != (n, ds.task.n_outputs):
        raise DataError(f"{src}: multilabel y must have shape ({n}, {ds.task.n_outputs}) (one column per task), got {y.shape}")
    if len(y.indices) and (y.indices.min() < 0 or y.indices.max() >= y.n_tasks):
        raise DataError(f"{src}: sparse labels name a task outside 0..{y.n_tasks - 1}")
    if not (np.isfinite(w.w_pos).all() and np.isfinite(w.w_neg).all() and (w.w_pos >= 0).all() and (w.w_neg >= 0).all()):
        raise DataError(f"{src}: task weights must be finite and >= 0")
    pos = y.positives()
    if not ((pos > 0) & (pos < n)).any():
        raise DataError(f"{src}: no task holds both labels 0 and 1 among its measured rows: nothing to learn")
    a = None
    if ds.a is not None:
        a = _column("a", ds.a, n, src).astype(np.float64)
        if not np.isfinite(a).all():
            i = _first(~np.isfinite(a))
            raise DataError(f"{src}: row {i}: accessibility must be finite, got {_fmt(a[i])}")
        a = a.astype(np.float32)
    return ds.replace(a=a)


def validate(ds: Dataset) -> Dataset:
    """Check `ds` and return it with canonical dtypes.

    Canonical: X (N, L, 4) uint8 C-contiguous; y as Dataset documents for its task; w float32 of y's shape;
    ids (N,) str; a (N,) float32 or None; spans (N, 2) int32 or None.

    Raises:
        DataError: one line naming ds.source, the row and the rule: X not (N, L, 4), empty data, one-hot
        values other than 0/1 or more than one letter at a position, mismatched lengths between X and
        y/w/ids/a, labels outside their task's range, a single class, NaN/inf/negative weights, zero total
        weight, NaN/inf accessibility, spans outside the sequence.
    """
    src = ds.source
    n = len(ds)
    if n == 0:
        raise DataError(f"{src}: the dataset is empty (0 rows)")
    if ds.length < 1:
        raise DataError(f"{src}: sequences have length 0")
    ends = ds.starts + ds.length
    if ds.starts.min() < 0 or ends.max() > len(ds.store):
        i = _first((ds.starts < 0) | (ends > len(ds.store)))
        raise DataError(f"{src}: row {i}: window [{ds.starts[i]}, {ends[i]}) lies outside the {len(ds.store):,} bases of its store")
    if isinstance(ds.y, SparseLabels):
        return _validate_sparse(ds, n, src)
    y = _check_y(ds, n, src)

    w = np.asarray(ds.w)
    if y.ndim == 1:
        w = _column("w", w, n, src)
    elif w.shape != y.shape:
        raise DataError(f"{src}: w has shape {w.shape}, the labels {y.shape}: they must match")
    if w.dtype.kind not in "biuf":
        raise DataError(f"{src}: weights must be numbers, got dtype {w.dtype}")
    w = w.astype(np.float64)  # check before the float32 cast so a huge value is reported, not turned into inf
    rows_bad = lambda m: m if m.ndim == 1 else m.any(1)  # noqa: E731  a row is bad if any of its tasks is
    if not np.isfinite(w).all():
        i = _first(rows_bad(~np.isfinite(w)))
        raise DataError(f"{src}: row {i}: weight must be finite, got {_fmt(w[i] if w.ndim == 1 else w[i][~np.isfinite(w[i])][0])}")
    if (w < 0).any():
        i = _first(rows_bad(w < 0))
        raise DataError(f"{src}: row {i}: weight must be >= 0, got {_fmt(w[i] if w.ndim == 1 else w[i].min())}")
    if w.sum() <= 0:
        raise DataError(f"{src}: weights sum to 0: need a positive total weight")
    w32 = w.astype(np.float32)
    if not np.isfinite(w32).all():
        i = _first(rows_bad(~np.isfinite(w32)))
        raise DataError(f"{src}: row {i}: weight {_fmt(w[i] if w.ndim == 1 else w[i].max())} does not fit in float32")
    if ds.task.type == "multilabel":
        both = [(y[w[:, t] > 0, t] == 1).any() and (y[w[:, t] > 0, t] == 0).any() for t in range(y.shape[1])]
        if not any(both):
            raise DataError(f"{src}: no task holds both labels 0 and 1 among its measured rows: nothing to learn")

    ids = None if ds._ids is None else _column("ids", ds._ids, n, src).astype(str)  # None: made from coordinates

    a = None
    if ds.a is not None:
        a64 = _column("a", ds.a, n, src)
        if a64.dtype.kind not in "biuf":
            raise DataError(f"{src}: accessibility must be numbers, got dtype {a64.dtype}")
        a64 = a64.astype(np.float64)
        if not np.isfinite(a64).all():
            i = _first(~np.isfinite(a64))
            raise DataError(f"{src}: row {i}: accessibility must be finite, got {_fmt(a64[i])}")
        a = a64.astype(np.float32)

    spans = _check_spans(ds.spans, n, ds.length, src)
    return ds.replace(y=y, w=w32, ids=ids, a=a, spans=spans)


# ---------------------------------------------------------------------------------------------------------
# Describing a dataset


def summary(ds: Dataset) -> dict[str, Any]:
    """Counts a user checks first: rows, length, classes (or tasks), weight per class, share of N positions."""
    sparse = isinstance(ds.y, SparseLabels)
    y = None if sparse else np.asarray(ds.y)
    w = None if sparse else np.asarray(ds.w, dtype=np.float64)
    out: dict[str, Any] = {
        "source": ds.source,
        "task": ds.task.type,
        "rows": len(ds),
        "length": ds.length,
        # N (or another IUPAC letter) or padding, over the windows, counted batch by batch
        "n_fraction": _n_fraction(ds),
        "accessibility": ds.a is not None,
    }
    if ds.spans is not None:
        lengths = ds.lengths()
        out["lengths"] = {"min": int(lengths.min()), "median": float(np.median(lengths)), "max": int(lengths.max())}
    if ds.task.type == "binary":
        yr, wr = y.ravel(), w.ravel()
        out.update({
            "positives": int((yr == 1).sum()),
            "negatives": int((yr == 0).sum()),
            "weight_positive": float(wr[yr == 1].sum()),
            "weight_negative": float(wr[yr == 0].sum()),
        })
    elif ds.task.type == "multilabel" and isinstance(ds.y, SparseLabels):
        out["tasks"] = {name: {"positives": int(p), "measured": len(ds)} for name, p in zip(ds.task.names, ds.y.positives())}
    elif ds.task.type == "multilabel":
        measured = w > 0
        out["tasks"] = {
            name: {"positives": int(((y[:, t] == 1) & measured[:, t]).sum()), "measured": int(measured[:, t].sum())}
            for t, name in enumerate(ds.task.names)
        }
    else:
        out["classes"] = {
            name: {"rows": int((y == c).sum()), "weight": float(w[y == c].sum())} for c, name in enumerate(ds.task.names)
        }
    return out


def _n_fraction(ds: Dataset, batch: int = 1 << 22) -> float:
    rows = max(1, batch // max(ds.length, 1))
    n_token = sum(int((ds.tokens(slice(a, a + rows)) == TOKEN_N).sum()) for a in range(0, len(ds), rows))
    return n_token / max(len(ds) * ds.length, 1)


def format_summary(d: dict[str, Any]) -> str:
    """A few aligned lines for a terminal."""
    rows = max(d["rows"], 1)
    lines = [("source", d["source"])]
    if d.get("task", "binary") != "binary":
        lines.append(("task", d["task"]))
    lines.append(("rows", f"{d['rows']:,} of length {d['length']}"))
    if "lengths" in d:
        lg = d["lengths"]
        lines.append(("sequence lengths", f"{lg['min']:,} to {lg['max']:,} (median {lg['median']:,.0f}), padded with N"))
    if "positives" in d:
        lines += [
            ("positives", f"{d['positives']:,} ({100 * d['positives'] / rows:.2f}%), weight {d['weight_positive']:,.1f}"),
            ("negatives", f"{d['negatives']:,} ({100 * d['negatives'] / rows:.2f}%), weight {d['weight_negative']:,.1f}"),
        ]
    for name, t in d.get("tasks", {}).items():
        lines.append((f"task {name}", f"{t['positives']:,} positives in {t['measured']:,} measured rows"))
    for name, c in d.get("classes", {}).items():
        lines.append((f"class {name}", f"{c['rows']:,} rows ({100 * c['rows'] / rows:.2f}%), weight {c['weight']:,.1f}"))
    lines += [
        ("N positions", f"{100 * d['n_fraction']:.4f}%"),
        ("accessibility", "yes" if d["accessibility"] else "no"),
    ]
    width = max(len(k) for k, _ in lines)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in lines)


def fingerprint(ds: Dataset) -> str:
    """sha256 (16 hex) over the sequences, y, w, a: dtype, shape and bytes. Identical data gives the same print.

    Rows held in memory hash their one-hot bytes, batch by batch, as they did when datasets held one-hot X (a
    print recorded before the token store is still the print of the same data). Windows over a genome cache
    hash the genome's fingerprint, the windows' starts and strands instead: the bases are the genome's.
    ids and source are left out on purpose: the same windows loaded from a copy elsewhere are the same data.
    """
    h = hashlib.sha256()
    h.update(repr(ds.task.to_dict()).encode() if ds.task.type != "binary" else b"")
    if ds.store.cache is None:
        n, L = len(ds), ds.length
        h.update(f"X:|u1:{(n, L, 4)};".encode())
        rows = max(1, (16 << 20) // max(L * 4, 1))
        for a in range(0, n, rows):
            h.update(np.ascontiguousarray(ds.onehot(slice(a, a + rows))).tobytes())
    else:
        h.update(f"genome:{ds.store.fingerprint}:{ds.length};".encode())
        h.update(np.ascontiguousarray(ds.starts).tobytes())
        if ds.reverse is not None:
            h.update(np.packbits(ds.reverse).tobytes())
    if isinstance(ds.y, SparseLabels):
        for arr in (ds.y.indptr, ds.y.indices, ds.w.w_pos, ds.w.w_neg):
            h.update(f"{arr.dtype.str}:{arr.shape};".encode())
            h.update(np.ascontiguousarray(arr).tobytes())
    for name in ("a", "spans") if isinstance(ds.y, SparseLabels) else ("y", "w", "a", "spans"):
        arr = getattr(ds, name)
        if arr is None:
            if name != "spans":  # fixed-length data prints as it did before spans existed
                h.update(f"{name}:none;".encode())
            continue
        arr = np.ascontiguousarray(arr)
        h.update(f"{name}:{arr.dtype.str}:{arr.shape};".encode())
        h.update(arr.tobytes())
    return h.hexdigest()[:16]


_COORD = re.compile(r"^([^:\s]+):(\d+)-(\d+)$")


def genomic_coordinates(ids: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """(chrom (N,) str, start (N,) int64) from ids like ``chr22:27247552-27247653``; None if any id does not parse."""
    chroms: list[str] = []
    starts: list[int] = []
    for s in np.asarray(ids).ravel().astype(str):
        m = _COORD.match(s)
        if m is None:
            return None
        chroms.append(m.group(1))
        starts.append(int(m.group(2)))
    return np.array(chroms, dtype=str), np.array(starts, dtype=np.int64)
