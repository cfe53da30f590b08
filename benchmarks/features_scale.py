"""Feature building at scale, per engine: generate an event log (300,000 customers x 365 days, about 50
million events, by default), then build the point-in-time feature table from the Parquet files with
`churnops features --engine E` for each engine, reporting wall time, the peak memory of the whole process
tree (the Spark JVM included), and for Spark what its cost model needs: tasks, input bytes and shuffle
bytes (read from Spark's event log). DuckDB targets: under 2 minutes and under 6 GB at 50M events (session 17:
288 s, 3.7 GB on 2 cores).
Usage: python benchmarks/features_scale.py [--customers 30000] [--days 365] [--engines duckdb spark]
       [--set features.spark_driver_memory=8g --set features.spark_shuffle_partitions=16 ...]
"""
import argparse
import json
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml

from churnops.pipeline import override_params

REPO = Path(__file__).resolve().parents[1]


def run(command: list[str]) -> tuple[float, float]:
    "Wall seconds and the peak resident memory (GB) summed over the child process and its descendants."
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO)
    peak, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = process.wait()
    done.set()
    sampler.join()
    if code != 0:
        raise SystemExit(f"{' '.join(command)} failed with exit code {code}")
    return time.perf_counter() - started, peak / 1024**3


def spark_costs(event_log_dir: Path) -> dict[str, float]:
    "Tasks, input bytes, shuffle bytes written and spilled bytes of a Spark run, from its event log."
    totals = {"tasks": 0, "input_gb": 0.0, "shuffle_write_gb": 0.0, "spill_gb": 0.0}
    for path in event_log_dir.rglob("*"):
        if not path.is_file() or path.name.startswith("appstatus"):
            continue
        for line in path.open():
            if not line.startswith("{"):  # the v2 event log has blank and non-event lines between events
                continue
            event = json.loads(line)
            if event["Event"] != "SparkListenerTaskEnd" or "Task Metrics" not in event:
                continue
            metrics = event["Task Metrics"]
            totals["tasks"] += 1
            totals["input_gb"] += metrics["Input Metrics"]["Bytes Read"] / 1024**3
            totals["shuffle_write_gb"] += metrics["Shuffle Write Metrics"]["Shuffle Bytes Written"] / 1024**3
            totals["spill_gb"] += metrics["Disk Bytes Spilled"] / 1024**3
    return totals


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=300_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--engines", nargs="+", default=["duckdb", "spark"], choices=["duckdb", "spark"])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a parameter for both engines' runs, dotted key and YAML value, e.g. features.partition_events=2500000")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="churnops-scale-"))
    try:
        wall, peak = run(["churnops", "generate", "--customers", str(args.customers), "--days", str(args.days),
                          "--out", str(out)])
        import pyarrow.parquet as pq
        n_events = pq.read_metadata(out / "events.parquet").num_rows
        print(f"generate: {n_events:,} events, {(out / 'events.parquet').stat().st_size / 1024**3:.2f} GB Parquet, "
              f"{wall:.1f} s, peak {peak:.2f} GB")
        params = yaml.safe_load((REPO / "params.yaml").read_text())
        # Spark's event log gives the shuffle and input bytes of the cost model (no UI on this machine).
        params["features"]["spark_conf"] = {"spark.eventLog.enabled": "true", "spark.eventLog.compress": "false",
                                            "spark.eventLog.dir": (out / "spark-events").as_uri()}
        (out / "spark-events").mkdir()
        (out / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        override_params(out / "params.yaml", {key: yaml.safe_load(value) for key, value in (s.split("=", 1) for s in args.set)})
        for engine in args.engines:
            wall, peak = run(["churnops", "features", "--customers", str(out / "customers.parquet"),
                              "--events", str(out / "events.parquet"), "--params", str(out / "params.yaml"),
                              "--engine", engine, "--out", str(out / f"features-{engine}.parquet")])
            rows = pq.read_metadata(out / f"features-{engine}.parquet").num_rows
            line = (f"{engine}: {n_events:,} events -> {rows:,} rows in {wall:.1f} s "
                    f"({n_events / wall / 1e6:.2f} M events/s), peak {peak:.2f} GB (process tree)")
            if engine == "spark":
                costs = spark_costs(out / "spark-events")
                line += (f"; {costs['tasks']:,} tasks, input {costs['input_gb']:.2f} GB, shuffle written "
                         f"{costs['shuffle_write_gb']:.2f} GB ({costs['shuffle_write_gb'] * 1024**3 / n_events:.0f} "
                         f"bytes/event), spilled {costs['spill_gb']:.2f} GB")
            print(line, flush=True)
    finally:
        shutil.rmtree(out, ignore_errors=True)
