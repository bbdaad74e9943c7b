"""The k-fold trainer: one configuration, k fold models, trained in lockstep one epoch at a time.

A trial (trainable.py) builds a CVTrainer and calls `step_epoch()` once per epoch; after each epoch the
k-fold mean and std of the validation metrics go to Tune, so ASHA can stop a poor trial early on the same
numbers the final ranking uses.

The data path is the speed story. X is converted ONCE to a float32 (N, 4, L) tensor on the device; each
epoch a seeded permutation of the fold's training rows is cut into batches by index (`X[idx]`). There is no
Dataset/DataLoader and no per-sample __getitem__, which cost 30-45% of an epoch when numpy rows are
turned into tensors one at a time (DESIGN.md).

Determinism: everything random (model init, shuffling, reverse-complement flips, dropout) is seeded from
`config.seed`, the fold number and the epoch, so the same config gives the same metrics on CPU however
the folds are interleaved and whatever else ran before in the process.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from seqsweep.allocator import keep_freed_memory
from seqsweep.data.dataset import Dataset
from seqsweep.errors import ConfigError, DataError
from seqsweep.metrics import pr_auc, roc_auc, weighted_accuracy
from seqsweep.models import create_model

log = logging.getLogger(__name__)

OPTIMIZERS = ("adam", "adamw")
LR_SCHEDULES = ("constant", "cosine", "onecycle")
SAMPLINGS = ("shuffle", "weighted")
PRECISIONS = ("auto", "float32", "bfloat16")
# Rows per forward pass when scoring and predicting (no autograd). Measured on the 2-core Xeon, 5-model
# ensembles: 1,024 rows beat 4,096 (cnn 1.1-2.0x, kmer 1.6-2.0x, lstm 1.4x, cnn_bilstm 1.9x faster); larger
# batches spill the activations out of cache. deepbind splits its batches further (models/cnn.py).
EVAL_BATCH_SIZE = 1024


class TrainingError(RuntimeError):
    """A trial failed while training (e.g. the loss became NaN): a failed trial, not bad user input."""


@dataclass(frozen=True)
class TrainConfig:
    """One trial's configuration: the architecture, its hyperparameters and how to train it.

    rc_augment:   flip a random half of each batch to its reverse complement (x.flip(1, 2) in A,C,G,T
                  channels-first one-hot), so the model sees both strands of every site.
    rc_average:   at test time average the logits of x and of its reverse complement; None means "the same
                  as rc_augment" (a model trained on both strands should be scored on both).
    lr_schedule:  'constant', 'cosine' (to 0) or 'onecycle' (warm-up then anneal), stepped per batch over
                  `epochs` epochs; past the last epoch the learning rate stays where the schedule ended.
    sampling:     'shuffle': every training row once per epoch, the loss weighted by the row weights.
                  'weighted': an epoch draws as many rows, with replacement, with probability proportional
                  to their weight, and the loss is unweighted. Both minimise the same expected loss; with
                  class-balancing weights and rare positives 'weighted' makes every batch about half
                  positives instead of one positive weighted 200x in every other batch (a less noisy
                  gradient), but it shows each positive ~weight times per epoch, so with very few positives
                  it overfits sooner: on JUND (120 positives in 27k rows) a deepbind's held-out ROC AUC
                  fell from 0.73 to 0.59 in 6 epochs, where 'shuffle' held 0.75. Hence the default.
    """

    architecture: str
    hparams: dict = field(default_factory=dict)  # model kwargs, e.g. {"filters": 64}
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adamw"
    batch_size: int = 256
    epochs: int = 10
    rc_augment: bool = False
    rc_average: bool | None = None
    lr_schedule: str = "constant"
    sampling: str = "shuffle"
    seed: int = 0
    use_accessibility: bool = False

    def __post_init__(self) -> None:
        def number(key: str, low: float, strict: bool) -> None:
            value = getattr(self, key)
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
            if not ok or value < low or (strict and value == low):
                rule = f"a finite number {'>' if strict else '>='} {low}"
                raise ConfigError(f"{key}: must be {rule}, got {value!r}")

        def integer(key: str, low: int) -> None:
            value = getattr(self, key)
            # numbers.Integral: a search space may hand over numpy integers
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
                raise ConfigError(f"{key}: must be an integer >= {low}, got {value!r}")

        def flag(key: str, allow_none: bool = False) -> None:
            value = getattr(self, key)
            if not (isinstance(value, bool) or (allow_none and value is None)):
                raise ConfigError(f"{key}: must be true or false, got {value!r}")

        if not isinstance(self.architecture, str) or not self.architecture:
            raise ConfigError(f"architecture: must be a non-empty name, got {self.architecture!r}")
        if not isinstance(self.hparams, dict):
            raise ConfigError(f"hparams: must be a mapping of model keyword arguments, got {self.hparams!r}")
        number("learning_rate", 0.0, strict=True)
        number("weight_decay", 0.0, strict=False)
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer: must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"lr_schedule: must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if self.sampling not in SAMPLINGS:
            raise ConfigError(f"sampling: must be one of {', '.join(SAMPLINGS)}, got {self.sampling!r}")
        integer("batch_size", 1)
        integer("epochs", 1)
        integer("seed", 0)
        flag("rc_augment")
        flag("rc_average", allow_none=True)
        flag("use_accessibility")

    @property
    def strand_average(self) -> bool:
        """Whether evaluation averages the logits of both strands (rc_average, defaulting to rc_augment)."""
        return self.rc_augment if self.rc_average is None else self.rc_average


def _derived_seed(*parts: int) -> int:
    """An independent 63-bit seed for each (seed, fold, purpose, ...) tuple (numpy's SeedSequence mixing)."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1, dtype=np.uint64)[0] >> 1)


def _strand_logits(model: nn.Module, x: torch.Tensor, a: torch.Tensor | None, rc_average: bool) -> torch.Tensor:
    """x (B, 4, L) -> logits (B,), averaged over x and its reverse complement when rc_average.

    A model that is strand-invariant by construction (deepbind with both_strands) gives the same logit for
    both strands, so its second pass is skipped: half the cost of evaluation and inference.
    """
    logits = model(x, a)
    if rc_average and not getattr(model, "strand_invariant", False):
        logits = 0.5 * (logits + model(x.flip(1, 2), a))
    return logits


def bf16_hardware(device: torch.device) -> bool:
    """Whether `device` has bfloat16 matrix units that make mixed precision pay: a CUDA GPU with bf16
    support, or a CPU with AMX tiles (Intel Sapphire Rapids and later, where oneDNN runs bf16 convolutions
    and matrix products on them). Measured on the project's 2-core Xeon with AMX, one training step at
    1 thread: cnn 1.3-1.5x, deepbind 1.3x, cnn_bilstm 1.2-1.3x, lstm 1.5-2.6x faster than float32."""
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


def _onehot_to_tensor(X: np.ndarray, device: torch.device) -> torch.Tensor:
    """(N, L, 4) uint8 numpy -> (N, 4, L) float32 tensor on `device` (uint8 is moved: 4x less to copy)."""
    X = np.require(X, dtype=np.uint8, requirements=["C", "W"])  # torch.from_numpy wants writable memory
    x = torch.from_numpy(X).to(device)  # (N, L, 4) uint8
    return x.permute(0, 2, 1).contiguous().float()  # (N, L, 4) -> (N, 4, L) float32


class CVTrainer:
    """Trains the k fold models of one configuration in lockstep, one epoch at a time.

    trainer = CVTrainer(dataset, folds, TrainConfig("deepbind", {"filters": 64}, epochs=10))
    for _ in range(10):
        metrics = trainer.step_epoch()   # {'cv_weighted_accuracy': ..., 'fold0_roc_auc': ..., 'epoch': 1, ...}

    device: "cpu" or "cuda[:i]" (a trial uses CUDA when Ray gave it a GPU).
    num_threads: when given, torch.set_num_threads(num_threads) (a Ray trial sets it to its CPU share);
        left alone otherwise.
    precision: 'auto' (default), 'float32' or 'bfloat16' for the training steps (resolve_precision); the
        resolved one is `self.precision`. Validation scores and predictions are always computed in float32,
        so the metrics describe the saved model as it is served.
    fold_batching: train the k folds as ONE batched model (torch.func.vmap over their stacked parameters)
        instead of one after another. Same initialisation, same per-fold shuffling; a fold with fewer
        training rows wraps around to the longest fold's batch count. Architectures vmap cannot run
        (recurrent layers) fall back to one after another, with a warning.
    """

    def __init__(
        self,
        dataset: Dataset,
        folds: Sequence[tuple[np.ndarray, np.ndarray]],
        config: TrainConfig,
        device: str | torch.device = "cpu",
        num_threads: int | None = None,
        precision: str = "auto",
        fold_batching: bool = False,
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
        self.config = config
        self.device = torch.device(device)
        self.epoch = 0
        n = len(dataset)

        # The whole dataset goes to the device once; batches are index slices of these tensors.
        self.X = _onehot_to_tensor(dataset.X, self.device)  # (N, 4, L) float32
        self.y = torch.as_tensor(np.asarray(dataset.y), dtype=torch.float32, device=self.device)  # (N,)
        self.w = torch.as_tensor(np.asarray(dataset.w), dtype=torch.float32, device=self.device)  # (N,)
        self.a = (
            torch.as_tensor(np.asarray(dataset.a), dtype=torch.float32, device=self.device)
            if config.use_accessibility
            else None
        )
        # numpy copies of labels and weights for the metrics (seqsweep.metrics works on numpy)
        self._y_np = np.asarray(dataset.y)
        self._w_np = np.asarray(dataset.w, dtype=np.float64)
        self._weighted_sampling = config.sampling == "weighted"

        self.train_idx: list[torch.Tensor] = []
        self._w_mean: list[float] = []
        self.val_idx: list[np.ndarray] = []
        for k, (tr, va) in enumerate(folds):
            tr, va = np.asarray(tr, dtype=np.int64), np.asarray(va, dtype=np.int64)
            for name, idx in (("train", tr), ("validation", va)):
                if len(idx) == 0 or idx.min() < 0 or idx.max() >= n:
                    raise ValueError(f"fold {k}: {name} indices must be non-empty rows of the {n}-row dataset")
            self.train_idx.append(torch.from_numpy(tr).to(self.device))
            # the fold's loss normaliser (see _weighted_bce): its training rows' mean weight; 1 when rows are
            # drawn by weight and count once each (TrainConfig.sampling); an all-zero-weight fold trains on nothing
            w_mean = 1.0 if self._weighted_sampling else float(self._w_np[tr].mean())
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
                    **config.hparams,
                ).to(self.device)
            if hasattr(model, "adapt"):
                # data-dependent input scaling (e.g. kmer's max-abs scale), from this fold's training rows only
                model.adapt(self.X[self.train_idx[k]])
            self.models.append(model)
            self._generators.append(torch.Generator().manual_seed(_derived_seed(config.seed, k, 1)))
        self.precision = resolve_precision(precision, self.device, self.models[0])

        self.fold_batching = bool(fold_batching) and self._setup_fold_batching()
        # One optimizer (and schedule) per fold, or one over the stacked parameters of all folds: Adam(W)
        # works element by element, so the latter takes exactly the k separate steps.
        if self.fold_batching:
            param_groups = [list(self._stacked_params.values())]
            n_rows = [max(len(idx) for idx in self.train_idx)]
        else:
            param_groups = [list(m.parameters()) for m in self.models]
            n_rows = [len(idx) for idx in self.train_idx]
        opt_cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
        self.optimizers = [
            opt_cls(params, lr=config.learning_rate, weight_decay=config.weight_decay) for params in param_groups
        ]
        self._total_steps = [config.epochs * self._batches_per_epoch(n) for n in n_rows]
        self._steps = [0 for _ in self.optimizers]
        self.schedulers = [self._make_scheduler(o, t) for o, t in zip(self.optimizers, self._total_steps)]
        log.info(
            "%s: %d fold models of %d parameters on %s in %s%s",
            config.architecture, k_folds, sum(p.numel() for p in self.models[0].parameters()), self.device,
            self.precision,
            ", trained as one batched model" if self.fold_batching else "",
        )

    def _setup_fold_batching(self) -> bool:
        """Stack the fold models' parameters for vmap; False (with a warning) when the architecture can't."""
        params, buffers = stack_module_state(self.models)  # name -> (k, ...) leaf tensors
        skeleton = copy.deepcopy(self.models[0]).to("meta")  # structure only; the weights come from `params`

        def forward(p, b, x, a):
            return functional_call(skeleton, (p, b), (x, a))

        a_dim = 0 if self.a is not None else None
        # randomness="different": each fold draws its own dropout masks, as separate models would
        batched = vmap(forward, in_dims=(0, 0, 0, a_dim), randomness="different")
        k = len(self.models)
        x = self.X[:2].expand(k, -1, -1, -1)  # (k, 2, 4, L)
        a = self.a[:2].expand(k, -1) if self.a is not None else None
        try:
            with torch.no_grad(), _fork_rng(self.device):
                batched(params, buffers, x, a)
        except RuntimeError as e:  # e.g. "Batching rule not implemented for aten::lstm.input"
            log.warning(
                "fold_batching: architecture %r cannot be vmapped (%s); training its folds one after another",
                self.config.architecture, str(e).splitlines()[0],
            )
            return False
        self._stacked_params, self._stacked_buffers, self._batched_forward = params, buffers, batched
        return True

    # --- training ---

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
        """Fold k's training rows in this epoch's seeded order, (n_rows,), and which to flip, (n_rows,) bool.

        n_rows beyond the fold's size wraps around to the start of the order (fold batching only).
        """
        idx = self.train_idx[k]
        gen = self._generators[k]
        if self._weighted_sampling:
            # n_rows draws with replacement, each row with probability proportional to its weight
            p = self.w[idx].cpu().double()
            if not p.sum() > 0:
                raise ConfigError(f"fold {k}: sampling 'weighted' needs training rows with positive weights")
            perm = torch.multinomial(p, n_rows, replacement=True, generator=gen)
        else:
            perm = torch.randperm(len(idx), generator=gen)
        if n_rows > len(idx):
            perm = perm.repeat(math.ceil(n_rows / len(idx)))[:n_rows]
        order = idx[perm.to(self.device)]  # shuffled row numbers, (n_rows,)
        flip = None
        if self.config.rc_augment:
            flip = (torch.rand(n_rows, generator=gen) < 0.5).to(self.device)  # rows to reverse-complement
        return order, flip

    def _batch(self, rows: torch.Tensor, flip: torch.Tensor | None):
        """Index the device tensors: rows (..., B) -> x (..., B, 4, L), y, w, a (..., B)."""
        x = self.X[rows]
        if flip is not None:
            x = torch.where(flip[..., None, None], x.flip(-2, -1), x)  # flip(-2, -1): reverse complement
        a = self.a[rows] if self.a is not None else None
        y = self.y[rows]
        w = torch.ones_like(y) if self._weighted_sampling else self.w[rows]  # drawn by weight: count once
        return x, y, w, a

    @staticmethod
    def _weighted_bce(
        logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor, w_mean: float | torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Weighted BCE over the last dim, (..., B) -> (step loss, sum(w * l), sum(w)), each (...).

        The step loss is sum(w * l) / (B * w_mean), w_mean the fold's mean training weight (a (k,) tensor
        for batched folds): an unbiased estimate of the fold's weighted mean loss. Dividing by the batch's
        own sum(w) instead is biased when positives are rare: with class-balancing weights and 120 positives
        in 27k rows, most batches hold no positive and push every logit down at full strength, while the
        few that hold one are normalised by its large weight; the model then predicted all-negative
        (weighted accuracy 0.5) on JUND for many epochs.
        """
        per_row = F.binary_cross_entropy_with_logits(logits.float(), y, reduction="none")
        weighted = (w * per_row).sum(-1)
        return weighted / (y.shape[-1] * w_mean), weighted, w.sum(-1)

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
        n = len(self.train_idx[k])
        order, flip = self._epoch_order(k, n)
        model.train()
        loss_sum = torch.zeros((), device=self.device)
        weight_sum = torch.zeros((), device=self.device)
        # Dropout draws from the global RNG: seed it per (fold, epoch) so results do not depend on order.
        with _fork_rng(self.device):
            torch.manual_seed(_derived_seed(cfg.seed, k, 2, self.epoch))
            for start in range(0, n, cfg.batch_size):
                rows = order[start : start + cfg.batch_size]
                if len(rows) == 1 and n > 1:
                    break  # a single-row batch is a noisy step and breaks batch-norm layers; skip it
                x, y, w, a = self._batch(rows, None if flip is None else flip[start : start + len(rows)])
                with _autocast(self.device, self.precision):
                    logits = model(x, a)  # (B, 4, L) -> (B,)
                loss, weighted, weight = self._weighted_bce(logits, y, w, self._w_mean[k])
                self._optimizer_step(k, loss)
                # accumulate on the device; one sync per fold epoch instead of one per batch
                loss_sum += weighted.detach()
                weight_sum += weight
        epoch_loss = (loss_sum / weight_sum.clamp_min(1e-12)).item()
        self._check_loss(k, epoch_loss)
        return epoch_loss

    def _train_folds_batched(self) -> list[float]:
        """One epoch of all k folds as one vmapped model; returns each fold's weighted mean loss."""
        cfg, k_folds = self.config, len(self.models)
        n = max(len(idx) for idx in self.train_idx)
        orders, flips = zip(*(self._epoch_order(k, n) for k in range(k_folds)))
        order = torch.stack(orders)  # (k, n)
        flip = torch.stack(flips) if cfg.rc_augment else None  # (k, n)
        params, buffers = self._stacked_params, self._stacked_buffers
        loss_sum = torch.zeros(k_folds, device=self.device)
        weight_sum = torch.zeros(k_folds, device=self.device)
        w_means = torch.tensor(self._w_mean, device=self.device)  # (k,)
        with _fork_rng(self.device):
            torch.manual_seed(_derived_seed(cfg.seed, k_folds, 3, self.epoch))
            for start in range(0, n, cfg.batch_size):
                rows = order[:, start : start + cfg.batch_size]  # (k, B)
                if rows.shape[1] == 1 and n > 1:
                    break  # as in _train_fold
                x, y, w, a = self._batch(rows, None if flip is None else flip[:, start : start + rows.shape[1]])
                with _autocast(self.device, self.precision):
                    logits = self._batched_forward(params, buffers, x, a)  # (k, B, 4, L) -> (k, B)
                loss, weighted, weight = self._weighted_bce(logits, y, w, w_means)  # (k,) each
                # The folds share no parameters, so the gradient of the sum is each fold's own gradient.
                self._optimizer_step(0, loss.sum())
                loss_sum += weighted.detach()
                weight_sum += weight
        losses = (loss_sum / weight_sum.clamp_min(1e-12)).tolist()
        for k, value in enumerate(losses):
            self._check_loss(k, value)
        # Copy the trained weights back into the fold models: evaluation, saving and predict_proba use them.
        with torch.no_grad():
            for k, model in enumerate(self.models):
                for name, t in list(model.named_parameters()) + list(model.named_buffers()):
                    t.copy_((params if name in params else buffers)[name][k])
        return losses

    # --- evaluation ---

    @torch.inference_mode()
    def _val_logits(self, k: int) -> np.ndarray:
        """Fold k's model on its validation rows -> (n_val,) float64 logits (strand-averaged if configured)."""
        model = self.models[k]
        model.eval()
        idx = torch.from_numpy(self.val_idx[k]).to(self.device)
        out = []
        for start in range(0, len(idx), EVAL_BATCH_SIZE):
            b = idx[start : start + EVAL_BATCH_SIZE]
            a = self.a[b] if self.a is not None else None
            out.append(_strand_logits(model, self.X[b], a, self.config.strand_average))
        return torch.cat(out).cpu().numpy().astype(np.float64)

    def step_epoch(self) -> dict[str, float]:
        """Train every fold model for one epoch, then score each on its validation fold.

        Returns cv_{weighted_accuracy,roc_auc,pr_auc} (mean over folds) and their _std (population std,
        ddof=0), fold{k}_{weighted_accuracy,roc_auc,pr_auc} for each fold k (0-based), train_loss (mean
        over folds of each fold's weighted BCE over the epoch) and epoch (1-based).
        """
        self.epoch += 1
        if self.fold_batching:
            losses = self._train_folds_batched()
        else:
            losses = [self._train_fold(k) for k in range(len(self.models))]

        per_metric: dict[str, list[float]] = {"weighted_accuracy": [], "roc_auc": [], "pr_auc": []}
        metrics: dict[str, float] = {}
        for k in range(len(self.models)):
            logits = self._val_logits(k)
            y, w = self._y_np[self.val_idx[k]], self._w_np[self.val_idx[k]]
            fold = {
                "weighted_accuracy": weighted_accuracy(y, logits, w),
                "roc_auc": roc_auc(y, logits, w),
                "pr_auc": pr_auc(y, logits, w),
            }
            for name, value in fold.items():
                metrics[f"fold{k}_{name}"] = value
                per_metric[name].append(value)
        for name, values in per_metric.items():
            metrics[f"cv_{name}"] = float(np.mean(values))
            metrics[f"cv_{name}_std"] = float(np.std(values))
        metrics["train_loss"] = float(np.mean(losses))
        metrics["epoch"] = self.epoch
        log.debug("epoch %d: %s", self.epoch, metrics)
        return metrics

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

    def predict_proba(self, X: np.ndarray, a: np.ndarray | None = None, *, batch_size: int = EVAL_BATCH_SIZE) -> np.ndarray:
        """The fold ensemble's probabilities for (N, L, 4) one-hot X (see module-level predict_proba)."""
        return predict_proba(
            self.models, X, a, batch_size=batch_size, rc_average=self.config.strand_average, device=self.device
        )


@torch.inference_mode()
def predict_proba(
    models: Sequence[nn.Module],
    X: np.ndarray,
    a: np.ndarray | None = None,
    *,
    batch_size: int = EVAL_BATCH_SIZE,
    rc_average: bool,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Ensemble probabilities (N,) float32 for one-hot X (N, L, 4) uint8 [and accessibility a (N,)].

    Each model's logit is averaged over the two strands when rc_average; the ensemble is the mean over the
    models of sigmoid(logit): a fold ensemble averages PROBABILITIES (DESIGN.md). The models are put in
    eval mode and must already be on `device`. Holds no training state, so the pyfunc model reuses it.
    """
    if len(models) == 0:
        raise ValueError("predict_proba: needs at least one model")
    X = np.asarray(X)
    if X.ndim != 3 or X.shape[2] != 4:
        raise DataError(f"X: must be one-hot sequences of shape (N, L, 4), got shape {X.shape}")
    if a is not None and np.shape(a) != (X.shape[0],):
        raise DataError(f"accessibility: must have shape ({X.shape[0]},) to match X, got {np.shape(a)}")
    device = torch.device(device)
    for m in models:
        m.eval()
    out = np.empty(X.shape[0], dtype=np.float32)
    for start in range(0, X.shape[0], batch_size):
        # convert batch by batch so a large input never exists as a float32 copy all at once
        x = _onehot_to_tensor(X[start : start + batch_size], device)  # (B, 4, L)
        ab = None if a is None else torch.as_tensor(np.asarray(a[start : start + batch_size]), dtype=torch.float32, device=device)
        p = torch.zeros(x.shape[0], device=device)
        for m in models:
            p += torch.sigmoid(_strand_logits(m, x, ab, rc_average).float())
        out[start : start + x.shape[0]] = (p / len(models)).cpu().numpy()
    return out
