"""The text the CLI prints: a sweep's leaderboard, the registry's version table, one version in full."""

from __future__ import annotations

from typing import Any

from seqsweep.registry.promotion import score_text


def leaderboard(result, top: int = 10) -> str:
    """The `top` trials of a sweep.SweepResult that did not fail, best first by its ranking (search.rank_by):
    the CV mean of `result.metric` ± its standard error over the folds, and the lower bound ranked on."""
    from seqsweep.tracking import Ranking
    from seqsweep.tracking.records import or_neg_inf

    metric = result.metric
    ranking = result.ranking or Ranking(metric)
    nan = float("nan")
    rows = sorted(
        (r for r in result.records if r.status != "failed"),
        key=lambda r: or_neg_inf(ranking.score(r)) if r.last else float("-inf"),
        reverse=True,
    )[:top]
    head = (f"{'trial':>5}  {'architecture':<12} {metric + ' (± s.e.)':<30} {'lower':>6} {'roc_auc':>7} {'pr_auc':>7} "
            f"{'epochs':>6} {'secs':>6}  status")
    lines = [head, "-" * len(head)]
    for r in rows:
        e = ranking.estimate(r) if r.last else None
        m, se = (e.value, e.se) if e else (nan, nan)
        low = ranking.score_of(e) if e and ranking.by != "mean" else m - se
        lines.append(
            f"{r.number:>5}  {str(r.config.get('architecture')):<12} {f'{m:.4f} ± {se:.4f}':<30} {low:>6.3f} "
            f"{r.last.get('cv_roc_auc', nan):>7.4f} {r.last.get('cv_pr_auc', nan):>7.4f} "
            f"{int(r.last.get('epoch', 0)):>6} {r.seconds:>6.1f}  {r.status}"
        )
    return "\n".join(lines)


def ranking_summary(result) -> list[str]:
    """How the best trial was chosen and whether the top trials can be told apart, in words."""
    from seqsweep.tracking import Ranking, ranked_records, within_noise

    ranking = result.ranking or Ranking(result.metric)
    ranked = ranked_records(result.records, ranking)
    if not ranked:
        return []
    lines = [f"ranked by {ranking.describe()} (search.rank_by: {ranking.by}); 95% intervals over the folds"]
    best = ranked[0]
    close = within_noise(result.records, ranking)
    if close:
        shown = ", ".join(f"over #{r.number} {d.text(signed=True)}" for r, d in close[:3])
        more = f" and {len(close) - 3} more" if len(close) > 3 else ""
        lines.append(
            f"NOT SEPARABLE: the best trial #{best.number} ({ranking.estimate(best).text()}) is not better beyond "
            f"noise than {len(close)} other completed trial(s); its lead {shown}{more} (paired over the folds)"
        )
    elif len(ranked) > 1:
        d = ranking.difference(best, ranked[1])
        lines.append(f"the best trial #{best.number} is better than every other completed trial beyond noise; "
                     f"it leads the runner-up #{ranked[1].number} by {d.text(signed=True)} (paired over the folds)")
    return lines


def final_summary(result) -> list[str]:
    """Which model was registered (the best trial or the top-k ensemble) and why, by CV."""
    choice = result.final
    if choice is None:
        return []
    metric = choice.metric
    single = f"{choice.single.name} {metric} {choice.single.estimate.text()}"
    lines = []
    if choice.ensemble is None:
        lines.append(f"final model: {single} (CV over {len(choice.single.folds)} folds)")
    else:
        e, d = choice.ensemble, choice.difference
        verdict = "the ensemble" if choice.chosen is e else "the best trial alone"
        lines.append(f"final model: {verdict}, by CV on the training part only: {e.name} {metric} {e.estimate.text()} "
                     f"(out-of-fold) vs {single}; ensemble - best {d.text(signed=True)} (paired over the folds)")
    for note in choice.notes:
        lines.append(f"NOTE: {note}")
    return lines


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
    learned = [(k, v) for k, v in d["tags"].items() if k.startswith("explain.top_motif")]
    if learned:
        lines.append("  what it learned (seqsweep explain; method " + d["tags"].get("explain.method", "?") + "):")
        lines += [f"    {k[len('explain.'):]}: {v}" for k, v in learned]
        for entry in d["tags"].get("explain.matches", "").split("; "):
            if entry and entry != "none":
                lines.append(f"      {_clip(entry)}")
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
