"""A signal to `seqsweep ui | serve | dashboard` stops everything it started: no server or worker survives it.

Each server is started as a person starts it (`seqsweep ui` in a shell, in the shell's process group), waited
for until it answers, and then only the seqsweep process gets the signal, as from `kill`, `timeout`, `docker
stop` or a batch scheduler. Its descendants are collected (from /proc) while it runs; none may outlive it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from e2e_helpers import env_for, seed_store
from ui_helpers import SHARED_JOB, free_port, http, shared_sweep

pytestmark = pytest.mark.e2e


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time) of a process from /proc, or None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()  # after "(comm)"
    except OSError:
        return None
    return int(fields[1]), fields[0].decode(), int(fields[19])


def _descendants(pid: int) -> list[tuple[int, int]]:
    """(pid, start time) of every process below `pid`."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None:
            children.setdefault(st[0], []).append(int(entry))
    out, todo = [], list(children.get(pid, []))
    while todo:
        p = todo.pop()
        if (st := _stat(p)) is not None:
            out.append((p, st[2]))
        todo += children.get(p, [])
    return out


def _alive(procs: list[tuple[int, int]]) -> list[int]:
    """The pids of `procs` still running (same start time: not a reused pid; zombies do not count)."""
    return [p for p, start in procs if (st := _stat(p)) is not None and st[2] == start and st[1] != "Z"]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
    except OSError:
        return "?"


def _signal_stops_everything(home, args: list[str], url: str, sig: int, up_timeout: float) -> None:
    log = open(home / f"{args[0]}.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "seqsweep", *args], cwd=home, env=env_for(home),
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    family: list[tuple[int, int]] = []
    try:
        deadline = time.monotonic() + up_timeout
        while True:
            assert proc.poll() is None, (home / f"{args[0]}.log").read_text()[-3000:]
            try:
                if http("GET", url, timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"{url} did not answer in {up_timeout:.0f}s"
            time.sleep(1)
        family = _descendants(proc.pid)
        assert family, "the server started no process"

        proc.send_signal(sig)  # to seqsweep alone
        code = proc.wait(timeout=60)
        deadline = time.monotonic() + 20
        while _alive(family) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [(p, _cmdline(p)) for p in _alive(family)]
        assert not left, f"still running after {signal.Signals(sig).name} to seqsweep: {left}"
        assert code == 128 + sig, (home / f"{args[0]}.log").read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
        for p in _alive(family):
            os.kill(p, signal.SIGKILL)  # only what this test started
        proc.wait(timeout=30)
        log.close()


def test_ui_stops_with_its_server_and_workers(tmp_path):
    seed_store(tmp_path)
    port = free_port()
    # 13-22 s on an idle 2-core machine; over a minute while other tests load the cores
    _signal_stops_everything(tmp_path, ["ui", "--port", str(port)], f"http://127.0.0.1:{port}/health",
                             signal.SIGTERM, 240)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_dashboard_stops_with_its_server(tmp_path, sig):
    import optuna

    (tmp_path / "mlruns").mkdir()
    optuna.create_study(storage=f"sqlite:///{tmp_path}/mlruns/optuna.db", study_name="s")
    port = free_port()
    _signal_stops_everything(tmp_path, ["dashboard", "--port", str(port)], f"http://127.0.0.1:{port}/", sig, 120)


def test_serve_stops_with_its_server_and_workers(tmp_path_factory):
    home, sweep = shared_sweep(tmp_path_factory)
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    port = free_port()
    _signal_stops_everything(home, ["serve", "--model", f"models:/{SHARED_JOB}@champion", "--port", str(port)],
                             f"http://127.0.0.1:{port}/ping", signal.SIGTERM, 180)
