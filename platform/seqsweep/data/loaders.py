"""Reading datasets from disk: DeepChem shard directories (shards.py), FASTA and CSV/TSV.

Formats, picked by what the path holds:
  * a directory of DeepChem DiskDataset shards ``shard-K-X.joblib`` with ``-y``, ``-w`` and optional ``-ids``
    and ``-a`` (accessibility; not DeepChem, a seqsweep extension), K = 0, 1, ... concatenated in order;
    y and w may be (N, T) for T tasks, named by ``tasks.json``;
  * FASTA (.fa .fasta .fna, optionally .gz) with headers ``>id label=1 [weight=0.5] [accessibility=0.3]``
    (``label_<task>=...`` tokens for several tasks), or without labels plus ``labels=`` a CSV with columns
    ``id,label[,weight][,accessibility]``;
  * CSV/TSV (.csv .tsv, optionally .gz) with columns ``sequence,label[,weight][,accessibility][,id]``, or one
    ``label_<task>`` column per task. A label is 0/1 (binary, multilabel; empty = missing) or a class id or
    name (multiclass); `seqsweep.data.labels` reads them for the job's task type.

Rows in messages are 0-based record indices (the Dataset index; CSV header and FASTA header lines not counted).

Shards are joblib (pickle) files, as DeepChem writes them; they are read with an unpickler that admits only
numpy arrays and plain containers (safe_pickle), so a shard cannot run code.
"""

from __future__ import annotations

import gzip
import io
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seqsweep.data.dataset import Dataset
from seqsweep.data.encoding import Length, codes, codes_to_length, decode
from seqsweep.data.labels import BINARY_LABELS, LabelSpec, interpret
from seqsweep.data.shards import SHARD_FILE, read_shards, shard_labels
from seqsweep.data.validate import validate
from seqsweep.errors import DataError

if TYPE_CHECKING:  # pandas is imported where used: a trial's worker never needs it
    import pandas as pd

logger = logging.getLogger(__name__)

FASTA_SUFFIXES = (".fa", ".fasta", ".fna")
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}
ACCEPTED = (
    "a DeepChem shard directory (shard-0-X.joblib, shard-0-y.joblib, shard-0-w.joblib ...), "
    "FASTA (.fa, .fasta, .fna), CSV (.csv), TSV (.tsv), files optionally gzipped (.gz), DeepSEA .mat (multilabel)"
)
OPTIONAL_COLUMNS = ("weight", "accessibility")
LABEL_PREFIX = "label_"


# ---------------------------------------------------------------------------------------------------------
# Format detection


def data_kind(path: Path) -> str:
    """'shards', 'fasta', 'csv' or 'tsv'; DataError for a missing path or an unknown format."""
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    if path.is_dir():
        if any(SHARD_FILE.match(p.name) for p in path.iterdir()):
            return "shards"
        raise DataError(f"{path}: directory holds no shard-K-X.joblib files; accepted: {ACCEPTED}")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last in FASTA_SUFFIXES:
        return "fasta"
    if last == ".mat":
        return "mat"
    if last in TABLE_SUFFIXES:
        return last[1:]
    raise DataError(f"{path}: unknown data format {last or '(no suffix)'!r}; accepted: {ACCEPTED}")


# ---------------------------------------------------------------------------------------------------------
# Tables (CSV/TSV and the FASTA labels file)


def _read_table(path: Path, sep: str) -> pd.DataFrame:
    """Every cell as a stripped string: numbers are parsed later, per column, with row-level messages.

    (pandas' own NA parsing would turn a sequence 'NA' or 'NAN' into a missing value.)
    """
    import pandas as pd
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
    import pandas as pd
    vals = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(vals) & ~col.str.lower().isin(["nan"]).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        rule = f"{name} must be a number"
        raise DataError(f"{src}: row {i}: {rule}, got {col.iloc[i]!r}")
    return vals


def _is_label(name: str, label_columns: tuple[str, ...] | None) -> bool:
    if label_columns is not None:
        return name in label_columns
    return name == "label" or name.startswith(LABEL_PREFIX)


def _check_columns(
    df: pd.DataFrame, path: Path, required: tuple[str, ...], known: tuple[str, ...],
    label_columns: tuple[str, ...] | None = None,
) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataError(
            f"{path}: no {missing[0]!r} column; expected columns {','.join(known)}, got {','.join(df.columns)}"
        )
    if label_columns is not None:
        absent = [c for c in label_columns if c not in df.columns]
        if absent:
            raise DataError(f"{path}: task.labels names column {absent[0]!r}, which is not in the file (columns: {','.join(df.columns)})")
    unknown = [c for c in df.columns if c not in known and not _is_label(c, label_columns)]
    if unknown:
        # warn rather than fail: a typo like 'weigth' would otherwise silently mean "no weights"
        logger.warning("%s: ignoring unknown columns %s (known: %s)", path, unknown, ",".join(known))


