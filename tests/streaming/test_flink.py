"""Issue 15: the windowed aggregates as a Flink SQL job (PyFlink 2.3 in its own locked environment, `make flink`),
run locally on a bounded source of the event messages the stream carries, give the batch features: the same rows,
columns, dtypes and values (1e-9) as DuckDB on a pipeline run, on an ingested log with text ids and ties, and
through `churnops features --engine flink` on a drift scenario."""
import subprocess

import pandas as pd
import pyarrow.parquet as pq
import pytest

from churnops.features import build_features, split_labelled
from churnops.flink import flink_job, run_flink_job
from churnops.generate import generate_churn_data
from churnops.params import load_params
from tests.conftest import ingested_log_with_ties


@pytest.fixture(scope="module")
def params(repo):
    return load_params(repo / "params.yaml")


def assert_same_table(duck: pd.DataFrame, flink: pd.DataFrame) -> None:
    assert len(flink) == len(duck) > 0
    assert list(flink.columns) == list(duck.columns)
    assert flink.dtypes.astype(str).to_dict() == duck.dtypes.astype(str).to_dict()
    pd.testing.assert_frame_equal(flink, duck, check_exact=False, rtol=0, atol=1e-9)


def test_flink_equals_what_the_features_stage_wrote_in_a_pipeline_run(pipeline_run):
    "The synthetic pipeline run (DuckDB engine): the Flink job on its raw tables gives the stage's two tables."
    run_params = load_params(pipeline_run / "params.yaml")
    raw = pipeline_run / "data" / "raw"
    flink = build_features(pd.read_parquet(raw / "customers.parquet"), raw / "events.parquet",
                           {**run_params["features"], "engine": "flink"}, run_params["schema"])
    labelled, scoring = split_labelled(flink)
    assert len(labelled) > 5_000 and len(scoring) > 500
    assert_same_table(pd.read_parquet(pipeline_run / "data" / "features" / "labelled.parquet"), labelled)
    assert_same_table(pd.read_parquet(pipeline_run / "data" / "features" / "scoring.parquet"), scoring)


def test_flink_equals_duckdb_on_an_ingested_event_log(params, tmp_path):
    "Text customer ids, no customer table, a measure only some event types carry, two values at the same time."
    log, customers, ingested = ingested_log_with_ties(tmp_path)
    duck = build_features(customers, ingested, params["features"], params["schema"])
    flink = build_features(customers, ingested, {**params["features"], "engine": "flink"}, params["schema"])
    assert len(ingested) == len(log) and duck.customer_id.str.startswith("U").all()
    assert_same_table(duck, flink)


def test_the_features_command_runs_on_flink_and_writes_duckdbs_parquet(params, repo, tmp_path):
    customers, events = generate_churn_data(800, 200, seed=9, drift={"scenario": "outage", "start_day": 150})
    customers.to_parquet(tmp_path / "customers.parquet")
    events.to_parquet(tmp_path / "events.parquet")
    tables = {}
    for engine in ("duckdb", "flink"):
        done = subprocess.run(["churnops", "features", "--customers", tmp_path / "customers.parquet", "--events",
                               tmp_path / "events.parquet", "--out", tmp_path / f"{engine}.parquet", "--engine", engine,
                               "--params", repo / "params.yaml"], cwd=repo, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        tables[engine] = tmp_path / f"{engine}.parquet"
    assert "flink: " in done.stdout and "(batch, parallelism 2)" in done.stdout
    arrow_types = lambda path: [(field.name, field.type) for field in pq.read_schema(path)]
    assert arrow_types(tables["flink"]) == arrow_types(tables["duckdb"])
    assert_same_table(pd.read_parquet(tables["duckdb"]), pd.read_parquet(tables["flink"]))


def test_a_failed_flink_job_says_which_statement_and_why_and_keeps_the_last_table(tmp_path):
    table = tmp_path / "features.parquet"
    table.write_bytes(b"the last good table")
    script = tmp_path / "broken.sql"
    script.write_text(flink_job([], "SELECT nope FROM events", "SELECT 1 AS x",
                                ({"customer_id": "BIGINT"}, {"connector": "filesystem", "path": str(tmp_path), "format": "json"}),
                                ({"customer_id": "BIGINT"}, {"connector": "filesystem", "path": str(tmp_path), "format": "json"})))
    with pytest.raises(RuntimeError, match=r"statement 5 of 5 in .*broken.sql failed: .*Column 'nope' not found"):
        run_flink_job(script, table)
    assert table.read_bytes() == b"the last good table"
