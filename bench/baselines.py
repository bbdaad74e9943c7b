"""Reference baselines for the task types beyond binary: what a learned model has to beat.

    kmer_logistic(train, test, k)          multilabel: one logistic regression per task; multiclass:
                                           multinomial; binary: one. On k-mer counts, both strands merged.
    frequency_baseline(y_train, C)         next_base: the training class frequencies (argmax: the commonest)
    markov_baseline(train_X, train_y, test_X, order, k)
                                           next_base: an order-m Markov chain, P(next k-mer | last m bases)
    roc_auc_per_output(ds, p)              ROC AUC of each task (or class, one-vs-rest) on measured rows

Importable functions, no CLI: bench measures and tests call them. Probabilities come back as numpy arrays
with one column per task / class, in the Dataset's task.names order.
"""

from __future__ import annotations

import numpy as np

from seqsweep.data.dataset import Dataset


# --------------------------------------------------------------------------------------------------------------
# k-mer logistic regression
# --------------------------------------------------------------------------------------------------------------
def kmer_features(X: np.ndarray, k: int = 6, batch_size: int = 4096):
    """Sparse (N, F) counts of every k-mer of lengths 1..k of X (N, L, 4) one-hot, a k-mer and its reverse
    complement in one column, windows holding an N (or padding) skipped. The counting of seqsweep's `kmer`
    architecture (tested against hand counts there), so this baseline and that model see the same features."""
    import torch
    from scipy import sparse

    from seqsweep.models import create_model

    counter = create_model("kmer", seq_len=X.shape[1], k_max=k)
    blocks = []
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            x = torch.as_tensor(np.asarray(X[start : start + batch_size]), dtype=torch.float32).transpose(1, 2)
            blocks.append(sparse.csr_matrix(counter.spectrum(x).numpy()))  # (B, 4, L) -> (B, F)
    return sparse.vstack(blocks).tocsr()


