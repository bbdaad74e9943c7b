"""The promotion policy, as pure functions: scores in, a PromotionDecision (with its reason) out.

Nothing here talks to MLflow; champion.py gathers the scores (from the registry, or by evaluating versions
on held-out data), asks these functions, and moves the alias.

The rules:
  * no champion yet: the challenger becomes champion;
  * after a sweep (`decide`): the champion moves only if challenger > champion + min_improvement. Strictly
    greater: on a tie there is no evidence that the challenger is better, and moving the production alias
    for nothing costs a redeploy and muddles history. A score that is NaN compares with nothing: the
    champion stays. With the interval of the difference (a bootstrap over held-out sites, both versions
    scored on the same resamples), the challenger must be better beyond noise: the interval's low end
    must exceed min_improvement; a better point score inside the noise is said to be so, and the champion
    stays;
  * by hand (`decide_manual`): the alias moves unless the champion has the better recorded score, and then
    only when forced; the reason records what was overridden.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from seqsweep.errors import RegistryError
from seqsweep.intervals import Estimate
from seqsweep.registry.tags import (
    CHAMPION,
    CV_PREFIX,
    HELDOUT_PREFIX,
    PROMOTION_PREFIX,
    TAG_HELDOUT_FINGERPRINT,
    float_tag,
)

#: Metrics a promotion can be decided on (higher is better for all of them).
PROMOTION_METRICS = ("weighted_accuracy", "roc_auc", "pr_auc", "accuracy")  # accuracy: single-label tasks


@dataclass(frozen=True)
class PromotionDecision:
    """What a promotion did and why.

    basis: "held-out" (scores measured now on the given data), "cv" (k-fold scores recorded on the
    versions), or "none" (no comparable scores, or no champion to compare with).
    """

    promoted: bool
    reason: str
    challenger_score: float | None
    champion_score: float | None
    champion_version_before: int | None
    metric: str
    basis: str
    model_name: str = ""
    version: int = 0
    difference: Estimate | None = None  # challenger - champion on the same held-out resamples
    challenger_interval: Estimate | None = None  # the challenger's own held-out score and its interval

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_metric(metric: str) -> str:
    if metric not in PROMOTION_METRICS:
        raise RegistryError(f"promotion metric must be one of {', '.join(PROMOTION_METRICS)}, got {metric!r}")
    return metric


def score_text(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def interval_text(x: float | None, e: Estimate | None) -> str:
    """0.7123 [95% CI 0.6500, 0.7800], or the score alone without a (finite) interval."""
    if e is None or not math.isfinite(e.low):
        return score_text(x)
    return f"{score_text(x)} [95% CI {e.low:.4f}, {e.high:.4f}]"


def difference_text(d: Estimate) -> str:
    """+0.0123 [95% CI -0.0200, +0.0450]"""
    return d.text(4, signed=True)


def already_champion(model_name: str, version: int, metric: str, *, manual: bool = False) -> PromotionDecision:
    """The decision when the challenger already holds the alias: nothing to do."""
    of = f" of {model_name!r}" if manual else ""
    return PromotionDecision(
        False, f"version {version} is already the {CHAMPION}{of}; nothing to do", None, None, version, metric,
        "none", model_name, version,
    )


def decide(
    model_name: str,
    version: int,
    champion_version: int | None,
    challenger_score: float,
    champion_score: float | None,
    *,
    metric: str,
    basis: str,
    where: str,
    min_improvement: float = 0.0,
    difference: Estimate | None = None,
    challenger_interval: Estimate | None = None,
) -> PromotionDecision:
    """After a sweep: promote `version` when it beats the champion by more than `min_improvement`.

    challenger_score and champion_score are `metric` on `basis` ("held-out" or "cv"); `where` says in words
    what was measured, for the reason (e.g. "held-out weighted_accuracy on data.csv (400 rows)").
    difference: challenger - champion with its 95% interval (paired bootstrap); when given with a finite
    interval, promotion needs its low end > min_improvement. challenger_interval: the challenger's score with
    its interval, for the reason.
    """
    if champion_version == version:
        return already_champion(model_name, version, metric)

    def result(promoted: bool, reason: str, cp: float | None) -> PromotionDecision:
        return PromotionDecision(
            promoted, reason, challenger_score, cp, champion_version, metric, basis, model_name, version,
            difference if cp is not None else None, challenger_interval,
        )

    v, cv_, ch, cp = version, champion_version, challenger_score, champion_score
    if cv_ is None:
        return result(True, f"no {CHAMPION} yet: version {v} becomes the {CHAMPION} ({where}: "
                            f"{interval_text(ch, challenger_interval)})", None)
    if cp is None or math.isnan(ch) or math.isnan(cp):
        return result(
            False,
            f"cannot compare version {v} ({score_text(ch)}) with the {CHAMPION} version {cv_} "
            f"({score_text(cp)}): {where} is undefined (nan); the {CHAMPION} stays",
            cp,
        )
    if difference is not None and math.isfinite(difference.low):
        d = difference_text(difference)
        if difference.low > min_improvement:
            return result(
                True,
                f"version {v} beats the {CHAMPION} version {cv_} on {where} beyond noise: {score_text(ch)} vs "
                f"{score_text(cp)}, difference {d} > min_improvement {min_improvement:g}",
                cp,
            )
        if ch > cp + min_improvement:
            return result(
                False,
                f"version {v} does not beat the {CHAMPION} version {cv_} on {where} beyond noise: {score_text(ch)} "
                f"vs {score_text(cp)}, difference {d} reaches min_improvement {min_improvement:g}; "
                f"the {CHAMPION} stays",
                cp,
            )
        return result(
            False,
            f"version {v} does not beat the {CHAMPION} version {cv_} on {where}: {score_text(ch)} <= "
            f"{score_text(cp)} + min_improvement {min_improvement:g}, difference {d}; the {CHAMPION} stays",
            cp,
        )
    if ch > cp + min_improvement:
        return result(
            True,
            f"version {v} beats the {CHAMPION} version {cv_} on {where}: "
            f"{score_text(ch)} > {score_text(cp)} + min_improvement {min_improvement:g}",
            cp,
        )
    return result(
        False,
        f"version {v} does not beat the {CHAMPION} version {cv_} on {where}: "
        f"{score_text(ch)} <= {score_text(cp)} + min_improvement {min_improvement:g}; the {CHAMPION} stays",
        cp,
    )


def recorded_comparison(
    challenger_tags: dict[str, str], champion_tags: dict[str, str], metric: str
) -> tuple[str, float, float] | None:
    """(basis, challenger score, champion score) from the tags both versions have, held-out preferred.

    Held-out scores are comparable only when both were measured on the same data (same fingerprint).
    """
    held = f"{HELDOUT_PREFIX}{metric}"
    ch, cp = float_tag(challenger_tags, held), float_tag(champion_tags, held)
    same_data = challenger_tags.get(TAG_HELDOUT_FINGERPRINT) == champion_tags.get(TAG_HELDOUT_FINGERPRINT)
    if ch is not None and cp is not None and same_data:
        return "held-out", ch, cp
    cv = f"{CV_PREFIX}{metric}"
    ch, cp = float_tag(challenger_tags, cv), float_tag(champion_tags, cv)
    if ch is not None and cp is not None:
        return "cv", ch, cp
    return None


def decide_manual(
    model_name: str,
    version: int,
    champion_version: int | None,
    recorded: tuple[str, float, float] | None,
    *,
    metric: str,
    force: bool = False,
) -> PromotionDecision:
    """By hand: point the champion at `version` unless the champion has the better recorded score and not
    `force`. `recorded` is recorded_comparison's answer (None: no comparable scores)."""
    if champion_version == version:
        return already_champion(model_name, version, metric, manual=True)

    def result(promoted: bool, reason: str, ch=None, cp=None, basis="none") -> PromotionDecision:
        return PromotionDecision(promoted, reason, ch, cp, champion_version, metric, basis, model_name, version)

    v, cv_ = version, champion_version
    if cv_ is None:
        return result(True, f"no {CHAMPION} yet: version {v} becomes the {CHAMPION}")
    if recorded is None:
        return result(
            True,
            f"version {v} replaces the {CHAMPION} version {cv_} on request (no comparable recorded {metric} scores)",
        )
    basis, ch, cp = recorded
    what = f"recorded {basis} {metric}"
    if cp > ch and not force:
        return result(
            False,
            f"refused: the {CHAMPION} version {cv_} has the better {what} "
            f"({score_text(cp)} > {score_text(ch)} for version {v}); use --force to promote anyway",
            ch, cp, basis,
        )
    if cp > ch:
        return result(
            True,
            f"forced: version {v} replaces the {CHAMPION} version {cv_} although the {CHAMPION} "
            f"has the better {what} ({score_text(cp)} > {score_text(ch)})",
            ch, cp, basis,
        )
    return result(
        True,
        f"version {v} replaces the {CHAMPION} version {cv_} on request; {what}: {score_text(ch)} vs {score_text(cp)}",
        ch, cp, basis,
    )


