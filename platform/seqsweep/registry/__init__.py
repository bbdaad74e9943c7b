"""The model registry: a sweep's best trial becomes a new version of a registered model with the alias
`challenger`; it takes the alias `champion` only when it beats the current champion (`promote_if_better`),
or when a person says so (`promote`, which refuses to replace a better champion unless forced).

    client.py      the only code that talks to the MLflow registry (versions, aliases, tags, loading)
    promotion.py   the promotion policy, pure: scores in, PromotionDecision out
    champion.py    promote_if_better and promote: scores gathered, policy asked, alias moved, decision recorded
    evaluation.py  evaluate_version: held-out metrics on the version, plots on its source run
    tags.py        the alias and tag names, and how tag values are written
"""

from seqsweep.registry.champion import promote, promote_if_better
from seqsweep.registry.client import list_versions, load_model, register_trial_model, show
from seqsweep.registry.evaluation import evaluate_version
from seqsweep.registry.promotion import PROMOTION_METRICS, PromotionDecision
from seqsweep.registry.tags import (
    CHALLENGER,
    CHAMPION,
    CV_PREFIX,
    HELDOUT_PREFIX,
    PROMOTION_PREFIX,
    TAG_HELDOUT_DATA,
    TAG_HELDOUT_FINGERPRINT,
    TAG_HELDOUT_ROWS,
)

__all__ = [
    "CHALLENGER", "CHAMPION", "CV_PREFIX", "HELDOUT_PREFIX", "PROMOTION_METRICS", "PROMOTION_PREFIX",
    "PromotionDecision", "TAG_HELDOUT_DATA", "TAG_HELDOUT_FINGERPRINT", "TAG_HELDOUT_ROWS", "evaluate_version",
    "list_versions", "load_model", "promote", "promote_if_better", "register_trial_model", "show",
]
