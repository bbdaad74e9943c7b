"""The data layer: encoding, loaders, validation, synthetic data, summaries."""

from __future__ import annotations

import gzip
import logging
import re

import joblib
import numpy as np
import pandas as pd
import pytest

from seqsweep.data import (
    ALPHABET,
    Dataset,
    class_balancing_weights,
    decode,
    encode,
    fingerprint,
    format_summary,
    genomic_coordinates,
    load,
    read_sequences,
    summary,
    synth,
    validate,
    write_shards,
)
from seqsweep.errors import DataError, SeqsweepError

# ---------------------------------------------------------------------------------------------------------
# encoding


def test_encode_golden_one_hot():
    X = encode(["ACGTNacgtR"])
    expected = np.array(
        [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0],
         [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]],
        dtype=np.uint8,
    )
    assert ALPHABET == "ACGT"
    assert X.dtype == np.uint8 and X.shape == (1, 10, 4)
    np.testing.assert_array_equal(X[0], expected)


def test_encode_lower_case_equals_upper_and_all_iupac_are_zero():
    np.testing.assert_array_equal(encode(["acgtn"]), encode(["ACGTN"]))
    iupac = "NRYSWKMBDHV"
    X = encode([iupac, iupac.lower()])
    assert X.shape == (2, 11, 4) and X.sum() == 0


def test_encode_many_rows_matches_per_row():
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGTNacgt"), size=7)) for _ in range(50)]
    X = encode(seqs)
    for i, s in enumerate(seqs):
        np.testing.assert_array_equal(X[i], encode([s])[0])


@pytest.mark.parametrize(
    "seqs, message",
    [
        (["ACGT", "ACXT"], "mine.csv: row 1: letter 'X' is not a nucleotide (ACGT or IUPAC)"),
        (["ACGT", "AC-T"], "mine.csv: row 1: letter '-' is not a nucleotide"),
        (["ACGT", "ACGT", "ACéT"], "mine.csv: row 2: letter 'é' is not a nucleotide"),
        (["ACGT", "AcgU"], "mine.csv: row 1: letter 'U' is not a nucleotide"),
    ],
)
def test_encode_unknown_letter_names_row_and_letter(seqs, message):
    with pytest.raises(DataError, match=re.escape(message)):
        encode(seqs, source="mine.csv")


def test_encode_ragged_names_row_and_both_lengths():
    with pytest.raises(DataError, match=r"^x\.fa: row 2: sequence has length 3 but row 0 has length 4"):
        encode(["ACGT", "ACGT", "ACG"], source="x.fa")


def test_encode_wrong_length_names_row_got_and_expected():
    with pytest.raises(DataError, match=r"^<input>: row 1: sequence has length 5, expected 4$"):
        encode(["ACGT", "ACGTA"], length=4)
    with pytest.raises(DataError, match=r"row 0: sequence has length 4, expected 101"):
        encode(["ACGT"], length=101)


def test_encode_non_string_row():
    with pytest.raises(DataError, match=r"row 1: sequence must be a string, got nan"):
        encode(pd.Series(["ACGT", np.nan]))


def test_encode_empty_input():
    assert encode([], length=101).shape == (0, 101, 4)


def test_decode_encode_round_trip():
    seqs = ["ACGTNNACGT", "TTTTGGGGCC", "NACGTACGTA"]
    assert decode(encode(seqs)) == seqs
    # lower case and IUPAC letters come back as upper case and N
    assert decode(encode(["acgtR"])) == ["ACGTN"]


def test_class_balancing_weights_golden():
    w = class_balancing_weights(np.array([0, 0, 0, 1]))
    assert w.dtype == np.float32
    np.testing.assert_allclose(w, [4 / 6, 4 / 6, 4 / 6, 2.0], rtol=1e-6)
    assert w[:3].sum() == pytest.approx(2.0) and w[3] == pytest.approx(2.0)


# ---------------------------------------------------------------------------------------------------------
# synthetic data and shards


