"""The logged pyfunc model for every task type: one column per task or class, named after it, and DNA strings
of any length for a model trained with data.length, loaded as users load it (real MLflow store)."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch

from seqsweep.data.encoding import Length
from seqsweep.ensemble import load_ensemble, save_ensemble
from seqsweep.errors import DataError
from seqsweep.models import create_model
from seqsweep.pyfunc_model import log_ensemble_model, output_frame
from seqsweep.tasks import Task, kmer_names


def _ensemble(tmp_path, arch, task, seq_len, length=None, **hp):
    states = []
    for k in range(2):
        torch.manual_seed(k)
        states.append(create_model(arch, seq_len=seq_len, n_outputs=task.n_outputs, **hp).state_dict())
    return save_ensemble(tmp_path / f"ens-{task.type}", architecture=arch, hparams=hp, seq_len=seq_len,
                         use_accessibility=False, rc_average=True, state_dicts=states, task=task, length=length)


def _logged(tracking, path):
    client = mlflow.MlflowClient()
    run = client.create_run(tracking)
    info = log_ensemble_model(path, run_id=run.info.run_id)
    client.set_terminated(run.info.run_id)
    return mlflow.pyfunc.load_model(info.model_uri), info


def test_multilabel_model_returns_one_probability_column_per_task(tmp_path, tracking):
    task = Task("multilabel", ("CTCF", "JUND", "GATA1"))
    path = _ensemble(tmp_path, "deepbind", task, 30, filters=8, hidden_size=8)
    model, info = _logged(tracking, path)
    seqs = ["ACGT" * 7 + "AC", "acgt" * 7 + "ac", "N" * 30]
    out = model.predict(pd.DataFrame({"sequence": seqs}))
    assert list(out.columns) == ["CTCF", "JUND", "GATA1"]
    np.testing.assert_allclose(out.to_numpy(), load_ensemble(path).predict_sequences(seqs), rtol=1e-6)
    assert ((out.to_numpy() > 0) & (out.to_numpy() < 1)).all()
    outputs = [c.name for c in model.metadata.get_output_schema().inputs]
    assert outputs == ["CTCF", "JUND", "GATA1"]
    with pytest.raises(Exception, match="length 29, the model expects 30"):
        model.predict(pd.DataFrame({"sequence": ["A" * 29]}))


def test_multiclass_model_trained_with_data_length_scores_strings_of_any_length(tmp_path, tracking):
    task = Task("multiclass", ("background", "enhancer", "promoter"))
    length = Length(to=60, pad="right", trim="center")
    path = _ensemble(tmp_path, "lstm", task, 60, length=length, hidden_size=8)
    model, _ = _logged(tracking, path)
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), size=n)) for n in (12, 60, 95)]
    out = model.predict(pd.DataFrame({"sequence": seqs}))
    assert list(out.columns) == ["background", "enhancer", "promoter", "label"]
    probs = out[list(task.names)].to_numpy()
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
    assert out["label"].tolist() == [task.names[i] for i in probs.argmax(1)]
    # padding as trained: the 12-mer padded scores as the 12-mer alone (lstm reads no padding), and the 95-mer
    # is trimmed to its middle 60 bases
    ens = load_ensemble(path)
    X, spans = ens.encode(seqs)
    assert spans.tolist()[0] == [0, 12]
    alone = ens.models
    from seqsweep.ensemble import predict_proba
    from seqsweep.data import encode

    np.testing.assert_allclose(probs[0], predict_proba(alone, encode([seqs[0]]), task=task, rc_average=True)[0], rtol=1e-5)
    middle = seqs[2][17:77]
    np.testing.assert_allclose(probs[2], predict_proba(alone, encode([middle]), task=task, rc_average=True)[0], rtol=1e-5)
    assert [c.name for c in model.metadata.get_output_schema().inputs] == ["background", "enhancer", "promoter", "label"]


def test_next_base_model_names_its_classes_after_kmers(tmp_path):
    task = Task("next_base", kmer_names(2))
    path = _ensemble(tmp_path, "lstm", task, 20, hidden_size=8, k=2, embedding=4)
    p = load_ensemble(path).predict_sequences(["ACGTACGTACGTACGTACGT"])
    out = output_frame(task, p)
    assert list(out.columns)[:3] == ["AA", "AC", "AG"] and out.shape == (1, 17)
    assert out["label"][0] in task.names


def test_binary_models_of_format_1_still_load(tmp_path):
    path = _ensemble(tmp_path, "cnn", Task(), 30, filters=4, hidden_size=4)
    meta = (path / "model.json").read_text()
    import json

    m = json.loads(meta)
    m.pop("task")
    m["format_version"] = 1
    (path / "model.json").write_text(json.dumps(m))
    ens = load_ensemble(path)
    assert ens.task == Task() and ens.length is None
    assert ens.predict_sequences(["A" * 30]).shape == (1,)
    with pytest.raises(DataError, match="sequence 0 has length 31, the model expects 30"):
        ens.predict_sequences(["A" * 31])
