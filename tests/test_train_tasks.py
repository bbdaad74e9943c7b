"""The trainer on every task type: multilabel (masked BCE), multiclass and next_base (weighted cross-entropy),
padded variable-length data; losses checked by hand, learning checked on planted motifs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqsweep.cv import make_folds
from seqsweep.data import Dataset, class_balancing_weights
from seqsweep.data.encoding import Length, encode_to_length, multilabel_weights
from seqsweep.errors import ConfigError
from seqsweep.tasks import Task, kmer_names
from seqsweep.train import CVTrainer, TrainConfig

pytestmark = pytest.mark.usefixtures("one_thread")  # two cores shared with other test processes

M1, M2 = "TGACTCA", "CACGTG"
SMALL = {"filters": 16, "hidden_size": 16, "dropout": 0.0}



def _plant(rng, codes: np.ndarray, row: int, motif: str) -> None:
    m = np.array(["ACGT".index(c) for c in motif])
    s = rng.integers(0, codes.shape[1] - len(m) + 1)
    codes[row, s : s + len(m)] = m


def multilabel_dataset(n: int = 1200, length: int = 40, seed: int = 0) -> Dataset:
    """Task a: M1 present; task b: M2 present; task c: both (a co-binding target). 5% of labels missing."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=(n, length))
    has1, has2 = rng.random(n) < 0.35, rng.random(n) < 0.35
    for r in np.flatnonzero(has1):
        _plant(rng, codes, r, M1)
    for r in np.flatnonzero(has2):
        _plant(rng, codes, r, M2)
    y = np.stack([has1, has2, has1 & has2], axis=1).astype(np.uint8)
    measured = rng.random(y.shape) > 0.05
    return Dataset(
        X=np.eye(4, dtype=np.uint8)[codes], y=y, w=multilabel_weights(y, measured),
        ids=np.array([f"chrT:{i * length}-{(i + 1) * length}" for i in range(n)]),
        task=Task("multilabel", ("a", "b", "c")),
    )


def multiclass_dataset(n: int = 1200, seed: int = 0, lengths: tuple[int, int] | None = None, signal: str = "motif") -> Dataset:
    """Class by motif: M1 -> 'one', M2 -> 'two', neither -> 'none' (signal 'gc': by GC content instead, low,
    even, high, which a recurrent model learns in a few epochs). With `lengths`, ragged and padded to the max."""
    rng = np.random.default_rng(seed)
    lo, hi = lengths or (40, 40)
    sizes = rng.integers(lo, hi + 1, size=n)
    y = rng.choice(3, size=n, p=[0.4, 0.3, 0.3])
    seqs = []
    for i in range(n):
        if signal == "gc":
            gc = (0.25, 0.5, 0.75)[y[i]]
            c = rng.choice(4, size=(1, sizes[i]), p=[(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
        else:
            c = rng.integers(0, 4, size=(1, sizes[i]))
        if signal == "motif" and y[i] > 0:
            _plant(rng, c, 0, (M1, M2)[y[i] - 1])
        seqs.append("".join("ACGT"[b] for b in c[0]))
    X, spans = encode_to_length(seqs, Length(to=hi, pad="center"))
    return Dataset(X=X, y=y.astype(np.int64), w=class_balancing_weights(y), spans=spans,
                   ids=np.array([f"chrT:{i * 1000}-{i * 1000 + 40}" for i in range(n)]),
                   task=Task("multiclass", ("none", "one", "two")))


def test_multilabel_learns_each_task_and_reports_per_task_scores():
    ds = multilabel_dataset()
    folds = make_folds(ds.y, 3, seed=0, task=ds.task, w=ds.w)
    trainer = CVTrainer(ds, folds, TrainConfig("deepbind", SMALL, learning_rate=1e-2, batch_size=64, epochs=4))
    m = trainer.fit()[-1]
    assert m["cv_roc_auc"] > 0.9 and m["cv_weighted_accuracy"] > 0.8, m
    ev = trainer.evaluation()
    assert [r["name"] for r in ev["outputs"]] == ["a", "b", "c"]
    assert all(r["folds_scored"] == 3 and r["roc_auc"] > 0.85 for r in ev["outputs"]), ev
    assert ev["unscorable"] == []
    assert trainer.models[0](torch.zeros(2, 4, 40)).shape == (2, 3)


def test_missing_labels_are_masked_out_of_loss_and_metrics():
    ds = multilabel_dataset(n=600)
    folds = make_folds(ds.y, 2, seed=0, task=ds.task, w=ds.w)
    flipped = ds.y.copy()
    flipped[ds.w == 0] = 1 - flipped[ds.w == 0]  # what a missing label "holds" must not matter
    other = Dataset(X=ds.X, y=flipped, w=ds.w, ids=ds.ids, task=ds.task)
    cfg = TrainConfig("cnn", {"filters": 8, "hidden_size": 8, "pool": 2}, batch_size=64, epochs=2)
    assert CVTrainer(ds, folds, cfg).fit() == CVTrainer(other, folds, cfg).fit()
    # ...while a measured label does matter (so the equality above can fail)
    changed = ds.y.copy()
    changed[ds.w > 0] = 1 - changed[ds.w > 0]
    assert CVTrainer(Dataset(X=ds.X, y=changed, w=ds.w, ids=ds.ids, task=ds.task), folds, cfg).fit() != CVTrainer(ds, folds, cfg).fit()


def test_multilabel_loss_is_the_weighted_mean_bce_over_measured_labels():
    task = Task("multilabel", ("a", "b"))
    logits = torch.tensor([[0.5, -1.0], [2.0, 0.0], [-0.3, 0.7]])
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    w = torch.tensor([[1.0, 2.0], [0.0, 1.0], [3.0, 0.0]])  # two missing labels
    loss, weighted, weight = CVTrainer._weighted_loss(task, logits, y, w, w_mean=2.5)
    by_hand = sum(
        w[i, t] * -(y[i, t] * math.log(torch.sigmoid(logits[i, t])) + (1 - y[i, t]) * math.log(1 - torch.sigmoid(logits[i, t])))
        for i in range(3) for t in range(2)
    )
    assert weighted.item() == pytest.approx(float(by_hand), rel=1e-5)
    assert weight.item() == 7.0
    assert loss.item() == pytest.approx(float(by_hand) / (3 * 2.5), rel=1e-5)


def test_multiclass_loss_is_weighted_cross_entropy():
    task = Task("multiclass", ("x", "y", "z"))
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.1, 0.2, 0.3]])
    y = torch.tensor([0, 2])
    w = torch.tensor([1.0, 4.0])
    loss, weighted, _ = CVTrainer._weighted_loss(task, logits, y, w, w_mean=2.0)
    ce = F.cross_entropy(logits, y, reduction="none")
    assert weighted.item() == pytest.approx(float((w * ce).sum()), rel=1e-6)
    assert loss.item() == pytest.approx(float((w * ce).sum()) / (2 * 2.0), rel=1e-6)