def _assert_same(a: Dataset, b: Dataset) -> None:
    for name in ("X", "y", "w", "ids"):
        x, z = getattr(a, name), getattr(b, name)
        assert x.dtype == z.dtype, name
        np.testing.assert_array_equal(x, z, err_msg=name)
    assert (a.a is None) == (b.a is None)
    if a.a is not None:
        np.testing.assert_array_equal(a.a, b.a)


def test_synth_shards_load_round_trip(tmp_path):
    made = synth(tmp_path / "s", n=300, positive_rate=0.1, seed=3, length=40)
    loaded = load(tmp_path / "s")
    _assert_same(made, loaded)
    assert loaded.X.dtype == np.uint8 and loaded.y.dtype == np.uint8 and loaded.w.dtype == np.float32
    assert loaded.a is not None and loaded.a.dtype == np.float32
    assert fingerprint(made) == fingerprint(loaded)


def test_synth_is_deterministic_byte_for_byte(tmp_path):
    a = synth(tmp_path / "a", n=500, positive_rate=0.05, seed=7)
    b = synth(tmp_path / "b", n=500, positive_rate=0.05, seed=7)
    c = synth(tmp_path / "c", n=500, positive_rate=0.05, seed=8)
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(c)
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert "metadata.csv.gzip" in files and "shard-0-a.joblib" in files
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_synthetic_rate_weights_and_layout(synthetic_dataset):
    ds = synthetic_dataset
    assert len(ds) == 2000 and ds.seq_len == 101
    assert ds.n_positive == 200  # round(2000 * 0.1), exactly
    w, y = ds.w.astype(np.float64), ds.y
    assert w[y == 1].sum() == pytest.approx(1000.0) and w[y == 0].sum() == pytest.approx(1000.0)
    chrom, start = genomic_coordinates(ds.ids)
    assert set(chrom) == {"chrS"}
    np.testing.assert_array_equal(start, np.arange(2000) * 101)
    assert ds.ids[1] == "chrS:101-202"
    # accessibility is informative: higher on average for positives
    assert ds.a[y == 1].mean() > ds.a[y == 0].mean() + 0.1


def _has_ap1_core(X: np.ndarray) -> np.ndarray:
    """(N,) bool: TGA[CG]TCA anywhere (the core is its own reverse complement, so one strand suffices)."""
    seqs = decode(X)
    return np.array([re.search("TGA[CG]TCA", s) is not None for s in seqs])


def test_synthetic_motif_is_learnable_but_not_trivial(synthetic_dataset):
    site = _has_ap1_core(synthetic_dataset.X)
    y = synthetic_dataset.y
    pos_rate, neg_rate = site[y == 1].mean(), site[y == 0].mean()
    # most positives carry a perfect core; some do not (weak sites, label noise, PFM draws off the consensus) ...
    assert 0.55 < pos_rate < 0.90
    # ... and a few negatives do (chance sites and one-mismatch decoys whose mismatch is outside the core)
    assert 0.0 < neg_rate < 0.10


def test_synth_rejects_impossible_arguments(tmp_path):
    with pytest.raises(DataError, match=r"positive_rate must be in \(0, 1\), got 1.5"):
        synth(tmp_path / "x", n=100, positive_rate=1.5)
    with pytest.raises(DataError, match=r"n=10 with positive_rate=0.01 gives 0 positives"):
        synth(tmp_path / "x", n=10, positive_rate=0.01)
    with pytest.raises(DataError, match=r"length must be >= 11 \(the JUND motif\), got 8"):
        synth(tmp_path / "x", n=100, length=8)
    assert not (tmp_path / "x").exists()


def test_write_shards_multi_shard_round_trip(tmp_path, synthetic_dataset):
    out = write_shards(synthetic_dataset, tmp_path / "multi", shard_size=700)
    names = sorted(p.name for p in out.iterdir())
    assert [n for n in names if n.endswith("-X.joblib")] == ["shard-0-X.joblib", "shard-1-X.joblib", "shard-2-X.joblib"]
    assert joblib.load(out / "shard-2-y.joblib").shape == (600, 1)  # DeepChem's (N, n_tasks)
    with gzip.open(out / "metadata.csv.gzip", "rt") as f:
        assert f.readline().strip() == "ids,X,y,w"
    _assert_same(synthetic_dataset, load(out))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dirs left behind


