"""Classification metrics, all weighted by the dataset's sample weights `w`.

Weighted accuracy is the field's definition: the weight of the correct predictions over the total weight,
predicting 1 when the logit > 0 (probability > 0.5). With class-balancing weights it is balanced accuracy,
so "always negative" scores 0.5 however rare the positives are.

Ranking metrics (ROC AUC, PR AUC) are NaN when the labels hold one class only: they are undefined there,
and a NaN says so more honestly than a 0.5 would.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)


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


def roc_auc(y, scores, w) -> float:
    """sklearn's roc_auc_score with sample_weight=w; NaN when y holds one class only."""
    y, scores, w = _as_arrays(y, scores, w)
    if _one_class(y):
        return float("nan")
    return float(roc_auc_score(y, scores, sample_weight=w))


def pr_auc(y, scores, w) -> float:
    """sklearn's average_precision_score with sample_weight=w; NaN when y holds one class only."""
    y, scores, w = _as_arrays(y, scores, w)
    if _one_class(y):
        return float("nan")
    return float(average_precision_score(y, scores, sample_weight=w))


def _evaluate(y: np.ndarray, scores: np.ndarray, pred: np.ndarray, w: np.ndarray) -> dict[str, float]:
    total = w.sum()
    correct = pred == y
    # zero_division=0: a model that never predicts positive has precision 0, not a warning
    precision, recall, f1, _ = precision_recall_fscore_support(
        y, pred, labels=[0, 1], average="binary", sample_weight=w, zero_division=0
    )
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
    return {
        "weighted_accuracy": float(w[correct].sum() / total) if total != 0 else float("nan"),
        "roc_auc": float("nan") if _one_class(y) else float(roc_auc_score(y, scores, sample_weight=w)),
        "pr_auc": float("nan") if _one_class(y) else float(average_precision_score(y, scores, sample_weight=w)),
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

    Returns weighted_accuracy; roc_auc and pr_auc (sklearn roc_auc_score / average_precision_score WITH
    sample_weight=w, NaN when y holds one class); precision, recall, f1 (sklearn, weighted by w, 0 when
    undefined); and tn, fp, fn, tp as unweighted counts.
    """
    y, logits, w = _as_arrays(y, logits, w)
    return _evaluate(y, logits, (logits > 0).astype(np.int64), w)


def evaluate_proba(y, p, w) -> dict[str, float]:
    """`evaluate` for probabilities (prediction: p > 0.5), e.g. a fold ensemble's averaged probabilities."""
    y, p, w = _as_arrays(y, p, w)
    return _evaluate(y, p, (p > 0.5).astype(np.int64), w)
