"""End to end from peaks and a genome: the shipped jobs/peaks.yaml, reduced (fewer trials and epochs, smaller
windows), as a user runs it: the synthetic genome, narrowPeak and bigWig generated on first use, a real sweep
(Ray, Optuna, MLflow store and registry), then `seqsweep predict --genome --regions` with the champion."""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import mlflow.pyfunc
import pandas as pd
import pytest

from e2e_helpers import env_for, run_cli, seed_store

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
SPACE = "architecture: [deepbind]\nlearning_rate: [5.0e-3]\nbatch_size: [128]\nhidden_size: [16]\ndeepbind.filters: [16]\n" \
        "deepbind.kernel_size: [11]\n"


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    home = tmp_path_factory.mktemp("peaks")
    (home / "jobs").mkdir()
    shutil.copy(ROOT / "jobs" / "peaks.yaml", home / "jobs" / "peaks.yaml")
    (home / "space.yaml").write_text(SPACE)
    seed_store(home)
    proc = run_cli(home, "sweep", "jobs/peaks.yaml", "--set", "search_space=space.yaml", "--set", "search.num_trials=2",
                   "--set", "registry.explain=false",
                   "--set", "train.max_epochs=3", "--set", "data.window=200", "--set", "data.negatives.ratio=2",
                   "--set", "search.scheduler=none")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return home, proc


def test_the_peaks_job_runs_from_generated_files_and_records_its_chromosomes(swept):
    home, proc = swept
    gen = home / "data" / "generated" / "peaks"
    assert {p.name for p in gen.iterdir()} >= {"genome.fa", "peaks.narrowPeak", "dnase.bigWig"}
    c = mlflow.MlflowClient(env_for(home)["MLFLOW_TRACKING_URI"])
    exp = c.get_experiment_by_name("peaks")
    runs = c.search_runs([exp.experiment_id])
    parent = next(r for r in runs if r.data.tags.get("seqsweep.kind") == "sweep")
    assert parent.data.params["data.test_chromosomes"] == "chr7,chr8"
    assert parent.data.params["data.train_chromosomes"] == "chr1,chr2,chr3,chr4,chr5,chr6"
    folds = {parent.data.params[f"data.fold{k}_validation_chromosomes"] for k in range(3)}
    assert len(folds) == 3 and sorted(",".join(folds).split(",")) == [f"chr{i}" for i in range(1, 7)]
    trials = [r for r in runs if r.data.tags.get("seqsweep.kind") == "trial"]
    assert trials and all(r.data.tags["data.store"].startswith("memory-mapped ") for r in trials)
    champion = c.get_model_version_by_alias("peaks", "champion")
    # GC-matched negatives: a model that learned GC alone would sit near 0.5; the planted AP-1 site is learnable
    assert float(champion.tags["heldout_roc_auc"]) > 0.75, champion.tags


