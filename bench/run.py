"""seqsweep benchmarks (issue #5): python bench/run.py [--quick] [--only NAME ...] [--threads N]

Each measure runs in its own Python process (a clean torch/Ray state, its own memory peak, and a crash or
hang in one never loses the others). Results go to bench/results/latest.json (written atomically after every
measure, merged with the entries of measures not re-run) and a table is printed at the end. Private seqsweep
homes, stores and generated data live under /tmp; nothing is written to the repository's mlruns/.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

RESULTS = BENCH / "results" / "latest.json"
ORDER = (
    "trial_throughput",
    "sweep_overhead",
    "concurrency_scaling",
    "search_efficiency",
    "inference",
    "memory",
    "task_heads",
    "explain",
)
QUICK_SKIPS = ("concurrency_scaling", "search_efficiency", "memory")  # full run only (or --only NAME --quick)
TIMEOUT_S = {True: 600, False: 2400}  # per measure, quick / full


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes; about 5 minutes on 2 idle cores")
    p.add_argument("--only", nargs="+", metavar="NAME", choices=ORDER, help=f"run only these: {', '.join(ORDER)}")
    # 1 by default: on 2 shared cores, 2 OpenMP threads slow down 5-8x whenever other work runs (README).
    p.add_argument("--threads", type=int, default=1, help="torch threads for the compared loops (default 1)")
    p.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS.relative_to(BENCH.parent)})")
    p.add_argument("--keep", action="store_true", help="keep the private seqsweep homes under /tmp")
    p.add_argument("--markdown", action="store_true", help="print the results file as a Markdown table; run nothing")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--result-file", type=Path, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _write_atomically(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # bench/results/*.tmp is git-ignored
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)


def _child(args: argparse.Namespace) -> int:
    """Run one measure in this process and write its dict to --result-file."""
    import logging
    import warnings

    import common
    import measures

    common.KEEP_HOMES = args.keep
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    result = measures.MEASURES[args.child](args.quick, args.threads)
    _write_atomically(args.result_file, result)
    return 0


def _run_measure(name: str, args: argparse.Namespace, log_dir: Path) -> dict[str, Any]:
    entry: dict[str, Any] = {"mode": "quick" if args.quick else "full", "threads": args.threads,
                             "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "load_before": _loadavg()}
    result_file = log_dir / f"{name}.json"
    log_file = log_dir / f"{name}.log"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--result-file", str(result_file),
           "--threads", str(args.threads)] + (["--quick"] if args.quick else []) + (["--keep"] if args.keep else [])
    t0 = time.perf_counter()
    with open(log_file, "w") as log:
        try:
            proc = subprocess.run(cmd, stdout=None, stderr=log, timeout=TIMEOUT_S[args.quick], cwd=BENCH.parent)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    entry["wall_s"] = round(time.perf_counter() - t0, 1)
    entry["load_after"] = _loadavg()
    if rc == 0 and result_file.exists():
        entry.update(status="ok", **json.loads(result_file.read_text()))
    else:
        tail = log_file.read_text()[-1500:] if log_file.exists() else ""
        entry.update(status="error", error=f"exit {rc}; log {log_file}", log_tail=tail, rows=[])
        print(f"  !! {name} failed (exit {rc}); last lines of {log_file}:\n{tail[-800:]}", flush=True)
    return entry


def _loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1000:
            return str(int(v))
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.3g}" if abs(v) >= 0.01 or v == 0 else f"{v:.2e}"
    return str(v)


def table(doc: dict[str, Any], names: list[str]) -> str:
    lines = []
    header = ("measure", "variant", "value", "ratio")
    body = []
    for name in names:
        entry = doc.get(name)
        if not entry:
            continue
        if entry.get("status") != "ok":
            body.append((name, f"ERROR: {entry.get('error', '?')}", "", ""))
            continue
        for r in entry.get("rows", []):
            value = f"{_fmt(r['value'])} {r['unit']}".strip()
            ratio = f"{_fmt(r['ratio'])} {r['ratio_of']}".strip() if r.get("ratio") is not None else ""
            body.append((name, r["variant"], value, ratio))
    widths = [max(len(str(x[i])) for x in [header, *body]) for i in range(4)]
    fmt = "  ".join(f"{{:{'<' if i < 2 else '>'}{w}}}" for i, w in enumerate(widths))
    lines.append(fmt.format(*header))
    lines.append("  ".join("-" * w for w in widths))
    previous = None
    for b in body:
        lines.append(fmt.format(b[0] if b[0] != previous else "", *b[1:]))
        previous = b[0]
    return "\n".join(lines)


def markdown(doc: dict[str, Any]) -> str:
    """The results as a Markdown table (for bench/README.md), with each measure's mode, threads and load."""
    lines = ["| measure | variant | value | ratio |", "|---|---|---:|---:|"]
    for name in ORDER:
        entry = doc.get(name)
        if not entry or entry.get("status") != "ok":
            continue
        first = True
        for r in entry.get("rows", []):
            label = f"`{name}` ({entry['mode']}, {entry['threads']} thr, load {entry['load_before'][0]})" if first else ""
            ratio = f"{_fmt(r['ratio'])} {r['ratio_of']}".strip() if r.get("ratio") is not None else ""
            lines.append(f"| {label} | {r['variant']} | {_fmt(r['value'])} {r['unit']} | {ratio} |")
            first = False
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.child:
        return _child(args)
    if args.markdown:
        print(markdown(json.loads(args.out.read_text())))
        return 0

    import common

    names = list(args.only) if args.only else [n for n in ORDER if not (args.quick and n in QUICK_SKIPS)]
    doc: dict[str, Any] = {}
    if args.out.exists():
        try:
            doc = json.loads(args.out.read_text())  # keep the entries of measures not re-run
        except ValueError:
            doc = {}
    started = time.time()
    print(f"seqsweep bench ({'quick' if args.quick else 'full'}): {', '.join(names)}; threads {args.threads}", flush=True)
    doc["machine"] = common.machine_info()
    m = doc["machine"]
    print(f"machine: {m['cpu_model']}, {m['cores']} cores, {m['ram_gib']} GiB; torch {m['torch']}, ray {m['ray']}, "
          f"mlflow {m['mlflow']}; load average {m['load_average']} (the machine is shared: timings are noisy)", flush=True)
    if m["load_average"] and m["load_average"][0] > (m["cores"] or 1):
        print(f"WARNING: load average {m['load_average'][0]} exceeds the {m['cores']} cores: other work is running"
              + ("; with --threads 2 on 2 busy cores torch slows down several-fold (use --threads 1)"
                 if args.threads >= (m["cores"] or 1) else ""), flush=True)
    with tempfile.TemporaryDirectory(prefix="seqsweep-bench-logs-") as tmp:
        log_dir = Path(tmp)
        if args.keep:
            log_dir = Path(tempfile.mkdtemp(prefix="seqsweep-bench-logs-"))
        for name in names:
            print(f"\n== {name} (load average {_loadavg()})", flush=True)
            doc[name] = _run_measure(name, args, log_dir)
            doc[name]["cpu"] = m["cpu_model"]  # kept entries may come from another machine
            print(f"   {name}: {doc[name]['status']} in {doc[name]['wall_s']} s", flush=True)
            doc["last_run"] = {"mode": "quick" if args.quick else "full", "measures": names,
                               "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
                               "wall_s": round(time.time() - started, 1)}
            _write_atomically(args.out, doc)
    print(f"\n{table(doc, names)}\n", flush=True)
    for name in names:
        for note in doc.get(name, {}).get("notes", []):
            print(f"[{name}] {note}")
    print(f"\nwrote {args.out} in {time.time() - started:.0f} s; load average now {_loadavg()}", flush=True)
    return 0 if all(doc[n].get("status") == "ok" for n in names) else 1


if __name__ == "__main__":
    sys.exit(main())
