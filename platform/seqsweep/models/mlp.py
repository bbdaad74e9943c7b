"""A multilayer perceptron on the flattened one-hot sequence (the field's homework baseline)."""

from __future__ import annotations

import torch
from torch import nn

from seqsweep.models._common import OutputLayer, SequenceModel
from seqsweep.models._registry import register_model
from seqsweep.models.hparams import Accessibility, Count, Dropout, Outputs, SeqLen


@register_model("mlp")
class MLP(SequenceModel):
    """Multilayer perceptron on the flattened one-hot sequence.

    x (B, 4, L) -> flatten (B, 4L) -> num_layers x [linear(hidden_size), ReLU, dropout] -> (B,) logits.
    Every position has its own weights, so it cannot share a motif detector across positions.
    """

    bf16_pays = False  # see SequenceModel.bf16_pays

    def __init__(
        self,
        seq_len: SeqLen = 101,
        use_accessibility: Accessibility = False,
        n_outputs: Outputs = 1,
        hidden_size: Count = 64,
        dropout: Dropout = 0.25,
        num_layers: Count = 2,
    ):
        super().__init__(seq_len, use_accessibility, hidden_size, dropout, n_outputs)
        self.num_layers = num_layers
        layers: list[nn.Module] = []
        width = 4 * self.seq_len
        for _ in range(self.num_layers):
            layers += [nn.Linear(width, self.hidden_size), nn.ReLU(), nn.Dropout(self.dropout)]
            width = self.hidden_size
        self.body = nn.Sequential(*layers)
        self.out = OutputLayer(self.hidden_size, self.use_accessibility, self.n_outputs)

    def forward(self, x: torch.Tensor, a: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, 4, L) float one-hot, a (B,) accessibility or None -> logits; padding is read as N."""
        self.check_input(x, a, mask)
        h = self.body(x.flatten(1))  # (B, 4, L) -> (B, 4L) -> (B, H)
        return self.out(h, a)