def test_write_shards_replaces_a_shard_dir_but_refuses_anything_else(tmp_path, synthetic_dataset):
    small = synthetic_dataset.subset(np.r_[0:50, 1990:2000])
    target = tmp_path / "d"
    write_shards(synthetic_dataset, target)
    write_shards(small, target)  # replacing a shard directory is fine
    assert len(load(target)) == 60
    other = tmp_path / "notes"
    other.mkdir()
    (other / "thesis.tex").write_text("precious")
    with pytest.raises(DataError, match=r"notes: exists and holds 'thesis.tex', not only shard files"):
        write_shards(small, other)
    assert (other / "thesis.tex").read_text() == "precious"


def test_write_shards_validates_first(tmp_path, synthetic_dataset):
    bad = synthetic_dataset.subset(np.arange(10)).replace(y=np.zeros(10, dtype=np.uint8), source="mem")
    with pytest.raises(DataError, match="only label 0 present"):
        write_shards(bad, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_shard_dir_problems(tmp_path, synthetic_dataset):
    d = write_shards(synthetic_dataset, tmp_path / "d", shard_size=1000)
    (d / "shard-1-y.joblib").unlink()
    with pytest.raises(DataError, match=r"d: shard-1-y.joblib is missing"):
        load(d)
    joblib.dump(np.zeros(3), d / "shard-1-y.joblib")
    with pytest.raises(DataError, match=r"d: shard 1: y has 3 rows but X has 1000"):
        load(d)
    (d / "shard-0-X.joblib").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match=r"shard-0-X.joblib: cannot read joblib file"):
        load(d)


def test_shards_without_weights_get_class_balancing_weights(tmp_path, caplog):
    d = tmp_path / "nw"
    d.mkdir()
    joblib.dump(encode(["ACGT", "AAAA", "CCCC", "GGGG"]).astype(np.int8), d / "shard-0-X.joblib")
    joblib.dump(np.array([[1], [0], [0], [0]], dtype=np.int64), d / "shard-0-y.joblib")
    with caplog.at_level(logging.INFO, logger="seqsweep.data"):
        ds = load(d)
    np.testing.assert_allclose(ds.w, [2.0, 2 / 3, 2 / 3, 2 / 3], rtol=1e-6)
    assert list(ds.ids) == ["row0", "row1", "row2", "row3"]
    assert ds.X.dtype == np.uint8 and ds.a is None
    assert f"{d}: no weights, using class-balancing weights" in caplog.text


# ---------------------------------------------------------------------------------------------------------
# FASTA, CSV, TSV


FASTA = """>s1 label=1 weight=0.5 accessibility=0.9 some description
ACGT
NA
>s2 label=0 weight=2 accessibility=0.1
acgtac
; a comment line
>s3 label=0 weight=1.5 accessibility=0.2
TTTTTT
"""
EXPECTED_X = encode(["ACGTNA", "ACGTAC", "TTTTTT"])


def _check_small(ds: Dataset, *, weights=(0.5, 2.0, 1.5), a=(0.9, 0.1, 0.2), ids=("s1", "s2", "s3")) -> None:
    np.testing.assert_array_equal(ds.X, EXPECTED_X)
    np.testing.assert_array_equal(ds.y, np.array([1, 0, 0], dtype=np.uint8))
    np.testing.assert_allclose(ds.w, weights, rtol=1e-6)
    assert list(ds.ids) == list(ids)
    if a is None:
        assert ds.a is None
    else:
        np.testing.assert_allclose(ds.a, a, rtol=1e-6)


@pytest.mark.parametrize("name", ["x.fa", "x.fasta", "x.fna", "x.fa.gz"])
def test_fasta_with_header_labels(tmp_path, name):
    p = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(p, "wt") as f:
            f.write(FASTA)
    else:
        p.write_text(FASTA)
    ds = load(p)
    _check_small(ds)
    assert ds.source == str(p)


