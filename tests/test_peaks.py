"""Peaks on a genome: BED / narrowPeak reading, windows on summits, negatives (GC-matched, outside peaks and
excluded regions), bigWig signal, chromosome hold-out and folds, jitter; each bad input as one line."""

from __future__ import annotations

import numpy as np
import pytest

from seqsweep.config import NegativesSpec, SignalSpec
from seqsweep.data.genome import genome
from seqsweep.data.intervals import gc_and_n, overlaps, flat_intervals, peak_windows, read_bed, sample_negatives
from seqsweep.data.peaks import peak_dataset, window_signal
from seqsweep.errors import ConfigError, DataError

NARROWPEAK = (
    "track type=narrowPeak name=\"JUND\" description=\"MACS2 peaks\"\n"
    "browser position chr1:1-1000\n"
    "# a comment\n"
    "chr1\t1000\t1400\tpeak_1\t500\t.\t12.5\t6.1\t4.2\t180\n"
    "chr1\t5000\t5300\tpeak_2\t300\t.\t8.1\t4.0\t2.9\t-1\n"
    "chr2\t2000\t2500\tpeak_3\t900\t+\t20.0\t9.1\t7.7\t250\n"
)


def _genome(tmp_path, lengths=(20_000, 12_000, 8_000), seed=0, gc=None):
    rng = np.random.default_rng(seed)
    fa = tmp_path / "ref.fa"
    with open(fa, "w") as f:
        for i, n in enumerate(lengths):
            p = None if gc is None else [(1 - gc[i]) / 2, gc[i] / 2, gc[i] / 2, (1 - gc[i]) / 2]
            seq = "".join(rng.choice(list("ACGT"), n, p=p))
            f.write(f">chr{i + 1}\n" + "\n".join(seq[a : a + 60] for a in range(0, n, 60)) + "\n")
    return genome(fa, cache_dir=tmp_path / "cache")


def test_narrowpeak_with_track_browser_and_comment_lines(tmp_path):
    p = tmp_path / "JUND.narrowPeak"
    p.write_text(NARROWPEAK)
    iv = read_bed(p)
    assert iv.chrom.tolist() == ["chr1", "chr1", "chr2"]
    assert iv.start.tolist() == [1000, 5000, 2000] and iv.end.tolist() == [1400, 5300, 2500]
    assert iv.summit.tolist() == [180, -1, 250] and iv.line.tolist() == [4, 5, 6]
    assert iv.strand.tolist() == [".", ".", "+"]


def test_windows_sit_on_the_summit_or_the_centre_and_inside_the_contig(tmp_path):
    store = _genome(tmp_path)
    p = tmp_path / "p.bed"
    p.write_text(NARROWPEAK + "chr3\t0\t50\tedge\n")  # a peak at the very start of a contig (BED3+ line)
    starts = peak_windows(read_bed(p), store, 200)
    contig, pos = store.locate(starts)
    assert pos.tolist() == [1180 - 100, 5150 - 100, 2250 - 100, 0]  # summit, centre, summit, shifted inside
    assert [store.names[c] for c in contig] == ["chr1", "chr1", "chr2", "chr3"]


def test_contig_names_without_chr_match_the_genome(tmp_path, caplog):
    store = _genome(tmp_path)
    p = tmp_path / "ensembl.bed"
    p.write_text("1\t100\t300\n2\t400\t600\n")
    with caplog.at_level("INFO", logger="seqsweep.data.intervals"):
        starts = peak_windows(read_bed(p), store, 100)
    assert "1->chr1" in caplog.text
    assert [store.names[c] for c in store.locate(starts)[0]] == ["chr1", "chr2"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("chr1\t10\tabc\n", r"p.bed: line 1: end must be an integer, got 'abc'"),
        ("chr1\t100\t50\n", r"p.bed: line 1: start 100 > end 50"),
        ("chr1\t-5\t50\n", r"p.bed: line 1: start must be >= 0, got -5"),
        ("chr1\t100\n", r"p.bed: line 1: a BED line needs chrom, start, end"),
        ("track name=x\n# nothing\n", r"p.bed: holds no interval"),
        ("chr1\t100\t200\nchrUn_x\t10\t20\n", r"p.bed: line 2: contig 'chrUn_x' is not in the genome .*ref.fa \(it has chr1, chr2, chr3\)"),
        ("chr2\t11900\t12100\n", r"p.bed: line 1: interval chr2:11900-12100 ends past the end of chr2 \(12,000 bp"),
        ("chr1\t100\t200\tp\t0\t.\t1\t1\t1\t500\n", r"p.bed: line 1: summit offset 500 lies outside the peak \(100 bp\)"),
    ],
    ids=["non-integer", "start>end", "negative", "two-columns", "empty", "missing-contig", "past-end", "summit-outside"],
)
def test_bad_peak_files_are_one_line_naming_file_and_line(tmp_path, text, message):
    store = _genome(tmp_path)
    p = tmp_path / "p.bed"
    p.write_text(text)
    with pytest.raises(DataError, match=message) as e:
        peak_windows(read_bed(p), store, 100)
    assert "\n" not in str(e.value)


