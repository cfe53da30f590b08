"""Feature-store benchmark: online lookups by id (1 and 100 ids) on SQLite and on Redis, and materialize time.

Needs a finished pipeline run (`make pipeline`: data/feature_store/customer_features.parquet). Starts its
own redis-server (Debian's, `make system-tools`) on a free port of 127.0.0.1 and stops it. Works on copies:
the run's registry and online store are not touched. Prints one table.

    python benchmarks/feature_store.py [--calls 2000]
"""
import argparse
import gc
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from churnops.catalog import stage_products
from churnops.config import free_port
from churnops.feature_store import OnlineFeatures, materialize_newest, open_store
from churnops.params import load_params

ROOT = Path(__file__).resolve().parents[1]


def latencies(fn, calls):
    "p50 and p99 of `calls` timed calls, in milliseconds (after 20 warm-up calls)."
    for _ in range(20):
        fn()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return np.percentile(times, 50) * 1e3, np.percentile(times, 99) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    table_path = stage_products("materialize", ROOT / "pipeline.yaml")["offline_table"]
    table = pd.read_parquet(ROOT / table_path)
    ids = table[table.as_of_date == table.as_of_date.max()].customer_id.tolist()
    rng = np.random.default_rng(0)
    work = Path(tempfile.mkdtemp(prefix="churnops-feature-bench-"))
    port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", str(work)], stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        base = load_params(ROOT / "params.yaml")["feature_store"]
        print(f"{len(ids):,} customers x {table.shape[1] - 2} features; {args.calls} calls per cell")
        print(f"{'online store':<12} {'materialize s':>13} {'1 id p50 ms':>12} {'1 id p99 ms':>12} "
              f"{'100 ids p50 ms':>15} {'100 ids p99 ms':>15}")
        for kind in ("sqlite", "redis"):
            block = {**base, "online_store": kind, "registry": str(work / f"{kind}-registry.db"),
                     "sqlite_path": str(work / "online.db"), "redis_connection": f"127.0.0.1:{port}"}
            done = materialize_newest(open_store(block, ROOT), block, table, table_path, ROOT)
            online = OnlineFeatures.open(block, ROOT)
            gc.collect()
            gc.freeze()  # as `churnops serve` does once its model and store are loaded
            one = latencies(lambda o=online: o.rows([ids[rng.integers(len(ids))]]), args.calls)
            hundred = latencies(lambda o=online: o.rows(rng.choice(ids, 100).tolist()), max(args.calls // 10, 50))
            print(f"{kind:<12} {done.seconds:>13.2f} {one[0]:>12.2f} {one[1]:>12.2f} {hundred[0]:>15.2f} {hundred[1]:>15.2f}")
    finally:
        redis.terminate()
        redis.wait(timeout=30)


if __name__ == "__main__":
    main()
