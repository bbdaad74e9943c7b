"""What every architecture shares: hyperparameter checks, the input validator and the output layer.

Inputs, for every architecture:
    x:    (B, 4, L) float32 one-hot, channels first, in A, C, G, T order (an N is an all-zero column).
    a:    (B,) float32 accessibility, or None; used only when the model was built with use_accessibility=True.
    mask: (B, L) bool, True at real sequence positions and False at padding, or None (no padding). Recurrent
          models and models with global pooling ignore padded positions; the others read padding as N.
Output: (B,) float32 logits for one output (binary), (B, n_outputs) for more (multilabel: a sigmoid per
output; multiclass: a softmax over them).
"""

from __future__ import annotations

import torch
from torch import nn

from seqsweep.errors import ModelError


class ModelInputError(ModelError, ValueError):
    """A tensor passed to a model has the wrong shape or dtype.

    A ValueError for callers that treat it as a programming error, and a ModelError so that the CLI reports
    it as one line (e.g. sequences of the wrong length given to `predict`).
    """


def check_input(
    x: torch.Tensor,
    a: torch.Tensor | None,
    *,
    seq_len: int,
    use_accessibility: bool,
    model: str,
    mask: torch.Tensor | None = None,
    min_length: int | None = None,
) -> None:
    """Check x (B, 4, seq_len) and, when the model uses them, a (B,) and mask (B, L); raise ModelInputError
    naming the bad tensor. min_length: given for length-agnostic models, which take any L >= min_length."""
    if not isinstance(x, torch.Tensor):
        raise ModelInputError(f"{model}: input x must be a torch.Tensor, got {type(x).__name__}")
    if min_length is not None and x.ndim == 3 and x.shape[1] == 4:
        if x.shape[2] < min_length:
            raise ModelInputError(f"{model}: input x must have at least {min_length} positions, got {tuple(x.shape)}")
    elif x.ndim != 3 or x.shape[1] != 4 or x.shape[2] != seq_len:
        hint = ""
        if x.ndim == 3 and x.shape[2] == 4 and x.shape[1] == seq_len:
            # The datasets hold (N, L, 4); forgetting the transpose is the likely mistake.
            hint = " (it looks channels-last: pass x.transpose(1, 2))"
        raise ModelInputError(
            f"{model}: input x must have shape (B, 4, {seq_len}) (one-hot, channels first), "
            f"got {tuple(x.shape)}{hint}"
        )
    if not x.is_floating_point():
        raise ModelInputError(f"{model}: input x must be a floating-point tensor, got {x.dtype}")
    if mask is not None and (mask.dtype != torch.bool or mask.shape != (x.shape[0], x.shape[2])):
        raise ModelInputError(f"{model}: mask must be a bool tensor of shape {(x.shape[0], x.shape[2])}, got {mask.dtype} {tuple(mask.shape)}")
    if not use_accessibility:
        return  # a is ignored: callers may pass whatever the dataset holds
    if a is None:
        raise ModelInputError(f"{model}: was built with use_accessibility=True, so forward needs a, got None")
    if not isinstance(a, torch.Tensor) or a.shape != (x.shape[0],):
        got = tuple(a.shape) if isinstance(a, torch.Tensor) else type(a).__name__
        raise ModelInputError(f"{model}: input a (accessibility) must have shape ({x.shape[0]},), got {got}")


