"""A sweep's lock says whether its driver is alive: held while it runs, free once it is gone (even by SIGKILL)."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from seqsweep import locks
from seqsweep.errors import ConfigError

from e2e_helpers import env_for

HOLDER = """
import sys, time
from seqsweep import locks
locks.own_sweep("job", "s1")
print("held", flush=True)
time.sleep(600)
"""


def test_a_sweep_lock_lives_exactly_as_long_as_its_driver(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQSWEEP_HOME", str(tmp_path))
    assert not locks.sweep_running("job", "s1")  # never started (or started by a seqsweep without locks)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], env=env_for(tmp_path), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert locks.sweep_running("job", "s1")
        with pytest.raises(ConfigError, match="sweep s1 of job 'job' is still running in another seqsweep process"):
            locks.own_sweep("job", "s1")  # what `--resume` of that sweep meets
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert not locks.sweep_running("job", "s1")
    locks.own_sweep("job", "s1")
    try:
        assert locks.sweep_running("job", "s1")  # another descriptor, even in this process, sees it held
    finally:
        locks.release_sweeps()
    assert not locks.sweep_running("job", "s1")