def _label_names(columns, label_columns: tuple[str, ...] | None) -> list[str]:
    names = [c for c in columns if _is_label(c, label_columns)]
    if "label" in names and len(names) > 1 and label_columns is None:
        names.remove("label")  # label_<task> columns are the tasks; a plain 'label' beside them is ambiguous
        logger.warning("ignoring column 'label' next to %d label_<task> columns", len(names))
    return names


def _parse_table(path: Path, sep: str, label_columns: tuple[str, ...] | None = None) -> pd.DataFrame:
    """CSV/TSV -> DataFrame(id, sequence[, label columns as text][, weight][, accessibility])."""
    import pandas as pd
    df = _read_table(path, sep)
    known = ("sequence", "label", *OPTIONAL_COLUMNS, "id")
    _check_columns(df, path, ("sequence",), known, label_columns)
    out = pd.DataFrame({
        "id": df["id"] if "id" in df.columns else [f"row{i}" for i in range(len(df))],
        "sequence": df["sequence"],
    })
    for name in _label_names(df.columns, label_columns):
        out[name] = df[name]  # as written: numbers or class names, read by seqsweep.data.labels
    for name in OPTIONAL_COLUMNS:
        if name in df.columns:
            out[name] = _numbers(df[name], name, path)
    return out


# ---------------------------------------------------------------------------------------------------------
# FASTA


def _open_text(path: Path) -> io.TextIOBase:
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix.lower() == ".gz" else open(path, encoding="utf-8")


def _parse_fasta(path: Path) -> pd.DataFrame:
    """FASTA -> DataFrame(id, sequence[, label][, weight][, accessibility]) from `key=value` header tokens."""
    import pandas as pd
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
                    fields.append({k: v for k, v in kv.items() if _is_label(k, None) or k in OPTIONAL_COLUMNS})
                    seqs.append([])
                elif not ids:
                    raise DataError(f"{path}: line {lineno}: FASTA must start with a '>' header, got {line[:20]!r}")
                else:
                    seqs[-1].append(line)
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as e:
        raise DataError(f"{path}: cannot read as FASTA: {e}") from None

    out = pd.DataFrame({"id": ids, "sequence": ["".join(s) for s in seqs]})
    keys = list(dict.fromkeys(k for d in fields for k in d))
    for name in [*_label_names(keys, None), *(k for k in OPTIONAL_COLUMNS if k in keys)]:
        have = np.array([name in d for d in fields], dtype=bool)
        if not have.all():
            i = int(np.flatnonzero(~have)[0])
            raise DataError(f"{path}: row {i} ({ids[i]!r}): no {name}= in the header while other records have one")
        values = pd.Series([d[name] for d in fields])
        out[name] = _numbers(values, name, path) if name in OPTIONAL_COLUMNS else values
    return out


