"""Score a model version on held-out data, loaded as users load it, and record what was measured.

What is recorded where:
  * on the model version, as tags: the held-out metrics (`heldout_weighted_accuracy`, ... plus the data's
    name, fingerprint and row count), next to the trial's CV metrics set at registration;
  * on the version's source run (the trial's run), as artifacts: the ROC, PR and confusion-matrix PNGs and
    metrics.json, under `evaluation/<model>/v<version>/`. The registry stores no files of its own, and
    adding them to the logged model would change the package people download and serve; the run is where
    the MLflow UI shows a trial's files.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from seqsweep import plots
from seqsweep.data.dataset import Dataset
from seqsweep.errors import RegistryError
from seqsweep.registry import client
from seqsweep.registry.tags import HELDOUT_PREFIX, TAG_HELDOUT_DATA, TAG_HELDOUT_FINGERPRINT, TAG_HELDOUT_ROWS
from seqsweep.tracking import runs

log = logging.getLogger(__name__)


def _model_input(model, dataset: Dataset):
    """The Dataset as the DataFrame the served model takes (so evaluation goes through the served path)."""
    import pandas as pd

    from seqsweep.data import decode

    df = pd.DataFrame({"sequence": decode(dataset.X)})
    schema = model.metadata.get_input_schema()
    wants_accessibility = schema is not None and "accessibility" in schema.input_names()
    if wants_accessibility:
        if dataset.a is None:
            raise RegistryError(
                f"{dataset.source}: the model needs accessibility values, and this dataset has none"
            )
        df["accessibility"] = dataset.a.astype(np.float64)
    return df


def evaluate_version(
    model_name: str, version: int | str, dataset: Dataset, *, tracking_uri: str | None = None
) -> dict[str, float]:
    """Score version `version` of `model_name` on `dataset`, loaded as users load it (pyfunc, models:/ URI).

    Returns seqsweep.metrics.evaluate_proba's dict (weighted_accuracy, roc_auc, pr_auc, precision, recall,
    f1, tn, fp, fn, tp), weighted by dataset.w. Records them on the version as `heldout_*` tags (with the
    data's source, fingerprint and row count) and logs ROC/PR/confusion PNGs to the version's source run.
    """
    from seqsweep.data import fingerprint
    from seqsweep.metrics import evaluate_proba

    c = client.open_client(tracking_uri)
    mv = client.get_version(c, model_name, version)
    v = int(mv.version)
    model = client.load_version(model_name, v)
    df = _model_input(model, dataset)
    p = model.predict(df)["probability"].to_numpy(dtype=np.float64)
    metrics = evaluate_proba(dataset.y, p, dataset.w)
    tags: dict[str, Any] = {f"{HELDOUT_PREFIX}{k}": float(val) for k, val in metrics.items()}
    tags[TAG_HELDOUT_DATA] = dataset.source
    tags[TAG_HELDOUT_FINGERPRINT] = fingerprint(dataset)
    tags[TAG_HELDOUT_ROWS] = len(dataset)
    client.set_tags(c, model_name, v, tags)
    if mv.run_id:
        artifact_dir = f"evaluation/{model_name}/v{v}"
        with tempfile.TemporaryDirectory(prefix="seqsweep-eval-") as tmp:
            title = f"{model_name} v{v} on {Path(dataset.source).name}"
            figures = plots.evaluation_figures(title, dataset.y, p, dataset.w, metrics)
            plots.save(figures, Path(tmp), **plots.EVALUATION_SAVE)
            (Path(tmp) / "metrics.json").write_text(
                json.dumps({"data": dataset.source, "rows": len(dataset), **metrics}, indent=2) + "\n"
            )
            with client.registry_errors(f"model {model_name!r} version {v}: cannot log plots to run {mv.run_id}"):
                runs.log_artifacts(c, mv.run_id, tmp, artifact_dir)
        log.info("evaluation plots of %s v%s: run %s, artifacts %s/", model_name, v, mv.run_id, artifact_dir)
    else:
        log.warning("%s v%s has no source run; evaluation plots not stored", model_name, v)
    return metrics
