"""The architecture zoo: every registered architecture is tested here for free (parametrized over list_models())."""

from __future__ import annotations

import inspect
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seqsweep.errors import ModelError
from seqsweep.models import (
    ModelInputError,
    SequenceModel,
    _registry,
    architectures_taking,
    count_parameters,
    create_model,
    describe_models,
    list_models,
    model_hparams,
    register_model,
)

ARCHS = list_models()
REQUIRED = {"mlp", "cnn", "rnn", "lstm", "gru", "bilstm", "cnn_bilstm", "deepbind"}


def one_hot(batch: int, seq_len: int, seed: int = 0) -> torch.Tensor:
    """(B, 4, L) float32 one-hot in A,C,G,T order, with a few N (all-zero) positions."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, 4, (batch, seq_len), generator=g)
    x = F.one_hot(idx, 4).float()  # (B, L, 4)
    x[:, ::17] = 0.0  # some Ns
    return x.transpose(1, 2).contiguous()  # (B, L, 4) -> (B, 4, L)


def build(name: str, seed: int = 0, **kwargs) -> nn.Module:
    torch.manual_seed(seed)
    return create_model(name, **kwargs)


def test_required_architectures_are_registered():
    assert REQUIRED <= set(ARCHS)
    assert ARCHS == sorted(ARCHS)


@pytest.mark.parametrize("use_accessibility", [False, True], ids=["seq", "seq+acc"])
@pytest.mark.parametrize("name", ARCHS)
def test_forward_backward(name, use_accessibility):
    model = build(name, use_accessibility=use_accessibility)
    x = one_hot(5, 101)
    a = torch.linspace(0.0, 2.0, 5) if use_accessibility else None
    out = model(x, a)
    assert out.shape == (5,) and out.dtype == torch.float32
    assert torch.isfinite(out).all()

    F.binary_cross_entropy_with_logits(out, torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0])).backward()
    for pname, p in model.named_parameters():
        # None would mean a parameter the forward never uses (dead weights in every checkpoint).
        assert p.grad is not None, f"{name}: no gradient for {pname}"
        assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient for {pname}"
    assert any(p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("name", ARCHS)
def test_accessibility_reaches_the_output(name):
    model = build(name, use_accessibility=True).eval()
    x = one_hot(4, 101)
    with torch.no_grad():
        low, high = model(x, torch.zeros(4)), model(x, torch.full((4,), 3.0))
    assert not torch.allclose(low, high)


@pytest.mark.parametrize("name", ARCHS)
def test_other_sequence_length(name):
    model = build(name, seq_len=40).eval()
    with torch.no_grad():
        out = model(one_hot(3, 40))
    assert out.shape == (3,) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", ARCHS)
def test_deterministic_under_seed(name):
    x = one_hot(4, 101)
    m1, m2, m3 = build(name, seed=7).eval(), build(name, seed=7).eval(), build(name, seed=8).eval()
    with torch.no_grad():
        o1, o2, o3 = m1(x), m2(x), m3(x)
    for (k, v1), v2 in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(v1, v2), k
    assert torch.equal(o1, o2)
    assert not torch.equal(o1, o3)  # the seed matters, so the equality above means something


@pytest.mark.parametrize("name", ARCHS)
def test_wrong_input_shape_names_the_tensor(name):
    model = build(name)
    x = one_hot(2, 101)
    with pytest.raises(ModelInputError, match=r"input x must have shape \(B, 4, 101\).*\(2, 101, 4\).*channels-last"):
        model(x.transpose(1, 2))
    if not model.length_agnostic:  # the others read any length (tests/test_padding.py)
        with pytest.raises(ValueError, match=r"input x .*got \(2, 4, 100\)"):
            model(x[:, :, :100])
    with pytest.raises(ModelInputError, match=r"input x .*got \(4, 101\)"):
        model(x[0])
    with pytest.raises(ModelInputError, match="floating-point.*uint8"):
        model(x.to(torch.uint8))


@pytest.mark.parametrize("name", ARCHS)
def test_missing_or_bad_accessibility_names_the_model(name):
    model = build(name, use_accessibility=True)
    x = one_hot(3, 101)
    with pytest.raises(ValueError, match=rf"^{name}: .*use_accessibility=True.*needs a, got None"):
        model(x)
    with pytest.raises(ModelInputError, match=r"input a \(accessibility\) must have shape \(3,\), got \(3, 1\)"):
        model(x, torch.zeros(3, 1))
    # A model built without accessibility ignores whatever the dataset passes.
    plain = build(name).eval()
    with torch.no_grad():
        assert torch.equal(plain(x), plain(x, torch.ones(3)))


def test_unknown_architecture_lists_the_available_ones():
    with pytest.raises(ModelError) as err:
        create_model("cnnn")
    msg = str(err.value)
    assert msg.startswith("unknown architecture 'cnnn'; available: ")
    assert msg.endswith(", ".join(ARCHS))
    with pytest.raises(ModelError, match="unknown architecture None"):
        model_hparams(None)


def test_unknown_hparam_names_the_architectures_that_take_it():
    with pytest.raises(ModelError) as err:
        create_model("mlp", filters=8)
    msg = str(err.value)
    takers = architectures_taking("filters")
    assert {"cnn", "deepbind", "cnn_bilstm"} <= set(takers) and "mlp" not in takers
    assert msg == (
        "architecture 'mlp' does not take 'filters'; it takes: dropout, hidden_size, num_layers; "
        f"'filters' is taken by: {', '.join(takers)}"
    )
    with pytest.raises(ModelError, match=r"does not take 'filterz', 'pool';.*'filterz' is taken by no architecture; 'pool' is taken by: .*cnn"):
        create_model("mlp", pool=2, filterz=8)


@pytest.mark.parametrize(
    "name, kwargs, fragment",
    [
        ("mlp", {"hidden_size": 0}, "hidden_size must be an integer >= 1, got 0"),
        ("lstm", {"hidden_size": 3.5}, "hidden_size must be an integer >= 1, got 3.5"),
        ("cnn", {"filters": True}, "filters must be an integer >= 1, got True"),
        ("gru", {"dropout": 1.0}, "dropout must be a number in [0, 1), got 1.0"),
        ("deepbind", {"dropout": -0.1}, "dropout must be a number in [0, 1), got -0.1"),
        ("deepbind", {"kernel_size": 200}, "kernel_size must be an integer in [1, 101] (<= seq_len), got 200"),
        ("deepbind", {"pool": "avg"}, "pool must be one of max, maxavg, got 'avg'"),
        ("deepbind", {"both_strands": "yes"}, "both_strands must be true or false, got 'yes'"),
        ("cnn", {"num_layers": 4, "pool": 4}, "pool=4 applied num_layers=4 times shortens seq_len=101 to 0"),
        ("cnn_bilstm", {"kernel_size": 95, "pool": 8}, "pool=8 leaves no position of the 7"),
        ("rnn", {"readout": "max"}, "readout must be one of last, mean, got 'max'"),
        ("bilstm", {"pool": 0}, "pool must be an integer in [1, 101] (<= seq_len), got 0"),
    ],
)
def test_bad_values_name_the_key_and_value(name, kwargs, fragment):
    with pytest.raises(ModelError) as err:
        create_model(name, **kwargs)
    msg = str(err.value)
    assert msg.startswith(f"architecture {name!r}: ") and fragment in msg
    assert "\n" not in msg


@pytest.mark.parametrize("name", ARCHS)
def test_bad_data_arguments(name):
    with pytest.raises(ModelError, match=rf"architecture '{name}': seq_len must be an integer >= 1, got 0"):
        create_model(name, seq_len=0)
    with pytest.raises(ModelError, match="use_accessibility must be true or false, got 1"):
        create_model(name, use_accessibility=1)


@pytest.mark.parametrize("name", ARCHS)
def test_model_hparams_match_the_signature(name):
    hp = model_hparams(name)
    cls = type(create_model(name))
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert hp == {p.name: p.default for p in params if p.name not in ("seq_len", "use_accessibility", "n_outputs")}
    assert {"hidden_size", "dropout"} <= set(hp)
    for param in hp:
        assert name in architectures_taking(param)
    # Passing the reported defaults explicitly builds exactly the default model.
    default, explicit = build(name, seed=3), build(name, seed=3, **hp)
    for v1, v2 in zip(default.state_dict().values(), explicit.state_dict().values()):
        assert torch.equal(v1, v2)
    for param, value in hp.items():
        assert getattr(explicit, param) == value  # models keep their hyperparameters as attributes


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("lstm", {"readout": "last"}),
        ("bilstm", {"readout": "last", "num_layers": 2, "dropout": 0.1}),
        ("gru", {"pool": 4}),
        ("rnn", {"pool": 3, "num_layers": 2}),
        ("cnn", {"kernel_size": 8, "num_layers": 3, "pool": 2}),
        ("deepbind", {"pool": "max", "both_strands": False, "filters": 16}),
        ("mlp", {"num_layers": 1}),
    ],
)
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")  # torch's note on kernel_size=8
def test_non_default_configurations(name, kwargs):
    model = build(name, use_accessibility=True, **kwargs)
    out = model(one_hot(3, 101), torch.ones(3))
    assert out.shape == (3,) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_bilstm_last_readout_sees_both_ends():
    # With readout='last', the backward direction's final state has read position 0; changing only the
    # first base must change the output even though the forward direction reads it first of 101 steps.
    model = build("bilstm", readout="last", dropout=0.0).eval()
    x = one_hot(2, 101)
    y = x.clone()
    y[:, :, 0] = torch.tensor([0.0, 0.0, 0.0, 1.0]) if x[0, 3, 0] == 0 else torch.tensor([1.0, 0.0, 0.0, 0.0])
    with torch.no_grad():
        assert not torch.allclose(model(x), model(y), atol=1e-6)


@pytest.mark.parametrize("pool", ["max", "maxavg"])
def test_deepbind_is_strand_invariant(pool):
    model = build("deepbind", pool=pool).eval()
    x = one_hot(6, 101)
    rc = x.flip(1, 2)  # reverse complement in A,C,G,T order
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(rc), rtol=0, atol=1e-5)
        single = build("deepbind", pool=pool, both_strands=False).eval()
        assert not torch.allclose(single(x), single(rc), atol=1e-3)  # so the check above can fail


@pytest.mark.parametrize("pool", ["max", "maxavg"])
@pytest.mark.parametrize("both_strands", [True, False])
def test_deepbind_matches_the_plain_formula(pool, both_strands):
    # Golden reference: the same conv applied to each strand with conv1d, ReLU, global pooling per
    # strand, max over strands. The model computes it with reverse-complemented filters and one matmul.
    model = build("deepbind", pool=pool, both_strands=both_strands, filters=16).eval()
    x = one_hot(4, 101)
    with torch.no_grad():
        torch.testing.assert_close(model(x), _plain_deepbind(model, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pool", ["max", "maxavg"])
def test_deepbind_inference_chunks_and_amax_match_the_training_path(pool, monkeypatch):
    # Without autograd deepbind pools with amax and splits large batches into cache-sized chunks; with it,
    # one pass and max(1).values. Both must give the same logits (accessibility included, row by row).
    import seqsweep.models.cnn as cnn_module

    model = build("deepbind", pool=pool, filters=16, use_accessibility=True).eval()
    x, a = one_hot(37, 101), torch.rand(37)
    rows_per_chunk = 5
    monkeypatch.setattr(cnn_module, "_INFER_ACTIVATIONS", rows_per_chunk * (101 - model.kernel_size + 1) * 32)
    with torch.enable_grad():
        expected = model(x, a).detach()
    with torch.no_grad():
        torch.testing.assert_close(model(x, a), expected, rtol=1e-5, atol=1e-5)
    with torch.inference_mode():
        torch.testing.assert_close(model(x, a), expected, rtol=1e-5, atol=1e-5)


def _plain_cnn(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    h = x
    for i in range(model.num_layers):
        conv = model.convs[3 * i]
        h = F.relu(F.max_pool1d(F.conv1d(h, conv.weight, conv.bias, padding="same"), model.pool))
    return model.out(model.dense(h.flatten(1)))


def _plain_cnn_bilstm(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    conv = model.scan[0]
    h = F.relu(F.max_pool1d(F.conv1d(x, conv.weight, conv.bias), model.pool))
    h, _ = model.rnn(h.transpose(1, 2))
    return model.out(model.dense(h.flatten(1)))


@pytest.mark.parametrize(
    "name, kwargs, plain",
    [
        ("cnn", {}, _plain_cnn),
        ("cnn", {"kernel_size": 8, "pool": 3, "num_layers": 3, "filters": 12}, _plain_cnn),  # even kernel
        ("cnn", {"pool": 1, "num_layers": 1}, _plain_cnn),
        ("cnn_bilstm", {}, _plain_cnn_bilstm),
        ("cnn_bilstm", {"kernel_size": 6, "pool": 5}, _plain_cnn_bilstm),
    ],
)
def test_channels_last_convs_match_the_plain_conv1d_formula(name, kwargs, plain):
    # cnn and cnn_bilstm run Conv1d / MaxPool1d as 2D kernels on channels-last memory (models/_common.py):
    # logits AND parameter gradients must be those of the plain conv1d / max_pool1d network.
    model = build(name, dropout=0.0, **kwargs).train()
    x = one_hot(6, 101)
    fast = model(x)
    g_fast = torch.autograd.grad(fast.sum(), list(model.parameters()))
    ref = plain(model, x)
    g_ref = torch.autograd.grad(ref.sum(), list(model.parameters()))
    torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-5)
    for a, b in zip(g_fast, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_position_conv_keeps_the_conv1d_parameters_so_older_models_load():
    from seqsweep.models._common import PositionConv

    model = build("cnn", num_layers=2, filters=8, kernel_size=5)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv1d)]
    assert len(convs) == 2 and all(isinstance(m, PositionConv) for m in convs)
    assert model.state_dict()["convs.0.weight"].shape == (8, 4, 5)
    # a state_dict written by the nn.Conv1d / nn.MaxPool1d / nn.ReLU layout of earlier versions
    old = nn.Sequential(nn.Conv1d(4, 8, 5, padding="same"), nn.MaxPool1d(4), nn.ReLU(),
                        nn.Conv1d(8, 8, 5, padding="same"), nn.MaxPool1d(4), nn.ReLU())
    state = {f"convs.{k}": v for k, v in old.state_dict().items()}
    state.update({k: v for k, v in model.state_dict().items() if not k.startswith("convs.")})
    model.load_state_dict(state)  # strict: same keys, same shapes
    torch.testing.assert_close(model.convs[3].weight, old[3].weight)


def _plain_deepbind(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """DeepBind as a notebook writes it: conv1d per strand, ReLU, max (and mean) over positions, max of strands."""

    def features(strand: torch.Tensor) -> torch.Tensor:
        h = torch.relu(model.conv(strand))
        return torch.cat([h.max(2).values, h.mean(2)], 1) if model.pool == "maxavg" else h.max(2).values

    h = features(x)
    if model.both_strands:
        h = torch.maximum(h, features(x.flip(1, 2)))
    return model.out(model.dense(h))


@pytest.mark.parametrize("pool", ["max", "maxavg"])
@pytest.mark.parametrize("both_strands", [True, False])
def test_deepbind_training_pool_has_the_plain_gradient(pool, both_strands):
    # With autograd deepbind pools max with adaptive_max_pool2d over a channels-last view, and 'maxavg' runs
    # the written-out _ScanReluPool: logits and gradients must be those of the plain formula.
    model = build("deepbind", pool=pool, both_strands=both_strands, filters=16, dropout=0.0).train()
    x = one_hot(5, 101)
    fast = model(x)
    g_fast = torch.autograd.grad(fast.sum(), list(model.parameters()))
    ref = _plain_deepbind(model, x)
    g_ref = torch.autograd.grad(ref.sum(), list(model.parameters()))
    torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-5)
    for a, b in zip(g_fast, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_deepbind_bfloat16_training_step_follows_the_float32_gradient():
    # Under bf16 autocast the fused scan casts the windows and filters itself; its gradient must stay the
    # float32 one up to bf16 rounding (about 3 significant digits), for every parameter.
    model = build("deepbind", filters=32, dropout=0.0).train()
    x = one_hot(64, 101)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fast = model(x)
    g_fast = torch.autograd.grad(fast.float().square().mean(), list(model.parameters()))
    ref = _plain_deepbind(model, x)
    g_ref = torch.autograd.grad(ref.square().mean(), list(model.parameters()))
    for (name, _), a, b in zip(model.named_parameters(), g_fast, g_ref):
        assert a.dtype == torch.float32, name
        assert (a - b).norm() <= 0.03 * b.norm() + 1e-6, name


@pytest.mark.parametrize("pool", ["max", "maxavg"])
@pytest.mark.parametrize("both_strands", [True, False])
def test_deepbind_takes_an_empty_batch(pool, both_strands):
    model = build("deepbind", pool=pool, both_strands=both_strands, filters=16).train()
    assert model(one_hot(0, 101)).shape == (0,)
    with torch.no_grad():
        assert model(one_hot(0, 101)).shape == (0,)


def test_scan_relu_pool_gradient_in_float64():
    # The written-out backward against finite differences (float64 takes the plain addmm + ReLU path), with
    # ties at the max and rows the ReLU zeroes entirely.
    from seqsweep.models.cnn import _ScanReluPool

    batch, positions, k, c = 3, 7, 5, 4
    windows = torch.randn(batch * positions, k, dtype=torch.float64)
    windows[:positions] = windows[0]  # row 0: every position the same, so the max is tied everywhere
    weight = torch.randn(c, k, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(c, dtype=torch.float64)
    bias[0] = -100.0  # channel 0 is zero after the ReLU everywhere
    bias.requires_grad_(True)

    def pooled(w: torch.Tensor, b: torch.Tensor):
        top, mean, _, _ = _ScanReluPool.apply(windows, w, b, batch)
        return top, mean

    assert torch.autograd.gradcheck(pooled, (weight, bias))
    top, mean = pooled(weight, bias)
    h = torch.relu(windows @ weight.t() + bias).view(batch, positions, c)
    torch.testing.assert_close(top, h.amax(1))
    torch.testing.assert_close(mean, h.mean(1))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fused_linear_relu_matches_addmm_then_relu(dtype, monkeypatch):
    import seqsweep.models.cnn as cnn_module

    x, w, b = torch.randn(300, 36, dtype=dtype), torch.randn(64, 36, dtype=dtype), torch.randn(64, dtype=dtype)
    fused = cnn_module._linear_relu(x, w, b)
    monkeypatch.setattr(cnn_module, "_FUSED_LINEAR_RELU", False)
    plain = cnn_module._linear_relu(x, w, b)
    assert (plain == 0).any() and (plain > 0).any()
    torch.testing.assert_close(fused, plain, rtol=1e-2 if dtype == torch.bfloat16 else 1e-5, atol=1e-5)


def test_describe_models_mentions_every_architecture():
    table = describe_models()
    lines = table.splitlines()
    assert lines[0].split() == ["architecture", "description", "hyperparameters"]
    assert [line.split()[0] for line in lines[1:]] == ARCHS
    for name, line in zip(ARCHS, lines[1:]):
        summary = inspect.getdoc(type(create_model(name))).splitlines()[0]
        assert summary in line
        assert all(f"{k}={v!r}" in line for k, v in model_hparams(name).items())


@pytest.mark.parametrize("name", ARCHS)
def test_default_size_is_modest(name):
    assert 0 < count_parameters(create_model(name)) < 2_000_000


def test_register_model_contract(monkeypatch):
    # A private copy of the registry, so the toy architectures below do not leak into other tests.
    monkeypatch.setattr(_registry, "_MODELS", dict(_registry._MODELS))

    with pytest.raises(ModelError, match="architecture 'cnn' is already registered"):

        @register_model("cnn")
        class Again(SequenceModel):
            def __init__(self, seq_len=101, use_accessibility=False, n_outputs=1, hidden_size=1, dropout=0.0):
                super().__init__(seq_len, use_accessibility, hidden_size, dropout, n_outputs)

    with pytest.raises(TypeError, match="nn.Module subclasses"):
        register_model("notamodule")(object)

    with pytest.raises(TypeError, match="'kwargs' must be a keyword with a default"):

        @register_model("loose")
        class Loose(nn.Module):
            def __init__(self, seq_len=101, use_accessibility=False, n_outputs=1, **kwargs):
                super().__init__()

    @register_model("toy")
    class Toy(SequenceModel):
        """A toy: the mean of the A channel."""

        def __init__(self, seq_len=101, use_accessibility=False, n_outputs=1, hidden_size=1, dropout=0.0, scale=2.0):
            super().__init__(seq_len, use_accessibility, hidden_size, dropout, n_outputs)
            self.scale = scale

        def forward(self, x, a=None, mask=None):
            self.check_input(x, a, mask)
            return self.scale * x[:, 0].mean(1)  # (B, 4, L) -> (B,)

    assert "toy" in list_models() and "toy" in describe_models()
    assert model_hparams("toy") == {"hidden_size": 1, "dropout": 0.0, "scale": 2.0}
    assert "toy" in architectures_taking("scale")
    toy = create_model("toy", seq_len=10, scale=3.0)
    x = one_hot(2, 10)
    torch.testing.assert_close(toy(x), 3.0 * x[:, 0].mean(1))
    with pytest.raises(ModelInputError, match=re.escape("toy: input x must have shape (B, 4, 10)")):
        toy(one_hot(2, 11))


def _kmer_counts_by_hand(seq: str, k: int) -> dict[str, int]:
    comp = {"A": "T", "C": "G", "G": "C", "T": "A"}
    counts: dict[str, int] = {}
    for i in range(len(seq) - k + 1):
        w = seq[i : i + k]
        if "N" in w:
            continue
        rc = "".join(comp[c] for c in reversed(w))
        key = min(w, rc)
        counts[key] = counts.get(key, 0) + 1
    return counts


def test_kmer_spectrum_counts_both_strands_and_skips_n():
    from seqsweep.data import encode
    from seqsweep.models.kmer import canonical_index

    seq = "ACGTTGACTCANNACGGGTCA"
    model = create_model("kmer", seq_len=len(seq), k_max=3)
    x = torch.as_tensor(encode([seq], length=len(seq))).float().transpose(1, 2)  # (1, 4, L)
    spec = model.spectrum(x)[0]
    offset = 0
    for k in (1, 2, 3):
        column, n = canonical_index(k)
        want = torch.zeros(n)
        for kmer, c in _kmer_counts_by_hand(seq, k).items():
            code = 0
            for ch in kmer:
                code = code * 4 + "ACGT".index(ch)
            want[column[code]] += c
        assert torch.equal(spec[offset : offset + n], want), k
        offset += n
    assert n == 32  # 64 3-mers, none its own reverse complement: 32 columns


def test_kmer_adapt_scales_by_the_training_maximum_and_is_saved():
    torch.manual_seed(0)
    x = F.one_hot(torch.randint(0, 4, (64, 30)), 4).float().transpose(1, 2)
    model = create_model("kmer", seq_len=30, k_max=4)
    model.adapt(x)
    peak = model.spectrum(x).amax(0)
    assert torch.allclose(model.scale[peak > 0], 1 / peak[peak > 0])
    assert torch.all(model.scale[peak == 0] == 1)
    assert set(model.state_dict()) == {"scale", "out.linear.weight", "out.linear.bias"}  # lookups are not saved
    other = create_model("kmer", seq_len=30, k_max=4)
    other.load_state_dict(model.state_dict())
    assert torch.equal(other.eval()(x), model.eval()(x))


@pytest.mark.parametrize("arch", ["lstm", "bilstm", "cnn_bilstm"])
def test_lstm_training_calls_run_over_row_chunks_with_the_same_outputs(arch, monkeypatch):
    """On CPU a training batch goes through the LSTM in chunks of rows (models/_common.run_rnn): the same
    logits bit for bit, the same gradients up to summation order; inference is one call."""
    import seqsweep.models._common as common

    calls: list[int] = []
    forward = torch.nn.LSTM.forward

    def counted(self, x, *args):
        calls.append(x.shape[0])
        return forward(self, x, *args)

    monkeypatch.setattr(torch.nn.LSTM, "forward", counted)
    torch.manual_seed(0)
    model = create_model(arch, seq_len=101)
    x = (torch.rand(300, 4, 101) < 0.25).float()
    torch.manual_seed(1)  # the same dropout masks in both passes
    chunked = model(x)
    assert len(calls) > 1 and max(calls) <= 128 and sum(calls) == 300, calls
    grads = torch.autograd.grad(chunked.sum(), list(model.parameters()))

    monkeypatch.setattr(common, "LSTM_CHUNK_BYTES", 10**12)  # one call
    calls.clear()
    torch.manual_seed(1)
    whole = model(x)
    assert calls == [300]
    assert torch.equal(chunked, whole)
    for g, h in zip(grads, torch.autograd.grad(whole.sum(), list(model.parameters()))):
        torch.testing.assert_close(g, h, rtol=1e-5, atol=1e-6)

    monkeypatch.setattr(common, "LSTM_CHUNK_BYTES", 2 * 2**20)
    calls.clear()
    with torch.inference_mode():
        model(x)
    assert calls == [300]


@pytest.mark.parametrize("name", list_models())
def test_every_hyperparameter_declares_its_rule_in_the_signature(name):
    """Declared once: each hyperparameter's type carries its rule (models/hparams.py), which `models list`
    shows and register_model checks; no constructor checks values by hand."""
    import inspect as _inspect

    from seqsweep.models import model_rules
    from seqsweep.models._registry import _lookup

    assert set(model_rules(name)) == set(model_hparams(name)), name
    source = _inspect.getsource(_lookup(name))
    assert "check_int" not in source and "check_choice" not in source
    line = next(line for line in describe_models().splitlines() if line.startswith(name + " "))
    assert all(f"[{rule}]" in line for rule in model_rules(name).values()), line
