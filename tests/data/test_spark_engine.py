"""Issue 14: the one feature definition on DuckDB and on Spark gives the same table (rows, columns, dtypes,
values within 1e-9), on the default synthetic run, a drift scenario and an ingested event log; and the Spark
engine is point-in-time correct too."""
import pandas as pd
import pytest

from churnops.features import build_features, feature_columns, split_labelled
from churnops.generate import generate_churn_data
from churnops.params import load_params
from tests.conftest import ingested_log_with_ties


@pytest.fixture(scope="module")
def params(repo):
    return load_params(repo / "params.yaml")


def assert_same_table(duck: pd.DataFrame, spark: pd.DataFrame) -> None:
    assert list(spark.columns) == list(duck.columns)
    assert spark.dtypes.astype(str).to_dict() == duck.dtypes.astype(str).to_dict()
    pd.testing.assert_frame_equal(spark, duck, check_exact=False, rtol=0, atol=1e-9)


def test_spark_equals_what_the_features_stage_wrote_in_a_pipeline_run(pipeline_run, spark_features):
    "The synthetic pipeline run (DuckDB engine): Spark on its raw tables gives the stage's training and scoring tables."
    run_params = load_params(pipeline_run / "params.yaml")
    raw = pipeline_run / "data" / "raw"
    spark = build_features(pd.read_parquet(raw / "customers.parquet"), raw / "events.parquet",
                           {**run_params["features"], **spark_features}, run_params["schema"])
    labelled, scoring = split_labelled(spark)
    assert len(labelled) > 5_000 and len(scoring) > 500
    assert_same_table(pd.read_parquet(pipeline_run / "data" / "features" / "labelled.parquet"), labelled)
    assert_same_table(pd.read_parquet(pipeline_run / "data" / "features" / "scoring.parquet"), scoring)


def test_spark_equals_duckdb_on_a_drift_scenario_written_to_parquet(params, spark_features, tmp_path):
    customers, events = generate_churn_data(1500, 200, seed=9, drift={"scenario": "outage", "start_day": 150})
    customers.to_parquet(tmp_path / "customers.parquet")
    events.to_parquet(tmp_path / "events.parquet")
    inputs = (tmp_path / "customers.parquet", tmp_path / "events.parquet")
    build_features(*inputs, params["features"], params["schema"], out_path=tmp_path / "duckdb.parquet")
    build_features(*inputs, spark_features, params["schema"], out_path=tmp_path / "spark.parquet")
    import pyarrow.parquet as pq
    arrow_types = lambda path: [(field.name, field.type) for field in pq.read_schema(path)]
    assert arrow_types(tmp_path / "spark.parquet") == arrow_types(tmp_path / "duckdb.parquet")
    assert_same_table(pd.read_parquet(tmp_path / "duckdb.parquet"), pd.read_parquet(tmp_path / "spark.parquet"))


def test_spark_equals_duckdb_on_an_ingested_event_log(params, spark_features, tmp_path):
    "Text customer ids, no customer table, a measure only some event types carry, two values at the same time."
    log, customers, ingested = ingested_log_with_ties(tmp_path)
    duck = build_features(customers, ingested, params["features"], params["schema"])
    spark = build_features(customers, ingested, spark_features, params["schema"])
    assert len(ingested) == len(log) and duck.customer_id.str.startswith("U").all()
    assert_same_table(duck, spark)


def test_spark_reads_no_event_at_or_after_the_as_of_date(params, spark_features):
    customers, events = generate_churn_data(600, 150, seed=21)
    table = build_features(customers, events, spark_features, params["schema"])
    as_of = sorted(table.as_of_date.unique())[len(table.as_of_date.unique()) // 2]
    future = events[events.ts >= as_of].copy()
    future["amount"] = future["amount"] * 10
    future["customer_id"] = future["customer_id"].sample(frac=1.0, random_state=1).to_numpy()
    altered = pd.concat([events[events.ts < as_of], future]).reset_index(drop=True)
    again = build_features(customers, altered, spark_features, params["schema"])
    columns = ["customer_id", *(c for c in feature_columns(table) if c != "churned")]
    left = table.loc[table.as_of_date == as_of, columns].reset_index(drop=True)
    right = again.loc[again.as_of_date == as_of, columns].reset_index(drop=True)
    assert len(left) > 100
    pd.testing.assert_frame_equal(left, right)
    assert not table.loc[table.as_of_date == as_of, "churned"].equals(again.loc[again.as_of_date == as_of, "churned"])
