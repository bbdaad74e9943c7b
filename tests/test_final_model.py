"""seqsweep.final_model.choose: the best trial or the ensemble of the top k, decided by out-of-fold CV only.

Trials here are made up: their out-of-fold probabilities are the labels plus noise, so the answer is known.
Averaging members with independent noise improves the ranking (the ensemble wins); a member that is pure
noise drags the ensemble below the best trial alone (the best trial wins).
"""

from __future__ import annotations

import numpy as np
import pytest

from seqsweep.cv import make_folds
from seqsweep.data import Dataset
from seqsweep.data.encoding import multilabel_weights
from seqsweep.final_model import AUTO_TOP_K, choose, fold_metrics, resolve_top_k, version_tags
from seqsweep.tasks import Task
from seqsweep.tracking.records import Ranking, TrialRecord

N = 2000
METRIC = "cv_roc_auc"


def dataset(y: np.ndarray, task: Task = Task()) -> Dataset:
    n = len(y)
    w = np.ones(y.shape, dtype=np.float32) if task.type != "multilabel" else multilabel_weights(y, np.ones(y.shape, bool))
    return Dataset(X=np.zeros((n, 4, 4), np.uint8), y=y, w=w, ids=np.array([f"r{i}" for i in range(n)]), task=task)


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(0)
    y = (rng.random(N) < 0.2).astype(np.uint8)
    ds = dataset(y)
    folds = make_folds(y, 5, seed=0)
    return ds, folds, rng


def trial(number: int, p: np.ndarray, ds: Dataset, folds) -> TrialRecord:
    """A completed trial whose reported fold scores are those of its out-of-fold probabilities `p`."""
    per = fold_metrics(ds.task, ds.y, ds.w, p, folds, ["roc_auc", "weighted_accuracy", "pr_auc"])
    last = {"epoch": 3}
    for name, v in per.items():
        last[f"cv_{name}"], last[f"cv_{name}_std"] = float(v.mean()), float(v.std())
        last.update({f"fold{k}_{name}": float(x) for k, x in enumerate(v)})
    return TrialRecord(number=number, trial_id=f"t{number}", run_id=f"r{number}", config={"architecture": "kmer"},
                       status="completed", last=last, model_uri=f"models:/m-{number}")


def noisy(y, rng, scale):
    return 1 / (1 + np.exp(-(3 * (y - 0.5) + rng.normal(0, scale, len(y)))))


def test_independent_members_make_an_ensemble_that_wins_by_cv(binary):
    ds, folds, rng = binary
    ps = {i: noisy(ds.y, rng, 2.5) for i in (1, 2, 3, 4)}
    trials = [trial(i, p, ds, folds) for i, p in ps.items()]
    choice = choose(trials, Ranking(METRIC, "lower_bound"), top_k=3, dataset=ds, folds=folds, oof=lambda r: ps[r.number])
    assert choice.chosen is choice.ensemble and choice.chosen.is_ensemble and len(choice.chosen.trials) == 3
    best = choice.single.trials[0]
    assert best.number == max(trials, key=Ranking(METRIC, "lower_bound").score).number
    # the ensemble's score is that of the mean of its members' probabilities, fold by fold
    members = [ps[r.number] for r in choice.ensemble.trials]
    expect = fold_metrics(ds.task, ds.y, ds.w, np.mean(members, 0), folds, ["roc_auc"])["roc_auc"]
    np.testing.assert_allclose(choice.ensemble.folds, expect)
    assert choice.difference.value > 0 and choice.difference.low > 0  # clearly better, paired over the folds
    tags = version_tags(choice)
    assert tags["final"] == choice.ensemble.name and tags["final.trials"] == ",".join(str(r.number) for r in choice.ensemble.trials)
    assert float(tags["cv_roc_auc"]) == pytest.approx(choice.ensemble.estimate.value, abs=1e-6)
    assert float(tags["cv_roc_auc_ci_low"]) < float(tags["cv_roc_auc"]) < float(tags["cv_roc_auc_ci_high"])


def test_a_useless_member_keeps_the_best_trial_alone(binary):
    ds, folds, rng = binary
    ps = {1: noisy(ds.y, rng, 0.5), 2: rng.random(N)}  # #2 knows nothing
    trials = [trial(i, p, ds, folds) for i, p in ps.items()]
    choice = choose(trials, Ranking(METRIC, "mean"), top_k=2, dataset=ds, folds=folds, oof=lambda r: ps[r.number])
    assert choice.chosen is choice.single and choice.single.trials[0].number == 1
    assert choice.ensemble is not None and choice.difference.value < 0
    assert version_tags(choice)["final"] == "trial #1"