def test_fasta_with_labels_csv(tmp_path, caplog):
    fa = tmp_path / "x.fa"
    fa.write_text(">s1 whatever\nACGTNA\n>s2\nACGTAC\n>s3\nTTTTTT\n")
    labels = tmp_path / "labels.csv"
    labels.write_text("id,label\ns3,0\ns1,1\ns2,0\nunused,1\n")
    with caplog.at_level(logging.INFO, logger="seqsweep.data"):
        ds = load(fa, labels=labels)
    _check_small(ds, weights=(1.5, 0.75, 0.75), a=None)  # class-balancing: 3/(2*1), 3/(2*2)
    assert "no weights, using class-balancing weights" in caplog.text


def test_fasta_labels_csv_with_weights_and_accessibility(tmp_path):
    fa = tmp_path / "x.fa"
    fa.write_text(">s1\nACGTNA\n>s2\nACGTAC\n>s3\nTTTTTT\n")
    labels = tmp_path / "labels.csv"
    labels.write_text("id,label,weight,accessibility\ns1,1,0.5,0.9\ns2,0,2,0.1\ns3,0,1.5,0.2\n")
    _check_small(load(fa, labels=labels))


def test_fasta_errors(tmp_path):
    fa = tmp_path / "x.fa"
    fa.write_text(">s1 label=1\nACGT\n>s2\nACGT\n")
    with pytest.raises(DataError, match=r"x.fa: row 1 \('s2'\): no label= in the header while other records have one"):
        load(fa)
    fa.write_text(">s1\nACGT\n>s2\nACGT\n")
    with pytest.raises(DataError, match=r"x.fa: no labels: training data needs a label= header token or labels="):
        load(fa)
    labels = tmp_path / "l.csv"
    labels.write_text("id,label\ns1,1\n")
    with pytest.raises(DataError, match=r"l.csv: no label for FASTA record 's2' \(row 1 of .*x.fa\)"):
        load(fa, labels=labels)
    labels.write_text("id,label\ns1,1\ns2,0\ns1,0\n")
    with pytest.raises(DataError, match=r"l.csv: row 2: id 's1' appears twice"):
        load(fa, labels=labels)
    fa.write_text("ACGT\n>s1 label=1\nACGT\n")
    with pytest.raises(DataError, match=r"x.fa: line 1: FASTA must start with a '>' header, got 'ACGT'"):
        load(fa)
    fa.write_text(">s1 label=yes\nACGT\n")
    with pytest.raises(DataError, match=r"x.fa: row 0: label must be 0 or 1, got 'yes'"):
        load(fa)


@pytest.mark.parametrize("name, sep", [("x.csv", ","), ("x.tsv", "\t"), ("x.csv.gz", ","), ("x.tsv.gz", "\t")])
def test_csv_and_tsv(tmp_path, name, sep):
    text = sep.join(["sequence", "label", "weight", "accessibility", "id"]) + "\n"
    for row in [("ACGTNA", 1, 0.5, 0.9, "s1"), ("acgtac", 0, 2, 0.1, "s2"), ("TTTTTT", 0, 1.5, 0.2, "s3")]:
        text += sep.join(map(str, row)) + "\n"
    p = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(p, "wt") as f:
            f.write(text)
    else:
        p.write_text(text)
    _check_small(load(p))


def test_csv_without_weights_or_ids(tmp_path, caplog):
    p = tmp_path / "x.csv"
    p.write_text("sequence,label\nACGTNA,1\nACGTAC,0\nTTTTTT,0\n")
    with caplog.at_level(logging.INFO, logger="seqsweep.data"):
        ds = load(p)
    _check_small(ds, weights=(1.5, 0.75, 0.75), a=None, ids=("row0", "row1", "row2"))
    assert f"{p}: no weights, using class-balancing weights" in caplog.text


