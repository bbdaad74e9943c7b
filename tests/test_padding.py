"""Padding never reads as sequence: recurrent models and models with global pooling score a padded sequence,
given its mask, exactly as they score the sequence on its own; with garbage in the padded positions too."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from seqsweep.models import create_model, list_models

L, N_REAL = 64, 37
MASKED = ["rnn", "lstm", "gru", "bilstm", "deepbind", "resnet", "kmer"]
RECURRENT_OPTIONS = [
    {},
    {"readout": "last"},
    {"pool": 3},
    {"k": 4},
    {"k": 2, "embedding": 8},
    {"embedding": 6, "readout": "last", "num_layers": 2},
]


def _seq(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = F.one_hot(torch.randint(0, 4, (1, n), generator=g), 4).float()  # (1, n, 4)
    x[0, 5] = 0.0  # an N inside the real sequence stays an N
    return x.transpose(1, 2)  # (1, 4, n)


def _padded(x: torch.Tensor, offset: int, garbage: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """x (1, 4, n) placed at `offset` in L positions; the rest zeros (N) or random bases."""
    n = x.shape[2]
    out = torch.zeros(1, 4, L)
    if garbage:
        g = torch.Generator().manual_seed(99)
        out = F.one_hot(torch.randint(0, 4, (1, L), generator=g), 4).float().transpose(1, 2).contiguous()
    out[:, :, offset : offset + n] = x
    mask = torch.zeros(1, L, dtype=torch.bool)
    mask[:, offset : offset + n] = True
    return out, mask


def _cases():
    for name in MASKED:
        options = RECURRENT_OPTIONS if name in ("rnn", "lstm", "gru", "bilstm") else [{}]
        for kw in options:
            yield pytest.param(name, kw, id=f"{name}-{'-'.join(f'{k}{v}' for k, v in kw.items()) or 'default'}")
    yield pytest.param("cnn_bilstm", {"readout": "max", "pool": 4}, id="cnn_bilstm-max")
    yield pytest.param("cnn_bilstm", {"readout": "mean", "pool": 4}, id="cnn_bilstm-mean")


@pytest.mark.parametrize("name, kw", list(_cases()))
@pytest.mark.parametrize("offset", [0, L - N_REAL, (L - N_REAL) // 2], ids=["pad-right", "pad-left", "pad-center"])
def test_padded_sequence_scores_as_the_unpadded_one(name, kw, offset):
    torch.manual_seed(0)
    model = create_model(name, seq_len=L, n_outputs=3, **kw).eval()
    x = _seq(N_REAL)
    with torch.no_grad():
        alone = model(x)  # the sequence on its own: (1, 4, 37)
        for garbage in (False, True):
            xp, mask = _padded(x, offset, garbage)
            torch.testing.assert_close(model(xp, mask=mask), alone, rtol=1e-5, atol=1e-5)
        # without the mask the garbage after the sequence is read: the check above can fail
        xp, _ = _padded(x, 0, garbage=True)
        assert not torch.allclose(model(xp), alone, atol=1e-4)


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru", "bilstm", "deepbind", "resnet", "cnn_bilstm"])
def test_padded_batch_of_mixed_lengths_scores_each_row_as_alone(name):
    # Rows of different lengths in one batch (packing sorts them internally): each as on its own.
    torch.manual_seed(0)
    kw = {"readout": "mean", "pool": 2} if name == "cnn_bilstm" else {}
    model = create_model(name, seq_len=L, **kw).eval()
    lengths, offsets = [37, 64, 20, 51], [3, 0, 44, 13]
    xs = [_seq(n, seed=i) for i, n in enumerate(lengths)]
    batch, masks = zip(*(_padded(x, o, garbage=True) for x, o in zip(xs, offsets)))
    with torch.no_grad():
        together = model(torch.cat(batch), mask=torch.cat(masks))
        for i, x in enumerate(xs):
            torch.testing.assert_close(together[i], model(x)[0], rtol=1e-5, atol=1e-5)


def test_cnn_bilstm_flatten_ignores_what_the_padding_holds():
    # DanQ's flattened readout is for one input length, so there is no shorter input to compare with;
    # the padded steps must still contribute nothing, wherever the padding sits.
    torch.manual_seed(0)
    model = create_model("cnn_bilstm", seq_len=L, pool=4).eval()
    x = _seq(N_REAL)
    with torch.no_grad():
        outs = [model(*_padded(x, o, g)[:1], mask=_padded(x, o, g)[1]) for o in (0, 27, 13) for g in (False, True)]
    for out in outs[1:]:
        torch.testing.assert_close(out, outs[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", list_models())
def test_fixed_length_models_refuse_other_lengths_and_agnostic_ones_too_short_inputs(name):
    from seqsweep.models import ModelInputError

    model = create_model(name, seq_len=L).eval()
    if not model.length_agnostic:
        with pytest.raises(ModelInputError, match=rf"must have shape \(B, 4, {L}\)"):
            model(torch.zeros(1, 4, L - 1))
    elif model.min_length > 1:
        with pytest.raises(ModelInputError, match=rf"at least {model.min_length} positions"):
            model(torch.zeros(1, 4, model.min_length - 1))
    if model.length_agnostic:
        with torch.no_grad():
            assert model(torch.zeros(2, 4, max(model.min_length, 1) + 5)).shape == (2,)


@pytest.mark.parametrize("name", MASKED + ["cnn_bilstm"])
def test_every_parameter_learns_through_the_masked_path(name):
    model = create_model(name, seq_len=L, n_outputs=2)
    x, mask = _padded(_seq(N_REAL), 9, garbage=False)
    x, mask = x.repeat(3, 1, 1), mask.repeat(3, 1)
    model(x, mask=mask).sum().backward()
    for pname, p in model.named_parameters():
        if name in ("rnn", "lstm", "gru", "bilstm") and pname.startswith("embed"):
            continue  # the one-hot default has no embedding
        assert p.grad is not None and p.grad.abs().sum() > 0, f"{name}: no gradient for {pname}"
