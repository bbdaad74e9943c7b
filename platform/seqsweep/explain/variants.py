"""Variant effects: what a single-base change does to the version's prediction.

    table = read_variants("variants.csv")        # checked before anything runs: DataError naming the row
    effects = variant_effects(ensemble, table)    # one row per variant and output, largest |effect| first

The table is a CSV with columns `sequence`, `position` (1-based, as in VCF), `ref` and `alt` (one base each,
A/C/G/T, any case), and optionally `id`. Each variant is scored by the version as served on the sequence
with the reference base and with the alternative: `delta_probability` = p(alt) - p(ref), and
`delta_log_odds` = logit(p(alt)) - logit(p(ref)), per output (task or class).

(A VCF with a genome FASTA comes with the genome store; `--genome` says so.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from seqsweep.ensemble import Ensemble
from seqsweep.errors import DataError

COLUMNS = ("sequence", "position", "ref", "alt")
BASES = "ACGT"


def read_variants(path: str | Path) -> pd.DataFrame:
    """The variant table, checked row by row: DataError '<path>: row R: ...' for the first broken rule.
    Rows are numbered as in the file (row 1 = the first line after the header)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, comment=None)
    except (ValueError, OSError) as exc:
        raise DataError(f"{path}: cannot read as CSV: {str(exc).splitlines()[0]}") from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"{path}: a variant table needs columns {', '.join(COLUMNS)}; missing {', '.join(missing)}")
    if df.empty:
        raise DataError(f"{path}: no variants")
    positions = []
    for r, row in enumerate(df.itertuples(index=False), start=1):
        seq = str(row.sequence).strip().upper()
        ref, alt = str(row.ref).strip().upper(), str(row.alt).strip().upper()
        try:
            pos = int(str(row.position).strip())
        except ValueError:
            raise DataError(f"{path}: row {r}: position must be an integer (1-based), got {row.position!r}") from None
        if not seq:
            raise DataError(f"{path}: row {r}: sequence is empty")
        if not 1 <= pos <= len(seq):
            raise DataError(f"{path}: row {r}: position {pos} is outside the sequence (1..{len(seq)})")
        for what, base in (("ref", ref), ("alt", alt)):
            if len(base) != 1 or base not in BASES:
                raise DataError(f"{path}: row {r}: {what} must be one base (A, C, G or T), got {base!r}")
        if ref == alt:
            raise DataError(f"{path}: row {r}: alt must differ from ref, both are {ref!r}")
        if seq[pos - 1] != ref:
            raise DataError(f"{path}: row {r}: ref {ref!r} does not match the sequence, which has "
                            f"{seq[pos - 1]!r} at position {pos}")
        positions.append(pos)
    out = pd.DataFrame({
        "id": df["id"].astype(str) if "id" in df.columns else [f"variant{r}" for r in range(1, len(df) + 1)],
        "sequence": df["sequence"].str.strip().str.upper(),
        "position": positions,
        "ref": df["ref"].str.strip().str.upper(),
        "alt": df["alt"].str.strip().str.upper(),
    })
    out.attrs["source"] = str(path)
    return out


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


def variant_effects(ensemble: Ensemble, table: pd.DataFrame, *, names: list[str] | None = None) -> pd.DataFrame:
    """Columns id, position, ref, alt, output, p_ref, p_alt, delta_probability, delta_log_odds; one row per
    variant and output, sorted by |delta_probability| (largest first)."""
    source = table.attrs.get("source", "variants")
    refs = table["sequence"].tolist()
    alts = [s[: p - 1] + a + s[p:] for s, p, a in zip(refs, table["position"], table["alt"])]
    try:
        p_ref = ensemble.predict_sequences(refs)
        p_alt = ensemble.predict_sequences(alts)
    except DataError as exc:
        raise DataError(f"{source}: {exc}") from None
    task = ensemble.task
    outputs = list(names or (["probability"] if task.type == "binary" else task.names))
    p_ref = p_ref.reshape(len(refs), -1)
    p_alt = p_alt.reshape(len(refs), -1)
    rows = []
    for i, v in enumerate(table.itertuples(index=False)):
        for k, name in enumerate(outputs):
            rows.append({
                "id": v.id, "position": int(v.position), "ref": v.ref, "alt": v.alt, "output": name,
                "p_ref": float(p_ref[i, k]), "p_alt": float(p_alt[i, k]),
                "delta_probability": float(p_alt[i, k] - p_ref[i, k]),
                "delta_log_odds": float(_logit(p_alt[i, k]) - _logit(p_ref[i, k])),
            })
    out = pd.DataFrame(rows)
    order = np.argsort(-out["delta_probability"].abs().to_numpy(), kind="stable")
    return out.iloc[order].reset_index(drop=True)


def genome_not_yet(*_args) -> None:
    """`--genome` (a VCF against a genome FASTA) waits for the genome store being built on main."""
    raise DataError("--genome: variants from a VCF and a genome FASTA are not supported yet (they come with the "
                    "genome store); pass --variants with a CSV of sequence, position, ref, alt")

