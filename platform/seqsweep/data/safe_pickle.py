"""Reading joblib files (DeepChem shards) without running code.

A pickle names the callables that rebuild its objects, and `pickle.load` imports and calls whatever it names:
a shard from a collaborator or a download could run any command. `load` reads joblib's format with joblib's
own unpickler (array headers followed by raw bytes, optionally compressed) but resolves only the names that
numpy arrays, dtypes and numpy scalars need; anything else is refused before it is imported.

Object arrays (DeepChem writes ids that way) come through: their items are a nested pickle, which joblib
resolves through the same allow-list, and must be str.
"""

from __future__ import annotations

import builtins
import pickle
from pathlib import Path
from typing import Any

import numpy as np
from joblib import numpy_pickle


class UnsafePickleError(pickle.UnpicklingError):
    """The file names something outside the allow-list (it was refused, never imported or called)."""


# numpy 2 moved numpy.core to numpy._core; pickles written by either name the module they were written with.
_MULTIARRAY = ("numpy.core.multiarray", "numpy._core.multiarray")
_reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]
_scalar = np.float64(0).__reduce__()[0]


def _bytes_from_latin1(text: str, encoding: str = "latin1") -> bytes:
    """What protocol-2 pickles call, as `_codecs.encode(text, "latin1")`, to rebuild bytes (e.g. in an array's
    header); no other codec is looked up."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise UnsafePickleError(f"refused _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


ALLOWED: dict[tuple[str, str], Any] = {
    ("joblib.numpy_pickle", "NumpyArrayWrapper"): numpy_pickle.NumpyArrayWrapper,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    **{(m, "_reconstruct"): _reconstruct for m in _MULTIARRAY},
    **{(m, "scalar"): _scalar for m in _MULTIARRAY},
    ("_codecs", "encode"): _bytes_from_latin1,
    # plain containers a protocol-2 pickle names instead of using opcodes
    **{(b, n): getattr(builtins, n) for b in ("builtins", "__builtin__")
       for n in ("set", "frozenset", "bytearray", "complex", "slice")},
}
# numpy's dtype classes (numpy.dtypes.Float64DType ...) appear in some numpy 2 pickles of dtypes
for _name in dir(getattr(np, "dtypes", None)):
    if _name.endswith("DType"):
        ALLOWED[("numpy.dtypes", _name)] = getattr(np.dtypes, _name)


class _RestrictedUnpickler(numpy_pickle.NumpyUnpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refused to load {module}.{name}: a shard may hold only numpy arrays (numbers, or strings) and "
                "plain containers"
            ) from None


def load(path: str | Path) -> Any:
    """`joblib.load(path)` restricted to numpy arrays, numpy scalars and plain containers.

    Raises UnsafePickleError (a pickle.UnpicklingError) naming the refused type, or what joblib raises on a
    corrupt file. Object arrays must hold str.
    """
    filename = str(path)
    with open(filename, "rb") as f:
        with numpy_pickle._validate_fileobject_and_memmap(f, filename, None) as (fobj, _):
            if isinstance(fobj, str):
                # joblib < 0.10 wrote arrays to companion files; its reader is not restricted
                raise UnsafePickleError("written by joblib < 0.10 (arrays in companion files), which is not supported")
            obj = _RestrictedUnpickler(filename, fobj, ensure_native_byte_order=True).load()
    _check_objects(obj)
    return obj


def _check_objects(obj: Any) -> None:
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject:
        bad = next((v for v in obj.flat if not isinstance(v, str)), None)
        if bad is not None:
            raise UnsafePickleError(f"refused an object array holding {type(bad).__name__}: only str is allowed")
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for v in obj:
            _check_objects(v)
    elif isinstance(obj, dict):
        for v in obj.values():
            _check_objects(v)
