"""The on-disk format of a trial's model: its k fold models, averaged.

A trial writes this directory as its Ray checkpoint, the driver logs it as the `ensemble` artifact of the
MLflow pyfunc model (pyfunc_model.py), and a registered model loads it back. Layout:

    model.json            architecture, hparams, seq_len, use_accessibility, rc_average, n_folds, the
                          input encoding, the seqsweep version and whatever `extra` the trial adds
    fold0.safetensors     the weights of fold model 0 (one file per fold)
    fold1.safetensors     ...

Weights are stored with safetensors and read back with `safetensors.torch.load_file`, never with
`torch.load` or pickle: a registered model is something people download and load, and loading must not run
code planted in the artifact store. Any other file in the directory is ignored, not even opened.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

import seqsweep
from seqsweep.data.dataset import ALPHABET
from seqsweep.errors import DataError, ModelError

log = logging.getLogger(__name__)

MODEL_JSON = "model.json"
#: Bump when the layout changes in a way an older loader would misread.
FORMAT_VERSION = 1


def fold_file(k: int) -> str:
    return f"fold{k}.safetensors"


def encoding_meta(seq_len: int) -> dict[str, Any]:
    """How sequences become model input; stored with every model so a user can reproduce it elsewhere."""
    return {"alphabet": ALPHABET, "unknown": "zeros", "case": "insensitive", "length": seq_len}


def _json_default(value: Any) -> Any:
    # Optuna and numpy hand out numpy scalars (np.int64 filters, np.float32 rates); JSON wants Python ones.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"model.json: cannot store {type(value).__name__} value {value!r}")


def save_ensemble(
    out_dir: str | Path,
    *,
    architecture: str,
    hparams: dict[str, Any],
    seq_len: int,
    use_accessibility: bool,
    rc_average: bool,
    state_dicts: list[dict[str, torch.Tensor]],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write the fold models' weights (safetensors) and model.json into `out_dir` (created if missing).

    Returns the directory. `out_dir` may already exist (a Ray checkpoint's temporary directory).
    """
    if not state_dicts:
        raise ModelError(f"save_ensemble({out_dir}): an ensemble needs at least one fold model, got none")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for k, state in enumerate(state_dicts):
        tensors: dict[str, torch.Tensor] = {}
        for key, value in state.items():
            if not isinstance(value, torch.Tensor):
                raise ModelError(
                    f"save_ensemble: fold {k}: state dict entry {key!r} must be a tensor, got {type(value).__name__}"
                )
            # safetensors needs contiguous CPU tensors that share no memory (tied weights would share it),
            # so each entry gets its own copy.
            tensors[key] = value.detach().to("cpu").contiguous().clone()
        save_file(tensors, str(out / fold_file(k)))
    meta = {
        "format_version": FORMAT_VERSION,
        "architecture": architecture,
        "hparams": dict(hparams),
        "seq_len": int(seq_len),
        "use_accessibility": bool(use_accessibility),
        "rc_average": bool(rc_average),
        "n_folds": len(state_dicts),
        "encoding": encoding_meta(int(seq_len)),
        "seqsweep_version": seqsweep.__version__,
        "torch_version": torch.__version__,
        **(extra or {}),
    }
    (out / MODEL_JSON).write_text(json.dumps(meta, indent=2, sort_keys=True, default=_json_default) + "\n")
    log.debug("saved a %d-fold %s ensemble to %s", len(state_dicts), architecture, out)
    return out


