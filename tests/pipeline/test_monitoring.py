"""Monitoring that acts, on copies of the session's pipeline run (1,000 customers x 180 days): a no-drift run
keeps the champion, an outage drifts past the threshold and triggers retraining that the promotion gate
decides; both decisions are idempotent; the drift gauges parse as Prometheus text. (The Voila dashboards are opened
in a browser by tests/reports/test_browser.py.)"""
import json
import shutil
import subprocess

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from churnops.params import load_params
from churnops.pipeline import override_params
from tests.conftest import ran

pytestmark = pytest.mark.slow


def retrain_if_drift(root):
    result = subprocess.run(["churnops", "retrain-if-drift"], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return json.loads((root / "reports" / "monitoring" / "retrain_decision.json").read_text()), result.stdout + result.stderr


def history(root):
    return (root / "reports" / "monitoring" / "retrain_history.jsonl").read_text().splitlines()


@pytest.fixture()
def run_copy(pipeline_run, tmp_path):
    root = tmp_path / "run"
    shutil.copytree(pipeline_run, root, symlinks=True)
    return root


def test_no_drift_keeps_the_champion_and_a_second_call_changes_nothing(run_copy):
    record, _ = retrain_if_drift(run_copy)
    assert record["action"] == "no_drift" and not record["retrained"], record
    assert record["drift_share"] <= record["drift_share_threshold"]
    again, output = retrain_if_drift(run_copy)
    assert "already decided for this data" in output and ran(output) == [], output[-2000:]
    assert again == record and len(history(run_copy)) == 1
    families = {f.name for f in text_string_to_metric_families(
        (run_copy / "reports" / "monitoring" / "drift.prom").read_text())}
    assert {"churnops_drift_share", "churnops_feature_drift_score", "churnops_monitor_last_run_timestamp_seconds"} <= families
    assert "retrain_decision.json" in (run_copy / "reports" / "index.html").read_text(), "the run index lists the decision"
    # a changed threshold is a new decision, never "already decided" under the old one (issue 38.5)
    threshold = round(record["drift_share"] + 0.01, 4)
    override_params(run_copy / "params.yaml", {"monitor.drift_share_threshold": threshold})
    decided, output = retrain_if_drift(run_copy)
    assert "already decided" not in output and decided["drift_share_threshold"] == threshold, output[-2000:]
    assert f"<= threshold {threshold}" in decided["reason"] and len(history(run_copy)) == 2


def test_an_outage_drifts_retrains_on_the_recent_window_and_the_gate_decides(run_copy):
    override_params(run_copy / "params.yaml", {"ingest.synthetic.drift.scenario": "outage",
                                               "ingest.synthetic.drift.start_day": 150})
    params_before = (run_copy / "params.yaml").read_bytes()
    record, output = retrain_if_drift(run_copy)
    assert (run_copy / "params.yaml").read_bytes() == params_before, "params.yaml stays as its author wrote it"
    override = yaml.safe_load((run_copy / "params.override.yaml").read_text())
    assert override == {"train": {"window_days": 90}} and record["parameter_override"]["train.window_days"] == 90
    assert record["retrained"] and record["drift_share"] > record["drift_share_threshold"], record
    # The new data is monitored with the current champion first; training runs once, for the retrain.
    assert output.count("Running stage 'train'") == 1, output[-4000:]
    assert output.index("Running stage 'monitor'") < output.index("Running stage 'train'")
    assert record["action"] in ("retrained_and_promoted", "retrained_and_rejected")
    assert record["window_days"] == load_params(run_copy / "params.yaml")["train"]["window_days"] == 90
    decision = json.loads((run_copy / "reports" / "registry" / "decision.json").read_text())
    assert record["promoted"] == decision["promoted"] and record["challenger_version"] == decision["version"]
    assert record["champion_after"] == (decision["version"] if decision["promoted"] else record["champion_before"].split("/")[-1])
    _, output = retrain_if_drift(run_copy)
    assert "already decided for this data" in output and ran(output) == [], "no second retraining"
    assert len(history(run_copy)) == 1
