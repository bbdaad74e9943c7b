"""The k-fold trainer: one configuration, k fold models, trained in lockstep one epoch at a time.

A trial (trainable.py) builds a CVTrainer and calls `step_epoch()` once per epoch; after each epoch the
k-fold mean and std of the validation metrics go to Tune, so ASHA can stop a poor trial early on the same
numbers the final ranking uses.

The data path is the speed and memory story. The dataset stays what it is, windows over a token store (one
byte per base, a genome memory-mapped and shared by every trial of the node); each epoch a seeded permutation
of the fold's training rows is cut into batches by index, and each batch's tokens are gathered and made
one-hot on the device. A trial holds its batch, its models and the store, never a float32 copy of the data.
There is no Dataset/DataLoader and no per-sample __getitem__ (docs/design.md#data-path).

Determinism: everything random (model init, shuffling, reverse-complement flips, dropout) is seeded from
`config.seed`, the fold number and the epoch, so the same config gives the same metrics on CPU however
the folds are interleaved and whatever else ran before in the process.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any, get_args

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field, ValidationError
from torch import nn

from seqsweep.allocator import keep_freed_memory
from seqsweep.config import TrainKnobs, TrainSpec
from seqsweep.data.dataset import Dataset
from seqsweep.data.sparse import is_sparse
from seqsweep.ensemble import EVAL_BATCH_SIZE, activation, predict_proba, span_mask, strand_logits, tokens_to_tensor
from seqsweep.errors import ConfigError
from seqsweep.metrics import task_scores, top_k
from seqsweep.models import create_model
from seqsweep.tasks import Task

log = logging.getLogger(__name__)

PRECISIONS = get_args(TrainSpec.model_fields["precision"].annotation)


class TrainingError(RuntimeError):
    """A trial failed while training (e.g. the loss became NaN): a failed trial, not bad user input."""


def _config_error(err: ValidationError) -> ConfigError:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "config"
    return ConfigError(f"{key}: {first['msg']}, got {first.get('input')!r}")


class TrainConfig(TrainKnobs):
    """One trial's configuration: the architecture, its hyperparameters and how to train it.

    The training knobs (batch_size, learning_rate, weight_decay, optimizer, lr_schedule, rc_augment,
    sampling) are seqsweep.config.TrainKnobs, defined once there. Besides them:

    rc_average:   at test time average the logits of x and of its reverse complement; None means "the same
                  as rc_augment" (a model trained on both strands should be scored on both).
    lr_schedule:  'constant', 'cosine' (to 0) or 'onecycle' (warm-up then anneal), stepped per batch over
                  `epochs` epochs; past the last epoch the learning rate stays where the schedule ended.
    sampling:     'shuffle': every training row once per epoch, the loss weighted by the row weights.
                  'weighted': an epoch draws as many rows, with replacement, with probability proportional
                  to their weight, and the loss is unweighted. Both minimise the same expected loss; with
                  class-balancing weights and rare positives 'weighted' makes every batch about half
                  positives (a less noisy gradient), but it shows each positive ~weight times per epoch, so
                  with very few positives it overfits sooner (docs/design.md#sampling). Hence the default.

        TrainConfig("deepbind", {"filters": 64}, epochs=10, learning_rate=3e-3)
    """

    architecture: str = Field(min_length=1)
    hparams: dict[str, Any] = Field(default_factory=dict)  # model kwargs, e.g. {"filters": 64}
    epochs: int = Field(10, ge=1)
    seed: int = Field(0, ge=0)
    rc_average: bool | None = None
    use_accessibility: bool = False

    def __init__(self, architecture: str, hparams: dict[str, Any] | None = None, /, **values: Any):
        try:
            super().__init__(architecture=architecture, hparams={} if hparams is None else hparams, **values)
        except ValidationError as err:
            raise _config_error(err) from None

    @property
    def strand_average(self) -> bool:
        """Whether evaluation averages the logits of both strands (rc_average, defaulting to rc_augment)."""
        return self.rc_augment if self.rc_average is None else self.rc_average


def _derived_seed(*parts: int) -> int:
    """An independent 63-bit seed for each (seed, fold, purpose, ...) tuple (numpy's SeedSequence mixing)."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1, dtype=np.uint64)[0] >> 1)


def bf16_hardware(device: torch.device) -> bool:
    """Whether `device` has bfloat16 matrix units that make mixed precision pay: a CUDA GPU with bf16
    support, or a CPU with AMX tiles (Intel Sapphire Rapids and later, where oneDNN runs bf16 convolutions
    and matrix products on them); docs/design.md#mixed-precision."""
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        amx = getattr(torch.cpu, "_is_amx_tile_supported", None)  # private in torch 2.x, hence the guard
        return bool(amx is not None and amx())
    return False


def resolve_precision(precision: str, device: torch.device, model: nn.Module) -> str:
    """'auto' | 'float32' | 'bfloat16' -> the precision training runs in ('float32' or 'bfloat16').

    'auto' is bfloat16 where the hardware has bf16 matrix units (bf16_hardware) and the architecture gains
    from it (SequenceModel.bf16_pays: not the mlp and kmer models, whose few small matrix products got
    slower), float32 otherwise. 'bfloat16' is honoured on any device (slow without the hardware).
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"precision: must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        pays = getattr(model, "bf16_pays", True)
        return "bfloat16" if pays and bf16_hardware(device) else "float32"
    return precision


def _autocast(device: torch.device, precision: str):
    """Mixed precision for TRAINING steps: bf16 autocast (matrix products and convolutions in bf16, weights,
    optimizer state and the loss in float32); a no-op for float32."""
    if precision == "bfloat16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _fork_rng(device: torch.device):
    """Save and restore the global RNG around a seeded section (dropout draws from the global generator)."""
    if device.type == "cuda":
        return torch.random.fork_rng(devices=[device.index if device.index is not None else torch.cuda.current_device()])
    return torch.random.fork_rng(devices=[])


class CVTrainer:
    """Trains the k fold models of one configuration in lockstep, one epoch at a time.

    trainer = CVTrainer(dataset, folds, TrainConfig("deepbind", {"filters": 64}, epochs=10))
    for _ in range(10):
        metrics = trainer.step_epoch()   # {'cv_weighted_accuracy': ..., 'fold0_roc_auc': ..., 'epoch': 1, ...}

    The task (binary, multilabel, multiclass, next_base) comes with the dataset: it sizes the models' output
    heads and picks the loss and the metrics (seqsweep.metrics.task_scores). Padded datasets (spans) pass
    each batch's mask of real positions to the models.

    device: "cpu" or "cuda[:i]" (a trial uses CUDA when Ray gave it a GPU).
    num_threads: when given, torch.set_num_threads(num_threads) (a Ray trial sets it to its CPU share);
        left alone otherwise.
    precision: 'auto' (default), 'float32' or 'bfloat16' for the training steps (resolve_precision); the
        resolved one is `self.precision`. Validation scores and predictions are always computed in float32,
        so the metrics describe the saved model as it is served.
    """

    def __init__(
        self,
        dataset: Dataset,
        folds: Sequence[tuple[np.ndarray, np.ndarray]],
        config: TrainConfig,
        device: str | torch.device = "cpu",
        num_threads: int | None = None,
        precision: str = "auto",
    ):
        if num_threads is not None:
            torch.set_num_threads(int(num_threads))
        keep_freed_memory()  # no page faults on every step's large activations (seqsweep.allocator)
        if len(folds) < 1:
            raise ConfigError(f"cv.folds: needs at least one fold, got {len(folds)}")
        if config.use_accessibility and dataset.a is None:
            raise ConfigError(
                f"use_accessibility: is true but dataset {dataset.source} has no accessibility values"
            )
        task = dataset.task
        if task.type == "next_base" and config.rc_augment:
            raise ConfigError(
                "rc_augment: must be false for next_base: the reverse strand of a context is followed by another "
                "base than its forward strand"
            )
        if task.type == "multilabel" and config.sampling == "weighted":
            raise ConfigError("sampling: 'weighted' draws rows by one weight; a multilabel task has one per task: use 'shuffle'")
        self.config = config
        self.task = task
        self.device = torch.device(device)
        self.epoch = 0
        n = len(dataset)

        # Sequences stay tokens in the dataset's store; each batch is gathered and made one-hot on the device.
        self.data = dataset
        self.seq_len = dataset.seq_len
        y_dtype = torch.long if task.single_label else torch.float32
        # sparse multilabel targets (seqsweep.data.sparse) stay sparse: each batch's rows are made dense
        self._sparse = is_sparse(dataset.y)
        if self._sparse:
            self.y = self.w = None
        else:
            self.y = torch.as_tensor(np.asarray(dataset.y), dtype=y_dtype, device=self.device)  # (N,) or (N, T)
            self.w = torch.as_tensor(np.asarray(dataset.w), dtype=torch.float32, device=self.device)  # y's shape
        self.a = (
            torch.as_tensor(np.asarray(dataset.a), dtype=torch.float32, device=self.device)
            if config.use_accessibility
            else None
        )
        self.spans = None if dataset.spans is None else torch.as_tensor(dataset.spans, device=self.device)
        self._shift_bounds = None
        if config.jitter:
            if dataset.spans is not None or dataset.store.pre_cut:
                raise ConfigError(
                    f"train.jitter: shifts windows along a genome; {dataset.source} holds pre-cut sequences (use "
                    "data.genome + data.peaks, or jitter: 0)"
                )
            self._shift_bounds = dataset.shift_bounds()
        # numpy copies of labels and weights for the metrics (seqsweep.metrics works on numpy)
        self._y_np = dataset.y if self._sparse else np.asarray(dataset.y)
        self._w_np = dataset.w if self._sparse else np.asarray(dataset.w, dtype=np.float64)
        self._weighted_sampling = config.sampling == "weighted"
        if self._sparse:
            row_weight = dataset.w.row_weights()
        else:
            row_weight = self._w_np if self._w_np.ndim == 1 else self._w_np.sum(1)  # a row's weight over its tasks

        self.train_idx: list[torch.Tensor] = []
        self._w_mean: list[float] = []
        self.val_idx: list[np.ndarray] = []
        self._cursor: list[int] = []  # windows_per_epoch: where this fold is in its current permutation
        self._perm: list[torch.Tensor | None] = []
        for k, (tr, va) in enumerate(folds):
            tr, va = np.asarray(tr, dtype=np.int64), np.asarray(va, dtype=np.int64)
            for name, idx in (("train", tr), ("validation", va)):
                if len(idx) == 0 or idx.min() < 0 or idx.max() >= n:
                    raise ValueError(f"fold {k}: {name} indices must be non-empty rows of the {n}-row dataset")
            if config.validation_windows is not None and len(va) > config.validation_windows:
                # a seeded subset, the same every epoch, so epochs stay comparable
                pick = np.random.default_rng(_derived_seed(config.seed, k, 3)).choice(len(va), config.validation_windows, replace=False)
                va = np.sort(va[pick])
            self._cursor.append(0)
            self._perm.append(None)
            self.train_idx.append(torch.from_numpy(tr).to(self.device))
            # the fold's loss normaliser (see _weighted_loss): its training rows' mean weight; 1 when rows are
            # drawn by weight and count once each; an all-zero-weight fold trains on nothing
            w_mean = 1.0 if self._weighted_sampling else float(row_weight[tr].mean())
            self._w_mean.append(w_mean if w_mean != 0 else 1.0)
            self.val_idx.append(va)

        k_folds = len(folds)
        self.models: list[nn.Module] = []
        self._generators: list[torch.Generator] = []  # per-fold shuffling and flips, on the CPU
        for k in range(k_folds):
            # Seed the init per fold, inside fork_rng so the caller's global RNG is left as it was.
            with _fork_rng(self.device):
                torch.manual_seed(_derived_seed(config.seed, k, 0))
                model = create_model(
                    config.architecture,
                    seq_len=dataset.seq_len,
                    use_accessibility=config.use_accessibility,
                    n_outputs=task.n_outputs,
                    **config.hparams,
                ).to(self.device)
            if hasattr(model, "adapt"):
                # data-dependent input scaling (e.g. kmer's max-abs scale), from this fold's training rows only,
                # streamed batch by batch
                rows = self.train_idx[k]
                model.adapt(self._x(rows[a : a + EVAL_BATCH_SIZE]) for a in range(0, len(rows), EVAL_BATCH_SIZE))
            self.models.append(model)
            self._generators.append(torch.Generator().manual_seed(_derived_seed(config.seed, k, 1)))
        self.precision = resolve_precision(precision, self.device, self.models[0])

        opt_cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
        self.optimizers = [
            opt_cls(m.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay) for m in self.models
        ]
        self._total_steps = [config.epochs * self._batches_per_epoch(self._epoch_rows(len(idx))) for idx in self.train_idx]
        self._steps = [0 for _ in self.optimizers]
        self.schedulers = [self._make_scheduler(o, t) for o, t in zip(self.optimizers, self._total_steps)]
        self._fold_scores: list[dict[str, Any]] = []  # the last epoch's scores per fold (for evaluation())
        self._val_out: list[np.ndarray] = []  # the last epoch's validation logits per fold (for oof_proba())
        self._n_rows = n
        log.info(
            "%s: %d fold models of %d parameters (%s) on %s in %s",
            config.architecture, k_folds, sum(p.numel() for p in self.models[0].parameters()), task.head,
            self.device, self.precision,
        )

    # --- training ---

    def _epoch_rows(self, n_train: int) -> int:
        """Rows one epoch trains on: all of the fold's training rows, or train.windows_per_epoch of them."""
        budget = self.config.windows_per_epoch
        return n_train if budget is None else min(n_train, budget)

    def _batches_per_epoch(self, n_train: int) -> int:
        n_batches = math.ceil(n_train / self.config.batch_size)
        if n_batches > 1 and n_train % self.config.batch_size == 1:
            n_batches -= 1  # a trailing batch of one row is dropped (see _train_fold)
        return n_batches

    def _make_scheduler(self, opt: torch.optim.Optimizer, total_steps: int):
        if self.config.lr_schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)
        if self.config.lr_schedule == "onecycle":
            return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.config.learning_rate, total_steps=total_steps)
        return None

    def _epoch_order(self, k: int, n_rows: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Fold k's training rows in this epoch's seeded order, (n_rows,), and which to flip, (n_rows,) bool."""
        idx = self.train_idx[k]
        gen = self._generators[k]
        if self._weighted_sampling:
            # n_rows draws with replacement, each row with probability proportional to its weight
            p = self.w[idx].cpu().double()
            if not p.sum() > 0:
                raise ConfigError(f"fold {k}: sampling 'weighted' needs training rows with positive weights")
            perm = torch.multinomial(p, n_rows, replacement=True, generator=gen)
        elif n_rows < len(idx):
            # a budget: the next n_rows of a seeded permutation, a new one when it is used up, so every row is
            # seen once before any is seen twice
            parts, need = [], n_rows
            while need:
                if self._perm[k] is None or self._cursor[k] >= len(idx):
                    # int32 halves what a fold of millions of windows keeps between epochs
                    dtype = torch.int32 if len(idx) < 2**31 else torch.int64
                    self._perm[k], self._cursor[k] = torch.randperm(len(idx), generator=gen, dtype=dtype), 0
                take = self._perm[k][self._cursor[k] : self._cursor[k] + need].long()
                parts.append(take)
                self._cursor[k] += len(take)
                need -= len(take)
            perm = torch.cat(parts)
        else:
            perm = torch.randperm(len(idx), generator=gen)
        order = idx[perm.to(self.device)]  # shuffled row numbers, (n_rows,)
        flip = None
        if self.config.rc_augment:
            flip = (torch.rand(n_rows, generator=gen) < 0.5).to(self.device)  # rows to reverse-complement
        return order, flip

    def _mask(self, rows: torch.Tensor) -> torch.Tensor | None:
        return None if self.spans is None else span_mask(self.spans[rows], self.seq_len)

    def _x(self, rows: torch.Tensor, shift: np.ndarray | None = None) -> torch.Tensor:
        """rows (B,) -> (B, 4, L) float32 one-hot on the device, gathered from the token store (each window
        moved by `shift` bases when given)."""
        tok = self.data.tokens(rows.cpu().numpy(), shift)  # (B, L) uint8, on the CPU: the store lives there
        return tokens_to_tensor(tok, self.device)

    def _shifts(self, rows: torch.Tensor, rng: np.random.Generator) -> np.ndarray | None:
        """train.jitter: a shift in [-jitter, jitter] per row, clipped so the window stays inside its contig."""
        if self._shift_bounds is None:
            return None
        r = rows.cpu().numpy()
        j = self.config.jitter
        lo, hi = self._shift_bounds
        return np.clip(rng.integers(-j, j + 1, len(r)), lo[r], hi[r])

    def _batch(self, rows: torch.Tensor, flip: torch.Tensor | None, shift: np.ndarray | None = None):
        """A batch: rows (B,) -> x (B, 4, L), y, w, a, mask (B, L) or None."""
        x = self._x(rows, shift)
        mask = self._mask(rows)
        if flip is not None:
            x = torch.where(flip[:, None, None], x.flip(-2, -1), x)  # flip(-2, -1): reverse complement
            if mask is not None:
                mask = torch.where(flip[:, None], mask.flip(-1), mask)
        a = self.a[rows] if self.a is not None else None
        if self._sparse:
            r = rows.cpu().numpy()
            yb = self._y_np.dense(r)  # (B, T) uint8
            y = torch.from_numpy(yb).to(self.device, torch.float32)
            w = torch.from_numpy(self._w_np.dense(r, labels=yb)).to(self.device)
            return x, y, w, a, mask
        y = self.y[rows]
        w = torch.ones_like(self.w[rows]) if self._weighted_sampling else self.w[rows]  # drawn by weight: count once
        return x, y, w, a, mask

    @staticmethod
    def _weighted_loss(
        task: Task, logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor, w_mean: float
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The task's weighted loss of a batch of B rows -> (step loss, sum(w * l), sum(w)).

        l is BCE per label (binary; multilabel, one per task, where a missing label has w = 0) or the
        cross-entropy over classes (multiclass, next_base). The step loss is sum(w * l) / (B * w_mean), w_mean
        the fold's mean training weight per row: an unbiased estimate of the fold's weighted mean loss.
        Dividing by the batch's own sum(w) instead is biased when positives are rare: with class-balancing
        weights most batches hold no positive and push every logit down at full strength, while the few that
        hold one are normalised by its large weight (docs/design.md#loss).
        """
        if task.single_label:
            per = F.cross_entropy(logits.float(), y, reduction="none")  # (B, C), (B,) -> (B,)
        else:
            per = F.binary_cross_entropy_with_logits(logits.float().reshape(y.shape), y, reduction="none")
        weighted = (w * per).sum()
        return weighted / (y.shape[0] * w_mean), weighted, w.sum()

    def _optimizer_step(self, i: int, loss: torch.Tensor) -> None:
        opt, sched = self.optimizers[i], self.schedulers[i]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None and self._steps[i] < self._total_steps[i]:
            sched.step()  # past the schedule's end the learning rate stays where it ended
        self._steps[i] += 1

    def _check_loss(self, k: int, value: float) -> None:
        if not math.isfinite(value):
            cfg = self.config
            raise TrainingError(
                f"architecture {cfg.architecture!r}: training loss became {value} in fold {k} at epoch "
                f"{self.epoch} (learning_rate={cfg.learning_rate}, hparams={cfg.hparams}); the trial diverged"
            )

    def _train_fold(self, k: int) -> float:
        """One epoch of fold k's model over its training rows; returns the epoch's weighted mean loss."""
        cfg, model = self.config, self.models[k]
        n = self._epoch_rows(len(self.train_idx[k]))
        order, flip = self._epoch_order(k, n)
        model.train()
        loss_sum = torch.zeros((), device=self.device)
        weight_sum = torch.zeros((), device=self.device)
        jitter_rng = np.random.default_rng(_derived_seed(cfg.seed, k, 4, self.epoch)) if cfg.jitter else None
        # Dropout draws from the global RNG: seed it per (fold, epoch) so results do not depend on order.
        with _fork_rng(self.device):
            torch.manual_seed(_derived_seed(cfg.seed, k, 2, self.epoch))
            for start in range(0, n, cfg.batch_size):
                rows = order[start : start + cfg.batch_size]
                if len(rows) == 1 and n > 1:
                    break  # a single-row batch is a noisy step and breaks batch-norm layers; skip it
                shift = None if jitter_rng is None else self._shifts(rows, jitter_rng)
                x, y, w, a, mask = self._batch(rows, None if flip is None else flip[start : start + len(rows)], shift)
                with _autocast(self.device, self.precision):
                    logits = model(x, a) if mask is None else model(x, a, mask)  # (B, 4, L) -> (B,) or (B, K)
                loss, weighted, weight = self._weighted_loss(self.task, logits, y, w, self._w_mean[k])
                self._optimizer_step(k, loss)
                # accumulate on the device; one sync per fold epoch instead of one per batch
                loss_sum += weighted.detach()
                weight_sum += weight
        epoch_loss = (loss_sum / weight_sum.clamp_min(1e-12)).item()
        self._check_loss(k, epoch_loss)
        return epoch_loss

    # --- evaluation ---

    @torch.inference_mode()
    def _val_logits(self, k: int) -> np.ndarray:
        """Fold k's model on its validation rows -> (n_val,) or (n_val, K) float64 logits (strand-averaged
        if configured)."""
        model = self.models[k]
        model.eval()
        idx = torch.from_numpy(self.val_idx[k]).to(self.device)
        out = []
        for start in range(0, len(idx), EVAL_BATCH_SIZE):
            b = idx[start : start + EVAL_BATCH_SIZE]
            a = self.a[b] if self.a is not None else None
            out.append(strand_logits(model, self._x(b), a, self._mask(b), self.config.strand_average))
        return torch.cat(out).cpu().numpy().astype(np.float64)

    def step_epoch(self) -> dict[str, float]:
        """Train every fold model for one epoch, then score each on its validation fold.

        Returns cv_{weighted_accuracy,roc_auc,pr_auc} (mean over folds; for multilabel each fold's number is
        the mean over its scorable tasks) and their _std (population std, ddof=0), fold{k}_... for each fold k
        (0-based), cv_accuracy and cv_top{k}_accuracy for single-label tasks, train_loss (mean over folds of
        each fold's weighted loss over the epoch) and epoch (1-based).
        """
        self.epoch += 1
        losses = [self._train_fold(k) for k in range(len(self.models))]

        names = ["weighted_accuracy", "roc_auc", "pr_auc"]
        if self.task.single_label:
            names += ["accuracy", f"top{top_k(self.task.n_outputs)}_accuracy"]
        per_metric: dict[str, list[float]] = {name: [] for name in names}
        metrics: dict[str, float] = {}
        self._fold_scores = []
        self._val_out = []
        for k in range(len(self.models)):
            logits = self._val_logits(k)
            self._val_out.append(logits)
            va = self.val_idx[k]
            scores = task_scores(self.task, self._y_np[va], logits, self._w_np[va], logits=True)
            if self.task.single_label:
                scores[names[-1]] = scores["top_k_accuracy"]
            self._fold_scores.append(scores)
            for name in names:
                value = float(scores[name])
                metrics[f"fold{k}_{name}"] = value
                per_metric[name].append(value)
        for name, values in per_metric.items():
            metrics[f"cv_{name}"] = float(np.mean(values))
            metrics[f"cv_{name}_std"] = float(np.std(values))
        metrics["train_loss"] = float(np.mean(losses))
        metrics["epoch"] = self.epoch
        # the data budget spent so far by each fold model (train.windows_per_epoch): what ASHA's rungs count
        metrics["windows_seen"] = self.epoch * self._epoch_rows(min(len(t) for t in self.train_idx))
        log.debug("epoch %d: %s", self.epoch, metrics)
        return metrics

    def evaluation(self) -> dict[str, Any]:
        """Per-task (multilabel) or per-class (multiclass, next_base) cross-validation scores of the last epoch.

        Returns {"task": ..., "outputs": [one row per task or class: name, roc_auc, pr_auc (means over the
        folds where it was scorable), weighted_accuracy (multilabel), folds_scored], "unscorable": names of
        tasks no fold could score (excluded from every mean), "confusion": (C, C) counts summed over the
        validation folds (single-label)}; {} for binary or before the first epoch.
        """
        if self.task.type == "binary" or not self._fold_scores:
            return {}
        folds = self._fold_scores
        prefix = "class_" if self.task.single_label else "task_"
        keys = ["roc_auc", "pr_auc"] + ([] if self.task.single_label else ["weighted_accuracy"])
        stacked = {key: np.vstack([f[prefix + key] for f in folds]) for key in keys}  # (k, K)
        scored = np.isfinite(stacked["roc_auc"]).sum(0)
        rows = []
        for j, name in enumerate(self.task.names):
            row: dict[str, Any] = {"name": name, "folds_scored": int(scored[j])}
            for key in keys:
                col = stacked[key][:, j]
                row[key] = float(np.nanmean(col)) if np.isfinite(col).any() else float("nan")
            rows.append(row)
        out: dict[str, Any] = {
            "task": self.task.to_dict(),
            "outputs": rows,
            "unscorable": [r["name"] for r in rows if r["folds_scored"] == 0],
        }
        if self.task.single_label:
            out["confusion"] = np.sum([f["confusion"] for f in folds], axis=0).tolist()
        return out

    def oof_proba(self) -> np.ndarray:
        """Out-of-fold probabilities of the last epoch: each row scored by the fold model that did not train
        on it, (N,) for binary or (N, K), float32; NaN for rows in no validation fold. Ensembles of trials
        scored on the same folds average these to get their CV score without training anything."""
        if not self._val_out:
            raise RuntimeError("oof_proba: no epoch has been trained yet")
        width = () if self.task.type == "binary" else (self.task.n_outputs,)
        out = np.full((self._n_rows, *width), np.nan, dtype=np.float32)
        for va, logits in zip(self.val_idx, self._val_out):
            z = torch.from_numpy(logits.reshape(len(va), *width))
            out[va] = activation(self.task, z).numpy()
        return out

    def fit(
        self, epochs: int | None = None, on_epoch: Callable[[dict[str, float]], None] | None = None
    ) -> list[dict[str, float]]:
        """Train until `self.epoch == epochs` (default: config.epochs), calling on_epoch(metrics) after each.

        Returns the metrics of the epochs it ran (empty when the trainer is already that far).
        """
        target = self.config.epochs if epochs is None else epochs
        history = []
        while self.epoch < target:
            metrics = self.step_epoch()
            history.append(metrics)
            if on_epoch is not None:
                on_epoch(metrics)
        return history

    # --- saving ---

    def state_dicts(self) -> list[dict[str, torch.Tensor]]:
        """CPU copies of the fold models' weights, in fold order (for safetensors / the pyfunc model)."""
        return [{name: t.detach().to("cpu", copy=True) for name, t in m.state_dict().items()} for m in self.models]

    def predict_proba(
        self, X: np.ndarray, a: np.ndarray | None = None, spans: np.ndarray | None = None, *,
        batch_size: int = EVAL_BATCH_SIZE,
    ) -> np.ndarray:
        """The fold ensemble's probabilities for (N, L, 4) one-hot X (seqsweep.ensemble.predict_proba)."""
        return predict_proba(
            self.models, X, a, spans, task=self.task, batch_size=batch_size, rc_average=self.config.strand_average,
            device=self.device,
        )