@dataclass(frozen=True)
class Ensemble:
    """k fold models whose probabilities are averaged.

    meta:   the content of model.json.
    models: the fold models, on CPU, in eval mode.
    """

    meta: dict[str, Any]
    models: list[nn.Module]

    @property
    def seq_len(self) -> int:
        return int(self.meta["seq_len"])

    @property
    def use_accessibility(self) -> bool:
        return bool(self.meta["use_accessibility"])

    @property
    def rc_average(self) -> bool:
        return bool(self.meta["rc_average"])

    def _check_accessibility(self, a: Any, n: int) -> np.ndarray | None:
        if not self.use_accessibility:
            return None  # the models ignore it; accept whatever the caller has
        if a is None:
            raise DataError(
                f"this model ({self.meta['architecture']}) was trained with accessibility: "
                "pass one accessibility value per sequence (column 'accessibility')"
            )
        arr = np.asarray(a, dtype=np.float32).reshape(-1)
        if arr.shape[0] != n:
            raise DataError(f"accessibility: expected {n} values (one per sequence), got {arr.shape[0]}")
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            i = int(bad[0])
            raise DataError(f"accessibility: row {i}: must be a finite number, got {arr[i]}")
        return arr

    def predict_proba(self, X: np.ndarray, a: Any = None, *, batch_size: int | None = None) -> np.ndarray:
        """X (N, L, 4) uint8 one-hot, a (N,) or None -> (N,) float64 mean over the fold models of sigmoid(logit).
        batch_size: rows per forward pass, default train.EVAL_BATCH_SIZE."""
        from seqsweep.train import EVAL_BATCH_SIZE, predict_proba  # the same averaging the trial was scored with

        X = np.asarray(X)
        if X.ndim != 3 or X.shape[1:] != (self.seq_len, 4):
            raise DataError(f"input must have shape (N, {self.seq_len}, 4) (one-hot A,C,G,T), got {X.shape}")
        a_checked = self._check_accessibility(a, X.shape[0])
        if X.shape[0] == 0:
            return np.zeros(0, dtype=np.float64)
        p = predict_proba(
            self.models, X, a_checked, batch_size=EVAL_BATCH_SIZE if batch_size is None else batch_size, rc_average=self.rc_average, device="cpu"
        )
        return np.asarray(p, dtype=np.float64)

    def predict_sequences(self, seqs: Sequence[str], a: Any = None, *, batch_size: int | None = None) -> np.ndarray:
        """DNA strings (any case; N/IUPAC allowed) -> (N,) probabilities. Wrong length -> DataError."""
        from seqsweep.data import encode

        seqs = list(seqs)
        L = self.seq_len
        for i, s in enumerate(seqs):
            # Checked here so the message says what the *model* expects; encode checks the letters.
            if isinstance(s, str) and len(s) != L:
                raise DataError(f"sequence {i} has length {len(s)}, the model expects {L}")
        X = encode(seqs, source="sequences", length=L)  # (N, L, 4) uint8
        return self.predict_proba(X, a, batch_size=batch_size)


def read_meta(model_dir: str | Path) -> dict[str, Any]:
    """model.json of an ensemble directory, checked enough to build the models from it."""
    path = Path(model_dir) / MODEL_JSON
    if not path.is_file():
        raise ModelError(f"{model_dir}: no {MODEL_JSON}; not a seqsweep model directory")
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ModelError(f"{path}: cannot read model metadata: {e}") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{path}: must hold a JSON object, got {type(meta).__name__}")
    required = ("architecture", "hparams", "seq_len", "use_accessibility", "rc_average", "n_folds")
    missing = [k for k in required if k not in meta]
    if missing:
        raise ModelError(f"{path}: missing key(s) {', '.join(missing)}")
    version = meta.get("format_version", 1)
    if version > FORMAT_VERSION:
        raise ModelError(
            f"{path}: format_version {version} is newer than this seqsweep reads ({FORMAT_VERSION}); upgrade seqsweep"
        )
    alphabet = meta.get("encoding", {}).get("alphabet", ALPHABET)
    if alphabet != ALPHABET:
        raise ModelError(f"{path}: encoding alphabet must be {ALPHABET!r}, got {alphabet!r}")
    n_folds = meta["n_folds"]
    if not (isinstance(n_folds, int) and n_folds >= 1):
        raise ModelError(f"{path}: n_folds must be an integer >= 1, got {n_folds!r}")
    return meta


def load_ensemble(model_dir: str | Path) -> Ensemble:
    """Build the fold models from model.json and load their safetensors weights (no pickle anywhere)."""
    from seqsweep.models import create_model

    model_dir = Path(model_dir)
    meta = read_meta(model_dir)
    models: list[nn.Module] = []
    for k in range(meta["n_folds"]):
        weights = model_dir / fold_file(k)
        if not weights.is_file():
            raise ModelError(f"{model_dir}: missing {weights.name} (model.json says n_folds={meta['n_folds']})")
        model = create_model(
            meta["architecture"],
            seq_len=int(meta["seq_len"]),
            use_accessibility=bool(meta["use_accessibility"]),
            **meta["hparams"],
        )
        state = load_file(str(weights), device="cpu")
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as e:
            # e.g. weights from a different architecture version; torch's message lists the keys
            first = str(e).strip().splitlines()
            raise ModelError(f"{weights}: weights do not fit {meta['architecture']}: {' '.join(first)}") from None
        model.eval()
        models.append(model)
    log.debug("loaded a %d-fold %s ensemble from %s", len(models), meta["architecture"], model_dir)
    return Ensemble(meta=meta, models=models)