def test_a_window_larger_than_its_contig_is_refused(tmp_path):
    store = _genome(tmp_path)
    p = tmp_path / "p.bed"
    p.write_text("chr3\t100\t200\n")
    with pytest.raises(DataError, match=r"line 1: data.window 9000 is larger than contig chr3 \(8,000 bp\)"):
        peak_windows(read_bed(p), store, 9000)


def test_negatives_avoid_peaks_and_exclusions_and_match_the_positives_gc(tmp_path):
    # three contigs of GC 0.35, 0.5, 0.65; the peaks all on the GC-rich one
    store = _genome(tmp_path, lengths=(60_000, 60_000, 60_000), gc=(0.35, 0.5, 0.65))
    rng = np.random.default_rng(1)
    centres = np.sort(rng.choice(np.arange(1000, 59_000, 500), 40, replace=False))
    peaks = tmp_path / "p.bed"
    peaks.write_text("".join(f"chr3\t{c - 100}\t{c + 100}\n" for c in centres))
    exclude = tmp_path / "blacklist.bed"
    exclude.write_text("chr2\t0\t30000\n")
    iv, ex = read_bed(peaks), read_bed(exclude)
    pos = peak_windows(iv, store, 200)
    avoid = [flat_intervals(iv, store), flat_intervals(ex, store)]
    neg = sample_negatives(store, pos, 200, ratio=3, match="gc", avoid=avoid, seed=0)
    assert len(neg) == 120 and len(np.unique(neg)) == 120
    for lo, hi in avoid:
        assert not overlaps(neg, 200, lo, hi).any()
    gc_pos, _ = gc_and_n(store, pos, 200)
    gc_neg, _ = gc_and_n(store, neg, 200)
    assert abs(gc_pos.mean() - gc_neg.mean()) < 0.01
    again = sample_negatives(store, pos, 200, ratio=3, match="gc", avoid=avoid, seed=0)
    np.testing.assert_array_equal(neg, again)  # seeded
    plain = sample_negatives(store, pos, 200, ratio=3, match=None, avoid=avoid, seed=0)
    gc_plain, _ = gc_and_n(store, plain, 200)
    assert gc_pos.mean() - gc_plain.mean() > 0.05  # unmatched negatives come from the whole genome


def test_negatives_impossible_to_draw_say_how_many_were_found(tmp_path):
    store = _genome(tmp_path, lengths=(3_000,))
    peaks = tmp_path / "p.bed"
    peaks.write_text("chr1\t1000\t2000\n")
    iv = read_bed(peaks)
    # 1,002 windows of 500 bp fit outside the peak: 5,000 cannot be drawn
    with pytest.raises(DataError, match=r"found 1,002 of the 5,000 negative windows asked for \(ratio 5000\.0\)"):
        sample_negatives(store, peak_windows(iv, store, 500), 500, ratio=5000.0, match=None,
                         avoid=[flat_intervals(iv, store)], seed=0, rounds=3)


def test_a_bigwig_gives_each_window_its_mean_signal(tmp_path):
    pyBigWig = pytest.importorskip("pyBigWig")
    store = _genome(tmp_path)
    bw_path = tmp_path / "s.bw"
    bw = pyBigWig.open(str(bw_path), "w")
    bw.addHeader([("chr1", 20_000), ("chr2", 12_000)])
    bw.addEntries("chr1", 0, values=[1.0] * 100 + [5.0] * 100, span=100, step=100)
    bw.close()
    starts = store.offsets_of(["chr1", "chr1", "chr1"], [0, 9_950, 15_000], [100, 10_050, 15_100])
    np.testing.assert_allclose(window_signal(bw_path, store, starts, 100), [1.0, 3.0, 5.0])
    on_chr3 = store.offsets_of(["chr3"], [0], [100])
    with pytest.raises(DataError, match=r"s.bw: has no contig 'chr3'"):
        window_signal(bw_path, store, on_chr3, 100)


