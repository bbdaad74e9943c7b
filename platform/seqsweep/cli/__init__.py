"""The `seqsweep` command (`main(argv) -> int`): the only package that prints or exits.

    __init__.py  the parser, logging, main   commands.py  one function per subcommand   format.py  the tables

Exit codes: 0 success; 1 a sweep in which some trials failed (or none completed); 2 bad input (one line on
stderr naming the file, key or row and the rule broken); 130 interrupted (Ctrl-C); 143 stopped by SIGTERM (as on
Ctrl-C: trials stopped, runs KILLED, Tune state saved for --resume). `ui`, `serve` and `dashboard` pass a signal
on to everything their server started and exit 128 + its number.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from seqsweep import __version__, processes
from seqsweep.cli.commands import (
    cmd_dashboard,
    cmd_data_check,
    cmd_explain,
    cmd_data_synth,
    cmd_models_list,
    cmd_models_show,
    cmd_predict,
    cmd_promote,
    cmd_serve,
    cmd_sweep,
    cmd_ui,
    err,
)
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
    c = d.add_parser("check", help="validate a dataset (or a job's data) and print a summary")
    c.add_argument("path", help="a dataset, or a job (.yaml): its data as the sweep prepares it")
    c.add_argument("--labels", default=None, help="CSV of labels by id (for a FASTA without labels)")
    c.add_argument("--task", choices=("binary", "multilabel", "multiclass"), default="binary", help="how to read the labels")
    c.add_argument("--length", type=int, default=None, help="pad (with N) and trim sequences to this length")
    c.add_argument("--pad", choices=("right", "left", "center"), default="right", help="where --length pads")
    c.set_defaults(func=cmd_data_check)
    y = d.add_parser("synth", help="write a synthetic dataset: JUND-like binary or multilabel shards, or a multiclass CSV")
    y.add_argument("--out", required=True)
    y.add_argument("--task", choices=("binary", "multilabel", "multiclass", "peaks"), default="binary",
                   help="peaks: a genome FASTA, narrowPeak and bigWig in the folder --out")
    y.add_argument("--n", type=int, default=20000)
    y.add_argument("--positive-rate", type=float, default=0.02, help="binary only")
    y.add_argument("--tasks", type=int, default=20, help="multilabel only: the number of targets")
    y.add_argument("--seed", type=int, default=0)
    y.set_defaults(func=cmd_data_synth)

    m = sub.add_parser("models", help="architectures and registered models").add_subparsers(dest="models_command", required=True)
    ml = m.add_parser("list", help="architectures and registered models; with NAME, that model's versions")
    ml.add_argument("name", nargs="?", default=None)
    ml.set_defaults(func=cmd_models_list)
    ms = m.add_parser("show", help="one model version: NAME@ALIAS or NAME/VERSION")
    ms.add_argument("ref")
    ms.set_defaults(func=cmd_models_show)

    ex = sub.add_parser("explain", help="what a model version learned: attributions, motifs matched to JASPAR, variant effects")
    ex.add_argument("model", help="e.g. models:/jund@champion or jund/3")
    ex.add_argument("--data", default=None, help="sequences to explain (default: the version's held-out data)")
    ex.add_argument("--n", type=int, default=2000, help="at most this many positives per output (a seeded sample)")
    ex.add_argument("--variants", default=None, help="CSV of sequence, position (1-based), ref, alt [, id]")
    ex.add_argument("--genome", default=None, help="a genome FASTA: --variants is then a VCF on it")
    ex.add_argument("--method", choices=("auto", "deeplift_shap", "ism"), default="auto",
                    help="attributions: auto = DeepLIFT/SHAP where it converges on the architecture, else ISM")
    ex.add_argument("--top-tasks", type=int, default=3, help="multilabel: explain the tasks with the most positives")
    ex.add_argument("--out", default=None, help="also keep the report's files in this directory")
    ex.add_argument("--seed", type=int, default=0)
    ex.set_defaults(func=cmd_explain)

    pr = sub.add_parser("promote", help="move the champion alias to a version")
    pr.add_argument("name")
    pr.add_argument("version")
    pr.add_argument("--force", action="store_true", help="promote even if the current champion scored better")
    pr.set_defaults(func=cmd_promote)

    pd_ = sub.add_parser("predict", help="predict sequences from a FASTA, CSV/TSV or shard folder, or regions on a genome")
    pd_.add_argument("--model", required=True, help="e.g. models:/quickstart@champion")
    pd_.add_argument("--input", help="sequences: FASTA, CSV/TSV or a shard folder")
    pd_.add_argument("--genome", help="a genome FASTA, with --regions: score windows of it")
    pd_.add_argument("--regions", help="a BED or narrowPeak file: one window centred on each region")
    pd_.add_argument("--signal", help="with --regions: a bigWig for a model trained with accessibility")
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
        err(f"seqsweep: error: {exc}")
        return 2
    except KeyboardInterrupt:
        err("interrupted")
        return processes.interrupt_exit_code()


def entrypoint() -> None:
    sys.exit(main())
