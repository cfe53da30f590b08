"""A 1,000-row batch, the way users send it, against what they would pick instead for the same registered model
(issue 42.1): `churnops serve` with the rows form (`{"rows": [...]}`), the columns form (`{"columns": {...}}`) and an
Arrow IPC stream (answered as one), and `mlflow models serve` on the same model folder with `dataframe_split` and `dataframe_records`. Each server runs in
its own process on this machine; one client sends the same rows in turn, after a warm-up. Prints p50/p99 per form,
each form's p50 against MLflow's best in the same run, and the largest difference between the servers' probabilities.

Needs a finished `make pipeline` (models/champion and data/features/scoring.parquet).

    python benchmarks/batch_formats.py [--requests 40] [--rows 1000]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa

from churnops.config import free_ports
from churnops.serve_auth import API_KEYS_ENV, add_api_key
from churnops.serve_schemas import ARROW_STREAM, arrow_ipc

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def started(command: list[str], url: str, env: dict[str, str], ready: str) -> subprocess.Popen:
    "A server process, once `url + ready` answers 200 (killed if it never does)."
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + ready, timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        assert server.poll() is None, f"{command[0]} exited with {server.returncode}"
        time.sleep(0.3)
    server.kill()
    raise TimeoutError(f"{' '.join(command)} did not get ready in 180 s")


def timed(client: httpx.Client, url: str, body: bytes, requests: int, media_type: str) -> tuple[list[float], httpx.Response]:
    "Milliseconds per request (after two warm-ups) and the last answer."
    headers = {"content-type": media_type, "accept": media_type}
    for _ in range(2):
        reply = client.post(url, content=body, headers=headers)
        assert reply.status_code == 200, reply.text[:300]
    times = []
    for _ in range(requests):
        begin = time.perf_counter()
        reply = client.post(url, content=body, headers=headers)
        times.append((time.perf_counter() - begin) * 1e3)
    return times, reply


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()
    model_dir, scoring_path = ROOT / "models" / "champion" / "model", ROOT / "data" / "features" / "scoring.parquet"
    if not model_dir.exists() or not scoring_path.exists():
        sys.exit("benchmarks/batch_formats.py: run `make pipeline` first (needs models/champion and data/features)")
    scoring = pd.read_parquet(scoring_path).head(args.rows)
    rows = [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
            for r in scoring.drop(columns="as_of_date").to_dict("records")]
    inputs = [c for c in rows[0] if c != "customer_id"]
    bodies = {"churnops rows": json.dumps({"rows": rows}).encode(),
              "churnops columns": json.dumps({"columns": {c: [r[c] for r in rows] for c in rows[0]}}).encode(),
              "churnops arrow": arrow_ipc(pa.Table.from_pandas(scoring.drop(columns="as_of_date"), preserve_index=False)),
              "mlflow dataframe_split": json.dumps({"dataframe_split": {
                  "columns": inputs, "data": [[r[c] for c in inputs] for r in rows]}}).encode(),
              "mlflow dataframe_records": json.dumps({"dataframe_records": [{c: r[c] for c in inputs} for r in rows]}).encode()}
    keys_file = Path(tempfile.mkdtemp(prefix="churnops-bench-keys-")) / "api-keys.yaml"
    api_key = add_api_key(keys_file, "benchmark", ["predict"], requests_per_minute=1e9)
    env = {**os.environ, "OMP_NUM_THREADS": "1", API_KEYS_ENV: str(keys_file), "MLFLOW_DISABLE_TELEMETRY": "true",
           "DO_NOT_TRACK": "true"}
    ours, peer, metrics = free_ports(3)
    servers = [started([str(BIN / "churnops"), "serve", "--port", str(ours), "--metrics-port", str(metrics)],
                       f"http://127.0.0.1:{ours}", env, "/ready"),
               started([str(BIN / "mlflow"), "models", "serve", "-m", str(model_dir), "--env-manager", "local",
                        "--host", "127.0.0.1", "--port", str(peer), "--workers", "1"],
                       f"http://127.0.0.1:{peer}", env, "/ping")]
    results = {}
    try:
        with httpx.Client(timeout=120, headers={"x-api-key": api_key}) as client:
            for name, body in bodies.items():
                url = (f"http://127.0.0.1:{ours}/predict/batch" if name.startswith("churnops")
                       else f"http://127.0.0.1:{peer}/invocations")
                results[name] = timed(client, url, body, args.requests,
                                      ARROW_STREAM if name.endswith("arrow") else "application/json")
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    answers = {name: reply for name, (_, reply) in results.items()}
    probability = {"churnops rows": [p["churn_probability"] for p in answers["churnops rows"].json()["predictions"]],
                   "churnops columns": answers["churnops columns"].json()["churn_probability"],
                   "churnops arrow": pa.ipc.open_stream(answers["churnops arrow"].content).read_all()
                   .column("churn_probability").to_pylist()}
    for name in ("mlflow dataframe_split", "mlflow dataframe_records"):
        probability[name] = [p[1] for p in answers[name].json()["predictions"]]
    reference = np.array(probability["mlflow dataframe_split"])
    best_peer = min(np.percentile(results[n][0], 50) for n in results if n.startswith("mlflow"))
    print(f"{args.rows:,}-row batch, {len(inputs)} inputs, {args.requests} requests each, one client, "
          f"OMP_NUM_THREADS=1 (body sizes: " + ", ".join(f"{n.split()[-1]} {len(b) / 1e3:,.0f} kB" for n, b in bodies.items()) + ")")
    print(f"{'server and form':<28} {'p50 ms':>8} {'p99 ms':>8} {'p50 / best mlflow':>18} {'max |p - mlflow|':>17}")
    for name, (times, _) in results.items():
        p50 = np.percentile(times, 50)
        gap = np.max(np.abs(np.array(probability[name]) - reference))
        print(f"{name:<28} {p50:>8.1f} {np.percentile(times, 99):>8.1f} {p50 / best_peer:>17.2f}x {gap:>17.1e}")


if __name__ == "__main__":
    main()