def _join_labels(seqs: pd.DataFrame, fasta: Path, labels: Path, label_columns: tuple[str, ...] | None = None) -> pd.DataFrame:
    """FASTA records + a labels CSV (id, label or label_<task> columns[, weight][, accessibility]) joined on id.

    The labels file replaces any label/weight/accessibility given in the FASTA headers.
    """
    import pandas as pd
    if not labels.exists():
        raise DataError(f"{labels}: no such file or directory")
    sep = TABLE_SUFFIXES.get(Path(str(labels).removesuffix(".gz")).suffix.lower(), ",")
    df = _read_table(labels, sep)
    _check_columns(df, labels, ("id",), ("id", "label", *OPTIONAL_COLUMNS), label_columns)
    label_names = _label_names(df.columns, label_columns)
    if not label_names:
        raise DataError(f"{labels}: no 'label' column; expected columns id,label[,weight][,accessibility], got {','.join(df.columns)}")
    dup = df["id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError(f"{labels}: row {i}: id {df['id'].iloc[i]!r} appears twice")
    table = pd.DataFrame({"id": df["id"]})
    for name in label_names:
        table[name] = df[name]
    for name in OPTIONAL_COLUMNS:
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
# Public API


def _labels_only_for_fasta(kind: str, path: Path, labels: str | Path | None) -> None:
    if labels is not None and kind != "fasta":
        raise DataError(f"{labels}: a labels file goes with FASTA input only; {path} is {kind}")


def read_sequences(path: str | Path, *, labels: str | Path | None = None) -> pd.DataFrame:
    """Sequences for prediction: DataFrame with `id`, `sequence` and, when the source has them, its label
    columns (`label` or `label_<task>`, as written), `weight`, `accessibility`. Labels are optional here.
    Shard directories are decoded to strings ('N' for all-zero positions)."""
    import pandas as pd
    path = Path(path)
    kind = data_kind(path)
    _labels_only_for_fasta(kind, path, labels)
    if kind == "shards":
        arrs = read_shards(path)
        n = len(arrs["X"])
        df = pd.DataFrame({
            "id": arrs["ids"].astype(str) if "ids" in arrs else [f"row{i}" for i in range(n)],
            "sequence": decode(arrs["X"]),
        })
        columns, w = shard_labels(path, arrs)
        for name, col in columns.items():
            df[name if name == "label" else LABEL_PREFIX + name] = col
        if w is not None and w.ndim == 1:
            df["weight"] = w
        if "a" in arrs:
            df["accessibility"] = arrs["a"]
    elif kind == "fasta":
        df = _parse_fasta(path)
        if labels is not None:
            df = _join_labels(df, path, Path(labels))
    else:
        df = _parse_table(path, TABLE_SUFFIXES["." + kind])
    return df


def label_columns(df: pd.DataFrame) -> list[str]:
    """The label columns of a read_sequences frame, in file order."""
    return _label_names(df.columns, None)


def _encode(seqs: pd.Series, length: Length | None, src: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Sequences -> (N, L) uint8 tokens and spans (or None)."""
    if length is not None:
        return codes_to_length(seqs.tolist(), length, source=src)
    try:
        return codes(seqs, source=src).astype(np.uint8), None
    except DataError as e:
        if "all sequences must have the same length" in str(e):
            raise DataError(f"{e}; set data.length (e.g. {{to: 500, pad: right}}) to pad and trim them to one length") from None
        raise


def load(
    path: str | Path,
    *,
    labels: str | Path | None = None,
    task: LabelSpec = BINARY_LABELS,
    length: Length | None = None,
) -> Dataset:
    """Load a labelled dataset (format picked by what `path` holds, see the module docstring) and validate it.

    task: the job's task type and label options (seqsweep.data.labels.LabelSpec); binary by default.
    length: pad (with N) and trim every sequence to one length (data.length); without it a file with
        sequences of different lengths is an error.
    Missing weights become class-balancing weights (per task for multilabel).

    Raises:
        DataError: missing path, unknown format, unparsable file, labels that do not fit `task.type`, or
        any rule in `validate`.
    """
    path = Path(path)
    src = str(path)
    kind = data_kind(path)
    _labels_only_for_fasta(kind, path, labels)
    if kind == "mat":
        from seqsweep.data.deepsea_mat import read_mat

        if task.type != "multilabel":
            raise DataError(f"{path}: a DeepSEA .mat file holds multilabel targets (one 0/1 label per target): set task.type: multilabel")
        return read_mat(path)
    spans = None
    rows: dict[str, np.ndarray] = {}  # the sequences: X (one-hot rows, as shards hold them) or tokens
    if kind == "shards":
        arrs = read_shards(path)
        X, a = arrs["X"], arrs.get("a")
        rows["X"] = X
        ids = arrs["ids"] if "ids" in arrs else np.array([f"row{i}" for i in range(len(X))])
        columns, w = shard_labels(path, arrs)
        if task.columns is not None:
            absent = [c for c in task.columns if c not in columns]
            if absent:
                raise DataError(f"{path}: task.labels names task {absent[0]!r}, which the shards do not hold (tasks: {', '.join(columns)})")
            if w is not None and w.ndim == 2:
                w = w[:, [list(columns).index(c) for c in task.columns]]
            columns = {c: columns[c] for c in task.columns}
        if length is not None:
            rows = {"tokens": None}
            rows["tokens"], spans = codes_to_length(decode(X), length, source=src)
    else:
        if kind == "fasta":
            df = _parse_fasta(path)
            if labels is not None:
                df = _join_labels(df, path, Path(labels), task.columns)
        else:
            df = _parse_table(path, TABLE_SUFFIXES["." + kind], task.columns)
        names = list(task.columns) if task.columns is not None else label_columns(df)
        if not names:
            hint = "a label= header token or labels=<csv>" if kind == "fasta" else "a 'label' column (or label_<task> columns)"
            raise DataError(f"{path}: no labels: training data needs {hint}")
        columns = {n: df[n].to_numpy() for n in names}
        rows["tokens"], spans = _encode(df["sequence"], length, src)
        w = df["weight"].to_numpy() if "weight" in df.columns else None
        a = df["accessibility"].to_numpy() if "accessibility" in df.columns else None
        ids = df["id"].to_numpy(dtype=str)

    if task.type == "multilabel" and len(columns) == 1 and "label" in columns and kind != "shards":
        raise DataError(
            f"{path}: task.type multilabel needs one label_<task> column per task (or task.labels); the file has one "
            "'label' column: for one label per sequence set task.type: binary (0/1) or multiclass"
        )
    if w is None:
        logger.info("%s: no weights, using class-balancing weights", path)
    y, w, task_value = interpret(columns, w, task, src)
    ds = validate(Dataset(y=y, w=w, ids=ids, a=a, source=src, task=task_value, spans=spans, **rows))
    logger.info("%s: %d rows of length %d, %s", path, len(ds), ds.seq_len, _describe(ds))
    return ds


def _describe(ds: Dataset) -> str:
    if ds.task.type == "binary":
        return f"{ds.n_positive} positives"
    if ds.task.type == "multilabel":
        return f"{ds.task.n_outputs} tasks, {ds.n_positive} positive labels"
    return f"{ds.task.n_outputs} classes"