@pytest.mark.parametrize(
    "arch, kw, signal", [("deepbind", SMALL, "motif"), ("lstm", {"hidden_size": 16, "pool": 2}, "gc")], ids=["deepbind", "lstm"]
)
def test_multiclass_on_padded_sequences_of_different_lengths(arch, kw, signal):
    ds = multiclass_dataset(lengths=(24, 60), signal=signal)
    assert ds.spans is not None and len(set(ds.lengths())) > 10
    folds = make_folds(ds.y, 3, seed=0, task=ds.task)
    trainer = CVTrainer(ds, folds, TrainConfig(arch, kw, learning_rate=1e-2, batch_size=64, epochs=5))
    m = trainer.fit()[-1]
    assert m["cv_weighted_accuracy"] > 0.75 and m["cv_accuracy"] > 0.75 and m["cv_top2_accuracy"] > 0.9, m
    ev = trainer.evaluation()
    assert [r["name"] for r in ev["outputs"]] == ["none", "one", "two"]
    confusion = np.array(ev["confusion"])
    assert confusion.shape == (3, 3) and confusion.sum() == len(ds)
    assert np.trace(confusion) / confusion.sum() == pytest.approx(m["cv_accuracy"], abs=0.02)
    # scoring a padded row uses its mask: the same probability as the row cut to its real length
    from seqsweep.ensemble import predict_proba

    i = int(np.argmin(ds.lengths()))
    s, e = ds.spans[i]
    p_padded = predict_proba(trainer.models, ds.X[i : i + 1], spans=ds.spans[i : i + 1], task=ds.task, rc_average=False)
    p_alone = predict_proba(trainer.models, ds.X[i : i + 1, s:e], task=ds.task, rc_average=False)
    np.testing.assert_allclose(p_padded, p_alone, rtol=1e-5, atol=1e-6)
    assert p_padded.shape == (1, 3) and p_padded.sum() == pytest.approx(1.0, abs=1e-5)


def test_next_base_learns_a_context_rule_and_refuses_reverse_complements():
    from seqsweep.data.windows import next_base_windows

    rng = np.random.default_rng(0)
    # after "GA" comes "T", after "CC" comes "G"; otherwise a random base
    genome = list(rng.choice(list("ACGT"), size=30000))
    for i in range(2, len(genome)):
        if genome[i - 2 : i] == ["G", "A"]:
            genome[i] = "T"
        elif genome[i - 2 : i] == ["C", "C"]:
            genome[i] = "G"
    ds = next_base_windows(np.array(["chrG:0-30000"]), ["".join(genome)], context=12, k=1, stride=3, block_size=3000)
    assert ds.task == Task("next_base", kmer_names(1)) and ds.X.shape[1:] == (12, 4)
    folds = make_folds(ds.y, 3, seed=0, task=ds.task, groups=np.array([i.split(":")[1].split("-")[0] for i in ds.ids]).astype(int) // 3000)
    cfg = TrainConfig("lstm", {"hidden_size": 16, "readout": "last"}, learning_rate=1e-2, batch_size=128, epochs=3)
    m = CVTrainer(ds, folds, cfg).fit()[-1]
    # random next base: 0.25; the rules fix the base after 2 of 16 contexts: about 0.25 + 2/16 * 0.75 = 0.34
    assert m["cv_accuracy"] > 0.31, m
    with pytest.raises(ConfigError, match="rc_augment: must be false for next_base"):
        CVTrainer(ds, folds, TrainConfig("lstm", {}, rc_augment=True))


def test_weighted_sampling_is_refused_for_multilabel():
    ds = multilabel_dataset(n=300)
    folds = make_folds(ds.y, 2, seed=0, task=ds.task, w=ds.w)
    with pytest.raises(ConfigError, match="sampling: 'weighted'"):
        CVTrainer(ds, folds, TrainConfig("cnn", {}, sampling="weighted"))
