"The registry against a real MLflow store (sqlite in a temp folder): gate, aliases, rollback, export."
import numpy as np
import pandas as pd
import pytest

from churnops import registry
from churnops.evaluate import classification_metrics
from churnops.model import load_model, predict
from churnops.train import log_training_run, make_model


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow's local artifact folder goes here
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI; monkeypatch restores it after the test so that
    # later tests (and the pipelines they start) do not inherit this store.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def toy_data(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(600, 2))
    frame = pd.DataFrame({"customer_id": np.arange(600), "a": x[:, 0], "b": x[:, 1]})
    frame["churned"] = (x[:, 0] + 0.3 * rng.normal(size=600) > 0.8).astype(int)
    return frame


def one_candidate(name="logistic_regression"):
    "A leaderboard as `fit_candidates` returns it, with one selected candidate."
    return pd.DataFrame([{"candidate": name, "roc_auc": 0.7, "pr_auc": 0.4, "selected": True, "expectations_failed": ""}])


def train_and_register(store, data, hyperparameters, tags=None):
    model = make_model("logistic_regression", ["a", "b"], [], hyperparameters).fit(data[["a", "b"]], data.churned)
    run = log_training_run(model, data, {"train": {"candidates": {"logistic_regression": hyperparameters}}},
                           one_candidate(), {}, store, "test")
    metrics = classification_metrics(data.churned, predict(model, data))
    version = registry.register_version(store, "m", run["model_uri"], run["run_id"], metrics, tags=tags)
    return model, metrics, version


def test_gate_aliases_rollback_and_export(store, tmp_path):
    data = toy_data(0)
    baseline = {"pr_auc": data.churned.mean(), "roc_auc": 0.5}
    gate = {"metric": "pr_auc", "min_improvement": 0.005, "baseline_margin": 0.02}

    good, good_metrics, v1 = train_and_register(store, data, {"C": 1.0})
    promoted, _ = registry.promotion_decision(good_metrics, None, baseline, [], gate)
    assert promoted
    # the same model with probabilities that do not mean what they say is refused, however well it ranks (issue 40.2)
    miscalibrated = {**good_metrics, "calibration_error": 0.08}
    promoted, reason = registry.promotion_decision(miscalibrated, None, baseline, [], {**gate, "max_calibration_error": 0.05})
    assert not promoted and "calibration error 0.0800 > register.gate.max_calibration_error 0.05" in reason
    registry.promote(store, "m", v1, "first")
    assert registry.alias_version(store, "m", "champion") == v1

    # A crippled challenger (almost no signal left after extreme regularisation, labels shuffled) is rejected.
    shuffled = data.assign(churned=data.churned.sample(frac=1.0, random_state=1).to_numpy())
    _, bad_metrics, v2 = train_and_register(store, shuffled, {"C": 1e-4})
    champion_model = registry.load_version(store, "m", v1)
    champion_metrics = classification_metrics(data.churned, predict(champion_model, data))
    promoted, reason = registry.promotion_decision(bad_metrics, champion_metrics, baseline, [], gate)
    assert not promoted and "the champion stays" in reason
    assert registry.alias_version(store, "m", "champion") == v1
    assert registry.alias_version(store, "m", "challenger") == v2

    # Registering the same run twice does not make a new version.
    v1_run = registry.client(store).get_model_version("m", v1).run_id
    assert registry.register_version(store, "m", "unused", v1_run, {}) == v1

    registry.promote(store, "m", v2, "by hand, to test rollback")
    assert registry.rollback(store, "m") == v1
    assert registry.alias_version(store, "m", "champion") == v1
    listed = registry.list_versions(store, "m")
    assert listed.version.tolist() == [1, 2] and "champion" in listed.loc[0, "aliases"].split(",")

    bundle = registry.export_bundle(store, "m", tmp_path / "bundle")
    exported = load_model(bundle / "model")
    np.testing.assert_allclose(exported.predict_proba(data[["a", "b"]]), good.predict_proba(data[["a", "b"]]))
    assert (bundle / "bundle.json").read_text().count('"version": "1"') == 1

    with pytest.raises(ValueError, match="no earlier champion"):
        registry.rollback(store, "m")


