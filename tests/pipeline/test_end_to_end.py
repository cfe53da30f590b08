"""A small end-to-end run of the real pipeline (DVC -> Ploomber -> papermill) in a temporary clone.

Checks: every stage runs and publishes its report; a second `dvc repro` does nothing; a parameter change
re-runs exactly the stages that depend on it; a crippled challenger is registered but not promoted; a
bad input fails in ingest and leaves every earlier product byte-identical.
"""
import json
import shutil
import subprocess

import pandas as pd
import pytest

from churnops.pipeline import override_params
from tests.conftest import STAGES, dvc_repro, ran

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clone(pipeline_run, tmp_path_factory):
    "A copy of the session's pipeline run; these tests change it in order (other modules copy the original)."
    root = tmp_path_factory.mktemp("end_to_end") / "run"
    shutil.copytree(pipeline_run, root, symlinks=True)
    return root


def test_every_stage_publishes_its_report(clone):
    index = (clone / "reports" / "index.html").read_text()
    for stage in STAGES[:-1]:
        assert (clone / "reports" / "notebooks" / f"{stage}.html").exists()
        assert f"notebooks/{stage}.html" in index, f"index.html does not link the {stage} report"
    assert (clone / "data" / "predictions" / "scores.parquet").exists()
    assert (clone / "mlflow.db").exists(), "the training run was logged to the local MLflow store"


def test_second_repro_does_nothing(clone):
    code, output = dvc_repro(clone)
    assert code == 0 and ran(output) == [], output[-2000:]


def test_parameter_change_reruns_only_dependants(clone):
    override_params(clone / "params.yaml", {"monitor.drift_share_threshold": 0.35})
    code, output = dvc_repro(clone)
    assert code == 0, output[-4000:]
    assert ran(output) == ["monitor", "publish"]


def test_notebook_edit_reruns_that_stage_and_downstream(clone):
    notebook = clone / "notebooks" / "evaluate.py"
    notebook.write_text(notebook.read_text() + "\n# %%\nmetrics\n")
    code, output = dvc_repro(clone)
    assert code == 0, output[-4000:]
    # The edit adds a cell: the executed notebook changes, the metrics and plots do not, so DVC skips
    # register/score/monitor (their inputs are byte-identical) and only the index is rebuilt.
    assert ran(output) == ["evaluate", "publish"]


def test_a_crippled_challenger_is_registered_but_not_promoted(clone):
    override_params(clone / "params.yaml", {"train.candidates": {"logistic_regression": {"C": 1e-6}}})
    code, output = dvc_repro(clone)
    assert code == 0, output[-4000:]
    decision = json.loads((clone / "reports" / "registry" / "decision.json").read_text())
    assert decision["version"] == "2" and not decision["promoted"], decision
    assert decision["champion"] == "1", "the champion stays"
    bundle = json.loads((clone / "models" / "champion" / "bundle.json").read_text())
    scores = pd.read_parquet(clone / "data" / "predictions" / "scores.parquet")
    assert bundle["version"] == "1" and set(scores.model_version) == {"churnops-churn/1"}
    listed = subprocess.run(["churnops", "registry", "list"], cwd=clone, capture_output=True, text=True, check=True).stdout
    assert len(listed.strip().splitlines()) == 3, listed  # header + two versions


def test_bad_input_stops_the_pipeline_and_keeps_good_outputs(clone):
    products = [clone / p for p in ["data/raw/events.parquet", "data/features/labelled.parquet",
                                    "data/predictions/scores.parquet", "models/train_summary.json"]]
    before = {p: p.read_bytes() for p in products}
    bad = clone / "bad_events.csv"
    bad.write_text("customer_id,ts,event_type,amount\n1,2025-01-01,session,\n2,not a date,payment,9.99\n")
    override_params(clone / "params.yaml", {"ingest.source": "event_log", "ingest.event_log.events_path": str(bad)})
    code, output = dvc_repro(clone)
    assert code != 0
    assert "bad_events.csv: column 'ts': 1 of 2 rows are missing or not parseable timestamps" in output
    assert ran(output) == ["ingest"]
    assert {p: p.read_bytes() for p in products} == before, "a failed stage must leave the last good outputs"