def test_csv_sequence_na_is_a_sequence_not_missing(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("sequence,label\nNA,1\nAC,0\n")
    np.testing.assert_array_equal(load(p).X, encode(["NA", "AC"]))


@pytest.mark.parametrize(
    "text, message",
    [
        ("sequence,label\nACGT,1\nACGT,3\n", r"x.csv: row 1: label must be 0 or 1, got 3 \(the labels hold 2 values: 1, 3; set task.type: multiclass\)$"),
        ("sequence,label\nACGT,1\nACGT,one\n", r"x.csv: row 1: label must be 0 or 1, got 'one' \(the labels are class names: 1, one; set task.type: multiclass\)$"),
        ("sequence,label,weight\nACGT,1,1\nACGT,0,\n", r"x.csv: row 1: weight must be a number, got ''$"),
        ("sequence,label\nACGT,1\nACXT,0\n", r"x.csv: row 1: letter 'X' is not a nucleotide"),
        ("sequence,label\nACGT,1\nACG,0\n", r"x.csv: row 1: sequence has length 3 but row 0 has length 4"),
        ("seq,label\nACGT,1\n", r"x.csv: no 'sequence' column; expected columns sequence,label"),
        ("sequence\nACGT\nAAAA\n", r"x.csv: no labels: training data needs a 'label' column"),
        ("", r"x.csv: the file is empty"),
        ("sequence,label\n", r"x.csv: the dataset is empty \(0 rows\)"),
    ],
)
def test_csv_errors(tmp_path, text, message):
    p = tmp_path / "x.csv"
    p.write_text(text)
    with pytest.raises(DataError, match=message):
        load(p)


def test_unknown_columns_are_warned_about(tmp_path, caplog):
    p = tmp_path / "x.csv"
    p.write_text("sequence,label,weigth\nACGT,1,2\nAAAA,0,1\n")
    with caplog.at_level(logging.WARNING, logger="seqsweep.data"):
        ds = load(p)
    assert "ignoring unknown columns ['weigth']" in caplog.text
    np.testing.assert_allclose(ds.w, [1.0, 1.0])  # class-balancing, not the misspelt column


def test_missing_path_and_unknown_format(tmp_path):
    with pytest.raises(DataError, match=r"nope.csv: no such file or directory$"):
        load(tmp_path / "nope.csv")
    p = tmp_path / "x.parquet"
    p.write_text("")
    with pytest.raises(DataError, match=r"x.parquet: unknown data format '.parquet'; accepted: a DeepChem shard "
                                         r"directory .*FASTA \(.fa, .fasta, .fna\), CSV \(.csv\), TSV \(.tsv\)"):
        load(p)
    with pytest.raises(DataError, match=r"directory holds no shard-K-X.joblib files; accepted"):
        load(tmp_path)


def test_labels_argument_only_for_fasta(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("sequence,label\nACGT,1\nAAAA,0\n")
    with pytest.raises(DataError, match=r"l.csv: a labels file goes with FASTA input only"):
        load(p, labels=tmp_path / "l.csv")


# ---------------------------------------------------------------------------------------------------------
# read_sequences (prediction inputs)


def test_read_sequences_each_format(tmp_path, synthetic_dataset):
    fa = tmp_path / "x.fa"
    fa.write_text(">a\nACGTN\n>b\nTTTTT\n")
    df = read_sequences(fa)
    assert list(df.columns) == ["id", "sequence"]
    assert df.to_dict("list") == {"id": ["a", "b"], "sequence": ["ACGTN", "TTTTT"]}

    fa.write_text(FASTA)
    df = read_sequences(fa)
    assert list(df.columns) == ["id", "sequence", "label", "weight", "accessibility"]
    assert df["sequence"].tolist() == ["ACGTNA", "acgtac", "TTTTTT"]
    assert df["label"].tolist() == ["1", "0", "0"]  # as written: the model's task reads them

    for name, sep in (("x.csv", ","), ("x.tsv", "\t")):
        p = tmp_path / name
        p.write_text(f"sequence{sep}accessibility\nACGT{sep}0.5\nNNNN{sep}0.25\n")
        df = read_sequences(p)
        assert df["id"].tolist() == ["row0", "row1"]
        assert df["sequence"].tolist() == ["ACGT", "NNNN"]
        assert df["accessibility"].tolist() == [0.5, 0.25]
        assert "label" not in df.columns

    shards = write_shards(synthetic_dataset.subset(np.arange(20)), tmp_path / "s")
    df = read_sequences(shards)
    assert list(df.columns) == ["id", "sequence", "label", "weight", "accessibility"]
    assert df["sequence"].tolist() == decode(synthetic_dataset.X[:20])
    assert df["id"].tolist() == list(synthetic_dataset.ids[:20])
    np.testing.assert_array_equal(encode(df["sequence"]), synthetic_dataset.X[:20])


# ---------------------------------------------------------------------------------------------------------
# validation: one test per rule


def _good(**changes) -> Dataset:
    X = encode(["ACGT", "AAAA", "CCCC", "GGGG"])
    base = Dataset(
        X=X,
        y=np.array([1, 0, 0, 0], dtype=np.uint8),
        w=np.ones(4, dtype=np.float32),
        ids=np.array(["a", "b", "c", "d"]),
        a=np.array([0.1, 0.2, 0.3, 0.4], dtype=np.float32),
        source="data.csv",
    )
    return base.replace(**changes)


def _two_letters() -> np.ndarray:
    X = encode(["ACGT", "AAAA", "CCCC", "GGGG"])
    X[2, 3, 0] = 1  # row 2, position 3: C and A both set
    return X


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(X=_two_letters()),
         r"^data.csv: row 2: position 3: one-hot row sums to 2: at most one letter per position$"),
        (dict(X=encode(["ACGT"] * 4).astype(np.int8) * 2),
         r"^data.csv: row 0: position 0: one-hot values must be 0 or 1, got 2$"),
        (dict(y=np.array([1, 0, 2, 0])), r"^data.csv: row 2: label must be 0 or 1, got 2$"),
        (dict(y=np.array([1.0, np.nan, 0.0, 0.0])), r"^data.csv: row 1: label must be 0 or 1, got nan$"),
        (dict(y=np.zeros(4, dtype=np.uint8)), r"^data.csv: only label 0 present: need both classes$"),
        (dict(y=np.ones(4, dtype=np.uint8)), r"^data.csv: only label 1 present: need both classes$"),
        (dict(w=np.array([1, np.nan, 1, 1], dtype=np.float32)), r"^data.csv: row 1: weight must be finite, got nan$"),
        (dict(w=np.array([1, 1, np.inf, 1])), r"^data.csv: row 2: weight must be finite, got inf$"),
        (dict(w=np.array([1, 1, 1, -0.5])), r"^data.csv: row 3: weight must be >= 0, got -0.5$"),
        (dict(w=np.zeros(4)), r"^data.csv: weights sum to 0: need a positive total weight$"),
        (dict(w=np.ones(3)), r"^data.csv: w has 3 rows but X has 4: they must match$"),
        (dict(y=np.array([1, 0, 0])), r"^data.csv: y has 3 rows but X has 4: they must match$"),
        (dict(ids=np.array(["a"])), r"^data.csv: ids has 1 rows but X has 4: they must match$"),
        (dict(a=np.ones(5)), r"^data.csv: a has 5 rows but X has 4: they must match$"),
        (dict(a=np.array([0.1, 0.2, np.nan, 0.4])), r"^data.csv: row 2: accessibility must be finite, got nan$"),
        (dict(X=np.zeros((4, 10))), r"^data.csv: X must have shape \(N, L, 4\) \(one-hot A,C,G,T\), got \(4, 10\)$"),
        (dict(X=np.zeros((4, 10, 5), dtype=np.uint8)), r"^data.csv: X must have shape \(N, L, 4\).*got \(4, 10, 5\)$"),
        (dict(X=np.zeros((0, 10, 4), dtype=np.uint8), y=np.zeros(0), w=np.zeros(0), ids=np.array([]), a=None),
         r"^data.csv: the dataset is empty \(0 rows\)$"),
    ],
    ids=[
        "two-letters", "not-0-1", "label-2", "label-nan", "only-0", "only-1", "weight-nan", "weight-inf",
        "weight-negative", "weight-zero-total", "len-w", "len-y", "len-ids", "len-a", "accessibility-nan", "X-2d",
        "X-last-dim",
        "empty",
    ],
)
def test_validate_rule(changes, message):
    with pytest.raises(DataError, match=message):
        validate(_good(**changes))