def test_peak_dataset_and_its_chromosome_holdout_and_folds(tmp_path, monkeypatch):
    from seqsweep import cv
    from seqsweep.config import load_job
    from seqsweep.prepare import prepare_data

    from seqsweep.data.synth_genome import synth_genome

    monkeypatch.setenv("SEQSWEEP_HOME", str(tmp_path))
    files = synth_genome(tmp_path / "data" / "g", contigs=6, contig_bp=400_000, sites=240)
    (tmp_path / "space.yaml").write_text("architecture: [cnn]\ncnn.filters: [4]\ncnn.kernel_size: [5]\n")
    (tmp_path / "job.yaml").write_text(
        "name: pk\n"
        f"data: {{genome: {files['genome']}, peaks: {files['peaks']}, window: 200, negatives: {{ratio: 2}},\n"
        f"       signal: {{accessibility: {files['signal']}}}, holdout: {{chromosomes: [chr6]}}}}\n"
        "search_space: space.yaml\ncv: {folds: 3, group_by: chromosome}\ntrain: {jitter: 10}\n")
    job = load_job(tmp_path / "job.yaml")
    prep = prepare_data(job)
    train_chroms = cv.dataset_chromosomes(prep.train)
    assert set(cv.dataset_chromosomes(prep.test)) == {"chr6"} and "chr6" not in set(train_chroms)
    for tr, va in prep.folds:
        assert not set(train_chroms[tr]) & set(train_chroms[va])  # whole chromosomes per fold
    assert prep.info["test_chromosomes"] == "chr6" and prep.info["train_chromosomes"] == "chr1,chr2,chr3,chr4,chr5"
    assert {prep.info[f"fold{k}_validation_chromosomes"] for k in range(3)} and prep.train.a is not None
    assert prep.train.a[prep.train.y == 1].mean() > 2 * prep.train.a[prep.train.y == 0].mean()
    assert prep.train.n_positive + prep.test.n_positive == len(files["peaks"].read_text().splitlines()) > 200

    from seqsweep.train import CVTrainer, TrainConfig

    t = CVTrainer(prep.train, prep.folds, TrainConfig("cnn", {"filters": 4, "kernel_size": 5}, epochs=1, jitter=10))
    lo, hi = t._shift_bounds
    rows = t.train_idx[0][:500]
    shift = t._shifts(rows, np.random.default_rng(0))
    r = rows.numpy()
    assert (np.abs(shift) <= 10).all() and (shift >= lo[r]).all() and (shift <= hi[r]).all() and shift.any()
    assert t.step_epoch()["epoch"] == 1


def test_jitter_on_pre_cut_rows_is_refused():
    from seqsweep.data import Dataset
    from seqsweep.data.encoding import class_balancing_weights
    from seqsweep.train import CVTrainer, TrainConfig

    y = np.array([0, 1] * 10, dtype=np.uint8)
    ds = Dataset(tokens=np.zeros((20, 12), np.uint8), y=y, w=class_balancing_weights(y), source="rows.csv")
    with pytest.raises(ConfigError, match=r"train.jitter: shifts windows along a genome; rows.csv holds pre-cut"):
        CVTrainer(ds, [(np.arange(10), np.arange(10, 20))], TrainConfig("mlp", {}, epochs=1, jitter=5))


def test_peak_dataset_with_negatives_of_ones_own(tmp_path):
    store = _genome(tmp_path)
    peaks, negs = tmp_path / "p.bed", tmp_path / "n.bed"
    peaks.write_text("chr1\t1000\t1200\nchr2\t3000\t3200\n")
    negs.write_text("chr1\t8000\t8200\nchr3\t100\t300\nchr3\t4000\t4200\n")
    ds = peak_dataset(tmp_path / "ref.fa", peaks, 100, negatives=NegativesSpec(bed=negs), store=store)
    assert ds.y.tolist() == [1, 0, 1, 0, 0] and ds.ids.tolist()[0] == "chr1:1050-1150"
    with pytest.raises(DataError, match="no such bigWig"):
        peak_dataset(tmp_path / "ref.fa", peaks, 100, negatives=NegativesSpec(bed=negs), store=store,
                     signal=SignalSpec(accessibility=tmp_path / "none.bw"))


