"""DeepChem DiskDataset shard directories: reading them (through seqsweep.data.safe_pickle) and writing them.

A directory holds ``shard-K-X.joblib`` with ``-y``, ``-w`` and optional ``-ids`` and ``-a`` (accessibility; a
seqsweep extension), K = 0, 1, ... concatenated in order; y and w may be (N, T) for T tasks named by
``tasks.json``; ``classes.json`` (a seqsweep extension) names the classes of multiclass data.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import pickle
import re
import shutil
import tempfile
import zlib
from pathlib import Path

import joblib
import numpy as np

from seqsweep.data import safe_pickle
from seqsweep.data.dataset import Dataset
from seqsweep.data.validate import validate
from seqsweep.errors import DataError

logger = logging.getLogger(__name__)

SHARD_FILE = re.compile(r"^shard-(\d+)-(X|y|w|ids|a)\.joblib$")
# what write_shards may replace: a directory holding nothing but these
_SHARD_DIR_FILES = re.compile(r"^(shard-\d+-(X|y|w|ids|a)\.joblib|metadata\.csv\.gzip|tasks\.json|classes\.json)$")


def _joblib(path: Path) -> np.ndarray:
    try:
        return np.asarray(safe_pickle.load(path))  # never joblib.load: a shard must not run code
    except safe_pickle.UnsafePickleError as e:
        raise DataError(f"{path}: {e}") from None
    # a corrupt pickle can fail in any of these ways, depending on where the garbage starts
    except (OSError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError, ImportError,
            MemoryError, zlib.error, pickle.UnpicklingError) as e:
        raise DataError(f"{path}: cannot read joblib file: {type(e).__name__}: {' '.join(str(e).split())}") from None


def read_shards(path: Path) -> dict[str, np.ndarray]:
    """{'X', 'y', 'w'?, 'ids'?, 'a'?} concatenated over shards 0..K-1. y and w keep DeepChem's (N, T) shape."""
    found: dict[int, set[str]] = {}
    for p in path.iterdir():
        m = SHARD_FILE.match(p.name)
        if m:
            found.setdefault(int(m.group(1)), set()).add(m.group(2))
    shards = sorted(found)
    if shards != list(range(len(shards))):
        gap = next(k for k in range(len(shards) + 1) if k not in found)
        raise DataError(f"{path}: shard {gap} is missing while shard {shards[-1]} exists: shards must be 0..K-1")
    # y is required; w, ids and a are optional, but all shards or none
    for part in ("X", "y", "w", "ids", "a"):
        have = [k for k in shards if part in found[k]]
        if part in ("X", "y") or have:
            lacking = [k for k in shards if part not in found[k]]
            if lacking:
                raise DataError(f"{path}: shard-{lacking[0]}-{part}.joblib is missing")

    parts: dict[str, list[np.ndarray]] = {}
    for k in shards:
        X = _joblib(path / f"shard-{k}-X.joblib")
        for part in sorted(found[k] - {"X"}):
            arr = _joblib(path / f"shard-{k}-{part}.joblib")
            if part in ("ids", "a") and arr.ndim == 2 and arr.shape[1] == 1:
                arr = arr[:, 0]
            if arr.ndim not in ((1, 2) if part in ("y", "w") else (1,)):
                raise DataError(f"{path}: shard-{k}-{part}.joblib has shape {arr.shape}: expected one value per row"
                                + (" (or one per task)" if part in ("y", "w") else ""))
            if len(arr) != len(X):
                raise DataError(f"{path}: shard {k}: {part} has {len(arr)} rows but X has {len(X)}")
            parts.setdefault(part, []).append(arr)
        parts.setdefault("X", []).append(X)
    try:
        return {name: np.concatenate(arrs) for name, arrs in parts.items()}
    except ValueError as e:  # shards with different numbers of tasks or lengths
        raise DataError(f"{path}: shards do not fit together: {' '.join(str(e).split())}") from None


def _shard_task_names(path: Path, n_tasks: int) -> list[str]:
    """Task names from DeepChem's tasks.json (a JSON list), or task0, task1, ... when it is absent or does not fit."""
    f = path / "tasks.json"
    names: list[str] = []
    if f.is_file():
        try:
            raw = json.loads(f.read_text())
            names = [str(t) for t in raw] if isinstance(raw, list) else []
        except (OSError, ValueError):
            names = []
    if len(names) != n_tasks:
        if names:
            logger.warning("%s: tasks.json names %d tasks, y has %d columns: naming them task0..", f, len(names), n_tasks)
        names = [f"task{t}" for t in range(n_tasks)] if n_tasks > 1 else ["label"]
    return names


