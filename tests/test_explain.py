"""seqsweep.explain, module by module, without Ray or MLflow: JASPAR offline, the planted-motif generator,
attributions (ISM against tangermeme's, the DeepLIFT/SHAP probe), TomTom matching, variant tables and
effects, the small-model rule, the report. The whole flow on a real sweep: test_explain_e2e.py."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from seqsweep.ensemble import Ensemble
from seqsweep.errors import DataError
from seqsweep.explain import jaspar
from seqsweep.tasks import Task


def _ensemble(architecture: str = "deepbind", n_folds: int = 2, seq_len: int = 30, task: Task | None = None,
              **hparams) -> Ensemble:
    from seqsweep.models import create_model

    task = task or Task()
    torch.manual_seed(0)
    models = [create_model(architecture, seq_len=seq_len, n_outputs=task.n_outputs, **hparams).eval() for _ in range(n_folds)]
    meta = {"architecture": architecture, "hparams": hparams, "seq_len": seq_len, "use_accessibility": False,
            "rc_average": False, "n_folds": n_folds, "task": task.to_dict()}
    return Ensemble(meta=meta, models=models)


def _onehot(n: int, length: int, seed: int = 0) -> np.ndarray:
    return np.eye(4, dtype=np.uint8)[np.random.default_rng(seed).integers(0, 4, (n, length))]


# ------------------------------------------------------------------------------------------------------------
# JASPAR, offline


def test_jaspar_is_read_from_the_package_and_ma0491_1_is_the_matrix_synth_plants():
    from seqsweep.data.synth import JUND_MA0491_1

    m = jaspar.fetch("MA0491.1")
    assert m.name == "JUND" and m.base_id == "MA0491"
    np.testing.assert_array_equal(m.counts, JUND_MA0491_1)
    assert len(jaspar.database()) > 800  # CORE vertebrates, latest versions


def test_same_family_is_one_matrix_any_version_or_a_tf_family_with_ap1_as_one():
    jund, fosjun, jdp2, ctcf = (jaspar.fetch(i) for i in ("MA0491.1", "MA0099.4", "MA0655.1", "MA0139.2"))
    assert jaspar.same_family(jund, jaspar.fetch("MA0491.3"))
    assert jaspar.same_family(jund, fosjun) and jaspar.same_family(jund, jdp2)  # Jun- and Fos-related: AP-1
    assert not jaspar.same_family(jund, ctcf)


def test_an_unknown_jaspar_id_is_a_one_line_error():
    with pytest.raises(DataError, match="has no matrix 'MA9999.9'"):
        jaspar.fetch("MA9999.9")


# ------------------------------------------------------------------------------------------------------------
# Planted motifs


def test_synth_planted_plants_each_motif_where_planted_json_says(tmp_path):
    from seqsweep.data.planted import synth_planted

    ds = synth_planted(tmp_path / "p", motif_ids=("MA0139.2", "MA0491.1"), n=400, positive_rate=0.25, seed=3)
    again = synth_planted(tmp_path / "q", motif_ids=("MA0139.2", "MA0491.1"), n=400, positive_rate=0.25, seed=3)
    np.testing.assert_array_equal(ds.X, again.X)
    sites = json.loads((tmp_path / "p" / "planted.json").read_text())["sites"]
    assert len(sites) == ds.y.sum() == 100 and {s["motif"] for s in sites} == {"MA0139.2", "MA0491.1"}
    seqs = ds.sequences()
    for s in sites[:20]:  # the site's consensus letters are mostly there (sampled from the matrix)
        pfm = jaspar.fetch(s["motif"]).pfm()
        site = seqs[s["row"]][s["start"]: s["start"] + len(pfm)]
        if s["strand"] == "-":
            site = site[::-1].translate(str.maketrans("ACGT", "TGCA"))
        likely = sum(pfm[j, "ACGT".index(b)] > 0.2 for j, b in enumerate(site))
        assert likely >= len(pfm) - 3, (s, site)


def test_synth_planted_refuses_an_unknown_id_and_too_short_windows(tmp_path):
    from seqsweep.data.planted import synth_planted

    with pytest.raises(DataError, match="no matrix"):
        synth_planted(tmp_path / "a", motif_ids=("MA0000.0",), n=100)
    with pytest.raises(DataError, match="length must be >= 15"):
        synth_planted(tmp_path / "b", motif_ids=("MA0139.2",), n=100, length=10)


# ------------------------------------------------------------------------------------------------------------
# Attributions


def test_ism_is_tangermemes_saturation_mutagenesis_of_the_served_log_odds():
    from tangermeme.saturation_mutagenesis import saturation_mutagenesis

    from seqsweep.explain.attributions import ServedModel, ism

    ens = _ensemble(filters=8, kernel_size=5, hidden_size=8)
    X = _onehot(6, 30)
    mine = ism(ens, X, batch=100).hypothetical  # several forward passes
    x = torch.from_numpy(X.transpose(0, 2, 1).copy()).float()
    theirs = saturation_mutagenesis(ServedModel(ens), x, hypothetical=True, fast=False, device="cpu")
    np.testing.assert_allclose(mine, theirs.numpy().transpose(0, 2, 1), atol=1e-5)
    np.testing.assert_allclose(mine.sum(-1), 0, atol=1e-5)  # mean-centred over the four bases


def test_served_model_is_the_served_probability_as_log_odds():
    from seqsweep.explain.attributions import ServedModel

    ens = _ensemble(filters=8, kernel_size=5, hidden_size=8)
    X = _onehot(5, 30)
    p = ens.predict_proba(X)
    with torch.no_grad():
        z = ServedModel(ens)(torch.from_numpy(X.transpose(0, 2, 1).copy()).float())[:, 0].numpy()
    np.testing.assert_allclose(1 / (1 + np.exp(-z)), p, atol=1e-5)


def test_auto_falls_back_to_ism_where_deeplift_cannot_run_and_says_why():
    from seqsweep.explain.attributions import attribute

    a = attribute(_ensemble(filters=8, kernel_size=5, hidden_size=8), _onehot(4, 30), method="auto")
    assert a.method == "ism" and "DeepLIFT/SHAP" in a.why and "ISM" in a.why
    assert a.hypothetical.shape == (4, 30, 4)


def test_an_unknown_attribution_method_is_refused():
    from seqsweep.explain.attributions import attribute

    with pytest.raises(DataError, match="must be one of auto, deeplift_shap, ism"):
        attribute(_ensemble(filters=4, kernel_size=5, hidden_size=4), _onehot(2, 30), method="gradients")


# ------------------------------------------------------------------------------------------------------------
# Motifs: TomTom against JASPAR


def test_tomtom_matches_a_jaspar_matrix_to_itself_on_either_strand():
    from seqsweep.explain.motifs import Motif, match

    pfm = jaspar.fetch("MA0139.2").pfm()
    fwd = Motif("pos_0", 1, 50, pfm, pfm)
    rev = Motif("pos_1", 1, 40, pfm[::-1, ::-1].copy(), pfm[::-1, ::-1].copy())
    a, b = match([fwd, rev])
    assert a.best.id == "MA0139.2" and a.best.q < 1e-6 and a.best.strand == "+"
    assert b.best.id == "MA0139.2" and b.best.strand == "-"
    assert a.best.q <= a.matches[1].q <= a.matches[2].q


# ------------------------------------------------------------------------------------------------------------
# Variants


def _variants(tmp_path, rows, columns=("sequence", "position", "ref", "alt")):
    path = tmp_path / "v.csv"
    pd.DataFrame(rows, columns=list(columns)).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("row, message", [
    (("ACGTA", 2, "A", "G"), "row 2: ref 'A' does not match the sequence, which has 'C' at position 2"),
    (("ACGTA", 6, "A", "G"), "row 2: position 6 is outside the sequence (1..5)"),
    (("ACGTA", 0, "A", "G"), "row 2: position 0 is outside the sequence (1..5)"),
    (("ACGTA", "x", "A", "G"), "row 2: position must be an integer"),
    (("ACGTA", 1, "A", "N"), "row 2: alt must be one base"),
    (("ACGTA", 1, "A", "A"), "row 2: alt must differ from ref"),
])
def test_a_broken_variant_row_is_named(tmp_path, row, message):
    from seqsweep.explain.variants import read_variants

    path = _variants(tmp_path, [("ACGTA", 1, "A", "T"), row])
    with pytest.raises(DataError) as e:
        read_variants(path)
    assert str(e.value).startswith(str(path)) and message in str(e.value)


def test_a_variant_table_needs_its_columns(tmp_path):
    from seqsweep.explain.variants import read_variants

    with pytest.raises(DataError, match="missing alt"):
        read_variants(_variants(tmp_path, [("ACGT", 1, "A")], ("sequence", "position", "ref")))


def test_variant_effects_are_alt_minus_ref_per_output_largest_first(tmp_path):
    from seqsweep.explain.variants import read_variants, variant_effects

    ens = _ensemble(filters=8, kernel_size=5, hidden_size=8, task=Task("multilabel", ("t1", "t2")))
    seq = "".join("ACGT"[i] for i in np.random.default_rng(1).integers(0, 4, 30))
    rows = [(seq, p, seq[p - 1], "ACGT"[("ACGT".index(seq[p - 1]) + 1) % 4]) for p in (3, 15, 28)]
    out = variant_effects(ens, read_variants(_variants(tmp_path, rows)))
    assert len(out) == 6 and set(out["output"]) == {"t1", "t2"}
    assert (out["delta_probability"].abs().diff().dropna() <= 1e-12).all()
    r = out.iloc[0]
    alt = seq[: r.position - 1] + r.alt + seq[r.position:]
    k = ["t1", "t2"].index(r.output)
    p_ref, p_alt = ens.predict_sequences([seq])[0, k], ens.predict_sequences([alt])[0, k]
    assert r.delta_probability == pytest.approx(p_alt - p_ref, abs=1e-6)
    assert np.sign(r.delta_log_odds) == np.sign(r.delta_probability)


def _vcf_genome(tmp_path):
    from seqsweep.data.genome import genome

    rng = np.random.default_rng(7)
    seq = "".join(rng.choice(list("ACGT"), 3000))
    (tmp_path / "ref.fa").write_text(">chr1\n" + seq + "\n>chr2\n" + seq[:500] + "\n")
    return seq, genome(tmp_path / "ref.fa", cache_dir=tmp_path / "cache")


def test_a_vcf_on_a_genome_becomes_windows_centred_on_each_variant(tmp_path):
    from seqsweep.explain.variants import read_vcf, vcf_table

    seq, store = _vcf_genome(tmp_path)
    alt = {b: next(c for c in "ACGT" if c != b) for b in "ACGT"}
    vcf = tmp_path / "calls.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   f"chr1\t1500\trs1\t{seq[1499]}\t{alt[seq[1499]]}\t.\tPASS\t.\n"
                   f"chr1\t3\t.\t{seq[2]}\t{alt[seq[2]]},{alt[alt[seq[2]]] if alt[alt[seq[2]]] != seq[2] else 'T' if seq[2] != 'T' else 'G'}\t.\t.\t.\n")
    v = read_vcf(vcf, store)
    assert v["id"].tolist()[0] == "rs1" and len(v) == 3  # the ALT list gives one row per allele
    t = vcf_table(v, store, 101)
    assert (t["sequence"].str.len() == 101).all()
    r0, r1 = t.iloc[0], t.iloc[1]
    assert r0.position == 51 and r0.sequence == seq[1449:1550] and r0.sequence[50] == r0.ref
    assert r1.position == 3 and r1.sequence == seq[:101]  # near the contig's start: the window shifts inside


@pytest.mark.parametrize(
    "line, message",
    [
        ("chr1\t10\t.\tREFX\tA", r"line 1: REF must be one base"),
        ("chr9\t10\t.\tA\tC", r"has no contig 'chr9' \(it has 2: chr1, chr2\)"),
        ("chr2\t600\t.\tA\tC", r"line 1: chr2:600 is outside chr2 \(1..500\)"),
        ("chr1\tten\t.\tA\tC", r"line 1: POS must be an integer, got 'ten'"),
    ],
)
def test_a_broken_vcf_line_is_named(tmp_path, line, message):
    from seqsweep.explain.variants import read_vcf

    _, store = _vcf_genome(tmp_path)
    (tmp_path / "bad.vcf").write_text(line + "\n")
    with pytest.raises(DataError, match=message):
        read_vcf(tmp_path / "bad.vcf", store)


def test_a_vcf_ref_that_does_not_match_the_genome_is_named(tmp_path):
    from seqsweep.explain.variants import read_vcf

    seq, store = _vcf_genome(tmp_path)
    wrong = next(c for c in "ACGT" if c != seq[99])
    (tmp_path / "bad.vcf").write_text(f"#header\nchr1\t100\t.\t{wrong}\t{seq[99]}\n")
    with pytest.raises(DataError, match=rf"bad.vcf: line 2: REF '{wrong}' does not match the genome, which has '{seq[99]}' at chr1:100"):
        read_vcf(tmp_path / "bad.vcf", store)


# ------------------------------------------------------------------------------------------------------------
# Which versions and rows


def test_small_means_short_sequences_few_parameters_and_enough_positives():
    from seqsweep.explain import is_small

    ens = _ensemble(filters=8, kernel_size=5, hidden_size=8)
    assert is_small(ens, 150)[0]
    assert not is_small(ens, 50)[0] and "50 positives" in is_small(ens, 50)[1]
    nb = _ensemble(filters=8, kernel_size=5, hidden_size=8, task=Task("next_base", ("A", "C", "G", "T")))
    assert not is_small(nb, 500)[0]


def test_outputs_explained_binary_positives_multilabel_top_k_multiclass_each_class():
    from seqsweep.data.dataset import Dataset
    from seqsweep.explain import select_outputs

    X = _onehot(6, 10)
    ml = Task("multilabel", ("a", "b", "c"))
    y = np.array([[1, 0, 1], [1, 0, 1], [1, 1, 0], [0, 0, 1], [1, 0, 0], [0, 0, 0]], dtype=np.uint8)
    ds = Dataset(X=X, y=y, w=np.ones_like(y, dtype=np.float32), ids=np.arange(6).astype(str), task=ml)
    assert [o[0] for o in select_outputs(ds, ml, top_tasks=2)] == ["a", "c"]
    mc = Task("multiclass", ("x", "y"))
    ds = Dataset(X=X, y=np.array([0, 1, 1, 0, 1, 1]), w=np.ones(6, np.float32), ids=np.arange(6).astype(str), task=mc)
    assert [(o[0], len(o[2])) for o in select_outputs(ds, mc)] == [("y", 4), ("x", 2)]


def test_config_registry_explain_defaults_to_auto_and_can_be_turned_off(tmp_path):
    from seqsweep.config import RegistrySpec

    assert RegistrySpec().explain is None and RegistrySpec().explain_rows == 1000
    assert RegistrySpec(explain=False).explain is False


def test_models_show_prints_what_the_version_learned():
    from seqsweep.cli.format import format_show

    d = {"name": "m", "version": 1, "aliases": [], "created": "", "source": "",
         "tags": {"explain.method": "ism", "explain.top_motif": "MA0491.3 JUND q=1e-05 (pos_0, 40 seqlets)",
                  "explain.matches": "pos_0 (40 seqlets, TGAGTCA): MA0491.3 JUND q=1e-05, MA0099.4 FOS::JUN q=2e-05"}}
    text = format_show(d)
    assert "what it learned (seqsweep explain; method ism)" in text and "top_motif: MA0491.3 JUND q=1e-05" in text
    assert "MA0099.4 FOS::JUN" in text


@pytest.mark.parametrize("architecture, method", [("mlp", "deeplift_shap"), ("cnn", "ism"), ("lstm", "ism")])
def test_auto_keeps_deeplift_shap_only_where_its_attributions_sum_to_the_output_difference(architecture, method):
    from seqsweep.explain.attributions import attribute

    a = attribute(_ensemble(architecture, n_folds=1, seq_len=40), _onehot(5, 40), method="auto")
    assert a.method == method, a.why
    assert a.hypothetical.shape == (5, 40, 4) and np.isfinite(a.hypothetical).all()


# ------------------------------------------------------------------------------------------------------------
# explain_version on a registered version (a real sqlite store, no sweep)


def test_a_multilabel_version_is_explained_per_task_and_recorded_on_it(tracking, tmp_path):
    import mlflow

    from seqsweep import store
    from seqsweep.data.dataset import Dataset
    from seqsweep.ensemble import save_ensemble
    from seqsweep.explain import explain_version
    from seqsweep.registry import register_trial_model
    from seqsweep.tracking import runs

    task = Task("multilabel", ("JUND", "CTCF", "GATA1"))
    ens = _ensemble(filters=8, kernel_size=7, hidden_size=8, task=task, seq_len=40)
    d = save_ensemble(tmp_path / "model", architecture="deepbind", hparams=ens.meta["hparams"], seq_len=40,
                      use_accessibility=False, rc_average=False, state_dicts=[m.state_dict() for m in ens.models], task=task)
    uri = store.tracking_uri()
    c = mlflow.MlflowClient(uri)
    run_id = runs.create_run(c, tracking, "trial", {})
    model_uri = runs.log_trial_model(c, uri, run_id, d, ["ACGT" * 10, "TTGA" * 10])
    mv = register_trial_model(model_uri, model_name="explain_ml", tags={"run_id": run_id}, tracking_uri=uri)

    X = _onehot(60, 40, seed=2)
    y = np.zeros((60, 3), dtype=np.uint8)
    y[:30, 0], y[10:50, 1], y[55:, 2] = 1, 1, 1
    ds = Dataset(X=X, y=y, w=np.ones((60, 3), np.float32), ids=np.arange(60).astype(str), task=task, source="mem")
    r = explain_version(f"models:/explain_ml/{mv.version}", data=ds, n=20, top_tasks=2, tracking_uri=uri,
                        out_dir=tmp_path / "report")
    assert list(r.motifs) == ["CTCF", "JUND"] and r.rows == 40 and r.method == "ism"  # the 2 tasks with most positives
    tags = c.get_model_version("explain_ml", mv.version).tags
    assert {"explain.top_motif.CTCF", "explain.top_motif.JUND"} <= set(tags) and "explain.top_motif.GATA1" not in tags
    assert tags["explain.artifacts"] == f"runs:/{run_id}/explain/explain_ml/v{mv.version}"
    listed = {f.path for f in c.list_artifacts(run_id, f"explain/explain_ml/v{mv.version}")}
    assert {f"explain/explain_ml/v{mv.version}/{n}" for n in ("report.html", "report.md", "motifs.csv", "summary.json")} <= listed
    assert (tmp_path / "report" / "examples" / "CTCF_1.png").is_file()

    with pytest.raises(DataError, match="row 1: position 41 is outside"):
        explain_version(f"explain_ml/{mv.version}", data=ds, tracking_uri=uri,
                        variants=_variants(tmp_path, [("A" * 40, 41, "A", "C")]))
    assert c.get_model_version("explain_ml", mv.version).tags == tags  # nothing written


def test_the_sweeps_explain_step_is_off_when_asked_and_skips_small_data_without_loading_the_model():
    from types import SimpleNamespace

    from seqsweep.data.dataset import Dataset
    from seqsweep.explain import after_sweep

    y = np.zeros(40, dtype=np.uint8)
    y[:12] = 1
    ds = Dataset(X=_onehot(40, 20), y=y, w=np.ones(40, np.float32), ids=np.arange(40).astype(str), source="held")
    prepared = SimpleNamespace(test=ds, train=ds)
    job = lambda explain: SimpleNamespace(registry=SimpleNamespace(explain=explain, explain_rows=10), model_name="nosuch")
    assert after_sweep(job(False), prepared, "1", uri="sqlite:///nowhere.db") == (None, "")
    result, note = after_sweep(job(None), prepared, "1", uri="sqlite:///nowhere.db")
    assert result is None and "explain skipped for version 1: 12 positives to explain (< 100)" in note
    result, note = after_sweep(job(True), prepared, "1", uri="sqlite:////nonexistent/dir/mlflow.db")
    assert result is None and note.startswith("explain of version 1 failed") and "promotion stand" in note
