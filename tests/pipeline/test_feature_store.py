"""The feature store (Feast) after a pipeline run: the library's feature table, Feast's point-in-time
retrieval and the online lookup give the same rows (columns, dtypes, values, counts), on SQLite and on a
real Redis server; the Feast CLI works on the repository the run wrote."""
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from churnops.catalog import stage_products
from churnops.contract import KEY_COLUMNS, LABEL_COLUMN
from churnops.feature_store import historical_features, materialize_newest, online_features, open_store
from churnops.params import load_params
from tests.conftest import free_port, start_redis

SAMPLE = 200


def store_block(root: Path) -> dict:
    return load_params(root / "params.yaml")["feature_store"]


def assert_store_parity(root: Path, block: dict | None = None) -> int:
    "Library features == Feast historical retrieval == online lookup for a sample of (customer, as-of) rows."
    block = block or store_block(root)
    labelled = pd.read_parquet(root / "data" / "features" / "labelled.parquet")
    scoring = pd.read_parquet(root / "data" / "features" / "scoring.parquet")
    store = open_store(block, root)
    past = labelled.sample(min(SAMPLE, len(labelled)), random_state=0)
    newest = scoring.sample(min(SAMPLE, len(scoring)), random_state=0).reset_index(drop=True)
    entities = pd.concat([past[list(KEY_COLUMNS)], newest[list(KEY_COLUMNS)]], ignore_index=True)
    offline = historical_features(store, block, entities)
    library = pd.concat([past.drop(columns=LABEL_COLUMN), newest], ignore_index=True)
    assert len(offline) == len(library) == len(entities)
    pd.testing.assert_frame_equal(offline, library)
    online = online_features(store, block, newest.customer_id.tolist())
    assert len(online) == len(newest)
    pd.testing.assert_frame_equal(online, newest)
    return len(library)


def test_library_offline_and_online_features_are_equal(pipeline_run):
    assert assert_store_parity(pipeline_run) > 300
    summary = json.loads((pipeline_run / stage_products("materialize", pipeline_run / "pipeline.yaml")["summary"]).read_text())
    scoring = pd.read_parquet(pipeline_run / "data" / "features" / "scoring.parquet")
    assert summary["customers"] == len(scoring) and summary["online_store"] == "sqlite", summary
    assert summary["features"] == len(scoring.columns) - len(KEY_COLUMNS)


def test_the_feast_cli_works_on_the_repository(pipeline_run, tmp_path):
    "`feast apply` (definitions generated from the table), `feast feature-views list` and `feast ui` in feature_repo/."
    feast = str(Path(sys.executable).parent / "feast")
    repo = pipeline_run / "feature_repo"
    applied = subprocess.run([feast, "apply"], cwd=repo, capture_output=True, text=True)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    listed = subprocess.run([feast, "feature-views", "list"], cwd=repo, capture_output=True, text=True)
    assert listed.returncode == 0 and "customer_features" in listed.stdout, listed.stdout + listed.stderr
    port, log = free_port(), tmp_path / "ui.log"
    with log.open("w") as out:
        ui = subprocess.Popen([feast, "ui", "--host", "127.0.0.1", "--port", str(port)], cwd=repo, stdout=out, stderr=out)
    try:
        url = f"http://127.0.0.1:{port}/api/v1/feature_views?project=churnops"
        for _ in range(300):
            assert ui.poll() is None, log.read_text()[-3000:]
            try:
                views = httpx.get(url, timeout=5).json()["featureViews"]
                break
            except httpx.TransportError:
                time.sleep(0.2)
        scoring = pd.read_parquet(pipeline_run / "data" / "features" / "scoring.parquet")
        served = [f["name"] for f in views[0]["spec"]["features"]]
        assert served == list(scoring.columns[len(KEY_COLUMNS):]), "the UI shows the features the run built"
    finally:
        ui.terminate()
        ui.wait(timeout=30)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    "Debian's redis-server on a free port of 127.0.0.1 (no persistence), stopped after the tests."
    port = free_port()
    process = start_redis(port, tmp_path_factory.mktemp("redis"))
    yield process, port
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=30)


def test_redis_online_store_gives_the_same_rows(pipeline_run, redis_server, tmp_path):
    _, port = redis_server
    block = {**store_block(pipeline_run), "online_store": "redis", "redis_connection": f"127.0.0.1:{port}",
             "registry": str(tmp_path / "registry.db")}
    table_path = stage_products("materialize", pipeline_run / "pipeline.yaml")["offline_table"]
    table = pd.read_parquet(pipeline_run / table_path)
    done = materialize_newest(open_store(block, pipeline_run), block, table, table_path, pipeline_run)
    assert done.online_store == "redis" and done.customers == (table.as_of_date == table.as_of_date.max()).sum()
    assert assert_store_parity(pipeline_run, block) > 300
