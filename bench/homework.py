"""The field's homework loop: the baseline seqsweep's trainer is compared with.

This is how a DNA-sequence classifier is usually trained in course notebooks: a torch Dataset that turns one
numpy row into tensors per __getitem__, a DataLoader at batch size 100 with shuffle=True, Adam, a weighted
BCE loss, and the k folds trained one after another. The architecture is the same nn.Module seqsweep builds
(create_model with its defaults), so the comparison measures the training loop, not the model.

After each fold's epoch the fold model is scored on its validation rows (batch 100, no grad), as the homework
does and as CVTrainer.step_epoch does, so both sides of the comparison do the same work.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Subset

from seqsweep.models import create_model

BATCH_SIZE = 100


class OneHotDataset(Dataset):
    """One sample per __getitem__, converted from numpy to tensors each time (the homework's data path)."""

    def __init__(self, X: np.ndarray, y: np.ndarray, w: np.ndarray):
        self.X, self.y, self.w = X, y, w

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        x = torch.tensor(self.X[i].T, dtype=torch.float32)  # (L, 4) uint8 -> (4, L) float32
        return x, torch.tensor(self.y[i], dtype=torch.float32), torch.tensor(self.w[i], dtype=torch.float32)


def _weighted_accuracy(y: np.ndarray, logits: np.ndarray, w: np.ndarray) -> float:
    return float(np.sum(w * ((logits > 0) == (y == 1))) / np.sum(w))


def train_folds_one_epoch(
    dataset, folds: Sequence[tuple[np.ndarray, np.ndarray]], architecture: str, seed: int = 0
) -> dict[str, float]:
    """Build the k fold models, then train each for one epoch and score it, fold after fold.

    Returns {"build_s", "epoch_s", "train_rows", "cv_weighted_accuracy"}; epoch_s covers training and
    scoring of all folds (model building is timed apart, as for CVTrainer).
    """
    import time

    full = OneHotDataset(dataset.X, np.asarray(dataset.y), np.asarray(dataset.w, dtype=np.float32))
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    models = [create_model(architecture, seq_len=dataset.seq_len) for _ in folds]
    build_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    accuracies, train_rows = [], 0
    for model, (train_idx, val_idx) in zip(models, folds):
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loader = DataLoader(Subset(full, train_idx.tolist()), batch_size=BATCH_SIZE, shuffle=True)
        model.train()
        for x, y, w in loader:
            logits = model(x)
            loss = (F.binary_cross_entropy_with_logits(logits, y, reduction="none") * w).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        train_rows += len(train_idx)

        model.eval()
        out = []
        with torch.no_grad():
            for x, _, _ in DataLoader(Subset(full, val_idx.tolist()), batch_size=BATCH_SIZE):
                out.append(model(x).numpy())
        accuracies.append(_weighted_accuracy(full.y[val_idx], np.concatenate(out), full.w[val_idx]))
    epoch_s = time.perf_counter() - t0
    return {
        "build_s": build_s,
        "epoch_s": epoch_s,
        "train_rows": train_rows,
        "cv_weighted_accuracy": float(np.mean(accuracies)),
    }
