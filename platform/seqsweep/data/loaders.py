"""Reading datasets from disk: DeepChem shard directories, FASTA and CSV/TSV; writing shard directories.

Formats, picked by what the path holds:
  * a directory of DeepChem DiskDataset shards ``shard-K-X.joblib`` with ``-y``, ``-w`` and optional ``-ids``
    and ``-a`` (accessibility; not DeepChem, a seqsweep extension), K = 0, 1, ... concatenated in order;
  * FASTA (.fa .fasta .fna, optionally .gz) with headers ``>id label=1 [weight=0.5] [accessibility=0.3]``,
    or without labels plus ``labels=`` a CSV with columns ``id,label[,weight][,accessibility]``;
  * CSV/TSV (.csv .tsv, optionally .gz) with columns ``sequence,label[,weight][,accessibility][,id]``.

Rows in messages are 0-based record indices (the Dataset index; CSV header and FASTA header lines not counted).

Shards are joblib (pickle) files, as DeepChem writes them: load shard directories you trust only.
"""

from __future__ import annotations

import gzip
import io
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
import pandas as pd

from seqsweep.data.dataset import Dataset
from seqsweep.data.encoding import class_balancing_weights, decode, encode
from seqsweep.data.validate import check_labels, validate
from seqsweep.errors import DataError

logger = logging.getLogger(__name__)

FASTA_SUFFIXES = (".fa", ".fasta", ".fna")
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}
ACCEPTED = (
    "a DeepChem shard directory (shard-0-X.joblib, shard-0-y.joblib, shard-0-w.joblib ...), "
    "FASTA (.fa, .fasta, .fna), CSV (.csv), TSV (.tsv), files optionally gzipped (.gz)"
)
OPTIONAL_COLUMNS = ("weight", "accessibility")
_SHARD_FILE = re.compile(r"^shard-(\d+)-(X|y|w|ids|a)\.joblib$")
# what write_shards may replace: a directory holding nothing but these
_SHARD_DIR_FILES = re.compile(r"^(shard-\d+-(X|y|w|ids|a)\.joblib|metadata\.csv\.gzip|tasks\.json)$")


# ---------------------------------------------------------------------------------------------------------
# Format detection


def _kind(path: Path) -> str:
    """'shards', 'fasta', 'csv' or 'tsv'; DataError for a missing path or an unknown format."""
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    if path.is_dir():
        if any(_SHARD_FILE.match(p.name) for p in path.iterdir()):
            return "shards"
        raise DataError(f"{path}: directory holds no shard-K-X.joblib files; accepted: {ACCEPTED}")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last in FASTA_SUFFIXES:
        return "fasta"
    if last in TABLE_SUFFIXES:
        return last[1:]
    raise DataError(f"{path}: unknown data format {last or '(no suffix)'!r}; accepted: {ACCEPTED}")


# ---------------------------------------------------------------------------------------------------------
# Tables (CSV/TSV and the FASTA labels file)


def _read_table(path: Path, sep: str) -> pd.DataFrame:
    """Every cell as a stripped string: numbers are parsed later, per column, with row-level messages.

    (pandas' own NA parsing would turn a sequence 'NA' or 'NAN' into a missing value.)
    """
    try:
        df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty (expected a header line)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        msg = " ".join(str(e).split())
        raise DataError(f"{path}: cannot parse as {'TSV' if sep == chr(9) else 'CSV'}: {msg}") from None
    df.columns = [str(c).strip() for c in df.columns]
    dup = df.columns[df.columns.duplicated()]
    if len(dup):
        raise DataError(f"{path}: column {dup[0]!r} appears twice")
    return df.apply(lambda col: col.str.strip())


def _numbers(col: pd.Series, name: str, src: str | Path) -> np.ndarray:
    """A column of strings as float64, or a DataError naming the first row that is not a number."""
    vals = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(vals) & ~col.str.lower().isin(["nan"]).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        rule = "label must be 0 or 1" if name == "label" else f"{name} must be a number"
        raise DataError(f"{src}: row {i}: {rule}, got {col.iloc[i]!r}")
    return vals


def _check_columns(df: pd.DataFrame, path: Path, required: tuple[str, ...], known: tuple[str, ...]) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataError(
            f"{path}: no {missing[0]!r} column; expected columns {','.join(known)}, got {','.join(df.columns)}"
        )
    unknown = [c for c in df.columns if c not in known]
    if unknown:
        # warn rather than fail: a typo like 'weigth' would otherwise silently mean "no weights"
        logger.warning("%s: ignoring unknown columns %s (known: %s)", path, unknown, ",".join(known))


def _parse_table(path: Path, sep: str) -> pd.DataFrame:
    """CSV/TSV -> DataFrame(id, sequence[, label][, weight][, accessibility])."""
    df = _read_table(path, sep)
    known = ("sequence", "label", *OPTIONAL_COLUMNS, "id")
    _check_columns(df, path, ("sequence",), known)
    out = pd.DataFrame({
        "id": df["id"] if "id" in df.columns else [f"row{i}" for i in range(len(df))],
        "sequence": df["sequence"],
    })
    for name in ("label", *OPTIONAL_COLUMNS):
        if name in df.columns:
            out[name] = _numbers(df[name], name, path)
    return out


