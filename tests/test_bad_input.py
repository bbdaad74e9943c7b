"""Bad input, one row each: one line naming the file/key/row and the rule, exit code 2, no traceback,
no MLflow run created, the registry untouched."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest

from seqsweep import cli, registry
from seqsweep.ensemble import save_ensemble
from seqsweep.models import create_model
from seqsweep.tracking import log_ensemble_model

from e2e_helpers import seed_store

L = 20


def _csv(rows: list[str]) -> str:
    return "sequence,label\n" + "\n".join(rows) + "\n"


GOOD_ROWS = [("ACGT" * 5, 1 if i % 3 == 0 else 0) for i in range(60)]
GOOD_CSV = _csv([f"{s},{y}" for s, y in GOOD_ROWS])
CLASS_CSV = _csv([f"{s},{'promoter' if y else 'enhancer'}" for s, y in GOOD_ROWS])

SPACE = "architecture: [cnn, mlp]\nlearning_rate: {low: 1.0e-3, high: 1.0e-2, log: true}\ncnn.filters: [8]\n"


def _job(**over) -> str:
    base = {
        "data": "data: {train: data/train.csv}",
        "space": "search_space: space.yaml",
        "search": "search: {num_trials: 2}",
        "cv": "cv: {folds: 2}",
        "extra": "",
    }
    base.update(over)
    return "name: bad\n" + "\n".join(v for v in base.values() if v) + "\n"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A home with a migrated store holding one registered model (version 1 @champion, sequence length 20)."""
    h = tmp_path_factory.mktemp("badhome")
    seed_store(h)
    uri = f"sqlite:///{h}/mlruns/mlflow.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEQSWEEP_HOME", str(h))
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        client = mlflow.MlflowClient(uri)
        exp = client.create_experiment("existing", artifact_location=(h / "mlruns" / "artifacts").as_uri())
        model = create_model("mlp", seq_len=L, hidden_size=4, num_layers=1)
        ens = save_ensemble(h / "ens", architecture="mlp", hparams={"hidden_size": 4, "num_layers": 1}, seq_len=L,
                            use_accessibility=False, rc_average=False, state_dicts=[model.state_dict()])
        run = client.create_run(exp)
        info = log_ensemble_model(ens, run_id=run.info.run_id, tracking_uri=uri)
        client.set_terminated(run.info.run_id)
        mv = registry.register_trial_model(info.model_uri, model_name="existing", tags={}, tracking_uri=uri)
        registry.promote("existing", mv.version, tracking_uri=uri)
        mlflow.set_tracking_uri(None)
    return h


def _snapshot(home: Path):
    c = mlflow.MlflowClient(f"sqlite:///{home}/mlruns/mlflow.db")
    runs = c.search_runs([e.experiment_id for e in c.search_experiments()])
    versions = [(v.name, str(v.version), tuple(sorted(v.aliases))) for v in c.search_model_versions()]
    models = sorted(m.name for m in c.search_registered_models())
    return len(runs), sorted(versions), models


GENOME_JOB = _job(data="data: {train: data/genome.fa}", search="search: {num_trials: 2, metric: cv_accuracy}",
                  cv="cv: {folds: 2, block_size: 40}",
                  extra="task: {type: next_base, context: 8, stride: 1}\nregistry: {metric: accuracy}")

_rng_genome = __import__("numpy").random.default_rng(0)
GENOME_FA = "".join(f">chr{c}\n" + "".join(_rng_genome.choice(list("ACGT"), 3000)) + "\n" for c in (1, 2))
PEAKS_JOB = _job(data="data: {genome: data/genome.fa, peaks: data/peaks.bed, window: 100, negatives: {ratio: 2}}")

