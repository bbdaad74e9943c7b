"""A trial's model: its k fold models, averaged; how it scores sequences, and its on-disk format.

Scoring lives here, next to the ensemble, so serving needs no trainer: the trainer scores its validation
folds with the same `strand_logits`, and `predict_proba` is what CV scored and what the pyfunc model serves.

A trial writes the directory below as its Ray checkpoint, the driver logs it as the `ensemble` artifact of
the MLflow pyfunc model (pyfunc_model.py), and a registered model loads it back. Layout:

    model.json            architecture, hparams, seq_len, use_accessibility, rc_average, n_folds, the task
                          (type and output names), the input encoding (with data.length's padding and
                          trimming), the seqsweep version and whatever `extra` the trial adds
    fold0.safetensors     the weights of fold model 0 (one file per fold)
    fold1.safetensors     ...

A sweep's final model can be the ensemble of several trials (registry.top_k): its directory holds one such
fold-ensemble directory per trial, `member0/`, `member1/`, ..., each exactly as above, and a model.json of
format 3 that names them (`members`) next to what serving reads (seq_len, use_accessibility, task, encoding).
Its probability is the mean over every fold model of every member; older directories load unchanged.

Weights are stored with safetensors and read back with `safetensors.torch.load_file`, never with
`torch.load` or pickle: a registered model is something people download and load, and loading must not run
code planted in the artifact store. Any other file in the directory is ignored, not even opened.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

import seqsweep
from seqsweep.data.dataset import ALPHABET
from seqsweep.data.encoding import Length
from seqsweep.errors import DataError, ModelError
from seqsweep.tasks import BINARY, Task

log = logging.getLogger(__name__)

MODEL_JSON = "model.json"
#: Bump when the layout changes in a way an older loader would misread. 2: task and padding (a model
#: without them, format 1, is a binary model of one fixed length and still loads).
FORMAT_VERSION = 2
#: An ensemble of trials: member directories of FORMAT_VERSION, named in model.json's `members`.
TRIAL_ENSEMBLE_FORMAT = 3
_MEMBER_NAME = re.compile(r"^member[0-9]{1,3}$")  # a member is a plain sub-directory: no path can leave the model
# Rows per forward pass when scoring and predicting (no autograd): larger batches spill the activations out
# of cache (docs/design.md#eval-batch). deepbind splits its batches further (models/cnn.py).
EVAL_BATCH_SIZE = 1024


def fold_file(k: int) -> str:
    return f"fold{k}.safetensors"


def encoding_meta(seq_len: int, length: Length | None = None) -> dict[str, Any]:
    """How sequences become model input; stored with every model so a user can reproduce it elsewhere.
    With `length` (data.length), sequences of any length are padded with N and trimmed to seq_len."""
    meta: dict[str, Any] = {"alphabet": ALPHABET, "unknown": "zeros", "case": "insensitive", "length": seq_len}
    if length is not None:
        meta["pad"], meta["trim"] = length.pad, length.trim
    return meta


# --------------------------------------------------------------------------------------------------------
# Scoring


def onehot_to_tensor(X: np.ndarray, device: torch.device) -> torch.Tensor:
    """(N, L, 4) uint8 numpy -> (N, 4, L) float32 tensor on `device` (uint8 is moved: 4x less to copy)."""
    X = np.require(X, dtype=np.uint8, requirements=["C", "W"])  # torch.from_numpy wants writable memory
    x = torch.from_numpy(X).to(device)  # (N, L, 4) uint8
    return x.permute(0, 2, 1).contiguous().float()  # (N, L, 4) -> (N, 4, L) float32


_CODES: dict[torch.device, torch.Tensor] = {}


def tokens_to_tensor(tokens: np.ndarray, device: torch.device) -> torch.Tensor:
    """(B, L) uint8 tokens -> (B, 4, L) float32 one-hot on `device` (token 4, N, is all zeros). Only the tokens
    travel to the device; the one-hot is made there in one pass, by comparing each token with the codes 0..3
    (as fast as indexing a float32 copy of the whole dataset was; a (5, 4) table lookup then a transpose took
    twice as long)."""
    codes = _CODES.get(device)
    if codes is None:
        codes = _CODES[device] = torch.arange(4, dtype=torch.uint8, device=device)[None, :, None]  # (1, 4, 1)
    t = torch.from_numpy(np.ascontiguousarray(tokens)).to(device)  # (B, L) uint8
    return (t.unsqueeze(1) == codes).float()  # (B, 1, L) vs (1, 4, 1) -> (B, 4, L)


def span_mask(spans: torch.Tensor, length: int) -> torch.Tensor:
    """(B, 2) [start, end) -> (B, length) bool, True at real sequence positions."""
    pos = torch.arange(length, device=spans.device)
    return (pos >= spans[:, :1]) & (pos < spans[:, 1:])


def strand_logits(
    model: nn.Module, x: torch.Tensor, a: torch.Tensor | None, mask: torch.Tensor | None, rc_average: bool
) -> torch.Tensor:
    """x (B, 4, L) -> logits (B,) or (B, K), averaged over x and its reverse complement when rc_average.

    A model that is strand-invariant by construction (deepbind with both_strands) gives the same logit for
    both strands, so its second pass is skipped: half the cost of evaluation and inference.
    """
    logits = model(x, a) if mask is None else model(x, a, mask)
    if rc_average and not getattr(model, "strand_invariant", False):
        rc_mask = None if mask is None else mask.flip(-1)
        logits = 0.5 * (logits + (model(x.flip(1, 2), a) if mask is None else model(x.flip(1, 2), a, rc_mask)))
    return logits


def activation(task: Task, logits: torch.Tensor) -> torch.Tensor:
    """Logits -> probabilities: a sigmoid per output (binary, multilabel) or a softmax over classes."""
    return torch.softmax(logits.float(), dim=-1) if task.single_label else torch.sigmoid(logits.float())


@torch.inference_mode()
def predict_proba(
    models: Sequence[nn.Module],
    X: np.ndarray,
    a: np.ndarray | None = None,
    spans: np.ndarray | None = None,
    *,
    task: Task = BINARY,
    batch_size: int = EVAL_BATCH_SIZE,
    rc_average: bool,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Ensemble probabilities for one-hot X (N, L, 4) uint8 [, accessibility a (N,), spans (N, 2)]:
    (N,) float32 for binary, (N, K) for K tasks or classes.

    Each model's logits are averaged over the two strands when rc_average; the ensemble is the mean over the
    models of their probabilities (sigmoid, or softmax over classes): a fold ensemble averages PROBABILITIES
    (docs/design.md#ensemble). The models are put in eval mode and must already be on `device`.
    """
    if len(models) == 0:
        raise ValueError("predict_proba: needs at least one model")
    X = np.asarray(X)
    if X.ndim != 3 or X.shape[2] != 4:
        raise DataError(f"X: must be one-hot sequences of shape (N, L, 4), got shape {X.shape}")
    if a is not None and np.shape(a) != (X.shape[0],):
        raise DataError(f"accessibility: must have shape ({X.shape[0]},) to match X, got {np.shape(a)}")
    device = torch.device(device)
    for m in models:
        m.eval()
    width = task.n_outputs
    out = np.empty((X.shape[0],) if width == 1 and task.type == "binary" else (X.shape[0], width), dtype=np.float32)
    for start in range(0, X.shape[0], batch_size):
        # convert batch by batch so a large input never exists as a float32 copy all at once
        x = onehot_to_tensor(X[start : start + batch_size], device)  # (B, 4, L)
        ab = None if a is None else torch.as_tensor(np.asarray(a[start : start + batch_size]), dtype=torch.float32, device=device)
        mask = None
        if spans is not None:
            mask = span_mask(torch.as_tensor(spans[start : start + batch_size], device=device), x.shape[2])
        p = torch.zeros((x.shape[0], *out.shape[1:]), device=device)
        for m in models:
            p += activation(task, strand_logits(m, x, ab, mask, rc_average)).reshape(p.shape)
        out[start : start + x.shape[0]] = (p / len(models)).cpu().numpy()
    return out


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
    task: Task = BINARY,
    length: Length | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write the fold models' weights (safetensors) and model.json into `out_dir` (created if missing).

    task: what the models predict (their output names); length: data.length, when the models were trained
    on padded sequences (then sequences of any length are padded and trimmed as in training).
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
        "task": task.to_dict(),
        "encoding": encoding_meta(int(seq_len), length),
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
    members: tuple["Ensemble", ...] = ()  # an ensemble of trials: one fold ensemble per trial (models: all)

    @property
    def seq_len(self) -> int:
        return int(self.meta["seq_len"])

    @property
    def use_accessibility(self) -> bool:
        return bool(self.meta["use_accessibility"])

    @property
    def rc_average(self) -> bool:
        return bool(self.meta.get("rc_average", False))

    @property
    def task(self) -> Task:
        return Task.from_dict(self.meta.get("task"))

    @property
    def length(self) -> Length | None:
        """data.length as trained (sequences of other lengths are padded and trimmed), or None (one length)."""
        enc = self.meta.get("encoding", {})
        if "pad" not in enc:
            return None
        return Length(to=self.seq_len, pad=enc["pad"], trim=enc.get("trim", "right"))

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

    def predict_proba(
        self, X: np.ndarray, a: Any = None, spans: np.ndarray | None = None, *, batch_size: int | None = None
    ) -> np.ndarray:
        """X (N, L, 4) uint8 one-hot, a (N,) or None, spans (N, 2) or None -> the mean over the fold models of
        their probabilities, float64: (N,) for binary, (N, K) for K tasks or classes."""
        X = np.asarray(X)
        if X.ndim != 3 or X.shape[1:] != (self.seq_len, 4):
            raise DataError(f"input must have shape (N, {self.seq_len}, 4) (one-hot A,C,G,T), got {X.shape}")
        a_checked = self._check_accessibility(a, X.shape[0])
        if X.shape[0] == 0:
            return np.zeros((0,) if self.task.type == "binary" else (0, self.task.n_outputs), dtype=np.float64)
        if self.members:
            # the mean over all fold models of all members: each member's mean weighted by its model count
            total = sum(len(m.models) for m in self.members)
            p = sum(
                m.predict_proba(X, a_checked if m.use_accessibility else None, spans, batch_size=batch_size)
                * (len(m.models) / total)
                for m in self.members
            )
            return np.asarray(p, dtype=np.float64)
        p = predict_proba(
            self.models, X, a_checked, spans, task=self.task, rc_average=self.rc_average, device="cpu",
            batch_size=EVAL_BATCH_SIZE if batch_size is None else batch_size,
        )
        return np.asarray(p, dtype=np.float64)

    def check_lengths(self, lengths: Sequence[int], where: Callable[[int], str] = lambda i: f"sequence {i}") -> None:
        """Sequences of another length than seq_len are refused by a fixed-length model (one without data.length)."""
        if self.length is not None:
            return
        bad = [i for i, n in enumerate(lengths) if n != self.seq_len]
        if bad:
            i = bad[0]
            more = f" ({len(bad)} sequences have another length)" if len(bad) > 1 else ""
            raise DataError(f"{where(i)} has length {lengths[i]}, the model expects {self.seq_len}{more}")

    def encode(self, seqs: Sequence[str]) -> tuple[np.ndarray, np.ndarray | None]:
        """DNA strings -> (X (N, seq_len, 4), spans or None) as in training: padded and trimmed when the model
        was trained with data.length, else every string must have the model's length."""
        from seqsweep.data import encode
        from seqsweep.data.encoding import encode_to_length

        seqs = list(seqs)
        if self.length is not None:
            return encode_to_length(seqs, self.length, source="sequences")
        self.check_lengths([len(s) if isinstance(s, str) else self.seq_len for s in seqs])
        return encode(seqs, source="sequences", length=self.seq_len), None

    def predict_sequences(self, seqs: Sequence[str], a: Any = None, *, batch_size: int | None = None) -> np.ndarray:
        """DNA strings (any case; N/IUPAC allowed) -> probabilities as predict_proba. A wrong length -> DataError
        (for a model trained without data.length)."""
        X, spans = self.encode(seqs)
        return self.predict_proba(X, a, spans, batch_size=batch_size)