def shard_labels(path: Path, arrs: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """A shard directory's label columns by task name, and its weights as stored."""
    y = arrs["y"]
    y2 = y[:, None] if y.ndim == 1 else y
    names = _shard_task_names(path, y2.shape[1])
    if y2.shape[1] == 1:
        classes_file = path / "classes.json"  # written by write_shards for multiclass data
        if classes_file.is_file():
            try:
                classes = json.loads(classes_file.read_text())
                if isinstance(classes, list) and np.all(np.isin(y2[:, 0], np.arange(len(classes)))):
                    return {"label": np.array([str(classes[int(c)]) for c in y2[:, 0]], dtype=object)}, arrs.get("w")
            except (OSError, ValueError):
                pass
        names = ["label"]
    w = arrs.get("w")
    if w is not None and w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    return {n: y2[:, t] for t, n in enumerate(names)}, w


def _write_gzip(path: Path, data: bytes) -> None:
    # mtime=0 and no file name in the header: the same data gives the same bytes
    with open(path, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as f:
        f.write(data)


def write_shards(ds: Dataset, out_dir: str | Path, *, shard_size: int | None = None) -> Path:
    """Write `ds` as a DeepChem-style shard directory and return its path.

    Files per shard K: shard-K-X.joblib (N, L, 4) uint8, -y (N, T) (T = 1 but for multilabel data), -w (N, T)
    float32, -ids (N,) str, and -a (N,) float32 when there is accessibility; plus metadata.csv.gzip and
    tasks.json (the task names) as DeepChem's DiskDataset expects, and classes.json (the class names) for
    multiclass data. Everything goes to a temporary sibling directory first, which is then renamed, so a
    crash never leaves a half-written dataset. An existing shard directory at `out_dir` is replaced; any other
    existing, non-empty directory is refused.
    """
    ds = validate(ds)
    if ds.spans is not None:
        raise DataError(f"write_shards: {ds.source} holds padded sequences; shards store fixed-length windows only")
    out_dir = Path(out_dir)
    if out_dir.exists():
        if not out_dir.is_dir():
            raise DataError(f"{out_dir}: exists and is not a directory")
        strangers = [p.name for p in out_dir.iterdir() if not _SHARD_DIR_FILES.match(p.name)]
        if strangers:
            raise DataError(
                f"{out_dir}: exists and holds {strangers[0]!r}, not only shard files: refusing to replace it"
            )
    if shard_size is not None and shard_size < 1:
        raise DataError(f"write_shards: shard_size must be >= 1, got {shard_size}")
    out_dir.parent.mkdir(parents=True, exist_ok=True)

    n = len(ds)
    step = shard_size or n
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.tmp-"))
    try:
        names = []
        for k, start in enumerate(range(0, n, step)):
            sl = slice(start, start + step)
            two_d = (lambda v: v[sl]) if ds.y.ndim == 2 else (lambda v: v[sl, None])  # DeepChem's (N, T)
            parts = {"X": ds.onehot(sl), "y": two_d(ds.y), "w": two_d(ds.w), "ids": ds.ids[sl]}
            if ds.a is not None:
                parts["a"] = ds.a[sl]
            for part, arr in parts.items():
                joblib.dump(np.ascontiguousarray(arr), tmp / f"shard-{k}-{part}.joblib")
            names.append(k)
        meta = "ids,X,y,w\n" + "".join(
            f"shard-{k}-ids.joblib,shard-{k}-X.joblib,shard-{k}-y.joblib,shard-{k}-w.joblib\n" for k in names
        )
        _write_gzip(tmp / "metadata.csv.gzip", meta.encode())
        tasks = list(ds.task.names) if ds.task.type == "multilabel" else [0]
        (tmp / "tasks.json").write_text(json.dumps(tasks))
        if ds.task.single_label:
            (tmp / "classes.json").write_text(json.dumps(list(ds.task.names)))
        os.chmod(tmp, 0o755)  # mkdtemp makes it private
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.old-"))
            os.rename(out_dir, old / "d")
            os.rename(tmp, out_dir)
            shutil.rmtree(old)
        else:
            os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("%s: wrote %d rows in %d shard(s)", out_dir, n, len(names))
    return out_dir
