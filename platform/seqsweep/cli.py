"""The `seqsweep` command. The only module that prints or exits.

Exit codes: 0 success; 1 a sweep in which some trials failed (or none completed); 2 bad input (one line on
stderr naming the file, key or row and the rule broken); 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from seqsweep import __version__, store
from seqsweep.errors import SeqsweepError

log = logging.getLogger("seqsweep")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("seqsweep").setLevel(logging.INFO)
    if not verbose:
        for noisy in ("ray", "mlflow", "optuna", "alembic", "urllib3", "matplotlib"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
        # Progress is ours (one line per trial): MLflow's per-model progress bars and INFO lines and Tune's
        # snapshot warnings would drown it.
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
        import warnings

        warnings.filterwarnings("ignore")
        try:
            import optuna

            optuna.logging.set_verbosity(optuna.logging.WARNING)
        except ImportError:
            pass


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------------------
# sweep
# ------------------------------------------------------------------------------------------------------------
def _leaderboard(result, top: int = 10) -> str:
    metric = result.metric
    rows = sorted(
        (r for r in result.records if r.status != "failed"),
        key=lambda r: r.last.get(metric, float("-inf")),
        reverse=True,
    )[:top]
    head = f"{'trial':>5}  {'architecture':<12} {metric + ' (± std)':<30} {'roc_auc':>7} {'pr_auc':>7} {'epochs':>6} {'secs':>6}  status"
    lines = [head, "-" * len(head)]
    for r in rows:
        m, s = r.last.get(metric, float("nan")), r.last.get(f"{metric}_std", float("nan"))
        lines.append(
            f"{r.number:>5}  {str(r.config.get('architecture')):<12} {f'{m:.4f} ± {s:.4f}':<30} "
            f"{r.last.get('cv_roc_auc', float('nan')):>7.4f} {r.last.get('cv_pr_auc', float('nan')):>7.4f} "
            f"{int(r.last.get('epoch', 0)):>6} {r.seconds:>6.1f}  {r.status}"
        )
    return "\n".join(lines)


def cmd_sweep(args: argparse.Namespace) -> int:
    from seqsweep import sweep
    from seqsweep.config import load_job

    job = load_job(args.job, args.set)
    if args.dry_run:
        report = sweep.dry_run(job)
        print(f"job {job.name}: OK ({args.job})")
        print(f"data: {report.data['rows']} rows, {report.data['positives']} positives, length {report.data['length']}, "
              f"held-out rows {report.data['test_rows']}, {report.folds} folds")
        for arch, n in report.architectures.items():
            print(f"  {arch:<12} builds ({n:,} parameters)")
        return 0

    _err(f"sweep {job.name}: {job.search.num_trials} trials, {job.cv.folds}-fold CV, "
         f"up to {job.search.max_concurrent} at a time, tracking {store.redact(store.tracking_uri(job.tracking.uri))}")
    try:
        result = sweep.run(job, resume=args.resume, verbose=args.verbose, emit=_err)
    except KeyboardInterrupt:
        _err(f"interrupted. Continue this sweep with: seqsweep sweep {args.job} --resume")
        return 130
    if result.interrupted:
        _err(f"interrupted. Continue this sweep with: seqsweep sweep {args.job} --resume")
        return 130

    print()
    print(_leaderboard(result))
    print()
    n = {s: sum(r.status == s for r in result.records) for s in ("completed", "pruned", "failed")}
    print(f"{len(result.records)} trials: {n['completed']} completed, {n['pruned']} pruned, {n['failed']} failed "
          f"in {result.seconds:.0f}s (sweep {result.sweep_id})")
    for r in result.failed:
        print(f"  FAILED trial {r.number} {r.config}: {r.error}")
    for note in result.notes:
        print(f"NOTE: {note}")
    if result.best is None:
        print("no trial completed: nothing was registered" + (" (every trial failed)" if result.failed else ""))
    if result.model_version:
        d = result.decision
        print(f"registered {job.model_name} version {result.model_version} as 'challenger'; "
              f"{'PROMOTED to champion' if d.promoted else 'champion unchanged'}: {d.reason}")
    print(f"MLflow: {store.redact(result.uri)} experiment '{job.experiment_name}' (run `make ui` and open http://127.0.0.1:5000)")
    return result.exit_code


# ------------------------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------------------------
def cmd_data_check(args: argparse.Namespace) -> int:
    from seqsweep import data

    ds = data.load(args.path, labels=args.labels)
    print(data.format_summary(data.summary(ds)))
    return 0


def cmd_data_synth(args: argparse.Namespace) -> int:
    from seqsweep import data

    ds = data.synth(args.out, n=args.n, positive_rate=args.positive_rate, seed=args.seed)
    print(f"wrote {len(ds)} sequences ({ds.n_positive} positives) to {args.out}")
    return 0


# ------------------------------------------------------------------------------------------------------------
# models and registry
# ------------------------------------------------------------------------------------------------------------
def cmd_models_list(args: argparse.Namespace) -> int:
    from seqsweep import models

    if args.name is None:
        print("Architectures (seqsweep.models):")
        print(models.describe_models())
        db = Path(store.tracking_uri()[len("sqlite:///"):]) if store.tracking_uri().startswith("sqlite:///") else None
        if db is not None and not db.exists():
            return 0
    from seqsweep import registry

    rows = registry.list_versions(args.name)
    if args.name is None:
        print("\nRegistered models:" if rows else "\nRegistered models: none yet (run `make sweep`)")
    if rows:
        print(registry.format_versions(rows))
    return 0


def cmd_models_show(args: argparse.Namespace) -> int:
    from seqsweep import registry

    print(registry.format_show(registry.show(args.ref)))
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    from seqsweep import registry

    d = registry.promote(args.name, args.version, force=args.force)
    print(("promoted" if d.promoted else "not promoted") + f": {d.reason}")
    return 0 if d.promoted else 1


def cmd_predict(args: argparse.Namespace) -> int:
    from seqsweep import predict

    metrics = predict.predict_file(args.model, args.input, args.out, batch_size=args.batch_size,
                                   progress=not args.quiet)
    print(f"wrote {args.out}")
    for k in ("weighted_accuracy", "roc_auc", "pr_auc", "precision", "recall", "f1"):
        if k in metrics:
            print(f"  {k:<18} {metrics[k]:.4f}")
    return 0


def _exec(argv: list[str]) -> int:
    _err("$ " + " ".join(argv))
    # MLflow's servers start helpers (uvicorn, gunicorn) found through PATH: put this interpreter's bin/ first,
    # so `.venv/bin/seqsweep serve` works without an activated virtual environment.
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    try:
        return subprocess.call(argv)
    except KeyboardInterrupt:
        return 130


def cmd_serve(args: argparse.Namespace) -> int:
    from seqsweep import predict

    os.environ.setdefault("MLFLOW_TRACKING_URI", store.tracking_uri())
    return _exec(predict.serve_command(args.model, port=args.port, host=args.host))


def _mlflow_bin() -> str:
    return shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"


def cmd_ui(args: argparse.Namespace) -> int:
    uri = store.tracking_uri()
    argv = [_mlflow_bin(), "ui", "--backend-store-uri", uri, "--host", args.host, "--port", str(args.port)]
    if store.uses_embedded_store(uri):
        store.artifacts_dir().mkdir(parents=True, exist_ok=True)
        argv += ["--default-artifact-root", store.artifacts_dir().as_uri()]
    return _exec(argv)


def cmd_dashboard(args: argparse.Namespace) -> int:
    exe = shutil.which("optuna-dashboard", path=str(Path(sys.executable).parent))
    if exe is None:
        raise SeqsweepError("optuna-dashboard is not installed: pip install optuna-dashboard")
    db = store.mlruns_dir() / "optuna.db"
    if not db.exists():
        raise SeqsweepError(f"{db}: no Optuna studies yet (run a sweep first)")
    return _exec([exe, f"sqlite:///{db}", "--host", args.host, "--port", str(args.port)])


# ------------------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seqsweep", description="Hyperparameter sweeps and a model registry for DNA-sequence classifiers.")
    p.add_argument("--version", action="version", version=f"seqsweep {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("sweep", help="run a sweep job (YAML)")
    s.add_argument("job", help="a job file, e.g. jobs/quickstart.yaml")
    s.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE", help="override a job key (repeatable)")
    s.add_argument("--resume", action="store_true", help="continue the latest sweep of this job")
    s.add_argument("--dry-run", action="store_true", help="validate job and data, build one model per architecture, exit")
    s.add_argument("--verbose", "-v", action="store_true", help="Ray's own status table and worker logs")
    s.set_defaults(func=cmd_sweep)

    d = sub.add_parser("data", help="check or generate datasets").add_subparsers(dest="data_command", required=True)
    c = d.add_parser("check", help="validate a dataset and print a summary")
    c.add_argument("path")
    c.add_argument("--labels", default=None, help="CSV of labels by id (for a FASTA without labels)")
    c.set_defaults(func=cmd_data_check)
    y = d.add_parser("synth", help="write the synthetic JUND-like dataset (DeepChem shard format)")
    y.add_argument("--out", required=True)
    y.add_argument("--n", type=int, default=20000)
    y.add_argument("--positive-rate", type=float, default=0.02)
    y.add_argument("--seed", type=int, default=0)
    y.set_defaults(func=cmd_data_synth)

    m = sub.add_parser("models", help="architectures and registered models").add_subparsers(dest="models_command", required=True)
    ml = m.add_parser("list", help="architectures and registered models; with NAME, that model's versions")
    ml.add_argument("name", nargs="?", default=None)
    ml.set_defaults(func=cmd_models_list)
    ms = m.add_parser("show", help="one model version: NAME@ALIAS or NAME/VERSION")
    ms.add_argument("ref")
    ms.set_defaults(func=cmd_models_show)

    pr = sub.add_parser("promote", help="move the champion alias to a version")
    pr.add_argument("name")
    pr.add_argument("version")
    pr.add_argument("--force", action="store_true", help="promote even if the current champion scored better")
    pr.set_defaults(func=cmd_promote)

    pd_ = sub.add_parser("predict", help="predict sequences from a FASTA, CSV/TSV or shard folder")
    pd_.add_argument("--model", required=True, help="e.g. models:/quickstart@champion")
    pd_.add_argument("--input", required=True)
    pd_.add_argument("--out", required=True)
    pd_.add_argument("--batch-size", type=int, default=8192)
    pd_.add_argument("--quiet", action="store_true", help="no progress bar")
    pd_.set_defaults(func=cmd_predict)

    sv = sub.add_parser("serve", help="serve a model over HTTP with `mlflow models serve` (127.0.0.1)")
    sv.add_argument("--model", required=True)
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=5001)
    sv.set_defaults(func=cmd_serve)

    ui = sub.add_parser("ui", help="the MLflow UI over the local store (127.0.0.1)")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=5000)
    ui.set_defaults(func=cmd_ui)

    db = sub.add_parser("dashboard", help="optuna-dashboard over the sweeps' Optuna studies (127.0.0.1)")
    db.add_argument("--host", default="127.0.0.1")
    db.add_argument("--port", type=int, default=8080)
    db.set_defaults(func=cmd_dashboard)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(getattr(args, "verbose", False))
    try:
        return int(args.func(args))
    except SeqsweepError as exc:
        _err(f"seqsweep: error: {exc}")
        return 2
    except KeyboardInterrupt:
        _err("interrupted")
        return 130


def entrypoint() -> None:
    sys.exit(main())
