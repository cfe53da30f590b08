"""The canary analysis of k8s/base/api/analysistemplates.yaml against a real Prometheus (Debian's) scraping real
`churnops serve` processes: a stable API and four canaries under the same bounded load, told apart by the
rollouts_pod_template_hash label the ServiceMonitor adds in the cluster. A good canary passes every metric; a
broken model (errors), a slow model and one whose scores shift each fail the analysis on the metric meant for it."""
import json
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import httpx
import pytest
import yaml
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from churnops.features import build_features, split_labelled
from churnops.generate import generate_churn_data
from churnops.model import save_model
from churnops.params import load_params
from churnops.train import make_model
from tests.conftest import free_port
from tests.serving.test_api import Server

TEMPLATES = Path(__file__).parents[2] / "k8s" / "base" / "api" / "analysistemplates.yaml"
LOAD_SECONDS = 15


@pytest.fixture(scope="module")
def bundles(tmp_path_factory, repo):
    "Model bundles: the stable champion and four canaries (good, broken, slow, shifted); rows to score."
    params = load_params(repo / "params.yaml")
    customers, events = generate_churn_data(n_customers=800, n_days=120, seed=11)
    labelled, scoring = split_labelled(build_features(customers, events, {**params["features"], "windows_days": [7, 30]},
                                                      params["schema"]))
    inputs = [c for c in labelled.columns if c not in ("customer_id", "as_of_date", "churned")]
    categorical = params["schema"]["customer_attributes"]
    numeric = [c for c in inputs if c not in categorical]
    gbm = lambda **hyper: make_model("hist_gradient_boosting", numeric, categorical, hyper)
    # an extra step: no compiled scorer; 5,000 trees through scikit-learn: ~40 ms a row here, so its requests land
    # past the 25 ms bucket bound and the p99 it adds exceeds the template's 25 ms however busy the machine (600
    # trees, ~8 ms, sat at the threshold: the analysis saw +19 ms and passed the slow canary once)
    uncompiled = gbm(max_iter=5000, learning_rate=0.012, early_stopping=False, max_leaf_nodes=15)  # ~600 at 0.1
    models = {"stable": gbm(max_iter=30), "good": gbm(max_iter=40, learning_rate=0.08),
              "slow": Pipeline([("prep", uncompiled[0]), ("as_is", FunctionTransformer()), ("model", uncompiled[-1])]),
              "shifted": make_model("logistic_regression", numeric, categorical, {"class_weight": "balanced"})}
    root = tmp_path_factory.mktemp("canary-bundles")
    for version, (name, model) in enumerate(models.items(), 1):
        model.fit(labelled[inputs], labelled.churned)
        save_model(model, root / name / "model")
        (root / name / "bundle.json").write_text(json.dumps(
            {"model_name": "churn", "version": str(version), "alias": name, "profit_threshold": 0.2}))
    shutil.copytree(root / "good", root / "broken")
    (root / "broken" / "model" / "model.skops").write_bytes(b"not a model")  # a release whose model does not load
    rows = [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
            for r in scoring.drop(columns="as_of_date").to_dict("records")]
    return root, rows


@pytest.fixture(scope="module")
def scraped(repo, bundles, tmp_path_factory):
    "Five APIs under the same load for LOAD_SECONDS, scraped every second by a real Prometheus; its URL."
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed: `make system-tools` (README test command) installs it")
    root, rows = bundles
    work = tmp_path_factory.mktemp("canary")
    servers = {}
    try:
        yield from _scrape(servers, repo, root, rows, work, binary)
    finally:  # whatever started, however far it got, is stopped
        for server in servers.values():
            server.stop()


def _scrape(servers, repo, root, rows, work, binary):
    for name in ("stable", "good", "broken", "slow", "shifted"):
        servers[name] = Server(repo, work, root / name)
    port = free_port()
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
              "scrape_configs": [{"job_name": "churnops-api", "static_configs": [
                  {"targets": [f"127.0.0.1:{s.metrics_port}"], "labels": {"rollouts_pod_template_hash": name}}
                  for name, s in servers.items()]}]}
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (work / "prometheus.log").open("w")
    prometheus = subprocess.Popen([binary, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'tsdb'}",
                                   f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/-/ready", timeout=1)
                break
            except OSError:
                assert prometheus.poll() is None, (work / "prometheus.log").read_text()[-2000:]
                time.sleep(0.1)

        def load(server: Server) -> None:  # bounded: one request in flight, ~30 per second at most
            deadline = time.time() + LOAD_SECONDS
            with httpx.Client(base_url=server.url, timeout=10) as client:
                i = 0
                while time.time() < deadline:
                    client.post("/predict", json=rows[i % len(rows)])
                    i += 1
                    time.sleep(0.03)
        threads = [threading.Thread(target=load, args=(s,)) for s in servers.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(3)  # the last scrape
        yield url
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=30)


def analysis(url: str, canary: str, stable: str = "stable") -> dict[str, tuple[list[float], bool]]:
    "Each metric of the churnops-canary template: the query's result and whether its successCondition holds."
    template = next(t for t in yaml.safe_load_all(TEMPLATES.read_text()) if t["metadata"]["name"] == "churnops-canary")
    outcome = {}
    for metric in template["spec"]["metrics"]:
        query = metric["provider"]["prometheus"]["query"]
        query = query.replace("{{args.canary-hash}}", canary).replace("{{args.stable-hash}}", stable)
        assert "{{" not in query, query
        answer = json.load(urllib.request.urlopen(f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": query}),
                                                  timeout=10))
        assert answer["status"] == "success", answer
        result = [float(r["value"][1]) for r in answer["data"]["result"]]
        condition = metric["successCondition"]
        # Argo's expressions here are comparisons of result[0] with a number: the same text in Python
        assert re.fullmatch(r"result\[0\] <= [0-9.]+", condition), condition
        outcome[metric["name"]] = (result, bool(result) and eval(condition, {}, {"result": result}))  # noqa: S307
    print(f"canary {canary}: {outcome}")  # the numbers behind a pass or a failure (pytest -s, or on failure)
    return outcome


def failed(outcome: dict[str, tuple[list[float], bool]]) -> set[str]:
    return {name for name, (_, passed) in outcome.items() if not passed}


def test_a_good_canary_passes_every_metric(scraped):
    outcome = analysis(scraped, "good")
    assert failed(outcome) == set(), outcome


@pytest.mark.parametrize("canary, metric", [("broken", "error-rate"), ("slow", "p99-latency-vs-stable"),
                                            ("shifted", "score-shift")])
def test_a_bad_canary_fails_the_analysis_on_its_metric(scraped, canary, metric):
    outcome = analysis(scraped, canary)
    assert metric in failed(outcome), outcome
    if canary != "broken":  # it answered: no errors
        assert "error-rate" not in failed(outcome), outcome
