"""The prediction API as a real server process (`churnops serve`): schema fuzzing, a bounded load test with
a hot reload in the middle, champion/challenger routing, shadow mode, broken models, tracing."""
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from churnops.assignments import customer_bucket, read_assignments
from churnops.config import free_ports
from churnops.experiment import first_exposures
from churnops.features import build_features, split_labelled
from churnops.generate import generate_churn_data
from churnops.model import load_bundle, save_model
from churnops.params import load_params
from churnops.pipeline import override_params
from churnops.serve_auth import hash_key
from churnops.train import make_model
from tests.conftest import free_port

TOKEN = "test-admin-token"
API_KEY = "co_" + "fuzzing-client-key-" + "0" * 24  # pragma: allowlist secret (a test key)
EXPIRED_KEY = API_KEY.replace("fuzzing", "expiring")
CREDENTIALS = {"valid": API_KEY, "missing": None, "wrong": API_KEY[:-1] + "1", "expired": EXPIRED_KEY}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, repo):
    "Two bundles (gradient boosting champion v1, logistic regression challenger v2) and scoring rows."
    params = load_params(repo / "params.yaml")
    customers, events = generate_churn_data(n_customers=800, n_days=120, seed=11)
    table = build_features(customers, events, {**params["features"], "windows_days": [7, 30]}, params["schema"])
    labelled, scoring = split_labelled(table)
    inputs = [c for c in labelled.columns if c not in ("customer_id", "as_of_date", "churned")]
    categorical = params["schema"]["customer_attributes"]
    numeric = [c for c in inputs if c not in categorical]
    root = tmp_path_factory.mktemp("bundles")
    for version, kind, hyper in [("1", "hist_gradient_boosting", {"max_iter": 30}), ("2", "logistic_regression", {})]:
        model = make_model(kind, numeric, categorical, hyper).fit(labelled[inputs], labelled.churned)
        (root / version).mkdir()
        save_model(model, root / version / "model")
        (root / version / "bundle.json").write_text(json.dumps(
            {"model_name": "churn", "version": version, "alias": "champion" if version == "1" else "challenger",
             "profit_threshold": 0.2}))
    rows = [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
            for r in scoring.drop(columns="as_of_date").to_dict("records")]
    return root, rows