def test_a_bed_of_classes_makes_multiclass_windows_with_an_optional_background(tmp_path):
    from seqsweep.data.peaks import class_dataset

    store = _genome(tmp_path)
    bed = tmp_path / "regions.bed"
    bed.write_text("chr1\t1000\t1300\tpromoter\nchr1\t5000\t5300\tenhancer\nchr2\t2000\t2300\tpromoter\n"
                   "chr2\t6000\t6300\tenhancer\nchr3\t1000\t1300\tenhancer\n")
    ds = class_dataset(tmp_path / "ref.fa", bed, 200, store=store)
    assert ds.task.names == ("enhancer", "promoter") and ds.y.tolist() == [1, 0, 1, 0, 0]
    ordered = class_dataset(tmp_path / "ref.fa", bed, 200, classes=["promoter", "enhancer"], store=store,
                            negatives=NegativesSpec(ratio=1, match="none"))
    assert ordered.task.names == ("promoter", "enhancer", "background") and (ordered.y == 2).sum() == 5
    bad = tmp_path / "bad.bed"
    bad.write_text("chr1\t1000\t1300\tpromoter\nchr1\t5000\t5300\tsilencer\n")
    with pytest.raises(DataError, match=r"bad.bed: line 2: class 'silencer' is not one of task.classes \(promoter, enhancer\)"):
        class_dataset(tmp_path / "ref.fa", bad, 200, classes=["promoter", "enhancer"], store=store)
    nameless = tmp_path / "nameless.bed"
    nameless.write_text("chr1\t1000\t1300\n")
    with pytest.raises(DataError, match=r"nameless.bed: line 1: a multiclass BED needs the class in its name column"):
        class_dataset(tmp_path / "ref.fa", nameless, 200, store=store)


def test_a_fasta_with_its_samtools_index_is_read_through_it(tmp_path):
    import pyfaidx

    rng = np.random.default_rng(5)
    fa = tmp_path / "indexed.fa"
    fa.write_text(">chrA\n" + "\n".join("".join(rng.choice(list("ACGT"), 50)) for _ in range(40)) + "\n")
    pyfaidx.Faidx(str(fa))  # writes indexed.fa.fai, as `samtools faidx` does
    assert (tmp_path / "indexed.fa.fai").exists()
    store = genome(fa, cache_dir=tmp_path / "cache")
    assert store.names == ("chrA",) and len(store) == 2000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "indexed.fa", "indexed.fa.fai"]


def test_a_bed_with_label_columns_makes_multilabel_windows_with_missing_labels(tmp_path):
    from seqsweep.data.peaks import labelled_dataset

    store = _genome(tmp_path)
    bed = tmp_path / "targets.bed"
    bed.write_text("#chrom\tstart\tend\tlabel_JUND\tlabel_CTCF\n"
                   "chr1\t1000\t1300\t1\t0\nchr1\t5000\t5300\t0\t1\nchr2\t2000\t2300\t1\t\nchr3\t1000\t1300\t0\tNA\n")
    ds = labelled_dataset(tmp_path / "ref.fa", bed, 200, store=store)
    assert ds.task.names == ("JUND", "CTCF")
    assert ds.y.tolist() == [[1, 0], [0, 1], [1, 0], [0, 0]]
    assert (ds.w[2:, 1] == 0).all() and (ds.w[:2] > 0).all()  # empty and NA are missing labels: weight 0
    bad = tmp_path / "bad.bed"
    bad.write_text("chrom\tstart\tend\tlabel_JUND\nchr1\t1000\t1300\t2\n")
    with pytest.raises(DataError, match=r"bad.bed: line 2: label_JUND must be 0, 1 or empty \(missing\), got '2'"):
        labelled_dataset(tmp_path / "ref.fa", bad, 200, store=store)
    plain = tmp_path / "plain.bed"
    plain.write_text("chr1\t1000\t1300\n")
    with pytest.raises(DataError, match=r"plain.bed: a multilabel BED needs a header line naming label_<target> columns"):
        labelled_dataset(tmp_path / "ref.fa", plain, 200, store=store)


def test_a_class_column_named_by_the_header_wins_over_the_name_column(tmp_path):
    from seqsweep.data.peaks import class_dataset

    store = _genome(tmp_path)
    bed = tmp_path / "classes.bed"
    bed.write_text("chrom\tstart\tend\tname\tclass\nchr1\t1000\t1300\tr1\tpromoter\nchr2\t2000\t2300\tr2\tenhancer\n")
    ds = class_dataset(tmp_path / "ref.fa", bed, 200, store=store)
    assert ds.task.names == ("enhancer", "promoter") and ds.y.tolist() == [1, 0]
    ragged = tmp_path / "ragged.bed"
    ragged.write_text("chrom\tstart\tend\tclass\nchr1\t1000\t1300\n")
    with pytest.raises(DataError, match=r"ragged.bed: line 2: has 3 columns, the header names 4"):
        class_dataset(tmp_path / "ref.fa", ragged, 200, store=store)
