"""The function Ray Tune runs for one trial: k-fold cross-validation of one configuration.

It builds the k fold models, trains them in lockstep one epoch at a time, and reports the k-fold mean/std of
weighted accuracy, ROC AUC and PR AUC after every epoch (what ASHA prunes on). On its last epoch it also
reports a checkpoint holding the trial's model (the ensemble of its fold models, safetensors + model.json),
which the driver logs to MLflow. Trials never touch MLflow themselves (see DESIGN.md).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqsweep.data import Dataset
from seqsweep.search_space import split_config


@dataclass(frozen=True)
class TrialSettings:
    """What every trial of one sweep shares (from the job), sent to workers once with the dataset."""

    max_epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    optimizer: str
    lr_schedule: str
    rc_augment: bool
    sampling: str
    use_accessibility: bool
    device: str  # "auto" | "cpu" | "cuda"
    precision: str  # "auto" | "float32" | "bfloat16"
    threads: int
    seed: int


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
    epochs = min(int(train_kw.get("epochs", settings.max_epochs)), settings.max_epochs)
    cfg = TrainConfig(
        architecture=arch,
        hparams=model_kw,
        learning_rate=float(train_kw.get("learning_rate", settings.learning_rate)),
        weight_decay=float(train_kw.get("weight_decay", settings.weight_decay)),
        optimizer=train_kw.get("optimizer", settings.optimizer),
        batch_size=int(train_kw.get("batch_size", settings.batch_size)),
        epochs=epochs,
        rc_augment=bool(train_kw.get("rc_augment", settings.rc_augment)),
        lr_schedule=train_kw.get("lr_schedule", settings.lr_schedule),
        sampling=train_kw.get("sampling", settings.sampling),
        seed=settings.seed,
        use_accessibility=settings.use_accessibility,
    )
    return cfg, epochs


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
    device = pick_device(settings.device)
    node_id = ray.get_runtime_context().get_node_id()
    start = time.perf_counter()
    trainer = CVTrainer(dataset, folds, cfg, device=device, num_threads=settings.threads, precision=settings.precision)
    for epoch in range(1, epochs + 1):
        metrics = trainer.step_epoch()
        metrics["epochs_planned"] = epochs
        metrics["trial_seconds"] = time.perf_counter() - start
        metrics["node_id"] = node_id
        metrics["device"] = device
        metrics["precision"] = trainer.precision
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
                rc_average=cfg.rc_augment,
                state_dicts=trainer.state_dicts(),
                extra={"config": {k: v for k, v in config.items()}, "epochs": epochs},
            )
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(tmp))