def test_predict_scores_regions_of_the_genome(swept, tmp_path):
    home, _ = swept
    gen = home / "data" / "generated" / "peaks"
    peaks = gen / "peaks.narrowPeak"
    regions = tmp_path / "regions.bed"
    lines = [ln for ln in peaks.read_text().splitlines() if ln.startswith("chr7\t")][:20]
    regions.write_text("track name=regions\n" + "\n".join(lines) + "\nchr7\t1500000\t1500300\tbackground\n")
    out = tmp_path / "scores.csv"
    proc = run_cli(home, "predict", "--model", "models:/peaks@champion", "--genome", str(gen / "genome.fa"),
                   "--regions", str(regions), "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    df = pd.read_csv(out)
    assert len(df) == 21 and list(df.columns[:7]) == ["chrom", "start", "end", "name", "window_chrom", "window_start", "window_end"]
    assert ((df.window_end - df.window_start) == 200).all() and (df.window_chrom == "chr7").all()
    assert df.probability.iloc[:20].mean() > df.probability.iloc[20] or df.probability.iloc[:20].mean() > 0.5

    bad = tmp_path / "bad.bed"
    bad.write_text("chr7\t100\t200\nchr99\t1\t2\n")
    proc = run_cli(home, "predict", "--model", "models:/peaks@champion", "--genome", str(gen / "genome.fa"),
                   "--regions", str(bad), "--out", str(tmp_path / "none.csv"))
    assert proc.returncode == 2 and "bad.bed: line 2: contig 'chr99' is not in the genome" in proc.stderr
    assert not (tmp_path / "none.csv").exists()


def test_a_snp_in_a_bound_sites_core_has_the_largest_effect_from_a_vcf_on_the_genome(swept, tmp_path):
    import re

    from seqsweep.data.genome import genome

    home, _ = swept
    gen = home / "data" / "generated" / "peaks"
    fa = gen / "genome.fa"
    chr7 = "".join(ln for ln in fa.read_text().split(">chr7\n")[1].split(">")[0].splitlines())
    summits = [int(ln.split("\t")[1]) + int(ln.split("\t")[9]) for ln in (gen / "peaks.narrowPeak").read_text().splitlines()
               if ln.startswith("chr7\t")]
    # the AP-1 core TGA[CG]TCA nearest a held-out summit: its G (position 3 of the core) is what JUND reads most
    hit = next(m for s in summits for m in [re.search("TGA[CG]TCA", chr7[s - 40 : s + 40])] if m)
    s0 = next(s for s in summits if re.search("TGA[CG]TCA", chr7[s - 40 : s + 40]))
    pos = s0 - 40 + hit.start() + 2  # 1-based position of the core's G (0-based index + 1)
    assert chr7[pos - 1] == "G"
    far = [p for p in range(1_200_000, 1_200_400, 100)]  # background, far from any peak of the generator's 5 kb grid
    lines = [f"chr7\t{pos}\tcore\tG\tT"] + [f"chr7\t{p}\tbg{k}\t{chr7[p - 1]}\t{'ACGT'[('ACGT'.index(chr7[p - 1]) + 1) % 4]}"
                                          for k, p in enumerate(far)]
    vcf = tmp_path / "calls.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n" + "\n".join(lines) + "\n")
    out = tmp_path / "explain"
    proc = run_cli(home, "explain", "models:/peaks@champion", "--n", "60", "--variants", str(vcf), "--genome", str(fa),
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    effects = pd.read_csv(next(out.rglob("variants.csv")))
    assert effects.iloc[0]["id"] == "core" and effects.iloc[0]["delta_probability"] < 0, effects.to_string()
    assert genome(fa).names[:1] == ("chr1",)

    bad = tmp_path / "bad.vcf"
    bad.write_text(f"chr7\t{pos}\t.\tA\tT\n")
    proc = run_cli(home, "explain", "models:/peaks@champion", "--variants", str(bad), "--genome", str(fa))
    assert proc.returncode == 2 and "bad.vcf: line 1: REF 'A' does not match the genome, which has 'G'" in proc.stderr


def test_the_deepsea_job_runs_binned_sparse_targets_end_to_end(tmp_path, monkeypatch):
    home = tmp_path
    (home / "jobs").mkdir()
    shutil.copy(ROOT / "jobs" / "deepsea.yaml", home / "jobs" / "deepsea.yaml")
    (home / "space.yaml").write_text("architecture: [kmer]\nlearning_rate: [1.0e-2]\nbatch_size: [128]\n"
                                     "kmer.k_max: [5]\nkmer.num_layers: [0]\n")
    seed_store(home)
    proc = run_cli(home, "sweep", "jobs/deepsea.yaml", "--set", "search_space=space.yaml", "--set", "search.num_trials=1",
                   "--set", "train.max_epochs=1", "--set", "data.window=200", "--set", "data.bins.stride=400",
                   "--set", "search.scheduler=none")
    assert proc.returncode == 0, proc.stderr[-3000:]
    c = mlflow.MlflowClient(env_for(home)["MLFLOW_TRACKING_URI"])
    champion = c.get_model_version_by_alias("deepsea", "champion")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env_for(home)["MLFLOW_TRACKING_URI"])
    model = mlflow.pyfunc.load_model("models:/deepsea@champion")
    out = model.predict(pd.DataFrame({"sequence": ["ACGT" * 50, "TTGACTCATT" * 20]}))
    assert out.shape == (2, 53) and "AP1" in out.columns and "REST_AP1" in out.columns
    # held-out chromosomes chr7 and chr8: one epoch of k-mer regressions already ranks the targets' windows
    assert float(champion.tags["heldout_roc_auc"]) > 0.55, champion.tags
