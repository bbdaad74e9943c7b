"""Folds, genomic blocks and the held-out split."""

from pathlib import Path

import numpy as np
import pytest

from seqsweep.cv import genomic_blocks, holdout_split, make_folds
from seqsweep.errors import ConfigError, DataError

JUND_VALID = Path(__file__).resolve().parents[2] / "shared" / "data" / "jund-chr22" / "valid"


def _labels(n: int = 300, n_pos: int = 37, seed: int = 0) -> np.ndarray:
    y = np.zeros(n, dtype=np.uint8)
    y[np.random.default_rng(seed).permutation(n)[:n_pos]] = 1
    return y


def _ids(n: int, step: int = 1000, length: int = 101, chrom: str = "chr22") -> np.ndarray:
    return np.array([f"{chrom}:{i * step}-{i * step + length}" for i in range(n)])


def _assert_partition(folds, n):
    vals = np.concatenate([va for _, va in folds])
    assert np.array_equal(np.sort(vals), np.arange(n))  # every row validated exactly once
    for tr, va in folds:
        assert len(np.intersect1d(tr, va)) == 0
        assert len(tr) + len(va) == n


def test_folds_are_seeded_and_stratified():
    y = _labels()
    folds = make_folds(y, 5, seed=7)
    again = make_folds(y, 5, seed=7)
    other = make_folds(y, 5, seed=8)
    assert len(folds) == 5
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(folds, other))
    _assert_partition(folds, len(y))
    pos = [int(y[va].sum()) for _, va in folds]
    assert max(pos) - min(pos) <= 1 and sum(pos) == 37
    assert all(tr.dtype == np.int64 and np.all(np.diff(tr) > 0) for tr, _ in folds)  # sorted indices


def test_too_many_folds_names_the_key_k_and_positives():
    y = _labels(n_pos=3)
    with pytest.raises(ConfigError, match=r"cv\.folds: .*got k=4 with 3 positives"):
        make_folds(y, 4, seed=0)
    with pytest.raises(ConfigError, match=r"cv\.folds: .*got k=1 "):
        make_folds(y, 1, seed=0)
    # fewer negatives than folds is the same rule
    with pytest.raises(ConfigError, match=r"297 positives and 3 negatives"):
        make_folds(1 - y, 4, seed=0)
    assert len(make_folds(y, 3, seed=0)) == 3  # k == number of positives is allowed


def test_grouped_folds_keep_each_block_on_one_side():
    n = 600
    y = _labels(n, 60, seed=1)
    groups = genomic_blocks(_ids(n, step=1000), 20_000)  # 20 windows per block, 30 blocks
    assert len(np.unique(groups)) == 30
    folds = make_folds(y, 4, seed=0, groups=groups)
    _assert_partition(folds, n)
    for tr, va in folds:
        assert not set(groups[tr]) & set(groups[va])
        assert 0 < y[va].sum() < len(va)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, make_folds(y, 4, seed=0, groups=groups)))


def test_grouped_folds_need_enough_blocks_with_positives():
    y = np.zeros(100, dtype=np.uint8)
    y[[0, 10, 60, 70]] = 1  # positives in two of the blocks of 50 windows
    groups = genomic_blocks(_ids(100, step=1000), 50_000)
    with pytest.raises(ConfigError, match=r"cv\.folds: .*k=3 with 2 such groups"):
        make_folds(y, 3, seed=0, groups=groups)


def test_genomic_blocks_golden():
    ids = ["chr22:27247552-27247653", "chr1:999999-1000100", "chr1:1000000-1000101"]
    assert genomic_blocks(ids, 1_000_000).tolist() == ["chr22:27", "chr1:0", "chr1:1"]
    assert genomic_blocks(ids, 100).tolist() == ["chr22:272475", "chr1:9999", "chr1:10000"]


def test_genomic_blocks_names_the_first_bad_id():
    ids = ["chr1:0-101", "chr1:101-202", "seq_7", "also bad"]
    with pytest.raises(DataError, match=r"row 2: .*got 'seq_7'"):
        genomic_blocks(ids, 1000)
    with pytest.raises(ConfigError, match=r"block_size: .*got 0"):
        genomic_blocks(ids[:2], 0)


def test_holdout_split_keeps_blocks_whole():
    n = 2000
    y = _labels(n, 200, seed=2)
    ids = _ids(n, step=500)  # with 25 kb blocks: 50 windows a block, 40 blocks
    train, test = holdout_split(ids, y, fraction=0.2, block_size=25_000, seed=3)
    blocks = genomic_blocks(ids, 25_000)
    assert not set(blocks[train]) & set(blocks[test])
    assert len(np.intersect1d(train, test)) == 0
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(n))
    # whole 50-row blocks until >= 20% of rows: exactly 8 blocks here
    assert len(test) == 400
    assert y[test].sum() > 0 and y[train].sum() > 0
    again = holdout_split(ids, y, fraction=0.2, block_size=25_000, seed=3)
    other = holdout_split(ids, y, fraction=0.2, block_size=25_000, seed=4)
    assert np.array_equal(test, again[1]) and not np.array_equal(test, other[1])


def test_holdout_split_without_positives_on_one_side_is_a_data_error():
    n = 1000
    y = np.zeros(n, dtype=np.uint8)
    y[:5] = 1  # all positives in the first block
    ids = _ids(n, step=1000)
    with pytest.raises(DataError, match=r"holdout: the (held-out|training) part holds no positives"):
        # one huge block takes everything to one side
        holdout_split(ids, y, fraction=0.2, block_size=10_000_000, seed=0)
    with pytest.raises(ConfigError, match=r"fraction: .*got 1.5"):
        holdout_split(ids, y, fraction=1.5)


@pytest.mark.skipif(not JUND_VALID.exists(), reason=f"real JUND data not found at {JUND_VALID}")
def test_real_jund_blocks_and_holdout():
    from seqsweep.data import load

    ds = load(JUND_VALID)
    blocks = genomic_blocks(ds.ids, 1_000_000)
    assert all(b.startswith("chr22:") for b in np.unique(blocks))
    train, test = holdout_split(ds.ids, ds.y, fraction=0.2, block_size=1_000_000, seed=0)
    assert 0.2 <= len(test) / len(ds) < 0.35
    assert ds.y[test].sum() > 0 and ds.y[train].sum() > 0
    folds = make_folds(ds.y[train], 5, seed=0, groups=blocks[train])
    for tr, va in folds:
        assert not set(blocks[train][tr]) & set(blocks[train][va])