# ---------------------------------------------------------------------------------------------------------
# FASTA


def _open_text(path: Path) -> io.TextIOBase:
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix.lower() == ".gz" else open(path, encoding="utf-8")


def _parse_fasta(path: Path) -> pd.DataFrame:
    """FASTA -> DataFrame(id, sequence[, label][, weight][, accessibility]) from `key=value` header tokens."""
    ids: list[str] = []
    seqs: list[list[str]] = []
    fields: list[dict[str, str]] = []
    try:
        with _open_text(path) as f:
            for lineno, line in enumerate(f, start=1):
                line = line.strip()
                if not line or line.startswith(";"):
                    continue
                if line.startswith(">"):
                    tokens = line[1:].split()
                    if not tokens:
                        raise DataError(f"{path}: line {lineno}: FASTA header has no id")
                    ids.append(tokens[0])
                    # other tokens: key=value pairs we know; free-text descriptions are ignored
                    kv = dict(t.split("=", 1) for t in tokens[1:] if "=" in t)
                    fields.append({k: v for k, v in kv.items() if k in ("label", *OPTIONAL_COLUMNS)})
                    seqs.append([])
                elif not ids:
                    raise DataError(f"{path}: line {lineno}: FASTA must start with a '>' header, got {line[:20]!r}")
                else:
                    seqs[-1].append(line)
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as e:
        raise DataError(f"{path}: cannot read as FASTA: {e}") from None

    out = pd.DataFrame({"id": ids, "sequence": ["".join(s) for s in seqs]})
    for name in ("label", *OPTIONAL_COLUMNS):
        have = np.array([name in d for d in fields], dtype=bool)
        if not have.any():
            continue
        if not have.all():
            i = int(np.flatnonzero(~have)[0])
            raise DataError(f"{path}: row {i} ({ids[i]!r}): no {name}= in the header while other records have one")
        out[name] = _numbers(pd.Series([d[name] for d in fields]), name, path)
    return out


