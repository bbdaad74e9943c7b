"""Hybrid architectures: a convolutional motif scanner feeding a recurrent layer (DanQ-like)."""

from __future__ import annotations

import torch
from torch import nn

from seqsweep.errors import ModelError
from seqsweep.models._common import OutputLayer, PositionConv, PositionMaxPool, SequenceModel, channels_last
from seqsweep.models._registry import register_model


@register_model("cnn_bilstm")
class CNNBiLSTM(SequenceModel):
    """DanQ-like: conv motif scanner, max-pool, BiLSTM over the pooled positions, dense.

    x (B, 4, L) -> conv(filters, kernel_size) -> max-pool(pool), ReLU -> dropout -> (B, L', filters)
      -> BiLSTM(hidden_size) (B, L', 2H) -> flatten -> dropout -> linear(hidden_size), ReLU, dropout
      -> (B,) logits, with L' = (L - kernel_size + 1) // pool.
    Pooling first leaves the LSTM a dozen steps instead of 101, which keeps it affordable on CPU.
    """

    def __init__(
        self,
        seq_len: int = 101,
        use_accessibility: bool = False,
        hidden_size: int = 32,
        dropout: float = 0.25,
        filters: int = 64,
        kernel_size: int = 11,
        pool: int = 8,
    ):
        super().__init__(seq_len, use_accessibility, hidden_size, dropout)
        self.filters = self.check_int("filters", filters, low=1)
        self.kernel_size = self.check_int("kernel_size", kernel_size, low=1, high=self.seq_len, why=" (<= seq_len)")
        self.pool = self.check_int("pool", pool, low=1, high=self.seq_len, why=" (<= seq_len)")
        steps = (self.seq_len - self.kernel_size + 1) // self.pool
        if steps < 1:
            raise ModelError(
                f"architecture {self.name!r}: pool={self.pool} leaves no position of the "
                f"{self.seq_len - self.kernel_size + 1} the conv (kernel_size={self.kernel_size}) outputs "
                f"for seq_len={self.seq_len}; use a smaller pool or kernel_size"
            )

        # Conv1d and MaxPool1d in their faster channels-last 2D forms (same parameters; models/_common.py)
        self.scan = nn.Sequential(
            PositionConv(4, self.filters, self.kernel_size),
            PositionMaxPool(self.pool),  # before ReLU: they commute, and ReLU then runs on fewer values
            nn.ReLU(),
            nn.Dropout(self.dropout),
        )
        self.rnn = nn.LSTM(self.filters, self.hidden_size, batch_first=True, bidirectional=True)
        # Flattening (rather than pooling) the LSTM outputs keeps where along the sequence things happened.
        self.dense = nn.Sequential(
            nn.Dropout(self.dropout),
            nn.Linear(steps * 2 * self.hidden_size, self.hidden_size),
            nn.ReLU(),
            nn.Dropout(self.dropout),
        )
        self.out = OutputLayer(self.hidden_size, self.use_accessibility)

    def forward(self, x: torch.Tensor, a: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, 4, L) float one-hot, a (B,) accessibility or None -> (B,) logits."""
        self.check_input(x, a)
        h = self.scan(channels_last(x))  # (B, 4, L) -> (B, 4, 1, L) -> (B, F, 1, L'), stored as (B, L', F)
        h, _ = self.rnn(h.squeeze(2).transpose(1, 2))  # (B, L', F), no copy -> (B, L', 2H)
        h = self.dense(h.flatten(1))  # (B, L' * 2H) -> (B, H)
        return self.out(h, a)
