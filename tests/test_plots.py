"""seqsweep.plots: which figures each group draws, from what, and that they save as PNGs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from seqsweep import plots

M = {"roc_auc": 0.8, "pr_auc": 0.6, "weighted_accuracy": 0.7, "tn": 5, "fp": 1, "fn": 2, "tp": 4}


def test_evaluation_figures_need_both_classes_for_the_curves(tmp_path):
    y, p, w = np.array([0, 1, 0, 1]), np.array([0.2, 0.7, 0.4, 0.9]), np.ones(4)
    figures = plots.evaluation_figures("t", y, p, w, M)
    assert [name for name, _ in figures] == ["roc.png", "pr.png", "confusion.png"]
    paths = plots.save(figures, tmp_path, **plots.EVALUATION_SAVE)
    assert all(path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for path in paths)
    one_class = plots.evaluation_figures("t", np.zeros(4, dtype=int), p, w, M)
    assert [name for name, _ in one_class] == ["confusion.png"]
    # the confusion matrix shows the counts it was given
    texts = sorted(t.get_text() for t in one_class[0][1].axes[0].texts)
    assert texts == ["1", "2", "4", "5"]


def test_sweep_figures_follow_the_scored_trials():
    board = pd.DataFrame({"trial": [1, 2, 3], "architecture": ["cnn", "mlp", "cnn"],
                          "cv_weighted_accuracy": [0.6, np.nan, 0.7]})
    figures = dict(plots.sweep_figures(board, "cv_weighted_accuracy", study=None))
    assert list(figures) == ["optimization_history.png", "scores_per_architecture.png"]
    history = figures["optimization_history.png"].axes[0]
    best_so_far = history.lines[-1].get_ydata()
    assert list(best_so_far) == [0.6, 0.7]  # trial 2 has no score: left out, not plotted as a gap
    assert plots.sweep_figures(board.iloc[[1]], "cv_weighted_accuracy", study=None) == []
    assert plots.sweep_figures(pd.DataFrame(), "cv_weighted_accuracy", study=None) == []
