"""Hostile requests against a real `churnops serve` (issue 38): bodies under the size limit whose shape is the
attack (hundreds of thousands of unknown keys, a row of 50,000 keys in a batch, every field of 1,000 rows wrong,
deep nesting, a 3.9 MB string, numbers past float range), plus the size limit itself. Prints, per body, the status,
the answer's size and time; then the figures the issue asks for: 5xx seen, peak memory against idle, and /health
latency while the hostile requests run. Trains its own small model: no pipeline run needed.

    python benchmarks/hostile.py [--rounds 3]
"""
import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import yaml

from churnops.config import free_ports
from churnops.features import build_features, split_labelled
from churnops.generate import generate_churn_data
from churnops.model import save_model
from churnops.params import load_params
from churnops.train import make_model

ROOT = Path(__file__).resolve().parents[1]


def small_bundle(folder: Path) -> list[dict]:
    "A gradient-boosting bundle on 800 synthetic customers; returns rows of its scoring snapshot."
    params = load_params(ROOT / "params.yaml")
    customers, events = generate_churn_data(n_customers=800, n_days=120, seed=11)
    labelled, scoring = split_labelled(build_features(customers, events, params["features"], params["schema"]))
    inputs = [c for c in labelled.columns if c not in ("customer_id", "as_of_date", "churned")]
    categorical = params["schema"]["customer_attributes"]
    model = make_model("hist_gradient_boosting", [c for c in inputs if c not in categorical], categorical,
                       {"max_iter": 30}).fit(labelled[inputs], labelled.churned)
    save_model(model, folder / "model")
    (folder / "bundle.json").write_text(json.dumps({"model_name": "churn", "version": "1", "alias": "champion",
                                                    "profit_threshold": 0.2}))
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
            for r in scoring.drop(columns="as_of_date").to_dict("records")]


def hostile_bodies(row: dict) -> dict[str, tuple[str, bytes]]:
    "Name -> (route, body): each under serve.max_body_bytes except the last."
    compact = lambda obj: json.dumps(obj, separators=(",", ":")).encode()
    nested = b'{"customer_id":1,"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    return {
        "330,000 unknown keys (3.8 MB)": ("/predict", compact({**row, **{f"k{i}": 0 for i in range(330_000)}})),
        "batch: a row of 50,000 keys": ("/predict/batch", compact({"rows": [row, {**row, **{f"k{i}": 0 for i in range(50_000)}}]})),
        "batch: 1,000 rows, every field wrong": ("/predict/batch", compact({"rows": [{k: "x" for k in row}] * 1000})),
        "batch: 20,000 rows (over max_batch_rows)": ("/predict/batch", compact({"rows": [{"customer_id": i} for i in range(20_000)]})),
        "nesting 100,000 deep": ("/predict", nested),
        "a 3.9 MB string": ("/predict", compact({**row, "plan": "x" * 3_900_000})),
        "numbers past float range": ("/predict", json.dumps(row).replace(": 0", ": 1e400").encode()),
        "5 MB (over max_body_bytes)": ("/predict", compact({**row, "pad": "x" * 5_000_000})),
    }


def rss_mb(pid: int) -> float:
    "The resident memory of a process (NaN once it has exited)."
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return float("nan")
    for line in status.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def attack(url: str, bodies: dict, rounds: int) -> tuple[list[tuple], list[float]]:
    "Send every hostile body `rounds` times, one at a time, while a second client polls /health."
    results, health, done = [], [], asyncio.Event()
    async with httpx.AsyncClient(base_url=url, timeout=300) as client, \
            httpx.AsyncClient(base_url=url, timeout=300) as prober:  # a connection of its own, as a kubelet has
        async def poll():
            while not done.is_set():
                started = time.perf_counter()
                await prober.get("/health")
                health.append(time.perf_counter() - started)
                await asyncio.sleep(0.005)
        poller = asyncio.create_task(poll())
        for _ in range(rounds):
            for name, (route, body) in bodies.items():
                started = time.perf_counter()
                try:
                    reply = await client.post(route, content=body, headers={"content-type": "application/json"})
                    status, size = reply.status_code, len(reply.content)
                except httpx.TransportError:  # the server answered (413) and closed before the body was all sent
                    status, size = "closed", 0
                results.append((name, status, size, time.perf_counter() - started))
        done.set()
        await poller
    return results, health


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = small_bundle(folder / "bundle")
        params = yaml.safe_load((ROOT / "params.yaml").read_text())
        params["serve"].update(api_keys_file=None, allow_anonymous=True, anonymous_requests_per_minute=1e9)
        params["experiment"]["assignment_log"] = None
        (folder / "params.yaml").write_text(yaml.safe_dump(params))
        port, metrics_port = free_ports(2)
        server = subprocess.Popen([str(Path(sys.executable).parent / "churnops"), "serve", "--port", str(port),
                                   "--metrics-port", str(metrics_port), "--model-source", str(folder / "bundle"),
                                   "--params", str(folder / "params.yaml")], cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=(folder / "serve.err").open("w"))
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(url + "/ready", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            for row in rows[:200]:  # warm: the idle figure is a server that has answered
                httpx.post(url + "/predict", json=row)
            idle = rss_mb(server.pid)
            peak, sampling = [idle], threading.Event()

            def sample():
                while not sampling.is_set():
                    peak.append(rss_mb(server.pid))
                    time.sleep(0.01)
            sampler = threading.Thread(target=sample)
            sampler.start()
            results, health = asyncio.run(attack(url, hostile_bodies(rows[0]), args.rounds))
            sampling.set()
            sampler.join()
            after = rss_mb(server.pid)
            assert httpx.post(url + "/predict", json=rows[0]).status_code == 200, "still serving"
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    print(f"{'hostile body':<42} {'status':>6} {'answer bytes':>12} {'seconds (max)':>14}")
    for name in dict.fromkeys(r[0] for r in results):
        mine = [r for r in results if r[0] == name]
        statuses = "/".join(sorted({str(r[1]) for r in mine}))
        print(f"{name:<42} {statuses:>6} {max(r[2] for r in mine):>12,} {max(r[3] for r in mine):>14.3f}")
    health_ms = sorted(h * 1e3 for h in health)
    print(f"\nhostile requests: {len(results)}; 5xx: {sum(isinstance(r[1], int) and r[1] >= 500 for r in results)} "
          "(goal 0; 'closed': the server refused the body before reading it and closed the connection)")
    print(f"server memory: idle {idle:.0f} MB, peak {max(peak):.0f} MB ({max(peak) / idle:.2f}x, goal < 1.5x), "
          f"after {after:.0f} MB")
    print(f"/health while hostile requests ran: {len(health_ms)} calls, p50 {statistics.median(health_ms):.1f} ms, "
          f"p99 {health_ms[int(0.99 * (len(health_ms) - 1))]:.1f} ms, max {health_ms[-1]:.1f} ms (goal p99 < 100 ms)")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
