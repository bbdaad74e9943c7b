"""Job files: every shipped job validates; each invalid example fails with one line naming the key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seqsweep.config import JobSpec, load_job
from seqsweep.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
JOBS = sorted((ROOT / "jobs").glob("*.yaml"))


@pytest.mark.parametrize("path", JOBS, ids=[p.name for p in JOBS])
def test_shipped_jobs_validate(path, monkeypatch):
    monkeypatch.setenv("SEQSWEEP_HOME", str(ROOT))
    job = load_job(path)
    assert isinstance(job, JobSpec)
    assert job.search_space.is_absolute() and job.search_space.is_file()
    assert (job.data.train or job.data.peaks).is_absolute()
    if job.data.peaks is not None:
        assert job.data.genome.is_absolute()
        assert job.data.signal is None or job.data.signal.accessibility.is_absolute()


MINIMAL = "name: t\ndata: {train: d}\nsearch_space: search_spaces/quick.yaml\n"


@pytest.mark.parametrize(
    "text, needle",
    [
        (MINIMAL + "serch: {num_trials: 3}\n", "'serch': unknown key"),
        (MINIMAL + "search: {num_trials: many}\n", "'search.num_trials'"),
        (MINIMAL + "search: {sampler: grid}\n", "'search.sampler'"),
        (MINIMAL + "search: {prune_metric: loss}\n", "'search.prune_metric'"),
        (MINIMAL + "cv: {folds: 1}\n", "'cv.folds'"),
        (MINIMAL + "resources: {gpu: -1}\n", "'resources.gpu'"),
        ("name: t\nsearch_space: s.yaml\n", "'data': required key is missing"),
        (MINIMAL.replace("data: {train: d}", "data: {train: d, test: t, holdout: {fraction: 0.2}}"), "not both"),
        (MINIMAL + "data: {train: e}\n", "key 'data' appears twice"),
        (MINIMAL.replace("data: {train: d}", "data: {genome: g.fa}"), "give 'train' (a dataset) or 'genome' and 'peaks'"),
        (MINIMAL.replace("data: {train: d}", "data: {genome: g.fa, peaks: p.bed}"), "'peaks' needs 'genome' (a FASTA) and 'window'"),
        (MINIMAL.replace("data: {train: d}", "data: {train: d, window: 100}"), "'window' is for 'peaks' on a genome"),
        (MINIMAL.replace("data: {train: d}", "data: {genome: g.fa, peaks: p.bed, window: 9, negatives: {match: at}}"),
         "'data.negatives.match'"),
        (MINIMAL + "cv: {group_by: contig}\n", "'cv.group_by'"),
        ("name: [unclosed\n", "malformed YAML"),
        ("- just\n- a list\n", "must be a mapping"),
    ],
)
def test_invalid_jobs_name_the_key(tmp_path, text, needle):
    p = tmp_path / "job.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_job(p)
    msg = str(exc.value)
    assert needle in msg and str(p) in msg
    assert "\n" not in msg


def test_overrides_are_typed_and_validated(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQSWEEP_HOME", str(tmp_path))
    p = tmp_path / "job.yaml"
    p.write_text(MINIMAL)
    job = load_job(p, ["search.num_trials=8", "train.rc_augment=true", "ray.address=null"])
    assert job.search.num_trials == 8 and job.train.rc_augment is True and job.ray.address is None
    assert job.data.train == tmp_path / "d"
    with pytest.raises(ConfigError, match="'search.num_trials'"):
        load_job(p, ["search.num_trials=zero"])
    with pytest.raises(ConfigError, match="'search.bogus': unknown key"):
        load_job(p, ["search.bogus=1"])
    with pytest.raises(ConfigError, match="expected key.path=value"):
        load_job(p, ["search.num_trials"])


def test_missing_job_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_job(tmp_path / "nope.yaml")


def test_local_ray_workers_get_their_variables_without_touching_the_callers_environment(monkeypatch):
    from seqsweep.runtime import WORKER_ENV, _environ

    monkeypatch.delenv("PYTHONWARNINGS", raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "false")  # the user's own choice wins
    with _environ(WORKER_ENV):
        assert os.environ["PYTHONWARNINGS"] == "ignore"
        assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "false"
    assert "PYTHONWARNINGS" not in os.environ and os.environ["MLFLOW_DISABLE_TELEMETRY"] == "false"
