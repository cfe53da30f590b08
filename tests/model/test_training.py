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
    model, leaderboard = fit_candidates(train, {**PARAMS, "validation_snapshots": 1})
    assert set(model_inputs(model)) == {"Age", "NumOfProducts", "Geography"}
    auc = ranking_metrics(test.churned, predict(model, test))["roc_auc"]
    assert auc > 0.7