class SequenceModel(nn.Module):
    """Base class: stores the data arguments and the shared hyperparameters, validates inputs.

    Subclasses declare their hyperparameters with the types of models/hparams.py (register_model checks every
    value against its type's rule before the constructor runs), call
    `super().__init__(seq_len, use_accessibility, hidden_size, dropout, n_outputs)` first and
    `self.check_input(x, a, mask)` at the top of forward.
    """

    architecture: str = ""  # set by register_model
    # Whether the model reads sequences of any length >= min_length (recurrent models, global pooling): such
    # a model scores a padded sequence with its mask as it scores the unpadded sequence.
    length_agnostic: bool = False
    # Whether bf16 mixed precision speeds up training (seqsweep.train.resolve_precision, precision 'auto'):
    # true for the convolutional and recurrent models; the models made of a few small matrix products got
    # slower with it and set it false (docs/design.md#mixed-precision).
    bf16_pays: bool = True

    def __init__(
        self, seq_len: int, use_accessibility: bool, hidden_size: int, dropout: float, n_outputs: int = 1
    ):
        super().__init__()
        self.seq_len = int(seq_len)
        self.n_outputs = int(n_outputs)
        self.use_accessibility = use_accessibility
        self.hidden_size = int(hidden_size)
        self.dropout = float(dropout)

    @property
    def name(self) -> str:
        return self.architecture or type(self).__name__

    @property
    def min_length(self) -> int:
        """The shortest input a length-agnostic model reads (its first kernel)."""
        return 1

    def check_input(self, x: torch.Tensor, a: torch.Tensor | None, mask: torch.Tensor | None = None) -> None:
        check_input(
            x, a, seq_len=self.seq_len, use_accessibility=self.use_accessibility, model=self.name, mask=mask,
            min_length=self.min_length if self.length_agnostic else None,
        )


class OutputLayer(nn.Module):
    """features (B, F) [+ accessibility (B,)] -> logits (B,) for one output, (B, n_outputs) for more.

    The head is sized from the task (seqsweep.tasks): 1 for binary, T tasks, C classes. The accessibility
    value joins the features right before it, so it acts as one more learned input alongside what the
    network read from the sequence.
    """

    def __init__(self, in_features: int, use_accessibility: bool, n_outputs: int = 1):
        super().__init__()
        self.use_accessibility = use_accessibility
        self.n_outputs = n_outputs
        self.linear = nn.Linear(in_features + int(use_accessibility), n_outputs)

    def forward(self, h: torch.Tensor, a: torch.Tensor | None = None) -> torch.Tensor:
        if self.use_accessibility:
            h = torch.cat([h, a.to(h.dtype).unsqueeze(1)], dim=1)  # (B, F) -> (B, F + 1)
        out = self.linear(h)  # (B, F) -> (B, n_outputs)
        return out.squeeze(1) if self.n_outputs == 1 else out


# --------------------------------------------------------------------------------------------------------------
# Padding: masks of real positions
# --------------------------------------------------------------------------------------------------------------
def align_left(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Move each row's real positions to the start: x (B, C, L), mask (B, L) -> (x', lengths (B,) int64).

    Padding placed before a sequence (pad: left or center) then comes after it, where packing and
    readouts expect it. The rows are rotated, so what was padding wraps round to the end.
    """
    lengths = mask.sum(1)
    starts = mask.to(torch.int8).argmax(1)  # first real position (0 for a row with none)
    if bool((starts == 0).all()):
        return x, lengths
    L = x.shape[-1]
    idx = (torch.arange(L, device=x.device) + starts[:, None]) % L  # (B, L)
    return x.gather(2, idx[:, None, :].expand(-1, x.shape[1], -1)), lengths


def window_mask(mask: torch.Tensor, k: int) -> torch.Tensor:
    """(B, L) real positions -> (B, L - k + 1): the windows of k positions that lie wholly on real sequence
    (spans are contiguous, so both ends inside means every position inside)."""
    return mask[:, : mask.shape[1] - k + 1] & mask[:, k - 1 :]


def masked_max_mean(h: torch.Tensor, valid: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Max and mean of non-negative features h over the valid positions along `dim` (valid broadcasts to h).

    Zero at padded positions leaves the max of non-negative (post-ReLU) values unchanged; a row without a
    valid position pools to 0.
    """
    v = valid.to(h.dtype)
    hv = h * v
    count = v.sum(dim).clamp_min(1)
    return hv.amax(dim), hv.sum(dim) / count


