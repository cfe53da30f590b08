"""The production setting, for real: an MLflow tracking server with a PostgreSQL backend store, and one with
MLflow's basic-auth app (users and per-model permissions: the pipeline writes, the API only reads).

A throwaway PostgreSQL cluster (the machine's binaries, run as an unprivileged user, bound to 127.0.0.1)
and `mlflow server` on a free local port; training, registration, promotion and export go through HTTP.
In production the artifact store is S3 (`--artifacts-destination s3://...`); here it is a local folder.
"""
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from mlflow.exceptions import MlflowException

from churnops import registry
from churnops.model import load_model
from churnops.train import log_training_run, make_model
from tests.conftest import REPO
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


def pg_ctl(data: Path, *args: str, check: bool = True):
    return subprocess.run(as_unprivileged(["pg_ctl", "-D", str(data), *args]), check=check, capture_output=True)


@pytest.fixture(scope="module")
def postgres_cluster():
    "A running PostgreSQL cluster: (its folder, its port); user mlflow, database mlflow."
    root = Path(tempfile.mkdtemp(prefix="churnops-pg-", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(root, "nobody")
    port = free_port()
    subprocess.run(as_unprivileged(["initdb", "-D", str(root / "data"), "-U", "mlflow", "--auth=trust"]),
                   check=True, capture_output=True)
    pg_ctl(root / "data", "-l", str(root / "log"), "-w", "start", "-o", f"-p {port} -h 127.0.0.1 -k {root}")
    try:
        import psycopg2
        connection = psycopg2.connect(host="127.0.0.1", port=port, user="mlflow", dbname="postgres")
        connection.autocommit = True
        connection.cursor().execute("CREATE DATABASE mlflow")
        connection.close()
        yield root, port
    finally:
        pg_ctl(root / "data", "-m", "fast", "stop", check=False)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres_uri(postgres_cluster):
    _, port = postgres_cluster
    return f"postgresql+psycopg2://mlflow@127.0.0.1:{port}/mlflow"


@contextlib.contextmanager
def mlflow_server(backend_store_uri: str, artifacts: Path, *options: str, env: dict | None = None):
    "`mlflow server` on a free local port until the block ends; its URL."
    port = free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true", **(env or {})}
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_store_uri,
                               "--artifacts-destination", str(artifacts), "--host", "127.0.0.1", "--port", str(port),
                               "--workers", "1", *options],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if urllib.request.urlopen(f"{url}/health", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
            if server.poll() is not None:
                pytest.fail(f"mlflow server exited: {server.stderr.read().decode()[-2000:]}")
        else:
            pytest.fail("mlflow server did not become healthy within 120 s")
        yield url
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


@pytest.fixture(scope="module")
def tracking_server(postgres_uri, tmp_path_factory):
    with mlflow_server(postgres_uri, tmp_path_factory.mktemp("artifacts")) as url:
        yield url


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


ADMIN = ("admin", "admin-password-for-tests")  # pragma: allowlist secret


def as_user(monkeypatch, user: str | None, password: str | None = None):
    "MLflow's client sends these credentials (MLFLOW_TRACKING_USERNAME/PASSWORD) with every call."
    for variable, value in (("MLFLOW_TRACKING_USERNAME", user), ("MLFLOW_TRACKING_PASSWORD", password)):
        if value is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, value)


def grant(url, tmp_path, user, permission):
    "`churnops registry grant` as the admin; the new password it printed, or None."
    env = {**os.environ, "MLFLOW_TRACKING_URI": url, "MLFLOW_TRACKING_USERNAME": ADMIN[0], "MLFLOW_TRACKING_PASSWORD": ADMIN[1]}
    result = subprocess.run([str(Path(sys.executable).parent / "churnops"), "registry", "--params", str(REPO / "params.yaml"),
                             "grant", "--user", user, "--permission", permission],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    found = re.search(r"shown once.*\n(\S+)$", result.stdout.strip(), re.S)
    return found.group(1) if found else None


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    "A tracking server with basic auth in which nobody may do anything until granted (default NO_PERMISSIONS)."
    root = tmp_path_factory.mktemp("auth-server")
    (root / "basic_auth.ini").write_text(f"[mlflow]\ndefault_permission = NO_PERMISSIONS\n"
                                         f"database_uri = sqlite:///{root}/auth.db\nadmin_username = {ADMIN[0]}\n")
    env = {"MLFLOW_AUTH_CONFIG_PATH": str(root / "basic_auth.ini"), "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN[1],
           "MLFLOW_FLASK_SERVER_SECRET_KEY": "tests-only-csrf-key"}  # pragma: allowlist secret
    with mlflow_server(f"sqlite:///{root}/mlflow.db", root / "artifacts", "--app-name", "basic-auth", env=env) as url:
        yield url


def test_the_pipeline_writes_and_the_api_only_reads_the_registry(auth_server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", auth_server)  # restored after the test (as in test_registry.py's store):
    # log_training_run's mlflow.set_tracking_uri exports it, and later pipeline runs would call this server, gone by then
    settings = yaml.safe_load((REPO / "params.yaml").read_text())["mlflow"]
    api_password = grant(auth_server, tmp_path, "churnops-api", "READ")  # the CLI, before the first training run
    as_user(monkeypatch, *ADMIN)
    pipeline_password = registry.grant_access(auth_server, "churnops-pipeline", settings["model_name"],
                                              settings["experiment"], "MANAGE")
    assert api_password and pipeline_password and api_password != pipeline_password
    assert registry.grant_access(auth_server, "churnops-api", settings["model_name"], settings["experiment"]) is None, \
        "granting again changes no password"

    as_user(monkeypatch, "churnops-pipeline", pipeline_password)
    data = toy_data(0)
    model = make_model("logistic_regression", ["a", "b"], [], {"C": 1.0}).fit(data[["a", "b"]], data.churned)
    leaderboard = pd.DataFrame([{"candidate": "logistic_regression", "roc_auc": 0.7, "pr_auc": 0.4, "selected": True,
                                 "expectations_failed": ""}])
    run = log_training_run(model, data, {"train": {"candidates": {"logistic_regression": {"C": 1.0}}}}, leaderboard,
                           {"data_fingerprint": "test"}, auth_server, settings["experiment"])
    name = settings["model_name"]
    version = registry.register_version(auth_server, name, run["model_uri"], run["run_id"], {"pr_auc": 0.5})
    registry.promote(auth_server, name, version, "first")

    as_user(monkeypatch, "churnops-api", api_password)
    assert registry.alias_version(auth_server, name, "champion") == version
    bundle = registry.export_bundle(auth_server, name, tmp_path / "bundle")  # what `churnops serve` downloads
    assert (load_model(bundle / "model").predict_proba(data[["a", "b"]]) == model.predict_proba(data[["a", "b"]])).all()
    with pytest.raises(MlflowException) as refused:
        registry.promote(auth_server, name, version, "the API may not move the champion")
    assert refused.value.error_code == "PERMISSION_DENIED"

    for user, password in [(None, None), ("churnops-api", "wrong-password")]:  # pragma: allowlist secret
        as_user(monkeypatch, user, password)
        with pytest.raises(MlflowException) as refused:
            registry.alias_version(auth_server, name, "champion")  # never "no champion": a refusal is an error
        assert refused.value.error_code == "UNAUTHENTICATED"


@contextlib.contextmanager
def streaming_replica(postgres_cluster):
    """A hot standby of the cluster (pg_basebackup, WAL streaming): read-only, as the secondary region's Aurora
    cluster of the global database is until it is promoted. The URI of its mlflow database."""
    root, port = postgres_cluster
    data, replica_port = root / "replica", free_port()
    # the pg_basebackup of the server's own version (beside its initdb)
    basebackup = Path(shutil.which("initdb")).resolve().parent / "pg_basebackup"
    subprocess.run(as_unprivileged([str(basebackup), "-h", "127.0.0.1", "-p", str(port), "-U", "mlflow", "-D", str(data),
                                    "-R", "-X", "stream", "--checkpoint=fast"]), check=True, capture_output=True)
    pg_ctl(data, "-l", str(root / "replica.log"), "-w", "start", "-o", f"-p {replica_port} -h 127.0.0.1 -k {root}")
    try:
        yield f"postgresql+psycopg2://mlflow@127.0.0.1:{replica_port}/mlflow"
    finally:
        pg_ctl(data, "-m", "fast", "stop", check=False)


def test_the_standby_region_serves_the_champion_from_a_read_only_replica(postgres_cluster, postgres_uri, tmp_path,
                                                                          monkeypatch):
    """k8s/RUNBOOK.md's standby: its MLflow server runs on the read-only replica of the registry database, with its
    own copy of the artifact store (S3 replication). It finds the champion by its alias, serves the model's files
    from its copy, and refuses to move an alias until its database is promoted."""
    monkeypatch.chdir(tmp_path)
    primary_artifacts, standby_artifacts = tmp_path / "artifacts-eu-west-1", tmp_path / "artifacts-us-east-1"
    data = toy_data(1)
    model = make_model("logistic_regression", ["a", "b"], [], {"C": 0.5}).fit(data[["a", "b"]], data.churned)
    with mlflow_server(postgres_uri, primary_artifacts) as primary:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", primary)
        leaderboard = pd.DataFrame([{"candidate": "logistic_regression", "roc_auc": 0.7, "pr_auc": 0.4,
                                     "selected": True, "expectations_failed": ""}])
        run = log_training_run(model, data, {"train": {"candidates": {"logistic_regression": {"C": 0.5}}}},
                               leaderboard, {"data_fingerprint": "standby"}, primary, "standby-test")
        version = registry.register_version(primary, "churn-regions", run["model_uri"], run["run_id"], {"pr_auc": 0.5})
        registry.promote(primary, "churn-regions", version, "first")
        # Proxied artifacts: the database names them relative to each server's artifact store, never by the
        # primary's bucket, so the standby's copy answers for them.
        assert mlflow.get_run(run["run_id"]).info.artifact_uri.startswith("mlflow-artifacts:/")
    shutil.copytree(primary_artifacts, standby_artifacts)  # S3 replication, here a copy
    shutil.rmtree(primary_artifacts)  # the primary region is gone

    with streaming_replica(postgres_cluster) as replica_uri, mlflow_server(replica_uri, standby_artifacts) as standby:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", standby)
        assert registry.alias_version(standby, "churn-regions", "champion") == version
        bundle = registry.export_bundle(standby, "churn-regions", tmp_path / "bundle")
        served = load_model(bundle / "model")
        assert (served.predict_proba(data[["a", "b"]]) == model.predict_proba(data[["a", "b"]])).all()
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # the refusal is final: no retries with backoff
        with pytest.raises(MlflowException, match="read-only transaction"):
            registry.promote(standby, "churn-regions", version, "moved in the standby before its promotion")
