"""A/B experiments end to end: a simulated retention campaign recorded in the assignment log by two replicas,
outcomes from the later data, `churnops experiment analyze` (report, JSON, dashboard), and a failed analysis that
names its cause and keeps the last report."""
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbconvert.preprocessors import ExecutePreprocessor

from churnops.assignments import AssignmentLog
from churnops.experiment import (
    foresight_scores,
    read_assignments,
    run_analysis,
    simulate_experiment,
)
from churnops.params import load_params
from churnops.pipeline import override_params

CHURNOPS = str(Path(sys.executable).parent / "churnops")


@pytest.fixture(scope="module")
def campaign(repo, tmp_path_factory):
    "A simulated campaign (A contacts 40% at random, B the customers about to leave first) analysed from a params copy."
    root = tmp_path_factory.mktemp("experiment")
    params_path = root / "params.yaml"
    params_path.write_text((repo / "params.yaml").read_text())
    override_params(params_path, {"serve.challenger_share": 0.5, "experiment.assignment_log": str(root / "assignments"),
                                  "experiment.outcome_data": str(root / "outcomes")})
    params = load_params(params_path)
    sim = simulate_experiment(lambda rows: np.random.default_rng(5).random(len(rows)),
                              foresight_scores(6_000, 150, seed=11, day=110, horizon=params["features"]["churn_horizon_days"]),
                              (0.6, 0.6), AssignmentLog(root / "assignments", replica="api-0"),
                              params["features"], params["schema"], share_b=0.5, offer_success_rate=0.9,
                              n_customers=6_000, n_days=150, day=110, seed=11)
    (root / "outcomes").mkdir()
    sim["customers"].to_parquet(root / "outcomes" / "customers.parquet")
    sim["events"].to_parquet(root / "outcomes" / "events.parquet")
    # a second replica meets the same customers again a day later, and the first crashed mid-line
    again = read_assignments(root / "assignments")
    again["ts"] = (again["ts"] + np.timedelta64(1, "D")).dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    AssignmentLog(root / "assignments", replica="api-1").append(again.to_dict("records"))
    with next((root / "assignments").glob("date=*/api-0.jsonl")).open("a") as torn:
        torn.write('{"ts": "2025-05-')
    return root, params_path, sim


def analyze(root, params_path, *args):
    return subprocess.run([CHURNOPS, "experiment", "analyze", "--params", str(params_path),
                           "--out", str(root / "reports" / "experiment"), *args],
                          cwd=Path(__file__).parents[2], capture_output=True, text=True, timeout=600)


def test_analyze_recovers_the_simulated_effect_and_publishes_report_json_and_dashboard(campaign, monkeypatch):
    root, params_path, sim = campaign
    done = analyze(root, params_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((root / "reports" / "experiment" / "analysis.json").read_text())
    counts, retention = result["counts"], result["retention"]
    # every live customer once (the second replica's repeats and the torn line are not new customers)
    assert counts["customers"] == counts["observed"] == sim["live_customers"] and counts["records"] == 2 * sim["live_customers"]
    assert counts["crossed_arms"] == counts["pending"] == counts["not_live"] == 0
    assert retention["ci_low"] <= sim["true_retention_difference"] <= retention["ci_high"], (retention, sim)
    assert retention["p_value"] < 0.05 and retention["ci_low"] > 0, retention
    assert not result["srm"]["mismatch"] and result["verdict"].startswith("B retains more")
    assert "unreadable assignment record(s) skipped" in (root / "reports" / "experiment" / "analysis.ipynb").read_text()
    # the CLI's numbers are the library's
    params = load_params(params_path)
    library, _ = run_analysis(params["experiment"], params["features"], params["schema"], 0.5, params["evaluate"]["campaign"])
    assert library["retention"] == retention and library["bayes"] == result["bayes"]
    html = (root / "reports" / "experiment" / "analysis.html").read_text()
    assert "B retains more" in html and "def " not in html, "the report shows results, not code"
    assert f"{retention['difference']:+.4f}" in done.stdout
    # the dashboard shows the same result
    path = Path(__file__).parents[2] / "dashboards" / "experiment.ipynb"
    notebook = nbformat.read(path, as_version=4)
    monkeypatch.setenv("CHURNOPS_ROOT", str(root))
    ExecutePreprocessor(timeout=300, kernel_name="python3").preprocess(notebook, {"metadata": {"path": str(path.parent)}})
    text = json.dumps([o.get("data", {}) for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs])
    assert "B retains more" in text and "customers_a" in text


def test_a_failed_analysis_names_the_cause_and_keeps_the_last_report(campaign):
    root, params_path, _ = campaign
    report = root / "reports" / "experiment" / "analysis.html"
    if not report.exists():
        assert analyze(root, params_path).returncode == 0
    before = report.read_bytes()
    failed = analyze(root, params_path, "--name", "no such experiment")
    assert failed.returncode == 2
    assert "experiment 'no such experiment' is not in the assignment log" in failed.stderr, failed.stderr[-2000:]
    assert "previous" in failed.stderr and report.read_bytes() == before
    missing = analyze(root, params_path, "--outcome-data", str(root / "nowhere"))
    assert missing.returncode == 2 and "customers.parquet" in missing.stderr and "ingest" in missing.stderr
    assert report.read_bytes() == before
