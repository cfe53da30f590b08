"""Feature building at scale: generate ~50 million events (300,000 customers x 365 days by default),
then build the point-in-time feature table from the Parquet files with DuckDB, reporting wall time and
the peak memory of the feature process. Targets: under 2 minutes and under 6 GB.
Usage: python benchmarks/features_scale.py [--customers 200000] [--days 365]
"""
import argparse
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(command: list[str]) -> tuple[float, float]:
    "Wall seconds and peak resident memory (GB) of a child process."
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return time.perf_counter() - started, max(peak_kb, before) / 1024**2


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=300_000)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="churnops-scale-"))
    try:
        wall, peak = run(["churnops", "generate", "--customers", str(args.customers), "--days", str(args.days),
                          "--out", str(out)])
        print(f"generate: {wall:.1f} s, peak {peak:.2f} GB")
        # ru_maxrss of children is the max over all children so far: run features in a fresh measurement
        wall, peak_features = run(["python", "-c", (
            "import resource, time, duckdb\n"
            "from churnops.params import load_params\n"
            "from churnops.features import build_features\n"
            f"p = load_params('{REPO / 'params.yaml'}')\n"
            "t = time.perf_counter()\n"
            f"path = build_features('{out}/customers.parquet', '{out}/events.parquet', p['features'], p['schema'], out_path='{out}/features.parquet')\n"
            f"n = duckdb.sql(\"SELECT count(*) FROM read_parquet('{out}/events.parquet')\").fetchall()[0][0]\n"
            "rows, cols = duckdb.sql(f\"SELECT count(*), (SELECT count(*) FROM (DESCRIBE SELECT * FROM read_parquet('{path}'))) FROM read_parquet('{path}')\").fetchall()[0]\n"
            "print(f'features: {n:,} events -> {rows:,} rows x {cols} columns in {time.perf_counter() - t:.1f} s, '\n"
            "      f'peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2:.2f} GB')\n")])
    finally:
        shutil.rmtree(out, ignore_errors=True)
