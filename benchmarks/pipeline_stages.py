"""Wall and CPU time of the pipeline at the default size, at the V2 predecessor's size (2,000 customers x 120 days)
and on a customer table of about 7,000 rows: end to end as a user runs it (`churnops run`: DVC, its stages handed to
one warm stage server), and stage by stage cold (each stage's dvc.yaml command alone, as `dvc repro` by hand or a
K8s Job runs it).

`churnops run` (mode `run`): the total, each stage's time as `churnops run` prints it (DVC's bookkeeping included),
and from the stage server's log how long the stage waited for its kernel (forked while the stages before it ran)
and how long it ran. Cold stages (mode `stages`): CPU time is user + system time of the stage process and its
children (the kernel). From the executed notebook (papermill's per-cell durations): `imports` is the time of the
cells that only import, `work` the other cells, and `start-up` the rest of the wall time (Python and Ploomber start,
kernel start, HTML export). Both run in throwaway copies of the work tree.
Usage: python benchmarks/pipeline_stages.py [--sizes 5000x180 2000x120 table:9000] [--modes run stages]
"""
import argparse
import ast
import json
import re
import resource
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from churnops.generate import example_customer_table
from churnops.pipeline import STAGE_SERVER_LOG, commit_work_tree, copy_work_tree, override_params

REPO = Path(__file__).resolve().parents[1]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def only_imports(source: str) -> bool:
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    return bool(body) and all(isinstance(node, ast.Import | ast.ImportFrom) for node in body)


def cell_times(notebook: Path) -> tuple[float, float]:
    "(seconds in import-only cells, seconds in the other cells) of an executed notebook."
    if not notebook.exists():
        return 0.0, 0.0
    imports = work = 0.0
    for cell in json.loads(notebook.read_text())["cells"]:
        duration = cell.get("metadata", {}).get("papermill", {}).get("duration") or 0.0
        if cell["cell_type"] == "code":
            if only_imports("".join(cell["source"])):
                imports += duration
            else:
                work += duration
    return imports, work


def run_pipeline(label: str, overrides: dict, prepare=None) -> list[tuple]:
    root = copy_work_tree(REPO, tempfile.mkdtemp(prefix="churnops-bench-"))
    override_params(root / "params.yaml", overrides)
    if prepare:
        prepare(root)
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    timings = []
    try:
        for name, stage in stages.items():
            wall, cpu = time.perf_counter(), cpu_seconds()
            subprocess.run(shlex.split(stage["cmd"]), cwd=root, check=True, capture_output=True)
            wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
            imports, work = cell_times(root / "reports" / "notebooks" / f"{name}.ipynb")
            timings.append((name, wall, cpu, wall - imports - work, imports, work))
        rows = subprocess.run(["python", "-c", "import pandas as pd; print(len(pd.read_parquet('data/features/labelled.parquet')))"],
                              cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{label} ({int(rows):,} labelled rows)")
    print(f"{'stage':<10} {'wall s':>8} {'CPU s':>8} {'start-up':>9} {'imports':>8} {'work':>8}")
    for name, *numbers in timings:
        print(f"{name:<10} " + " ".join(f"{n:{w}.1f}" for n, w in zip(numbers, (8, 8, 9, 8, 8))))
    totals = [sum(t[i] for t in timings) for i in range(1, 6)]
    print(f"{'total':<10} " + " ".join(f"{n:{w}.1f}" for n, w in zip(totals, (8, 8, 9, 8, 8))))
    return timings


def run_end_to_end(label: str, overrides: dict, prepare=None) -> float:
    "`churnops run` from an empty pipeline state in a copy of the work tree (its own git repository, for DVC)."
    root = copy_work_tree(REPO, tempfile.mkdtemp(prefix="churnops-bench-"))
    override_params(root / "params.yaml", overrides)
    if prepare:
        prepare(root)
    commit_work_tree(root)
    try:
        wall = time.perf_counter()
        result = subprocess.run(["churnops", "run"], cwd=root, capture_output=True, text=True)
        wall = time.perf_counter() - wall
        if result.returncode:
            raise SystemExit(result.stdout[-3000:] + result.stderr[-3000:])
        stages = re.findall(r"done: (\S+) \(([\d.]+) s\)", result.stdout)
        server = dict((name, (float(wait), float(running))) for name, wait, running in re.findall(
            r"^(\S+): exit 0; ([\d.]+) s waiting for its kernel, ([\d.]+) s running", (root / STAGE_SERVER_LOG).read_text(), re.M))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{label}: churnops run {wall:.1f} s")  # (the kernels are not its children: no CPU time here)
    print(f"{'stage':<12} {'wall s':>7} {'kernel wait':>12} {'running':>8}")
    for name, seconds in stages:
        wait, running = server.get(name, (float("nan"), float("nan")))
        print(f"{name:<12} {float(seconds):7.1f} {wait:12.1f} {running:8.1f}")
    return wall


def customer_table(customers: int):
    "Params and data for the snapshot-table path on the example customer table (README)."
    def prepare(root: Path) -> None:
        example_customer_table(root / "data/external/customers.csv", root / "data/external/customers_scoring.csv",
                               n_customers=customers)
    return {"ingest.source": "snapshot_table", "ingest.snapshot_table": {
        "path": "data/external/customers.csv", "as_of_date": "2025-05-01",
        "scoring_path": "data/external/customers_scoring.csv", "scoring_as_of_date": "2025-05-31",
        "mapping": {"customer_id": "customerID", "label": "Churn", "positive": "Yes", "exclude": []}}}, prepare


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", nargs="+", default=["5000x180", "2000x120", "table:9000"])
    parser.add_argument("--modes", nargs="+", choices=["run", "stages"], default=["run", "stages"])
    args = parser.parse_args()
    for size in args.sizes:
        if size.startswith("table:"):
            customers = int(size.split(":")[1])
            overrides, prepare = customer_table(customers)
            label = f"customer table from {customers:,} simulated customers"
        else:
            customers, days = (int(x) for x in size.split("x"))
            overrides, prepare = {"ingest.synthetic.n_customers": customers, "ingest.synthetic.n_days": days}, None
            label = f"{customers:,} customers x {days} days"
        if "run" in args.modes:
            run_end_to_end(label, overrides, prepare)
        if "stages" in args.modes:
            run_pipeline(f"{label}, stage by stage, cold", overrides, prepare)
