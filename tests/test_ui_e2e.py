"""The MLflow UI over a real sweep's store, used as a person would: `seqsweep ui`, then a real browser.

A tiny sweep (3 trials) runs once; `seqsweep ui` serves its store; headless Chromium clicks its way from the
experiment list to the trial runs and from the model registry to the registered model, and the tests check
what the rendered pages show against the store. Screenshots land in test-artifacts/ (git-ignored).

Needs the Debian `chromium` package (`make test-deps`); skipped, saying so, without it.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlencode

import mlflow
import pytest

from ui_helpers import ARTIFACTS, SHARED_JOB, Browser, Server, chromium_path, free_port, shared_sweep

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(chromium_path() is None,
                       reason="chromium not installed (Debian package `chromium`; `make test-deps` installs it)"),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """(home, MlflowClient) of the shared tiny sweep."""
    home, proc = shared_sweep(tmp_path_factory)
    assert proc.returncode == 0, f"the tiny sweep failed:\n{proc.stderr[-3000:]}"
    return home, mlflow.MlflowClient(tracking_uri=f"sqlite:///{home}/mlruns/mlflow.db")


@pytest.fixture(scope="module")
def ui_url(store):
    """`seqsweep ui --port P` running over the sweep's store (as `make ui` runs it); its base URL."""
    home, _ = store
    port = free_port()
    server = Server(home, "ui", "--port", str(port), log=home / "ui.log")
    try:
        # 13-22 s on an idle 2-core machine; over a minute while other tests load the cores.
        server.wait_until_up(f"http://127.0.0.1:{port}/health", timeout=240)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def browser():
    with Browser(width=1600, height=1000) as b:  # a fresh profile each test: no state carried between tests
        yield b


def _trials(client):
    """{run name: run} of the sweep's trial runs, straight from the store."""
    exp = client.get_experiment_by_name(SHARED_JOB)
    runs = client.search_runs([exp.experiment_id], filter_string="tags.`seqsweep.kind` = 'trial'")
    return exp, {r.info.run_name: r for r in runs}


def _close_assistant(browser) -> None:
    """Close MLflow's assistant side panel (a third of the width) when it is open."""
    if browser.js("!!document.querySelector('button[aria-label=Close]')"):
        browser.click("button[aria-label=Close]")


def _row_of(rows: list[str], run_name: str) -> str:
    found = [r for r in rows if f" {run_name} " in f" {r} "]
    assert len(found) == 1, f"expected one table row for {run_name}, got {found} in {rows}"
    return found[0]


def test_experiment_page_lists_trial_runs_with_cv_weighted_accuracy(ui_url, store, browser):
    _, client = store
    exp, trials = _trials(client)
    # trial-NNN-<architecture>; which number gets which configuration depends on the order trials start in
    assert len(trials) == 3 and all(re.fullmatch(r"trial-00[123]-(cnn|mlp)", n) for n in trials), sorted(trials)

    # Experiments list -> the job's experiment.
    browser.open(f"{ui_url}/#/experiments")
    browser.wait_for_text(SHARED_JOB, "Default")
    browser.click_text(SHARED_JOB, "a")
    # MLflow 3 opens an experiment on its GenAI overview, under a one-time tip; go to its training runs.
    browser.dismiss_if_shown("Got it")
    browser.click(f'a[href*="/experiments/{exp.experiment_id}/runs"]')
    parent = client.search_runs([exp.experiment_id], filter_string="tags.`seqsweep.kind` = 'sweep'")[0]
    browser.wait_for_text(parent.info.run_name, "4 matching runs")
    _close_assistant(browser)

    # The trials are the sweep run's children: expand it, then show the metric and the architecture.
    browser.click('button[data-component-id*="runnamecellrenderer"]')
    browser.wait_for_text(*trials)
    browser.click_text("Columns")
    browser.wait_for_text("Metrics (", "Parameters (")
    browser.click_text("cv_weighted_accuracy", "span")
    browser.click_text("architecture", "span", index=0)  # Parameters come before Tags in the list
    browser.press("Escape", 27)
    browser.wait_for_text(*(repr(r.data.metrics["cv_weighted_accuracy"]) for r in trials.values()))
    browser.screenshot(ARTIFACTS / "ui-experiment.png")

    text = browser.text()
    assert "cv_weighted_accuracy" in text and "architecture" in text  # the column headers
    rows = browser.table_rows()
    assert len(rows) == 4, rows  # the sweep run and its three trials
    for name, run in trials.items():
        row = _row_of(rows, name)
        assert repr(run.data.metrics["cv_weighted_accuracy"]) in row, (name, row)
        assert f" {run.data.params['architecture']} " in f" {row} ", (name, row)


