"""The promotion policy (registry/promotion.py) as pure functions: no MLflow, no store, every branch."""

from __future__ import annotations

import math

import pytest

from seqsweep.errors import RegistryError
from seqsweep.intervals import Estimate
from seqsweep.registry.promotion import (
    PromotionDecision,
    check_metric,
    decide,
    decide_manual,
    decision_tags,
    recorded_comparison,
    score_text,
)

WHERE = "held-out weighted_accuracy on d.csv (400 rows)"


def auto(ch: float, cp: float | None, champion: int | None = 1, *, version: int = 2, min_improvement: float = 0.0):
    return decide("m", version, champion, ch, cp, metric="weighted_accuracy", basis="held-out", where=WHERE,
                  min_improvement=min_improvement)


def test_no_champion_yet_promotes_whatever_the_score():
    d = auto(0.31, None, champion=None)
    assert d == PromotionDecision(True, f"no champion yet: version 2 becomes the champion ({WHERE}: 0.3100)",
                                  0.31, None, None, "weighted_accuracy", "held-out", "m", 2)
    assert auto(math.nan, None, champion=None).promoted  # nothing to compare with: a NaN score still takes it


def test_better_challenger_is_promoted():
    d = auto(0.71, 0.70)
    assert d.promoted and (d.challenger_score, d.champion_score, d.champion_version_before) == (0.71, 0.70, 1)
    assert d.reason == (f"version 2 beats the champion version 1 on {WHERE}: 0.7100 > 0.7000 + min_improvement 0")


def test_a_tie_keeps_the_champion():
    d = auto(0.70, 0.70)
    assert not d.promoted
    assert d.reason == (f"version 2 does not beat the champion version 1 on {WHERE}: "
                        "0.7000 <= 0.7000 + min_improvement 0; the champion stays")


def test_worse_challenger_is_not_promoted():
    d = auto(0.60, 0.70)
    assert not d.promoted and d.basis == "held-out" and "0.6000 <= 0.7000" in d.reason


@pytest.mark.parametrize("ch, cp", [(math.nan, 0.7), (0.7, math.nan), (math.nan, math.nan)])
def test_nan_on_either_side_keeps_the_champion(ch, cp):
    d = auto(ch, cp)
    assert not d.promoted
    assert d.reason.startswith("cannot compare version 2") and "is undefined (nan); the champion stays" in d.reason


def test_min_improvement_is_a_margin_to_beat_strictly():
    assert not auto(0.80, 0.60, min_improvement=0.25).promoted  # 0.80 is not > 0.85
    assert not auto(0.85, 0.60, min_improvement=0.25).promoted  # equal to the margin: a tie
    d = auto(0.86, 0.60, min_improvement=0.25)
    assert d.promoted and "+ min_improvement 0.25" in d.reason


def test_the_champion_itself_is_nothing_to_do():
    d = auto(0.9, 0.1, champion=2)
    assert (d.promoted, d.basis, d.challenger_score, d.champion_score) == (False, "none", None, None)
    assert d.reason == "version 2 is already the champion; nothing to do"


def manual(recorded, champion: int | None = 1, force: bool = False):
    return decide_manual("m", 2, champion, recorded, metric="weighted_accuracy", force=force)


def test_manual_promotion_branches():
    assert manual(None, champion=None).reason == "no champion yet: version 2 becomes the champion"
    d = manual(None)
    assert d.promoted and d.reason.endswith("on request (no comparable recorded weighted_accuracy scores)")
    d = manual(("cv", 0.6, 0.8))
    assert not d.promoted and d.reason == (
        "refused: the champion version 1 has the better recorded cv weighted_accuracy (0.8000 > 0.6000 for "
        "version 2); use --force to promote anyway")
    d = manual(("held-out", 0.6, 0.8), force=True)
    assert d.promoted and d.basis == "held-out" and d.reason.startswith("forced: version 2 replaces")
    d = manual(("cv", 0.8, 0.8))  # a tie does not refuse a person's request
    assert d.promoted and d.reason.endswith("recorded cv weighted_accuracy: 0.8000 vs 0.8000")
    d = manual(("cv", 0.1, 0.9), champion=2)
    assert not d.promoted and d.reason == "version 2 is already the champion of 'm'; nothing to do"


