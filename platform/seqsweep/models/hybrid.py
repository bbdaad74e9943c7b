"""Hybrid architectures: a convolutional motif scanner feeding a recurrent layer (DanQ-like)."""

from __future__ import annotations

from typing import Annotated

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqsweep.errors import ModelError
from seqsweep.models._common import (
    OutputLayer,
    PositionConv,
    PositionMaxPool,
    SequenceModel,
    align_left,
    channels_last,
    masked_max_mean,
    run_rnn,
)
from seqsweep.models._registry import register_model
from seqsweep.models.hparams import Accessibility, Choice, Count, Dropout, Outputs, SeqLen, Width


@register_model("cnn_bilstm")
class CNNBiLSTM(SequenceModel):
    """DanQ-like: conv motif scanner, max-pool, BiLSTM over the pooled positions, dense.

    x (B, 4, L) -> conv(filters, kernel_size) -> max-pool(pool), ReLU -> dropout -> (B, L', filters)
      -> BiLSTM(hidden_size) (B, L', 2H) -> readout -> dropout -> linear(hidden_size), ReLU, dropout
      -> logits, with L' = (L - kernel_size + 1) // pool.
    readout 'flatten' (DanQ's) keeps where along the sequence things happened, for one input length;
    'max' and 'mean' pool over L' and read any length. With a mask, the BiLSTM reads each row's real steps
    only (packed), and padded steps are zero in the flattened readout and skipped by the pooled ones.
    Pooling first leaves the LSTM a dozen steps instead of 101, which keeps it affordable on CPU.
    """

    def __init__(
        self,
        seq_len: SeqLen = 101,
        use_accessibility: Accessibility = False,
        n_outputs: Outputs = 1,
        hidden_size: Count = 32,
        dropout: Dropout = 0.25,
        filters: Count = 64,
        kernel_size: Width = 11,
        pool: Width = 8,
        readout: Annotated[str, Choice(("flatten", "max", "mean"))] = "flatten",
    ):
        super().__init__(seq_len, use_accessibility, hidden_size, dropout, n_outputs)
        self.filters, self.kernel_size, self.pool, self.readout = filters, kernel_size, pool, readout
        steps = (self.seq_len - self.kernel_size + 1) // self.pool
        if steps < 1:
            raise ModelError(
                f"architecture {self.name!r}: pool={self.pool} leaves no position of the "
                f"{self.seq_len - self.kernel_size + 1} the conv (kernel_size={self.kernel_size}) outputs "
                f"for seq_len={self.seq_len}; use a smaller pool or kernel_size"
            )
        self.steps = steps

        # Conv1d and MaxPool1d in their faster channels-last 2D forms (same parameters; models/_common.py)
        self.scan = nn.Sequential(
            PositionConv(4, self.filters, self.kernel_size),
            PositionMaxPool(self.pool),  # before ReLU: they commute, and ReLU then runs on fewer values
            nn.ReLU(),
            nn.Dropout(self.dropout),
        )
        self.rnn = nn.LSTM(self.filters, self.hidden_size, batch_first=True, bidirectional=True)
        width = (steps if self.readout == "flatten" else 1) * 2 * self.hidden_size
        self.dense = nn.Sequential(
            nn.Dropout(self.dropout),
            nn.Linear(width, self.hidden_size),
            nn.ReLU(),
            nn.Dropout(self.dropout),
        )
        self.out = OutputLayer(self.hidden_size, self.use_accessibility, self.n_outputs)

    @property
    def length_agnostic(self) -> bool:  # type: ignore[override]
        return self.readout != "flatten"

    @property
    def min_length(self) -> int:
        return self.kernel_size + self.pool - 1

    def forward(self, x: torch.Tensor, a: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, 4, L) float one-hot, a (B,) accessibility or None, mask (B, L) or None -> logits."""
        self.check_input(x, a, mask)
        lengths = None
        if mask is not None:
            x, lengths = align_left(x, mask)  # real positions first
        h = self.scan(channels_last(x))  # (B, 4, L) -> (B, 4, 1, L) -> (B, F, 1, L'), stored as (B, L', F)
        h = h.squeeze(2).transpose(1, 2)  # (B, L', F), no copy
        if lengths is None:
            h, _ = run_rnn(self.rnn, h)  # (B, L', F) -> (B, L', 2H)
            valid = None
        else:
            steps = ((lengths - self.kernel_size + 1) // self.pool).clamp(1, h.shape[1])  # real steps per row
            packed = pack_padded_sequence(h, steps.cpu(), batch_first=True, enforce_sorted=False)
            h, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=h.shape[1])  # zeros past the end
            valid = (torch.arange(h.shape[1], device=h.device)[None, :] < steps[:, None]).unsqueeze(2)  # (B, L', 1)
        if self.readout == "flatten":
            h = h.flatten(1)  # (B, L' * 2H)
        elif valid is None:
            h = h.amax(1) if self.readout == "max" else h.mean(1)  # (B, L', 2H) -> (B, 2H)
        else:
            h = _masked_pool(h, valid, self.readout)
        h = self.dense(h)  # -> (B, H)
        return self.out(h, a)


def _masked_pool(h: torch.Tensor, valid: torch.Tensor, readout: str) -> torch.Tensor:
    """(B, L', C) over the valid steps (B, L', 1): max (LSTM outputs can be negative, so padding is -inf) or mean."""
    if readout == "max":
        return h.masked_fill(~valid, float("-inf")).amax(1)
    return masked_max_mean(h, valid, dim=1)[1]