CASES = {
    # name: (files to write {relative path: text}, argv, text the one-line error must contain)
    "malformed yaml": ({"job.yaml": "name: [bad\n"}, ["sweep", "job.yaml"], "malformed YAML"),
    "key given twice": ({"space.yaml": SPACE + "cnn.filters: [16]\n"}, ["sweep", "job.yaml"],
                        "key 'cnn.filters' appears twice in one mapping"),
    "unknown key": ({"job.yaml": _job(extra="serch: {num_trials: 2}")}, ["sweep", "job.yaml"], "'serch': unknown key"),
    "wrong type": ({"job.yaml": _job(search="search: {num_trials: lots}")}, ["sweep", "job.yaml"], "'search.num_trials'"),
    "low > high": ({"space.yaml": "architecture: cnn\nlearning_rate: {low: 1.0e-1, high: 1.0e-3}\n"},
                   ["sweep", "job.yaml"], "needs low <= high"),
    "float as 1e-4": ({"space.yaml": "architecture: cnn\nlearning_rate: {low: 1e-4, high: 1.0e-2}\n"},
                      ["sweep", "job.yaml"], "YAML reads 1e-4 as a string"),
    "unknown architecture": ({"space.yaml": "architecture: [cnn, transformerz]\n"}, ["sweep", "job.yaml"],
                             "unknown architecture 'transformerz'"),
    "parameter not taken": ({"space.yaml": "architecture: cnn\ncnn.filtres: [8]\n"}, ["sweep", "job.yaml"],
                            "does not take 'filtres'"),
    "unknown precision": ({"job.yaml": _job(extra="train: {precision: half}")}, ["sweep", "job.yaml"],
                          "'train.precision'"),
    "renamed key amp": ({"job.yaml": _job(extra="train: {amp: true}")}, ["sweep", "job.yaml"],
                        "'train.amp': unknown key (replaced by 'train.precision'"),
    "more folds than positives": ({"job.yaml": _job(cv="cv: {folds: 50}")}, ["sweep", "job.yaml"], "cv.folds"),
    "empty data": ({"data/train.csv": "sequence,label\n"}, ["sweep", "job.yaml"], "train.csv"),
    "ragged sequences": ({"data/train.csv": GOOD_CSV.replace("ACGT" * 5 + ",1", "ACGT" * 4 + ",1", 1)},
                         ["sweep", "job.yaml"], "row 0"),
    "letters outside ACGTN/IUPAC": ({"data/train.csv": GOOD_CSV.replace("ACGT" * 5, "ACGX" + "ACGT" * 4, 1)},
                                    ["sweep", "job.yaml"], "'X'"),
    "NaN weights": ({"data/train.csv": "sequence,label,weight\n" + "\n".join(
        f"{s},{y},{'nan' if i == 7 else 1.0}" for i, (s, y) in enumerate(GOOD_ROWS)) + "\n"},
        ["sweep", "job.yaml"], "row 7"),
    "labels outside {0,1}": ({"data/train.csv": GOOD_CSV.replace(",0\n", ",2\n", 1)}, ["sweep", "job.yaml"], "row 1"),
    "missing data file": ({"job.yaml": _job(data="data: {train: data/nope.csv}")}, ["sweep", "job.yaml"],
                          "nope.csv: no such file"),
    "missing job file": ({}, ["sweep", "nope.yaml"], "nope.yaml: no such file"),
    "unreachable Ray address": ({"job.yaml": _job(extra="ray: {address: '127.0.0.1:9'}")}, ["sweep", "job.yaml"],
                                "ray.address '127.0.0.1:9' is unreachable"),
    "unreachable tracking URI": ({"job.yaml": _job(extra="tracking: {uri: 'http://u:secret@127.0.0.1:9'}")},
                                 ["sweep", "job.yaml"], "http://u:***@127.0.0.1:9 is unreachable"),
    # task types (issue 16)
    "labels do not fit task.type": ({"data/train.csv": GOOD_CSV.replace(",0\n", ",2\n", 3)}, ["sweep", "job.yaml"],
                                    "set task.type: multiclass"),
    "multilabel job, one label column": ({"job.yaml": _job(extra="task: {type: multilabel}")}, ["sweep", "job.yaml"],
                                         "needs one label_<task> column per task"),
    "test class never seen in training": (
        {"job.yaml": _job(data="data: {train: data/train.csv, test: data/test.csv}", extra="task: {type: multiclass}"),
         "data/train.csv": CLASS_CSV, "data/test.csv": CLASS_CSV + "ACGTACGTACGTACGTACGT,silencer\n"},
        ["sweep", "job.yaml"], "class 'silencer' is not one of the classes of the training data (enhancer, promoter)"),
    "data.length shorter than a kernel": (
        {"job.yaml": _job(data="data: {train: data/train.csv, length: {to: 8}}"),
         "space.yaml": "architecture: deepbind\ndeepbind.kernel_size: [9]\n"},
        ["sweep", "job.yaml"], "(the data has data.length.to 8)"),
    "unknown task type": ({"job.yaml": _job(extra="task: {type: regression}")}, ["sweep", "job.yaml"], "'task'"),
    "metric of another task": ({"job.yaml": _job(search="search: {num_trials: 2, metric: cv_accuracy}")},
                               ["sweep", "job.yaml"], "'search.metric' 'cv_accuracy' is for multiclass and next_base"),
    # the genome token store (issue 23): a next_base job over a FASTA genome
    "genome with an empty contig": ({"job.yaml": GENOME_JOB, "data/genome.fa": ">chr1\n" + "ACGT" * 30 + "\n>chr2\n>chr3\nACGT\n"},
                                    ["sweep", "job.yaml"], "genome.fa: contig 'chr2' is empty"),
    "genome letter not DNA": ({"job.yaml": GENOME_JOB, "data/genome.fa": ">chr1\n" + "ACGT" * 30 + "\nACGTAJGT\n"},
                              ["sweep", "job.yaml"], "genome.fa: contig 'chr1': position 126: letter 'J' is not a nucleotide"),
    # peaks on a genome (issue 24)
    "peak on a contig the genome lacks": ({"job.yaml": PEAKS_JOB, "data/genome.fa": GENOME_FA,
                                           "data/peaks.bed": "chr1\t100\t200\nchr9\t100\t200\n"},
                                          ["sweep", "job.yaml"], "peaks.bed: line 2: contig 'chr9' is not in the genome"),
    "peak start > end": ({"job.yaml": PEAKS_JOB, "data/genome.fa": GENOME_FA, "data/peaks.bed": "chr1\t300\t200\n"},
                         ["sweep", "job.yaml"], "peaks.bed: line 1: start 300 > end 200"),
    "negatives impossible to draw": ({"job.yaml": PEAKS_JOB.replace("ratio: 2", "ratio: 5000"), "data/genome.fa": GENOME_FA,
                                      "data/peaks.bed": "chr1\t100\t200\nchr2\t100\t200\n"},
                                     ["sweep", "job.yaml"], "of the 10,000 negative windows asked for (ratio 5000.0)"),
    "promote a missing version": ({}, ["promote", "existing", "7"], "has no version 7"),
    "predict wrong length": ({"in.csv": "id,sequence\na,ACGT\n"},
                             ["predict", "--model", "models:/existing@champion", "--input", "in.csv", "--out", "p.csv"],
                             "expects 20"),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_is_one_line_exit_2_and_loses_nothing(case, home, tmp_path, monkeypatch, capsys):
    files, argv, needle = CASES[case]
    work = tmp_path / "w"
    (work / "data").mkdir(parents=True)
    defaults = {"job.yaml": _job(), "space.yaml": SPACE, "data/train.csv": GOOD_CSV}
    for rel, text in {**defaults, **files}.items():
        (work / rel).write_text(text)
    monkeypatch.chdir(work)
    # relative paths resolve against the work folder; the store is the shared home's (with its registered model)
    monkeypatch.setenv("SEQSWEEP_HOME", str(work))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home}/mlruns/mlflow.db")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    argv = [str(work / a) if a.endswith((".yaml", ".csv")) else a for a in argv]
    before = _snapshot(home)

    code = cli.main(argv)

    err = capsys.readouterr().err
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("seqsweep: error:")]
    assert code == 2, err
    assert len(lines) == 1 and needle in lines[0], err
    assert "Traceback" not in err
    assert _snapshot(home) == before  # no run created, the registry untouched
    assert not (work / "p.csv").exists()
    genomes = work / "data" / "genomes"
    # no half-built genome cache: a cache there is a whole one (of a good FASTA whose peaks were bad)
    assert all(not g.name.startswith(".") and (g / "index.json").exists() for g in (genomes.iterdir() if genomes.exists() else []))


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_task_jobs_with_good_files_are_valid(task, home, tmp_path, monkeypatch, capsys):
    """Guards the task cases: the same job with fitting labels passes validation (--dry-run)."""
    work = tmp_path / "w"
    (work / "data").mkdir(parents=True)
    (work / "job.yaml").write_text(_job(extra=f"task: {{type: {task}}}"))
    (work / "space.yaml").write_text(SPACE)
    table = CLASS_CSV if task == "multiclass" else "sequence,label_a,label_b\n" + "".join(
        f"{s},{y},{1 - y}\n" for s, y in GOOD_ROWS)
    (work / "data" / "train.csv").write_text(table)
    monkeypatch.setenv("SEQSWEEP_HOME", str(work))
    assert cli.main(["sweep", str(work / "job.yaml"), "--dry-run"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert f"task: {task}; output head: 2 " in out


def test_a_task_with_one_class_in_every_fold_is_named_and_left_out_of_the_means(home, tmp_path, monkeypatch, capsys):
    work = tmp_path / "w"
    (work / "data").mkdir(parents=True)
    (work / "job.yaml").write_text(_job(extra="task: {type: multilabel}"))
    (work / "space.yaml").write_text(SPACE)
    table = "sequence,label_a,label_never\n" + "".join(f"{s},{y},0\n" for s, y in GOOD_ROWS)
    (work / "data" / "train.csv").write_text(table)
    monkeypatch.setenv("SEQSWEEP_HOME", str(work))
    assert cli.main(["sweep", str(work / "job.yaml"), "--dry-run"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "NOTE: 1 of 2 tasks hold one class only in every validation fold and are excluded from the task means (cv_*): never" in out


def test_the_job_with_default_files_is_valid(home, tmp_path, monkeypatch, capsys):
    """Guards the table: without the planted fault the same job passes validation (--dry-run)."""
    work = tmp_path / "w"
    (work / "data").mkdir(parents=True)
    (work / "job.yaml").write_text(_job())
    (work / "space.yaml").write_text(SPACE)
    (work / "data" / "train.csv").write_text(GOOD_CSV)
    monkeypatch.setenv("SEQSWEEP_HOME", str(work))
    assert cli.main(["sweep", str(work / "job.yaml"), "--dry-run"]) == 0, capsys.readouterr().err
