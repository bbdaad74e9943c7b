"""The on-disk ensemble (ensemble.py) and the logged pyfunc model (pyfunc_model.py), with real torch + MLflow."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch

import seqsweep

from seqsweep.cv import make_folds
from seqsweep.data import decode, synth
from seqsweep.ensemble import MODEL_JSON, copy_model_files, load_ensemble, save_ensemble, save_trial_ensemble
from seqsweep.errors import DataError, ModelError
from seqsweep.models import create_model
from seqsweep.pyfunc_model import log_ensemble_model, pip_requirements
from seqsweep.train import CVTrainer, TrainConfig

HPARAMS = {"filters": 4, "hidden_size": 8, "num_layers": 1, "kernel_size": 5, "pool": 4}


class PlantedPayload:
    """Unpickling this creates `marker`: a stand-in for code an attacker plants in the artifact store."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def plant_pickles(model_dir: Path, marker: Path) -> None:
    """evil.pkl (plain pickle) and fold0.pt (a torch.save pickle, the name a torch checkpoint would have)."""
    with open(model_dir / "evil.pkl", "wb") as fh:
        pickle.dump(PlantedPayload(marker), fh)
    torch.save({"weights": PlantedPayload(marker)}, model_dir / "fold0.pt")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return synth(tmp_path_factory.mktemp("synth") / "train", n=200, positive_rate=0.3, seed=0, length=30)


@pytest.fixture(scope="module")
def trained(data):
    """A 2-fold cnn trained for one epoch, and its ensemble directory."""
    cfg = TrainConfig("cnn", dict(HPARAMS), epochs=1, batch_size=64, rc_augment=True)
    trainer = CVTrainer(data, make_folds(data.y, 2, seed=0), cfg)
    trainer.fit()
    return trainer


@pytest.fixture(scope="module")
def ensemble_dir(trained, data, tmp_path_factory) -> Path:
    return save_ensemble(
        tmp_path_factory.mktemp("ens") / "model",
        architecture="cnn",
        hparams=HPARAMS,
        seq_len=data.seq_len,
        use_accessibility=False,
        rc_average=trained.config.strand_average,
        state_dicts=trained.state_dicts(),
        extra={"epochs": 1},
    )


def test_model_json_records_the_encoding_and_folds(ensemble_dir):
    meta = json.loads((ensemble_dir / MODEL_JSON).read_text())
    assert meta["architecture"] == "cnn" and meta["hparams"] == HPARAMS
    assert meta["n_folds"] == 2 and meta["seq_len"] == 30 and meta["rc_average"] is True
    assert meta["encoding"] == {"alphabet": "ACGT", "unknown": "zeros", "case": "insensitive", "length": 30}
    assert meta["seqsweep_version"] == seqsweep.__version__ and meta["epochs"] == 1
    assert sorted(p.name for p in ensemble_dir.iterdir()) == ["fold0.safetensors", "fold1.safetensors", MODEL_JSON]


def test_round_trip_gives_identical_predictions(trained, ensemble_dir, data):
    ens = load_ensemble(ensemble_dir)
    assert len(ens.models) == 2 and not any(m.training for m in ens.models)
    expected = trained.predict_proba(data.X)
    np.testing.assert_array_equal(ens.predict_proba(data.X), expected)
    # from strings: decode -> encode is lossless for ACGT/N, so the same numbers come back
    np.testing.assert_array_equal(ens.predict_sequences(decode(data.X)), expected)
    # lower case and N follow the stored encoding policy
    seq = decode(data.X[:1])[0]
    masked = "N" + seq[1:]
    p_lower, p_masked = ens.predict_sequences([seq.lower(), masked])
    assert p_lower == pytest.approx(expected[0])
    X_masked = data.X[:1].copy()
    X_masked[0, 0] = 0
    assert p_masked == pytest.approx(ens.predict_proba(X_masked)[0])


def test_wrong_length_is_one_line_naming_the_sequence(tmp_path):
    model = create_model("cnn", seq_len=101, **HPARAMS)
    ens = load_ensemble(
        save_ensemble(tmp_path, architecture="cnn", hparams=HPARAMS, seq_len=101, use_accessibility=False,
                      rc_average=False, state_dicts=[model.state_dict()])
    )
    seqs = ["A" * 101] * 3 + ["C" * 99]
    with pytest.raises(DataError, match=r"^sequence 3 has length 99, the model expects 101$"):
        ens.predict_sequences(seqs)
    with pytest.raises(DataError, match=r"not a nucleotide"):
        ens.predict_sequences(["A" * 100 + "Z"])
    with pytest.raises(DataError, match=r"\(N, 101, 4\)"):
        ens.predict_proba(np.zeros((2, 100, 4), dtype=np.uint8))