def test_top_k_one_or_missing_predictions_mean_the_best_trial(binary):
    ds, folds, rng = binary
    ps = {1: noisy(ds.y, rng, 1.0), 2: noisy(ds.y, rng, 1.0), 3: noisy(ds.y, rng, 1.0)}
    trials = [trial(i, p, ds, folds) for i, p in ps.items()]
    ranking = Ranking(METRIC, "mean")
    one = choose(trials, ranking, top_k=1, dataset=ds, folds=folds, oof=lambda r: ps[r.number])
    assert one.chosen is one.single and one.ensemble is None
    best = one.single.trials[0].number
    # the best trial has no stored predictions: no ensemble, and a note says why
    none = choose(trials, ranking, top_k=3, dataset=ds, folds=folds, oof=lambda r: None if r.number == best else ps[r.number])
    assert none.ensemble is None and none.chosen is none.single and f"#{best}" in none.notes[0]
    # another member without them is skipped; the next one takes its place
    other = next(i for i in ps if i != best)
    some = choose(trials, ranking, top_k=2, dataset=ds, folds=folds, oof=lambda r: None if r.number == other else ps[r.number])
    assert {r.number for r in some.ensemble.trials} == set(ps) - {other}
    assert choose([], ranking, top_k=3, dataset=ds, folds=folds, oof=lambda r: None) is None


@pytest.mark.parametrize("task", [Task("multilabel", ("a", "b", "c")), Task("multiclass", ("x", "y", "z"))])
def test_ensembles_of_multi_output_trials(task):
    rng = np.random.default_rng(1)
    n = 900
    if task.type == "multilabel":
        y = (rng.random((n, 3)) < 0.3).astype(np.uint8)
        signal = y.astype(float)
    else:
        y = rng.integers(0, 3, n)
        signal = np.eye(3)[y]
    ds = dataset(y, task)
    folds = make_folds(y, 3, seed=0, task=task, w=ds.w)

    def member():
        z = 3 * signal + rng.normal(0, 2.0, signal.shape)
        return 1 / (1 + np.exp(-z)) if task.type == "multilabel" else np.exp(z) / np.exp(z).sum(1, keepdims=True)

    ps = {i: member() for i in (1, 2, 3)}
    trials = [trial(i, p, ds, folds) for i, p in ps.items()]
    choice = choose(trials, Ranking(METRIC, "lower_bound"), top_k=3, dataset=ds, folds=folds, oof=lambda r: ps[r.number])
    assert choice.chosen is choice.ensemble and choice.difference.value > 0
    assert set(choice.ensemble.cv) >= {"cv_roc_auc", "cv_weighted_accuracy", "cv_pr_auc"}
    assert ("cv_accuracy" in choice.ensemble.cv) == (task.type == "multiclass")


def test_top_k_is_three_on_small_data_when_left_null():
    small = dataset((np.arange(5000) % 10 == 0).astype(np.uint8))  # 500 positives
    large = dataset((np.arange(5000) % 2 == 0).astype(np.uint8))  # 2,500 of each
    assert resolve_top_k(None, small) == AUTO_TOP_K == 3
    assert resolve_top_k(None, large) == 1
    assert resolve_top_k(5, large) == 5 and resolve_top_k(1, small) == 1


def test_the_summary_says_what_was_chosen_and_whether_the_top_trials_are_separable(binary):
    from types import SimpleNamespace

    from seqsweep.cli.format import final_summary, leaderboard, ranking_summary

    ds, folds, rng = binary
    ps = {1: noisy(ds.y, rng, 2.5), 2: noisy(ds.y, rng, 2.5), 3: noisy(ds.y, rng, 0.5)}
    trials = [trial(i, p, ds, folds) for i, p in ps.items()]
    for r in trials:
        r.seconds = 1.0
    ranking = Ranking(METRIC, "lower_bound")
    choice = choose(trials, ranking, top_k=2, dataset=ds, folds=folds, oof=lambda r: ps[r.number])
    result = SimpleNamespace(metric=METRIC, ranking=ranking, records=trials, final=choice)
    board = leaderboard(result).splitlines()
    assert board[0].split()[:4] == ["trial", "architecture", "cv_roc_auc", "(±"] and board[2].split()[0] == "3"
    lines = ranking_summary(result)
    assert lines[0] == ("ranked by cv_roc_auc mean - 1 standard error over the folds (search.rank_by: lower_bound); "
                        "95% intervals over the folds")
    # #3 (little noise) is better than both others on every fold: separable
    assert lines[1].startswith("the best trial #3 is better than every other completed trial beyond noise")
    assert final_summary(result)[0].startswith(f"final model: the {'ensemble' if choice.chosen.is_ensemble else 'best trial alone'}")
    # two equally noisy trials cannot be told apart
    close = SimpleNamespace(metric=METRIC, ranking=ranking, records=trials[:2], final=None)
    assert ranking_summary(close)[1].startswith("NOT SEPARABLE: the best trial #")
    assert final_summary(close) == []
