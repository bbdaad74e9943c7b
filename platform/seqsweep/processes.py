"""Signals and child processes: SIGTERM takes Ctrl-C's path, and a server stops with everything it started.

`timeout`, batch schedulers (SLURM, Kubernetes) and `docker stop` send SIGTERM, not SIGINT. Python's default
for SIGTERM ends the process on the spot, and once Ray is up its C++ core worker owns the signal: it prints
stack traces and aborts, leaving MLflow runs RUNNING and Tune's state unsaved. `sigterm_as_ctrl_c` hands
SIGTERM to whatever handles SIGINT at that moment (Ray Tune's handler during `Tuner.fit`, which stops the
trials and saves the experiment state; Python's KeyboardInterrupt elsewhere), and remembers it, so the CLI
can exit 143 (128 + SIGTERM) instead of 130.

`run_foreground` runs a server (`mlflow ui`, `mlflow models serve`, optuna-dashboard) in a process group of
its own and passes SIGTERM, SIGINT and SIGHUP to the whole group: those servers start workers (uvicorn,
gunicorn) that outlive a signal sent to their parent alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence

_received: int | None = None


def received() -> int | None:
    """The signal number SIGTERM handling saw (signal.SIGTERM), or None."""
    return _received


def interrupt_exit_code() -> int:
    """128 + the signal that interrupted us: 143 after SIGTERM, 130 after Ctrl-C."""
    return 128 + (_received or signal.SIGINT)


def _as_ctrl_c(signum: int, frame) -> None:
    global _received
    _received = signum
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)  # default_int_handler raises KeyboardInterrupt; Tune's stops the run
    else:  # SIGINT ignored or default (a background job): still stop the way Ctrl-C would
        raise KeyboardInterrupt


def sigterm_as_ctrl_c() -> None:
    """From now on, SIGTERM does what Ctrl-C does. Call it again after anything that takes SIGTERM over
    (ray.init installs its own handler, and Ray's core worker a C++ one)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _as_ctrl_c)


FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# What the group gets for each: gunicorn (under `mlflow models serve` and optuna-dashboard) reloads on SIGHUP,
# while a hang-up of seqsweep's terminal means stop.
_SENT = {signal.SIGHUP: signal.SIGTERM}


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    """True while a process of group `pgid` is alive (zombies, which only wait for their parent, do not count)."""
    if os.path.isdir("/proc"):
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()  # after "(comm)", which may hold spaces
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != b"Z":
                return True
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def run_foreground(argv: Sequence[str], *, grace_s: float = 10.0) -> int:
    """Run `argv` to its end in a new process group; return its exit code, or 128 + the signal we got.

    A signal in FORWARDED goes to the child's whole group (SIGHUP as SIGTERM). Whatever of the group is left when the child has
    exited (a worker that ignored the signal) gets SIGTERM, then SIGKILL after `grace_s` seconds.
    """
    got: list[int] = []
    child: subprocess.Popen | None = None

    def forward(signum: int, _frame) -> None:
        got.append(signum)
        if child is not None:
            _signal_group(child.pid, _SENT.get(signum, signum))

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in FORWARDED:
            previous[sig] = signal.signal(sig, forward)
    try:
        child = subprocess.Popen(list(argv), start_new_session=True)
        if got:  # a signal that came while the child was starting
            _signal_group(child.pid, _SENT.get(got[0], got[0]))
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child is not None:
            _reap_group(child.pid, grace_s)
    if got:
        return 128 + got[0]
    return code if code >= 0 else 128 - code


def _reap_group(pgid: int, grace_s: float) -> None:
    if not _group_alive(pgid):
        return
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and _group_alive(pgid):
        time.sleep(0.1)
    if _group_alive(pgid):
        _signal_group(pgid, signal.SIGKILL)
