"""The lockstep k-fold trainer and the ensemble predictor, on data with a planted motif."""

import math

import numpy as np
import pytest
import torch

from seqsweep.cv import make_folds
from seqsweep.data import Dataset
from seqsweep.errors import ConfigError
from seqsweep.ensemble import predict_proba
from seqsweep.models import create_model
from seqsweep.tasks import BINARY
from seqsweep.train import CVTrainer, TrainConfig, TrainingError, bf16_hardware, resolve_precision

pytestmark = pytest.mark.usefixtures("one_thread")  # two cores shared with other test processes

MOTIF = "TGACTCA"  # the AP-1 site JUND binds
SMALL = {
    "deepbind": {"filters": 16, "hidden_size": 16, "dropout": 0.1},
    "cnn": {"filters": 16, "hidden_size": 16, "pool": 2, "dropout": 0.1},
}



def motif_dataset(n: int = 1500, length: int = 40, seed: int = 0) -> Dataset:
    """Uniform random background; every positive (half the rows) carries TGACTCA at a random position."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=(n, length))
    y = np.zeros(n, dtype=np.uint8)
    y[rng.permutation(n)[: n // 2]] = 1
    motif = np.array(["ACGT".index(c) for c in MOTIF])
    for row in np.flatnonzero(y):
        start = rng.integers(0, length - len(motif) + 1)
        codes[row, start : start + len(motif)] = motif
    return Dataset(
        X=np.eye(4, dtype=np.uint8)[codes],  # (n, L) -> (n, L, 4)
        y=y,
        w=np.ones(n, dtype=np.float32),
        ids=np.array([f"chrT:{i * length}-{(i + 1) * length}" for i in range(n)]),
        a=rng.random(n).astype(np.float32),
    )


@pytest.fixture(scope="module")
def data() -> Dataset:
    return motif_dataset()


@pytest.fixture(scope="module")
def folds(data):
    return make_folds(data.y, 3, seed=0)


def _names(k: int) -> set[str]:
    names = {"train_loss", "epoch", "windows_seen"}
    for m in ("weighted_accuracy", "roc_auc", "pr_auc"):
        names |= {f"cv_{m}", f"cv_{m}_std"} | {f"fold{i}_{m}" for i in range(k)}
    return names


@pytest.fixture(scope="module")
def trained(data, folds):
    """deepbind trained 3 epochs on the motif data: (trainer, per-epoch metrics)."""
    config = TrainConfig("deepbind", SMALL["deepbind"], learning_rate=1e-2, batch_size=64, epochs=3)
    trainer = CVTrainer(data, folds, config)
    return trainer, trainer.fit()


def test_deepbind_learns_the_motif(trained):
    trainer, history = trained
    last = history[-1]
    assert trainer.epoch == 3 and [m["epoch"] for m in history] == [1, 2, 3]
    assert last["cv_weighted_accuracy"] > 0.8, last
    assert last["cv_roc_auc"] > 0.9, last
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_step_epoch_reports_exactly_the_metric_names(trained):
    _, history = trained
    m = history[0]
    assert set(m) == _names(3)
    accs = [m[f"fold{k}_weighted_accuracy"] for k in range(3)]
    assert m["cv_weighted_accuracy"] == pytest.approx(np.mean(accs))
    assert m["cv_weighted_accuracy_std"] == pytest.approx(np.std(accs))
    assert all(isinstance(v, (int, float)) and math.isfinite(v) for v in m.values())


def test_cnn_learns_with_every_option(data, folds):
    # rc_augment (so rc_average defaults on), a schedule, accessibility input: the less common paths
    config = TrainConfig(
        "cnn", SMALL["cnn"], learning_rate=2e-2, batch_size=64, epochs=4, rc_augment=True,
        lr_schedule="onecycle", use_accessibility=True, optimizer="adam", weight_decay=1e-4,
    )
    assert config.strand_average
    trainer = CVTrainer(data, folds, config)
    history = trainer.fit()
    assert history[-1]["cv_weighted_accuracy"] > 0.8, history[-1]
    # past the schedule's end the learning rate stays where it ended instead of raising
    assert trainer.step_epoch()["epoch"] == 5


def test_same_seed_same_metrics_other_seed_different(data, folds):
    def run(seed: int) -> dict:
        config = TrainConfig("cnn", SMALL["cnn"], batch_size=128, epochs=2, seed=seed, rc_augment=True,
                             lr_schedule="cosine")
        return CVTrainer(data, folds, config).step_epoch()

    torch.manual_seed(123)
    first = run(0)
    torch.manual_seed(999)  # the caller's global RNG state must not matter
    assert run(0) == first
    assert run(1) != first


def test_trainer_leaves_the_global_rng_alone(data, folds):
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    config = TrainConfig("cnn", SMALL["cnn"], batch_size=256, epochs=1)
    CVTrainer(data.subset(np.arange(300)), make_folds(data.y[:300], 2, seed=0), config).step_epoch()
    assert torch.equal(torch.rand(3), expected)


def test_nan_loss_raises_training_error_naming_fold_epoch_architecture(data, folds):
    # A NaN sample weight makes the weighted loss NaN in whichever fold trains on that row.
    w = data.w.copy()
    bad_row = folds[1][0][0]  # a training row of fold 1 (and of one other fold)
    w[bad_row] = np.nan
    bad = Dataset(X=data.X, y=data.y, w=w, ids=data.ids)
    config = TrainConfig("cnn", SMALL["cnn"], batch_size=256, epochs=1)
    trainer = CVTrainer(bad, folds, config)
    with pytest.raises(TrainingError, match=r"'cnn': training loss became nan in fold \d at epoch 1") as err:
        trainer.step_epoch()
    fold = int(str(err.value).split("in fold ")[1][0])
    assert bad_row in folds[fold][0]
    assert isinstance(err.value, RuntimeError)


def test_predict_proba_averages_probabilities_over_folds(trained, data):
    trainer, _ = trained
    X = data.X[:500]
    p = predict_proba(trainer.models, X, rc_average=True)
    assert p.shape == (500,) and p.dtype == np.float32
    assert np.all((p >= 0) & (p <= 1))
    assert ((p > 0.5) == data.y[:500]).mean() > 0.85  # rows the folds mostly trained on

    # the definition, spelled out: mean over models of sigmoid(mean over strands of the logit)
    x = torch.from_numpy(X).float().transpose(1, 2)  # (N, L, 4) -> (N, 4, L)
    with torch.no_grad():
        manual = torch.stack(
            [torch.sigmoid((m(x) + m(x.flip(1, 2))) / 2) for m in trainer.models]
        ).mean(0)
    np.testing.assert_allclose(p, manual.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(trainer.predict_proba(X), p, atol=1e-6)
    # batch size does not change the answer
    np.testing.assert_allclose(predict_proba(trainer.models, X, rc_average=True, batch_size=7), p, atol=1e-6)


def test_state_dicts_are_cpu_copies_that_rebuild_the_ensemble(trained, data):
    trainer, _ = trained
    states = trainer.state_dicts()
    assert len(states) == 3
    assert all(t.device.type == "cpu" for s in states for t in s.values())
    key = next(iter(states[0]))
    assert states[0][key].data_ptr() != trainer.models[0].state_dict()[key].data_ptr()

    rebuilt = []
    for s in states:
        m = create_model("deepbind", seq_len=data.seq_len, **SMALL["deepbind"])
        m.load_state_dict(s)
        rebuilt.append(m)
    X = data.X[-200:]
    np.testing.assert_allclose(
        predict_proba(rebuilt, X, rc_average=False), predict_proba(trainer.models, X, rc_average=False), atol=1e-6
    )


def test_bad_config_values_are_config_errors():
    with pytest.raises(ConfigError, match=r"optimizer: Input should be 'adam' or 'adamw', got 'sgd'"):
        TrainConfig("cnn", optimizer="sgd")
    with pytest.raises(ConfigError, match=r"lr_schedule: .*got 'step'"):
        TrainConfig("cnn", lr_schedule="step")
    with pytest.raises(ConfigError, match=r"learning_rate: Input should be greater than 0, got 0"):
        TrainConfig("cnn", learning_rate=0)
    with pytest.raises(ConfigError, match=r"batch_size: .*got 0"):
        TrainConfig("cnn", batch_size=0)
    assert TrainConfig("cnn").strand_average is False
    assert TrainConfig("cnn", rc_augment=True, rc_average=False).strand_average is False


def test_accessibility_without_data_is_a_config_error(data, folds):
    no_a = Dataset(X=data.X, y=data.y, w=data.w, ids=data.ids, source="nowhere.csv")
    with pytest.raises(ConfigError, match=r"use_accessibility: .*nowhere\.csv has no accessibility"):
        CVTrainer(no_a, folds, TrainConfig("cnn", SMALL["cnn"], use_accessibility=True))


def rare_positive_dataset(n: int = 3000, positives: int = 30, length: int = 40, seed: int = 1) -> Dataset:
    """1% positives carrying the motif, with class-balancing weights (as the JUND shards have)."""
    ds = motif_dataset(n, length, seed)
    rng = np.random.default_rng(seed)
    pos = np.flatnonzero(ds.y)
    neg_rows = pos[positives:]  # turn most positives back into random negatives
    X = ds.X.copy()
    X[neg_rows] = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, size=(len(neg_rows), length))]
    y = ds.y.copy()
    y[neg_rows] = 0
    w = np.where(y == 1, n / (2 * y.sum()), n / (2 * (n - y.sum()))).astype(np.float32)
    return Dataset(X=X, y=y, w=w, ids=ds.ids, a=ds.a)


def test_weighted_loss_is_unbiased_when_positives_are_rare():
    # The step loss must be sum(w * l) / (B * the fold's mean training weight): with class-balancing weights
    # a constant model's best logit is then 0. Normalising by each batch's own weight sum (the old loss)
    # pulls every logit down, because most batches hold no positive.
    ds = rare_positive_dataset()
    folds = make_folds(ds.y, 3, seed=0)
    trainer = CVTrainer(ds, folds, TrainConfig("deepbind", SMALL["deepbind"], batch_size=64))
    assert trainer._w_mean == pytest.approx([float(ds.w[tr].mean()) for tr, _ in folds])
    y = torch.tensor([0.0] * 63 + [1.0])
    w = torch.tensor([0.5] * 63 + [50.0])
    logits = torch.zeros(64, requires_grad=True)
    loss, weighted, weight = CVTrainer._weighted_loss(BINARY, logits, y, w, 2.0)
    assert weight.item() == pytest.approx(63 * 0.5 + 50)
    assert weighted.item() == pytest.approx(math.log(2) * weight.item(), rel=1e-5)
    assert loss.item() == pytest.approx(weighted.item() / (64 * 2.0), rel=1e-5)
    # the expected gradient at logit 0 over all batches is 0: positives and negatives weigh the same
    p = torch.zeros(len(ds), requires_grad=True)
    full, _, _ = CVTrainer._weighted_loss(BINARY, p, torch.as_tensor(ds.y, dtype=torch.float32), torch.as_tensor(ds.w), float(ds.w.mean()))
    full.backward()
    assert abs(p.grad.sum().item()) < 1e-4


def test_weighted_sampling_draws_rows_by_weight_and_learns_rare_positives():
    ds = rare_positive_dataset()
    folds = make_folds(ds.y, 3, seed=0)
    cfg = TrainConfig("deepbind", SMALL["deepbind"], batch_size=64, epochs=6, learning_rate=3e-3, sampling="weighted")
    trainer = CVTrainer(ds, folds, cfg)
    order, _ = trainer._epoch_order(0, len(folds[0][0]))
    # about half of the draws are positives (each class holds half the weight), though 1% of rows are
    assert 0.4 < ds.y[order.numpy()].mean() < 0.6
    assert set(order.numpy()) <= set(folds[0][0])
    metrics = trainer.fit()[-1]
    assert metrics["cv_roc_auc"] > 0.9, metrics
    assert metrics["cv_weighted_accuracy"] > 0.8, metrics
    with pytest.raises(ConfigError, match="sampling"):
        TrainConfig("deepbind", sampling="balanced")


def test_precision_auto_is_bf16_only_where_hardware_and_architecture_gain():
    cpu = torch.device("cpu")
    has_bf16 = bf16_hardware(cpu)  # AMX on this CPU or not: the test holds either way
    assert resolve_precision("auto", cpu, create_model("cnn")) == ("bfloat16" if has_bf16 else "float32")
    assert resolve_precision("auto", cpu, create_model("lstm")) == ("bfloat16" if has_bf16 else "float32")
    for arch in ("mlp", "kmer"):  # measured slower in bf16: never chosen automatically
        assert resolve_precision("auto", cpu, create_model(arch)) == "float32"
    assert resolve_precision("float32", cpu, create_model("cnn")) == "float32"
    assert resolve_precision("bfloat16", cpu, create_model("mlp")) == "bfloat16"  # asked for: honoured
    with pytest.raises(ConfigError, match=r"precision: must be one of auto, float32, bfloat16, got 'half'"):
        resolve_precision("half", cpu, create_model("cnn"))


def test_bfloat16_training_learns_is_seeded_and_scores_in_float32(data, folds):
    config = TrainConfig("cnn", SMALL["cnn"], learning_rate=5e-3, batch_size=64, epochs=6, rc_augment=True)
    trainer = CVTrainer(data, folds, config, precision="bfloat16")
    assert trainer.precision == "bfloat16"
    history = trainer.fit()
    assert history[-1]["cv_weighted_accuracy"] > 0.8, history[-1]
    # same seed, same bf16 steps, same metrics
    assert CVTrainer(data, folds, config, precision="bfloat16").fit() == history
    # the reported validation scores are those of the float32 model as saved and served
    k = 0
    logits = trainer._val_logits(k)
    x = torch.from_numpy(data.X[folds[k][1]]).float().transpose(1, 2)
    model = trainer.models[k].eval()
    with torch.no_grad():
        manual = ((model(x) + model(x.flip(1, 2))) / 2).double().numpy()
    np.testing.assert_allclose(logits, manual, rtol=1e-6, atol=1e-6)


def test_out_of_fold_probabilities_are_each_fold_models_scores_of_its_own_validation_rows(data, folds):
    cfg = TrainConfig("cnn", SMALL["cnn"], epochs=1, batch_size=128, rc_augment=True)
    trainer = CVTrainer(data, folds, cfg)
    with pytest.raises(RuntimeError, match="no epoch"):
        trainer.oof_proba()
    metrics = trainer.step_epoch()
    oof = trainer.oof_proba()
    assert oof.shape == (len(data),) and oof.dtype == np.float32 and np.isfinite(oof).all()
    for k, (_, va) in enumerate(folds):
        alone = predict_proba(trainer.models[k:k + 1], data.X[va], task=data.task, rc_average=True)
        np.testing.assert_allclose(oof[va], alone, rtol=1e-5, atol=1e-6)
        # what the trainer reported for the fold is the score of these probabilities
        from seqsweep.metrics import task_metric

        assert task_metric(data.task, "roc_auc", data.y[va], oof[va], data.w[va]) == pytest.approx(
            metrics[f"fold{k}_roc_auc"], abs=1e-4)  # float32 probabilities tie where logits did not