def test_validate_returns_canonical_dtypes():
    ds = validate(_good(
        X=encode(["ACGT", "AAAA", "CCCC", "GGGG"]).astype(np.int8),  # DeepChem stores int8
        y=np.array([[1], [0], [0], [0]], dtype=np.int64),  # and (N, 1) labels
        w=np.array([[1.5], [0.5], [0.5], [0.5]], dtype=np.float64),
        ids=np.array([b"a", b"b", b"c", b"d"]),
        a=np.array([0, 1, 0, 1]),
    ))
    assert (ds.X.dtype, ds.y.dtype, ds.w.dtype, ds.a.dtype) == (np.uint8, np.uint8, np.float32, np.float32)
    assert ds.y.shape == (4,) and ds.w.shape == (4,) and ds.ids.dtype.kind == "U"
    assert list(ds.ids) == ["a", "b", "c", "d"]
    assert isinstance(ds, Dataset) and ds.source == "data.csv"


def test_data_error_is_a_seqsweep_error():
    with pytest.raises(SeqsweepError):
        validate(_good(y=np.zeros(4)))


# ---------------------------------------------------------------------------------------------------------
# summary, fingerprint, coordinates


def test_summary_golden():
    X = encode(["ACGN", "NNNN", "CCCC", "GGGG"])
    d = summary(_good(X=X, w=np.array([2, 1, 1, 1], dtype=np.float32)))
    assert d == {
        "source": "data.csv",
        "task": "binary",
        "rows": 4,
        "length": 4,
        "positives": 1,
        "negatives": 3,
        "weight_positive": 2.0,
        "weight_negative": 3.0,
        "n_fraction": 5 / 16,
        "accessibility": True,
    }
    text = format_summary(d)
    assert text.splitlines()[0] == "source         data.csv"
    assert "positives      1 (25.00%), weight 2.0" in text
    assert "N positions    31.2500%" in text
    assert "accessibility  yes" in text


