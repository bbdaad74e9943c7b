"""Shared helpers for the end-to-end tests: a tiny job in a private seqsweep home."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TINY_SPACE = """\
architecture: [cnn, mlp]
learning_rate: {low: 3.0e-3, high: 1.0e-2, log: true}
hidden_size: [16]
batch_size: [128]
cnn.filters: [16]
cnn.kernel_size: [9]
mlp.num_layers: [1]
"""


def write_tiny_job(home: Path, *, name: str = "tiny", trials: int = 3, epochs: int = 2, folds: int = 2,
                   n: int = 1500, extra: str = "") -> Path:
    """A job that runs in well under a minute: small synthetic data, a tiny space, few trials and epochs."""
    (home / "search_spaces").mkdir(parents=True, exist_ok=True)
    (home / "jobs").mkdir(exist_ok=True)
    (home / "search_spaces" / "tiny.yaml").write_text(TINY_SPACE)
    job = home / "jobs" / f"{name}.yaml"
    job.write_text(
        textwrap.dedent(
            f"""\
            name: {name}
            data:
              train: data/generated/{name}
              synthetic: {{n: {n}, positive_rate: 0.15, seed: 0}}
              holdout: {{fraction: 0.2, block_size: 10100, seed: 0}}
            search_space: search_spaces/tiny.yaml
            search: {{num_trials: {trials}, max_concurrent: 2, sampler: tpe, seed: 0, scheduler: none, startup_trials: 2}}
            cv: {{folds: {folds}, seed: 0}}
            train: {{max_epochs: {epochs}}}
            resources: {{cpu: 1}}
            registry: {{model_name: {name}}}
            """
        )
        + extra
    )
    return job


def env_for(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["SEQSWEEP_HOME"] = str(home)
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{home}/mlruns/mlflow.db"
    env.pop("RAY_ADDRESS", None)
    return env


def run_cli(home: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """`seqsweep ARGS` in a fresh process (the way users run it), in `home`."""
    return subprocess.run(
        [sys.executable, "-m", "seqsweep", *args],
        cwd=home,
        env=env_for(home),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def seed_store(home: Path) -> None:
    """Give `home` an empty, already-migrated MLflow sqlite store.

    A fresh sqlite store runs seconds of schema migrations (docs/design.md#tests); doing that once per test
    session and copying the empty database keeps the end-to-end tests fast. The store is as real as ever.
    """
    import shutil
    import tempfile

    import mlflow

    template = Path(tempfile.gettempdir()) / f"seqsweep-empty-mlflow-{mlflow.__version__}.db"
    if not template.exists():
        tmp = template.with_suffix(f".{os.getpid()}.tmp")
        mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp}").search_experiments()
        tmp.replace(template)
    (home / "mlruns").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, home / "mlruns" / "mlflow.db")
