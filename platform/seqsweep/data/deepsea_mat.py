"""DeepSEA / DanQ's published data: train.mat (HDF5, MATLAB v7.3) and valid.mat / test.mat (MATLAB v5).

    ds = read_mat("deepsea_train/train.mat")      # multilabel Dataset: tokens cached, labels sparse

The files hold one-hot windows and a 0/1 label per target: `trainxdata` (1000, 4, N) and `traindata` (919, N) in
train.mat as h5py sees MATLAB's column-major arrays; `validxdata` / `testxdata` (N, 4, 1000) and `validdata` /
`testdata` (N, 919) in the others. Windows are read in chunks of rows into a token file in the genome cache
(`<cache>/<name>-<fingerprint>/tokens.u8`, memory-mapped afterwards, as for a genome) and labels into sparse
form (seqsweep.data.sparse), so 4.4M windows x 919 targets never exist as one array. The one-hot rows are in
`alphabet` order, A, G, C, T by default (the order of DeepSEA's files; set ACGT for files written otherwise);
a position with no letter set is an N.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from seqsweep.data.dataset import Dataset
from seqsweep.data.genome import TOKEN_N, TokenStore, cache_root, file_fingerprint
from seqsweep.data.sparse import SparseLabels, TaskWeights
from seqsweep.data.validate import validate
from seqsweep.errors import DataError
from seqsweep.tasks import Task

log = logging.getLogger(__name__)

CHUNK = 50_000  # windows read at a time


def _keys(names) -> tuple[str, str]:
    xs = [k for k in names if k.endswith("xdata")]
    ys = [k for k in names if k.endswith("data") and not k.endswith("xdata") and not k.startswith("__")]
    if len(xs) != 1 or len(ys) != 1:
        raise DataError(f"expected one '*xdata' (sequences) and one '*data' (labels) array, found {sorted(names)}")
    return xs[0], ys[0]


class _Source:
    """The x and y arrays of a .mat file, with the window axis first whatever the format."""

    def __init__(self, path: Path):
        self.path = path
        self._h5 = None
        try:
            import h5py

            hdf5 = h5py.is_hdf5(str(path))
        except ImportError:  # pragma: no cover - h5py is a dependency
            hdf5 = False
        try:
            if hdf5:
                self._h5 = h5py.File(str(path), "r")
                xk, yk = _keys(list(self._h5.keys()))
                self.x, self.y = self._h5[xk], self._h5[yk]  # (L, 4, N), (T, N)
                self.n, self.L, self.T = self.x.shape[2], self.x.shape[0], self.y.shape[0]
                if self.y.shape[1] != self.n or self.x.shape[1] != 4:
                    raise DataError(f"{xk} {self.x.shape} and {yk} {self.y.shape} do not fit (L, 4, N) and (T, N)")
            else:
                import scipy.io

                mat = scipy.io.loadmat(str(path))
                xk, yk = _keys(list(mat.keys()))
                self.x, self.y = mat[xk], mat[yk]  # (N, 4, L), (N, T)
                self.n, self.L, self.T = self.x.shape[0], self.x.shape[2], self.y.shape[1]
                if self.y.shape[0] != self.n or self.x.shape[1] != 4:
                    raise DataError(f"{xk} {self.x.shape} and {yk} {self.y.shape} do not fit (N, 4, L) and (N, T)")
        except DataError as e:
            raise DataError(f"{path}: {e}") from None
        except (OSError, ValueError, KeyError) as e:
            raise DataError(f"{path}: not a readable DeepSEA .mat file ({str(e).splitlines()[0]})") from None

    def chunk(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows [a, b): one-hot (n, L, 4) and labels (n, T)."""
        if self._h5 is not None:
            return np.transpose(self.x[:, :, a:b], (2, 0, 1)), np.transpose(self.y[:, a:b])
        return np.transpose(self.x[a:b], (0, 2, 1)), self.y[a:b]

    def close(self) -> None:
        if self._h5 is not None:
            self._h5.close()


