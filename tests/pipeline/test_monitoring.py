"""Monitoring that acts, on copies of the session's pipeline run (1,000 customers x 180 days): a no-drift run
keeps the champion, an outage drifts past the threshold and triggers retraining that the promotion gate
decides; both decisions are idempotent; the drift gauges parse as Prometheus text; the Voila dashboards
execute headlessly."""
import json
import shutil
import subprocess

import nbformat
import pytest
import yaml
from nbconvert.preprocessors import ExecutePreprocessor
from prometheus_client.parser import text_string_to_metric_families

from churnops.params import load_params
from churnops.pipeline import override_params
from tests.conftest import free_port, ran

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


@pytest.mark.parametrize("dashboard", ["model_overview", "data_quality", "drift", "experiment"])
def test_dashboards_execute_headlessly(pipeline_run, dashboard):
    path = pipeline_run / "dashboards" / f"{dashboard}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    ExecutePreprocessor(timeout=300, kernel_name="python3").preprocess(notebook, {"metadata": {"path": str(path.parent)}})
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = json.dumps([o.get("data", {}).get("text/markdown", "") or o.get("text", "") for o in outputs])
    expected = {"model_overview": "Champion:", "data_quality": "raw_data: passed", "drift": "drift share",
                "experiment": "No experiment analysed yet"}[dashboard]
    assert expected in text, text[:2000]


def test_churnops_dashboards_serves_every_dashboard_with_voila(pipeline_run):
    import time

    import httpx
    port = free_port()
    server = subprocess.Popen(["churnops", "dashboards", "--port", str(port)], cwd=pipeline_run,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(150):
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        for dashboard, expected in [("model_overview", "Champion:"), ("data_quality", "raw_data: passed"),
                                    ("drift", "drift share"), ("experiment", "No experiment analysed yet")]:
            page = httpx.get(f"http://127.0.0.1:{port}/voila/render/{dashboard}.ipynb", timeout=120)
            assert page.status_code == 200 and expected in page.text, (dashboard, page.text[-1500:])
    finally:
        server.terminate()
        server.wait(timeout=30)