def test_accessibility_model_needs_accessibility(tmp_path):
    model = create_model("cnn", seq_len=30, use_accessibility=True, **HPARAMS)
    ens = load_ensemble(
        save_ensemble(tmp_path, architecture="cnn", hparams=HPARAMS, seq_len=30, use_accessibility=True,
                      rc_average=False, state_dicts=[model.state_dict()])
    )
    seqs = ["ACGTTGCAAC" * 3] * 2
    with pytest.raises(DataError, match="trained with accessibility"):
        ens.predict_sequences(seqs)
    p0 = ens.predict_sequences(seqs, [0.0, 0.0])
    p1 = ens.predict_sequences(seqs, [0.0, 5.0])
    assert p0[0] == p1[0] and p0[1] != p1[1]  # the value reaches the model


def test_load_never_unpickles_planted_files(ensemble_dir, tmp_path, data):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for p in ensemble_dir.iterdir():
        (model_dir / p.name).write_bytes(p.read_bytes())
    marker = tmp_path / "pwned"
    plant_pickles(model_dir, marker)
    # the payload is live: torch.load without weights_only runs it
    torch.load(model_dir / "fold0.pt", weights_only=False)
    assert marker.exists()
    marker.unlink()

    ens = load_ensemble(model_dir)
    assert not marker.exists()
    np.testing.assert_array_equal(ens.predict_proba(data.X), load_ensemble(ensemble_dir).predict_proba(data.X))


def test_broken_directories_are_model_errors(ensemble_dir, tmp_path):
    with pytest.raises(ModelError, match="no model.json"):
        load_ensemble(tmp_path)
    (tmp_path / MODEL_JSON).write_text((ensemble_dir / MODEL_JSON).read_text())
    (tmp_path / "fold0.safetensors").write_bytes((ensemble_dir / "fold0.safetensors").read_bytes())
    with pytest.raises(ModelError, match=r"missing fold1\.safetensors"):
        load_ensemble(tmp_path)
    with pytest.raises(ModelError, match="at least one fold model"):
        save_ensemble(tmp_path / "x", architecture="cnn", hparams={}, seq_len=30, use_accessibility=False,
                      rc_average=False, state_dicts=[])


# ---------------------------------------------------------------------------------------------------------
# The logged pyfunc model


@pytest.fixture(scope="module")
def logged(tracking, ensemble_dir, data):
    with mlflow.start_run(experiment_id=tracking) as run:
        info = log_ensemble_model(ensemble_dir, input_example_sequences=decode(data.X[:1]))
    return info, run.info.run_id


def _stored_ensemble_dir(info) -> Path:
    """Where the artifact store keeps the logged model's ensemble (a local directory in these tests)."""
    from mlflow.utils.file_utils import local_file_uri_to_path

    root = Path(local_file_uri_to_path(mlflow.get_logged_model(info.model_id).artifact_location))
    [model_json] = root.rglob(MODEL_JSON)
    return model_json.parent


def test_logged_model_metadata(logged, data):
    info, run_id = logged
    assert info.run_id == run_id
    sig = info.signature
    assert sig.inputs.input_names() == ["sequence"]
    assert [c.name for c in sig.outputs.inputs] == ["probability", "label"]
    assert [c.type.name for c in sig.outputs.inputs] == ["double", "long"]
    reqs = pip_requirements()
    assert "torch>=2.4,<3" in reqs and not any("+cpu" in r for r in reqs)
    root = Path(_stored_ensemble_dir(info)).parents[1]
    from packaging.requirements import Requirement

    logged_reqs = {r.name: r.specifier for r in map(Requirement, (root / "requirements.txt").read_text().split())}
    assert logged_reqs == {r.name: r.specifier for r in map(Requirement, reqs)}
    assert torch.__version__ in logged_reqs["torch"]  # this machine's CPU build satisfies it as installed
    example = json.loads((root / "input_example.json").read_text())
    # the given sequence, topped up to a batch > 1 so that nothing downstream freezes the batch size at 1
    assert len(example["data"]) == 3 and example["data"][0] == [decode(data.X[:1])[0]]
    assert (root / "code" / "seqsweep" / "ensemble.py").is_file()  # the package travels with the model


