"""The function Ray Tune runs for one trial: k-fold cross-validation of one configuration.

It builds the k fold models, trains them in lockstep one epoch at a time, and reports the k-fold mean/std of
weighted accuracy, ROC AUC and PR AUC after every epoch (what ASHA prunes on). On its last epoch it also
reports a checkpoint holding the trial's model (the ensemble of its fold models, safetensors + model.json,
and the per-task or per-class CV scores), which the driver logs to MLflow. Trials never touch MLflow
themselves (docs/design.md#tracking).
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqsweep.config import TrainSpec
from seqsweep.data import Dataset
from seqsweep.data.encoding import Length
from seqsweep.search_space import split_config

#: The per-task / per-class CV scores a trial leaves next to its model in the checkpoint.
EVALUATION_JSON = "cv_evaluation.json"
#: The trial's out-of-fold probabilities (tensor "proba", one row per training row), when the sweep may
#: make its final model an ensemble of trials (seqsweep.final_model scores such ensembles with them).
OOF_FILE = "cv_predictions.safetensors"


@dataclass(frozen=True)
class TrialSettings:
    """What every trial of one sweep shares (from the job), sent to workers once with the dataset."""

    train: TrainSpec  # the job's training knobs, max_epochs, device, precision
    threads: int
    seed: int
    length: Length | None = None  # data.length, stored with the model
    save_oof: bool = False  # leave the out-of-fold probabilities in the checkpoint (OOF_FILE)


def pick_device(requested: str) -> str:
    """"cuda" when asked for or when Ray gave this trial a GPU (CUDA_VISIBLE_DEVICES is set by Ray), else "cpu"."""
    import torch

    if requested == "cpu":
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    if requested == "cuda":
        raise RuntimeError("train.device is 'cuda' but this trial has no GPU (set resources.gpu > 0)")
    return "cpu"


def build_train_config(config: dict[str, Any], settings: TrialSettings):
    """A trial's sampled config + the job's defaults -> (TrainConfig, epochs)."""
    from seqsweep.train import TrainConfig

    arch, model_kw, train_kw = split_config(config)
    epochs = min(int(train_kw.pop("epochs", settings.train.max_epochs)), settings.train.max_epochs)
    cfg = TrainConfig(
        arch,
        model_kw,
        **{**settings.train.knobs(), **train_kw},
        epochs=epochs,
        seed=settings.seed,
        use_accessibility=settings.train.use_accessibility,
    )
    return cfg, epochs


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None  # JSON has no NaN
    return value


def run_trial(
    config: dict[str, Any],
    dataset: Dataset,
    folds: list[tuple[np.ndarray, np.ndarray]],
    settings: TrialSettings,
) -> None:
    """Ray Tune function trainable. Reports metrics every epoch; a model checkpoint on the last one."""
    from ray import tune

    from seqsweep.ensemble import save_ensemble
    from seqsweep.train import CVTrainer

    import ray

    cfg, epochs = build_train_config(config, settings)
    device = pick_device(settings.train.device)
    node_id = ray.get_runtime_context().get_node_id()
    start = time.perf_counter()
    trainer = CVTrainer(dataset, folds, cfg, device=device, num_threads=settings.threads, precision=settings.train.precision)
    store = dataset.store
    # what this worker reads its sequences from: the genome cache mapped on its node, or the tokens Ray shipped
    data_store = f"memory-mapped {store.cache}" if store.cache else f"tokens in memory ({len(store):,} bases)"
    for epoch in range(1, epochs + 1):
        metrics = trainer.step_epoch()
        metrics["epochs_planned"] = epochs
        metrics["trial_seconds"] = time.perf_counter() - start
        metrics["node_id"] = node_id
        metrics["device"] = device
        metrics["precision"] = trainer.precision
        metrics["data_store"] = data_store
        if epoch < epochs:
            tune.report(metrics)
            continue
        # Last epoch: hand the fold models to the driver as a checkpoint (Tune copies it to storage).
        with tempfile.TemporaryDirectory(prefix="seqsweep-ckpt-") as tmp:
            save_ensemble(
                tmp,
                architecture=cfg.architecture,
                hparams=dict(cfg.hparams),
                seq_len=dataset.seq_len,
                use_accessibility=cfg.use_accessibility,
                rc_average=cfg.strand_average,
                state_dicts=trainer.state_dicts(),
                task=dataset.task,
                length=settings.length,
                extra={"config": {k: v for k, v in config.items()}, "epochs": epochs},
            )
            if settings.save_oof:
                from safetensors.numpy import save_file

                save_file({"proba": trainer.oof_proba()}, str(Path(tmp) / OOF_FILE))
            evaluation = trainer.evaluation()
            if evaluation:
                rows = [{k: _plain(v) for k, v in row.items()} for row in evaluation["outputs"]]
                (Path(tmp) / EVALUATION_JSON).write_text(json.dumps({**evaluation, "outputs": rows}, indent=1) + "\n")
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(tmp))
