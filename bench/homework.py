"""The field's homework loop: the baseline seqsweep's trainer is compared with.

This is how a DNA-sequence classifier is usually trained in course notebooks: a torch Dataset that turns one
numpy row into tensors per __getitem__, a DataLoader at batch size 100 with shuffle=True, Adam, a weighted
BCE loss, and the k folds trained one after another. The architecture is the one seqsweep builds (create_model
with its defaults: the same layers, parameters and outputs), written the way a notebook writes it:
nn.Conv1d and max-pooling on (B, C, L) tensors, each strand scanned on its own (`plain_model`), where
seqsweep's own modules run channels-last 2D kernels and one scan with both strands' filters.

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
from seqsweep.models.cnn import CNN, DeepBind
from seqsweep.models.hybrid import CNNBiLSTM

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


class _PlainCNN(CNN):
    def forward(self, x, a=None):
        h = x
        for i in range(self.num_layers):  # conv 'same' -> max-pool -> ReLU, on (B, C, L)
            conv = self.convs[3 * i]
            h = F.relu(F.max_pool1d(F.conv1d(h, conv.weight, conv.bias, padding="same"), self.pool))
        return self.out(self.dense(h.flatten(1)), a)


class _PlainDeepBind(DeepBind):
    def forward(self, x, a=None):
        def scan(s):  # one strand: conv, ReLU, global max (and mean) over positions
            h = F.relu(F.conv1d(s, self.conv.weight, self.conv.bias))
            return torch.cat([h.max(2).values, h.mean(2)], 1) if self.pool == "maxavg" else h.max(2).values

        h = scan(x)
        if self.both_strands:
            h = torch.maximum(h, scan(x.flip(1, 2)))  # the reverse complement, scanned apart
        return self.out(self.dense(h), a)


class _PlainCNNBiLSTM(CNNBiLSTM):
    def forward(self, x, a=None):
        conv, dropout = self.scan[0], self.scan[3]
        h = dropout(F.relu(F.max_pool1d(F.conv1d(x, conv.weight, conv.bias), self.pool)))
        h, _ = self.rnn(h.transpose(1, 2))
        return self.out(self.dense(h.flatten(1)), a)


_PLAIN = {"cnn": _PlainCNN, "deepbind": _PlainDeepBind, "cnn_bilstm": _PlainCNNBiLSTM}


def plain_model(architecture: str, seq_len: int) -> torch.nn.Module:
    """create_model's network with its default hyperparameters, with a notebook's forward pass; the recurrent
    models have nothing to rewrite (nn.LSTM either way)."""
    model = create_model(architecture, seq_len=seq_len)
    cls = _PLAIN.get(architecture)
    if cls is not None:
        model.__class__ = cls  # same modules and parameters; only forward differs
    return model


def check_plain_model(architecture: str, seq_len: int = 101) -> float:
    """Max |difference| of the logits of plain_model and create_model with the same weights (a sanity check)."""
    torch.manual_seed(0)
    fast = create_model(architecture, seq_len=seq_len).eval()
    plain = plain_model(architecture, seq_len).eval()
    plain.load_state_dict(fast.state_dict())
    x = F.one_hot(torch.randint(0, 4, (8, seq_len)), 4).float().transpose(1, 2)
    with torch.no_grad():
        return float((fast(x) - plain(x)).abs().max())


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
    models = [plain_model(architecture, dataset.seq_len) for _ in folds]
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
