"""`registry.explain` end to end: a real sweep on data whose positives carry three planted JASPAR motifs
registers a champion, explains it (ISM, TF-MoDISco, TomTom against JASPAR) and records it on the version;
each planted motif comes back matched to its own JASPAR matrix or family. Then variant effects and bad input."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from e2e_helpers import run_cli, seed_store

pytestmark = pytest.mark.e2e

SPACE = ("architecture: deepbind\nlearning_rate: [1.0e-2]\nhidden_size: [32]\nbatch_size: [64]\n"
         "deepbind.filters: [32]\ndeepbind.kernel_size: [15]\n")


@pytest.fixture(scope="module")
def explained(tmp_path_factory):
    """One sweep (1 trial, 2 folds, 12 epochs) on 4,000 planted rows with explain on; its home and result."""
    from seqsweep.data.planted import DEFAULT_MOTIFS, synth_planted

    home = tmp_path_factory.mktemp("explain-e2e")
    seed_store(home)
    synth_planted(home / "data" / "planted", motif_ids=DEFAULT_MOTIFS, n=4000, seed=0)
    (home / "search_spaces").mkdir()
    (home / "search_spaces" / "db.yaml").write_text(SPACE)
    (home / "jobs").mkdir()
    job = home / "jobs" / "planted.yaml"
    job.write_text(textwrap.dedent("""\
        name: planted
        data:
          train: data/planted
          holdout: {fraction: 0.35, block_size: 1000, seed: 0}
        search_space: search_spaces/db.yaml
        search: {num_trials: 1, max_concurrent: 1, scheduler: none, startup_trials: 1}
        cv: {folds: 2, seed: 0}
        train: {max_epochs: 12}
        resources: {cpu: 2}
        registry: {model_name: planted, explain: true}
        """))
    r = run_cli(home, "sweep", str(job))
    return home, r


def _client(home):
    return mlflow.MlflowClient(f"sqlite:///{home}/mlruns/mlflow.db")


def test_the_champion_is_explained_and_each_planted_motif_is_its_top_jaspar_hit(explained):
    from seqsweep.data.planted import DEFAULT_MOTIFS
    from seqsweep.explain import jaspar

    home, r = explained
    assert r.returncode == 0, r.stderr[-3000:]
    assert "explained version 1 (ism" in r.stdout, r.stdout[-2000:]
    mv = _client(home).get_model_version_by_alias("planted", "champion")
    tags = mv.tags
    assert tags["explain.method"] == "ism" and "deepbind is explained by ISM" in tags["explain.method_why"]
    assert tags["explain.top_motif"].startswith("MA") and " q=" in tags["explain.top_motif"]
    assert int(tags["explain.rows"]) > 300 and "held-out" in tags["explain.data"]

    dst = home / "dl"
    mlflow.set_tracking_uri(f"sqlite:///{home}/mlruns/mlflow.db")
    local = mlflow.artifacts.download_artifacts(tags["explain.artifacts"], dst_path=str(dst))
    mlflow.set_tracking_uri(None)
    table = pd.read_csv(f"{local}/motifs.csv")
    for name in ("report.md", "report.html", "summary.json", "logos/probability_pos_0.png", "examples/probability_1.png"):
        assert (Path(local) / name).is_file(), name
    positive = table[(table["sign"] == "+") & (table["match1_q"] <= 0.05)]
    for planted in DEFAULT_MOTIFS:
        want = jaspar.fetch(planted)
        hits = [jaspar.fetch(m) for m in positive["match1_id"]]
        assert any(jaspar.same_family(want, h) for h in hits), (planted, table[["motif", "seqlets", "consensus", "match1_id", "match1_name", "match1_q"]].to_string())

    shown = run_cli(home, "models", "show", "planted@champion")
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "what it learned" in shown.stdout and "top_motif: MA" in shown.stdout


def test_a_snp_that_destroys_a_planted_site_has_the_largest_effect_and_lowers_the_probability(explained, tmp_path):
    from seqsweep.data import load
    from seqsweep.explain.variants import read_variants, variant_effects
    from seqsweep.registry import client

    home, r = explained
    assert r.returncode == 0, r.stderr[-3000:]
    ds = load(home / "data" / "planted")
    sites = json.loads((home / "data" / "planted" / "planted.json").read_text())["sites"]
    seqs = ds.sequences()
    # a CTCF site on the + strand; its most informative position (MA0139.2 position 8, a G at 1.9 bits)
    site = next(s for s in sites if s["motif"] == "MA0139.2" and s["strand"] == "+" and seqs[s["row"]][s["start"] + 7] == "G")
    seq = seqs[site["row"]]
    pos = site["start"] + 8  # 1-based
    negative = seqs[int(np.flatnonzero(ds.y == 0)[0])]
    rows = [("hit", seq, pos, "G", "A")] + [
        (f"bg{k}", negative, p, negative[p - 1], "ACGT"[("ACGT".index(negative[p - 1]) + 1) % 4]) for k, p in enumerate((10, 50, 90))]
    path = tmp_path / "variants.csv"
    pd.DataFrame(rows, columns=["id", "sequence", "position", "ref", "alt"]).to_csv(path, index=False)
    client.open_client(f"sqlite:///{home}/mlruns/mlflow.db")
    ensemble = client.load_version("planted", 1).unwrap_python_model().ensemble
    effects = variant_effects(ensemble, read_variants(path))
    mlflow.set_tracking_uri(None)
    assert effects.iloc[0]["id"] == "hit", effects.to_string()
    assert effects.iloc[0]["delta_probability"] < 0 and effects.iloc[0]["delta_log_odds"] < 0


def test_bad_input_is_one_line_exit_2_and_leaves_the_version_alone(explained, tmp_path):
    home, r = explained
    assert r.returncode == 0, r.stderr[-3000:]
    before = dict(_client(home).get_model_version("planted", "1").tags)
    seq = "ACGT" * 25
    cases = {
        "unknown model": (["models:/nosuch@champion"], "no registered model 'nosuch'"),
        "ref mismatch": (["--variants", "ref.csv"], "row 2: ref 'G' does not match the sequence, which has 'A' at position 5"),
        "outside": (["--variants", "out.csv"], "row 1: position 101 is outside the sequence (1..100)"),
        "genome without variants": (["--genome", "hg38.fa"], "--genome: give --variants (a VCF) to score against the genome"),
        "missing genome": (["--variants", "calls.vcf", "--genome", "hg38.fa"], "hg38.fa: no such FASTA file"),
    }
    pd.DataFrame({"sequence": [seq, seq], "position": [1, 5], "ref": ["A", "G"], "alt": ["C", "C"]}).to_csv(home / "ref.csv", index=False)
    pd.DataFrame({"sequence": [seq], "position": [101], "ref": ["A"], "alt": ["C"]}).to_csv(home / "out.csv", index=False)
    for what, (args, message) in cases.items():
        model = [] if args[0].startswith("models:/") else ["models:/planted@champion"]
        bad = run_cli(home, "explain", *model, *args)
        assert bad.returncode == 2, (what, bad.stdout[-1000:], bad.stderr[-2000:])
        lines = [ln for ln in bad.stderr.splitlines() if ln.startswith("seqsweep: error")]
        assert len(lines) == 1 and message in lines[0], (what, bad.stderr[-2000:])
    assert dict(_client(home).get_model_version("planted", "1").tags) == before