def test_fingerprint_tracks_data_not_names():
    ds = _good()
    assert fingerprint(ds) == fingerprint(_good(ids=np.array(["w", "x", "y", "z"]), source="elsewhere.csv"))
    assert len(fingerprint(ds)) == 16 and re.fullmatch("[0-9a-f]{16}", fingerprint(ds))
    assert fingerprint(ds) != fingerprint(_good(w=np.array([1, 1, 1, 1.5], dtype=np.float32)))
    assert fingerprint(ds) != fingerprint(_good(a=None))
    assert fingerprint(ds) != fingerprint(_good(y=np.array([0, 1, 0, 0], dtype=np.uint8)))


def test_genomic_coordinates():
    chrom, start = genomic_coordinates(np.array(["chr22:27247552-27247653", "chrX:5-106"]))
    assert chrom.tolist() == ["chr22", "chrX"] and start.tolist() == [27247552, 5]
    assert start.dtype == np.int64
    assert genomic_coordinates(["chr22:1-102", "row1"]) is None
    assert genomic_coordinates(["chr22:1-102", "chr22:5"]) is None


# ---------------------------------------------------------------------------------------------------------
# the real JUND split


def test_real_jund_valid_split(jund_valid):
    ds = load(jund_valid)
    assert len(ds) == 34_527 and ds.seq_len == 101 and ds.n_positive == 146
    w = ds.w.astype(np.float64)
    pos, neg = w[ds.y == 1].sum(), w[ds.y == 0].sum()
    assert pos == pytest.approx(len(ds) / 2, rel=1e-5) and neg == pytest.approx(len(ds) / 2, rel=1e-5)
    assert ds.ids[0] == "chr22:27247552-27247653"
    chrom, start = genomic_coordinates(ds.ids)
    assert set(chrom) == {"chr22"} and start[0] == 27247552
    # the shards' X is int8 on disk; decoding and re-encoding gives the same one-hot
    seqs = read_sequences(jund_valid)["sequence"]
    np.testing.assert_array_equal(encode(seqs[:1000]), ds.X[:1000])
    d = summary(ds)
    assert d["positives"] == 146 and 0 < d["n_fraction"] < 1e-3 and d["accessibility"] is False