def kmer_logistic(train: Dataset, test: Dataset, k: int = 6, *, C: float = 0.01, max_iter: int = 2000) -> np.ndarray:
    """Logistic regression on max-abs-scaled k-mer counts (lengths 1..k, both strands merged), fitted on
    `train` with its weights `w` as sample weights, and the probabilities it gives the rows of `test`.

    multilabel: one binary model per task on its measured rows (w > 0) -> (N_test, T); a task whose
        measured training rows hold one class is skipped: its column is NaN.
    multiclass: one multinomial model -> (N_test, C), columns in task.names order (a class absent from
        train gets probability 0).
    binary: one model -> (N_test, 1).
    C (inverse L2 strength): 0.01 was best or within 0.003 of best held-out ROC AUC over C in 0.003..1 on both
    synth_multilabel(n=20000) and synth_multiclass(n=6000) with k = 6.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import MaxAbsScaler

    if train.task != test.task:
        raise ValueError(f"kmer_logistic: train is {train.task}, test is {test.task}")
    task = train.task
    if task.type == "next_base":
        raise ValueError("kmer_logistic: next_base rows have frequency_baseline and markov_baseline")
    Ftr, Fte = kmer_features(train.X, k), kmer_features(test.X, k)
    scaler = MaxAbsScaler().fit(Ftr)  # counts grow with length; max-abs keeps them sparse and comparable
    Ftr, Fte = scaler.transform(Ftr), scaler.transform(Fte)

    def fit(F, y, w):
        return LogisticRegression(C=C, max_iter=max_iter).fit(F, y, sample_weight=w)

    if task.type == "multiclass":
        n_classes = task.n_outputs
        clf = fit(Ftr, train.y, train.w)
        out = np.zeros((len(test), n_classes))
        out[:, clf.classes_.astype(np.int64)] = clf.predict_proba(Fte)
        return out
    y = train.y.reshape(len(train), -1)
    w = train.w.reshape(len(train), -1)
    out = np.full((len(test), y.shape[1]), np.nan)
    for t in range(y.shape[1]):
        rows = w[:, t] > 0
        if len(np.unique(y[rows, t])) < 2:
            continue
        out[:, t] = fit(Ftr[rows], y[rows, t], w[rows, t]).predict_proba(Fte)[:, 1]
    return out


def roc_auc_per_output(ds: Dataset, p: np.ndarray) -> np.ndarray:
    """(T,) ROC AUC of each output of p (N, T) against ds: per task on its measured rows (multilabel),
    one class against the rest (multiclass), the one output (binary). NaN where the rows hold one class or
    the output is NaN (a skipped task). Unweighted: class-balancing weights are constant within a class
    of a task, so they would not change it."""
    from sklearn.metrics import roc_auc_score

    p = np.asarray(p).reshape(len(ds), -1)
    if ds.task.type == "multiclass":
        truth = np.eye(ds.task.n_outputs, dtype=np.uint8)[ds.y]  # (N,) -> (N, C) one-vs-rest
        measured = np.ones_like(truth, dtype=bool)
    else:
        truth = ds.y.reshape(len(ds), -1)
        measured = ds.w.reshape(len(ds), -1) > 0
    out = np.full(p.shape[1], np.nan)
    for t in range(p.shape[1]):
        rows = measured[:, t] & np.isfinite(p[:, t])
        if rows.any() and len(np.unique(truth[rows, t])) == 2:
            out[t] = roc_auc_score(truth[rows, t], p[rows, t])
    return out


# --------------------------------------------------------------------------------------------------------------
# next_base: X (N, L, 4) one-hot context, y (N,) index of the following k-mer in seqsweep.tasks.kmer_names(k)
# order (A,C,G,T = 0..3, first base most significant)
# --------------------------------------------------------------------------------------------------------------
def frequency_baseline(y_train: np.ndarray, C: int) -> np.ndarray:
    """(C,) class probabilities from the training labels with add-one smoothing (as markov_baseline, of
    which this is order 0): the same for every row, so its argmax is always the commonest training class.
    Broadcast it over the test rows: np.broadcast_to(p, (N, C))."""
    y = np.asarray(y_train, dtype=np.int64).ravel()
    if y.size and (y.min() < 0 or y.max() >= C):
        raise ValueError(f"frequency_baseline: labels must lie in [0, {C}), got {y.min()}..{y.max()}")
    counts = np.bincount(y, minlength=C).astype(np.float64)
    return (counts + 1.0) / (counts.sum() + C)


def _last_bases(X: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """(code of the last `order` bases of each context (first base most significant), whether all are known)."""
    X = np.asarray(X)
    if X.ndim != 3 or X.shape[-1] != 4:
        raise ValueError(f"markov_baseline: X must be (N, L, 4) one-hot, got {X.shape}")
    if order > X.shape[1]:
        raise ValueError(f"markov_baseline: order {order} is longer than the context ({X.shape[1]} bases)")
    tail = X[:, X.shape[1] - order :, :]  # (N, order, 4)
    known = tail.any(axis=-1).all(axis=-1)  # an all-zero position is an N (or padding)
    digits = tail.argmax(axis=-1).astype(np.int64)  # (N, order)
    code = (digits * 4 ** np.arange(order - 1, -1, -1, dtype=np.int64)).sum(axis=1)
    return code, known


def markov_baseline(train_X: np.ndarray, train_y: np.ndarray, test_X: np.ndarray, order: int, k: int) -> np.ndarray:
    """(N_test, 4**k) probabilities of the next k-mer given the last `order` bases of each test context,
    from the training rows' counts with add-one smoothing: (count(context, next) + 1) / (count(context) + 4**k).
    A context never seen in training gets the uniform 1 / 4**k. Training rows whose last `order` bases hold
    an N are not counted; test rows whose last `order` bases hold an N get the order-0 estimate
    (frequency_baseline). order = 0 is frequency_baseline for every row."""
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 0:
        raise ValueError(f"markov_baseline: order must be an integer >= 0, got {order!r}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"markov_baseline: k must be an integer >= 1, got {k!r}")
    n_classes = 4**k
    y = np.asarray(train_y, dtype=np.int64).ravel()
    if len(y) != len(train_X):
        raise ValueError(f"markov_baseline: train_X has {len(train_X)} rows, train_y {len(y)}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"markov_baseline: labels must lie in [0, 4**k = {n_classes}), got {y.min()}..{y.max()}")
    prior = frequency_baseline(y, n_classes)
    code_tr, known_tr = _last_bases(train_X, order)
    code_te, known_te = _last_bases(test_X, order)
    counts = np.zeros((4**order, n_classes))
    np.add.at(counts, (code_tr[known_tr], y[known_tr]), 1.0)  # (contexts, next k-mers)
    table = (counts + 1.0) / (counts.sum(axis=1, keepdims=True) + n_classes)
    return np.where(known_te[:, None], table[code_te], prior[None, :])


# --------------------------------------------------------------------------------------------------------------
# The yardstick the synthetic sets are designed against: a CNN whose motif detectors are shared by every output
# --------------------------------------------------------------------------------------------------------------
def shared_cnn(
    train: Dataset,
    test: Dataset,
    *,
    filters: int = 128,
    kernel_size: int = 21,
    second_layer: bool = False,
    pool: str = "max",
    hidden: int = 256,
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 1e-3,
    weight_decay: float = 1e-2,
    seed: int = 0,
) -> np.ndarray:
    """A DeepBind-style scanner shared by all outputs, trained with the Dataset's weights, and its test
    probabilities: (N, T) sigmoids (multilabel, binary) or (N, C) softmax (multiclass).

    x (B, 4, L) -> conv(filters, kernel_size) on x and on its reverse complement, ReLU
      [second_layer: -> max-pool 2 -> conv(filters // 2, 5), ReLU]
      -> global max (pool='max'; 'maxavg' adds the mean) over positions, max over strands (B, F)
      -> linear(hidden), ReLU, dropout 0.2 -> (B, T) logits.
    Loss: BCE per task weighted by w (0 = missing), or cross-entropy weighted by w. Not a seqsweep
    architecture: the yardstick the multilabel generator was designed against (a shared-detector model has
    to beat per-task k-mer counts there). The defaults were the best of five settings tried on
    synth_multilabel(n=20000); a 64-unit head, the mean pool or the second layer each left some targets
    (GATA1, TAL1, JUND) near chance within 10 epochs: the rarer motifs get no filter.
    """
    import torch
    from torch import nn
    from torch.nn import functional as F

    torch.manual_seed(seed)
    single = train.task.single_label
    n_out = train.task.n_outputs

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(4, filters, kernel_size, padding=kernel_size // 2)
            self.conv2 = nn.Conv1d(filters, filters // 2, 5, padding=2) if second_layer else None
            width = (2 if pool == "maxavg" else 1) * (filters // 2 if second_layer else filters)
            self.head = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, n_out))

        def scan(self, x):
            h = F.relu(self.conv(x))  # (B, 4, L) -> (B, F, L)
            if self.conv2 is not None:
                h = F.relu(self.conv2(F.max_pool1d(h, 2)))  # (B, F, L/2)
            if pool == "max":
                return h.amax(dim=2)  # (B, F', L') -> (B, F')
            return torch.cat([h.amax(dim=2), h.mean(dim=2)], dim=1)  # (B, F', L') -> (B, 2 F')

        def forward(self, x):
            rc = x.flip(1).flip(2)  # A,C,G,T reversed = complement; positions reversed
            return self.head(torch.maximum(self.scan(x), self.scan(rc)))

    def tensor(ds):
        return torch.as_tensor(ds.X, dtype=torch.float32).transpose(1, 2).contiguous()  # (N, L, 4) -> (N, 4, L)

    Xtr, Xte = tensor(train), tensor(test)
    ytr = torch.as_tensor(train.y, dtype=torch.long if single else torch.float32)
    wtr = torch.as_tensor(train.w, dtype=torch.float32)
    if not single:
        ytr, wtr = ytr.reshape(len(train), -1), wtr.reshape(len(train), -1)
    net = Net()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        for idx in torch.randperm(len(train), generator=gen).split(batch_size):
            logits = net(Xtr[idx])
            if single:
                loss = (F.cross_entropy(logits, ytr[idx], reduction="none") * wtr[idx]).sum() / wtr[idx].sum()
            else:
                loss = (F.binary_cross_entropy_with_logits(logits, ytr[idx], reduction="none") * wtr[idx]).sum()
                loss = loss / wtr[idx].sum().clamp_min(1e-6)
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        logits = torch.cat([net(x) for x in Xte.split(1024)])
    return (logits.softmax(1) if single else logits.sigmoid()).numpy().astype(np.float64)