def save_trial_ensemble(out_dir: str | Path, members: Sequence[Ensemble], *, extra: dict[str, Any] | None = None) -> Path:
    """Write an ensemble of trials: each member (a loaded fold ensemble) into `member{i}/`, and a model.json
    naming them. The members must predict the same task from sequences of the same length and encoding."""
    if len(members) < 2:
        raise ModelError(f"save_trial_ensemble({out_dir}): an ensemble of trials needs at least 2, got {len(members)}")
    first = members[0]
    for i, m in enumerate(members[1:], 1):
        for what, mine, theirs in (("task", m.task.to_dict(), first.task.to_dict()), ("seq_len", m.seq_len, first.seq_len),
                                   ("encoding", m.meta.get("encoding"), first.meta.get("encoding"))):
            if mine != theirs:
                raise ModelError(f"save_trial_ensemble: member {i} has {what} {mine!r}, member 0 {theirs!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for i, m in enumerate(members):
        name = f"member{i}"
        if m.members:
            raise ModelError(f"save_trial_ensemble: member {i} is itself an ensemble of trials")
        keep = {k: v for k, v in m.meta.items() if k not in _FOLD_ENSEMBLE_KEYS}
        save_ensemble(
            out / name, architecture=m.meta["architecture"], hparams=m.meta["hparams"], seq_len=m.seq_len,
            use_accessibility=m.use_accessibility, rc_average=m.rc_average,
            state_dicts=[{k: t for k, t in model.state_dict().items()} for model in m.models],
            task=m.task, length=m.length, extra=keep,
        )
        names.append(name)
    architectures = [m.meta["architecture"] for m in members]
    meta = {
        "format_version": TRIAL_ENSEMBLE_FORMAT,
        "architecture": "ensemble of " + ", ".join(architectures),
        "members": names,
        "seq_len": first.seq_len,
        "use_accessibility": any(m.use_accessibility for m in members),
        "n_models": sum(len(m.models) for m in members),
        "task": first.task.to_dict(),
        "encoding": first.meta.get("encoding", encoding_meta(first.seq_len, first.length)),
        "seqsweep_version": seqsweep.__version__,
        "torch_version": torch.__version__,
        **(extra or {}),
    }
    (out / MODEL_JSON).write_text(json.dumps(meta, indent=2, sort_keys=True, default=_json_default) + "\n")
    log.debug("saved an ensemble of %d trials (%s) to %s", len(members), ", ".join(architectures), out)
    return out


# what save_ensemble writes itself; the rest of a member's model.json (config, epochs, ...) is carried over
_FOLD_ENSEMBLE_KEYS = {"format_version", "architecture", "hparams", "seq_len", "use_accessibility", "rc_average",
                       "n_folds", "task", "encoding", "seqsweep_version", "torch_version"}


def copy_model_files(src: str | Path, dst: str | Path) -> Path:
    """Copy what a model directory consists of (model.json, the fold weights, the member directories) from
    `src` to `dst`, leaving out whatever else a trial's checkpoint holds (its out-of-fold predictions)."""
    src, dst = Path(src), Path(dst)
    meta = read_meta(src)
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / MODEL_JSON, dst / MODEL_JSON)
    if "members" in meta:
        for name in meta["members"]:
            copy_model_files(src / name, dst / name)
        return dst
    for k in range(meta["n_folds"]):
        shutil.copy2(src / fold_file(k), dst / fold_file(k))
    return dst


