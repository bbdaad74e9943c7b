"""Convolutional architectures: a stacked CNN (the field's homework shape) and DeepBind."""

from __future__ import annotations

from typing import Annotated

import torch
from torch import nn
from torch.nn import functional as F

from seqsweep.errors import ModelError
from seqsweep.models._common import (
    OutputLayer,
    PositionConv,
    PositionMaxPool,
    SequenceModel,
    channels_last,
    masked_max_mean,
    window_mask,
)
from seqsweep.models._registry import register_model
from seqsweep.models.hparams import Accessibility, Choice, Count, Dropout, Flag, Int, Outputs, SeqLen, Width


@register_model("cnn")
class CNN(SequenceModel):
    """Stacked conv blocks then a dense layer (the field's homework CNN shape).

    x (B, 4, L) -> num_layers x [conv(filters, kernel_size, 'same'), max-pool(pool), ReLU]
      -> flatten (B, filters * L') -> linear(hidden_size), ReLU, dropout -> (B,) logits,
    with L' = L // pool**num_layers.
    """

    def __init__(
        self,
        seq_len: SeqLen = 101,
        use_accessibility: Accessibility = False,
        n_outputs: Outputs = 1,
        hidden_size: Count = 64,
        dropout: Dropout = 0.25,
        num_layers: Count = 2,
        filters: Count = 32,
        kernel_size: Width = 9,
        pool: Width = 4,
    ):
        super().__init__(seq_len, use_accessibility, hidden_size, dropout, n_outputs)
        self.num_layers, self.filters, self.kernel_size, self.pool = num_layers, filters, kernel_size, pool
        out_len = self.seq_len // self.pool**self.num_layers
        if out_len < 1:
            raise ModelError(
                f"architecture {self.name!r}: pool={self.pool} applied num_layers={self.num_layers} times "
                f"shortens seq_len={self.seq_len} to 0; use fewer layers or a smaller pool"
            )

        blocks: list[nn.Module] = []
        channels = 4
        for _ in range(self.num_layers):
            # 'same' padding keeps the length, so only pooling shortens it and L' is easy to predict.
            # Max-pool before ReLU: they commute, and ReLU then runs on a tensor `pool` times smaller.
            # Conv1d and MaxPool1d run as their 2D forms on channels-last memory (PositionConv: same
            # parameters and state_dict as nn.Conv1d), 1.5-2x faster per training step on CPU (_common.py).
            blocks += [
                PositionConv(channels, self.filters, self.kernel_size, padding="same"),
                PositionMaxPool(self.pool),
                nn.ReLU(),
            ]
            channels = self.filters
        self.convs = nn.Sequential(*blocks)
        self.dense = nn.Sequential(
            nn.Linear(self.filters * out_len, self.hidden_size), nn.ReLU(), nn.Dropout(self.dropout)
        )
        self.out = OutputLayer(self.hidden_size, self.use_accessibility, self.n_outputs)

    def forward(self, x: torch.Tensor, a: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, 4, L) float one-hot, a (B,) accessibility or None -> logits. Flattened positions: padding is
        read as N (fixed-length model)."""
        self.check_input(x, a, mask)
        h = self.convs(channels_last(x))  # (B, 4, L) -> (B, 4, 1, L) -> (B, filters, 1, L')
        h = self.dense(h.flatten(1))  # (B, filters * L') in (filter, position) order -> (B, H)
        return self.out(h, a)


_INFER_ACTIVATIONS = 1 << 21  # elements of a (rows, positions, channels) activation per inference chunk


def _global_max(h: torch.Tensor) -> torch.Tensor:
    """(B, L', C) -> (B, C), the max over positions: amax without autograd (it finds no indices); with it,
    adaptive_max_pool2d on a channels-last (B, C, 1, L') view, whose kernel keeps one index per channel and
    has a fast backward (docs/design.md#global-max-pool)."""
    if torch.is_grad_enabled():
        return F.adaptive_max_pool2d(h.permute(0, 2, 1).unsqueeze(2), 1).flatten(1)
    return h.amax(1)


_FUSED_LINEAR_RELU = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def _linear_relu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """relu(x @ weight.T + bias), (N, K) -> (N, C). On CPU one oneDNN matmul with the ReLU fused into its output
    (the op torch.compile's CPU backend emits for linear + ReLU), so the (N, C) result is written once
    (docs/design.md#deepbinds-scan). Elsewhere (CUDA, float64, a torch without oneDNN) addmm then relu_."""
    global _FUSED_LINEAR_RELU
    # oneDNN's op has no backward: where autograd records, the plain ops (the fused training step is
    # _ScanReluPool, whose forward runs without autograd and whose backward is written out)
    recording = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad or bias.requires_grad)
    fusable = x.device.type == "cpu" and x.dtype in (torch.float32, torch.bfloat16) and not recording
    if _FUSED_LINEAR_RELU and fusable:
        try:
            return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "relu", [], "")
        except RuntimeError:  # a oneDNN build that lacks the primitive: the plain ops from now on
            _FUSED_LINEAR_RELU = False
    return torch.addmm(bias, x, weight.t()).relu_()


class _ScanReluPool(torch.autograd.Function):
    """The training path of DeepBind's scan: windows (N = B L', K) @ weight (C, K).T + bias -> ReLU -> the max
    and the mean over the L' positions of each row, (B, C) each. Gradients for weight and bias only.

    Written out because the ReLU, both poolings and their backward passes are memory-bound passes over the
    (B, L', C) map, which is 93 x larger than the pooled result: autograd's version makes about ten such passes
    per step (the map's float32 upcast for the mean, zero-filled max-pool gradients, their sum, ReLU's mask, the
    bias gradient's reduction), this one four forward and two backward (the ReLU in place, the mean and the
    bias gradient as matrix products with a ones vector, the max's gradient added at its argmax only);
    docs/design.md#deepbinds-scan.
    """

    @staticmethod
    def forward(windows, weight, bias, batch):
        positions = windows.shape[0] // batch
        h = _linear_relu(windows, weight, bias)  # (B L', C)
        h3 = h.view(batch, positions, -1)
        # adaptive_max_pool2d's channels-last kernel on the (B, C, 1, L') view: fast, and it returns the argmax.
        top, where = F.adaptive_max_pool2d(h3.permute(0, 2, 1).unsqueeze(2), 1, return_indices=True)
        mean = torch.bmm(h.new_ones(batch, 1, positions), h3).squeeze(1) / positions  # (B, C); no upcast copy
        return top.flatten(1), mean, h, where.flatten(1)

    @staticmethod
    def setup_context(ctx, inputs, output):
        windows, weight, _bias, batch = inputs
        top, _mean, h, where = output
        ctx.save_for_backward(windows, h, where, top)
        ctx.batch = batch
        ctx.mark_non_differentiable(h, where)

    @staticmethod
    def backward(ctx, g_top, g_mean, _g_h, _g_where):
        windows, h, where, top = ctx.saved_tensors
        batch = ctx.batch
        n, c = h.shape
        positions = n // batch
        # The mean's gradient spread over every position the ReLU let through: one pass over the map.
        g = torch.ops.aten.threshold_backward(
            (g_mean / positions).to(h.dtype).unsqueeze(1).expand(batch, positions, c), h.view(batch, positions, c), 0
        )
        # The max's gradient at its argmax (distinct cells, so a plain indexed add), none where the ReLU gave 0.
        cols = torch.arange(c, device=h.device)
        rows = torch.arange(batch, device=h.device).unsqueeze(1) * (positions * c)
        cells = (rows + where * c + cols).flatten()
        flat = g.view(-1)
        flat.index_add_(0, cells, torch.where(top > 0, g_top, 0).to(h.dtype).flatten())
        g = g.view(n, c)
        g_weight = g.t() @ windows if ctx.needs_input_grad[1] else None
        g_bias = (g.new_ones(1, n) @ g).squeeze(0) if ctx.needs_input_grad[2] else None
        return None, g_weight, g_bias, None


@register_model("deepbind")
class DeepBind(SequenceModel):
    """DeepBind-style motif scanner over both strands with global pooling (the strong baseline).

    x (B, 4, L) -> conv(filters, kernel_size) on x and on its reverse complement, ReLU
      -> global max pool (or max and mean, pool='maxavg') per strand -> max over the two strands
      -> dropout -> linear(hidden_size), ReLU, dropout -> (B,) logits.
    With both_strands=True the output is the same for a sequence and its reverse complement.
    """

    def __init__(
        self,
        seq_len: SeqLen = 101,
        use_accessibility: Accessibility = False,
        n_outputs: Outputs = 1,
        hidden_size: Count = 32,
        dropout: Dropout = 0.25,
        filters: Count = 128,
        kernel_size: Width = 9,
        pool: Annotated[str, Choice(("max", "maxavg"))] = "maxavg",
        both_strands: Annotated[bool, Flag()] = True,
    ):
        super().__init__(seq_len, use_accessibility, hidden_size, dropout, n_outputs)
        self.filters, self.kernel_size, self.pool, self.both_strands = filters, kernel_size, pool, both_strands

        self.conv = nn.Conv1d(4, self.filters, self.kernel_size)
        n_features = self.filters * (2 if self.pool == "maxavg" else 1)
        self.dense = nn.Sequential(
            nn.Dropout(self.dropout),
            nn.Linear(n_features, self.hidden_size),
            nn.ReLU(),
            nn.Dropout(self.dropout),
        )
        self.out = OutputLayer(self.hidden_size, self.use_accessibility, self.n_outputs)

    length_agnostic = True  # global pooling over however many windows there are

    @property
    def min_length(self) -> int:
        return self.kernel_size

    @property
    def strand_invariant(self) -> bool:
        """True when the output is the same for a sequence and its reverse complement (test-time strand
        averaging would only repeat the work)."""
        return self.both_strands

    def forward(self, x: torch.Tensor, a: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, 4, L) float one-hot, a (B,) accessibility or None, mask (B, L) or None -> logits. With a mask,
        only windows wholly on real sequence are pooled."""
        self.check_input(x, a, mask)
        B, F, k = x.shape[0], self.filters, self.kernel_size
        if not torch.is_grad_enabled():
            # Inference in chunks whose (rows, L', SF) activations stay cache-sized: the ReLU and pooling
            # passes are memory-bound (docs/design.md#eval-batch).
            rows = max(1, _INFER_ACTIVATIONS // ((x.shape[2] - k + 1) * F * (2 if self.both_strands else 1)))
            if B > rows:
                parts = [
                    self.forward(x[i : i + rows], None if a is None else a[i : i + rows], None if mask is None else mask[i : i + rows])
                    for i in range(0, B, rows)
                ]
                return torch.cat(parts)
        weight, bias = self.conv.weight, self.conv.bias  # (F, 4, k), (F,)
        if self.both_strands:
            # In A,C,G,T order the complement is the channel order reversed and the reverse is the position
            # order reversed, so flip(1, 2) reverse-complements. Scanning the reverse complement of x with a
            # filter gives, position order aside, what scanning x with the filter's reverse complement gives;
            # global pooling ignores position order, so one scan of x with both filters (S = 2 strands)
            # equals scanning both strands with the same filter, without building a second input batch.
            weight = torch.cat([weight, weight.flip(1, 2)])  # (F, 4, k) -> (SF, 4, k)
            bias = bias.repeat(2)  # (F,) -> (SF,)
        # The conv as one matrix product over all windows (im2col). With 4 input channels this is faster
        # on CPU than conv1d, and it leaves positions in dim 1 for the pooling below.
        # A training step with 'maxavg' on unpadded data runs _ScanReluPool; under autocast it casts the windows
        # before they are copied out of x (half the bytes).
        fused = self.pool == "maxavg" and torch.is_grad_enabled() and B > 0 and mask is None
        autocast = fused and torch.is_autocast_enabled(x.device.type)
        dtype = torch.get_autocast_dtype(x.device.type) if autocast else x.dtype
        windows = x.to(dtype).unfold(2, k, 1).transpose(1, 2).reshape(-1, 4 * k)  # (B, L', 4, k) -> (B L', 4k)
        if fused:
            with torch.autocast(x.device.type, enabled=False):
                top, mean, _, _ = _ScanReluPool.apply(windows, weight.flatten(1).to(dtype), bias.to(dtype), B)
            h = torch.cat([top, mean], dim=1)  # (B, 2SF)
        else:
            shape = (B, x.shape[2] - k + 1, weight.shape[0])  # (B, L', SF), spelled out for empty batches
            if mask is not None:
                h = _linear_relu(windows, weight.flatten(1), bias).view(shape)  # (B L', SF) -> (B, L', SF)
                top, mean = masked_max_mean(h, window_mask(mask, k).unsqueeze(2), dim=1)  # (B, SF) each
                h = torch.cat([top, mean], dim=1) if self.pool == "maxavg" else top
            elif self.pool == "maxavg":
                h = _linear_relu(windows, weight.flatten(1), bias).view(shape)  # (B L', SF) -> (B, L', SF)
                h = torch.cat([_global_max(h), h.mean(1)], dim=1)  # (B, L', SF) -> (B, 2SF)
            else:
                h = torch.addmm(bias, windows, weight.flatten(1).t()).view(shape)  # (B L', SF) -> (B, L', SF)
                # ReLU commutes with max, so apply it to the pooled (B, SF) rather than the whole (B, L', SF).
                h = torch.relu(_global_max(h))  # (B, L', SF) -> (B, SF)
        if self.both_strands:
            # Max over the two strands of each pooled feature: symmetric in the strands, so the output is
            # invariant to reverse-complementing the input. Features are laid out (pooling, strand, filter).
            h = h.view(B, h.shape[1] // (2 * F), 2, F).amax(2).flatten(1)  # (B, P, 2, F) -> (B, P F)
        h = self.dense(h)  # (B, P F) -> (B, H)
        return self.out(h, a)


@register_model("resnet")
class DilatedResNet(SequenceModel):
    """Dilated residual CNN (BPNet-style): a wide receptive field from few parameters.

    x (B, 4, L) -> conv(filters, kernel_size, 'same'), ReLU
      -> num_layers x [h + ReLU(conv(filters, 3, dilation 2**i, 'same'))]
      -> global max and mean pool (B, 2F) -> dropout -> linear(hidden_size), ReLU, dropout -> (B,) logits.
    Layer i widens the view by 2**i positions on each side: 4 layers turn the stem's 11-base window into 41.
    """

    def __init__(
        self,
        seq_len: SeqLen = 101,
        use_accessibility: Accessibility = False,
        n_outputs: Outputs = 1,
        hidden_size: Count = 32,
        dropout: Dropout = 0.25,
        # Past 10 layers the dilation (2**10) dwarfs any sequence this platform trains on.
        num_layers: Annotated[int, Int(1, 10)] = 4,
        filters: Count = 32,
        kernel_size: Width = 11,
    ):
        super().__init__(seq_len, use_accessibility, hidden_size, dropout, n_outputs)
        self.num_layers, self.filters, self.kernel_size = num_layers, filters, kernel_size

        self.stem = nn.Conv1d(4, self.filters, self.kernel_size, padding="same")
        self.blocks = nn.ModuleList(
            nn.Conv1d(self.filters, self.filters, 3, dilation=2**i, padding="same") for i in range(self.num_layers)
        )
        self.dense = nn.Sequential(
            nn.Dropout(self.dropout),
            nn.Linear(2 * self.filters, self.hidden_size),
            nn.ReLU(),
            nn.Dropout(self.dropout),
        )
        self.out = OutputLayer(self.hidden_size, self.use_accessibility, self.n_outputs)

    length_agnostic = True  # 'same' convolutions and global pooling

    def forward(self, x: torch.Tensor, a: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, 4, L) float one-hot, a (B,) accessibility or None, mask (B, L) or None -> logits. With a mask,
        activations at padded positions are zeroed after every layer, which is what each 'same' convolution's
        own zero padding shows the unpadded sequence, and pooling skips them."""
        self.check_input(x, a, mask)
        m = None if mask is None else mask.unsqueeze(1).to(x.dtype)  # (B, 1, L)
        h = torch.relu(self.stem(x if m is None else x * m))  # (B, 4, L) -> (B, F, L)
        for conv in self.blocks:  # a fixed, short stack of layers, not a loop over positions or strands
            if m is not None:
                h = h * m
            h = h + torch.relu(conv(h))  # (B, F, L) -> (B, F, L)
        if m is None:
            h = torch.cat([h.amax(2), h.mean(2)], dim=1)  # (B, F, L) -> (B, 2F)
        else:
            h = torch.cat(masked_max_mean(h, m, dim=2), dim=1)  # (B, F, L) -> (B, 2F)
        h = self.dense(h)  # (B, 2F) -> (B, H)
        return self.out(h, a)
