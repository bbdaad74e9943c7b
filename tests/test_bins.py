"""DeepSEA-style binned targets: windows every stride, each target labelling a window by its peaks' cover of the
central bin; labels held sparsely; the folder / mapping forms; the job-level rules."""

from __future__ import annotations

import numpy as np
import pytest

from seqsweep.config import BinsSpec
from seqsweep.data.bins import bin_labels, bin_starts, binned_dataset, target_files
from seqsweep.data.genome import genome
from seqsweep.errors import ConfigError, DataError


def _store(tmp_path, lengths=(5_000, 3_000)):
    rng = np.random.default_rng(0)
    fa = tmp_path / "ref.fa"
    fa.write_text("".join(f">chr{i + 1}\n" + "".join(rng.choice(list("ACGT"), n)) + "\n" for i, n in enumerate(lengths)))
    return genome(fa, cache_dir=tmp_path / "cache")


def test_labels_follow_the_central_bin_overlap_rule(tmp_path):
    store = _store(tmp_path)
    starts = bin_starts(store, 400, 100)
    rng = np.random.default_rng(1)
    targets, brute = [], []
    for _ in range(4):
        lo = np.sort(rng.integers(0, len(store) - 300, 12))
        hi = lo + rng.integers(20, 300, 12)
        targets.append((lo, hi))
        cover = np.zeros(len(store), dtype=bool)
        for a, b in zip(lo, hi):
            cover[a:b] = True
        centre = starts + 100  # central 200 bp of a 400-bp window
        brute.append(np.array([cover[c : c + 200].sum() >= 100 for c in centre]))
    y = bin_labels(starts, 400, 200, 0.5, targets)
    np.testing.assert_array_equal(y.dense(), np.stack(brute, 1).astype(np.uint8))
    # windows never cross contigs: chr1's last start leaves room for a whole window
    assert ((starts + 400 <= 5_000) | (starts >= 5_000)).all()


def test_a_folder_of_peak_files_becomes_named_sparse_targets(tmp_path):
    store = _store(tmp_path)
    folder = tmp_path / "peaks"
    folder.mkdir()
    (folder / "JUND.narrowPeak").write_text("chr1\t1000\t1300\tp\t0\t.\t1\t1\t1\t150\n")
    (folder / "CTCF.bed").write_text("track name=ctcf\nchr2\t500\t800\nchr1\t1100\t1250\n")
    (folder / "notes.txt").write_text("not a target")
    assert list(target_files(folder)) == ["CTCF", "JUND"]
    ds = binned_dataset(tmp_path / "ref.fa", folder, 400, bins=BinsSpec(stride=100), store=store)
    assert ds.task.type == "multilabel" and ds.task.names == ("CTCF", "JUND")
    assert hasattr(ds.y, "indptr")  # sparse
    y = ds.y.dense()
    assert y.sum(0).tolist()[1] >= 1 and (y.sum(1) >= 0).all()
    everywhere = binned_dataset(tmp_path / "ref.fa", {"JUND": folder / "JUND.narrowPeak", "CTCF": folder / "CTCF.bed"},
                                400, bins=BinsSpec(stride=100, over="genome"), store=store)
    assert len(everywhere) == len(bin_starts(store, 400, 100)) > len(ds)
    assert everywhere.task.names == ("JUND", "CTCF")


def test_an_empty_folder_and_a_bin_wider_than_the_window_are_one_line(tmp_path):
    store = _store(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: no BED or narrowPeak files"):
        binned_dataset(tmp_path / "ref.fa", tmp_path / "empty", 400, store=store)
    with pytest.raises(DataError, match=r"data.bins.bin 500 is larger than data.window 400"):
        binned_dataset(tmp_path / "ref.fa", tmp_path / "empty", 400, bins=BinsSpec(bin=500), store=store)


def test_the_job_rules_for_several_targets(tmp_path, monkeypatch):
    from seqsweep.config import load_job
    from seqsweep.prepare import prepare_data

    monkeypatch.setenv("SEQSWEEP_HOME", str(tmp_path))
    _store(tmp_path)
    folder = tmp_path / "peaks"
    folder.mkdir()
    (folder / "A.bed").write_text("chr1\t1000\t1300\nchr2\t100\t400\n")
    (folder / "B.bed").write_text("chr1\t2000\t2300\nchr2\t1000\t1300\n")
    (tmp_path / "s.yaml").write_text("architecture: [cnn]\n")
    base = f"name: b\nsearch_space: s.yaml\ndata: {{genome: ref.fa, peaks: peaks, window: 300, bins: {{stride: 50}}}}\n"
    (tmp_path / "binary.yaml").write_text(base)
    with pytest.raises(ConfigError, match="names several targets .* set task.type: multilabel"):
        prepare_data(load_job(tmp_path / "binary.yaml"))
    (tmp_path / "ml.yaml").write_text(base + "task: {type: multilabel}\ncv: {folds: 2}\n")
    prep = prepare_data(load_job(tmp_path / "ml.yaml"))
    assert prep.train.task.names == ("A", "B") and prep.train.n_positive > 0
