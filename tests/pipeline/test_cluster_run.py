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


SPARK_APPLICATION = REPO / "k8s" / "base" / "spark" / "features.yaml"


def test_the_spark_application_builds_the_features_on_executors_that_read_the_dvc_remote(store):
    """The SparkApplication's driver command, as the image's entrypoint runs it, on a Spark cluster of two executor
    processes (local-cluster: executors in JVMs of their own, like pods): the features stage runs on Spark, its
    executors read the event log from its content-addressed copy in the DVC remote, and the table equals DuckDB's."""
    import pandas as pd
    import pyspark

    from churnops.features import build_features, split_labelled
    from churnops.params import load_params

    app = yaml.safe_load(SPARK_APPLICATION.read_text())["spec"]
    main_file = REPO / "k8s" / "base" / "spark" / "main.py"
    assert app["mainApplicationFile"] == "local:///opt/churnops/spark-main.py"  # where the Dockerfile puts main.py
    assert "COPY --chown=0:0 k8s/base/spark/main.py /opt/churnops/spark-main.py" in (REPO / "Dockerfile").read_text()
    driver_env = {e["name"]: e["value"] for e in app["driver"]["env"] if e["name"] == "CHURNOPS_FEATURES_ENGINE"}
    assert driver_env == {"CHURNOPS_FEATURES_ENGINE": "spark"}
    env = {**store["env"], **driver_env, "SPARK_HOME": str(Path(pyspark.__file__).parent), "PYSPARK_PYTHON": sys.executable,
           "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_DRIVER_BIND_ADDRESS": "127.0.0.1"}
    workspace = store["base"] / "pod-spark-driver"
    result = subprocess.run(
        [REPO / "k8s" / "base" / "spark" / "entrypoint.sh", "driver", "--master", "local-cluster[2,1,1024]",
         "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.ui.enabled=false",
         "--conf", "spark.sql.shuffle.partitions=4",  # the manifest's 256 are sized for a cluster's log
         "--class", "org.apache.spark.deploy.PythonRunner", main_file,
         *app["arguments"], "--workspace", str(workspace)],
        env=env, cwd=store["base"], capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "Running stage 'features'" in output and "Stage 'validate' didn't change, skipping" in output
    assert "features" in locked_stages(store)

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
    for name, expected in (("labelled", duckdb_labelled), ("scoring", duckdb_scoring)):
        spark_table = pd.read_parquet(workspace / "data" / "features" / f"{name}.parquet")
        assert len(spark_table) == len(expected) > 0, name
        pd.testing.assert_frame_equal(spark_table, expected, check_exact=False, rtol=1e-9, atol=1e-9, obj=name)


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


def test_drift_metrics_reach_prometheus_through_the_pushgateway(tmp_path, pushgateway):
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
