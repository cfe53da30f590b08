"""`churnops cluster-run`: how k8s Jobs and Kubeflow steps pass the pipeline between pods through the artifact store.

Each run gets a fresh workspace (a new pod), the project files the Dockerfile copies into the image, and a local
artifact store (a folder stands in for S3: the code path is fsspec and DVC's remote either way)."""
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from churnops.cluster import push_drift_metrics
from churnops.monitor import write_drift_metrics
from churnops.pipeline import override_params
from tests.conftest import REPO, free_port
from tests.deploy.conftest import image_project


@pytest.fixture(scope="module")
def store(repo, tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("cluster")
    project = image_project(base / "project")  # exactly the project files of the image (no .git)
    override_params(project / "params.yaml", {"ingest.synthetic.n_customers": 1000, "ingest.synthetic.n_days": 180})
    env = {**os.environ, "CHURNOPS_DVC_REMOTE": str(base / "remote"), "CHURNOPS_STATE_URL": f"file://{base}/state",
           "CHURNOPS_REPORTS_URL": str(base / "published"), "CHURNOPS_PROJECT_DIR": str(project)}
    return {"base": base, "env": env}


def cluster_run(store: dict, pod: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    workspace = store["base"] / pod
    return subprocess.run(["churnops", "cluster-run", "--workspace", str(workspace), *args],
                          env=env or store["env"], cwd=store["base"], capture_output=True, text=True)


def locked_stages(store: dict) -> dict:
    return yaml.safe_load((store["base"] / "state" / "dvc.lock").read_text())["stages"]


def test_each_pod_continues_from_the_state_the_previous_one_saved(store):
    first = cluster_run(store, "pod-ingest", "ingest")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "state empty (first run)" in first.stdout
    assert "Running stage 'ingest'" in first.stdout + first.stderr
    ingest_lock = locked_stages(store)["ingest"]

    second = cluster_run(store, "pod-validate", "validate")
    output = second.stdout + second.stderr
    assert second.returncode == 0, output[-4000:]
    assert "Stage 'ingest' didn't change, skipping" in output  # pulled from the remote, not recomputed
    assert "Running stage 'validate'" in output
    state = locked_stages(store)
    assert state["ingest"] == ingest_lock and "validate" in state
    published = store["base"] / "published"
    assert (published / "data_docs" / "raw_data" / "index.html").is_file()
    assert json.loads((published / "validation" / "raw_data.json").read_text())["passed"] is True


SPARK_DIR = REPO / "k8s" / "base" / "spark"


class SparkOperatorStandIn:
    """Stands in for the Kubernetes API server and the spark-operator, neither of which runs on this machine. It serves
    the SparkApplication endpoints over TLS to a bearer token, as the API server does, and runs each created
    application's driver as the operator's driver pod would: the image's entrypoint with `driver` and spark-submit's
    arguments (the application's main file and arguments, the driver's environment), on a local Spark cluster of two
    executor processes, reporting SUBMITTED, RUNNING and COMPLETED or FAILED in the application's status."""

    def __init__(self, base: Path, env: dict, project: Path):
        import http.server
        import ssl
        import threading

        self.base, self.env, self.project, self.apps, self.drivers = base, env, project, {}, {}
        self.credentials = base / "credentials"
        self.credentials.mkdir()
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", base / "key.pem",
                        "-out", self.credentials / "ca.crt"], check=True, capture_output=True)
        (self.credentials / "token").write_text("token-of-churnops-pipeline\n")
        (self.credentials / "namespace").write_text("churnops-dev")
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, code: int, body: dict):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def route(self, method: str):
                collection = "/apis/sparkoperator.k8s.io/v1beta2/namespaces/churnops-dev/sparkapplications"
                if self.headers.get("Authorization") != "Bearer token-of-churnops-pipeline":
                    return self.answer(401, {"kind": "Status", "message": "Unauthorized"})
                if method == "POST" and self.path == collection:
                    app = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                    name = app["metadata"]["name"]
                    if name in stand_in.apps:
                        return self.answer(409, {"kind": "Status", "message": f'sparkapplications "{name}" already exists'})
                    stand_in.apps[name] = {**app, "status": {"applicationState": {"state": "SUBMITTED"}}}
                    threading.Thread(target=stand_in.run_driver, args=(name,), daemon=True).start()
                    return self.answer(201, stand_in.apps[name])
                name = self.path.removeprefix(collection + "/")
                if self.path.startswith(collection + "/") and name in stand_in.apps:
                    if method == "DELETE":
                        stand_in.apps.pop(name)
                        if name in stand_in.drivers:
                            stand_in.drivers[name].kill()
                        return self.answer(200, {"kind": "Status", "status": "Success"})
                    return self.answer(200, stand_in.apps[name])
                return self.answer(404, {"kind": "Status", "message": f"{self.path} not found"})

            def do_GET(self):
                self.route("GET")

            def do_POST(self):
                self.route("POST")

            def do_DELETE(self):
                self.route("DELETE")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(self.credentials / "ca.crt", base / "key.pem")
        self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]

    def run_driver(self, name: str) -> None:
        import pyspark

        app = self.apps[name]["spec"]
        pod = {"/opt/churnops/project": str(self.project), "/workspace": str(self.base / f"{name}-driver")}
        driver_env = {e["name"]: pod.get(e["value"], e["value"]) for e in app["driver"]["env"] if e["name"] != "HOME"}
        main_file = app["mainApplicationFile"].replace("local:///opt/churnops/spark-main.py", str(SPARK_DIR / "main.py"))
        env = {**self.env, **driver_env, "SPARK_HOME": str(Path(pyspark.__file__).parent), "PYSPARK_PYTHON": sys.executable,
               "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_DRIVER_BIND_ADDRESS": "127.0.0.1"}
        driver = subprocess.Popen(
            [SPARK_DIR / "entrypoint.sh", "driver", "--master", "local-cluster[2,1,1024]",
             "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.ui.enabled=false",
             "--conf", "spark.sql.shuffle.partitions=4",  # the manifest's 256 are sized for a cluster's log
             "--class", "org.apache.spark.deploy.PythonRunner", main_file, *app["arguments"]],
            env=env, cwd=self.base, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.drivers[name] = driver
        self.apps[name]["status"] = {"applicationState": {"state": "RUNNING"}, "driverInfo": {"podName": f"{name}-driver"}}
        self.drivers[name].output = driver.communicate()[0]
        failed = {"state": "FAILED", "errorMessage": f"driver container failed with ExitCode: {driver.returncode}"}
        self.apps[name]["status"]["applicationState"] = failed if driver.returncode else {"state": "COMPLETED"}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def spark_operator(store, tmp_path):
    operator = SparkOperatorStandIn(tmp_path, store["env"], Path(store["env"]["CHURNOPS_PROJECT_DIR"]))
    yield operator
    operator.stop()


def submit(store: dict, operator: SparkOperatorStandIn, application: dict, state_out: Path) -> subprocess.CompletedProcess:
    "The Kubeflow features step on Spark (k8s/kubeflow/pipeline.py, spark_stage), with the store's state handed in."
    env = {**store["env"], "KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(operator.port)}
    return subprocess.run(["churnops", "cluster-run", "features", "--single-item", "--spark-application", json.dumps(application),
                           "--kube-credentials", str(operator.credentials), "--state-in", str(store["base"] / "state"),
                           "--state-out", str(state_out)], env=env, cwd=store["base"], capture_output=True, text=True)


@pytest.fixture(scope="module")
def overlay_application() -> dict:
    "The features SparkApplication as the dev overlay renders it (what the compiled Kubeflow pipeline embeds)."
    from tests.deploy.conftest import render
    return next(o for o in yaml.safe_load_all(render(REPO / "k8s" / "overlays" / "dev")) if o and o["kind"] == "SparkApplication")


def test_the_kubeflow_step_runs_the_features_on_the_spark_application_whose_executors_read_the_dvc_remote(
        store, spark_operator, overlay_application):
    """The Kubeflow features step on Spark creates the overlay's SparkApplication and waits for it; the application's
    driver (the image's entrypoint, on a Spark cluster of two executor processes: executors in JVMs of their own, like
    pods) runs the features stage from the state the step handed it, its executors read the event log from its
    content-addressed copy in the DVC remote, the table equals DuckDB's, and the step passes the new state on."""
    import pandas as pd

    from churnops.cli import build_parser
    from churnops.features import build_features, split_labelled
    from churnops.params import load_params

    assert overlay_application["spec"]["mainApplicationFile"] == "local:///opt/churnops/spark-main.py"  # the Dockerfile puts main.py there
    assert "COPY --chown=0:0 k8s/base/spark/main.py /opt/churnops/spark-main.py" in (REPO / "Dockerfile").read_text()
    assert {"name": "CHURNOPS_FEATURES_ENGINE", "value": "spark"} in overlay_application["spec"]["driver"]["env"]
    state_out = store["base"] / "kubeflow-artifacts" / "features-state"
    result = submit(store, spark_operator, overlay_application, state_out)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [(name, app)] = spark_operator.apps.items()
    driver_output = spark_operator.drivers[name].output
    assert re.fullmatch(r"churnops-features-[0-9a-f]{8}", name)
    for state in ("created in churnops-dev", f"RUNNING (driver pod {name}-driver)", "COMPLETED"):
        assert f"spark application {name}: {state}" in result.stdout
    assert {**app["spec"], "arguments": None} == {**overlay_application["spec"], "arguments": None}
    driver_args = build_parser().parse_args(app["spec"]["arguments"])
    handoff = f"file://{store['base']}/state/handoff/{name}"
    assert (driver_args.stages, driver_args.single_item, driver_args.state_in, driver_args.state_out, driver_args.dvc_remote) == (
        ["features"], True, f"{handoff}/in", f"{handoff}/out", store["env"]["CHURNOPS_DVC_REMOTE"])
    assert driver_args.spark_application is None  # the driver runs the stage itself
    assert "Running stage 'features'" in driver_output
    assert "cluster run: state from " + f"{handoff}/in: dvc.lock" in driver_output  # the state this step was handed
    assert yaml.safe_load((state_out / "dvc.lock").read_text()) == {"schema": "2.0", "stages": locked_stages(store)}
    assert "features" in locked_stages(store)
    assert not (store["base"] / "state" / "handoff" / name).exists()

    workspace = spark_operator.base / f"{name}-driver"
    executed = json.loads((workspace / "reports" / "notebooks" / "features.ipynb").read_text())
    printed = "".join("".join(output.get("text", "")) for cell in executed["cells"] for output in cell.get("outputs", []))
    events_url = re.search(r"spark: events from (\S+)", printed)
    assert events_url, "the stage says where Spark read the event log"
    assert events_url.group(1).startswith(f"{store['base'] / 'remote'}/files/md5/"), events_url.group(1)
    assert "spark: customers from" not in printed  # the customer table travels through the driver

    params = load_params(workspace / "params.yaml")
    customers = pd.read_parquet(workspace / "data" / "raw" / "customers.parquet")
    duckdb_labelled, duckdb_scoring = split_labelled(build_features(
        customers, workspace / "data" / "raw" / "events.parquet", {**params["features"], "engine": "duckdb"}, params["schema"]))
    for table, expected in (("labelled", duckdb_labelled), ("scoring", duckdb_scoring)):
        spark_table = pd.read_parquet(workspace / "data" / "features" / f"{table}.parquet")
        assert len(spark_table) == len(expected) > 0, table
        pd.testing.assert_frame_equal(spark_table, expected, check_exact=False, rtol=1e-9, atol=1e-9, obj=table)


def test_a_failed_spark_application_fails_the_step_and_names_its_driver(store, spark_operator, overlay_application):
    before = (store["base"] / "state" / "dvc.lock").read_text()
    broken = {**overlay_application, "spec": {**overlay_application["spec"], "mainApplicationFile": "local:///nowhere/main.py"}}
    state_out = store["base"] / "kubeflow-artifacts" / "failed-state"
    result = submit(store, spark_operator, broken, state_out)
    [name] = spark_operator.apps
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(f"spark application {name}: driver container failed with ExitCode: [1-9][0-9]*; the stage's output "
                     rf"is in the driver's log \(kubectl logs {name}-driver\)", result.stdout), result.stdout
    assert result.stdout.rstrip().endswith("exited 1; state: the driver saved none")
    assert not state_out.exists()  # the driver saved no state: the next step has none to start from
    assert (store["base"] / "state" / "handoff" / name / "in" / "dvc.lock").exists()  # what it was given, kept to look at
    assert (store["base"] / "state" / "dvc.lock").read_text() == before


def test_the_spark_step_names_missing_credentials(store, tmp_path):
    result = subprocess.run(["churnops", "cluster-run", "features", "--spark-application", SPARK_DIR.joinpath("features.yaml").as_posix(),
                             "--kube-credentials", str(tmp_path)], env=store["env"], capture_output=True, text=True)
    assert result.returncode == 2
    assert f"no Kubernetes credentials in {tmp_path} (missing token, ca.crt, namespace)" in result.stderr


def test_a_failed_stage_saves_the_progress_before_it_and_exits_non_zero(store):
    before = locked_stages(store)
    bad = store["base"] / "bad-project"
    shutil.copytree(store["base"] / "project", bad, symlinks=True)  # env.yaml links to params.yaml
    override_params(bad / "params.yaml", {"validate.earliest_timestamp": "2099-01-01"})  # every event is "too early"
    failed = cluster_run(store, "pod-bad", "validate", env={**store["env"], "CHURNOPS_PROJECT_DIR": str(bad)})
    assert failed.returncode != 0
    assert "events.ts.in_data_window" in failed.stdout + failed.stderr  # the gate says which rule stopped it
    assert locked_stages(store) == before  # the lock still records the last passing validate run


def test_missing_artifact_store_settings_are_named(store):
    env = {k: v for k, v in store["env"].items() if k not in ("CHURNOPS_DVC_REMOTE", "CHURNOPS_STATE_URL")}
    result = cluster_run(store, "pod-misconfigured", "ingest", env=env)
    assert result.returncode == 2
    assert "set CHURNOPS_DVC_REMOTE and CHURNOPS_STATE_URL" in result.stderr


@pytest.fixture()
def pushgateway(tmp_path):
    "A real Prometheus Pushgateway on 127.0.0.1 (Debian package prometheus-pushgateway)."
    binary = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")
    if binary is None:
        pytest.fail("prometheus-pushgateway is not installed: .ci/run installs it (apt-get install prometheus-pushgateway)")
    port = free_port()
    log = (tmp_path / "pushgateway.log").open("w")
    process = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/-/ready", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)


def scrape(url: str) -> dict[str, float]:
    "The churnops series a Prometheus scrape of the Pushgateway sees, `name{labels}` -> value."
    text = urllib.request.urlopen(f"{url}/metrics", timeout=5).read().decode()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith("churnops_")}


def monitor_workspace(tmp_path: Path) -> Path:
    "A pod's workspace holds the project, whose pipeline.yaml says where the monitor writes its metrics."
    shutil.copy(REPO / "pipeline.yaml", tmp_path / "pipeline.yaml")
    return tmp_path


def test_drift_metrics_reach_prometheus_through_the_pushgateway(tmp_path, pushgateway):
    tmp_path = monitor_workspace(tmp_path)
    summary = {"drift_share": 0.583, "drift_share_threshold": 0.4, "retrain": True,
               "feature_drift": {"sessions_30d": {"method": "wasserstein", "score": 0.31},
                                 "plan": {"method": "jensenshannon", "score": 0.02}},
               "prediction_drift": {"score": 0.12}, "quality": {"roc_auc": 0.74}}
    write_drift_metrics(summary, tmp_path / "reports/monitoring/drift.prom")
    assert push_drift_metrics(tmp_path, pushgateway)
    series = scrape(pushgateway)
    assert series['churnops_drift_share{instance="",job="churnops_monitor"}'] == 0.583
    assert series['churnops_feature_drift_score{feature="sessions_30d",instance="",job="churnops_monitor",method="wasserstein"}'] == 0.31
    assert series['churnops_drift_detected{instance="",job="churnops_monitor"}'] == 1.0

    # The next run replaces the group: a feature that is gone from the model is gone from Prometheus.
    del summary["feature_drift"]["plan"]
    write_drift_metrics({**summary, "drift_share": 0.2, "retrain": False}, tmp_path / "reports/monitoring/drift.prom")
    push_drift_metrics(tmp_path, pushgateway)
    series = scrape(pushgateway)
    assert series['churnops_drift_share{instance="",job="churnops_monitor"}'] == 0.2
    assert not any('feature="plan"' in name for name in series)


def test_no_drift_file_pushes_nothing_and_an_unreachable_gateway_is_named(tmp_path):
    tmp_path = monitor_workspace(tmp_path)
    assert not push_drift_metrics(tmp_path, "http://127.0.0.1:9")
    write_drift_metrics({"drift_share": 0.1, "drift_share_threshold": 0.4, "retrain": False, "feature_drift": {}},
                        tmp_path / "reports/monitoring/drift.prom")
    with pytest.raises(RuntimeError, match="Pushgateway at http://127.0.0.1:9"):
        push_drift_metrics(tmp_path, "http://127.0.0.1:9")


RECORD_A_DECISION = """
import pathlib, sys, time
history = pathlib.Path("reports/monitoring/retrain_history.jsonl")
history.parent.mkdir(parents=True, exist_ok=True)
before = history.read_text() if history.exists() else ""
time.sleep(1.0)  # a run takes a while: without the lock the others would read the same old state meanwhile
history.write_text(before + sys.argv[1] + "\\n")
pathlib.Path("params.override.yaml").write_text(f"train:\\n  window_days: {len(before.splitlines()) + 1}\\n")
"""


def test_concurrent_cluster_runs_lose_no_history_line_and_leave_a_whole_state(repo, tmp_path):
    "Three pods that each add an audit line at the same time: every line survives, in some order, once."
    project = image_project(tmp_path / "project")
    runner = ("import sys; from pathlib import Path; from churnops.cluster import ArtifactStore, cluster_run; "
              f"store = ArtifactStore.from_env(); "
              f"sys.exit(cluster_run([sys.executable, '-c', {RECORD_A_DECISION!r}, sys.argv[1]], store, "
              f"project=Path({str(project)!r}), workspace=Path(sys.argv[2])))")
    env = {**os.environ, "CHURNOPS_DVC_REMOTE": str(tmp_path / "remote"), "CHURNOPS_STATE_URL": str(tmp_path / "state")}
    pods = [subprocess.Popen([sys.executable, "-c", runner, f"pod-{i}", str(tmp_path / f"workspace-{i}")], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(3)]
    outputs = [pod.communicate(timeout=300)[0] for pod in pods]
    assert all(pod.returncode == 0 for pod in pods), outputs
    lines = (tmp_path / "state" / "reports" / "monitoring" / "retrain_history.jsonl").read_text().splitlines()
    assert sorted(lines) == ["pod-0", "pod-1", "pod-2"], (lines, outputs)
    assert yaml.safe_load((tmp_path / "state" / "params.override.yaml").read_text()) == {"train": {"window_days": 3}}
    assert sum("waiting for the pipeline state lock" in out for out in outputs) >= 1, outputs
    assert json.loads((tmp_path / "state" / "lock.json").read_text())["held"] is False
