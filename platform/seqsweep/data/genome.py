"""The token store: every base once, as one uint8 token; a window is a coordinate into it, never a copy.

    store = genome("ref/hg38.fa")            # a FASTA (.fa, .fa.gz bgzip; .fai/.gzi used or made) -> memory-mapped
    tok = store.gather(starts, 1000)          # (B, 1000) uint8 tokens of B windows, cut by index arithmetic
    x = one_hot(torch.from_numpy(tok))        # (B, 4, 1000) float32, made per batch on the trainer's device

Tokens: A=0, C=1, G=2, T=3, and 4 for N and the other IUPAC letters (an all-zero one-hot row, as the encoding
has always been). One byte per base where a one-hot float32 batch costs 16, so a dataset is never held as
one-hot: the trainer makes each batch's one-hot on its device (docs/design.md#data-path).

A FASTA becomes a store once: its tokens go to one file in the cache (`<home>/data/genomes/<name>-<fingerprint>/`,
`SEQSWEEP_GENOME_CACHE` overrides), named by a hash of the FASTA's bytes, so a changed FASTA gets a new cache and
a copy of the same FASTA elsewhere reuses it. Every process on a node memory-maps that file: concurrent trials
share its pages through the page cache, and Ray ships a store to a worker as its path, not its bytes. Pre-cut
data (DeepChem shards, FASTA records, CSV) becomes an in-memory store of its own, one row after another; Ray
puts it in the object store once per node, where every worker of the node reads the same pages.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seqsweep.alphabet import ALPHABET
from seqsweep.errors import DataError

log = logging.getLogger(__name__)

#: token of N and the other IUPAC ambiguity letters (one-hot: all zeros)
TOKEN_N = 4
#: token -> token of the complementary base (A<->T, C<->G, N stays N)
COMPLEMENT = np.array([3, 2, 1, 0, TOKEN_N], dtype=np.uint8)
#: token -> one-hot row in A, C, G, T order; N is all zeros
ONE_HOT = np.vstack([np.eye(4, dtype=np.uint8), np.zeros((1, 4), dtype=np.uint8)])  # (5, 4)

_INVALID = 255
# byte -> token; 255 for a byte that is no nucleotide letter (lower case is the same letter: soft-masked repeats)
LUT = np.full(256, _INVALID, dtype=np.uint8)
for _code, _letter in enumerate(ALPHABET):
    LUT[ord(_letter)] = LUT[ord(_letter.lower())] = _code
for _letter in "NRYSWKMBDHV":
    LUT[ord(_letter)] = LUT[ord(_letter.lower())] = TOKEN_N

CACHE_FORMAT = 1
_CHUNK = 8 << 20  # bases read from a FASTA at a time while building a cache


def cache_root() -> Path:
    """Where genome token caches live: $SEQSWEEP_GENOME_CACHE, else <home>/data/genomes (git-ignored)."""
    env = os.environ.get("SEQSWEEP_GENOME_CACHE")
    if env:
        return Path(env).resolve()
    from seqsweep import store

    return store.home() / "data" / "genomes"


@dataclass(frozen=True, eq=False)
class TokenStore:
    """Contigs as tokens, one after another in one uint8 array (memory-mapped when it comes from a cache).

    tokens:  (T,) uint8, contig i at tokens[offsets[i]:offsets[i + 1]]
    names:   contig names
    offsets: (C + 1,) int64
    begins:  (C,) int64, the genomic coordinate of each contig's first token (0 for a FASTA's contigs; the
             window's start for JUND-style `chr22:100-201` rows joined into contigs)
    source:  what it was made from (messages)
    cache:   the token file, when the tokens are memory-mapped from the cache (pickled by path)
    fingerprint: identifies the tokens (the FASTA's hash, or a hash of the tokens)
    """

    tokens: np.ndarray
    names: tuple[str, ...]
    offsets: np.ndarray
    begins: np.ndarray
    source: str = "<memory>"
    cache: str | None = None
    fingerprint: str = ""
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self._index:
            self._index.update({n: i for i, n in enumerate(self.names)})

    # --- construction ---

    @classmethod
    def from_rows(cls, rows: np.ndarray, *, source: str = "<memory>") -> "TokenStore":
        """A store of pre-cut rows, (N, L) uint8 tokens: one contig holding the rows one after another (row i at
        [i * L, (i + 1) * L)), so N rows cost N * L bytes and no per-row metadata."""
        rows = np.ascontiguousarray(rows, dtype=np.uint8)
        if rows.ndim != 2:
            raise ValueError(f"TokenStore.from_rows: rows must be (N, L) tokens, got shape {rows.shape}")
        flat = rows.reshape(-1)
        return cls(
            tokens=flat, names=("rows",), offsets=np.array([0, flat.size], dtype=np.int64),
            begins=np.zeros(1, dtype=np.int64), source=source, fingerprint=_hash_tokens(flat),
        )

    @classmethod
    def from_contigs(cls, contigs: Sequence[tuple[str, int, np.ndarray]], *, source: str = "<memory>") -> "TokenStore":
        """A store of (name, genomic begin, tokens) contigs, held in memory."""
        parts = [np.asarray(t, dtype=np.uint8) for _, _, t in contigs]
        offsets = np.zeros(len(parts) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([p.size for p in parts])
        flat = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint8)
        return cls(
            tokens=flat, names=tuple(str(n) for n, _, _ in contigs), offsets=offsets,
            begins=np.array([int(b) for _, b, _ in contigs], dtype=np.int64), source=source,
            fingerprint=_hash_tokens(flat),
        )

    # --- what it holds ---

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @property
    def pre_cut(self) -> bool:
        """Rows one after another (shards, CSV, FASTA records, a DeepSEA .mat), not contigs: a window cannot move."""
        return self.names == ("rows",)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def contig(self, name: str) -> int:
        """The index of contig `name`; DataError naming the contigs there are."""
        try:
            return self._index[name]
        except KeyError:
            shown = ", ".join(self.names[:8]) + (" ..." if len(self.names) > 8 else "")
            raise DataError(f"{self.source}: has no contig {name!r} (it has {len(self.names)}: {shown})") from None

    def offsets_of(self, contigs: Sequence[str], starts: Sequence[int], ends: Sequence[int], *, what: str = "window",
                   where=lambda i: f"row {i}") -> np.ndarray:
        """Flat offsets of windows given as (contig, start, end) in the store's coordinates (0-based, end
        exclusive, relative to each contig's `begins`). DataError naming the first window that is empty,
        reversed or past its contig's end."""
        idx = np.array([self.contig(c) for c in contigs], dtype=np.int64)
        s = np.asarray(starts, dtype=np.int64) - self.begins[idx]
        e = np.asarray(ends, dtype=np.int64) - self.begins[idx]
        n = self.lengths[idx]
        bad = (s < 0) | (e <= s) | (e > n)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            c, b = contigs[i], int(self.begins[idx[i]])
            rule = ("start must be < end" if e[i] <= s[i] else
                    f"it ends past the end of {c} ({b + int(n[i]):,})" if e[i] > n[i] else f"it starts before {c} ({b:,})")
            raise DataError(f"{self.source}: {where(i)}: {what} {c}:{int(starts[i])}-{int(ends[i])}: {rule}")
        return self.offsets[idx] + s

    def locate(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flat offsets -> (contig index (N,), genomic start (N,) = begins + offset within the contig)."""
        flat = np.asarray(flat, dtype=np.int64)
        c = np.searchsorted(self.offsets, flat, side="right") - 1
        return c, flat - self.offsets[c] + self.begins[c]

    # --- windows ---

    def gather(self, starts: np.ndarray, length: int, reverse: np.ndarray | None = None) -> np.ndarray:
        """Tokens of the windows [starts, starts + length) -> (B, length) uint8; the rows marked in `reverse`
        read as their reverse complement. A strided view indexed by row: no (B, L) index array is built."""
        view = np.lib.stride_tricks.sliding_window_view(self.tokens, int(length))  # (T - L + 1, L) view
        out = view[np.asarray(starts, dtype=np.int64)]  # (B, L) copy of just these windows
        if reverse is not None and reverse.any():
            out[reverse] = COMPLEMENT[out[reverse, ::-1]]
        return out

    # --- pickling (Ray ships stores to workers) ---

    def __reduce__(self):
        if self.cache is not None:
            # memory-mapped: send the path; the worker maps the same file (its pages are shared per node)
            return (_reopen, (self.cache, self.names, self.offsets, self.begins, self.source, self.fingerprint))
        return (TokenStore, (np.asarray(self.tokens), self.names, self.offsets, self.begins, self.source, None, self.fingerprint))


def _reopen(path: str, names, offsets, begins, source, fingerprint) -> TokenStore:
    p = Path(path)
    if not p.is_file() or p.stat().st_size != int(offsets[-1]):
        raise DataError(
            f"{source}: the genome cache {path} is missing or incomplete on this node: put "
            "SEQSWEEP_GENOME_CACHE on a file system every node of the cluster sees"
        )
    tokens = np.memmap(p, dtype=np.uint8, mode="r", shape=(int(offsets[-1]),))
    return TokenStore(tokens, tuple(names), offsets, begins, source, path, fingerprint)


def _hash_tokens(tokens: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=8)
    h.update(np.ascontiguousarray(tokens).data)
    return h.hexdigest()


def encode_tokens(text: str | bytes, *, where: str, offset: int = 0) -> np.ndarray:
    """DNA letters -> (n,) uint8 tokens; DataError naming `where` and the 1-based position (counted from
    `offset`) of the first bad letter."""
    raw = text.encode("ascii", errors="replace") if isinstance(text, str) else text
    tok = LUT[np.frombuffer(raw, dtype=np.uint8)]
    bad = np.flatnonzero(tok == _INVALID)
    if bad.size:
        i = int(bad[0])
        letter = text[i] if isinstance(text, str) else chr(raw[i])
        raise DataError(f"{where}: position {offset + i + 1:,}: letter {letter!r} is not a nucleotide (ACGT or IUPAC)")
    return tok


# ---------------------------------------------------------------------------------------------------------
# FASTA -> cached token store


def file_fingerprint(path: Path) -> str:
    """blake2b of the file's bytes (16 hex): the cache's name, so an edited FASTA never reads a stale cache."""
    h = hashlib.blake2b(digest_size=8)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(16 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _open_fasta(path: Path, index_dir: Path):
    """pyfaidx over `path`, its .fai (and .gzi for bgzip) next to it when there, else made in index_dir."""
    import pyfaidx

    index = path.with_name(path.name + ".fai")
    gzi = path.with_name(path.name + ".gzi")
    kwargs = {
        "indexname": str(index if index.exists() else index_dir / (path.name + ".fai")),
        "sequence_always_upper": False, "as_raw": True, "rebuild": False,
    }
    if path.suffix == ".gz":
        kwargs["gzi_indexname"] = str(gzi if gzi.exists() else index_dir / (path.name + ".gzi"))
    try:
        return pyfaidx.Fasta(str(path), **kwargs)
    except pyfaidx.UnsupportedCompressionFormat:
        # plain gzip has no random access: decompress it once, next to the index, and read that
        import gzip

        plain = index_dir / path.name[: -len(".gz")]
        with gzip.open(path, "rb") as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst, 16 << 20)
        return _open_fasta(plain, index_dir)
    except (pyfaidx.FastaIndexingError, ValueError) as e:
        raise DataError(f"{path}: not a readable FASTA: {str(e).splitlines()[0]}") from None


def _build(path: Path, fingerprint: str, out: Path) -> None:
    """Tokens of every contig of `path` into out/tokens.u8 and out/index.json (written in a temporary folder
    and renamed into place, so a crash never leaves a half cache)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        fa = _open_fasta(path, tmp)
        names = list(fa.keys())
        if not names:
            raise DataError(f"{path}: holds no FASTA record ('>name' line followed by sequence)")
        lengths = [len(fa[n]) for n in names]
        for n, ln in zip(names, lengths):
            if ln == 0:
                raise DataError(f"{path}: contig {n!r} is empty: remove it or give it sequence")
        total = int(sum(lengths))
        tokens = np.memmap(tmp / "tokens.u8", dtype=np.uint8, mode="w+", shape=(total,))
        pos = 0
        for n, ln in zip(names, lengths):
            for a in range(0, ln, _CHUNK):
                b = min(ln, a + _CHUNK)
                chunk = encode_tokens(fa[n][a:b], where=f"{path}: contig {n!r}", offset=a)
                tokens[pos + a : pos + b] = chunk
            pos += ln
        tokens.flush()
        del tokens
        fa.close()
        for extra in tmp.iterdir():  # indexes and a decompressed copy made on the way: not part of the cache
            if extra.name != "tokens.u8":
                extra.unlink()
        meta = {"format": CACHE_FORMAT, "fasta": str(path), "fingerprint": fingerprint,
                "names": names, "lengths": lengths, "total": total}
        (tmp / "index.json").write_text(json.dumps(meta) + "\n")
        try:
            os.replace(tmp, out)
        except OSError:  # another process renamed its (identical) cache into place first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _cache_problem(out: Path, fingerprint: str) -> str | None:
    """Why the cache in `out` cannot serve this FASTA, or None when it can."""
    try:
        meta = json.loads((out / "index.json").read_text())
    except (OSError, ValueError):
        return "its index is missing or unreadable"
    if meta.get("format") != CACHE_FORMAT:
        return f"it has format {meta.get('format')!r}, this seqsweep writes {CACHE_FORMAT}"
    if meta.get("fingerprint") != fingerprint:
        return f"it was built from a FASTA with fingerprint {meta.get('fingerprint')}, this one has {fingerprint}"
    size = (out / "tokens.u8").stat().st_size if (out / "tokens.u8").exists() else -1
    if size != meta.get("total") or sum(meta.get("lengths", [])) != size:
        return f"its token file holds {max(size, 0):,} bases, its index {meta.get('total')}"
    return None


def genome(path: str | Path, *, cache_dir: str | Path | None = None) -> TokenStore:
    """The token store of a genome FASTA, memory-mapped from its cache (built on first use, rebuilt when it
    does not match the FASTA, and said so in the log).

    Raises DataError (one line, naming the FASTA and contig): no such file, not a FASTA, a contig that is empty,
    a letter that is not a nucleotide, a plain-gzip file.
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise DataError(f"{path}: no such FASTA file")
    fp = file_fingerprint(path)
    stem = path.name.split(".")[0] or "genome"
    out = Path(cache_dir).resolve() if cache_dir is not None else cache_root()
    out = out / f"{stem}-{fp}"
    problem = _cache_problem(out, fp) if out.exists() else None
    if problem is not None:
        log.warning("genome cache %s does not match %s (%s): rebuilding it", out, path, problem)
        shutil.rmtree(out, ignore_errors=True)
    if not out.exists():
        log.info("building the genome token cache of %s in %s", path, out)
        _build(path, fp, out)
    meta = json.loads((out / "index.json").read_text())
    offsets = np.zeros(len(meta["names"]) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(meta["lengths"])
    tokens = np.memmap(out / "tokens.u8", dtype=np.uint8, mode="r", shape=(int(meta["total"]),))
    return TokenStore(tokens, tuple(meta["names"]), offsets, np.zeros(len(meta["names"]), dtype=np.int64),
                      str(path), str(out / "tokens.u8"), fp)
