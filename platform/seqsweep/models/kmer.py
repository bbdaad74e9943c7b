"""A k-mer spectrum model: what k-mer regression and gkm-SVM do, as a network the sweep can tune."""

from __future__ import annotations

from typing import Annotated

import torch
from torch import nn

from seqsweep.models._common import OutputLayer, SequenceModel
from seqsweep.models._registry import register_model
from seqsweep.models.hparams import Accessibility, Count, Dropout, Int, Outputs, SeqLen


def canonical_index(k: int) -> tuple[torch.Tensor, int]:
    """(4**k,) column of each k-mer code (base-4, A,C,G,T = 0..3, first base most significant), where a
    k-mer and its reverse complement share a column, and the number of columns."""
    codes = torch.arange(4**k)
    digits = torch.stack([(codes // 4 ** (k - 1 - j)) % 4 for j in range(k)], dim=1)  # (4**k, k)
    rc = ((3 - digits).flip(1) * (4 ** torch.arange(k - 1, -1, -1))).sum(1)  # reverse complement's code
    canon = torch.minimum(codes, rc)
    uniq, column = torch.unique(canon, return_inverse=True)
    return column, len(uniq)


@register_model("kmer")
class KmerSpectrum(SequenceModel):
    """Counts of every k-mer for k = 1..k_max on both strands, then a linear model or a small MLP.

    x (B, 4, L) -> for each k: counts (B, C_k) of the k-mers of x, a k-mer and its reverse complement in one
      column (C_6 = 2080) -> concat (B, F), F = sum C_k -> x scale (F,) -> dropout
      -> num_layers x [linear(hidden_size), ReLU, dropout] -> (B,) logits.
    num_layers=0 is logistic regression on the spectrum (with optimizer adam, weight_decay is its L2 penalty;
    with adamw a decoupled decay). Windows that hold
    an N (an all-zero position) are not counted. Motif position is ignored by construction, and the output
    is the same for a sequence and its reverse complement.

    `scale` is 1 / the largest count of each k-mer in the training rows, set by adapt() before training (as
    sklearn's MaxAbsScaler or Keras' Normalization.adapt do) and saved with the weights; the scaling matters
    on real data (docs/design.md#k-mer-scaling).
    """

    bf16_pays = False  # see SequenceModel.bf16_pays

    def __init__(
        self,
        seq_len: SeqLen = 101,
        use_accessibility: Accessibility = False,
        n_outputs: Outputs = 1,
        hidden_size: Count = 32,
        dropout: Dropout = 0.25,
        # 4**8 = 65536 codes per row is where counting stops being cheap next to the other models
        k_max: Annotated[int, Int(1, 8, seq_len=True)] = 6,
        num_layers: Annotated[int, Int(0, 3)] = 0,
    ):
        super().__init__(seq_len, use_accessibility, hidden_size, dropout, n_outputs)
        self.k_max, self.num_layers = k_max, num_layers
        self._columns: list[int] = []  # C_k for k = 1..k_max (plain ints: no tensor reads in forward)
        for k in range(1, self.k_max + 1):
            column, n = canonical_index(k)
            # lookup tables, rebuilt from k at load time: not part of the saved weights
            self.register_buffer(f"_column{k}", column, persistent=False)
            self._columns.append(n)
        n_features = sum(self._columns)
        self.n_features = n_features
        self.register_buffer("_channel", torch.arange(4, dtype=torch.float32), persistent=False)
        self.register_buffer("scale", torch.ones(n_features))  # saved: the model's input scaling
        layers: list[nn.Module] = [nn.Dropout(self.dropout)]
        width = n_features
        for _ in range(self.num_layers):
            layers += [nn.Linear(width, self.hidden_size), nn.ReLU(), nn.Dropout(self.dropout)]
            width = self.hidden_size
        self.body = nn.Sequential(*layers)
        self.out = OutputLayer(width, self.use_accessibility, self.n_outputs)

    length_agnostic = True  # counts over any length; padding (all-zero positions) is never counted

    @property
    def strand_invariant(self) -> bool:
        return True

    @property
    def min_length(self) -> int:
        return self.k_max

    @torch.no_grad()
    def adapt(self, x, batch_size: int = 4096) -> None:
        """Set `scale` from training sequences: 1 / each k-mer's largest count (1 where unseen).

        x: a (N, 4, L) one-hot tensor, or an iterable of (B, 4, L) batches (the trainer streams them from
        the token store)."""
        batches = (x[a : a + batch_size] for a in range(0, x.shape[0], batch_size)) if torch.is_tensor(x) else x
        peak = torch.zeros(self.n_features, device=self.scale.device)
        for b in batches:
            peak = torch.maximum(peak, self.spectrum(b).amax(0))
        self.scale.copy_(torch.where(peak > 0, 1.0 / peak.clamp_min(1e-12), torch.ones_like(peak)))

    def spectrum(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, 4, L) one-hot -> (B, n_features) k-mer counts (unscaled), both strands merged."""
        B, _, L = x.shape
        valid = x.sum(1) > 0.5  # (B, L): an all-zero position is an N
        # the hot channel's index, 0..3 (A,C,G,T), as a weighted sum: argmax over dim 1 was the second most
        # costly op of a training step on CPU (torch profiler), the weighted sum drops out of the profile
        base = torch.einsum("bcl,c->bl", x, self._channel).round().long()  # (B, L)
        feats = []
        code = torch.zeros(B, L, dtype=torch.long, device=x.device)
        ok = torch.ones(B, L, dtype=torch.bool, device=x.device)
        for k in range(1, self.k_max + 1):
            m = L - k + 1
            # extend each window by one base: code of x[i : i + k] from the code of x[i : i + k - 1]
            code = code[:, :m] * 4 + base[:, k - 1 : k - 1 + m]  # (B, m)
            ok = ok[:, :m] & valid[:, k - 1 : k - 1 + m]
            column = getattr(self, f"_column{k}")
            counts = torch.zeros(B, self._columns[k - 1], dtype=x.dtype, device=x.device)
            counts = counts.scatter_add(1, column[code], ok.to(x.dtype))  # (B, m) -> (B, C_k)
            feats.append(counts)
        return torch.cat(feats, dim=1)

    def forward(self, x: torch.Tensor, a: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, 4, L) float one-hot, a (B,) accessibility or None, mask (B, L) or None -> logits. A k-mer
        holding an N or a padded position is not counted."""
        self.check_input(x, a, mask)
        if mask is not None:
            x = x * mask.unsqueeze(1).to(x.dtype)  # padded positions count as N
        h = self.body(self.spectrum(x) * self.scale)  # (B, 4, L) -> (B, F) -> (B, H)
        return self.out(h, a)
