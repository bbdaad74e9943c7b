"""glibc malloc settings for training (CVTrainer applies them): keep freed memory instead of handing it back
to the OS.

By default glibc serves every allocation above a (dynamic, at most 32 MiB) threshold with a fresh mmap and
gives it back with munmap when freed, and it trims the top of the heap whenever 128 KiB+ are free there. A
training step allocates and frees the same few large activations (deepbind's (B, L', 2F) maps: 24 MB at
batch 256) every step, so each step maps fresh pages and the kernel zero-fills them on first touch. Measured on
the 2-core Xeon (one thread, bf16, JUND, two fold-epochs): deepbind took 1.2-3.8 million page faults and
2.4-8.7 s of system time, lstm 0.6-1.1 million and 1.3-2.8 s; with the settings below both took ~20 thousand
and ~0.04 s, and trained 1.2-1.5x faster (deepbind 2,100-3,050 -> 3,000-3,470 samples/s, lstm 6,200-9,100 ->
9,800-10,400). PyTorch's CPU performance guides get the same effect by preloading jemalloc or tcmalloc; this
does it without a native dependency.

The cost: a process keeps its peak heap mapped (its RSS no longer shrinks after a large step), which is what a
training process reaches again at its next step anyway. The settings are process-wide; set
SEQSWEEP_MALLOC=default to leave glibc's defaults alone.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

log = logging.getLogger(__name__)

# mallopt parameter numbers (glibc <malloc.h>)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Allocations below 1 GiB come from the heap, and up to 1 GiB may stay free at its top.
KEEP_BYTES = 1 << 30

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Apply the settings once per process (glibc on Linux only); True when they are in effect."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if os.environ.get("SEQSWEEP_MALLOC", "").lower() == "default" or not sys.platform.startswith("linux"):
        return _applied
    try:
        libc = ctypes.CDLL(None)  # the C library this process already uses
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to tune
        return _applied
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _applied = bool(mallopt(_M_MMAP_THRESHOLD, KEEP_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, KEEP_BYTES))
    log.debug("glibc malloc: mmap and trim thresholds %s to %d bytes", "set" if _applied else "NOT set", KEEP_BYTES)
    return _applied
