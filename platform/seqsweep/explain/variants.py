"""Variant effects: what a single-base change does to the version's prediction.

    table = read_variants("variants.csv")        # checked before anything runs: DataError naming the row
    effects = variant_effects(ensemble, table)    # one row per variant and output, largest |effect| first

The table is a CSV with columns `sequence`, `position` (1-based, as in VCF), `ref` and `alt` (one base each,
A/C/G/T, any case), and optionally `id`. Each variant is scored by the version as served on the sequence
with the reference base and with the alternative: `delta_probability` = p(alt) - p(ref), and
`delta_log_odds` = logit(p(alt)) - logit(p(ref)), per output (task or class).

Or a VCF with the genome FASTA it refers to (`--variants calls.vcf --genome ref.fa`): each single-base variant
is scored on the model-length window of the genome centred on it, read from the genome's token cache; its REF
must match the genome there.
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


def read_vcf(path: str | Path, store) -> pd.DataFrame:
    """Single-base variants of a VCF (or a VCF.gz) on `store` (a genome TokenStore): id, chrom, position (1-based),
    ref, alt. Header lines are skipped; an ALT list (A,G) gives one row per allele. DataError naming the file
    and line: fewer than 5 columns, a position that is not an integer, a contig the genome lacks, a position past
    its end, REF or ALT that is not one base, REF that does not match the genome."""
    import gzip

    from seqsweep.data.genome import TOKEN_N

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    rows = []
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        for no, line in enumerate(f, start=1):
            if line.startswith("#") or not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
            where = f"{path}: line {no}"
            if len(cols) < 5:
                raise DataError(f"{where}: a VCF line needs CHROM, POS, ID, REF, ALT (tab-separated)")
            chrom, pos_text, vid, ref = cols[0], cols[1], cols[2], cols[3].upper()
            try:
                pos = int(pos_text)
            except ValueError:
                raise DataError(f"{where}: POS must be an integer, got {pos_text!r}") from None
            c = store.contig(chrom)  # DataError naming the contigs the genome has
            n = int(store.lengths[c])
            if not 1 <= pos <= n:
                raise DataError(f"{where}: {chrom}:{pos} is outside {chrom} (1..{n:,})")
            if len(ref) != 1 or ref not in BASES:
                raise DataError(f"{where}: REF must be one base (A, C, G or T), got {ref!r}")
            tok = int(store.tokens[store.offsets[c] + pos - 1])
            have = "N" if tok == TOKEN_N else BASES[tok]
            if have != ref:
                raise DataError(f"{where}: REF {ref!r} does not match the genome, which has {have!r} at {chrom}:{pos}")
            for alt in cols[4].upper().split(","):
                if len(alt) != 1 or alt not in BASES or alt == ref:
                    raise DataError(f"{where}: ALT must be one base other than REF, got {alt!r}")
                rows.append({"id": vid if vid not in ("", ".") else f"{chrom}:{pos}:{ref}>{alt}", "chrom": chrom,
                             "position": pos, "ref": ref, "alt": alt, "line": no})
    if not rows:
        raise DataError(f"{path}: no variants")
    out = pd.DataFrame(rows)
    out.attrs["source"] = str(path)
    return out


def vcf_table(vcf: pd.DataFrame, store, length: int) -> pd.DataFrame:
    """The variant table of `read_variants` for VCF rows: the `length`-bp window of the genome centred on each
    variant (shifted inside its contig near an end), the variant's 1-based position in it."""
    from seqsweep.data.encoding import decode_tokens

    c = np.array([store.contig(ch) for ch in vcf["chrom"]], dtype=np.int64)
    lo, n = store.offsets[c], store.lengths[c]
    if (n < length).any():
        i = int(np.flatnonzero(n < length)[0])
        raise DataError(f"{vcf.attrs.get('source', 'variants')}: line {vcf['line'].iat[i]}: contig {vcf['chrom'].iat[i]} "
                        f"is shorter than the model's {length} bases")
    site = lo + vcf["position"].to_numpy(dtype=np.int64) - 1  # flat offset of the variant
    start = np.clip(site - length // 2, lo, lo + n - length)
    out = pd.DataFrame({"id": vcf["id"].to_numpy(), "sequence": decode_tokens(store.gather(start, length)),
                        "position": (site - start + 1).astype(np.int64), "ref": vcf["ref"].to_numpy(),
                        "alt": vcf["alt"].to_numpy()})
    out.attrs["source"] = vcf.attrs.get("source", "variants")
    return out