def read_mat(path: str | Path, *, alphabet: str = "AGCT", names: list[str] | None = None,
             cache_dir: str | Path | None = None) -> Dataset:
    """A DeepSEA-format .mat file as a multilabel Dataset (tokens cached and memory-mapped, labels sparse).

    Raises DataError naming the file and the window: arrays that are not (N, 4, L) / (N, T) (or their HDF5
    transposes), one-hot values other than 0/1, labels other than 0/1, `names` of another length than the targets.
    """
    path = Path(path).resolve()
    if sorted(alphabet.upper()) != list("ACGT"):
        raise DataError(f"data: alphabet must order A, C, G, T, got {alphabet!r}")
    perm = np.array(["ACGT".index(b) for b in alphabet.upper()], dtype=np.uint8)  # file channel -> token
    fp = file_fingerprint(path)
    out = (Path(cache_dir).resolve() if cache_dir else cache_root()) / f"{path.stem}-mat-{fp}-{alphabet.upper()}"
    if not (out / "index.json").exists():
        _build(path, out, perm)
    meta = json.loads((out / "index.json").read_text())
    n, L, T = meta["n"], meta["length"], meta["targets"]
    tokens = np.memmap(out / "tokens.u8", dtype=np.uint8, mode="r", shape=(n * L,))
    labels = np.load(out / "labels.npz")
    y = SparseLabels(labels["indptr"], labels["indices"], T)
    names = list(names) if names is not None else [f"target_{t}" for t in range(T)]
    if len(names) != T:
        raise DataError(f"{path}: holds {T} targets, {len(names)} names were given")
    store = TokenStore(tokens, ("rows",), np.array([0, n * L], dtype=np.int64), np.zeros(1, dtype=np.int64), str(path),
                       str(out / "tokens.u8"), fp)
    ds = Dataset(store=store, starts=np.arange(n, dtype=np.int64) * L, length=L, y=y, w=TaskWeights.balanced(y),
                 ids=None, task=Task("multilabel", tuple(names)), source=str(path))
    ds = validate(ds)
    log.info("%s: %d windows of %d bp, %d targets, %d positive labels", path, n, L, T, y.sum())
    return ds


def _build(path: Path, out: Path, perm: np.ndarray) -> None:
    src = _Source(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        tokens = np.memmap(tmp / "tokens.u8", dtype=np.uint8, mode="w+", shape=(src.n * src.L,))
        indptr = np.zeros(src.n + 1, dtype=np.int64)
        indices = []
        for a in range(0, src.n, CHUNK):
            b = min(src.n, a + CHUNK)
            x, y = src.chunk(a, b)
            bad = (x != 0) & (x != 1)
            if bad.any() or (x.sum(-1) > 1).any():
                i = int(np.flatnonzero(bad.any((1, 2)) | (x.sum(-1) > 1).any(1))[0])
                raise DataError(f"{path}: window {a + i}: one-hot values must be 0 or 1 with one letter a position")
            tok = perm[x.argmax(-1)]
            tok[x.sum(-1) == 0] = TOKEN_N
            tokens[a * src.L : b * src.L] = tok.reshape(-1)
            yb = np.asarray(y)
            if ((yb != 0) & (yb != 1)).any():
                i = int(np.flatnonzero(((yb != 0) & (yb != 1)).any(1))[0])
                raise DataError(f"{path}: window {a + i}: labels must be 0 or 1")
            r, t = np.nonzero(yb)
            indptr[a + 1 : b + 1] = np.bincount(r, minlength=b - a)
            indices.append(t.astype(np.int32))
            log.info("%s: %d of %d windows read", path, b, src.n)
        tokens.flush()
        del tokens
        np.cumsum(indptr, out=indptr)
        np.savez(tmp / "labels.npz", indptr=indptr, indices=np.concatenate(indices) if indices else np.zeros(0, np.int32))
        (tmp / "index.json").write_text(json.dumps({"file": str(path), "n": src.n, "length": src.L, "targets": src.T}) + "\n")
        try:
            os.replace(tmp, out)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        src.close()
