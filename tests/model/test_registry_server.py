"""The production setting, for real: an MLflow tracking server with a PostgreSQL backend store.

A throwaway PostgreSQL cluster (the machine's binaries, run as an unprivileged user, bound to 127.0.0.1)
and `mlflow server` on a free local port; training, registration, promotion and export go through HTTP.
In production the artifact store is S3 (`--artifacts-destination s3://...`); here it is a local folder.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from churnops import registry
from churnops.model import load_model
from churnops.train import log_training_run, make_model
from tests.model.test_registry import toy_data

pytestmark = pytest.mark.skipif(shutil.which("initdb") is None or shutil.which("pg_ctl") is None,
                                reason="PostgreSQL binaries (initdb, pg_ctl) are not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_unprivileged(command):
    "initdb and postgres refuse to run as root."
    return ["runuser", "-u", "nobody", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="module")
def postgres_uri():
    root = Path(tempfile.mkdtemp(prefix="churnops-pg-", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(root, "nobody")
    port = free_port()
    subprocess.run(as_unprivileged(["initdb", "-D", str(root / "data"), "-U", "mlflow", "--auth=trust"]),
                   check=True, capture_output=True)
    subprocess.run(as_unprivileged(["pg_ctl", "-D", str(root / "data"), "-l", str(root / "log"), "-w", "start",
                                    "-o", f"-p {port} -h 127.0.0.1 -k {root}"]), check=True, capture_output=True)
    try:
        import psycopg2
        connection = psycopg2.connect(host="127.0.0.1", port=port, user="mlflow", dbname="postgres")
        connection.autocommit = True
        connection.cursor().execute("CREATE DATABASE mlflow")
        connection.close()
        yield f"postgresql+psycopg2://mlflow@127.0.0.1:{port}/mlflow"
    finally:
        subprocess.run(as_unprivileged(["pg_ctl", "-D", str(root / "data"), "-m", "fast", "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def tracking_server(postgres_uri, tmp_path_factory):
    artifacts = tmp_path_factory.mktemp("artifacts")
    port = free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", postgres_uri,
                               "--artifacts-destination", str(artifacts), "--host", "127.0.0.1", "--port", str(port),
                               "--workers", "1"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{url}/health", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
            if server.poll() is not None:
                pytest.fail(f"mlflow server exited: {server.stderr.read().decode()[-2000:]}")
        else:
            pytest.fail("mlflow server did not become healthy within 60 s")
        yield url
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


def test_train_register_promote_and_export_through_the_server(tracking_server, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_server)
    monkeypatch.chdir(tmp_path)
    data = toy_data(0)
    model = make_model("logistic_regression", ["a", "b"], [], {"C": 1.0}).fit(data[["a", "b"]], data.churned)
    leaderboard = pd.DataFrame([{"candidate": "logistic_regression", "roc_auc": 0.7, "pr_auc": 0.4, "selected": True,
                                 "expectations_failed": ""}])
    run = log_training_run(model, data, {"train": {"candidates": {"logistic_regression": {"C": 1.0}}}}, leaderboard,
                           {"data_fingerprint": "test"}, tracking_server, "server-test")
    version = registry.register_version(tracking_server, "churn", run["model_uri"], run["run_id"], {"pr_auc": 0.5})
    registry.promote(tracking_server, "churn", version, "first")
    assert registry.alias_version(tracking_server, "churn", "champion") == version
    assert registry.list_versions(tracking_server, "churn").version.tolist() == [int(version)]
    bundle = registry.export_bundle(tracking_server, "churn", tmp_path / "bundle")
    exported = load_model(bundle / "model")
    assert (exported.predict_proba(data[["a", "b"]]) == model.predict_proba(data[["a", "b"]])).all()
