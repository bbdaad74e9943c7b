"""Classification metrics, all weighted by the dataset's sample weights `w`.

Weighted accuracy is the field's definition: the weight of the correct predictions over the total weight,
predicting 1 when the logit > 0 (probability > 0.5). With class-balancing weights it is balanced accuracy,
so "always negative" scores 0.5 however rare the positives are.

Ranking metrics (ROC AUC, PR AUC) are NaN when the labels hold one class only: they are undefined there,
and a NaN says so more honestly than a 0.5 would. They are computed here with numpy, to the same definitions
as sklearn's roc_auc_score and average_precision_score with sample_weight (tests/test_metrics.py checks
them against sklearn): every trial scores its folds after every epoch, and importing sklearn.metrics would
hold up each new Ray worker's first report (docs/design.md#metrics). sklearn is still used, imported on
first use, for the full `evaluate` report of the registry and `seqsweep predict`.
"""

from __future__ import annotations

import numpy as np


def _as_arrays(y, scores, w) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(y).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    if not (len(y) == len(scores) == len(w)):
        # a programming error inside seqsweep, not bad user input
        raise ValueError(f"metrics: y, scores and w need one length, got {len(y)}, {len(scores)}, {len(w)}")
    return y.astype(np.int64), scores, w


def _one_class(y: np.ndarray) -> bool:
    return len(y) == 0 or y.min() == y.max()


def weighted_accuracy(y, logits, w, *, threshold: float = 0.0) -> float:
    """sum(w over correct predictions) / sum(w), predicting 1 when logit > threshold (a logit of 0 predicts 0;
    threshold 0.5 for probabilities).

    y: (N,) labels in {0, 1}; logits: (N,); w: (N,) sample weights. NaN when the weights sum to 0.
    """
    y, logits, w = _as_arrays(y, logits, w)
    total = w.sum()
    if total == 0:
        return float("nan")
    correct = (logits > threshold).astype(np.int64) == y
    return float(w[correct].sum() / total)


