"""The genome token store: FASTA -> cached tokens, windows as offsets, strands as index arithmetic, pickling
by path, bad input; and datasets and the trainer over it."""

from __future__ import annotations

import gzip
import logging
import pickle

import numpy as np
import pytest

from seqsweep.data import Dataset, encode
from seqsweep.data.encoding import class_balancing_weights, decode_tokens
from seqsweep.data.genome import TOKEN_N, TokenStore, genome
from seqsweep.data.windows import next_base_windows, windows_over
from seqsweep.errors import DataError

RC = str.maketrans("ACGTN", "TGCAN")


def _write_fasta(path, records, width=60):
    with open(path, "w") as f:
        for name, seq in records:
            f.write(f">{name} some description\n")
            for a in range(0, len(seq), width):
                f.write(seq[a : a + width] + "\n")
    return path


def _random_genome(rng, lengths):
    return [(f"chr{i + 1}", "".join(rng.choice(list("ACGT"), n))) for i, n in enumerate(lengths)]


@pytest.fixture
def records():
    rng = np.random.default_rng(0)
    recs = _random_genome(rng, [1000, 250, 777])
    # soft-masked repeats, Ns and IUPAC letters
    name, seq = recs[1]
    recs[1] = (name, seq[:10] + seq[10:30].lower() + "NNNNN" + "RYKM" + seq[39:])
    return recs


def _expected(seq: str) -> np.ndarray:
    return np.array(["ACGT".find(c) if c in "ACGT" else TOKEN_N for c in seq.upper()], dtype=np.uint8)


def test_a_fasta_becomes_tokens_once_and_the_cache_is_memory_mapped(tmp_path, records, caplog):
    fa = _write_fasta(tmp_path / "ref.fa", records)
    with caplog.at_level(logging.INFO, logger="seqsweep.data.genome"):
        store = genome(fa, cache_dir=tmp_path / "cache")
    assert "building the genome token cache" in caplog.text
    assert store.names == ("chr1", "chr2", "chr3")
    assert store.lengths.tolist() == [1000, 250, 777]
    assert isinstance(store.tokens, np.memmap)
    for i, (_, seq) in enumerate(records):
        np.testing.assert_array_equal(store.tokens[store.offsets[i] : store.offsets[i + 1]], _expected(seq))
    # nothing written beside the user's FASTA (its .fai goes to the cache's build folder and is dropped)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "ref.fa"]

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="seqsweep.data.genome"):
        again = genome(fa, cache_dir=tmp_path / "cache")
    assert "building" not in caplog.text and again.cache == store.cache


def test_an_edited_fasta_gets_a_new_cache_and_a_broken_cache_is_rebuilt_and_said_so(tmp_path, records, caplog):
    fa = _write_fasta(tmp_path / "ref.fa", records)
    first = genome(fa, cache_dir=tmp_path / "cache")
    _write_fasta(fa, records[:2])
    second = genome(fa, cache_dir=tmp_path / "cache")
    assert second.cache != first.cache and second.names == ("chr1", "chr2")

    with open(second.cache, "r+b") as f:  # a cache cut short (a full disk, a copy interrupted)
        f.truncate(100)
    with caplog.at_level(logging.WARNING, logger="seqsweep.data.genome"):
        third = genome(fa, cache_dir=tmp_path / "cache")
    assert "does not match" in caplog.text and "rebuilding" in caplog.text
    assert len(third) == 1250


def test_gzip_and_bgzip_fastas_read_the_same(tmp_path, records):
    plain = genome(_write_fasta(tmp_path / "ref.fa", records), cache_dir=tmp_path / "c1")
    gz = tmp_path / "ref2.fa.gz"
    gz.write_bytes(gzip.compress((tmp_path / "ref.fa").read_bytes()))
    zipped = genome(gz, cache_dir=tmp_path / "c2")
    np.testing.assert_array_equal(np.asarray(zipped.tokens), np.asarray(plain.tokens))
    pytest.importorskip("Bio.bgzf", reason="biopython (pyfaidx's bgzip reader) is not installed")
    from Bio import bgzf

    bgz = tmp_path / "ref3.fa.gz"
    with bgzf.BgzfWriter(str(bgz), "wb") as w:
        w.write((tmp_path / "ref.fa").read_bytes())
    np.testing.assert_array_equal(np.asarray(genome(bgz, cache_dir=tmp_path / "c3").tokens), np.asarray(plain.tokens))


