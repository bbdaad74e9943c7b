"""Recurrent architectures: rnn, lstm, gru and bilstm, one class with the cell type as a class attribute.

They read the sequence one position at a time, so a trial costs tens of times a CNN trial on CPU (the
steps cannot run in parallel). `pool` max-pools the input first to cut the number of steps; `k` > 1 reads
non-overlapping k-mer tokens (L / k steps), `embedding` > 0 learns a vector per token instead of one-hot.
"""

from __future__ import annotations

from typing import Annotated

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqsweep.models._common import OutputLayer, SequenceModel, align_left, run_rnn
from seqsweep.models._registry import register_model
from seqsweep.models.hparams import Accessibility, Choice, Count, Dropout, Int, Outputs, SeqLen, Width

#: Tokens per k: the 4**k k-mers, one for a k-mer holding an N, one for padding.
def n_tokens(k: int) -> int:
    return 4**k + 2


def tokens(x: torch.Tensor, k: int, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """x (B, 4, L) one-hot -> (B, L // k) int64 token ids of the non-overlapping k-mers.

    A k-mer's id is its base-4 code (A,C,G,T = 0..3, first base most significant), 4**k when it holds an N,
    4**k + 1 (the padding id) when it reaches past the row's length (lengths (B,), real positions first).
    """
    B, _, L = x.shape
    steps = L // k
    code = torch.einsum("bcl,c->bl", x[:, :, : steps * k], torch.arange(4, dtype=x.dtype, device=x.device))
    known = x[:, :, : steps * k].sum(1) > 0.5  # (B, steps * k): False at N
    code = code.round().long().view(B, steps, k)
    place = 4 ** torch.arange(k - 1, -1, -1, device=x.device)
    ids = (code * place).sum(2)  # (B, steps)
    ids = torch.where(known.view(B, steps, k).all(2), ids, torch.full_like(ids, 4**k))
    if lengths is not None:
        past = torch.arange(steps, device=x.device)[None, :] >= (lengths // k)[:, None]
        ids = torch.where(past, torch.full_like(ids, 4**k + 1), ids)
    return ids


class _Recurrent(SequenceModel):
    """Base: x (B, 4, L) -> [k-mer tokens -> embedding] -> max-pool(pool) -> RNN (B, L', D*H)
    -> last state or mean over positions -> dense -> logits.

    D = 2 for a bidirectional cell. With a mask, padded positions are never read: rows are packed at their
    own lengths, so the last state is the one after the last real position (for each direction) and the mean
    is over real positions only. Subclasses pick the cell; the constructor (hence the hyperparameters the
    registry reports) is shared.
    """

    cell: type[nn.RNNBase] = nn.RNN
    bidirectional: bool = False
    length_agnostic = True

    def __init__(
        self,
        seq_len: SeqLen = 101,
        use_accessibility: Accessibility = False,
        n_outputs: Outputs = 1,
        hidden_size: Count = 32,
        dropout: Dropout = 0.25,
        num_layers: Count = 1,
        pool: Width = 1,
        readout: Annotated[str, Choice(("last", "mean"))] = "mean",
        embedding: Annotated[int, Int(0)] = 0,
        # 4**6 tokens is where an embedding table outgrows the rest of the model
        k: Annotated[int, Int(1, 6, seq_len=True)] = 1,
    ):
        super().__init__(seq_len, use_accessibility, hidden_size, dropout, n_outputs)
        self.num_layers, self.pool, self.readout, self.embedding, self.k = num_layers, pool, readout, embedding, k

        if self.embedding:
            self.embed = nn.Embedding(n_tokens(self.k), self.embedding, padding_idx=n_tokens(self.k) - 1)
            features = self.embedding
        else:
            features = 4 if self.k == 1 else 4**self.k + 1  # one-hot bases, or one-hot tokens (N token included)
        self.input_size = features
        # Max-pooling a one-hot sequence keeps which bases occur in each window of `pool` positions.
        self.downsample = nn.MaxPool1d(self.pool) if self.pool > 1 else nn.Identity()
        self.rnn = self.cell(
            input_size=features,
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
        self.out = OutputLayer(self.hidden_size, self.use_accessibility, self.n_outputs)

    @property
    def min_length(self) -> int:
        return self.k * self.pool

    def _features(self, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        """x (B, 4, L) -> the RNN's input (B, F, L // k)."""
        if self.k == 1 and not self.embedding:
            return x
        ids = tokens(x, self.k, lengths)  # (B, L // k)
        if self.embedding:
            return self.embed(ids).transpose(1, 2)  # (B, L // k, E) -> (B, E, L // k)
        one_hot = F.one_hot(ids, n_tokens(self.k))[..., : n_tokens(self.k) - 1]  # padding: all zeros
        return one_hot.to(x.dtype).transpose(1, 2)  # (B, F, L // k)

    def forward(self, x: torch.Tensor, a: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, 4, L) float one-hot, a (B,) accessibility or None, mask (B, L) or None -> logits."""
        self.check_input(x, a, mask)
        lengths = None
        if mask is not None:
            x, lengths = align_left(x, mask)  # real positions first, lengths (B,)
        h = self.downsample(self._features(x, lengths))  # (B, F, L) -> (B, F, L' = L // k // pool)
        h = h.transpose(1, 2)  # (B, L', F)
        if lengths is None:
            outputs, state = run_rnn(self.rnn, h)  # (B, L', D*H)
            mean = outputs.mean(1) if self.readout == "mean" else None
        else:
            steps = (lengths // (self.k * self.pool)).clamp(1, h.shape[1])  # positions the RNN reads per row
            packed = pack_padded_sequence(h, steps.cpu(), batch_first=True, enforce_sorted=False)
            out_packed, state = self.rnn(packed)
            mean = None
            if self.readout == "mean":
                outputs, _ = pad_packed_sequence(out_packed, batch_first=True)  # zeros past each row's end
                mean = outputs.sum(1) / steps.to(outputs.dtype)[:, None]
        if self.readout == "mean":
            h = mean  # (B, L', D*H) -> (B, D*H)
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