def test_behaviour_checks_catch_a_model_that_rewards_inactivity():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    rng = np.random.default_rng(0)
    rows = pd.DataFrame({"days_since_last_event": rng.integers(0, 30, 500).astype(float)})
    rows["churned"] = (rows.days_since_last_event < 10).astype(int)  # the wrong direction, on purpose
    model = Pipeline([("model", LogisticRegression())]).fit(rows[["days_since_last_event"]], rows.churned)
    expectations = {"directions": {"days_since_last_event": "up"}, "max_against": 0.05, "tolerance": 0.01}
    failures, records = registry.behaviour_checks(model, rows, expectations)
    assert failures and failures[0].startswith("direction: days_since_last_event should push risk up: one step more "
                                               "moves"), failures
    assert "the data shows down" in failures[0] and records[0]["data_shows"] == "down"
    off = {**expectations, "directions": {"days_since_last_event": {"off": "this data says otherwise"}}}
    assert registry.behaviour_checks(model, rows, off) == ([], [])


def test_a_champion_that_cannot_score_the_holdout_or_predicts_another_label_is_not_comparable(store):
    data = toy_data(0)
    _, _, version = train_and_register(store, data, {"C": 1.0}, tags={"label_definition": "churn within 30 days"})
    metrics, why = registry.champion_on_holdout(store, "m", version, data, "churn within 30 days")
    assert why is None and metrics["roc_auc"] > 0.8
    # the column changed type since the champion was trained (blank cells made it text): no crash, a reason
    as_text = data.assign(a=data.a.astype(str).where(data.index % 50 != 0, " "))
    metrics, why = registry.champion_on_holdout(store, "m", version, as_text, "churn within 30 days")
    assert metrics is None and f"champion v{version} cannot score this holdout" in why
    metrics, why = registry.champion_on_holdout(store, "m", version, data.drop(columns="b"), "churn within 30 days")
    assert metrics is None and "reads features this run does not build: ['b']" in why
    metrics, why = registry.champion_on_holdout(store, "m", version, data, "churn within 60 days")
    assert metrics is None and "predicts another label ('churn within 30 days'" in why


def test_training_run_logs_blocks_dataset_children_and_the_selected_metrics(store):
    import mlflow

    data = toy_data(1)
    model = make_model("logistic_regression", ["a", "b"], [], {"C": 1.0}).fit(data[["a", "b"]], data.churned)
    leaderboard = pd.DataFrame([
        {"candidate": "single_feature: a", "roc_auc": 0.9, "pr_auc": 0.8, "selected": False, "expectations_failed": ""},
        {"candidate": "logistic_regression", "roc_auc": 0.7, "pr_auc": 0.4, "selected": True, "expectations_failed": ""}])
    params = {"train": {"seed": 1, "candidates": {"logistic_regression": {"C": 1.0}}}, "features": {"windows_days": [7]},
              "ingest": {"source": "synthetic"}}
    run = log_training_run(model, data, params, leaderboard, {"data_fingerprint": "abc"}, store, "test")
    client = mlflow.MlflowClient(store)
    parent = client.get_run(run["run_id"])
    assert parent.data.metrics["validation_pr_auc"] == 0.4, "the selected model's metrics, not the best row's"
    assert {"train.seed", "features.windows_days", "ingest.source"} <= set(parent.data.params)
    assert parent.info.run_name == run["run_name"] == "logistic_regression (600 rows)"
    assert [d.dataset.name for d in parent.inputs.dataset_inputs] == ["training snapshots"]
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{run['run_id']}'")
    assert sorted(c.info.run_name for c in children) == ["logistic_regression", "single_feature: a"]
    assert {c.info.run_name: c.data.tags["selected"] for c in children} == {"single_feature: a": "false",
                                                                            "logistic_regression": "true"}
