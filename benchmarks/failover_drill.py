"""Failover drill: two `churnops serve` regions on loopback behind HAProxy (health checks on /ready), a bounded
load, the primary killed with SIGKILL and started again. Prints, per run and as medians: requests, failed
requests, time to fail over (kill -> first answer from the secondary), time the restarted primary needs to be
ready, and time to fail back (primary ready -> its first answer through the proxy). The numbers of k8s/RUNBOOK.md.

Needs a finished pipeline run (models/champion, data/features/scoring.parquet: `make pipeline`) and haproxy
(`make system-tools`).

    python benchmarks/failover_drill.py [--runs 3] [--rate 100]
"""
import argparse
import json
import statistics
import tempfile
from pathlib import Path

import pandas as pd

from churnops.failover import run_drill

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=100, help="requests per second at most")
    parser.add_argument("--kill-at", type=float, default=5)
    parser.add_argument("--restore-at", type=float, default=10)
    args = parser.parse_args()
    bundle, scoring_path = ROOT / "models" / "champion", ROOT / "data" / "features" / "scoring.parquet"
    if not bundle.exists() or not scoring_path.exists():
        raise SystemExit(f"{bundle} or {scoring_path} is missing: run `make pipeline` first")
    rows = json.loads(pd.read_parquet(scoring_path).drop(columns="as_of_date").head(1000).to_json(orient="records"))
    results = []
    for run in range(1, args.runs + 1):
        result = run_drill(str(bundle), ROOT / "params.yaml", rows, kill_at=args.kill_at, restore_at=args.restore_at,
                           rate=args.rate, workdir=tempfile.mkdtemp(prefix="churnops-drill-"))
        results.append(result)
        print(f"run {run}: {json.dumps(result.summary())}", flush=True)
    columns = {"requests": lambda r: r.requests, "failed": lambda r: r.failed,
               "failover_seconds": lambda r: r.failover_seconds,
               "restart_seconds": lambda r: None if r.primary_ready_at is None else r.primary_ready_at - args.restore_at,
               "failback_seconds": lambda r: r.failback_seconds}
    print(f"\nmedian of {args.runs} run(s) at {args.rate:g} requests/s, primary killed at {args.kill_at:g} s, "
          f"restarted at {args.restore_at:g} s (restart: until its /ready answers 200):")
    for column, value in columns.items():
        values = [v for v in map(value, results) if v is not None]
        print(f"  {column:<18} {statistics.median(values):10.3f}" if values else f"  {column:<18} {'n/a':>10}")


if __name__ == "__main__":
    main()
