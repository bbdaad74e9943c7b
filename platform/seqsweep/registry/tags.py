"""What the registry records on a model version: the alias names, the tag names, and how values are written.

Tags are what the registry UI shows next to a version and what `promote` reads back later, from the
registry alone. Plain data: nothing here talks to MLflow.
"""

from __future__ import annotations

import json
from typing import Any

CHAMPION = "champion"
CHALLENGER = "challenger"
CV_PREFIX = "cv_"  # tags set at registration from the trial's k-fold scores
HELDOUT_PREFIX = "heldout_"  # tags set by evaluate_version
TAG_HELDOUT_DATA = "heldout_data"
TAG_HELDOUT_FINGERPRINT = "heldout_fingerprint"
TAG_HELDOUT_ROWS = "heldout_rows"
PROMOTION_PREFIX = "promotion."


def tag_value(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)  # full precision; repr(nan) == 'nan' parses back with float()
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return str(value)


def float_tag(tags: dict[str, str], key: str) -> float | None:
    raw = tags.get(key)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None