def _curve(y: np.ndarray, scores: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted true and false positives above each distinct score, highest score first: (T,), (T,).

    Rows of weight 0 are dropped first, as sklearn does, so they cannot add a threshold of their own.
    """
    keep = w != 0
    if not keep.any():
        return np.zeros(1), np.zeros(1)  # no weight at all: the callers answer NaN
    y, scores, w = y[keep], scores[keep], w[keep]
    if not np.isfinite(scores).all():  # as sklearn: a ranking of NaN scores means nothing
        raise ValueError("metrics: scores contain NaN or infinity")
    order = np.argsort(scores, kind="mergesort")[::-1]  # descending score
    scores, y, w = scores[order], y[order], w[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]  # a threshold per distinct score
    tps = np.cumsum(w * y)[last_of_tie]
    fps = np.cumsum(w * (1 - y))[last_of_tie]
    return tps, fps


def roc_auc(y, scores, w) -> float:
    """Area under the weighted ROC curve (sklearn's roc_auc_score with sample_weight=w): the trapezoids
    between distinct thresholds, so tied scores count half. NaN when y holds one class only."""
    y, scores, w = _as_arrays(y, scores, w)
    return float("nan") if _one_class(y) else _roc_of(*_curve(y, scores, w))


def pr_auc(y, scores, w) -> float:
    """Weighted average precision (sklearn's average_precision_score with sample_weight=w): the sum over
    distinct thresholds of precision x the recall gained there. NaN when y holds one class only."""
    y, scores, w = _as_arrays(y, scores, w)
    return float("nan") if _one_class(y) else _pr_of(*_curve(y, scores, w))


def _roc_of(tps: np.ndarray, fps: np.ndarray) -> float:
    if tps[-1] <= 0 or fps[-1] <= 0:
        return float("nan")  # one class carries all the weight
    tpr, fpr = np.r_[0.0, tps / tps[-1]], np.r_[0.0, fps / fps[-1]]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def _pr_of(tps: np.ndarray, fps: np.ndarray) -> float:
    if tps[-1] <= 0:
        return float("nan")
    precision = tps / (tps + fps)
    recall_gain = np.diff(np.r_[0.0, tps / tps[-1]])
    return float(np.sum(recall_gain * precision))


def roc_and_pr_auc(y, scores, w) -> tuple[float, float]:
    """(roc_auc, pr_auc) from one sort of the scores: where both are needed, as for every task of a
    multilabel fold, half the work of calling them one after the other."""
    y, scores, w = _as_arrays(y, scores, w)
    if _one_class(y):
        return float("nan"), float("nan")
    tps, fps = _curve(y, scores, w)
    return _roc_of(tps, fps), _pr_of(tps, fps)


def _evaluate(y: np.ndarray, scores: np.ndarray, pred: np.ndarray, w: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    total = w.sum()
    correct = pred == y
    # zero_division=0: a model that never predicts positive has precision 0, not a warning
    precision, recall, f1, _ = precision_recall_fscore_support(
        y, pred, labels=[0, 1], average="binary", sample_weight=w, zero_division=0
    )
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
    return {
        "weighted_accuracy": float(w[correct].sum() / total) if total != 0 else float("nan"),
        "roc_auc": roc_auc(y, scores, w),
        "pr_auc": pr_auc(y, scores, w),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "tn": float(tn),
        "fp": float(fp),
        "fn": float(fn),
        "tp": float(tp),
    }


def evaluate(y, logits, w) -> dict[str, float]:
    """All metrics for one set of logits (prediction: logit > 0).

    Returns weighted_accuracy; roc_auc and pr_auc (as sklearn's roc_auc_score / average_precision_score
    WITH sample_weight=w, NaN when y holds one class); precision, recall, f1 (sklearn, weighted by w, 0 when
    undefined); and tn, fp, fn, tp as unweighted counts.
    """
    y, logits, w = _as_arrays(y, logits, w)
    return _evaluate(y, logits, (logits > 0).astype(np.int64), w)


def evaluate_proba(y, p, w) -> dict[str, float]:
    """`evaluate` for probabilities (prediction: p > 0.5), e.g. a fold ensemble's averaged probabilities."""
    y, p, w = _as_arrays(y, p, w)
    return _evaluate(y, p, (p > 0.5).astype(np.int64), w)


# ---------------------------------------------------------------------------------------------------------
# Multilabel, multiclass and next_base (seqsweep.tasks). One definition each, used by the trainer, the
# registry and `seqsweep predict`; docs/tasks.md#metrics writes them down.

#: The k of top-k accuracy for single-label tasks with C classes.
def top_k(n_classes: int) -> int:
    return 2 if n_classes <= 10 else 5


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, C) logits, float64."""
    z = np.asarray(z, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def scorable_tasks(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(T,) bool: tasks whose measured rows (w > 0) hold both labels. Only these count in task means."""
    y, w = np.asarray(y), np.asarray(w)
    measured = w > 0
    return ((y == 1) & measured).any(0) & ((y == 0) & measured).any(0)


def multilabel_scores(y, scores, w, *, threshold: float = 0.0) -> dict[str, np.ndarray | float]:
    """Per-task and mean metrics of T binary tasks.

    y (N, T) in {0, 1}; scores (N, T) logits (threshold 0) or probabilities (threshold 0.5); w (N, T), 0 where
    a label is missing. Per task t, over its rows: weighted accuracy, ROC AUC and PR AUC as for binary with
    weights w[:, t] (NaN when its measured rows hold one class). The means are over the scorable tasks only.
    Returns {"weighted_accuracy", "roc_auc", "pr_auc"} (floats, the task means) and the same names prefixed
    "task_" with (T,) arrays, plus "scorable" (T,) bool.
    """
    y, scores, w = np.asarray(y), np.asarray(scores), np.asarray(w)
    if not (y.shape == scores.shape == w.shape) or y.ndim != 2:
        raise ValueError(f"metrics: y, scores and w need one (N, T) shape, got {y.shape}, {scores.shape}, {w.shape}")
    if not np.isfinite(scores).all():
        raise ValueError("metrics: scores contain NaN or infinity")
    ok = scorable_tasks(y, w)
    T = y.shape[1]
    per = {"weighted_accuracy": np.full(T, np.nan), "roc_auc": np.full(T, np.nan), "pr_auc": np.full(T, np.nan)}
    rows = np.flatnonzero(ok)
    # one task per row, contiguous (a plain transpose copy, then whole rows): the work below runs along rows
    yt = np.ascontiguousarray(y.T)[rows].astype(np.float64)
    st = np.ascontiguousarray(scores.T, dtype=np.float64)[rows]
    wt = np.ascontiguousarray(w.T, dtype=np.float64)[rows]
    correct = (st > threshold) == (yt > 0.5)
    per["weighted_accuracy"][rows] = (wt * correct).sum(1) / wt.sum(1)
    for start in range(0, len(rows), 64):  # 64 tasks at a time bound the (64, N) work arrays
        part = slice(start, start + 64)
        per["roc_auc"][rows[part]], per["pr_auc"][rows[part]] = _row_aucs(yt[part], st[part], wt[part])
    out: dict[str, np.ndarray | float] = {"scorable": ok}
    for name, values in per.items():
        out[name] = float(np.nanmean(values)) if ok.any() else float("nan")
        out[f"task_{name}"] = values
    return out


def multiclass_scores(y, proba, w) -> dict[str, np.ndarray | float]:
    """Metrics of one class out of C.

    y (N,) class indices; proba (N, C) probabilities (a softmax); w (N,) weights. The prediction is the argmax.
      weighted_accuracy  weight of correct predictions / total weight (balanced accuracy with class-balancing w)
      roc_auc, pr_auc    macro one-vs-rest: class c's ROC AUC / average precision of proba[:, c] for y == c,
                         weighted by w, averaged over the classes present with both sides (sklearn's
                         roc_auc_score(multi_class='ovr', average='macro') and average_precision_score(
                         label_binarize(y), average='macro'))
      accuracy           the share of rows predicted right (unweighted)
      top_k_accuracy     the share of rows whose class is among the k most probable (unweighted), k = top_k(C)
    Also "class_roc_auc", "class_pr_auc" (C,) arrays and "confusion" (C, C) row counts (true class by row).
    """
    y = np.asarray(y).astype(np.int64).reshape(-1)
    proba = np.asarray(proba, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    if proba.ndim != 2 or len(proba) != len(y) or len(w) != len(y):
        raise ValueError(f"metrics: y (N,), proba (N, C) and w (N,) needed, got {y.shape}, {proba.shape}, {w.shape}")
    C = proba.shape[1]
    pred = proba.argmax(1)
    total = w.sum()
    class_roc, class_pr = np.full(C, np.nan), np.full(C, np.nan)
    for c in range(C):
        yc = (y == c).astype(np.int64)
        if 0 < yc.sum() < len(yc):
            class_roc[c], class_pr[c] = roc_and_pr_auc(yc, proba[:, c], w)
    k = min(top_k(C), C)
    topk = np.argsort(-proba, axis=1, kind="stable")[:, :k]
    confusion = np.zeros((C, C), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    return {
        "weighted_accuracy": float(w[pred == y].sum() / total) if total > 0 else float("nan"),
        "roc_auc": float(np.nanmean(class_roc)) if np.isfinite(class_roc).any() else float("nan"),
        "pr_auc": float(np.nanmean(class_pr)) if np.isfinite(class_pr).any() else float("nan"),
        "accuracy": float((pred == y).mean()) if len(y) else float("nan"),
        "top_k_accuracy": float((topk == y[:, None]).any(1).mean()) if len(y) else float("nan"),
        "class_roc_auc": class_roc,
        "class_pr_auc": class_pr,
        "confusion": confusion,
    }


def task_scores(task, y, scores, w, *, logits: bool = True) -> dict[str, np.ndarray | float]:
    """The metrics of `task` (seqsweep.tasks.Task) for logits (training) or probabilities (a model's output).

    binary: weighted_accuracy, roc_auc, pr_auc; multilabel: multilabel_scores; multiclass and next_base:
    multiclass_scores (logits are turned into probabilities by a softmax first).
    """
    if task.type == "binary":
        y1, s1, w1 = _as_arrays(y, scores, w)
        return {
            "weighted_accuracy": weighted_accuracy(y1, s1, w1, threshold=0.0 if logits else 0.5),
            "roc_auc": roc_auc(y1, s1, w1),
            "pr_auc": pr_auc(y1, s1, w1),
        }
    if task.type == "multilabel":
        s = np.asarray(scores, dtype=np.float64)
        s = s.reshape(len(s), -1)
        return multilabel_scores(np.asarray(y).reshape(s.shape), s, np.asarray(w).reshape(s.shape),
                                 threshold=0.0 if logits else 0.5)
    proba = softmax(scores) if logits else np.asarray(scores, dtype=np.float64)
    return multiclass_scores(y, proba, w)


def evaluate_task(task, y, p, w) -> dict[str, np.ndarray | float]:
    """The full report for a model's probabilities `p` (what the registry and `seqsweep predict` record):
    binary evaluate_proba (with precision, recall, f1 and the confusion counts); the others task_scores."""
    if task.type == "binary":
        return evaluate_proba(y, p, w)
    return task_scores(task, y, p, w, logits=False)


def _row_aucs(y: np.ndarray, s: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """roc_auc and pr_auc of every row of (K, N) arrays (one task per row) at once, to the definitions of
    `_curve`.

    Each row is sorted by descending score; every position then takes the cumulative weights at the end of
    its group of tied scores, so a tie makes one step of the curve, not a staircase, and rows of weight 0 add
    steps of zero length: the per-column results equal roc_auc and pr_auc (tests/test_task_metrics.py).
    The order inside a tie does not matter, so the sort need not be stable (quicksort is ~8x faster).
    """
    K, n = s.shape
    order = np.argsort(-s, axis=1)
    ss = np.take_along_axis(s, order, 1)
    wy = np.take_along_axis(w * y, order, 1)
    tps = np.cumsum(wy, 1)
    fps = np.cumsum(np.take_along_axis(w, order, 1), 1) - tps
    last = np.ones_like(ss, dtype=bool)
    last[:, :-1] = ss[:, :-1] != ss[:, 1:]  # the last row of each group of tied scores
    # for every row, the index of the last row of its tie group: a running minimum from the end
    idx = np.where(last, np.arange(n), n)
    idx = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1]
    tps, fps = np.take_along_axis(tps, idx, 1), np.take_along_axis(fps, idx, 1)
    P, Nw = tps[:, -1:], fps[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = np.hstack([np.zeros((K, 1)), tps / P])
        fpr = np.hstack([np.zeros((K, 1)), fps / Nw])
        roc = np.sum(np.diff(fpr, axis=1) * (tpr[:, 1:] + tpr[:, :-1]) / 2, axis=1)
        precision = np.where(tps + fps > 0, tps / np.maximum(tps + fps, 1e-300), 0.0)
        pr = np.sum(np.diff(tpr, axis=1) * precision, axis=1)
    roc[((P <= 0) | (Nw <= 0))[:, 0]] = np.nan
    pr[(P <= 0)[:, 0]] = np.nan
    return roc, pr


def output_rows(task, scores: dict) -> list[dict]:
    """Per-task (multilabel) or per-class (multiclass, next_base) rows of a task_scores / evaluate_task dict:
    name, roc_auc, pr_auc (+ weighted_accuracy per task); [] for binary."""
    if task.type == "binary":
        return []
    prefix = "class_" if task.single_label else "task_"
    keys = ["roc_auc", "pr_auc"] + ([] if task.single_label else ["weighted_accuracy"])
    return [
        {"name": name, **{key: float(scores[prefix + key][j]) for key in keys}} for j, name in enumerate(task.names)
    ]


def task_metric(task, metric: str, y, p, w) -> float:
    """One of `task`'s scalar metrics (weighted_accuracy, roc_auc, pr_auc, accuracy, top_k_accuracy) for
    probabilities `p`; for binary only that metric is computed, which a bootstrap repeats a thousand times."""
    if task.type == "binary":
        y1, p1, w1 = _as_arrays(y, p, w)
        if metric == "roc_auc":
            return roc_auc(y1, p1, w1)
        if metric == "pr_auc":
            return pr_auc(y1, p1, w1)
        if metric == "weighted_accuracy":
            return weighted_accuracy(y1, p1, w1, threshold=0.5)
    scores = task_scores(task, y, p, w, logits=False)
    if metric not in scores or np.ndim(scores[metric]) != 0:
        raise ValueError(f"metrics: {task.type} has no scalar metric {metric!r}")
    return float(scores[metric])
