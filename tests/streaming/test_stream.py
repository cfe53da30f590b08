"""`churnops stream` against a real Kafka-protocol broker (Tansu on 127.0.0.1): replaying a run's event log
through a consumer group leaves online features equal to the features stage's newest snapshot and scores
equal to the score stage's, across a killed consumer and a second replay of the same log, and across members
killed at random points while six deliveries flow (issue 38.11); messages that
break the contract land in the dead-letter topic with the reason and the stream goes on."""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from churnops.catalog import stage_products
from churnops.feature_store import online_features, open_store
from churnops.online_writer import OnlineWriter
from churnops.params import load_params
from churnops.pipeline import override_params
from churnops.stream_state import batch_and_stream_features
from tests.conftest import free_port, start_kafka_broker, start_redis

COPIED = ["params.yaml", "pipeline.yaml", "feature_repo", "models", "data/raw", "data/feature_store", "data/features",
          "data/predictions"]


@pytest.fixture()
def stream_root(pipeline_run, kafka_broker, tmp_path, request):
    "What the service reads from a pipeline run, copied (the run's own online store stays as materialized), with its own topics."
    for name in COPIED:
        source, target = pipeline_run / name, tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
    topic = f"test.{request.node.name[:40]}"
    override_params(tmp_path / "params.yaml", {"stream.events_topic": f"{topic}.events",
                                               "stream.scores_topic": f"{topic}.scores",
                                               "stream.dead_letter_topic": f"{topic}.dead-letter",
                                               "stream.group_id": topic, "stream.max_batch_events": 2000})
    return tmp_path


class StreamProcess:
    "One `churnops stream run` member of the consumer group, with its /metrics."

    def __init__(self, root: Path, bootstrap: str):
        self.port = free_port()
        self.log = (root / f"stream-{self.port}.log").open("w")
        env = {**os.environ, "CHURNOPS_KAFKA_BOOTSTRAP": bootstrap, "OMP_NUM_THREADS": "1"}
        self.process = subprocess.Popen([str(Path(sys.executable).parent / "churnops"), "stream", "run",
                                         "--metrics-port", str(self.port)], cwd=root, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT)

    def metrics(self) -> dict[str, float]:
        try:
            text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=2).text
        except httpx.HTTPError:
            return {}
        values = {}
        for line in text.splitlines():
            if line.startswith("churnops_stream_"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values

    def value(self, name: str) -> float:
        return self.metrics().get(name, 0.0)

    def wait_until(self, ready: Callable[[dict[str, float]], bool], what: str, timeout: float = 240) -> None:
        "Poll /metrics until `ready(metrics)`; fail at once if the process exits, or after `timeout` s naming `what`."
        deadline = time.monotonic() + timeout
        while not ready(self.metrics()):
            assert self.process.poll() is None, f"the stream service exited: {Path(self.log.name).read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"{what} after {timeout} s: {self.metrics()}"
            time.sleep(0.5)

    def wait_for(self, name: str, at_least: float, timeout: float = 240) -> None:
        self.wait_until(lambda metrics: metrics.get(name, 0.0) >= at_least, f"{name} < {at_least}", timeout)

    def wait_until_up(self) -> None:
        "Its /metrics answers (the model is loaded, the consumer is joining)."
        self.wait_until(bool, "/metrics not up")

    def wait_until_holding_partitions(self) -> None:
        "It is in the group with partitions of its own (it reports their lag)."
        self.wait_until(lambda metrics: any(k.startswith("churnops_stream_consumer_lag{") for k in metrics), "no partitions")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=180)  # a loaded machine: it commits, flushes and leaves the group first
        self.log.close()