# --------------------------------------------------------------------------------------------------------------
# Convolution over positions in channels-last memory
# --------------------------------------------------------------------------------------------------------------
def channels_last(x: torch.Tensor) -> torch.Tensor:
    """(B, C, L) -> (B, C, 1, L) stored channels-last, i.e. position by position with the C channels of a
    position next to each other (the (N, L, 4) layout the one-hot data comes in).

    On CPU, oneDNN's 2D convolution and PyTorch's max-pool kernels are much faster on this layout than their
    1D counterparts on (B, C, L) (docs/design.md#channels-last).
    """
    return x.unsqueeze(2).contiguous(memory_format=torch.channels_last)


class PositionConv(nn.Conv1d):
    """An nn.Conv1d (same parameters, same state_dict, same output) that runs on channels_last(x) input as a
    2D convolution with a (1, kernel_size) kernel: (B, C_in, 1, L) -> (B, C_out, 1, L_out), channels-last."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.padding_mode != "zeros":  # not used by seqsweep's models; refused when built, not per step
            raise NotImplementedError("PositionConv supports padding_mode='zeros' only")

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        padding = self.padding if isinstance(self.padding, str) else (0, self.padding[0])
        return nn.functional.conv2d(
            h,
            self.weight.unsqueeze(2),  # (C_out, C_in, k) -> (C_out, C_in, 1, k), a view
            self.bias,
            stride=(1, self.stride[0]),
            padding=padding,
            dilation=(1, self.dilation[0]),
            groups=self.groups,
        )


class PositionMaxPool(nn.MaxPool2d):
    """nn.MaxPool1d(pool) for channels_last(x) input: (B, C, 1, L) -> (B, C, 1, L // pool), channels-last."""

    def __init__(self, pool: int):
        super().__init__((1, pool))


#: Bytes of one LSTM call's saved activations kept near a CPU core's L2 cache (1 MiB a core where measured).
#: The oneDNN LSTM that torch runs on CPU slows sharply once a training batch's activations outgrow it:
#: lstm (101 steps, 32 units) trained at 6.5k rows/s in batches of 256 and at 10.5-11k in chunks of 32-64;
#: cnn_bilstm's BiLSTM (11 steps) at 8.0k and 11.1k in chunks of 128 (docs/design.md#recurrent-chunks).
LSTM_CHUNK_BYTES = 2 * 2**20


def lstm_chunk_rows(rnn: nn.LSTM, steps: int) -> int:
    """Rows per chunk for a training call of `rnn` over `steps` positions: a power of two, at least 32."""
    per_row = steps * (2 if rnn.bidirectional else 1) * rnn.num_layers * 4 * rnn.hidden_size * 4  # float32 gates
    rows = max(1, LSTM_CHUNK_BYTES // max(1, per_row))
    return max(32, 1 << (rows.bit_length() - 1))


def run_rnn(rnn: nn.RNNBase, h: torch.Tensor):
    """rnn(h) for h (B, L', F) batch-first -> (outputs (B, L', D*H), final state), as nn.RNNBase returns them.

    A CPU training call of an LSTM runs over chunks of rows (lstm_chunk_rows) and concatenates them: rows never
    interact in a recurrent layer, so the outputs are the same bits; the weight gradients are the same sums in
    another order (differences ~1e-8). Inference, GPUs and the other cells get one call.
    """
    if not isinstance(rnn, nn.LSTM) or h.device.type != "cpu" or not torch.is_grad_enabled():
        return rnn(h)
    rows = lstm_chunk_rows(rnn, h.shape[1])
    if h.shape[0] <= rows:
        return rnn(h)
    outs, states = zip(*(rnn(h[a : a + rows]) for a in range(0, h.shape[0], rows)))
    return torch.cat(outs), tuple(torch.cat(s, dim=1) for s in zip(*states))  # (h_n, c_n): (D*layers, B, H)
