"Training on both sources: the synthetic event log and a snapshot table."
import numpy as np
import pandas as pd

from churnops.evaluate import ranking_metrics
from churnops.features import build_feature_table, split_labelled
from churnops.ingest import ingest_snapshot_table
from churnops.model import model_inputs, predict
from churnops.train import fit_candidates, time_split

PARAMS = {"seed": 0, "gap_days": 30, "validation_snapshots": 1, "test_snapshots": 1,
          "candidates": {"logistic_regression": {"C": 1.0}, "hist_gradient_boosting": {"max_iter": 50}}}


def test_snapshot_table_path_trains_without_identifier_columns(tmp_path):
    rng = np.random.default_rng(0)
    n = 1_500
    age = rng.integers(18, 80, n)
    products = rng.integers(1, 5, n)
    logit = -3 + 0.06 * (age - 40) + 0.8 * (products >= 3)
    frame = pd.DataFrame({"RowNumber": np.arange(n), "CustomerId": 10_000 + np.arange(n),
                          "Surname": rng.choice(["a", "b", "c"], n), "Age": age, "NumOfProducts": products,
                          "Geography": rng.choice(["FR", "DE", "ES"], n),
                          "Exited": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)})
    frame.to_csv(tmp_path / "bank.csv", index=False)
    customers = ingest_snapshot_table(tmp_path / "bank.csv", {"customer_id": "CustomerId", "label": "Exited",
                                                              "exclude": ["RowNumber", "Surname"]}, "2025-01-01")
    labelled, scoring = split_labelled(build_feature_table(customers, None, {}, {}))
    assert len(scoring) == n
    train, test = time_split(labelled, PARAMS["test_snapshots"], PARAMS["gap_days"], seed=0)
    assert abs(train.churned.mean() - test.churned.mean()) < 0.02, "stratified split"
    model, leaderboard, _ = fit_candidates(train, {**PARAMS, "validation_snapshots": 1})
    assert set(model_inputs(model)) == {"Age", "NumOfProducts", "Geography"}
    auc = ranking_metrics(test.churned, predict(model, test))["roc_auc"]
    assert auc > 0.7


def test_calibration_fixes_probabilities_that_do_not_mean_what_they_say():
    """A strongly regularised linear model squeezes its probabilities towards the base rate; Platt scaling chosen on the
    validation scores and folded into the model brings the holdout calibration error down without changing the ranking
    (issue 40.2). With calibration off the same model stays as it was."""
    from churnops.evaluate import calibration_error

    rng = np.random.default_rng(3)
    n = 6_000
    x = rng.normal(size=(n, 3))
    churned = (rng.random(n) < 1 / (1 + np.exp(-(-1.5 + 2.0 * x[:, 0] - 1.5 * x[:, 1])))).astype(int)
    table = pd.DataFrame({"customer_id": np.arange(n), "as_of_date": pd.Timestamp("2025-01-01"),
                          "usage": x[:, 0], "tenure": x[:, 1], "noise": x[:, 2], "churned": churned})
    train, test = table.iloc[:4_000], table.iloc[4_000:]
    squeezed = {**PARAMS, "candidates": {"logistic_regression": {"C": 0.0005}}}
    raw, _, kept = fit_candidates(train, {**squeezed, "calibration": "none"})
    calibrated, _, record = fit_candidates(train, {**squeezed, "calibration": "auto"})
    assert kept["method"] == "none" and record["method"] == "platt" and record["slope"] > 1.5, record
    assert record["calibrated_log_loss"] < record["out_of_fold_log_loss"]
    before, after = predict(raw, test), predict(calibrated, test)
    assert calibration_error(test.churned, before) > 0.05 > calibration_error(test.churned, after)
    assert (np.argsort(before, kind="stable") == np.argsort(after, kind="stable")).all(), "the ranking is unchanged"
