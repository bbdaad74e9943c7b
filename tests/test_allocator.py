"""seqsweep.allocator: glibc malloc keeps freed memory (no page faults on every training step's activations)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CODE = "from seqsweep.allocator import keep_freed_memory as k; print(k(), k())"


def _run(env_extra: dict[str, str]) -> str:
    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True, env=env).stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux") or not os.confstr("CS_GNU_LIBC_VERSION"),
                    reason="glibc's mallopt only exists on glibc Linux")
def test_applied_once_on_glibc_and_can_be_turned_off():
    assert _run({}) == "True True"  # applied, and a second call answers from the first
    assert _run({"SEQSWEEP_MALLOC": "default"}) == "False False"


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
        "print(al._applied is not None)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "True"
