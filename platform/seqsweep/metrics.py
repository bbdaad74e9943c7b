"""Classification metrics, all weighted by the dataset's sample weights `w`.

Weighted accuracy is the field's definition: the weight of the correct predictions over the total weight,
predicting 1 when the logit > 0 (probability > 0.5). With class-balancing weights it is balanced accuracy,
so "always negative" scores 0.5 however rare the positives are.

Ranking metrics (ROC AUC, PR AUC) are NaN when the labels hold one class only: they are undefined there,
and a NaN says so more honestly than a 0.5 would. They are computed here with numpy, to the same definitions
as sklearn's roc_auc_score and average_precision_score with sample_weight (tests/test_metrics.py checks
them against sklearn): every trial scores its folds after every epoch, and importing sklearn.metrics costs
each new Ray worker ~1.2 s before its first trial can report (measured on the 2-core Xeon). sklearn is
still used, imported on first use, for the full `evaluate` report of the registry and `seqsweep predict`.
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


def weighted_accuracy(y, logits, w) -> float:
    """sum(w over correct predictions) / sum(w), predicting 1 when logit > 0 (a logit of 0 predicts 0).

    y: (N,) labels in {0, 1}; logits: (N,); w: (N,) sample weights. NaN when the weights sum to 0.
    """
    y, logits, w = _as_arrays(y, logits, w)
    total = w.sum()
    if total == 0:
        return float("nan")
    correct = (logits > 0).astype(np.int64) == y
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
    if _one_class(y):
        return float("nan")
    tps, fps = _curve(y, scores, w)
    if tps[-1] <= 0 or fps[-1] <= 0:
        return float("nan")  # one class carries all the weight
    tpr, fpr = np.r_[0.0, tps / tps[-1]], np.r_[0.0, fps / fps[-1]]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def pr_auc(y, scores, w) -> float:
    """Weighted average precision (sklearn's average_precision_score with sample_weight=w): the sum over
    distinct thresholds of precision x the recall gained there. NaN when y holds one class only."""
    y, scores, w = _as_arrays(y, scores, w)
    if _one_class(y):
        return float("nan")
    tps, fps = _curve(y, scores, w)
    if tps[-1] <= 0:
        return float("nan")
    precision = tps / (tps + fps)
    recall_gain = np.diff(np.r_[0.0, tps / tps[-1]])
    return float(np.sum(recall_gain * precision))


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
