"Point-in-time correctness and population rules of the feature table, on generated data."
import numpy as np
import pandas as pd
import pytest

from churnops.features import build_features, feature_columns, split_labelled
from churnops.generate import generate_churn_data
from churnops.params import load_params


@pytest.fixture(scope="module")
def generated():
    return generate_churn_data(n_customers=600, n_days=150, seed=21)


@pytest.fixture(scope="module")
def params(repo):
    return load_params(repo / "params.yaml")


def test_no_feature_reads_events_at_or_after_the_as_of_date(generated, params):
    customers, events = generated
    table = build_features(customers, events, params["features"], params["schema"])
    for as_of in sorted(table.as_of_date.unique())[1:-1:4]:
        # Replace everything at/after the as-of date with different future behaviour (same date range).
        noise = events[events.ts >= as_of].copy()
        noise["amount"] = noise["amount"] * 10
        noise["event_type"] = noise["event_type"].sample(frac=1.0, random_state=0).to_numpy()
        noise["customer_id"] = noise["customer_id"].sample(frac=1.0, random_state=1).to_numpy()
        altered = pd.concat([events[events.ts < as_of], noise]).reset_index(drop=True)
        again = build_features(customers, altered, params["features"], params["schema"])
        cols = ["customer_id", *feature_columns(table)]
        cols.remove("churned") if "churned" in cols else None
        left = table.loc[table.as_of_date == as_of, cols].reset_index(drop=True)
        right = again.loc[again.as_of_date == as_of, cols].reset_index(drop=True)
        pd.testing.assert_frame_equal(left, right, check_dtype=False)


def test_features_are_finite_and_keys_unique(generated, params):
    table = build_features(*generated, params["features"], params["schema"])
    numeric = table[feature_columns(table)].select_dtypes("number")
    assert np.isfinite(numeric.to_numpy(dtype=float)).all()
    assert not table.duplicated(["customer_id", "as_of_date"]).any()
    labelled, scoring = split_labelled(table)
    assert scoring.as_of_date.nunique() == 1 and "churned" not in scoring
    assert labelled.as_of_date.max() + pd.Timedelta(days=params["features"]["churn_horizon_days"]) <= scoring.as_of_date.max()


def test_recency_alone_is_not_the_whole_story(generated, params):
    "Only live customers enter a snapshot, so recency cannot trivially separate churners."
    from sklearn.metrics import roc_auc_score
    labelled, _ = split_labelled(build_features(*generated, params["features"], params["schema"]))
    assert labelled.days_since_last_event.max() <= params["features"]["active_lookback_days"]
    assert roc_auc_score(labelled.churned, labelled.days_since_last_event) < 0.85


def test_event_types_come_from_the_data(params):
    events = pd.DataFrame({"customer_id": [1, 1, 2, 2], "ts": pd.to_datetime(["2025-01-01", "2025-02-05", "2025-01-02", "2025-02-06"]),
                           "event_type": ["login", "purchase", "login", "login"], "amount": [None, 5.0, None, None]})
    customers = pd.DataFrame({"customer_id": [1, 2]})
    table = build_features(customers, events, {**params["features"], "min_history_days": 30}, params["schema"])
    assert {"n_login_30d", "n_purchase_30d", "sum_amount_purchase_30d", "last_amount_purchase"} <= set(table.columns)
    assert not any("session" in c for c in table.columns)


def test_parquet_output_equals_the_frame(generated, params, tmp_path):
    customers, events = generated
    customers.to_parquet(tmp_path / "customers.parquet")
    events.to_parquet(tmp_path / "events.parquet")
    frame = build_features(customers, events, params["features"], params["schema"])
    written = build_features(tmp_path / "customers.parquet", tmp_path / "events.parquet", params["features"],
                             params["schema"], out_path=tmp_path / "features.parquet")
    from_disk = pd.read_parquet(written)
    pd.testing.assert_frame_equal(frame.drop(columns="churned"), from_disk.drop(columns="churned"), check_dtype=False)
    assert frame.churned.astype("float").equals(from_disk.churned.astype("float"))