def _read_members(path: Path, meta: dict[str, Any]) -> None:
    members = meta["members"]
    if not (isinstance(members, list) and len(members) >= 2):
        raise ModelError(f"{path}: members must list at least 2 member directories, got {members!r}")
    for name in members:
        if not (isinstance(name, str) and _MEMBER_NAME.match(name)):
            raise ModelError(f"{path}: a member must be named member<N>, got {name!r}")


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
    version = meta.get("format_version", 1)
    if not isinstance(version, int) or version > TRIAL_ENSEMBLE_FORMAT:
        raise ModelError(
            f"{path}: format_version {version} is newer than this seqsweep reads ({TRIAL_ENSEMBLE_FORMAT}); upgrade seqsweep"
        )
    trials = version >= TRIAL_ENSEMBLE_FORMAT
    required = ("architecture", "members", "seq_len", "use_accessibility") if trials else (
        "architecture", "hparams", "seq_len", "use_accessibility", "rc_average", "n_folds")
    missing = [k for k in required if k not in meta]
    if missing:
        raise ModelError(f"{path}: missing key(s) {', '.join(missing)}")
    try:
        Task.from_dict(meta.get("task"))
    except (KeyError, TypeError, ValueError) as e:
        raise ModelError(f"{path}: task must be {{type, names}} with a known type, got {meta.get('task')!r} ({e})") from None
    alphabet = meta.get("encoding", {}).get("alphabet", ALPHABET)
    if alphabet != ALPHABET:
        raise ModelError(f"{path}: encoding alphabet must be {ALPHABET!r}, got {alphabet!r}")
    if trials:
        _read_members(path, meta)
        return meta
    n_folds = meta["n_folds"]
    if not (isinstance(n_folds, int) and n_folds >= 1):
        raise ModelError(f"{path}: n_folds must be an integer >= 1, got {n_folds!r}")
    return meta


