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


def test_every_score_carries_the_champions_reasons(clone):
    "The score table's reasons (score.reasons per customer) are the served champion's, from the same scores (issue 40.1)."
    from churnops.model import load_bundle
    from churnops.score import reasons_of

    scores = pd.read_parquet(clone / "data" / "predictions" / "scores.parquet")
    snapshot = pd.read_parquet(clone / "data" / "features" / "scoring.parquet")
    assert {"reason_1", "reason_1_value", "reason_1_contribution", "reason_3_contribution"} <= set(scores.columns)
    assert scores.reason_1.notna().mean() > 0.9, "nearly every customer has a reason"
    predictor = load_bundle(clone / "models" / "champion", probe=snapshot).predictor
    probability, reasons = predictor.explain(snapshot)
    expected = dict(zip(snapshot.customer_id, zip(probability, reasons)))
    for row in scores.head(50).to_dict("records"):
        p, why = expected[row["customer_id"]]
        assert row["churn_probability"] == p
        assert [(r["feature"], r["contribution"]) for r in reasons_of(row)] == [(r["feature"], r["contribution"]) for r in why]


def test_the_contact_list_ranks_by_expected_net_value_within_the_budget(clone):
    "score.contact: the customers worth an offer, best first, at most the budget, with their reasons (issue 40.3)."
    from churnops.params import load_params

    params = load_params(clone / "params.yaml")
    contact, campaign = params["score"]["contact"], params["evaluate"]["campaign"]
    scores = pd.read_parquet(clone / "data" / "predictions" / "scores.parquet").set_index("customer_id")
    snapshot = pd.read_parquet(clone / "data" / "features" / "scoring.parquet").set_index("customer_id")
    value = snapshot[contact["value_feature"]] * contact["value_multiplier"]  # recomputed here, not read back
    net = (scores.churn_probability * campaign["offer_success_rate"] * value.reindex(scores.index)
           - campaign["offer_cost"]).sort_values(ascending=False, kind="stable")
    worth = net[net > 0]
    chosen = pd.read_csv(clone / "data" / "predictions" / "contact_list.csv")
    assert len(chosen) == min(contact["budget"], len(worth)) > 0
    assert chosen.customer_id.tolist() == worth.index[: len(chosen)].tolist()
    assert (chosen["rank"] == range(1, len(chosen) + 1)).all()
    assert chosen.expected_net_value.to_numpy() == pytest.approx(worth.to_numpy()[: len(chosen)])
    assert chosen.reason_1.tolist() == scores.loc[chosen.customer_id, "reason_1"].tolist()  # each customer's own reasons
    summary = json.loads((clone / "reports" / "contact" / "summary.json").read_text())
    assert summary["contacts"] == len(chosen) and summary["expected_saved_value"] == pytest.approx(
        chosen.expected_saved_value.sum())
    assert summary["best_expected_net_value"] == pytest.approx(worth.sum()) and summary["best_budget"] == len(worth)
    page = (clone / "reports" / "index.html").read_text()
    assert "id='card-contact'" in page and f"<span data-metric='contacts'>{len(chosen):,}</span>" in page


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


def test_promote_and_rollback_reach_the_bundle_the_scores_and_the_record(clone):
    "A champion change by hand is not done when the alias moves: the bundle, the scores and the record follow."
    def churnops(*args):
        result = subprocess.run(["churnops", *args], cwd=clone, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    assert "dvc.lock updated" in churnops("registry", "promote", "2", "--reason", "reviewed by hand")
    assert json.loads((clone / "models" / "champion" / "bundle.json").read_text())["version"] == "2"
    decision = json.loads((clone / "reports" / "registry" / "decision.json").read_text())
    assert decision["champion"] == "2" and decision["manual"] and "reviewed by hand" in decision["reason"]
    code, output = dvc_repro(clone)
    assert code == 0 and ran(output) == ["score", "monitor", "publish"], output[-3000:]  # not register: no re-gating
    assert set(pd.read_parquet(clone / "data" / "predictions" / "scores.parquet").model_version) == {"churnops-churn/2"}

    churnops("registry", "rollback")
    assert json.loads((clone / "models" / "champion" / "bundle.json").read_text())["version"] == "1"
    code, output = dvc_repro(clone)
    assert code == 0 and ran(output) == ["score", "monitor", "publish"], output[-3000:]
    assert set(pd.read_parquet(clone / "data" / "predictions" / "scores.parquet").model_version) == {"churnops-churn/1"}


@pytest.mark.parametrize("stage, products", [
    ("evaluate", ["reports/evaluation/metrics.json", "reports/evaluation/calibration.csv", "reports/evaluation/gain.png"]),
    ("register", ["reports/registry/decision.json", "models/champion/bundle.json", "models/champion/model/model.skops"]),
    ("monitor", ["reports/monitoring/drift.json", "reports/monitoring/drift.prom",
                 "reports/monitoring/evidently/index.html"]),
])
def test_a_failed_stage_keeps_every_report_its_readers_use(clone, stage, products):
    "DVC deletes a stage's outputs before running it unless they persist: none a person or the API reads may go."
    notebook = clone / "notebooks" / f"{stage}.py"
    original = notebook.read_text()
    before = {p: (clone / p).read_bytes() for p in products}
    parameters_end = original.index("\n# %%", original.index('tags=["parameters"]'))
    notebook.write_text(original[:parameters_end] + '\n# %%\nraise RuntimeError("planted failure")\n' + original[parameters_end:])
    try:
        code, output = dvc_repro(clone, stage)
    finally:
        notebook.write_text(original)
    assert code != 0 and f"stage {stage!r} failed: RuntimeError: planted failure" in output, output[-3000:]
    assert "Traceback (most recent call last)" not in output, "the message first; the traceback goes to the log"
    assert "planted failure" in (clone / "reports" / "logs" / f"{stage}.log").read_text()
    assert {p: (clone / p).read_bytes() for p in products} == before


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



def test_a_run_that_promotes_nothing_is_finished_and_says_why(pipeline_run, tmp_path):
    "No champion and a gate no model clears: the run still ends with its landing page, and a re-run does nothing (issue 37.5)."
    root = tmp_path / "run"
    shutil.copytree(pipeline_run, root, symlinks=True)
    override_params(root / "params.yaml", {"mlflow.model_name": "churnops-nothing-yet", "register.gate.baseline_margin": 0.99})
    code, output = dvc_repro(root)
    assert code == 0, output[-4000:]
    assert ran(output)[-4:] == ["register", "score", "monitor", "publish"], output[-3000:]
    decision = json.loads((root / "reports" / "registry" / "decision.json").read_text())
    assert not decision["promoted"] and decision["champion"] is None and "the baseline wins" in decision["reason"]
    assert json.loads((root / "models" / "champion" / "bundle.json").read_text())["version"] is None
    assert pd.read_parquet(root / "data" / "predictions" / "scores.parquet").empty, "nothing scored by an unproven model"
    page = (root / "reports" / "index.html").read_text()
    assert "card-scores" in page and "has no champion yet" in page and "the baseline wins" in page
    code, output = dvc_repro(root)
    assert code == 0 and ran(output) == [], output[-2000:]
