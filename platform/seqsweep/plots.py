"""Every figure seqsweep draws: a sweep's plots (on its parent run) and a model version's evaluation plots.

Each figure is one function that returns ``(file name, Figure)``, or None when its data is missing; a group
(`sweep_figures`, `evaluation_figures`) lists its functions, so a new plot is one function plus one line.
Figures use matplotlib's object API: a bare Figure saves to PNG through Agg by itself, so there is no pyplot,
no global backend switch in the caller's process (a notebook keeps its backend) and no figure registry to leak.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: savefig arguments per group. The evaluation figures use layout="constrained": one draw, unlike
#: bbox_inches="tight".
SWEEP_SAVE: dict[str, Any] = {"dpi": 110, "bbox_inches": "tight"}
EVALUATION_SAVE: dict[str, Any] = {"dpi": 100}


def save(figures: list[tuple[str, Any]], out_dir: Path, **savefig: Any) -> list[Path]:
    """Write each (name, figure) as out_dir/name; return the paths, in order."""
    paths = []
    for name, fig in figures:
        fig.savefig(out_dir / name, **savefig)
        paths.append(out_dir / name)
    return paths


# --------------------------------------------------------------------------------------------------------
# A sweep: the leaderboard frame (tracking.records.leaderboard_frame) and the Optuna study


def sweep_figures(board, metric: str, study: Any | None) -> list[tuple[str, Any]]:
    """(filename, figure) pairs: optimisation history, scores per architecture, parameter importances."""
    scored = board.dropna(subset=[metric]) if not board.empty else board
    figures = [optimization_history(scored, metric), scores_per_architecture(scored, metric), param_importances(study)]
    return [f for f in figures if f is not None]


def optimization_history(scored, metric: str):
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    if scored.empty:
        return None
    ordered = scored.sort_values("trial")
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    for arch, grp in ordered.groupby("architecture"):
        ax.scatter(grp["trial"], grp[metric], label=arch, s=28)
    ax.plot(ordered["trial"], ordered[metric].cummax(), color="black", lw=1.2, label="best so far")
    ax.set_xlabel("trial")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # trial numbers, not 0.5 steps
    ax.set_ylabel(metric)
    ax.set_title("Optimisation history")
    ax.legend(fontsize=7, ncol=2)
    return "optimization_history.png", fig


def scores_per_architecture(scored, metric: str):
    from matplotlib.figure import Figure

    if scored.empty:
        return None
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    groups = [(a, g[metric].to_numpy()) for a, g in scored.groupby("architecture")]
    ax.boxplot([g for _, g in groups], tick_labels=[a for a, _ in groups])
    for i, (_, g) in enumerate(groups, start=1):
        ax.scatter([i] * len(g), g, s=12, alpha=0.6)
    ax.set_ylabel(metric)
    ax.set_title("Scores per architecture")
    return "scores_per_architecture.png", fig


def param_importances(study: Any | None):
    from matplotlib.figure import Figure

    if study is None:
        return None
    try:
        import optuna

        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if len(complete) < 3:
            return None
        importances = optuna.importance.get_param_importances(study)
        if not importances:
            return None
        fig = Figure(figsize=(7, 0.4 * len(importances) + 1.5))
        ax = fig.add_subplot()
        names = list(importances)[::-1]
        ax.barh(names, [importances[n] for n in names])
        ax.set_xlabel("importance (fANOVA)")
        ax.set_title("Hyperparameter importances")
        return "param_importances.png", fig
    except (RuntimeError, ValueError, ZeroDivisionError) as exc:  # too few or degenerate trials
        log.info("parameter importances skipped: %s", exc)
        return None


# --------------------------------------------------------------------------------------------------------
# A model version on held-out data: labels y, probabilities p, weights w, metrics.evaluate_proba's dict m


def evaluation_figures(
    title: str, y: np.ndarray, p: np.ndarray, w: np.ndarray, m: dict[str, float]
) -> list[tuple[str, Any]]:
    """roc.png and pr.png (when both classes are present), confusion.png."""
    figures = [roc_curve(title, y, p, w, m), pr_curve(title, y, p, w, m), confusion_matrix(title, m)]
    return [f for f in figures if f is not None]


def roc_curve(title: str, y: np.ndarray, p: np.ndarray, w: np.ndarray, m: dict[str, float]):
    from matplotlib.figure import Figure
    from sklearn.metrics import roc_curve as curve

    if len(np.unique(y)) != 2:  # curves need both classes
        return None
    fpr, tpr, _ = curve(y, p, sample_weight=w)
    fig = Figure(figsize=(4.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(fpr, tpr, label=f"ROC AUC {m['roc_auc']:.3f}")
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8)
    ax.set(xlabel="false positive rate (weighted)", ylabel="true positive rate (weighted)", title=title)
    ax.legend(loc="lower right")
    return "roc.png", fig


def pr_curve(title: str, y: np.ndarray, p: np.ndarray, w: np.ndarray, m: dict[str, float]):
    from matplotlib.figure import Figure
    from sklearn.metrics import precision_recall_curve

    if len(np.unique(y)) != 2:
        return None
    precision, recall, _ = precision_recall_curve(y, p, sample_weight=w)
    fig = Figure(figsize=(4.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(recall, precision, label=f"PR AUC {m['pr_auc']:.3f}")
    ax.set(xlabel="recall (weighted)", ylabel="precision (weighted)", title=title, ylim=(0, 1.02))
    ax.legend(loc="upper right")
    return "pr.png", fig


def confusion_matrix(title: str, m: dict[str, float]):
    from matplotlib.figure import Figure

    counts = np.array([[m["tn"], m["fp"]], [m["fn"], m["tp"]]], dtype=np.int64)
    fig = Figure(figsize=(4, 3.6), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(counts, cmap="Blues")
    for (i, j), n in np.ndenumerate(counts):
        ax.text(j, i, str(n), ha="center", va="center", color="white" if n > counts.max() / 2 else "black")
    ax.set(
        xticks=[0, 1], yticks=[0, 1], xticklabels=["0", "1"], yticklabels=["0", "1"],
        xlabel="predicted label (probability > 0.5)", ylabel="true label",
        title=f"{title}\nrow counts; weighted accuracy {m['weighted_accuracy']:.3f}",
    )
    return "confusion.png", fig


# --------------------------------------------------------------------------------------------------------
# Several outputs: per-task scores (multilabel) and the class confusion matrix (multiclass, next_base)


def output_figures(title: str, rows: list[dict], confusion: list[list[int]] | None, names: list[str]) -> list[tuple[str, Any]]:
    """per_output_roc_auc.png (sorted bars, one per task or class) and, for classes, class_confusion.png."""
    figures = [per_output_roc_auc(title, rows), class_confusion(title, confusion, names)]
    return [f for f in figures if f is not None]


def per_output_roc_auc(title: str, rows: list[dict]):
    """ROC AUC of each task (or class), sorted, with the unscorable ones named at the bottom."""
    from matplotlib.figure import Figure

    scored = sorted((r for r in rows if np.isfinite(r.get("roc_auc", np.nan))), key=lambda r: r["roc_auc"])
    if not scored:
        return None
    shown = scored if len(scored) <= 60 else scored[:30] + scored[-30:]  # 690 bars are unreadable: both ends
    fig = Figure(figsize=(6.5, 0.22 * len(shown) + 1.6), layout="constrained")
    ax = fig.add_subplot()
    ax.barh([r["name"] for r in shown], [r["roc_auc"] for r in shown], color="tab:blue")
    ax.axvline(0.5, ls="--", c="grey", lw=0.8)
    mean = float(np.mean([r["roc_auc"] for r in scored]))
    ax.axvline(mean, c="black", lw=1.0, label=f"mean {mean:.3f}")
    lost = len(rows) - len(scored)
    note = f"; {lost} unscorable (one class only), not shown" if lost else ""
    cut = f" (lowest and highest 30 of {len(scored)})" if len(shown) < len(scored) else ""
    ax.set(xlim=(0, 1), xlabel="ROC AUC", title=f"{title}\nper output{cut}{note}")
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(loc="lower right", fontsize=7)
    return "per_output_roc_auc.png", fig


def class_confusion(title: str, confusion: list[list[int]] | None, names: list[str]):
    """Row counts of true class (rows) by predicted class (columns), each row shaded by its share."""
    from matplotlib.figure import Figure

    if confusion is None:
        return None
    counts = np.asarray(confusion, dtype=np.int64)
    if counts.shape[0] > 40:
        return None  # a 256 x 256 k-mer matrix says nothing at this size; the CSV holds it
    share = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    side = 1.0 + 0.45 * len(names)
    fig = Figure(figsize=(side + 1.5, side), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    if len(names) <= 12:
        for (i, j), n in np.ndenumerate(counts):
            ax.text(j, i, str(n), ha="center", va="center", fontsize=8, color="white" if share[i, j] > 0.5 else "black")
    ticks = list(range(len(names)))
    ax.set(xticks=ticks, yticks=ticks, xlabel="predicted class (argmax)", ylabel="true class", title=f"{title}\nrow counts")
    ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
    ax.set_yticklabels(names, fontsize=8)
    return "class_confusion.png", fig
