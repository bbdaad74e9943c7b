"""Attributions of a model version as served: which bases its prediction rests on.

The version's fold ensemble (ensemble.Ensemble, every fold model of every member) is wrapped as one
nn.Module, `ServedModel`, taking one-hot x (B, 4, L) and returning (B, K), one column per output (task or
class):

  * output="logodds": the log-odds of the ensemble's probability, log(p / (1 - p)), where p is what the
    version serves: the mean over the fold models of sigmoid (softmax for classes) of their logits, each
    strand-averaged when the version is (rc_average). ISM explains this.
  * output="logit": the mean over the fold models of their strand-averaged logits. DeepLIFT/SHAP needs a
    network of layers it can propagate multipliers through; a mean of logits is one more linear layer,
    whereas a mean of sigmoids is not. Its ranking of bases is that of the served model; its scale is logits.

Methods (the field's tools, tangermeme's implementations):
  * "deeplift_shap": DeepLIFT/SHAP against `n_shuffles` dinucleotide-shuffled references of each sequence
    (Lundberg & Lee 2017; as in BPNet and chrombpnet). It is exact only when every nonlinearity of the network
    is a module it hooks: seqsweep's models use functional ReLUs, fused kernels (deepbind's _ScanReluPool has
    no input gradient) and recurrent layers, for which it silently returns plain gradients x input. So `auto`
    runs it on a probe of a few sequences and keeps it only when its summation-to-delta property holds
    (attributions sum to f(x) - mean f(reference) within 1%).
  * "ism": in-silico saturation mutagenesis: every position set to each other base, the change of the
    served log-odds, mean-centred over the four bases at each position (what tangermeme's
    saturation_mutagenesis computes; `ism` batches it across sequences). Model-agnostic and exact for the
    model as served; costs 3 L forward passes per sequence.

Both give hypothetical contributions (N, L, 4): what each base would contribute at each position; the
actual contribution is that times the one-hot sequence. TF-MoDISco takes both (motifs.py).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from seqsweep.ensemble import Ensemble, strand_logits
from seqsweep.errors import DataError

log = logging.getLogger(__name__)

METHODS = ("auto", "deeplift_shap", "ism")
#: DeepLIFT/SHAP is kept when its attributions sum to the output difference within this share of it.
CONVERGENCE_TOLERANCE = 0.01
PROBE_SEQUENCES = 8
N_SHUFFLES = 20
ISM_BATCH = 1024  # variants per forward pass (deepbind: 1024 beats 4096 on 2 cores)


def _fold_models(ens: Ensemble) -> list[tuple[nn.Module, bool]]:
    """(model, rc_average) for every fold model of every member: the version's probability is their mean."""
    if ens.members:
        return [(m, member.rc_average) for member in ens.members for m in member.models]
    return [(m, ens.rc_average) for m in ens.models]


class ServedModel(nn.Module):
    """x (B, 4, L) float one-hot [, a (B,) accessibility] -> (B, K): the version's log-odds per output
    (output='logodds') or its mean fold logit (output='logit'); see the module docstring."""

    def __init__(self, ensemble: Ensemble, output: str = "logodds"):
        super().__init__()
        if output not in ("logodds", "logit"):
            raise ValueError(f"output must be 'logodds' or 'logit', got {output!r}")
        pairs = _fold_models(ensemble)
        self.models = nn.ModuleList([m for m, _ in pairs])
        self.rc = [rc for _, rc in pairs]
        self.output = output
        self.single_label = ensemble.task.single_label
        self.use_accessibility = ensemble.use_accessibility
        self.eval()

    def forward(self, x: torch.Tensor, a: torch.Tensor | None = None) -> torch.Tensor:
        x = x.float()
        a = a.float() if (a is not None and self.use_accessibility) else None
        logits = [strand_logits(m, x, a, None, rc) for m, rc in zip(self.models, self.rc)]
        logits = [z.reshape(x.shape[0], -1).float() for z in logits]  # (B,) or (B, K) -> (B, K)
        if self.output == "logit":
            return torch.stack(logits).mean(0)
        act = (lambda z: torch.softmax(z, -1)) if self.single_label else torch.sigmoid
        p = torch.stack([act(z) for z in logits]).mean(0).clamp(1e-7, 1 - 1e-7)  # the served probability
        return torch.log(p) - torch.log1p(-p)  # (B, K) log-odds


@dataclass(frozen=True)
class Attributions:
    """hypothetical (N, L, 4) float32 contributions of output `target`; method: 'ism' or 'deeplift_shap';
    why: one line on how the method was chosen."""

    method: str
    hypothetical: np.ndarray
    target: int
    why: str

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """(N, L, 4): the hypothetical contributions at the bases the sequences carry (X one-hot (N, L, 4))."""
        return self.hypothetical * X.astype(np.float32)


def _to_x(X: np.ndarray) -> torch.Tensor:
    """(N, L, 4) uint8 -> (N, 4, L) float32."""
    return torch.from_numpy(np.ascontiguousarray(X.transpose(0, 2, 1))).float()


def _args(ensemble: Ensemble, a: np.ndarray | None, n: int) -> tuple | None:
    if not ensemble.use_accessibility:
        return None
    if a is None:
        raise DataError("this model was trained with accessibility: the data to explain needs accessibility values")
    return (torch.as_tensor(np.asarray(a, dtype=np.float32).reshape(n)),)


