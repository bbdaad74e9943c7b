"""Metrics: golden values on a hand-made example, and agreement with sklearn on random data."""

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, precision_recall_fscore_support, roc_auc_score

from seqsweep.metrics import evaluate, evaluate_proba, pr_auc, roc_auc, weighted_accuracy

# The hand-made example: predictions (logit > 0) are [1, 0, 0, 1], so rows 0 and 1 are right.
Y = np.array([1, 0, 1, 0])
LOGITS = np.array([2.0, -1.0, -3.0, 0.5])
W = np.array([1.0, 2.0, 3.0, 4.0])


def test_weighted_accuracy_golden():
    assert weighted_accuracy(Y, LOGITS, W) == pytest.approx((1 + 2) / 10)


def test_logit_zero_predicts_negative():
    # a logit of exactly 0 is p = 0.5, which is not > 0.5: predicted 0
    assert weighted_accuracy([0], [0.0], [1.0]) == 1.0
    assert weighted_accuracy([1], [0.0], [1.0]) == 0.0


def test_weighted_accuracy_ignores_unweighted_rows_and_is_balanced():
    # class-balancing weights make "always negative" score 0.5 however rare the positives are
    y = np.array([1] + [0] * 9)
    w = np.where(y == 1, 10 / 2, 10 / 18)
    assert weighted_accuracy(y, np.full(10, -1.0), w) == pytest.approx(0.5)
    assert weighted_accuracy([1, 0], [1.0, 1.0], [1.0, 0.0]) == 1.0


def test_evaluate_golden():
    m = evaluate(Y, LOGITS, W)
    assert m["weighted_accuracy"] == pytest.approx(0.3)
    # weighted pairs: positive (2, w=1) outranks both negatives (w=2, 4); positive (-3, w=3) outranks none
    assert m["roc_auc"] == pytest.approx((1 * 2 + 1 * 4) / (4 * 6))
    assert m["precision"] == pytest.approx(1 / (1 + 4))  # weight of TP / weight of predicted positives
    assert m["recall"] == pytest.approx(1 / (1 + 3))  # weight of TP / weight of positives
    assert m["f1"] == pytest.approx(2 * 0.2 * 0.25 / (0.2 + 0.25))
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (1, 1, 1, 1)  # unweighted counts


def test_evaluate_agrees_with_sklearn():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    logits = rng.normal(size=500) + 1.5 * y
    w = rng.uniform(0.1, 3.0, 500)
    m = evaluate(y, logits, w)
    pred = (logits > 0).astype(int)
    p, r, f, _ = precision_recall_fscore_support(y, pred, average="binary", sample_weight=w)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, logits, sample_weight=w))
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, logits, sample_weight=w))
    assert m["roc_auc"] != pytest.approx(roc_auc_score(y, logits))  # the weights really are used
    assert (m["precision"], m["recall"], m["f1"]) == pytest.approx((p, r, f))
    assert m["weighted_accuracy"] == pytest.approx(w[pred == y].sum() / w.sum())
    assert m["tp"] == ((pred == 1) & (y == 1)).sum() and m["fp"] == ((pred == 1) & (y == 0)).sum()
    assert m["tn"] + m["fp"] + m["fn"] + m["tp"] == 500
    assert roc_auc(y, logits, w) == m["roc_auc"] and pr_auc(y, logits, w) == m["pr_auc"]


def test_evaluate_proba_matches_evaluate_on_sigmoid():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 200)
    logits = np.concatenate([rng.normal(size=199), [0.0]])  # include the p == 0.5 boundary
    w = rng.uniform(0.5, 2.0, 200)
    p = 1 / (1 + np.exp(-logits))
    assert evaluate_proba(y, p, w) == pytest.approx(evaluate(y, logits, w))


def test_ranking_metrics_are_nan_with_one_class():
    m = evaluate([0, 0, 0], [0.1, -2.0, 3.0], [1.0, 1.0, 1.0])
    assert math.isnan(m["roc_auc"]) and math.isnan(m["pr_auc"])
    assert m["weighted_accuracy"] == pytest.approx(1 / 3)  # only -2.0 predicts the true class 0
    assert m["precision"] == 0.0  # zero_division=0, no warning


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="one length"):
        weighted_accuracy([1, 0], [0.5], [1.0, 1.0])



@pytest.mark.parametrize("seed", range(12))
def test_ranking_metrics_match_sklearn_with_ties_and_zero_weights(seed):
    # roc_auc / pr_auc are numpy re-implementations (the trial path does not import sklearn): they must give
    # sklearn's numbers, including tied scores (coarse scores, bfloat16 logits) and rows of weight 0.
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 400))
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]  # both classes present
    scores = rng.normal(size=n) + y
    if seed % 2:
        scores = np.round(scores, 1)  # many ties
    w = rng.uniform(0.0, 3.0, n)
    w[rng.random(n) < 0.2] = 0.0
    w[:2] = 1.0
    if seed % 3 == 0:
        w = np.where(y == 1, 50.0, 0.5)  # class-balancing weights of a rare positive class, as in JUND
    assert roc_auc(y, scores, w) == pytest.approx(roc_auc_score(y, scores, sample_weight=w), abs=1e-12)
    assert pr_auc(y, scores, w) == pytest.approx(average_precision_score(y, scores, sample_weight=w), abs=1e-12)


def test_constant_scores_rank_nothing():
    y, w = np.array([0, 1, 0, 1]), np.ones(4)
    assert roc_auc(y, np.zeros(4), w) == pytest.approx(0.5)
    assert pr_auc(y, np.zeros(4), w) == pytest.approx(0.5)  # the weight share of the positives


def test_the_trial_path_does_not_import_sklearn():
    # Every Ray worker imports these before its first trial reports; sklearn.metrics alone costs ~1.2 s there.
    import subprocess
    import sys

    code = ("import sys, seqsweep.trainable, seqsweep.train, seqsweep.ensemble; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_nan_scores_are_an_error_as_in_sklearn():
    with pytest.raises(ValueError, match="NaN"):
        roc_auc([0, 1, 1], [0.1, float("nan"), 0.3], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="NaN"):
        pr_auc([0, 1, 1], [0.1, float("inf"), 0.3], [1.0, 1.0, 1.0])


def test_ranking_metrics_are_nan_when_a_class_has_no_weight():
    y = np.array([0, 1, 0, 1])
    assert math.isnan(roc_auc(y, [0.1, 0.2, 0.3, 0.4], [0.0, 0.0, 0.0, 0.0]))
    assert math.isnan(pr_auc(y, [0.1, 0.2, 0.3, 0.4], [1.0, 0.0, 1.0, 0.0]))  # positives weigh nothing
    assert math.isnan(roc_auc(y, [0.1, 0.2, 0.3, 0.4], [0.0, 1.0, 0.0, 1.0]))  # negatives weigh nothing
