"""The model registry (registry/) against a real sqlite MLflow store and real logged models.

Three logged models with a known order on held-out data:
  good  a DeepBind ensemble trained on synthetic data (held-out weighted accuracy well above 0.5);
  zero  the same architecture with all weights zero: every probability is 0.5, so every label is 0 and the
        weighted accuracy is exactly 0.5 with class-balancing weights;
  anti  `good` with its output layer negated: p -> 1 - p, so its weighted accuracy is 1 - good's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pytest
import torch

from seqsweep import registry
from seqsweep.cli.format import format_show, format_versions
from seqsweep.cv import make_folds
from seqsweep.data import synth
from seqsweep.ensemble import load_ensemble, save_ensemble
from seqsweep.errors import DataError, RegistryError
from seqsweep.metrics import evaluate_proba
from seqsweep.tracking import log_ensemble_model
from seqsweep.train import CVTrainer, TrainConfig

HPARAMS = {"filters": 8}
JOB = "registry-test-job"


@dataclass
class Logged:
    uri: str
    run_id: str
    ensemble_dir: Path


@pytest.fixture(scope="module")
def held_out(tmp_path_factory):
    return synth(tmp_path_factory.mktemp("heldout") / "d", n=400, positive_rate=0.3, seed=1, length=40)


@pytest.fixture(scope="module")
def models(tracking, tmp_path_factory) -> dict[str, Logged]:
    train = synth(tmp_path_factory.mktemp("train") / "d", n=600, positive_rate=0.3, seed=0, length=40)
    cfg = TrainConfig("deepbind", dict(HPARAMS), epochs=3, batch_size=32, learning_rate=1e-2)
    trainer = CVTrainer(train, make_folds(train.y, 2, seed=0), cfg)
    trainer.fit()
    good = trainer.state_dicts()
    zero = [{k: torch.zeros_like(v) for k, v in sd.items()} for sd in good]
    anti = [{k: (-v if k.startswith("out.linear.") else v) for k, v in sd.items()} for sd in good]

    root = tmp_path_factory.mktemp("ensembles")
    out: dict[str, Logged] = {}
    # Runs nested under a "sweep" run, as tracking/ lays them out, so show() can find the job.
    with mlflow.start_run(experiment_id=tracking, run_name="sweep-test", tags={"seqsweep.job": JOB}):
        for name, states in (("good", good), ("zero", zero), ("anti", anti)):
            ens = save_ensemble(root / name, architecture="deepbind", hparams=HPARAMS, seq_len=40,
                                use_accessibility=False, rc_average=False, state_dicts=states)
            with mlflow.start_run(run_name=f"trial-{name}", nested=True) as run:
                mlflow.log_params({"architecture": "deepbind", "deepbind.filters": 8})
                info = log_ensemble_model(ens)
            out[name] = Logged(info.model_uri, run.info.run_id, ens)
    return out


def aliases(name: str) -> dict[str, str]:
    return {k: str(v) for k, v in mlflow.MlflowClient().get_registered_model(name).aliases.items()}


def register(models, which: str, name: str, cv: float | None = None) -> int:
    tags = {"job": JOB} if cv is None else {"job": JOB, "cv_weighted_accuracy": cv}
    return int(registry.register_trial_model(models[which].uri, model_name=name, tags=tags).version)


def test_register_gives_new_versions_the_challenger_alias(models):
    mv = registry.register_trial_model(models["good"].uri, model_name="reg", tags={"cv_weighted_accuracy": 0.71})
    assert (int(mv.version), mv.aliases, mv.run_id) == (1, ["challenger"], models["good"].run_id)
    assert mv.tags["cv_weighted_accuracy"] == "0.71"
    assert register(models, "zero", "reg") == 2
    assert aliases("reg") == {"challenger": "2"}
    with pytest.raises(RegistryError, match=r"^cannot register 'models:/m-nope' as model 'reg': "):
        registry.register_trial_model("models:/m-nope", model_name="reg", tags={})


def test_evaluate_version_records_metrics_on_the_version_and_plots_on_the_run(models, held_out):
    v = register(models, "good", "evaluated")
    metrics = registry.evaluate_version("evaluated", v, held_out)
    # the same numbers as scoring the ensemble directly, i.e. the pyfunc path changes nothing
    p = load_ensemble(models["good"].ensemble_dir).predict_proba(held_out.X)
    expected = evaluate_proba(held_out.y, p, held_out.w)
    assert metrics == pytest.approx(expected, rel=1e-6)
    assert metrics["weighted_accuracy"] > 0.7

    mv = mlflow.MlflowClient().get_model_version("evaluated", str(v))
    assert float(mv.tags["heldout_weighted_accuracy"]) == pytest.approx(metrics["weighted_accuracy"])
    assert float(mv.tags["heldout_roc_auc"]) == pytest.approx(metrics["roc_auc"])
    assert mv.tags["heldout_data"] == held_out.source and mv.tags["heldout_rows"] == "400"

    client = mlflow.MlflowClient()
    files = {Path(f.path).name for f in client.list_artifacts(models["good"].run_id, f"evaluation/evaluated/v{v}")}
    assert files == {"roc.png", "pr.png", "confusion.png", "metrics.json"}
    local = mlflow.artifacts.download_artifacts(
        run_id=models["good"].run_id, artifact_path=f"evaluation/evaluated/v{v}"
    )
    for png in ("roc.png", "pr.png", "confusion.png"):
        assert (Path(local) / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_promotion_on_held_out_data(models, held_out):
    name = "heldout"
    v1 = register(models, "zero", name)
    d = registry.promote_if_better(name, v1, test_data=held_out)
    assert (d.promoted, d.basis, d.champion_version_before, d.champion_score) == (True, "held-out", None, None)
    assert d.challenger_score == pytest.approx(0.5) and "no champion yet" in d.reason
    assert aliases(name) == {"champion": "1", "challenger": "1"}

    v2 = register(models, "good", name)
    d = registry.promote_if_better(name, v2, test_data=held_out)
    assert d.promoted and d.champion_version_before == 1
    assert d.challenger_score > d.champion_score == pytest.approx(0.5)
    assert "beats the champion version 1" in d.reason
    assert aliases(name)["champion"] == "2"

    v3 = register(models, "anti", name)
    d = registry.promote_if_better(name, v3, test_data=held_out)
    assert not d.promoted and d.challenger_score < 0.5
    assert f"version 3 does not beat the champion version 2 on held-out weighted_accuracy on {held_out.source}" in (
        d.reason
    )
    assert f"{d.challenger_score:.4f} <= {d.champion_score:.4f}" in d.reason and "the champion stays" in d.reason
    assert aliases(name) == {"champion": "2", "challenger": "3"}
    tags = mlflow.MlflowClient().get_model_version(name, "3").tags
    assert tags["promotion.decision"] == "not promoted" and tags["promotion.reason"] == d.reason
    assert tags["promotion.champion_version_before"] == "2" and tags["promotion.basis"] == "held-out"
    assert float(tags["promotion.champion_score"]) == pytest.approx(d.champion_score, abs=1e-4)


def test_promotion_needs_the_difference_beyond_noise_and_records_the_intervals(models, held_out):
    name = "intervals"
    groups = np.arange(len(held_out)) // 20  # 20 blocks of 20 rows, resampled whole
    v1 = register(models, "zero", name)
    d = registry.promote_if_better(name, v1, test_data=held_out, groups=groups, bootstrap=300)
    # always negative: 0.5 on all rows; a resample's class balance moves it, hence an interval around 0.5
    assert d.promoted and d.difference is None and "0.5000 [95% CI 0.4" in d.reason
    assert "300 bootstrap resamples of its 20 genomic blocks" in d.reason

    v2 = register(models, "good", name)
    d = registry.promote_if_better(name, v2, test_data=held_out, groups=groups, bootstrap=300)
    assert d.promoted and d.difference.low > 0 and "beyond noise" in d.reason
    assert d.difference.value == pytest.approx(d.challenger_score - d.champion_score)
    c = mlflow.MlflowClient()
    for v in (v1, v2):  # both versions carry their intervals on the same data
        tags = c.get_model_version(name, str(v)).tags
        for m in ("weighted_accuracy", "roc_auc", "pr_auc"):
            if m == "weighted_accuracy" or v == v2:  # the zero model's ranking metrics are a tie everywhere
                lo, val, hi = (float(tags[f"heldout_{m}{s}"]) for s in ("_ci_low", "", "_ci_high"))
                assert lo <= val <= hi and hi - lo < 0.3, (v, m, lo, val, hi)
        assert tags["heldout_bootstrap"] == "300 resamples of 20 genomic blocks"
    tags = c.get_model_version(name, str(v2)).tags
    assert float(tags["promotion.difference_ci_low"]) == pytest.approx(d.difference.low, abs=1e-4)

    # the same model again: the difference is exactly 0 on every resample, so the champion stays
    v3 = register(models, "good", name)
    d = registry.promote_if_better(name, v3, test_data=held_out, groups=groups, bootstrap=300)
    assert not d.promoted and (d.difference.low, d.difference.high) == (0.0, 0.0)
    assert "difference +0.0000 [95% CI +0.0000, +0.0000]; the champion stays" in d.reason
    assert aliases(name) == {"champion": "2", "challenger": "3"}


def test_promotion_on_recorded_cv_scores_without_held_out_data(models):
    name = "cvonly"
    v1 = register(models, "anti", name, cv=0.60)
    assert registry.promote_if_better(name, v1, test_data=None).promoted
    v2 = register(models, "zero", name, cv=0.55)
    d = registry.promote_if_better(name, v2, test_data=None)
    assert (d.promoted, d.basis, d.challenger_score, d.champion_score) == (False, "cv", 0.55, 0.60)
    assert "cv_weighted_accuracy recorded at registration (no held-out data given)" in d.reason
    v_tie = register(models, "good", name, cv=0.60)
    d = registry.promote_if_better(name, v_tie, test_data=None)
    assert not d.promoted and "0.6000 <= 0.6000" in d.reason  # a tie keeps the champion (strictly better wins)
    v4 = register(models, "good", name, cv=0.80)
    d = registry.promote_if_better(name, v4, test_data=None, min_improvement=0.25)
    assert not d.promoted and "min_improvement 0.25" in d.reason  # 0.80 is not > 0.60 + 0.25
    d = registry.promote_if_better(name, v4, test_data=None, min_improvement=0.1)
    assert d.promoted and aliases(name)["champion"] == str(v4)

    v5 = register(models, "good", name)  # no cv tag recorded
    with pytest.raises(RegistryError, match=r"version 5 \(challenger\) has no tag 'cv_weighted_accuracy'"):
        registry.promote_if_better(name, v5, test_data=None)
    with pytest.raises(RegistryError, match="promotion metric must be one of"):
        registry.promote_if_better(name, v4, test_data=None, metric="f1")
    assert aliases(name) == {"champion": "4", "challenger": "5"}


def test_failed_evaluation_leaves_aliases_untouched(models, held_out, tmp_path):
    name = "evalfails"
    v1 = register(models, "zero", name, cv=0.5)
    registry.promote_if_better(name, v1, test_data=None)
    v2 = register(models, "good", name, cv=0.9)
    before = aliases(name)
    wrong_length = synth(tmp_path / "d", n=50, positive_rate=0.3, seed=2, length=41)
    with pytest.raises(DataError, match="the model expects 40"):
        registry.promote_if_better(name, v2, test_data=wrong_length)
    assert aliases(name) == before == {"champion": "1", "challenger": "2"}
    assert not any(k.startswith("promotion.") for k in mlflow.MlflowClient().get_model_version(name, "2").tags)


def test_manual_promote_refuses_a_better_champion_unless_forced(models, held_out):
    name = "manual"
    v1 = register(models, "good", name, cv=0.8)
    assert registry.promote(name, v1).promoted  # first champion
    v2 = register(models, "anti", name, cv=0.9)  # better cv, but held-out data will say otherwise
    registry.evaluate_version(name, v1, held_out)
    registry.evaluate_version(name, v2, held_out)

    d = registry.promote(name, v2)
    assert not d.promoted and d.basis == "held-out"  # held-out on the same data beats recorded cv
    assert d.reason == (
        f"refused: the champion version 1 has the better recorded held-out weighted_accuracy "
        f"({d.champion_score:.4f} > {d.challenger_score:.4f} for version 2); use --force to promote anyway"
    )
    assert aliases(name)["champion"] == "1"

    d = registry.promote(name, v2, force=True)
    assert d.promoted and d.reason.startswith("forced: version 2 replaces the champion version 1")
    assert aliases(name)["champion"] == "2"
    assert mlflow.MlflowClient().get_model_version(name, "2").tags["promotion.decision"] == "promoted"
    d = registry.promote(name, v2)
    assert not d.promoted and "already the champion" in d.reason

    # with only cv scores recorded, those are compared
    v3 = register(models, "zero", name, cv=0.95)
    d = registry.promote(name, v3)
    assert d.promoted and d.basis == "cv" and aliases(name)["champion"] == "3"


def test_unknown_models_versions_and_refs_are_one_line_errors(models):
    name = "known"
    register(models, "zero", name)
    register(models, "zero", name)
    with pytest.raises(RegistryError) as err:
        registry.promote(name, 7)
    assert str(err.value) == "model 'known' has no version 7 (versions: 1, 2)"
    with pytest.raises(RegistryError, match=r"^no registered model 'nope' \(models: .*known"):
        registry.promote("nope", 1)
    with pytest.raises(RegistryError, match="version must be a positive integer, got 'x'"):
        registry.promote(name, "x")
    with pytest.raises(RegistryError, match="NAME@ALIAS or NAME/VERSION"):
        registry.show("known")
    with pytest.raises(RegistryError, match=r"^model 'known' has no alias 'champion' \(aliases: challenger\)$"):
        registry.show("known@champion")


def test_list_and_show(models, held_out):
    name = "listed"
    v1 = register(models, "good", name, cv=0.8)
    registry.promote_if_better(name, v1, test_data=held_out)
    register(models, "zero", name, cv=0.5)

    rows = registry.list_versions(name)
    assert [(r["name"], r["version"], r["aliases"]) for r in rows] == [
        (name, 1, ["champion"]),
        (name, 2, ["challenger"]),
    ]
    assert rows[0]["cv_weighted_accuracy"] == 0.8 and rows[0]["heldout_weighted_accuracy"] > 0.7
    assert rows[1]["heldout_weighted_accuracy"] is None and rows[0]["run_id"] == models["good"].run_id
    everything = registry.list_versions()
    assert {r["name"] for r in everything} >= {name, "known"}
    table = format_versions(rows)
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["model", "version", "aliases"] and len(lines) == 3
    assert lines[1].split()[:4] == [name, "1", "champion", "0.8000"]
    assert format_versions([]) == "no registered model versions"

    shown = registry.show(f"{name}@champion")
    assert shown["version"] == 1 and shown["aliases"] == ["champion"]
    assert shown["run"]["id"] == models["good"].run_id and shown["run"]["params"]["deepbind.filters"] == "8"
    assert shown["sweep"]["tags"]["seqsweep.job"] == JOB and shown["tags"]["promotion.decision"] == "promoted"
    assert registry.show(f"models:/{name}/2")["aliases"] == ["challenger"]
    text = format_show(shown)
    assert text.splitlines()[0] == f"{name} version 1"
    assert "param deepbind.filters = 8" in text and f"tag seqsweep.job = {JOB}" in text
