"""What a person reads: the motifs table, logos (logomaker) and a Markdown + HTML report.

Written into one directory, which explain_version logs as the `explain/` artifacts of the version's run:

    motifs.csv              one row per discovered motif (per output): seqlets, consensus, top JASPAR matches
    variants.csv            (with --variants) the effect of each variant on each output, largest first
    logos/<output>_<motif>.png    the motif's contribution logo above its best JASPAR match's logo
    examples/<output>_<k>.png     attribution logos of the top-scoring sequences
    report.md, report.html  the summary, the tables and the pictures
    summary.json            the same, for programs
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqsweep.explain.motifs import Motif

ACGT = list("ACGT")


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def motifs_table(by_output: dict[str, list[Motif]], top: int = 3) -> pd.DataFrame:
    rows = []
    for output, motifs in by_output.items():
        for m in motifs:
            row: dict[str, Any] = {"output": output, "motif": m.name, "sign": "+" if m.sign > 0 else "-",
                                   "seqlets": m.n_seqlets, "consensus": m.consensus}
            for k in range(top):
                mt = m.matches[k] if k < len(m.matches) else None
                row[f"match{k + 1}_id"] = mt.id if mt else ""
                row[f"match{k + 1}_name"] = mt.name if mt else ""
                row[f"match{k + 1}_q"] = mt.q if mt else float("nan")
            rows.append(row)
    cols = ["output", "motif", "sign", "seqlets", "consensus"] + [
        f"match{k + 1}_{w}" for k in range(top) for w in ("id", "name", "q")]
    return pd.DataFrame(rows, columns=cols)


def _ic(pfm: np.ndarray) -> np.ndarray:
    """(m, 4) probabilities -> the letter heights of an information-content logo (bits)."""
    p = np.clip(pfm, 1e-6, 1.0)
    return p * (2.0 + (p * np.log2(p)).sum(1, keepdims=True))


def _logo(ax, matrix: np.ndarray, title: str) -> None:
    import logomaker

    df = pd.DataFrame(np.asarray(matrix, dtype=float), columns=ACGT)
    logomaker.Logo(df, ax=ax, color_scheme="classic")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def motif_logo(m: Motif, path: Path, title: str) -> Path:
    """The motif's contribution logo (cwm) above its best JASPAR match's information logo, that one put on
    the strand TomTom aligned it with."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from seqsweep.explain import jaspar

    best = m.best
    fig, axes = plt.subplots(2 if best else 1, 1, figsize=(max(4, 0.4 * len(m.cwm) + 1), 3.6 if best else 1.9),
                             squeeze=False)
    _logo(axes[0, 0], m.cwm, f"{title}: {m.name}, {m.n_seqlets} seqlets (contribution)")
    if best:
        pfm = jaspar.fetch(best.id).pfm()
        if best.strand == "-":
            pfm = pfm[::-1, ::-1]  # reverse complement: positions reversed, A<->T and C<->G (A,C,G,T order)
        _logo(axes[1, 0], _ic(pfm), f"best JASPAR match {best.id} {best.name} (q={best.q:.2g}, strand {best.strand})")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def example_logo(contrib: np.ndarray, path: Path, title: str) -> Path:
    """Attribution logo of one sequence: contrib (L, 4), the contribution of the base it carries."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 1, figsize=(min(16, max(6, 0.09 * len(contrib))), 1.9))
    _logo(ax, contrib, title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _md_table(df: pd.DataFrame) -> str:
    if df.empty:
        return "(none)\n"
    def cell(v):
        return f"{v:.2g}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_report(out: Path, summary: dict[str, Any], table: pd.DataFrame, logos: list[str], examples: list[str],
                 variants: pd.DataFrame | None) -> None:
    """report.md, report.html, summary.json and the CSVs into `out` (pictures already there)."""
    table.to_csv(out / "motifs.csv", index=False)
    if variants is not None:
        variants.to_csv(out / "variants.csv", index=False)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    md = [f"# What {summary['model']} learned\n",
          f"- data: {summary['data']} ({summary['rows']} sequences explained)",
          f"- attributions: **{summary['method']}** ({summary['method_why']})",
          f"- motifs: TF-MoDISco (modisco-lite {summary['versions'].get('modisco', '?')}), matched by TomTom "
          f"(memelite) to {summary['jaspar']} CORE vertebrates",
          f"- seconds: {summary['seconds']:.1f}\n"]
    for output, top in summary["top_motif"].items():
        md.append(f"- top motif for **{output}**: {top}")
    md += ["\n## Motifs\n", _md_table(table), "\n## Logos\n"]
    md += [f"![{name}]({name})" for name in logos]
    md += ["\n## Top-scoring sequences\n"] + [f"![{name}]({name})" for name in examples]
    if variants is not None:
        md += ["\n## Variant effects (largest first)\n", _md_table(variants.head(50))]
    (out / "report.md").write_text("\n".join(md) + "\n")

    def table_html(df: pd.DataFrame) -> str:
        return df.to_html(index=False, float_format=lambda v: f"{v:.3g}", border=0) if not df.empty else "<p>(none)</p>"

    body = [f"<h1>What {html.escape(summary['model'])} learned</h1><ul>",
            f"<li>data: {html.escape(str(summary['data']))} ({summary['rows']} sequences)</li>",
            f"<li>attributions: <b>{html.escape(summary['method'])}</b> ({html.escape(summary['method_why'])})</li>",
            f"<li>{summary['jaspar']} CORE vertebrates, TomTom (memelite); TF-MoDISco (modisco-lite)</li>"]
    body += [f"<li>top motif for <b>{html.escape(o)}</b>: {html.escape(t)}</li>" for o, t in summary["top_motif"].items()]
    body += ["</ul><h2>Motifs</h2>", table_html(table), "<h2>Logos</h2>"]
    body += [f'<div><img src="{html.escape(n)}"></div>' for n in logos]
    body += ["<h2>Top-scoring sequences</h2>"] + [f'<div><img src="{html.escape(n)}"></div>' for n in examples]
    if variants is not None:
        body += ["<h2>Variant effects (largest first)</h2>", table_html(variants.head(200))]
    (out / "report.html").write_text("<!doctype html><meta charset='utf-8'><style>body{font-family:sans-serif}"
                                     "td,th{padding:2px 8px}</style>" + "\n".join(body) + "\n")
