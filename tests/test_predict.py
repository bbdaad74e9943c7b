"""Batch prediction from files (predict.py) with a real registered model, and the serve command."""

from __future__ import annotations

import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from seqsweep import registry
from seqsweep.cv import make_folds
from seqsweep.data import class_balancing_weights, decode, synth, write_shards
from seqsweep.ensemble import load_ensemble, save_ensemble
from seqsweep.errors import DataError, RegistryError
from seqsweep.metrics import evaluate_proba
from seqsweep.predict import predict_file, serve_command
from seqsweep.tracking import log_ensemble_model
from seqsweep.train import CVTrainer, TrainConfig

HPARAMS = {"filters": 4, "hidden_size": 8, "num_layers": 1, "kernel_size": 5, "pool": 4}
MODEL = "predictor"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return synth(tmp_path_factory.mktemp("synth") / "d", n=60, positive_rate=0.3, seed=3, length=30)


@pytest.fixture(scope="module")
def model(tracking, data, tmp_path_factory):
    """A 1-epoch 2-fold cnn, logged and registered as `predictor` version 1 with alias champion.

    Returns (models:/ URI by alias, the ensemble for reference predictions).
    """
    trainer = CVTrainer(data, make_folds(data.y, 2, seed=0), TrainConfig("cnn", dict(HPARAMS), epochs=1))
    trainer.fit()
    ens_dir = save_ensemble(tmp_path_factory.mktemp("ens") / "m", architecture="cnn", hparams=HPARAMS,
                            seq_len=30, use_accessibility=False, rc_average=False, state_dicts=trainer.state_dicts())
    with mlflow.start_run(experiment_id=tracking):
        info = log_ensemble_model(ens_dir)
    mv = registry.register_trial_model(info.model_uri, model_name=MODEL, tags={})
    registry.promote(MODEL, mv.version)
    return f"models:/{MODEL}@champion", load_ensemble(ens_dir)


def write_csv(path: Path, ids, seqs, labels=None, weights=None) -> Path:
    df = pd.DataFrame({"id": ids, "sequence": seqs})
    if labels is not None:
        df["label"] = labels
    if weights is not None:
        df["weight"] = weights
    df.to_csv(path, index=False)
    return path


def test_csv_with_labels_and_weights(model, data, tmp_path):
    uri, ens = model
    src = write_csv(tmp_path / "in.csv", data.ids, decode(data.X), data.y, data.w)
    out = tmp_path / "out" / "pred.csv"
    metrics = predict_file(uri, src, out, progress=False)

    got = pd.read_csv(out)
    assert list(got.columns) == ["id", "probability", "label", "true_label"]
    p = ens.predict_proba(data.X)
    np.testing.assert_allclose(got["probability"], p, rtol=1e-6)
    np.testing.assert_array_equal(got["label"], (p > 0.5).astype(int))
    np.testing.assert_array_equal(got["true_label"], data.y)
    assert list(got["id"]) == list(data.ids)
    assert metrics == pytest.approx(evaluate_proba(data.y, p, data.w))
    assert [f.name for f in out.parent.iterdir()] == ["pred.csv"]  # no temporary file left behind


def test_fasta_with_and_without_labels(model, data, tmp_path):
    uri, ens = model
    seqs = decode(data.X)
    p = ens.predict_proba(data.X)

    plain = tmp_path / "plain.fa"
    plain.write_text("".join(f">{i} some description\n{s[:15]}\n{s[15:]}\n" for i, s in zip(data.ids, seqs)))
    assert predict_file(uri, plain, tmp_path / "plain.csv", progress=False) == {}
    got = pd.read_csv(tmp_path / "plain.csv")
    assert list(got.columns) == ["id", "probability", "label"]
    np.testing.assert_allclose(got["probability"], p, rtol=1e-6)

    labelled = tmp_path / "labelled.fa"
    labelled.write_text("".join(f">{i} label={y}\n{s}\n" for i, s, y in zip(data.ids, seqs, data.y)))
    metrics = predict_file(uri, labelled, tmp_path / "labelled.csv", progress=False)
    # no weights in the file: class-balancing weights, as everywhere else
    assert metrics == pytest.approx(evaluate_proba(data.y, p, class_balancing_weights(data.y)))
    assert list(pd.read_csv(tmp_path / "labelled.csv")["true_label"]) == list(data.y)


def test_shard_directory_in_batches_with_progress(model, data, tmp_path, capsys):
    uri, ens = model
    shards = write_shards(data, tmp_path / "shards", shard_size=25)
    metrics = predict_file(uri, shards, tmp_path / "pred.csv", batch_size=7, progress=True)
    got = pd.read_csv(tmp_path / "pred.csv")
    assert list(got.columns) == ["id", "probability", "label", "true_label"]
    p = ens.predict_proba(data.X)
    np.testing.assert_allclose(got["probability"], p, rtol=1e-6)
    assert metrics == pytest.approx(evaluate_proba(data.y, p, data.w))
    captured = capsys.readouterr()
    assert "60/60" in captured.err and captured.out == ""  # the bar goes to stderr, nothing to stdout


def test_wrong_length_names_the_row_and_keeps_the_old_output(model, data, tmp_path):
    uri, _ = model
    seqs = decode(data.X[:4])
    seqs[2] = seqs[2][:-1]
    src = write_csv(tmp_path / "in.csv", ["a", "b", "c", "d"], seqs)
    out = tmp_path / "pred.csv"
    out.write_text("previous results\n")
    with pytest.raises(DataError) as err:
        predict_file(uri, src, out, progress=False)
    assert str(err.value) == f"{src}: row 2 (id 'c'): sequence has length 29, the model expects 30"
    assert out.read_text() == "previous results\n"


def test_bad_model_uri_is_a_one_line_registry_error(model, data, tmp_path):
    src = write_csv(tmp_path / "in.csv", ["a"], decode(data.X[:1]))
    for uri in (f"models:/{MODEL}/9", "models:/no-such-model@champion", str(tmp_path / "nothing-here")):
        with pytest.raises(RegistryError) as err:
            predict_file(uri, src, tmp_path / "pred.csv", progress=False)
        assert str(err.value).startswith(f"cannot load model {uri!r}: ") and "\n" not in str(err.value)
    assert not (tmp_path / "pred.csv").exists()


def test_serve_command():
    argv = serve_command("models:/jund@champion", port=5002)
    assert argv == [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/jund@champion",
                    "--env-manager", "local", "-h", "127.0.0.1", "-p", "5002"]
