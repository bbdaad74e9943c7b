"""Who holds the `champion` alias: `promote_if_better` after a sweep, `promote` by hand.

Each gathers the scores (held-out data evaluated now, or the tags recorded on the versions), asks the pure
policy in promotion.py, moves the alias when it says so, and records the decision as `promotion.*` tags on
the challenger version. Aliases only: MLflow's stages are deprecated.
"""

from __future__ import annotations

import logging
from datetime import datetime

import numpy as np

from seqsweep import locks
from seqsweep.data.dataset import Dataset
from seqsweep.errors import RegistryError
from seqsweep.registry import client
from seqsweep.registry.evaluation import heldout_bootstrap, interval_tags, score_version
from seqsweep.registry.promotion import (
    PromotionDecision,
    already_champion,
    check_metric,
    decide,
    decide_manual,
    decision_tags,
    recorded_comparison,
)
from seqsweep.registry.tags import CHAMPION, CV_PREFIX, float_tag

log = logging.getLogger(__name__)


def _cv_score(mv, metric: str, role: str) -> float:
    key = f"{CV_PREFIX}{metric}"
    score = float_tag(mv.tags, key)
    if score is None:
        raise RegistryError(
            f"model {mv.name!r} version {mv.version} ({role}) has no tag {key!r} to compare without held-out "
            "data; pass test data (--test) to compare on it instead"
        )
    return score


def _at_stake(model_name: str, version: int | str, metric: str, tracking_uri: str | None):
    """(client, the ModelVersion, its number, the champion's version or None), the metric checked first."""
    check_metric(metric)
    c = client.open_client(tracking_uri)
    mv = client.get_version(c, model_name, version)
    return c, mv, int(mv.version), client.champion_version(c, model_name)


def _record(c, decision: PromotionDecision) -> None:
    now = datetime.now().astimezone().isoformat(timespec="seconds")
    client.set_tags(c, decision.model_name, decision.version, decision_tags(decision, now))


def _apply(c, decision: PromotionDecision) -> None:
    """Move the alias when the decision says so; record the decision either way."""
    if decision.promoted:
        client.move_champion(c, decision.model_name, decision.version)
    _record(c, decision)


@locks.registry_lock  # the champion read, the evaluations and the alias move happen as one step
def promote_if_better(
    model_name: str,
    challenger_version: int | str,
    *,
    test_data: Dataset | None,
    metric: str = "weighted_accuracy",
    min_improvement: float = 0.0,
    tracking_uri: str | None = None,
    groups: np.ndarray | None = None,
    bootstrap: int = 1000,
) -> PromotionDecision:
    """Give `challenger_version` the alias `champion` when it beats the current champion.

    * no champion yet: the challenger becomes champion (evaluated first when test_data is given);
    * test_data given: both versions are scored on it now. With `bootstrap` > 0 resamples of the held-out
      rows by whole `groups` (genomic blocks; None: single rows), both scored on the same resamples, the
      champion moves only if the 95% interval of challenger - champion lies above min_improvement; every
      held-out metric's interval is recorded on both versions (`heldout_<metric>_ci_low`, `_ci_high`).
      With bootstrap 0 the rule is challenger > champion + min_improvement (promotion.decide says why strictly);
    * no test_data: the `cv_<metric>` tags recorded at registration are compared with the same rule. The
      reason says so, since those scores may come from different folds of different data.

    The alias moves only after every evaluation succeeded: if one raises, aliases are untouched. The
    decision, both scores and the reason are recorded as `promotion.*` tags on the challenger version.
    """
    c, challenger, v, champion_v = _at_stake(model_name, challenger_version, metric, tracking_uri)
    if champion_v == v:
        decision = already_champion(model_name, v, metric)
        _record(c, decision)
        return decision

    # Evaluate everything first; nothing below this block may run if an evaluation raises.
    difference = challenger_interval = None
    if test_data is not None:
        basis = "held-out"
        where = f"held-out {metric} on {test_data.source} ({len(test_data)} rows)"
        ch = score_version(model_name, v, test_data, tracking_uri=tracking_uri)
        cp = None if champion_v is None else score_version(model_name, champion_v, test_data, tracking_uri=tracking_uri)
        ch_score, cp_score = ch.metrics[metric], (None if cp is None else cp.metrics[metric])
        if bootstrap > 0:
            probs = {"challenger": ch.p} if cp is None else {"challenger": ch.p, "champion": cp.p}
            diffs = {} if cp is None else {"difference": (f"challenger:{metric}", f"champion:{metric}")}
            boot = heldout_bootstrap(test_data, probs, groups=groups, replicates=bootstrap, differences=diffs)
            unit = "genomic blocks" if groups is not None else "rows"
            client.set_tags(c, model_name, v, interval_tags(boot, "challenger", unit))
            if cp is not None:
                client.set_tags(c, model_name, champion_v, interval_tags(boot, "champion", unit))
            difference = boot.estimates.get("difference")
            challenger_interval = boot.estimates[f"challenger:{metric}"]
            where = (f"held-out {metric} on {test_data.source} ({len(test_data)} rows; {boot.replicates} "
                     f"bootstrap resamples of its {boot.groups} {unit})")
    else:
        basis = "cv"
        where = f"{CV_PREFIX}{metric} recorded at registration (no held-out data given)"
        ch_score = _cv_score(challenger, metric, "challenger")
        cp_score = (
            None if champion_v is None else _cv_score(client.get_version(c, model_name, champion_v), metric, CHAMPION)
        )

    decision = decide(
        model_name, v, champion_v, ch_score, cp_score,
        metric=metric, basis=basis, where=where, min_improvement=min_improvement,
        difference=difference, challenger_interval=challenger_interval,
    )
    _apply(c, decision)
    log.info("%s v%s: %s", model_name, v, decision.reason)
    return decision


@locks.registry_lock
def promote(
    model_name: str,
    version: int | str,
    *,
    force: bool = False,
    metric: str = "weighted_accuracy",
    tracking_uri: str | None = None,
) -> PromotionDecision:
    """Point `champion` at `version` by hand (`seqsweep promote NAME VERSION [--force]`).

    Without force it refuses when the current champion has the better recorded score (held-out scores on
    the same data when both versions have them, else the cv_ scores); the decision's reason says which
    scores. With force the alias moves regardless, and the reason records what was overridden.
    """
    c, mv, v, champion_v = _at_stake(model_name, version, metric, tracking_uri)
    if champion_v == v:
        return already_champion(model_name, v, metric, manual=True)  # nothing changes, nothing recorded
    recorded = None
    if champion_v is not None:
        recorded = recorded_comparison(mv.tags, client.get_version(c, model_name, champion_v).tags, metric)
    decision = decide_manual(model_name, v, champion_v, recorded, metric=metric, force=force)
    _apply(c, decision)
    return decision