def _join_labels(seqs: pd.DataFrame, fasta: Path, labels: Path) -> pd.DataFrame:
    """FASTA records + a labels CSV (id,label[,weight][,accessibility]) joined on id.

    The labels file replaces any label/weight/accessibility given in the FASTA headers.
    """
    if not labels.exists():
        raise DataError(f"{labels}: no such file or directory")
    sep = TABLE_SUFFIXES.get(Path(str(labels).removesuffix(".gz")).suffix.lower(), ",")
    df = _read_table(labels, sep)
    _check_columns(df, labels, ("id", "label"), ("id", "label", *OPTIONAL_COLUMNS))
    dup = df["id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError(f"{labels}: row {i}: id {df['id'].iloc[i]!r} appears twice")
    table = pd.DataFrame({"id": df["id"]})
    for name in ("label", *OPTIONAL_COLUMNS):
        if name in df.columns:
            table[name] = _numbers(df[name], name, labels)

    out = seqs[["id", "sequence"]].merge(table, on="id", how="left", validate="many_to_one", indicator=True)
    missing = (out["_merge"] == "left_only").to_numpy()
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise DataError(f"{labels}: no label for FASTA record {out['id'].iloc[i]!r} (row {i} of {fasta})")
    unused = len(table) - out["id"].nunique()
    if unused:
        logger.info("%s: %d ids not in %s, ignored", labels, unused, fasta)
    return out.drop(columns="_merge")


# ---------------------------------------------------------------------------------------------------------
# DeepChem shard directories


def _joblib(path: Path) -> np.ndarray:
    try:
        return np.asarray(joblib.load(path))
    # a corrupt pickle can fail in any of these ways, depending on where the garbage starts
    except (OSError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError, ImportError,
            zlib.error, pickle.UnpicklingError) as e:
        raise DataError(f"{path}: cannot read joblib file: {type(e).__name__}: {' '.join(str(e).split())}") from None


def _read_shards(path: Path) -> dict[str, np.ndarray]:
    """{'X', 'y', 'w'?, 'ids'?, 'a'?} concatenated over shards 0..K-1 (y and w flattened from (N, 1))."""
    found: dict[int, set[str]] = {}
    for p in path.iterdir():
        m = _SHARD_FILE.match(p.name)
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
            if arr.ndim == 2 and arr.shape[1] == 1:
                arr = arr[:, 0]  # DeepChem stores y and w as (N, n_tasks); seqsweep is single-task
            if arr.ndim != 1:
                raise DataError(f"{path}: shard-{k}-{part}.joblib has shape {arr.shape}: expected one value per row")
            if len(arr) != len(X):
                raise DataError(f"{path}: shard {k}: {part} has {len(arr)} rows but X has {len(X)}")
            parts.setdefault(part, []).append(arr)
        parts.setdefault("X", []).append(X)
    return {name: np.concatenate(arrs) for name, arrs in parts.items()}


# ---------------------------------------------------------------------------------------------------------
# Public API


def _labels_only_for_fasta(kind: str, path: Path, labels: str | Path | None) -> None:
    if labels is not None and kind != "fasta":
        raise DataError(f"{labels}: a labels file goes with FASTA input only; {path} is {kind}")


def read_sequences(path: str | Path, *, labels: str | Path | None = None) -> pd.DataFrame:
    """Sequences for prediction: DataFrame with `id`, `sequence` and, when the source has them, `label`,
    `weight`, `accessibility`. Labels are optional here. Shard directories are decoded to strings ('N' for
    all-zero positions)."""
    path = Path(path)
    kind = _kind(path)
    _labels_only_for_fasta(kind, path, labels)
    if kind == "shards":
        arrs = _read_shards(path)
        n = len(arrs["X"])
        df = pd.DataFrame({
            "id": arrs["ids"].astype(str) if "ids" in arrs else [f"row{i}" for i in range(n)],
            "sequence": decode(arrs["X"]),
        })
        for part, name in (("y", "label"), ("w", "weight"), ("a", "accessibility")):
            if part in arrs:
                df[name] = arrs[part]
    elif kind == "fasta":
        df = _parse_fasta(path)
        if labels is not None:
            df = _join_labels(df, path, Path(labels))
    else:
        df = _parse_table(path, TABLE_SUFFIXES["." + kind])
    return df


def load(path: str | Path, *, labels: str | Path | None = None) -> Dataset:
    """Load a labelled dataset (format picked by what `path` holds, see the module docstring) and validate it.

    Missing weights become class-balancing weights w_i = N / (2 N_{y_i}).

    Raises:
        DataError: missing path, unknown format, unparsable file, or any rule in `validate`.
    """
    path = Path(path)
    src = str(path)
    kind = _kind(path)
    _labels_only_for_fasta(kind, path, labels)
    if kind == "shards":
        arrs = _read_shards(path)
        X, y, w, a = arrs["X"], arrs["y"], arrs.get("w"), arrs.get("a")
        ids = arrs["ids"] if "ids" in arrs else np.array([f"row{i}" for i in range(len(X))])
    else:
        df = read_sequences(path, labels=labels)
        if "label" not in df.columns:
            hint = "a label= header token or labels=<csv>" if kind == "fasta" else "a 'label' column"
            raise DataError(f"{path}: no labels: training data needs {hint}")
        X = encode(df["sequence"], source=src)
        y = df["label"].to_numpy()
        w = df["weight"].to_numpy() if "weight" in df.columns else None
        a = df["accessibility"].to_numpy() if "accessibility" in df.columns else None
        ids = df["id"].to_numpy(dtype=str)

    if w is None:
        y = check_labels(y, src)  # before the weights, which index by label
        w = class_balancing_weights(y)
        logger.info("%s: no weights, using class-balancing weights", path)
    ds = validate(Dataset(X=X, y=y, w=w, ids=ids, a=a, source=src))
    logger.info("%s: %d rows of length %d, %d positives", path, len(ds), ds.seq_len, ds.n_positive)
    return ds


def _write_gzip(path: Path, data: bytes) -> None:
    # mtime=0 and no file name in the header: the same data gives the same bytes
    with open(path, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as f:
        f.write(data)


def write_shards(ds: Dataset, out_dir: str | Path, *, shard_size: int | None = None) -> Path:
    """Write `ds` as a DeepChem-style shard directory and return its path.

    Files per shard K: shard-K-X.joblib (N, L, 4) uint8, -y (N, 1) uint8, -w (N, 1) float32, -ids (N,) str,
    and -a (N,) float32 when there is accessibility; plus metadata.csv.gzip and tasks.json as DeepChem's
    DiskDataset expects. Everything goes to a temporary sibling directory first, which is then renamed, so a
    crash never leaves a half-written dataset. An existing shard directory at `out_dir` is replaced; any other
    existing, non-empty directory is refused.
    """
    ds = validate(ds)
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
            parts = {"X": ds.X[sl], "y": ds.y[sl, None], "w": ds.w[sl, None], "ids": ds.ids[sl]}
            if ds.a is not None:
                parts["a"] = ds.a[sl]
            for part, arr in parts.items():
                joblib.dump(np.ascontiguousarray(arr), tmp / f"shard-{k}-{part}.joblib")
            names.append(k)
        meta = "ids,X,y,w\n" + "".join(
            f"shard-{k}-ids.joblib,shard-{k}-X.joblib,shard-{k}-y.joblib,shard-{k}-w.joblib\n" for k in names
        )
        _write_gzip(tmp / "metadata.csv.gzip", meta.encode())
        (tmp / "tasks.json").write_text(json.dumps([0]))
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