@pytest.mark.parametrize(
    "text, message",
    [
        (">chr1\nACGTACGT\n>chr2\n>chr3\nACGT\n", r"contig 'chr2' is empty"),
        (">chr1\nACGTACGT\nACGTXCGT\n", r"contig 'chr1': position 13: letter 'X' is not a nucleotide"),
        ("just text\n", r"not a readable FASTA|holds no FASTA record"),
    ],
    ids=["empty-contig", "not-dna", "not-fasta"],
)
def test_bad_fasta_is_one_line_naming_the_contig_and_nothing_is_cached(tmp_path, text, message):
    fa = tmp_path / "bad.fa"
    fa.write_text(text)
    with pytest.raises(DataError, match=message) as e:
        genome(fa, cache_dir=tmp_path / "cache")
    assert "\n" not in str(e.value) and str(fa) in str(e.value)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == ["bad.fa"]


def test_windows_are_offsets_and_the_reverse_strand_is_index_arithmetic(tmp_path, records):
    store = genome(_write_fasta(tmp_path / "ref.fa", records), cache_dir=tmp_path / "cache")
    starts = store.offsets_of(["chr1", "chr3", "chr2"], [0, 700, 5], [50, 750, 55])
    ds = Dataset(store=store, starts=starts, length=50, y=np.array([0, 1, 0], np.uint8), w=np.ones(3, np.float32),
                 reverse=np.array([False, True, False]))
    got = decode_tokens(ds.tokens())
    seqs = dict(records)
    assert got[0] == seqs["chr1"][:50]
    assert got[1] == seqs["chr3"][700:750].translate(RC)[::-1]
    assert got[2] == "".join(c if c in "ACGT" else "N" for c in seqs["chr2"][5:55].upper())
    assert ds.ids.tolist() == ["chr1:0-50", "chr3:700-750", "chr2:5-55"]
    np.testing.assert_array_equal(ds.X, encode(got))


@pytest.mark.parametrize(
    "window, message",
    [
        (("chr2", 200, 251), r"row 0: window chr2:200-251: it ends past the end of chr2 \(250\)"),
        (("chr1", 10, 10), r"row 0: window chr1:10-10: start must be < end"),
        (("chrX", 0, 10), r"has no contig 'chrX' \(it has 3: chr1, chr2, chr3\)"),
    ],
)
def test_a_window_outside_its_contig_is_one_line(tmp_path, records, window, message):
    store = genome(_write_fasta(tmp_path / "ref.fa", records), cache_dir=tmp_path / "cache")
    with pytest.raises(DataError, match=message):
        store.offsets_of([window[0]], [window[1]], [window[2]])


def test_a_memory_mapped_store_travels_by_path_and_rows_travel_as_tokens(tmp_path, records):
    store = genome(_write_fasta(tmp_path / "ref.fa", records), cache_dir=tmp_path / "cache")
    sent = pickle.dumps(store)
    assert len(sent) < 1000  # the path and the contig table, not the 2,027 bases
    back = pickle.loads(sent)
    assert isinstance(back.tokens, np.memmap) and back.cache == store.cache
    np.testing.assert_array_equal(np.asarray(back.tokens), np.asarray(store.tokens))

    # pre-cut rows: what Ray's object store holds is the tokens (1 byte a base), never a one-hot copy
    rng = np.random.default_rng(1)
    n, L = 2000, 101
    X = encode(["".join(rng.choice(list("ACGT"), L)) for _ in range(n)])
    y = (rng.random(n) < 0.3).astype(np.uint8)
    ds = Dataset(X=X, y=y, w=class_balancing_weights(y), ids=np.array([f"r{i}" for i in range(n)]))
    size = len(pickle.dumps(ds, protocol=5))
    assert n * L <= size < 1.5 * n * L, size  # X alone would be 4 * n * L
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(ds)).X, X)