def wait_until_written(*services: StreamProcess, timeout: float = 300) -> None:
    "Each member caught up (no lag), every customer's row written as of the day after the newest event, nothing held back."
    deadline = time.monotonic() + timeout
    while True:
        values = [service.metrics() for service in services]
        if all(v and sum(n for k, n in v.items() if k.startswith("churnops_stream_consumer_lag")) <= 0
               and v["churnops_stream_online_pending_rows"] == 0
               and v["churnops_stream_online_as_of_timestamp_seconds"] == v["churnops_stream_watermark_timestamp_seconds"] + 86400
               for v in values):
            return
        assert all(s.process.poll() is None for s in services), [Path(s.log.name).read_text()[-2000:] for s in services]
        assert time.monotonic() < deadline, json.dumps([{k.removeprefix("churnops_stream_"): n for k, n in v.items()
                                                         if any(w in k for w in ("lag", "pending", "as_of", "watermark",
                                                                                 "events_total", "restored", "restarts",
                                                                                 "commits"))} for v in values])
        time.sleep(1)


def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 60) -> list:
    "Every message of a topic, from the start: at least `expected` of them, then on to the end (a read that brings none)."
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{time.time()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    messages, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        read = [m for m in consumer.consume(10_000, 2.0) if not m.error()]
        messages += read
        if len(messages) >= expected and not read:
            break
    consumer.close()
    return messages


def replaying(root: Path, bootstrap: str, log: str = "data/raw/events.parquet", *args: str) -> subprocess.Popen:
    "`churnops stream replay` of `log`, running."
    return subprocess.Popen([str(Path(sys.executable).parent / "churnops"), "stream", "replay", log, *args], cwd=root,
                            env={**os.environ, "CHURNOPS_KAFKA_BOOTSTRAP": bootstrap},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def replay(root: Path, bootstrap: str, *args: str, log: str = "data/raw/events.parquet") -> str:
    output, _ = (process := replaying(root, bootstrap, log, *args)).communicate(timeout=600)
    assert process.returncode == 0, output
    return output


def assert_stream_equals_batch(root: Path, bootstrap: str, messages: int) -> None:
    """The group's offsets are past every event of the events topic (`messages` of them), the online features are the
    features stage's newest snapshot and the newest scores are the score stage's: nothing lost, nothing applied twice
    (an event lost or counted twice changes a count feature)."""
    block = load_params(root / "params.yaml")
    # Every poll's offsets were committed once the broker acknowledged its scores (asynchronously, in poll
    # order, while later polls ran): the group's offsets are past every partition's last event. Tansu's high
    # watermark trails the last offset, so the ends are read from the messages.
    stream = block["stream"]
    ends: dict[int, int] = {}
    for m in read_topic(bootstrap, stream["events_topic"], messages):
        ends[m.partition()] = max(ends.get(m.partition(), 0), m.offset() + 1)
    group = Consumer({"bootstrap.servers": bootstrap, "group.id": stream["group_id"], "enable.auto.commit": False})
    committed = group.committed([TopicPartition(stream["events_topic"], p) for p in ends], timeout=10)
    group.close()
    assert {tp.partition: tp.offset for tp in committed} == ends, (committed, ends)

    # Online features: the features stage's newest snapshot, every customer, every column and dtype.
    scoring = pd.read_parquet(root / "data" / "features" / "scoring.parquet")
    online = online_features(open_store(block["feature_store"], root), block["feature_store"], scoring.customer_id.tolist())
    pd.testing.assert_frame_equal(online.sort_values("customer_id", ignore_index=True),
                                  scoring.sort_values("customer_id", ignore_index=True), check_exact=False, atol=1e-9)

    # Scores: each customer's newest score event (a tombstone when an event took the customer out of the
    # live set); those at the newest as-of date are the score stage's for the same customers.
    expected = pd.read_parquet(root / stage_products("score", root / "pipeline.yaml")["predictions"]).set_index("customer_id")
    latest = {}
    for m in read_topic(bootstrap, stream["scores_topic"], 1):
        latest[int(m.key())] = None if m.value() is None else json.loads(m.value())
    newest = pd.DataFrame([s for s in latest.values()
                           if s and pd.Timestamp(s["feature_timestamp"]) == scoring.as_of_date.max()]).set_index("customer_id")
    assert len(newest) > 50, f"{len(newest)} scores at the newest as-of date"
    assert set(newest.index) <= set(expected.index), sorted(set(newest.index) - set(expected.index))
    pd.testing.assert_series_equal(newest.churn_probability, expected.churn_probability.loc[newest.index],
                                   check_exact=False, atol=1e-9)
    assert (newest.contact == expected.contact.loc[newest.index]).all()
    assert set(newest.model_version) == set(expected.model_version)


def test_replay_leaves_batch_features_and_scores_through_a_killed_consumer_and_a_second_replay(stream_root, kafka_broker):
    root = stream_root
    events = pd.read_parquet(root / "data" / "raw" / "events.parquet")
    first = StreamProcess(root, kafka_broker)
    second = StreamProcess(root, kafka_broker)
    try:
        assert "events ->" in replay(root, kafka_broker)
        first.wait_for('churnops_stream_offset_commits_total{outcome="ok"}', 1)
        first.stop(signal.SIGKILL)  # mid-stream: its uncommitted polls and its partitions go to the other member
        assert second.process.poll() is None
        replay(root, kafka_broker)  # every event a second time: all of them are duplicates now
        deadline = time.monotonic() + 300
        while (second.value('churnops_stream_events_total{outcome="duplicate"}') +
               second.value('churnops_stream_events_total{outcome="expired"}')) < len(events):
            assert time.monotonic() < deadline and second.process.poll() is None, second.metrics()
            time.sleep(0.5)
        wait_until_written(second)
        # No event lost, none applied twice: what the survivor applied plus what it read back from the killed
        # member's committed offsets is the log, once; in the second replay each event was recognised by its
        # id, or found older than any feature reads (the state no longer holds those ids).
        applied, restored = (second.value('churnops_stream_events_total{outcome="applied"}'),
                             second.value("churnops_stream_restored_events_total"))
        assert restored > 0 and applied + restored == len(events), (applied, restored, len(events))
        duplicates, expired = (second.value('churnops_stream_events_total{outcome="duplicate"}'),
                               second.value('churnops_stream_events_total{outcome="expired"}'))
        assert duplicates + expired == len(events) and duplicates > 0 and expired > 0, (duplicates, expired)
        assert second.value('churnops_stream_events_total{outcome="dead_letter"}') == 0
        assert second.value("churnops_stream_restarts_total") == 0
    finally:
        first.stop(signal.SIGKILL)
        second.stop()
    log = Path(second.log.name).read_text()
    assert "partitions assigned" in log and "Traceback" not in log, log[-3000:]

    assert_stream_equals_batch(root, kafka_broker, 2 * len(events))

def test_consumers_killed_at_random_points_while_events_flow_lose_nothing_and_apply_nothing_twice(stream_root, kafka_broker,
                                                                                                  tmp_path):
    """Issue 38.11's gauntlet: the log arrives in six deliveries; while each one flows, a member picked by a seeded
    draw is SIGKILLed after a random delay (mid-poll, mid-commit, mid-rebalance: wherever it falls) and a new one joins
    in its place. The survivors end with the features stage's snapshot and scores, and the group's offsets past every
    event. CHURNOPS_FAULT_SEED picks other kill points; the seed is in every failure message."""
    seed = int(os.environ.get("CHURNOPS_FAULT_SEED", "38"))
    draw = random.Random(seed)
    root = stream_root
    events = pd.read_parquet(root / "data" / "raw" / "events.parquet")
    events = events.assign(event_id=[f"e{i}" for i in range(len(events))])  # ids that hold across deliveries
    deliveries = []
    for n, part in enumerate(np.array_split(np.arange(len(events)), 6)):
        deliveries.append(tmp_path / f"delivery-{n}.parquet")
        events.iloc[part].to_parquet(deliveries[-1])
    applied = 'churnops_stream_events_total{outcome="applied"}'
    members = [StreamProcess(root, kafka_broker) for _ in range(2)]
    kills = []
    try:
        for delivery in deliveries:
            victim = draw.randrange(len(members))
            members[victim].wait_until_holding_partitions()
            before = members[victim].value(applied)
            producer = replaying(root, kafka_broker, str(delivery))
            deadline = time.monotonic() + 120  # once it applies this delivery's first poll (if it holds a partition) ...
            while members[victim].value(applied) == before and producer.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(draw.uniform(0.0, 1.5))  # ... a random moment later: mid-poll, mid-commit, or after the flow
            kills.append((delivery.name, victim, members[victim].value(applied) - before))
            members[victim].stop(signal.SIGKILL)
            members[victim] = StreamProcess(root, kafka_broker)
            output, _ = producer.communicate(timeout=300)
            assert producer.returncode == 0, (seed, output)
        wait_until_written(*members, timeout=240)
        for member in members:
            assert member.value('churnops_stream_events_total{outcome="dead_letter"}') == 0, (seed, member.metrics())
    finally:
        for member in members:
            member.stop()
    assert sum(n > 0 for _, _, n in kills) >= 3, f"seed {seed}: too few members were killed mid-delivery: {kills}"
    for member in members:
        log = Path(member.log.name).read_text()
        assert "Traceback" not in log, (seed, log[-3000:])
    try:
        assert_stream_equals_batch(root, kafka_broker, len(events))
    except AssertionError as e:
        raise AssertionError(f"seed {seed}, kills (delivery, member, events of it the member had applied) {kills}: {e}") from e


def test_messages_that_break_the_contract_go_to_the_dead_letter_topic(stream_root, kafka_broker):
    block = load_params(stream_root / "params.yaml")["stream"]
    service = StreamProcess(stream_root, kafka_broker)
    try:
        service.wait_until_up()
        events = pd.read_parquet(stream_root / "data" / "raw" / "events.parquet")
        good = events.iloc[-1]
        valid = {"event_id": "good-1", "customer_id": int(good.customer_id), "ts": good.ts.isoformat(),
                 "event_type": str(good.event_type)}
        poison = [b"{not json", json.dumps({**valid, "event_id": "bad-1", "customer_id": "abc"}).encode(),
                  json.dumps({**valid, "event_id": "bad-2", "event_type": "refund"}).encode(),
                  json.dumps({**valid, "event_id": "bad-3", "coupon": 5}).encode()]
        producer = Producer({"bootstrap.servers": kafka_broker})
        deadline = time.monotonic() + 60
        while service.value("churnops_stream_consumer_lag") == 0 and not any(
                k.startswith("churnops_stream_consumer_lag") for k in service.metrics()):
            assert time.monotonic() < deadline, "no partitions assigned"
            time.sleep(0.5)
        for value in [*poison, json.dumps(valid).encode()]:
            producer.produce(block["events_topic"], value, str(good.customer_id).encode())
        assert producer.flush(10) == 0
        service.wait_for('churnops_stream_events_total{outcome="applied"}', 1, timeout=60)
        service.wait_for('churnops_stream_events_total{outcome="dead_letter"}', 4, timeout=60)
        dead = read_topic(kafka_broker, block["dead_letter_topic"], 4)
        assert [m.value() for m in dead] == poison
        rules = [dict(m.headers())["churnops-rule"].decode() for m in dead]
        assert rules == ["not_json", "bad_type", "unknown_event_type", "unknown_field"]
        reasons = [dict(m.headers())["churnops-reason"].decode() for m in dead]
        assert "customer_id must be an integer" in reasons[1] and "'refund'" in reasons[2] and "coupon" in reasons[3]
        assert service.value('churnops_stream_dead_letters_total{rule="unknown_event_type"}') == 1
        assert service.process.poll() is None  # the stream went on
        assert len(read_topic(kafka_broker, block["scores_topic"], 1)) == 1  # the good event was scored
    finally:
        service.stop()


def test_the_service_reconnects_after_the_broker_restarts(stream_root, tmp_path):
    "Its own broker (in memory: a restart loses topics, offsets and groups); the service carries on by itself."
    events = pd.read_parquet(stream_root / "data" / "raw" / "events.parquet").tail(2)
    for n, row in enumerate(events.index):
        events.loc[[row]].assign(event_id=f"restart-{n}").to_parquet(tmp_path / f"event-{n}.parquet")
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    with (tmp_path / "tansu.log").open("w") as log:
        broker = start_kafka_broker(port, log)
        service = StreamProcess(stream_root, bootstrap)
        try:
            replay(stream_root, bootstrap, log=str(tmp_path / "event-0.parquet"))
            service.wait_for('churnops_stream_events_total{outcome="applied"}', 1, timeout=60)
            broker.terminate()
            broker.wait(timeout=30)
            time.sleep(3)  # the service sees the broker gone
            broker = start_kafka_broker(port, log)
            replay(stream_root, bootstrap, log=str(tmp_path / "event-1.parquet"))
            service.wait_for('churnops_stream_events_total{outcome="applied"}', 2, timeout=120)
            assert service.process.poll() is None
        finally:
            service.stop()
            broker.terminate()
            broker.wait(timeout=30)


def test_the_stream_state_equals_the_features_stage_on_a_pipeline_runs_log(pipeline_run):
    "The incremental engine against the batch query, value for value, mid-log (windows of every length filled) across 4 partitions."
    params = load_params(pipeline_run / "params.yaml")
    customers = pd.read_parquet(pipeline_run / "data" / "raw" / "customers.parquet")
    events = pd.read_parquet(pipeline_run / "data" / "raw" / "events.parquet")
    as_of = events.ts.min().normalize() + pd.Timedelta(days=100)
    batch, stream = batch_and_stream_features(customers, events.assign(event_id=[f"e{i}" for i in range(len(events))]),
                                              params["features"], params["schema"], as_of, partitions=4, batch_events=20_000)
    assert len(batch) > 300, len(batch)
    pd.testing.assert_frame_equal(stream, batch, check_exact=False, atol=1e-9)


def test_the_online_writer_keeps_rows_while_the_store_is_down_and_writes_each_customers_newest(pipeline_run, tmp_path):
    "The writer process on a real Redis online store that is not up yet: nothing lost, the newest row per customer wins."
    for name in ["params.yaml", "feature_repo", "data/feature_store"]:
        (shutil.copytree if (pipeline_run / name).is_dir() else shutil.copy)(pipeline_run / name, tmp_path / name)
    port = free_port()
    block = {**load_params(tmp_path / "params.yaml")["feature_store"], "online_store": "redis",
             "redis_connection": f"127.0.0.1:{port}"}
    scoring = pd.read_parquet(pipeline_run / "data" / "features" / "scoring.parquet").iloc[:150]
    logged: list[str] = []
    writer = OnlineWriter(block, tmp_path, logged.append, retry_seconds=0.5)
    redis_process = None
    try:
        writer.hold(scoring.iloc[:100])
        writer.hold(scoring.iloc[50:].assign(n_events_7d=999.0))  # newer rows of 50 of the same customers
        deadline = time.monotonic() + 300  # the process starts (imports Feast), opens the store, tries to write
        while not writer.errors and time.monotonic() < deadline:
            assert not writer.drain(0.5) and writer.process.is_alive()
        assert writer.rows == 200 and "online write of 150 rows failed" in logged[0], logged
        redis_process = start_redis(port, tmp_path)
        assert writer.drain(60), (writer.rows, logged[-1:])
        online = online_features(open_store(block, tmp_path), block, scoring.customer_id.tolist())
        written = online.set_index("customer_id").n_events_7d
        assert (written.loc[scoring.customer_id.iloc[50:]] == 999.0).all()
        pd.testing.assert_series_equal(written.loc[scoring.customer_id.iloc[:50]],
                                       scoring.set_index("customer_id").n_events_7d.iloc[:50])
    finally:
        writer.close(timeout=5)
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(timeout=30)
    assert not writer.process.is_alive()
