"""Search spaces: shipped files validate; typos fail naming the key; the define-by-run function samples."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from seqsweep import models
from seqsweep.errors import ConfigError
from seqsweep.search_space import load_search_space, split_config

ROOT = Path(__file__).resolve().parents[1]
SPACES = sorted((ROOT / "search_spaces").glob("*.yaml"))


@pytest.mark.parametrize("path", SPACES, ids=[p.name for p in SPACES])
def test_shipped_spaces_validate_and_sample(path):
    space = load_search_space(path)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    sample = space.define_by_run()
    for _ in range(10):
        trial = study.ask()
        fixed = sample(trial)
        config = {**trial.params, **fixed}
        arch, model_kw, train_kw = split_config(config)
        assert arch in space.architectures
        # only the chosen architecture's prefixed parameters were asked for (define-by-run)
        assert all("." not in k or k.startswith(arch + ".") for k in trial.params)
        models.create_model(arch, seq_len=101, **model_kw)
        study.tell(trial, 0.5)


def test_default_space_covers_every_architecture():
    assert set(load_search_space(ROOT / "search_spaces/default.yaml").architectures) == set(models.list_models())


@pytest.mark.parametrize(
    "text, needle",
    [
        ("architecture: [cnn, cnnn]\n", "unknown architecture 'cnnn'; available:"),
        ("architecture: cnn\ncnn.filtres: [8]\n", "architecture 'cnn' does not take 'filtres'"),
        ("architecture: [cnn, mlp]\nmlp.filters: [8]\n", "'filters' is taken by: "),
        ("architecture: [cnn, mlp]\nfilters: [8, 16]\n", "prefix it, e.g. "),
        ("architecture: cnn\nlearning_rate: {low: 1.0e-2, high: 1.0e-4, log: true}\n", "needs low <= high, got low=0.01, high=0.0001"),
        ("architecture: cnn\nlearning_rate: {low: 1e-4, high: 1.0e-2}\n", "YAML reads 1e-4 as a string"),
        ("architecture: cnn\nlearning_rate: {low: 0.0, high: 1.0e-2, log: true}\n", "log scale and needs low > 0"),
        ("architecture: cnn\nbatch_size: [0, 16]\n", "'batch_size' must be >= 1"),
        ("architecture: cnn\noptimizer: [sgd]\n", "'optimizer' must be one of adam, adamw"),
        ("architecture: cnn\ndropout: {low: 0.1}\n", "needs both 'low' and 'high'"),
        ("architecture: cnn\ndropout: {low: 0.1, high: 0.9, lgo: true}\n", "unknown field 'lgo'"),
        ("architecture: cnn\nlstm.pool: [2]\n", "not among the searched architectures"),
        ("architecture: cnn\nwhatever: [2]\n", "no architecture takes this parameter"),
        ("learning_rate: 1.0e-3\n", "'architecture' is required"),
        ("architecture: cnn\ncnn.kernel_size: [9, 500]\n", "'cnn.kernel_size' value 500"),
    ],
)
def test_bad_spaces_name_the_key(tmp_path, text, needle):
    p = tmp_path / "space.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_search_space(p)
    assert needle in str(exc.value) and str(p) in str(exc.value)
    assert "\n" not in str(exc.value)


def test_split_config_strips_prefixes_and_drops_other_architectures():
    arch, model_kw, train_kw = split_config(
        {"architecture": "cnn", "cnn.filters": 8, "deepbind.filters": 64, "hidden_size": 16, "learning_rate": 0.01}
    )
    assert arch == "cnn" and model_kw == {"filters": 8, "hidden_size": 16} and train_kw == {"learning_rate": 0.01}
