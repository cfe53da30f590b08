"""`/predict/customer(s)`: scores by id from the online store the pipeline materialized, equal to the score
stage; unknown ids, stale features, and a Redis outage that only the lookups by id feel."""
import httpx
import pandas as pd
import pytest

from churnops.feature_store import ONLINE_STORE_ENV, REDIS_CONNECTION_ENV
from tests.pipeline.test_feature_store import redis_server  # noqa: F401 (a fixture)
from tests.serving.test_api import serve  # noqa: F401 (a fixture)


@pytest.fixture(scope="module")
def stage_scores(pipeline_run):
    return pd.read_parquet(pipeline_run / "data" / "predictions" / "scores.parquet").set_index("customer_id")


def scores_by_id(server, ids):
    answers, unknown = [], []
    for start in range(0, len(ids), 1000):  # serve.max_batch_rows
        reply = httpx.post(server.url + "/predict/customers", json={"customer_ids": ids[start:start + 1000]}, timeout=60)
        assert reply.status_code == 200, reply.text[:1000]
        answers += reply.json()["predictions"]
        unknown += reply.json()["unknown_ids"]
    return pd.DataFrame(answers).set_index("customer_id"), unknown


def test_scores_by_id_equal_the_score_stage(pipeline_run, serve, stage_scores):  # noqa: F811
    server = serve(pipeline_run / "models" / "champion", cwd=pipeline_run)
    ready = httpx.get(server.url + "/ready").json()
    assert ready["feature_store"] == {"available": True, "online_store": "sqlite", "view": "customer_features",
                                      "error": None}, ready
    api, unknown = scores_by_id(server, stage_scores.index.tolist())
    assert unknown == [] and len(api) == len(stage_scores) > 100
    assert (api.churn_probability - stage_scores.churn_probability.reindex(api.index)).abs().max() <= 1e-12
    assert (api.contact == stage_scores.contact.reindex(api.index)).all()
    assert set(api.feature_as_of) == {str(stage_scores.as_of_date.iloc[0].date())}
    assert api.stale.all(), "the synthetic 2025 snapshot is older than feature_store.max_feature_age_days today"
    one = stage_scores.index[0]
    single = httpx.post(server.url + "/predict/customer", json={"customer_id": int(one)})
    assert single.status_code == 200 and abs(single.json()["churn_probability"] - stage_scores.churn_probability[one]) <= 1e-12
    missing = httpx.post(server.url + "/predict/customer", json={"customer_id": 987654321})
    assert missing.status_code == 404 and "987654321 has no features in the online store" in missing.json()["detail"]
    assert httpx.post(server.url + "/predict/customer", json={"customer_id": 1, "extra": 1}).status_code == 422
    assert httpx.post(server.url + "/predict/customers", json={"customer_ids": [1] * 1001}).status_code == 422
    metrics = httpx.get(server.metrics_url).text
    assert f"churnops_stale_features_total {float(len(stage_scores) + 1)}" in metrics
    assert 'churnops_errors_total{kind="validation"} 2.0' in metrics
    paths = httpx.get(server.url + "/openapi.json").json()["paths"]
    assert {"/predict/customer", "/predict/customers"} <= set(paths)
    # ids no INT64 key can hold are that caller's 404, not an outage for everyone (issue 38.7)
    for odd, status in [("99999999999999999999", 404), ("-99999999999999999999", 404), (2**70, 422)]:  # a number
        reply = httpx.post(server.url + "/predict/customer", json={"customer_id": odd})        # past 2**53: the schema's
        assert reply.status_code == status, (odd, reply.text)
    batch = httpx.post(server.url + "/predict/customers", json={"customer_ids": ["99999999999999999999", int(one)]})
    assert batch.status_code == 200 and batch.json()["unknown_ids"] == ["99999999999999999999"], batch.text
    after = httpx.post(server.url + "/predict/customer", json={"customer_id": int(one)})
    assert after.status_code == 200, "the store was not marked down by another caller's id"
    ready_text = httpx.get(server.url + "/ready").text
    assert "99999999999999999999" not in ready_text and '"available":true' in ready_text, ready_text


def test_redis_down_fails_only_the_lookups_by_id(pipeline_run, serve, redis_server, stage_scores, tmp_path):  # noqa: F811
    from churnops.feature_store import materialize_newest, open_store
    from tests.pipeline.test_feature_store import store_block
    process, port = redis_server
    block = {**store_block(pipeline_run), "online_store": "redis", "redis_connection": f"127.0.0.1:{port}"}
    table = pd.read_parquet(pipeline_run / "data" / "feature_store" / "customer_features.parquet")
    materialize_newest(open_store(block, pipeline_run), block, table, "data/feature_store/customer_features.parquet",
                       pipeline_run)
    server = serve(pipeline_run / "models" / "champion", cwd=pipeline_run,
                   env={ONLINE_STORE_ENV: "redis", REDIS_CONNECTION_ENV: f"127.0.0.1:{port}"})
    assert httpx.get(server.url + "/ready").json()["feature_store"]["online_store"] == "redis"
    one = stage_scores.index[0]
    reply = httpx.post(server.url + "/predict/customer", json={"customer_id": int(one)}).json()
    assert abs(reply["churn_probability"] - stage_scores.churn_probability[one]) <= 1e-12
    scoring = pd.read_parquet(pipeline_run / "data" / "features" / "scoring.parquet")
    body = {k: (v.item() if hasattr(v, "item") else v) for k, v in scoring.drop(columns="as_of_date").iloc[0].items()}

    process.terminate()
    process.wait(timeout=30)
    ready = httpx.get(server.url + "/ready")
    assert ready.status_code == 200 and ready.json()["feature_store"]["available"] is False, ready.json()
    down = httpx.post(server.url + "/predict/customer", json={"customer_id": int(one)})
    assert down.status_code == 503 and "online store (redis) unavailable" in down.json()["detail"], down.text
    assert httpx.post(server.url + "/predict", json=body).status_code == 200, "the body-based route needs no store"
    assert 'churnops_errors_total{kind="feature_store"} 1.0' in httpx.get(server.metrics_url).text