def test_logging_without_a_run_is_refused(ensemble_dir, tracking):
    from seqsweep.errors import TrackingError

    assert mlflow.active_run() is None
    with pytest.raises(TrackingError, match="no active MLflow run"):
        log_ensemble_model(ensemble_dir)


def test_input_example_sequences_must_fit_the_model(ensemble_dir, tracking):
    with mlflow.start_run(experiment_id=tracking):
        with pytest.raises(DataError, match=r"^input example sequence 1: must be a string of length 30, got length 3$"):
            log_ensemble_model(ensemble_dir, input_example_sequences=["A" * 30, "ACG"])


def test_pyfunc_predicts_and_rejects_wrong_length(logged, data, ensemble_dir):
    info, _ = logged
    model = mlflow.pyfunc.load_model(info.model_uri)
    seqs = decode(data.X[:5])
    out = model.predict(pd.DataFrame({"sequence": seqs}))
    assert list(out.columns) == ["probability", "label"]
    expected = load_ensemble(ensemble_dir).predict_proba(data.X[:5])
    np.testing.assert_allclose(out["probability"].to_numpy(), expected, rtol=1e-6)
    np.testing.assert_array_equal(out["label"].to_numpy(), (expected > 0.5).astype(int))
    with pytest.raises(DataError) as err:
        model.predict(pd.DataFrame({"sequence": [seqs[0], seqs[1][:-2]]}))
    assert str(err.value) == "sequence 1 has length 28, the model expects 30"