def test_recorded_comparison_prefers_held_out_scores_on_the_same_data():
    a = {"heldout_weighted_accuracy": "0.7", "heldout_fingerprint": "f1", "cv_weighted_accuracy": "0.9"}
    b = {"heldout_weighted_accuracy": "0.6", "heldout_fingerprint": "f1", "cv_weighted_accuracy": "0.95"}
    assert recorded_comparison(a, b, "weighted_accuracy") == ("held-out", 0.7, 0.6)
    other_data = {**b, "heldout_fingerprint": "f2"}
    assert recorded_comparison(a, other_data, "weighted_accuracy") == ("cv", 0.9, 0.95)
    assert recorded_comparison(a, {"cv_weighted_accuracy": "n/a"}, "weighted_accuracy") is None
    assert recorded_comparison({}, {}, "roc_auc") is None


def test_decision_tags_and_metric_check():
    d = auto(0.71, 0.70)
    tags = decision_tags(d, "2020-01-01T00:00:00+00:00")
    assert tags == {
        "promotion.decision": "promoted", "promotion.reason": d.reason, "promotion.metric": "weighted_accuracy",
        "promotion.basis": "held-out", "promotion.challenger_score": "0.7100", "promotion.champion_score": "0.7000",
        "promotion.champion_version_before": 1, "promotion.time": "2020-01-01T00:00:00+00:00",
    }
    assert decision_tags(auto(0.5, None, champion=None), "t")["promotion.champion_version_before"] == "-"
    assert score_text(None) == "-" and score_text(0.123456) == "0.1235"
    assert check_metric("roc_auc") == "roc_auc"
    with pytest.raises(RegistryError, match="promotion metric must be one of weighted_accuracy, roc_auc, pr_auc, accuracy"):
        check_metric("f1")


def with_interval(ch: float, cp: float | None, low: float, high: float, *, champion: int | None = 1,
                  min_improvement: float = 0.0):
    d = Estimate(ch - (cp or 0.0), 0.02, low, high, 1000)
    return decide("m", 2, champion, ch, cp, metric="weighted_accuracy", basis="held-out", where=WHERE,
                  min_improvement=min_improvement, difference=d, challenger_interval=Estimate(ch, 0.03, ch - 0.06, ch + 0.05, 1000))


def test_with_an_interval_the_challenger_must_be_better_beyond_noise():
    d = with_interval(0.75, 0.70, 0.01, 0.09)
    assert d.promoted and d.difference.low == 0.01
    assert d.reason == (f"version 2 beats the champion version 1 on {WHERE} beyond noise: 0.7500 vs 0.7000, "
                        "difference +0.0500 [95% CI +0.0100, +0.0900] > min_improvement 0")
    # better by its point score, but the interval reaches 0: not promoted, and said so
    d = with_interval(0.75, 0.70, -0.02, 0.12)
    assert not d.promoted
    assert d.reason == (f"version 2 does not beat the champion version 1 on {WHERE} beyond noise: 0.7500 vs 0.7000, "
                        "difference +0.0500 [95% CI -0.0200, +0.1200] reaches min_improvement 0; the champion stays")
    d = with_interval(0.65, 0.70, -0.09, -0.01)
    assert not d.promoted and "0.6500 <= 0.7000 + min_improvement 0, difference -0.0500" in d.reason
    # min_improvement is compared with the interval's low end
    assert not with_interval(0.75, 0.70, 0.01, 0.09, min_improvement=0.01).promoted
    assert with_interval(0.75, 0.70, 0.02, 0.09, min_improvement=0.01).promoted


def test_an_undefined_interval_falls_back_to_the_point_scores_and_no_champion_shows_the_interval():
    d = with_interval(0.75, 0.70, math.nan, math.nan)
    assert d.promoted and d.reason.endswith("0.7500 > 0.7000 + min_improvement 0")
    d = with_interval(0.75, None, 0.0, 0.0, champion=None)
    assert d.promoted and d.difference is None
    assert d.reason == f"no champion yet: version 2 becomes the champion ({WHERE}: 0.7500 [95% CI 0.6900, 0.8000])"


def test_decision_tags_record_the_difference_and_its_interval():
    tags = decision_tags(with_interval(0.75, 0.70, -0.02, 0.12), "t")
    assert (tags["promotion.difference"], tags["promotion.difference_ci_low"], tags["promotion.difference_ci_high"]) == (
        "0.0500", "-0.0200", "0.1200")
    assert tags["promotion.bootstrap_replicates"] == 1000
    assert "promotion.difference" not in decision_tags(auto(0.71, 0.70), "t")
