"""One CVTrainer epoch on the JUND split at two commits, side by side: did a change slow the binary trainer?

    python bench/compare_commits.py REV [--archs cnn deepbind lstm cnn_bilstm] [--reps 3]

REV is checked out into a temporary git worktree; each run is a fresh process whose `seqsweep` comes from
one checkout (PYTHONPATH), alternating REV and the working tree (A B, B A, ...), so both see the same machine
drift. Reports each architecture's best epoch time per side and the ratio (working tree / REV). Writes
bench/results/compare_commits.json.
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

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results" / "compare_commits.json"

# One epoch of 5 stratified folds of the full JUND split at the job defaults, as trial_throughput times it.
CHILD = """
import json, sys, time, torch
sys.path.insert(0, {bench!r})
from common import jund_or_synthetic
from seqsweep import cv
from seqsweep.train import CVTrainer, TrainConfig
torch.set_num_threads(1)
ds, _ = jund_or_synthetic()
folds = cv.make_folds(ds.y, 5, seed=0)
trainer = CVTrainer(ds, folds, TrainConfig({arch!r}, {{}}, epochs=1), num_threads=1)
t0 = time.perf_counter()
m = trainer.step_epoch()
print(json.dumps({{"epoch_s": time.perf_counter() - t0, "cv_roc_auc": m["cv_roc_auc"], "precision": trainer.precision}}))
"""


def _run(checkout: Path, arch: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(checkout / "platform"), SEQSWEEP_HOME=tempfile.gettempdir())
    code = CHILD.format(bench=str(BENCH), arch=arch)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"{checkout} {arch}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/compare_commits.py", description=__doc__.splitlines()[0])
    p.add_argument("rev")
    p.add_argument("--archs", nargs="+", default=["cnn", "deepbind", "lstm", "cnn_bilstm"])
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args(argv)
    rev = subprocess.run(["git", "rev-parse", "--short", args.rev], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.strip()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="seqsweep-rev-") as tmp:
        old = Path(tmp) / "old"
        subprocess.run(["git", "worktree", "add", "--detach", str(old), rev], cwd=ROOT, check=True, capture_output=True)
        try:
            rows = {}
            for arch in args.archs:
                runs: dict[str, list[dict]] = {rev: [], "working tree": []}
                for r in range(args.reps):
                    for side in ((rev, "working tree") if r % 2 == 0 else ("working tree", rev)):
                        res = _run(old if side == rev else ROOT, arch)
                        runs[side].append(res)
                        print(f"{arch:10s} {side:12s} {res['epoch_s']:7.2f} s ({res['precision']})", file=sys.stderr, flush=True)
                best = {side: min(x["epoch_s"] for x in v) for side, v in runs.items()}
                rows[arch] = {"best_epoch_s": best, "ratio_new_over_old": best["working tree"] / best[rev], "runs": runs}
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, capture_output=True)
    doc = {"old": rev, "new": f"{head} + working tree", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "load_average": os.getloadavg(), "archs": rows}
    RESULTS.write_text(json.dumps(doc, indent=2) + "\n")
    for arch, r in rows.items():
        print(f"{arch:10s} {rev}: {r['best_epoch_s'][rev]:7.2f} s  now: {r['best_epoch_s']['working tree']:7.2f} s  "
              f"ratio {r['ratio_new_over_old']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