def ism(ensemble: Ensemble, X: np.ndarray, a: np.ndarray | None = None, *, target: int = 0,
        batch: int = ISM_BATCH) -> Attributions:
    """In-silico saturation mutagenesis of the served log-odds of output `target`: (N, L, 4) hypothetical
    contributions, the change of the log-odds for each base at each position, mean-centred over the four
    bases (tangermeme's saturation_mutagenesis(hypothetical=True), which tests check this against).

    Written out rather than calling tangermeme's, which predicts one sequence's 3 L edits at a time: the
    served model runs several times faster per sequence in batches of ~1000 than of 300 (deepbind, 2 cores)."""
    model = ServedModel(ensemble, "logodds")
    n, length, _ = X.shape
    x = _to_x(X)  # (N, 4, L)
    args = _args(ensemble, a, n)
    per = max(1, batch // (4 * length))  # sequences per forward pass, each with its 4 L variants
    eye = torch.eye(4)
    out = np.empty((n, length, 4), dtype=np.float32)
    with torch.inference_mode():
        for s in range(0, n, per):
            xb = x[s : s + per]  # (b, 4, L)
            b = len(xb)
            edits = xb[:, None, None].repeat(1, length, 4, 1, 1)  # (b, L, 4, 4, L): position j, base c
            for j in range(length):
                edits[:, j, :, :, j] = eye  # variant (j, c) carries base c at position j
            rest = tuple(t[s : s + per].repeat_interleave(4 * length) for t in args) if args else ()
            y = model(edits.reshape(-1, 4, length), *rest)[:, target].reshape(b, length, 4)
            out[s : s + b] = (y - y.mean(-1, keepdim=True)).numpy()
    return Attributions("ism", out, target, "")


def deeplift_shap(
    ensemble: Ensemble, X: np.ndarray, a: np.ndarray | None = None, *, target: int = 0, n_shuffles: int = N_SHUFFLES,
    seed: int = 0,
) -> tuple[Attributions, float]:
    """DeepLIFT/SHAP of the mean fold logit of output `target` against dinucleotide shuffles: the attributions
    and the largest relative convergence error (|sum of attributions - (f(x) - mean f(refs))| / |that delta|)."""
    from tangermeme.deep_lift_shap import deep_lift_shap as dls

    model = ServedModel(ensemble, "logit")
    x = _to_x(X)
    args = _args(ensemble, a, len(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hyp, refs = dls(model, x, args=args, target=target, n_shuffles=n_shuffles, hypothetical=True,
                        return_references=True, random_state=seed, device="cpu", batch_size=64)
        with torch.no_grad():
            fx = model(x, *(args or ()))[:, target]  # (N,)
            r = refs.reshape(-1, *x.shape[1:]).float()
            rargs = tuple(t.repeat_interleave(n_shuffles) for t in args) if args else ()
            fr = model(r, *rargs)[:, target].reshape(len(x), n_shuffles)  # (N, S)
    # The actual contributions (hypothetical x one-hot) of a sequence sum to the mean over its references of
    # f(x) - f(ref) when every nonlinearity was handled (the summation-to-delta property).
    total = (hyp * x).sum(dim=(1, 2))
    delta = fx - fr.mean(1)
    err = ((total - delta).abs() / delta.abs().clamp_min(1e-3)).max().item()
    return Attributions("deeplift_shap", hyp.detach().numpy().transpose(0, 2, 1).astype(np.float32), target, ""), err


def attribute(
    ensemble: Ensemble, X: np.ndarray, a: np.ndarray | None = None, *, target: int = 0, method: str = "auto",
    seed: int = 0,
) -> Attributions:
    """Hypothetical contributions (N, L, 4) of output `target` for one-hot X (N, L, 4) by `method`
    ('auto': DeepLIFT/SHAP when a probe shows it converges on this architecture, else ISM)."""
    if method not in METHODS:
        raise DataError(f"attribution method must be one of {', '.join(METHODS)}, got {method!r}")
    torch.manual_seed(seed)
    if method == "ism":
        out = ism(ensemble, X, a, target=target)
        return Attributions("ism", out.hypothetical, target, "ism asked for")
    if method == "deeplift_shap":
        out, err = deeplift_shap(ensemble, X, a, target=target, seed=seed)
        return Attributions(out.method, out.hypothetical, target, f"deeplift_shap asked for (convergence error {err:.2g})")
    probe = slice(0, min(PROBE_SEQUENCES, len(X)))
    try:
        _, err = deeplift_shap(ensemble, X[probe], None if a is None else a[probe], target=target, n_shuffles=4, seed=seed)
    except (RuntimeError, ValueError, TypeError, IndexError, KeyError) as exc:  # a layer DeepLIFT has no rule for
        first = str(exc).split(". ")[0][:100]
        err, why = float("inf"), f"DeepLIFT/SHAP cannot run on {ensemble.meta['architecture']} ({type(exc).__name__}: {first})"
    else:
        why = f"DeepLIFT/SHAP convergence error {err:.2g} on a probe of {probe.stop} sequences"
    if err <= CONVERGENCE_TOLERANCE:
        out, _ = deeplift_shap(ensemble, X, a, target=target, seed=seed)
        return Attributions(out.method, out.hypothetical, target, why + f" (<= {CONVERGENCE_TOLERANCE}): kept")
    out = ism(ensemble, X, a, target=target)
    return Attributions("ism", out.hypothetical, target,
                        why + f" (> {CONVERGENCE_TOLERANCE}): {ensemble.meta['architecture']} is explained by ISM")