def test_a_subset_shares_the_store(tmp_path, records):
    store = genome(_write_fasta(tmp_path / "ref.fa", records), cache_dir=tmp_path / "cache")
    ds = windows_over(store, context=20, k=1, stride=7, block_size=1000)
    sub = ds.subset(np.arange(0, len(ds), 3))
    assert sub.store is ds.store
    np.testing.assert_array_equal(sub.tokens(), ds.tokens()[::3])


def test_next_base_over_a_genome_equals_next_base_over_its_sequences(tmp_path, records):
    store = genome(_write_fasta(tmp_path / "ref.fa", records), cache_dir=tmp_path / "cache")
    over = windows_over(store, context=30, k=2, stride=1, block_size=400, source="g")
    cut = next_base_windows(np.array([n for n, _ in records]), [s for _, s in records], context=30, k=2, stride=1,
                            block_size=400, source="g")
    assert len(over) == len(cut) > 1500
    np.testing.assert_array_equal(over.y, cut.y)
    np.testing.assert_array_equal(over.w, cut.w)
    np.testing.assert_array_equal(over.tokens(), cut.tokens())
    assert over.ids.tolist() == cut.ids.tolist()
    # the label is the base after the context: a view of the same tokens
    row = 123
    nxt = store.tokens[over.starts[row] + 30 : over.starts[row] + 32]
    assert over.y[row] == 4 * nxt[0] + nxt[1]


def test_the_trainer_scores_a_genome_store_as_the_same_rows_in_memory(tmp_path):
    from seqsweep.cv import make_folds
    from seqsweep.train import CVTrainer, TrainConfig

    rng = np.random.default_rng(3)
    recs = _random_genome(rng, [30_000])
    fa = _write_fasta(tmp_path / "ref.fa", recs)
    store = genome(fa, cache_dir=tmp_path / "cache")
    starts = np.sort(rng.choice(30_000 - 60, 600, replace=False)).astype(np.int64)
    seqs = [recs[0][1][s : s + 60] for s in starts]
    y = np.array([("TGACTCA" in s) or (i % 5 == 0) for i, s in enumerate(seqs)], dtype=np.uint8)
    w = class_balancing_weights(y)
    on_genome = Dataset(store=store, starts=starts, length=60, y=y, w=w)
    in_memory = Dataset(X=encode(seqs), y=y, w=w, ids=np.array([f"r{i}" for i in range(600)]))
    folds = make_folds(y, 3, seed=0)
    cfg = TrainConfig("cnn", {"filters": 8, "kernel_size": 5}, epochs=2, batch_size=64, rc_augment=True)
    a = CVTrainer(on_genome, folds, cfg, precision="float32").fit()
    b = CVTrainer(in_memory, folds, cfg, precision="float32").fit()
    assert a == b


def test_windows_per_epoch_sees_every_row_once_before_any_twice():
    from seqsweep.train import CVTrainer, TrainConfig

    rng = np.random.default_rng(4)
    n = 500
    y = (rng.random(n) < 0.3).astype(np.uint8)
    ds = Dataset(tokens=rng.integers(0, 4, (n, 12)).astype(np.uint8), y=y, w=class_balancing_weights(y))
    train = np.arange(0, 400)
    cfg = TrainConfig("mlp", {"hidden_size": 4}, epochs=4, batch_size=50, windows_per_epoch=150, validation_windows=30)
    t = CVTrainer(ds, [(train, np.arange(400, 500))], cfg)
    assert len(t.val_idx[0]) == 30 and set(t.val_idx[0]) <= set(range(400, 500))
    seen = [t._epoch_order(0, t._epoch_rows(400))[0].numpy() for _ in range(3)]
    assert [len(s) for s in seen] == [150, 150, 150]
    first_pass = np.concatenate(seen)[:400]
    assert sorted(first_pass.tolist()) == list(range(400))  # every row once in the first 400 drawn
    assert t._total_steps[0] == 4 * 3  # the schedule counts the budget's batches
    assert len(t.fit()) == 4


def test_a_store_made_from_rows_is_one_contig():
    tok = np.array([[0, 1, 2], [3, 4, 0]], dtype=np.uint8)
    store = TokenStore.from_rows(tok)
    assert store.names == ("rows",) and len(store) == 6
    np.testing.assert_array_equal(store.gather(np.array([3, 0]), 3), tok[::-1])
