"""The multilabel and multiclass synthetic generators, and the baselines of bench/baselines.py."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqsweep.cv import holdout_split
from seqsweep.data import decode, fingerprint, genomic_coordinates, load
from seqsweep.data.dataset import Dataset
from seqsweep.data.encoding import Length, encode
from seqsweep.data.labels import LabelSpec
from seqsweep.data.motifs import MOTIFS, KEEP, mutate, reverse_complement, sample
from seqsweep.data.synth import JUND_MA0491_1
from seqsweep.data.synth_tasks import MC_CLASSES, PROMOTER_DOWNSTREAM, TASK_NAMES, synth_multiclass, synth_multilabel
from seqsweep.errors import DataError
from seqsweep.tasks import RESERVED_NAMES, Task, kmer_names

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from baselines import frequency_baseline, kmer_logistic, markov_baseline, roc_auc_per_output  # noqa: E402

MULTILABEL = LabelSpec("multilabel")
MULTICLASS = LabelSpec("multiclass")
TO_500 = Length(to=500, pad="right")


@pytest.fixture(scope="module")
def ml_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ml") / "shards"
    synth_multilabel(out, n=6000, seed=0)
    return out


@pytest.fixture(scope="module")
def ml(ml_dir) -> Dataset:
    return load(ml_dir, task=MULTILABEL)


@pytest.fixture(scope="module")
def mc_csv(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mc") / "mc.csv"
    synth_multiclass(out, n=1500, seed=0)
    return out


# ---------------------------------------------------------------------------------------------------------
# motifs


def test_motif_catalogue_sampling_and_mutation():
    rng = np.random.default_rng(0)
    for motif in MOTIFS.values():
        p = motif.pfm()
        defined = ~np.isnan(p[:, 0])
        np.testing.assert_allclose(p[defined].sum(axis=1), 1.0)
        assert set(motif.consensus) <= set("ACGTRYSWKMBDHVN"), motif.name
    np.testing.assert_array_equal(np.array(MOTIFS["AP1"].counts), JUND_MA0491_1)  # one matrix, two copies
    aice = MOTIFS["AICE"]
    sites = sample(rng, aice, 2000)
    assert sites.shape == (2000, 15) and (sites[:, 4:8] == KEEP).all() and (sites[:, [0, 1, 2, 3, 8]] >= 0).all()
    # a consensus letter is drawn 90% of the time; a mutation always leaves the consensus
    assert 0.87 < (sites[:, 8] == 3).mean() < 0.93  # T of TGASTCA
    allowed = aice.allowed()  # (15, 4)
    broken = mutate(rng, sites, aice, 2)
    changed = broken != sites
    rows, cols = np.nonzero(changed)
    assert np.isin(cols, aice.informative()).all() and changed.sum(axis=1).max() == 2
    assert not allowed[cols, broken[rows, cols]].any()  # each new base breaks the consensus there
    inf = aice.informative()
    off = lambda x: (~np.take_along_axis(allowed[inf].T, x[:, inf], axis=0)).sum(1)  # noqa: E731  broken positions per site
    assert (off(broken) >= 2).all() and (off(broken) >= off(sites)).all()
    rc = reverse_complement(sites[:1])
    assert (rc[0, 7:11] == KEEP).all() and rc[0, 0] == 3 - sites[0, -1]


# ---------------------------------------------------------------------------------------------------------
# multilabel


def test_multilabel_is_deterministic_byte_for_byte(tmp_path):
    a = synth_multilabel(tmp_path / "a", n=800, seed=5)
    b = synth_multilabel(tmp_path / "b", n=800, seed=5)
    c = synth_multilabel(tmp_path / "c", n=800, seed=6)
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert "tasks.json" in files and "shard-0-y.joblib" in files
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "shard-0-X.joblib").read_bytes() != (tmp_path / "c" / "shard-0-X.joblib").read_bytes()


def test_multilabel_shapes_names_rates_and_missing_labels(ml_dir, ml):
    n, T = 6000, 20
    assert ml.task == Task("multilabel", TASK_NAMES[:T])
    assert json.loads((ml_dir / "tasks.json").read_text()) == list(TASK_NAMES[:T])
    assert len(set(ml.task.names)) == T and not set(ml.task.names) & set(RESERVED_NAMES)
    assert ml.X.shape == (n, 101, 4) and ml.y.shape == (n, T) and ml.w.shape == (n, T)
    assert ml.y.dtype == np.uint8 and ml.w.dtype == np.float32
    measured = ml.w > 0
    assert 0.015 < 1 - measured.mean() < 0.025  # missing_rate 0.02 of the labels
    assert (ml.y[~measured] == 0).all()  # DeepChem's convention: y 0, w 0
    rate = ((ml.y == 1) & measured).sum(0) / measured.sum(0)
    assert (rate >= 0.01).all() and (rate <= 0.055).all(), dict(zip(ml.task.names, rate.round(3)))
    assert len(np.unique(rate.round(2))) >= 3  # each target its own frequency
    for t in range(T):  # class-balancing per task over its measured rows
        rows = measured[:, t]
        pos, neg = ml.w[rows & (ml.y[:, t] == 1), t].sum(), ml.w[rows & (ml.y[:, t] == 0), t].sum()
        assert pos == pytest.approx(rows.sum() / 2, rel=1e-4) and neg == pytest.approx(rows.sum() / 2, rel=1e-4)
    chrom, start = genomic_coordinates(ml.ids)
    assert set(chrom) == {"chrS"} and (start == np.arange(n) * 101).all()
    # many windows bind several targets (shared motifs, co-binding partners)
    assert ((ml.y == 1).sum(1) >= 2).sum() > 0.3 * ((ml.y == 1).sum(1) >= 1).sum()


def test_multilabel_n_tasks_missing_rate_and_bad_arguments(tmp_path):
    ds = synth_multilabel(tmp_path / "five", n=3000, n_tasks=5, missing_rate=0.0, seed=1)
    assert ds.task.names == TASK_NAMES[:5] == ("JUND", "BATF", "MAX", "MYC", "SP1")
    assert (ds.w > 0).all()
    for kwargs, message in [
        ({"n_tasks": 0}, r"n_tasks must be an integer in 1\.\.24, got 0"),
        ({"n_tasks": 25}, r"n_tasks must be an integer in 1\.\.24, got 25"),
        ({"missing_rate": 1.0}, r"missing_rate must be in \[0, 1\), got 1.0"),
        ({"length": 40}, r"length must be >= \d+ \(the longest element of 20 tasks\), got 40"),
        ({"n": 50}, r"n=50 gives task '\w+' \d+ measured positives"),
    ]:
        with pytest.raises(DataError, match=message):
            synth_multilabel(tmp_path / "x", **kwargs)
    assert not (tmp_path / "x").exists()


def _strands(seqs: list[str]) -> list[str]:
    comp = str.maketrans("ACGTN", "TGCAN")
    return [s + "|" + s.translate(comp)[::-1] for s in seqs]


def test_multilabel_shared_motifs_need_their_partners(ml):
    """BATF and JUND share the AP-1 site, but BATF windows hold it inside an AICE; POU5F1 and SOX2 share
    the SOX site, but POU5F1 windows hold the Sox-Oct composite. Regexes on the sequence (both strands)."""
    seqs = _strands(decode(ml.X))
    names = list(ml.task.names)
    y = (ml.y == 1) & (ml.w > 0)

    def share(pattern, rows):
        rx = re.compile(pattern)
        return np.mean([rx.search(seqs[i]) is not None for i in np.flatnonzero(rows)])

    both_measured = lambda a, b: (ml.w[:, names.index(a)] > 0) & (ml.w[:, names.index(b)] > 0)  # noqa: E731
    jund, batf = y[:, names.index("JUND")], y[:, names.index("BATF")]
    assert (batf & ~jund & both_measured("JUND", "BATF")).sum() == 0  # an AICE holds an AP-1 site JUND binds
    aice = "TTTC....TGA[CG]TCA"
    # an exact match of all 11 defined letters: about 0.9**11 of the strong sites (78% of positives)
    assert share(aice, batf) > 0.15 > 0.03 > share(aice, jund & ~batf)
    ap1 = "TGA[CG]TCA"
    assert share(ap1, jund & ~batf) > 0.5  # ... and JUND-only windows hold plain AP-1 sites
    sox2, pou = y[:, names.index("SOX2")], y[:, names.index("POU5F1")]
    oct_sox = "CTTTGTTATGCAAAT"
    assert share(oct_sox, pou) > 0.1 > 0.02 > share(oct_sox, sox2 & ~pou)
    # MYC windows hold an E-box and a GC box; so do some MAX-only windows (the two far apart)
    myc, mx = y[:, names.index("MYC")], y[:, names.index("MAX")]
    assert (myc & ~mx & both_measured("MYC", "MAX")).sum() == 0
    both = "CACGTG[ACGTN]*GGGCGG|GGGCGG[ACGTN]*CACGTG"  # within one strand of the "forward|reverse" text
    assert share(both, myc) > 0.1 and share(both, mx & ~myc) > 0.02 > 0.002 > share(both, ~mx & ~myc)


# ---------------------------------------------------------------------------------------------------------
# multiclass


def test_multiclass_is_deterministic_byte_for_byte(tmp_path):
    a = synth_multiclass(tmp_path / "a.csv", n=300, seed=2)
    synth_multiclass(tmp_path / "b.csv", n=300, seed=2)
    synth_multiclass(tmp_path / "c.csv", n=300, seed=3)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()
    pd.testing.assert_frame_equal(a, pd.read_csv(tmp_path / "a.csv", dtype=str, keep_default_na=False))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left behind


def test_multiclass_table_classes_lengths_and_layout(mc_csv):
    df = pd.read_csv(mc_csv, dtype=str, keep_default_na=False)
    assert list(df.columns) == ["id", "sequence", "label"]
    assert df["label"].value_counts().to_dict() == {"background": 600, "promoter": 450, "enhancer": 450}
    L = df["sequence"].str.len()
    assert L.min() >= 150 and L.max() <= 500 and L.nunique() > 100
    mean = L.groupby(df["label"]).mean()
    assert mean["promoter"] > mean["enhancer"] + 30  # length helps ...
    for cls in MC_CLASSES:  # ... but every class spans most of the range
        assert L[df["label"] == cls].min() < 220 and L[df["label"] == cls].max() > 450
    start = np.r_[0, np.cumsum(L)[:-1]]
    assert df["id"].tolist() == [f"chrS:{s}-{s + n}" for s, n in zip(start, L)]
    assert set("".join(df["sequence"])) == set("ACGT")


def test_multiclass_loads_with_data_length_only(mc_csv):
    ds = load(mc_csv, task=MULTICLASS, length=TO_500)
    assert ds.task.type == "multiclass" and set(ds.task.names) == set(MC_CLASSES)
    assert ds.X.shape == (1500, 500, 4) and ds.y.dtype == np.int64
    df = pd.read_csv(mc_csv, dtype=str, keep_default_na=False)
    assert [ds.task.names[c] for c in ds.y] == df["label"].tolist()
    np.testing.assert_array_equal(ds.lengths(), df["sequence"].str.len().to_numpy())
    assert (ds.spans[:, 0] == 0).all()  # pad right: each sequence starts at 0
    with pytest.raises(DataError, match=r"all sequences must have the same length; set data.length"):
        load(mc_csv, task=MULTICLASS)
    # the class order of a job is kept
    ordered = load(mc_csv, task=LabelSpec("multiclass", classes=MC_CLASSES), length=TO_500)
    assert ordered.task.names == MC_CLASSES


def test_multiclass_promoter_core_sits_at_a_fixed_distance_from_the_end(mc_csv):
    df = pd.read_csv(mc_csv, dtype=str, keep_default_na=False)
    tata = re.compile("TATA[AT]A[AT][AG]")

    def at_minus_30(s: str) -> bool:  # a TATA box starting 29-33 bp upstream of the TSS
        tss = len(s) - PROMOTER_DOWNSTREAM
        return any(tss - 33 <= m.start() <= tss - 29 for m in tata.finditer(s))

    hits = df["sequence"].map(at_minus_30).groupby(df["label"]).mean()
    # about 30% of promoters get a TATA box; a sampled box matches the consensus exactly about a third of the time
    assert hits["promoter"] > 0.08 and hits["enhancer"] < 0.02 and hits["background"] < 0.02
    cpg = df["sequence"].map(lambda s: s.count("CG") / len(s)).groupby(df["label"]).mean()
    assert cpg["promoter"] > 3 * cpg["background"] and cpg["promoter"] > 3 * cpg["enhancer"]


def test_multiclass_bad_arguments(tmp_path):
    for kwargs, message in [
        ({"n": 5}, r"n must be an integer >= 10, got 5"),
        ({"lengths": (50, 500)}, r"lengths must be two integers \(100 <= low <= high\), got \(50, 500\)"),
        ({"lengths": (300, 200)}, r"got \(300, 200\)"),
        ({"lengths": "150-500"}, r"got '150-500'"),
    ]:
        with pytest.raises(DataError, match=message):
            synth_multiclass(tmp_path / "x.csv", **kwargs)
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------------------------
# baselines: k-mer logistic regression


def _split(ds: Dataset, y_any: np.ndarray):
    tr, te = holdout_split(ds.ids, y_any, fraction=0.25, block_size=10_000, seed=0)
    return ds.subset(tr), ds.subset(te)


def test_kmer_logistic_learns_the_multilabel_set(ml):
    train, test = _split(ml, ml.y.max(1))
    p = kmer_logistic(train, test, k=4)
    assert p.shape == (len(test), 20) and np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()
    auc = roc_auc_per_output(test, p)
    assert np.isfinite(auc).all()
    assert 0.7 < np.mean(auc) < 0.97  # learnable, not solved
    # what k-mer counts cannot see: BATF needs the IRF half 4 bp from AP-1; single-site CTCF is easier
    names = list(ml.task.names)
    assert auc[names.index("BATF")] < auc[names.index("CTCF")]


def test_kmer_logistic_separates_the_multiclass_set(mc_csv):
    ds = load(mc_csv, task=MULTICLASS, length=TO_500)
    train, test = _split(ds, (ds.y == ds.task.names.index("promoter")).astype(int))
    p = kmer_logistic(train, test, k=4)
    assert p.shape == (len(test), 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    auc = dict(zip(ds.task.names, roc_auc_per_output(test, p)))
    assert auc["promoter"] > 0.85 and auc["enhancer"] > 0.6 and auc["background"] > 0.6
    accuracy = (p.argmax(1) == test.y).mean()
    assert accuracy > 0.6  # against 0.4 for always "background"


def test_kmer_logistic_skips_a_task_with_one_class_in_train(ml):
    ds = ml.subset(np.arange(1200))
    y = ds.y.copy()
    y[:, 3] = 0  # task 3 has no positives in train
    w = ds.w.copy()
    w[:, 3] = np.where(ds.w[:, 3] > 0, 1.0, 0.0)
    train = Dataset(X=ds.X[:900], y=y[:900], w=w[:900], ids=ds.ids[:900], task=ds.task)
    p = kmer_logistic(train, ds.subset(np.arange(900, 1200)), k=3)
    assert np.isnan(p[:, 3]).all() and np.isfinite(np.delete(p, 3, axis=1)).all()
    assert np.isnan(roc_auc_per_output(ds.subset(np.arange(900, 1200)), p)[3])


# ---------------------------------------------------------------------------------------------------------
# baselines: next_base


def _code(kmer: str) -> int:
    return kmer_names(len(kmer)).index(kmer)


def test_frequency_baseline_exact():
    y = np.array([2, 2, 2, 0, 1, 2])  # G x4, A, C
    p = frequency_baseline(y, 4)
    np.testing.assert_allclose(p, np.array([2, 2, 5, 1]) / 10)  # add-one: (count + 1) / (6 + 4)
    assert p.argmax() == 2
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        frequency_baseline(np.array([4]), 4)


def test_markov_baseline_exact_on_a_hand_made_example():
    # contexts of 3 bases and the base after each; order 2 looks at the last two
    train = ["AAC", "GAC", "TAC", "CAC", "CGT", "CGT", "NGT"]
    nxt = ["G", "G", "T", "G", "A", "C", "A"]
    X, y = encode(train), np.array([_code(b) for b in nxt])
    test = encode(["TAC", "GGT", "ACC", "ANC", "CAN"])
    p = markov_baseline(X, y, test, order=2, k=1)
    # AC: G 3, T 1 of 4 -> (1, 1, 4, 2) / 8; GT: A 2, C 1 (the N is outside the last two) -> (3, 2, 1, 1) / 7
    np.testing.assert_allclose(p[0], np.array([1, 1, 4, 2]) / 8)
    np.testing.assert_allclose(p[1], np.array([3, 2, 1, 1]) / 7)
    np.testing.assert_allclose(p[2], np.full(4, 0.25))  # CC never seen: uniform
    # NC and AN hold an N: the order-0 estimate, A 2, C 1, G 3, T 1 of 7 -> (3, 2, 4, 2) / 11
    prior = frequency_baseline(y, 4)
    np.testing.assert_allclose(prior, np.array([3, 2, 4, 2]) / 11)
    np.testing.assert_allclose(p[3], prior)
    np.testing.assert_allclose(p[4], prior)
    np.testing.assert_allclose(p.sum(1), 1.0)


def test_markov_baseline_next_kmer_order_zero_and_errors():
    X = encode(["ACGT", "ACGA", "TTTA", "GGCA"])
    y = np.array([_code("CA"), _code("CA"), _code("GT"), _code("CA")])  # k = 2: 16 classes
    p = markov_baseline(X, y, encode(["CCCA", "CCCT"]), order=1, k=2)
    assert p.shape == (2, 16)
    # last base A: CA 2, GT 1 of 3 -> (2 + 1) / (3 + 16), (1 + 1) / 19; last base T: CA 1 of 1 -> 2 / 17
    assert p[0, _code("CA")] == pytest.approx(3 / 19) and p[0, _code("GT")] == pytest.approx(2 / 19)
    assert p[1, _code("CA")] == pytest.approx(2 / 17) and p[1, _code("AA")] == pytest.approx(1 / 17)
    np.testing.assert_allclose(markov_baseline(X, y, X, order=0, k=2), np.broadcast_to(frequency_baseline(y, 16), (4, 16)))
    with pytest.raises(ValueError, match="order 5 is longer than the context"):
        markov_baseline(X, y, X, order=5, k=2)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\*\*k = 4\)"):
        markov_baseline(X, y, X, order=1, k=1)


def test_markov_beats_frequency_on_a_markov_source():
    """Sampled from a known first-order chain, the order-1 estimate approaches the chain's rows."""
    from seqsweep.data.synth import TRANSITIONS, _background

    rng = np.random.default_rng(0)
    c = _background(rng, 4000, 9)  # contexts of 8 bases and the next one
    X = np.eye(4, dtype=np.uint8)[c[:, :8]]
    y = c[:, 8].astype(np.int64)
    p = markov_baseline(X[:3000], y[:3000], X[3000:], order=1, k=1)
    np.testing.assert_allclose(p, TRANSITIONS[c[3000:, 7]], atol=0.05)
    nll = lambda q: -np.log(q[np.arange(1000), y[3000:]]).mean()  # noqa: E731
    assert nll(p) < nll(np.broadcast_to(frequency_baseline(y[:3000], 4), (1000, 4))) - 0.02


@pytest.mark.parametrize("task", ["multilabel", "multiclass"])
def test_data_synth_cli_writes_each_task_and_data_check_reads_it(task, tmp_path, capsys):
    from seqsweep import cli

    out = tmp_path / ("ml" if task == "multilabel" else "mc.csv")
    assert cli.main(["data", "synth", "--task", task, "--n", "600", "--tasks", "4", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert f"to {out}" in said and ("4 tasks" in said if task == "multilabel" else "bp (background" in said)
    argv = ["data", "check", str(out), "--task", task] + (["--length", "500"] if task == "multiclass" else [])
    assert cli.main(argv) == 0
    summary = capsys.readouterr().out
    assert "task" in summary and ("class promoter" in summary if task == "multiclass" else "task JUND" in summary)