def load_ensemble(model_dir: str | Path) -> Ensemble:
    """Build the fold models from model.json and load their safetensors weights (no pickle anywhere)."""
    from seqsweep.models import create_model

    model_dir = Path(model_dir)
    meta = read_meta(model_dir)
    if "members" in meta:
        members = tuple(load_ensemble(model_dir / name) for name in meta["members"])
        for name, m in zip(meta["members"], members):
            if m.members or m.task.to_dict() != Task.from_dict(meta.get("task")).to_dict() or m.seq_len != int(meta["seq_len"]):
                raise ModelError(f"{model_dir / name}: does not fit the ensemble's task and sequence length ({MODEL_JSON})")
        models = [model for m in members for model in m.models]
        log.debug("loaded an ensemble of %d trials (%d models) from %s", len(members), len(models), model_dir)
        return Ensemble(meta=meta, models=models, members=members)
    models: list[nn.Module] = []
    for k in range(meta["n_folds"]):
        weights = model_dir / fold_file(k)
        if not weights.is_file():
            raise ModelError(f"{model_dir}: missing {weights.name} (model.json says n_folds={meta['n_folds']})")
        model = create_model(
            meta["architecture"],
            seq_len=int(meta["seq_len"]),
            use_accessibility=bool(meta["use_accessibility"]),
            n_outputs=Task.from_dict(meta.get("task")).n_outputs,
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
