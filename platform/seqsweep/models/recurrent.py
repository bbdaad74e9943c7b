"""Recurrent architectures: rnn, lstm, gru and bilstm, one class with the cell type as a class attribute.

They read the sequence one position at a time, so a trial costs tens of times a CNN trial on CPU (the
101 steps cannot run in parallel). `pool` max-pools the sequence first to cut the number of steps.
"""

from __future__ import annotations

import torch
from torch import nn

from seqsweep.models._common import OutputLayer, SequenceModel
from seqsweep.models._registry import register_model


class _Recurrent(SequenceModel):
    """Base: x (B, 4, L) -> max-pool(pool) -> RNN (B, L', D*H) -> last state or mean -> dense -> (B,) logits.

    D = 2 for a bidirectional cell. Subclasses pick the cell; the constructor (hence the hyperparameters
    the registry reports) is shared.
    """

    cell: type[nn.RNNBase] = nn.RNN
    bidirectional: bool = False

    def __init__(
        self,
        seq_len: int = 101,
        use_accessibility: bool = False,
        hidden_size: int = 32,
        dropout: float = 0.25,
        num_layers: int = 1,
        pool: int = 1,
        readout: str = "mean",
    ):
        super().__init__(seq_len, use_accessibility, hidden_size, dropout)
        self.num_layers = self.check_int("num_layers", num_layers, low=1)
        self.pool = self.check_int("pool", pool, low=1, high=self.seq_len, why=" (<= seq_len)")
        self.readout = self.check_choice("readout", readout, ("last", "mean"))

        # Max-pooling a one-hot sequence keeps which bases occur in each window of `pool` positions.
        self.downsample = nn.MaxPool1d(self.pool) if self.pool > 1 else nn.Identity()
        self.rnn = self.cell(
            input_size=4,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            batch_first=True,
            # nn.RNNBase applies dropout between stacked layers only, and warns when there are none.
            dropout=self.dropout if self.num_layers > 1 else 0.0,
            bidirectional=self.bidirectional,
        )
        self.directions = 2 if self.bidirectional else 1
        self.dense = nn.Sequential(
            nn.Linear(self.directions * self.hidden_size, self.hidden_size), nn.ReLU(), nn.Dropout(self.dropout)
        )
        self.out = OutputLayer(self.hidden_size, self.use_accessibility)

    def forward(self, x: torch.Tensor, a: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, 4, L) float one-hot, a (B,) accessibility or None -> (B,) logits."""
        self.check_input(x, a)
        x = self.downsample(x)  # (B, 4, L) -> (B, 4, L // pool)
        outputs, state = self.rnn(x.transpose(1, 2))  # (B, L', 4) -> (B, L', D*H)
        if self.readout == "mean":
            h = outputs.mean(1)  # (B, L', D*H) -> (B, D*H)
        else:
            # The final hidden state of the top layer in each direction: for the backward direction that
            # is its state after reading position 0, which outputs[:, -1] would miss.
            h_n = state[0] if isinstance(state, tuple) else state  # LSTMs return (h_n, c_n)
            h = h_n[-self.directions :].transpose(0, 1).reshape(x.shape[0], -1)  # (D, B, H) -> (B, D*H)
        h = self.dense(h)  # (B, D*H) -> (B, H)
        return self.out(h, a)


@register_model("rnn")
class RNN(_Recurrent):
    """Elman RNN (tanh) over the positions, last state or mean over positions -> dense."""

    cell = nn.RNN


@register_model("lstm")
class LSTM(_Recurrent):
    """LSTM over the positions, last state or mean over positions -> dense."""

    cell = nn.LSTM


@register_model("gru")
class GRU(_Recurrent):
    """GRU over the positions, last state or mean over positions -> dense."""

    cell = nn.GRU


@register_model("bilstm")
class BiLSTM(_Recurrent):
    """Bidirectional LSTM over the positions, last states or mean over positions -> dense."""

    cell = nn.LSTM
    bidirectional = True
