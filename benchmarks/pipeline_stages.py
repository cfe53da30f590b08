"""Wall and CPU time of every pipeline stage (kernel start included), at the default size and at the
V2 predecessor's size (2,000 customers x 120 days).

Each stage runs as the pipeline runs it (`churnops stage <stage>`) in a throwaway copy of the
work tree. CPU time is user + system time of the stage process and its children (the kernel).
Usage: python benchmarks/pipeline_stages.py [--sizes 5000x180 2000x120]
"""
import argparse
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from churnops.pipeline import copy_work_tree, override_params

REPO = Path(__file__).resolve().parents[1]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_pipeline(customers: int, days: int) -> list[tuple[str, float, float]]:
    root = copy_work_tree(REPO, tempfile.mkdtemp(prefix="churnops-bench-"))
    override_params(root / "params.yaml", {"ingest.synthetic.n_customers": customers, "ingest.synthetic.n_days": days})
    stages = list(yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"])
    timings = []
    try:
        for stage in stages:
            wall, cpu = time.perf_counter(), cpu_seconds()
            subprocess.run(["churnops", "stage", stage], cwd=root, check=True, capture_output=True)
            timings.append((stage, time.perf_counter() - wall, cpu_seconds() - cpu))
        events = subprocess.run(["python", "-c", "import pandas as pd; print(len(pd.read_parquet('data/raw/events.parquet')))"],
                                cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{customers:,} customers x {days} days ({int(events):,} events)")
    print(f"{'stage':<10} {'wall s':>8} {'CPU s':>8}")
    for stage, wall, cpu in timings:
        print(f"{stage:<10} {wall:8.1f} {cpu:8.1f}")
    print(f"{'total':<10} {sum(t[1] for t in timings):8.1f} {sum(t[2] for t in timings):8.1f}")
    return timings


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", nargs="+", default=["5000x180", "2000x120"])
    for size in parser.parse_args().sizes:
        customers, days = (int(x) for x in size.split("x"))
        run_pipeline(customers, days)