def decision_tags(decision: PromotionDecision, time: str) -> dict[str, Any]:
    """The `promotion.*` tags that record `decision` on its version; `time` an ISO timestamp."""
    tags: dict[str, Any] = {
        f"{PROMOTION_PREFIX}decision": "promoted" if decision.promoted else "not promoted",
        f"{PROMOTION_PREFIX}reason": decision.reason,
        f"{PROMOTION_PREFIX}metric": decision.metric,
        f"{PROMOTION_PREFIX}basis": decision.basis,
        f"{PROMOTION_PREFIX}challenger_score": score_text(decision.challenger_score),
        f"{PROMOTION_PREFIX}champion_score": score_text(decision.champion_score),
        f"{PROMOTION_PREFIX}champion_version_before": decision.champion_version_before or "-",
        f"{PROMOTION_PREFIX}time": time,
    }
    d = decision.difference
    if d is not None and math.isfinite(d.low):
        tags[f"{PROMOTION_PREFIX}difference"] = f"{d.value:.4f}"
        tags[f"{PROMOTION_PREFIX}difference_ci_low"] = f"{d.low:.4f}"
        tags[f"{PROMOTION_PREFIX}difference_ci_high"] = f"{d.high:.4f}"
        tags[f"{PROMOTION_PREFIX}bootstrap_replicates"] = d.n
    return tags
