"""The text the CLI prints: a sweep's leaderboard, the registry's version table, one version in full."""

from __future__ import annotations

from typing import Any

from seqsweep.registry.promotion import score_text


def leaderboard(result, top: int = 10) -> str:
    """The `top` trials of a sweep.SweepResult that did not fail, best `result.metric` first."""
    metric = result.metric
    rows = sorted(
        (r for r in result.records if r.status != "failed"),
        key=lambda r: r.last.get(metric, float("-inf")),
        reverse=True,
    )[:top]
    head = f"{'trial':>5}  {'architecture':<12} {metric + ' (± std)':<30} {'roc_auc':>7} {'pr_auc':>7} {'epochs':>6} {'secs':>6}  status"
    lines = [head, "-" * len(head)]
    for r in rows:
        m, s = r.last.get(metric, float("nan")), r.last.get(f"{metric}_std", float("nan"))
        lines.append(
            f"{r.number:>5}  {str(r.config.get('architecture')):<12} {f'{m:.4f} ± {s:.4f}':<30} "
            f"{r.last.get('cv_roc_auc', float('nan')):>7.4f} {r.last.get('cv_pr_auc', float('nan')):>7.4f} "
            f"{int(r.last.get('epoch', 0)):>6} {r.seconds:>6.1f}  {r.status}"
        )
    return "\n".join(lines)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in [header, *rows])


def format_versions(rows: list[dict[str, Any]]) -> str:
    """A plain-text table of registry.list_versions' rows."""
    if not rows:
        return "no registered model versions"
    header = ["model", "version", "aliases", "cv_wacc", "cv_roc_auc", "heldout_wacc", "heldout_roc_auc", "created"]
    body = [
        [
            r["name"],
            str(r["version"]),
            ",".join(r["aliases"]) or "-",
            score_text(r["cv_weighted_accuracy"]),
            score_text(r["cv_roc_auc"]),
            score_text(r["heldout_weighted_accuracy"]),
            score_text(r["heldout_roc_auc"]),
            r["created"],
        ]
        for r in rows
    ]
    return _table(header, body)


def _clip(value: Any, width: int = 160) -> str:
    # A sweep run's tags can hold a whole job file; one line each is enough here (show() keeps them whole).
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def format_show(d: dict[str, Any]) -> str:
    """registry.show()'s dict as indented text."""
    lines = [
        f"{d['name']} version {d['version']}",
        f"  aliases:  {', '.join(d['aliases']) or '-'}",
        f"  created:  {d['created']}",
        f"  source:   {d['source']}",
    ]
    if d["tags"]:
        lines.append("  tags:")
        lines += [f"    {k} = {_clip(v)}" for k, v in d["tags"].items()]
    run = d.get("run")
    if run:
        lines.append(f"  run:      {run['id']}" + (f" ({run['name']}, {run['status']})" if "name" in run else ""))
        if "error" in run:
            lines.append(f"    (cannot read the run: {run['error']})")
        for k, v in run.get("params", {}).items():
            lines.append(f"    param {k} = {_clip(v)}")
        for k, v in run.get("tags", {}).items():
            lines.append(f"    tag {k} = {_clip(v)}")
    sweep = d.get("sweep")
    if sweep:
        lines.append(f"  sweep:    {sweep['id']}" + (f" ({sweep['name']})" if sweep.get("name") else ""))
        if "error" in sweep:
            lines.append(f"    (cannot read the sweep run: {sweep['error']})")
        for k, v in sweep.get("tags", {}).items():
            lines.append(f"    tag {k} = {_clip(v)}")
    return "\n".join(lines)