def test_fresh_process_without_seqsweep_loads_the_logged_model_and_ignores_planted_pickles(logged, data, tmp_path):
    info, _ = logged
    marker = tmp_path / "pwned"
    plant_pickles(_stored_ensemble_dir(info), marker)
    seqs = decode(data.X[:4])
    platform_dir = Path(seqsweep.__file__).resolve().parents[1]
    code = textwrap.dedent(
        f"""
        import importlib.util, json, sys
        from pathlib import Path
        # as in an environment that has mlflow and torch but not seqsweep
        sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != Path({str(platform_dir)!r})]
        assert importlib.util.find_spec("seqsweep") is None, "seqsweep is still importable"
        import mlflow, pandas as pd
        model = mlflow.pyfunc.load_model({info.model_uri!r})
        out = model.predict(pd.DataFrame({{"sequence": {seqs!r}}}))
        import seqsweep
        print(json.dumps({{"columns": list(out.columns), "p": out["probability"].tolist(),
                          "label": out["label"].tolist(), "seqsweep": seqsweep.__file__}}))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ), cwd=tmp_path, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["columns"] == ["probability", "label"]
    expected = load_ensemble(_stored_ensemble_dir(info)).predict_proba(data.X[:4])
    np.testing.assert_allclose(result["p"], expected, rtol=1e-6)
    assert result["label"] == [int(p > 0.5) for p in expected]
    assert "/code/seqsweep/" in result["seqsweep"]  # imported from the model's own copy
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------------------
# An ensemble of trials (format 3): member directories, each a fold ensemble


@pytest.fixture(scope="module")
def trial_ensemble(trained, ensemble_dir, data, tmp_path_factory):
    """Three members: the 2-fold cnn above (both strands), a 2-fold deepbind, and one deepbind fold alone,
    so the mean over all 5 fold models weights the members 2/5, 2/5, 1/5."""
    cfg = TrainConfig("deepbind", {"filters": 4, "kernel_size": 5}, epochs=1, batch_size=64)
    db = CVTrainer(data, make_folds(data.y, 2, seed=1), cfg)
    db.fit()
    root = tmp_path_factory.mktemp("trials")
    db_dir = save_ensemble(root / "db", architecture="deepbind", hparams=cfg.hparams, seq_len=data.seq_len,
                           use_accessibility=False, rc_average=False, state_dicts=db.state_dicts(), extra={"epochs": 1})
    one_dir = save_ensemble(root / "one", architecture="deepbind", hparams=cfg.hparams, seq_len=data.seq_len,
                            use_accessibility=False, rc_average=False, state_dicts=db.state_dicts()[:1])
    members = [load_ensemble(d) for d in (ensemble_dir, db_dir, one_dir)]
    out = save_trial_ensemble(root / "final", members, extra={"trials": [{"trial": 7}, {"trial": 3}, {"trial": 9}]})
    return out, members


def test_an_ensemble_of_trials_averages_every_fold_model(trial_ensemble, data):
    model_dir, members = trial_ensemble
    meta = json.loads((model_dir / MODEL_JSON).read_text())
    assert meta["format_version"] == 3 and meta["members"] == ["member0", "member1", "member2"]
    assert meta["architecture"] == "ensemble of cnn, deepbind, deepbind" and meta["n_models"] == 5
    assert meta["trials"][0] == {"trial": 7} and meta["task"]["type"] == "binary"
    assert json.loads((model_dir / "member0" / MODEL_JSON).read_text())["epochs"] == 1  # the member's extras stay
    ens = load_ensemble(model_dir)
    assert len(ens.members) == 3 and len(ens.models) == 5
    each = [m.predict_proba(data.X) for m in members]
    np.testing.assert_allclose(ens.predict_proba(data.X), 0.4 * each[0] + 0.4 * each[1] + 0.2 * each[2], rtol=1e-6)
    np.testing.assert_allclose(ens.predict_sequences(decode(data.X[:7])), ens.predict_proba(data.X[:7]), rtol=1e-6)
    # each member keeps its own strand policy: the cnn averages both strands, the deepbinds do not
    assert [m.rc_average for m in ens.members] == [True, False, False]


def test_an_ensemble_of_trials_logs_and_serves_as_a_pyfunc_model(trial_ensemble, tracking, data):
    model_dir, _ = trial_ensemble
    with mlflow.start_run(experiment_id=tracking):
        info = log_ensemble_model(model_dir, input_example_sequences=decode(data.X[:2]))
    out = mlflow.pyfunc.load_model(info.model_uri).predict(pd.DataFrame({"sequence": decode(data.X[:6])}))
    np.testing.assert_allclose(out["probability"].to_numpy(), load_ensemble(model_dir).predict_proba(data.X[:6]), rtol=1e-6)
    assert info.metadata["seqsweep_architecture"] == "ensemble of cnn, deepbind, deepbind"


def test_an_ensemble_of_trials_refuses_what_does_not_fit(trial_ensemble, tmp_path, ensemble_dir):
    model_dir, members = trial_ensemble
    with pytest.raises(ModelError, match="needs at least 2"):
        save_trial_ensemble(tmp_path / "a", members[:1])
    short = load_ensemble(save_ensemble(tmp_path / "short", architecture="cnn", hparams=HPARAMS, seq_len=20,
                                        use_accessibility=False, rc_average=False,
                                        state_dicts=[create_model("cnn", seq_len=20, **HPARAMS).state_dict()]))
    with pytest.raises(ModelError, match="member 1 has seq_len 20, member 0 30"):
        save_trial_ensemble(tmp_path / "b", [members[0], short])
    # model.json may only name plain member directories inside the model: no path leaves it
    meta = json.loads((model_dir / MODEL_JSON).read_text())
    bad = tmp_path / "bad"
    bad.mkdir()
    for members_value, message in ((["member0", "../db"], "must be named member<N>"), (["member0"], "at least 2"),
                                   (["member0", "member5"], "no model.json")):
        (bad / MODEL_JSON).write_text(json.dumps({**meta, "members": members_value}))
        if not (bad / "member0").exists():
            import shutil

            shutil.copytree(model_dir / "member0", bad / "member0")
        with pytest.raises(ModelError, match=message):
            load_ensemble(bad)
    (bad / MODEL_JSON).write_text(json.dumps({**meta, "format_version": 4}))
    with pytest.raises(ModelError, match="format_version 4 is newer than this seqsweep reads"):
        load_ensemble(bad)


def test_copy_model_files_leaves_the_checkpoints_other_files_out(trial_ensemble, ensemble_dir, tmp_path):
    src = tmp_path / "ckpt"
    src.mkdir()
    for p in ensemble_dir.iterdir():
        (src / p.name).write_bytes(p.read_bytes())
    (src / "cv_predictions.safetensors").write_bytes(b"not part of the model")
    out = copy_model_files(src, tmp_path / "model")
    assert sorted(p.name for p in out.iterdir()) == ["fold0.safetensors", "fold1.safetensors", MODEL_JSON]
    model_dir, _ = trial_ensemble
    copied = copy_model_files(model_dir, tmp_path / "final")
    assert sorted(p.name for p in copied.iterdir()) == ["member0", "member1", "member2", MODEL_JSON]
    assert len(load_ensemble(copied).models) == 5
