"The registry against a real MLflow store (sqlite in a temp folder): gate, aliases, rollback, export."
import numpy as np
import pandas as pd
import pytest

from churnops import registry
from churnops.evaluate import classification_metrics
from churnops.train import load_model, log_training_run, make_model


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


def train_and_register(store, data, hyperparameters):
    model = make_model("logistic_regression", ["a", "b"], [], hyperparameters).fit(data[["a", "b"]], data.churned)
    run = log_training_run(model, data, {"C": hyperparameters["C"]}, {}, {}, store, "test")
    metrics = classification_metrics(data.churned, model.predict_proba(data[["a", "b"]])[:, 1])
    version = registry.register_version(store, "m", run["model_uri"], run["run_id"], metrics)
    return model, metrics, version


def test_gate_aliases_rollback_and_export(store, tmp_path):
    data = toy_data(0)
    baseline = {"pr_auc": data.churned.mean(), "roc_auc": 0.5}
    gate = {"metric": "pr_auc", "min_improvement": 0.005}

    good, good_metrics, v1 = train_and_register(store, data, {"C": 1.0})
    promoted, _ = registry.promotion_decision(good_metrics, None, baseline, [], gate)
    assert promoted
    registry.promote(store, "m", v1, "first")
    assert registry.alias_version(store, "m", "champion") == v1

    # A crippled challenger (almost no signal left after extreme regularisation, labels shuffled) is rejected.
    shuffled = data.assign(churned=data.churned.sample(frac=1.0, random_state=1).to_numpy())
    _, bad_metrics, v2 = train_and_register(store, shuffled, {"C": 1e-4})
    champion_model = registry.load_version(store, "m", v1)
    champion_metrics = classification_metrics(data.churned, champion_model.predict_proba(data[["a", "b"]])[:, 1])
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
    y = (rows.days_since_last_event < 10).astype(int)  # the wrong direction, on purpose
    model = Pipeline([("model", LogisticRegression())]).fit(rows, y)
    failures = registry.behaviour_failures(model, rows)
    assert failures and failures[0].startswith("direction: 14 days of inactivity lowers risk")
