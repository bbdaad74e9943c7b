"""Multilabel and multiclass metrics against sklearn's definitions, with weights."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.preprocessing import label_binarize

from seqsweep.metrics import evaluate_task, multiclass_scores, multilabel_scores, scorable_tasks, softmax, task_scores
from seqsweep.tasks import Task


@pytest.fixture
def multilabel():
    rng = np.random.default_rng(0)
    n, T = 400, 5
    y = (rng.random((n, T)) < [0.05, 0.2, 0.5, 0.3, 0.1]).astype(np.uint8)
    scores = rng.normal(size=(n, T)) + 1.5 * y  # informative, ties unlikely
    scores[:40, 1] = 0.25  # a block of ties
    w = rng.uniform(0.5, 3.0, size=(n, T))
    w[rng.random((n, T)) < 0.1] = 0.0  # missing labels
    y[:, 4] = 0  # task 4: one class only -> excluded
    return y, scores, w


def test_multilabel_per_task_matches_sklearn_and_the_mean_skips_one_class_tasks(multilabel):
    y, s, w = multilabel
    got = multilabel_scores(y, s, w)
    assert got["scorable"].tolist() == [True, True, True, True, False]
    for t in range(4):
        m = w[:, t] > 0
        assert got["task_roc_auc"][t] == pytest.approx(roc_auc_score(y[m, t], s[m, t], sample_weight=w[m, t]), rel=1e-12)
        assert got["task_pr_auc"][t] == pytest.approx(average_precision_score(y[m, t], s[m, t], sample_weight=w[m, t]), rel=1e-12)
        correct = (s[:, t] > 0).astype(int) == y[:, t]
        assert got["task_weighted_accuracy"][t] == pytest.approx(w[correct, t].sum() / w[:, t].sum())
    assert np.isnan(got["task_roc_auc"][4])
    assert got["roc_auc"] == pytest.approx(np.mean(got["task_roc_auc"][:4]))
    assert got["pr_auc"] == pytest.approx(np.mean(got["task_pr_auc"][:4]))
    # missing labels never count: changing the label of a weight-0 entry changes nothing
    y2 = y.copy()
    y2[w[:, 0] == 0, 0] = 1 - y2[w[:, 0] == 0, 0]
    assert multilabel_scores(y2, s, w)["task_roc_auc"][0] == got["task_roc_auc"][0]


def test_multilabel_equals_sklearn_macro_when_every_row_is_measured(multilabel):
    y, s, _ = multilabel
    y, s = y[:, :4], s[:, :4]
    w = np.ones_like(s)
    got = multilabel_scores(y, s, w)
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, s, average="macro"), rel=1e-12)
    assert got["pr_auc"] == pytest.approx(average_precision_score(y, s, average="macro"), rel=1e-12)


def test_scorable_tasks_needs_both_classes_among_measured_rows():
    y = np.array([[1, 1], [0, 1], [0, 0]])
    w = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 0.0]])  # task 1's only 0 is missing
    assert scorable_tasks(y, w).tolist() == [True, False]


@pytest.fixture
def multiclass():
    rng = np.random.default_rng(1)
    n, C = 600, 4
    y = rng.choice(C, size=n, p=[0.5, 0.25, 0.15, 0.1])
    logits = rng.normal(size=(n, C))
    logits[np.arange(n), y] += 1.2
    w = rng.uniform(0.2, 2.0, size=n)
    return y, logits, w


def test_multiclass_matches_sklearn_ovr_macro_with_weights(multiclass):
    y, z, w = multiclass
    p = softmax(z)
    got = multiclass_scores(y, p, w)
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, p, multi_class="ovr", average="macro", sample_weight=w), rel=1e-12)
    onehot = label_binarize(y, classes=range(4))
    assert got["pr_auc"] == pytest.approx(average_precision_score(onehot, p, average="macro", sample_weight=w), rel=1e-12)
    pred = p.argmax(1)
    assert got["weighted_accuracy"] == pytest.approx(w[pred == y].sum() / w.sum())
    assert got["accuracy"] == pytest.approx((pred == y).mean())
    top2 = np.argsort(-p, axis=1)[:, :2]
    assert got["top_k_accuracy"] == pytest.approx((top2 == y[:, None]).any(1).mean())
    assert got["confusion"].sum() == len(y)
    assert got["confusion"][1, 1] == ((y == 1) & (pred == 1)).sum()
    assert np.trace(got["confusion"]) == (pred == y).sum()


def test_weighted_accuracy_is_balanced_accuracy_with_class_balancing_weights(multiclass):
    from sklearn.metrics import balanced_accuracy_score

    from seqsweep.data import class_balancing_weights

    y, z, _ = multiclass
    w = class_balancing_weights(y)
    got = multiclass_scores(y, softmax(z), w)
    assert got["weighted_accuracy"] == pytest.approx(balanced_accuracy_score(y, z.argmax(1)), rel=1e-6)


def test_task_scores_logits_and_probabilities_agree(multiclass, multilabel):
    y, z, w = multiclass
    task = Task("multiclass", ("a", "b", "c", "d"))
    from_logits = task_scores(task, y, z, w, logits=True)
    from_proba = evaluate_task(task, y, softmax(z), w)
    for k in ("weighted_accuracy", "roc_auc", "pr_auc", "accuracy", "top_k_accuracy"):
        assert from_logits[k] == pytest.approx(from_proba[k])
    y, s, w = multilabel
    task = Task("multilabel", tuple("abcde"))
    a = task_scores(task, y, s, w, logits=True)
    b = evaluate_task(task, y, 1 / (1 + np.exp(-s)), w)
    assert a["roc_auc"] == pytest.approx(b["roc_auc"]) and a["weighted_accuracy"] == pytest.approx(b["weighted_accuracy"])


def test_a_class_absent_from_the_fold_is_left_out_of_the_macro_mean():
    y = np.array([0, 0, 1, 1, 0, 1])
    p = softmax(np.array([[2, 0, 0], [1, 0, 0], [0, 2, 0], [0, 1, 0], [0, 1, 0], [1, 0, 0]], dtype=float))
    got = multiclass_scores(y, p, np.ones(6))
    assert np.isnan(got["class_roc_auc"][2])  # class 2 has no row here
    assert got["roc_auc"] == pytest.approx(np.nanmean(got["class_roc_auc"][:2]))
