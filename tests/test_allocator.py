"""seqsweep.allocator: glibc malloc keeps freed memory (no page faults on every training step's activations)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

GLIBC = sys.platform.startswith("linux") and bool(os.confstr("CS_GNU_LIBC_VERSION"))
CODE = "from seqsweep.allocator import keep_freed_memory as k; print(k(), k())"


def _run(env_extra: dict[str, str]) -> str:
    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True, env=env).stdout.strip()


@pytest.mark.skipif(not GLIBC, reason="glibc's mallopt only exists on glibc Linux")
def test_applied_once_on_glibc_and_can_be_turned_off():
    assert _run({}) == "True True"  # applied, and a second call answers from the first
    assert _run({"SEQSWEEP_MALLOC": "default"}) == "False False"


# Whether glibc serves a 64 MiB block from the heap (the settings in effect) or with its own mmap (glibc's
# default: above its mmap threshold, at most 32 MiB): mallinfo2's hblkhd counts the bytes in mmapped blocks.
MMAPPED_64MIB = """
import ctypes
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
before = libc.mallinfo2().hblkhd
block = libc.malloc(64 << 20)
mmapped = libc.mallinfo2().hblkhd - before >= 64 << 20
libc.free(block)
"""


def test_a_trainer_turns_it_on():
    code = (
        "import numpy as np, seqsweep.allocator as al\n"
        "from seqsweep.data import Dataset\n"
        "from seqsweep.train import CVTrainer, TrainConfig\n"
        "X = np.eye(4, dtype=np.uint8)[np.random.default_rng(0).integers(0, 4, (40, 20))]\n"
        "y = np.arange(40) % 2\n"
        "ds = Dataset(X=X, y=y, w=np.ones(40, dtype=np.float32), ids=np.array([str(i) for i in range(40)]))\n"
        "assert al._applied is None\n"
        "CVTrainer(ds, [(np.arange(20), np.arange(20, 40))], TrainConfig('mlp', epochs=1))\n"
        + (MMAPPED_64MIB if GLIBC else "mmapped = None\n")
        + "print(al._applied, mmapped)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    assert out.returncode == 0, out.stderr[-2000:]
    if GLIBC:
        # applied, and in effect: the large block came from the heap
        assert out.stdout.split() == ["True", "False"], out.stdout
    else:
        assert out.stdout.split() == ["False", "None"], out.stdout


@pytest.mark.skipif(not GLIBC, reason="glibc's mallopt only exists on glibc Linux")
def test_without_the_settings_glibc_mmaps_large_blocks():
    """The control for the check above: with SEQSWEEP_MALLOC=default the same block is mmapped."""
    env = {**os.environ, "SEQSWEEP_MALLOC": "default"}
    code = "from seqsweep.allocator import keep_freed_memory as k\nk()\n" + MMAPPED_64MIB + "print(mmapped)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "True"