def test_bookmarked_trials_view_ranks_trials_and_links_their_models(ui_url, store, browser):
    """A URL that lists the trials best first; each row's Models column shows the trial's logged model (the
    champion's by its registry name).

    MLflow lists a run's logged models from the run's own experiment, so a model logged into another
    experiment (e.g. Default) shows as "-" here.
    """
    _, client = store
    exp, trials = _trials(client)
    champion = client.get_model_version_by_alias(SHARED_JOB, "champion")
    # A bookmarkable view: the trial runs only, best first.
    query = urlencode({"workflowType": "machine_learning", "searchFilter": "tags.`seqsweep.kind` = 'trial'",
                       "orderByKey": "metrics.`cv_weighted_accuracy`", "orderByAsc": "false"})
    # The store first: every trial logged its model (so a "-" on the page below is the page, not the sweep).
    for name, run in trials.items():
        logged = client.search_logged_models([exp.experiment_id],
                                             filter_string=f"source_run_id = '{run.info.run_id}'")
        assert len(logged) == 1, f"{name}: {len(logged)} logged models in the store"

    browser.open(f"{ui_url}/#/experiments/{exp.experiment_id}/runs?{query}")
    browser.wait_for_text(*trials, "3 matching runs")
    best_first = sorted(trials, key=lambda n: trials[n].data.metrics["cv_weighted_accuracy"], reverse=True)

    def expected_model(run) -> str:
        return f"{SHARED_JOB} v{champion.version}" if run.info.run_id == champion.run_id else "model"

    # MLflow fills the Models column with a request of its own after the rows render (seconds later on a busy
    # machine): wait for it, then check every row.
    deadline = time.monotonic() + 60
    while True:
        rows = browser.table_rows()
        missing = [n for n, run in trials.items()
                   if sum(f" {n} " in f" {r} " for r in rows) != 1
                   or expected_model(run) not in _row_of(rows, n).split(" | ")]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert [next(n for n in trials if f" {n} " in f" {r} ") for r in rows] == best_first, rows
    for name, run in trials.items():
        row = _row_of(rows, name)
        assert expected_model(run) in row.split(" | "), f"{name}: no {expected_model(run)!r} in its Models cell: {row}"


def test_registered_model_page_shows_versions_and_aliases(ui_url, store, browser):
    _, client = store
    versions = client.search_model_versions(f"name = '{SHARED_JOB}'")
    aliases = client.get_registered_model(SHARED_JOB).aliases  # {alias: version}
    assert set(aliases) == {"champion", "challenger"}

    # Model registry (in the model-training side of the UI) -> the job's registered model.
    browser.open(f"{ui_url}/#/experiments")
    browser.click_text("Model training")
    browser.click_text("Model registry", "a")
    browser.wait_for_text(SHARED_JOB, f"Version {aliases['champion']}", "champion")
    for attempt in range(3):
        # A one-time "new model registry UI" announcement covers the page, sometimes only seconds after it
        # rendered, and swallows the click.
        browser.dismiss_if_shown("Try it now", timeout=5)
        browser.click(f'a[href="#/models/{SHARED_JOB}"]')
        try:
            browser.wait_for_text("Registered at", "Aliases", *(f"Version {v.version}" for v in versions),
                                  timeout=20)
            break
        except AssertionError:
            if attempt == 2:
                raise
    _close_assistant(browser)
    browser.screenshot(ARTIFACTS / "ui-model.png")

    assert browser.js("location.hash") == f"#/models/{SHARED_JOB}"
    rows = browser.table_rows()
    assert len(rows) == len(versions), rows
    for v in versions:
        row = _row_of(rows, f"Version {v.version}")
        # each alias on its version's row, and none elsewhere
        for alias, version in aliases.items():
            assert (f"@ {alias}" in row) == (str(version) == str(v.version)), (alias, row)
        # the version's tags carry the trial's CV score and the promotion decision
        assert f"cv_weighted_accuracy : {v.tags['cv_weighted_accuracy']}" in row, row
        assert f"promotion.decision : {v.tags['promotion.decision']}" in row, row
