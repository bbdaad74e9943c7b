"""Where seqsweep keeps its state: the project home, the MLflow store URI, Tune state, generated data.

Paths are always absolute: Ray changes each trial's working directory, and a relative sqlite URI would
then point at a different (empty) database.

The home is ``$SEQSWEEP_HOME`` when set, else the current directory (the Makefile runs from the repo root;
tests point it at ``tmp_path``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# Telemetry off before anything imports mlflow. A user who really wants it can set the variable to false.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")


def home() -> Path:
    return Path(os.environ.get("SEQSWEEP_HOME") or os.getcwd()).resolve()


def mlruns_dir() -> Path:
    return home() / "mlruns"


def artifacts_dir() -> Path:
    return mlruns_dir() / "artifacts"


def tune_dir() -> Path:
    """Ray Tune experiment state (for --resume) and trial checkpoints."""
    return mlruns_dir() / "tune"


def generated_data_dir() -> Path:
    """Data seqsweep generates itself (the synthetic default set); git-ignored."""
    return home() / "data" / "generated"


def default_tracking_uri() -> str:
    return f"sqlite:///{mlruns_dir() / 'mlflow.db'}"


def tracking_uri(job_uri: str | None = None) -> str:
    """The job's `tracking.uri`, else $MLFLOW_TRACKING_URI, else the embedded sqlite store."""
    uri = job_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        # sqlite:///relative.db -> absolute, for the reason in the module docstring.
        uri = f"sqlite:///{(home() / uri[len('sqlite:///'):]).resolve()}"
    return uri


def uses_embedded_store(uri: str) -> bool:
    return uri.startswith("sqlite:") or uri.startswith("file:")


def redact(uri: str) -> str:
    """A URI safe to log or store: the password of `scheme://user:password@host` replaced by ***."""
    return re.sub(r"(://[^:/@]+):[^@/]+@", r"\1:***@", uri)