class Server:
    """A `churnops serve` process on a free port with a params.yaml copy carrying `serve` overrides. Anonymous
    and without a rate limit unless `api_key` is given (these tests are about scoring; test_access.py is about
    keys): then the server reads a keys file with one client of that key (scopes predict and admin, no practical
    rate limit) and `other_clients`, and `headers` carries the key."""

    def __init__(self, repo, tmp_path, source, cwd=None, env=None, api_key=None, other_clients=(), assignment_log=None,
                 **serve):
        self.headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        if api_key:
            keys = tmp_path / f"api-keys-{free_port()}.yaml"
            keys.write_text(yaml.safe_dump({"clients": [{"name": "tests", "key_sha256": hash_key(api_key),
                                                         "scopes": ["predict", "admin"], "requests_per_minute": 1e9},
                                                        *other_clients]}))
            serve = {"api_keys_file": str(keys), "allow_anonymous": False, **serve}
        else:
            serve = {"api_keys_file": None, "allow_anonymous": True, "anonymous_requests_per_minute": 1e9, **serve}
        params = tmp_path / f"params-{free_port()}.yaml"
        shutil.copy(repo / "params.yaml", params)
        self.assignments = assignment_log or tmp_path / f"assignments-{free_port()}"  # this server's A/B split decisions
        override_params(params, {**{f"serve.{k}": v for k, v in serve.items()}, "experiment.assignment_log": str(self.assignments)})
        self.port, self.metrics_port = free_ports(2)
        self.url, self.metrics_url = f"http://127.0.0.1:{self.port}", f"http://127.0.0.1:{self.metrics_port}/metrics"
        self.out, self.err = tmp_path / f"{self.port}.out", tmp_path / f"{self.port}.err"  # files: a pipe can fill up
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).parent / "churnops"), "serve", "--port", str(self.port), "--metrics-port", str(self.metrics_port),
                 "--model-source", str(source), "--params", str(params)], stdout=out, stderr=err, cwd=cwd,
                env={**os.environ, "CHURNOPS_ADMIN_TOKEN": TOKEN, **(env or {})})
        deadline = time.time() + 180  # a busy CI machine starts a server slowly (issue 38.12)
        while time.time() < deadline:
            assert self.process.poll() is None, self.err.read_text()
            try:
                httpx.get(self.url + "/health", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        self.process.kill()  # not left behind
        raise TimeoutError(f"the server did not start in 180 s: {self.err.read_text()[-2000:]}")

    def stop(self):
        "Stop the server; return what it printed (stdout, stderr)."
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        return self.out.read_text(), self.err.read_text()


@pytest.fixture()
def serve(repo, tmp_path):
    servers = []

    def start(source, cwd=None, env=None, **serve):
        servers.append(Server(repo, tmp_path, source, cwd, env, **serve))
        return servers[-1]
    yield start
    for server in servers:
        if server.process.poll() is None:
            server.stop()


@pytest.fixture(scope="module")
def fuzz_server(repo, trained, tmp_path_factory):
    expired = {"name": "expired", "key_sha256": hash_key(EXPIRED_KEY), "scopes": ["predict", "admin"],
               "expires": "2020-01-01"}
    server = Server(repo, tmp_path_factory.mktemp("fuzz"), trained[0] / "1", api_key=API_KEY, other_clients=[expired])
    yield server
    _, err = server.stop()
    assert "Traceback" not in err, err[-3000:]


@pytest.fixture(scope="module")
def api_schema(fuzz_server):
    return schemathesis.openapi.from_url(fuzz_server.url + "/openapi.json")


OPERATIONS = [("/predict", "POST"), ("/predict/batch", "POST"), ("/admin/reload", "POST"), ("/ready", "GET"),
              ("/health", "GET")]


@pytest.mark.parametrize(("path", "method", "mode", "credentials"), [
    *[(p, m, GenerationMode.POSITIVE, "valid") for p, m in OPERATIONS],
    *[(p, "POST", GenerationMode.NEGATIVE, "valid") for p in ("/predict", "/predict/batch")],  # these have a body schema
    *[(p, "POST", GenerationMode.POSITIVE, c) for p in ("/predict", "/predict/batch") for c in ("missing", "wrong", "expired")]])
def test_fuzzed_requests_never_get_a_server_error(api_schema, path, method, mode, credentials):
    """Schema-driven requests (valid ones, and ones that break the schema) never get a 5xx; valid ones with a valid
    key get a 200; without a key, with a wrong one or an expired one: a 401 and never a score."""
    operation = api_schema[path][method]
    key = CREDENTIALS[credentials]
    headers = {"authorization": f"Bearer {key}"} if key else {}

    @settings(max_examples=60 if method == "POST" else 5, deadline=None, suppress_health_check=list(HealthCheck),
              database=None, phases=[Phase.explicit, Phase.generate])  # no shrinking: it can take minutes
    @given(data=st.data())
    def check(data):
        case = data.draw(operation.as_strategy(generation_mode=mode))
        response = case.call(headers=headers)
        assert response.status_code < 500, (case.body, response.text[:500])
        if credentials != "valid" and path.startswith("/predict"):
            assert response.status_code == 401 and "churn_probability" not in response.text, response.text[:500]
            assert "Bearer realm" in str(response.headers.get("www-authenticate")), response.headers
        elif path.startswith("/predict") and mode == GenerationMode.POSITIVE:
            assert response.status_code == 200, (case.body, response.text[:500])
    check()


def test_the_schema_documents_every_feature(fuzz_server, trained):
    components = httpx.get(fuzz_server.url + "/openapi.json").json()["components"]["schemas"]
    features = components["CustomerFeatures"]
    assert set(features["required"]) == set(trained[1][0]), "every model input (and the customer id) is required"
    assert features["additionalProperties"] is False


def test_invalid_rows_get_precise_422s(fuzz_server, trained):
    row = trained[1][0]
    cases = {"missing field": ({k: v for k, v in row.items() if k != "tenure_days"}, "missing", ["tenure_days"]),
             "wrong type": ({**row, "n_events_7d": "many"}, "float_type", ["n_events_7d"]),
             "out of range": ({**row, "n_events_7d": -3}, "greater_than_equal", ["n_events_7d"]),
             "unknown category": ({**row, "plan": "platinum"}, "literal_error", ["plan"]),
             "unknown field": ({**row, "favourite_colour": "red"}, "extra_forbidden", ["favourite_colour"])}
    for name, (body, kind, loc) in cases.items():
        reply = httpx.post(fuzz_server.url + "/predict", json=body, headers=fuzz_server.headers)
        assert reply.status_code == 422, name
        assert [(d["type"], d["loc"]) for d in reply.json()["detail"]] == [(kind, loc)], (name, reply.text)
    infinite = json.dumps(row).replace(f'"n_events_7d": {json.dumps(row["n_events_7d"])}', '"n_events_7d": Infinity')
    reply = httpx.post(fuzz_server.url + "/predict", content=infinite,
                       headers={"content-type": "application/json", **fuzz_server.headers})
    assert reply.status_code == 422
    too_many = httpx.post(fuzz_server.url + "/predict/batch", json={"rows": [row] * 1001}, headers=fuzz_server.headers)
    assert too_many.status_code == 422 and too_many.json()["detail"][0]["type"] == "too_long"


def hostile_body(row: dict, unknown_keys: int) -> bytes:
    "A row with this many unknown keys (the issue's 3.85 MB body had 330,000): one row's worth of valid fields besides."
    return json.dumps({**row, **{f"k{i}": 0 for i in range(unknown_keys)}}, separators=(",", ":")).encode()


def test_a_body_of_unknown_keys_is_refused_in_a_small_answer_while_health_answers(fuzz_server, trained):
    "Work is bounded before parsing: many unknown keys, rows or keys in a batch row get one short 422 (issue 38.6)."
    row, headers = trained[1][0], {"content-type": "application/json", **fuzz_server.headers}
    body = hostile_body(row, 330_000)
    assert 3_500_000 < len(body) < 4_000_000  # under serve.max_body_bytes: the size limit alone does not stop it

    async def hostile_while_health():
        async with httpx.AsyncClient(base_url=fuzz_server.url, timeout=120) as client:
            hostile = asyncio.create_task(client.post("/predict", content=body, headers=headers))
            health = []
            while not hostile.done():
                health.append((await client.get("/health")).status_code)
            return await hostile, health

    reply, health = asyncio.run(hostile_while_health())
    assert reply.status_code == 422 and len(reply.content) < 2_000, reply.content[:500]
    assert "keys, more than the" in reply.json()["detail"] and "customer_id and its features" in reply.json()["detail"]
    assert health and set(health) == {200}, "/health answered while the hostile body was being refused"
    batch = json.dumps({"rows": [row, json.loads(hostile_body(row, 50_000))]}).encode()
    reply = httpx.post(fuzz_server.url + "/predict/batch", content=batch, headers=headers, timeout=120)
    assert reply.status_code == 422 and reply.json()["detail"].startswith("rows.1: "), reply.text[:500]
    wrong_types = httpx.post(fuzz_server.url + "/predict/batch", headers=headers, timeout=120,
                             json={"rows": [{k: "x" for k in row}] * 1000})  # every field of every row wrong
    problems = wrong_types.json()["detail"]
    assert wrong_types.status_code == 422 and len(problems) == 51 and problems[-1]["type"] == "too_many_problems"
    assert httpx.post(fuzz_server.url + "/predict", json=row, headers=fuzz_server.headers).status_code == 200


async def _load(url, rows, requests_per_worker, concurrency, during=None):
    """Closed-loop load: `concurrency` clients post a fixed number of single rows each (bounded in count, not
    timed); `during` runs once a third of them are answered, while the rest are in flight. Returns the status
    counts and how many answers came after `during` finished."""
    statuses: dict[int, int] = {}
    total = requests_per_worker * concurrency
    third, after = asyncio.Event(), [0]
    done = [False]
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        async def worker(w):
            for k in range(requests_per_worker):
                reply = await client.post("/predict", json=rows[(w + k * concurrency) % len(rows)])
                statuses[reply.status_code] = statuses.get(reply.status_code, 0) + 1
                after[0] += done[0]
                if sum(statuses.values()) >= total // 3:
                    third.set()
        tasks = [asyncio.create_task(worker(w)) for w in range(concurrency)]
        if during:
            await third.wait()
            await during(client)
            done[0] = True
        await asyncio.gather(*tasks)
    return statuses, after[0]


def test_bounded_load_with_a_reload_in_the_middle_has_no_errors(serve, trained):
    root, rows = trained
    server = serve(root / "1")
    reloads = []

    async def reload(client):
        reloads.append(await client.post("/admin/reload", headers={"authorization": f"Bearer {TOKEN}"}))
    statuses, answered_after_reload = asyncio.run(_load(server.url, rows, requests_per_worker=40, concurrency=16,
                                                        during=reload))
    assert reloads[0].status_code == 200 and reloads[0].json()["champion"] == "churn/1"
    assert statuses == {200: 640}, statuses  # every request answered, none failed, across the swap
    assert answered_after_reload > 0, "the reload finished before the load did: it happened under load"
    metrics = httpx.get(server.metrics_url).text
    assert 'churnops_http_requests_total{method="POST",route="/predict",status="200"} 640.0' in metrics
    assert 'churnops_prediction_score_count{model_version="churn/1",role="champion"}' in metrics
    assert httpx.post(server.url + "/admin/reload").status_code == 401


def test_split_traffic_is_sticky_per_customer_and_labelled_by_version(serve, trained):
    root, rows = trained
    server = serve(root / "1", challenger_source=str(root / "2"), challenger_share=0.3)
    with httpx.Client(base_url=server.url) as client:
        first = {r["customer_id"]: client.post("/predict", json=r).json()["model"]["version"] for r in rows}
        again = {r["customer_id"]: client.post("/predict", json=r).json()["model"]["version"] for r in rows}
    assert first == again, "a customer always meets the same model"
    assert first == {c: "2" if customer_bucket(c, "churn/1 vs churn/2") < 0.3 else "1" for c in first}, "split per experiment"
    share = sum(v == "2" for v in first.values()) / len(first)
    assert 0.2 < share < 0.4, share
    batch = httpx.post(server.url + "/predict/batch", json={"rows": rows[:50]}).json()["predictions"]
    assert [p["model"]["version"] for p in batch] == [first[r["customer_id"]] for r in rows[:50]]
    metrics = httpx.get(server.metrics_url).text
    assert 'churnops_predictions_total{model_version="churn/2",role="challenger"}' in metrics
    assert 'churnops_model_info{alias="challenger",name="churn",role="challenger",version="2"} 1.0' in metrics
    # every decision is in the assignment log, and an experiment's unit is the customer's first exposure
    server.stop()
    assignments = read_assignments(server.assignments)
    assert len(assignments) == 2 * len(rows) + 50 and set(assignments.experiment) == {"churn/1 vs churn/2"}
    assert [p.parent.name[:5] for p in server.assignments.rglob("*.jsonl")] == ["date="], "one file per replica and day"
    exposures, counts = first_exposures(assignments)
    assert counts["customers"] == len(rows) and counts["crossed_arms"] == 0
    logged = dict(zip(exposures.customer_id, exposures.model))
    assert logged == {str(c): f"churn/{v}" for c, v in first.items()}


def test_reasons_come_from_the_model_that_answered(serve, trained):
    "?explain=true: each prediction's reasons are those of the model that answered it (gradient boosting or linear)."
    root, rows = trained
    server = serve(root / "1", challenger_source=str(root / "2"), challenger_share=0.5)
    answer = httpx.post(server.url + "/predict/batch?explain=true", json={"rows": rows[:200]}, timeout=60)
    assert answer.status_code == 200, answer.text
    served = {version: load_bundle(root / version).predictor for version in ("1", "2")}
    roles = set()
    for row, prediction in zip(rows[:200], answer.json()["predictions"]):
        roles.add(prediction["role"])
        probability, (reasons,) = served[prediction["model"]["version"]].explain_rows([row])
        assert prediction["churn_probability"] == pytest.approx(probability[0], abs=1e-12)
        assert prediction["reasons"] == reasons and len(reasons) <= 3
        assert all(r["value"] == row[r["feature"]] for r in reasons)  # the customer's own values
        contributions = [r["contribution"] for r in reasons]
        assert contributions == sorted(contributions, reverse=True) and min(contributions, default=1) > 0
    assert roles == {"champion", "challenger"}
    assert sum(bool(p["reasons"]) for p in answer.json()["predictions"]) > 150  # most customers have a reason
    one = httpx.post(server.url + "/predict?explain=true", json=rows[0]).json()
    assert one["reasons"] == answer.json()["predictions"][0]["reasons"]
    assert httpx.post(server.url + "/predict", json=rows[0]).json()["reasons"] is None  # not asked: none computed
    refused = httpx.post(server.url + "/predict?explain=maybe", json=rows[0])
    assert refused.status_code == 422 and "explain='maybe'" in refused.text


def test_replicas_record_the_split_on_a_kafka_topic_that_outlives_them(serve, trained, kafka_broker, repo):
    # the cluster's log: pods have read-only disks and come and go; the topic keeps every decision
    root, rows = trained[0], trained[1][:300]
    topic = f"churnops.assignments.{free_port()}"
    split = {"challenger_source": str(root / "2"), "challenger_share": 0.3, "assignment_log": f"kafka:{topic}",
             "env": {"CHURNOPS_KAFKA_BOOTSTRAP": kafka_broker}}
    replicas = [serve(root / "1", **split), serve(root / "1", **split)]
    with httpx.Client() as client:
        answered = {r["customer_id"]: client.post(replicas[i % 2].url + "/predict", json=r).json()["model"]["version"]
                    for i, r in enumerate(rows)}
    replicas[0].stop()  # a restart (a rollout, an evicted pod): what it queued is delivered on the way out
    restarted = serve(root / "1", **split)
    assert httpx.post(restarted.url + "/predict/batch", json={"rows": rows[:50]}).status_code == 200
    for server in (replicas[1], restarted):
        _, err = server.stop()
        assert "assignment log" not in err, err[-2000:]
    from confluent_kafka import Producer  # a message that is not a decision: skipped, and named
    stranger = Producer({"bootstrap.servers": kafka_broker})
    stranger.produce(topic, b"not json", b"someone")
    stranger.flush(10)
    with pytest.warns(UserWarning, match=rf"1 unreadable assignment record\(s\) skipped, first: {topic}\[\d\]@\d+"):
        assignments = read_assignments(f"kafka:{topic}", {**load_params(repo / "params.yaml")["stream"],
                                                          "bootstrap_servers": kafka_broker})
    assert len(assignments) == len(rows) + 50 and set(assignments.experiment) == {"churn/1 vs churn/2"}
    exposures, counts = first_exposures(assignments)
    assert counts["customers"] == len(rows) and counts["crossed_arms"] == 0
    assert dict(zip(exposures.customer_id, exposures.model)) == {str(c): f"churn/{v}" for c, v in answered.items()}


def test_shadow_mode_scores_with_the_challenger_but_answers_with_the_champion(serve, trained):
    root, rows = trained
    server = serve(root / "1", challenger_source=str(root / "2"), challenger_mode="shadow", challenger_share=1.0)
    answers = httpx.post(server.url + "/predict/batch", json={"rows": rows[:40]}).json()["predictions"]
    assert {a["role"] for a in answers} == {"champion"}
    assert 'churnops_predictions_total{model_version="churn/2",role="shadow"} 40.0' in httpx.get(server.metrics_url).text


def test_missing_or_corrupted_model_gives_a_clear_error_not_a_crash(serve, trained, tmp_path):
    root, rows = trained
    broken = tmp_path / "broken"
    shutil.copytree(root / "1", broken)
    (broken / "model" / "model.skops").write_bytes(b"not a model")
    pickled = tmp_path / "pickled"  # a pickle would run code on load: refused by what it claims to be
    shutil.copytree(root / "1", pickled)
    mlmodel = pickled / "model" / "MLmodel"
    mlmodel.write_text(mlmodel.read_text().replace("serialization_format: skops", "serialization_format: cloudpickle"))
    for source, reason in [(tmp_path / "absent", "absent/bundle.json: missing"),
                           (broken, "broken/model: cannot load the model"),
                           (pickled, "serialization_format is 'cloudpickle'; only skops models are loaded")]:
        server = serve(source)
        time.sleep(1)
        assert server.process.poll() is None, "the process stays up (no crash loop)"
        assert httpx.get(server.url + "/health").status_code == 200
        ready = httpx.get(server.url + "/ready")
        assert ready.status_code == 503 and reason in ready.json()["reason"], ready.text
        assert httpx.post(server.url + "/predict", json=rows[0]).status_code == 503
        _, err = server.stop()
        assert "model not loaded, /ready answers 503" in err and reason in err


def test_a_failed_reload_keeps_serving_the_old_model(serve, trained, tmp_path):
    root, rows = trained
    bundle = tmp_path / "bundle"
    shutil.copytree(root / "1", bundle)
    server = serve(bundle)
    (bundle / "model" / "model.skops").write_bytes(b"garbage")
    reply = httpx.post(server.url + "/admin/reload", headers={"authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 409 and reply.json()["champion"] == "churn/1", reply.text
    assert httpx.post(server.url + "/predict", json=rows[0]).json()["model"]["version"] == "1"
    shutil.rmtree(bundle)
    shutil.copytree(root / "2", bundle)
    server.process.send_signal(signal.SIGHUP)  # reload by signal, as `kill -HUP` in a container
    deadline = time.time() + 20
    while httpx.post(server.url + "/predict", json=rows[0]).json()["model"]["version"] != "2":
        assert time.time() < deadline, "SIGHUP did not reload"
        time.sleep(0.2)


def test_tracing_continues_the_callers_trace(serve, trained):
    root, rows = trained
    server = serve(root / "1", tracing="console")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    httpx.post(server.url + "/predict", json=rows[0], headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
    out, _ = server.stop()  # the span processor flushes on shutdown
    spans = {s["name"]: s for s in map(json.loads, _json_objects(out))}
    assert {"POST /predict", "validate_features", "model_inference"} <= set(spans), out[:2000]
    assert all(s["context"]["trace_id"] == f"0x{trace_id}" for s in spans.values())
    assert spans["validate_features"]["parent_id"] == spans["POST /predict"]["context"]["span_id"]


def _json_objects(text):
    "The top-level JSON objects printed by the console span exporter."
    depth, start = 0, None
    for i, ch in enumerate(text):
        if ch == "{":
            depth, start = depth + 1, i if depth == 0 else start
        elif ch == "}":
            depth -= 1
            if depth == 0:
                yield text[start:i + 1]


def test_the_api_and_the_score_stage_give_the_same_probabilities(pipeline_run, serve):
    "One door: the champion served by the API and the batch score stage agree row for row."
    import pandas as pd
    scoring = pd.read_parquet(pipeline_run / "data" / "features" / "scoring.parquet")
    stage = pd.read_parquet(pipeline_run / "data" / "predictions" / "scores.parquet").set_index("customer_id")
    server = serve(pipeline_run / "models" / "champion")
    rows = [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
            for r in scoring.drop(columns="as_of_date").to_dict("records")]
    answers = []
    for start in range(0, len(rows), 1000):  # serve.max_batch_rows, written as json.dumps (and requests) write it
        reply = httpx.post(server.url + "/predict/batch", content=json.dumps({"rows": rows[start:start + 1000]}),
                           headers={"content-type": "application/json"}, timeout=60)
        assert reply.status_code == 200, reply.text[:1000]
        answers += reply.json()["predictions"]
    single = httpx.post(server.url + "/predict", json=rows[0]).json()
    api = pd.DataFrame(answers).set_index("customer_id")
    assert len(api) == len(stage) == len(scoring) > 100
    difference = (api.churn_probability - stage.churn_probability.reindex(api.index)).abs().max()
    assert difference <= 1e-12, difference
    assert (api.contact == stage.contact.reindex(api.index)).all()
    assert abs(single["churn_probability"] - stage.churn_probability[rows[0]["customer_id"]]) <= 1e-12
    assert {a["model"]["version"] for a in answers} == {stage.model_version.iloc[0].split("/")[-1]}
