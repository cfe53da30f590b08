"""Serving benchmark: the prediction API under load from a separate process, and the model call floor.

Needs a finished pipeline run (models/champion, data/features/scoring.parquet and the online store:
`make pipeline`). Beside the API routes it measures a bare uvicorn ASGI app (the ceiling of this machine) and a
trivial FastAPI endpoint (the framework's own floor), both answering constant JSON.
Load generator: wrk (apt-get install wrk) when on PATH, else a bounded asyncio httpx client in a
separate process. Prints one table.

    python benchmarks/serving.py [--seconds 10] [--connections 32]
"""
import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from churnops.config import free_port
from churnops.model import load_model
from churnops.params import load_params
from churnops.scorer import Scorer
from churnops.serve_auth import API_KEYS_ENV, add_api_key

ROOT = Path(__file__).resolve().parents[1]


def per_call(fn, n):
    fn()
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n


def model_floor(bundle, scoring, ranges):
    "In-process model calls: the sklearn pipeline, the compiled scorer, per row and in bulk."
    pipeline = load_model(bundle / "model")
    scorer = Scorer(pipeline, ranges)
    rows = scoring[scorer.inputs].to_dict("records")
    frame = scoring[scorer.inputs]
    design = pipeline.steps[0][1].transform(frame)
    bulk = np.ascontiguousarray(np.resize(design, (1_000_000, design.shape[1])))
    scorer.from_design(bulk[:1000])
    started = time.perf_counter()
    scorer.from_design(bulk)
    compiled_bulk = time.perf_counter() - started
    started = time.perf_counter()
    pipeline.steps[-1][1].predict_proba(bulk[:200_000])
    sklearn_bulk = (time.perf_counter() - started) * 5
    return {
        "pipeline.predict_proba, 1 row": f"{per_call(lambda: pipeline.predict_proba(frame.iloc[:1]), 100) * 1e3:.2f} ms",
        "compiled scorer, 1 row (dict in)": f"{per_call(lambda: scorer.score_rows(rows[:1]), 2000) * 1e6:.0f} µs",
        "compiled scorer, 1,000 rows (dicts in)": f"{per_call(lambda: scorer.score_rows(rows[:1000]), 20) * 1e3:.1f} ms",
        "model call, sklearn (score stage), rows/s": f"{1_000_000 / sklearn_bulk:,.0f}",
        "model call, compiled kernel, rows/s": f"{1_000_000 / compiled_bulk:,.0f}",
    }


def wrk(url, body, seconds, connections, api_key):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                     f'wrk.headers["X-API-Key"] = "{api_key}"\nwrk.body = {json.dumps(body)}\n')
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, url],
                         capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)

    def ms(label):
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 1e-3, "ms": 1, "s": 1e3}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests/s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50 ms": ms("50%"),
            "p99 ms": ms("99%"), "errors": int(errors.group(1)) if errors else 0, "tool": "wrk"}


async def _python_load(url, body, seconds, connections, api_key):
    latencies, errors = [], 0
    stop = time.perf_counter() + seconds
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=connections)) as client:
        async def worker():
            nonlocal errors
            while time.perf_counter() < stop:
                started = time.perf_counter()
                reply = await client.post(url, content=body, headers={"content-type": "application/json",
                                                                      "x-api-key": api_key})
                latencies.append(time.perf_counter() - started)
                errors += reply.status_code != 200
        await asyncio.gather(*(worker() for _ in range(connections)))
    lat = np.array(latencies) * 1e3
    return {"requests/s": len(lat) / seconds, "p50 ms": float(np.percentile(lat, 50)),
            "p99 ms": float(np.percentile(lat, 99)), "errors": errors, "tool": "httpx (python)"}


BARE_ASGI = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"churn_probability": 0.5}'})
"""


TRIVIAL_FASTAPI = """
from fastapi import FastAPI, Request
from fastapi.responses import Response

app = FastAPI()


@app.post("/")
async def constant(request: Request):
    await request.body()
    return Response(b'{"churn_probability": 0.5}', media_type="application/json")
"""


def run_load(url, body, args, api_key):
    "Requests/s and latency of POST `body` to `url` with an API key, from a separate process (wrk, else httpx)."
    if shutil.which("wrk"):
        return wrk(url, body, args.seconds, args.connections, api_key)
    out = subprocess.run([sys.executable, __file__, "--python-client", "--url", url, "--seconds", str(args.seconds),
                          "--connections", str(args.connections), "--api-key", api_key], input=body, capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def reference_load(source, args, env):
    "A constant-JSON app under uvicorn as `churnops serve` runs it (uvloop, httptools): the ceilings beside the API."
    folder = Path(tempfile.mkdtemp(prefix="churnops-reference-"))
    (folder / "reference.py").write_text(source)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "reference:app", "--app-dir", str(folder), "--port", str(port),
                               "--loop", "uvloop", "--http", "httptools", "--log-level", "warning", "--no-access-log"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                httpx.post(f"http://127.0.0.1:{port}/", content=b"{}")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        return run_load(f"http://127.0.0.1:{port}/", "{}", args, api_key="-")  # the same headers; the bare app ignores them
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--python-client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url")
    parser.add_argument("--api-key", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.python_client:  # the load generator's own process
        body = sys.stdin.read()
        print(json.dumps(asyncio.run(_python_load(args.url, body, args.seconds, args.connections, args.api_key))))
        return
    params = load_params(ROOT / "params.yaml")
    bundle, scoring_path = ROOT / "models" / "champion", ROOT / "data" / "features" / "scoring.parquet"
    if not (bundle / "bundle.json").exists() or not scoring_path.exists():
        sys.exit("benchmarks/serving.py: run `make pipeline` first (needs models/champion and data/features)")
    scoring = pd.read_parquet(scoring_path)
    rows = [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
            for r in scoring.drop(columns="as_of_date").head(1000).to_dict("records")]

    port = free_port()
    # every request carries an API key (the server checks it, as in production), of a client no rate limit stops
    keys_file = Path(tempfile.mkdtemp(prefix="churnops-bench-keys-")) / "api-keys.yaml"
    api_key = add_api_key(keys_file, "benchmark", ["predict"], requests_per_minute=1e9)
    env = {**os.environ, "OMP_NUM_THREADS": "1", API_KEYS_ENV: str(keys_file)}
    server = subprocess.Popen([str(Path(sys.executable).parent / "churnops"), "serve", "--port", str(port)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(url + "/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        load = run_load(url + "/predict", json.dumps(rows[0]), args, api_key)
        by_id = run_load(url + "/predict/customer", json.dumps({"customer_id": rows[0]["customer_id"]}), args, api_key)
        with httpx.Client(base_url=url, timeout=30, headers={"x-api-key": api_key}) as client:
            batch = json.dumps({"rows": rows})
            timings = []
            for _ in range(40):
                started = time.perf_counter()
                reply = client.post("/predict/batch", content=batch, headers={"content-type": "application/json"})
                timings.append((time.perf_counter() - started) * 1e3)
                assert reply.status_code == 200, reply.text[:300]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    bare = reference_load(BARE_ASGI, args, env)
    trivial = reference_load(TRIVIAL_FASTAPI, args, env)
    # in-process measurements after the load test: their worker threads must not compete with the server
    results = model_floor(bundle, scoring, params["validate"]["feature_ranges"])
    print(f"API, one process, {args.connections} concurrent clients, {args.seconds} s ({load['tool']}):")
    for name, result in [("bare ASGI (uvicorn, constant JSON)", bare), ("trivial FastAPI endpoint (constant JSON)", trivial),
                         ("single-row /predict (body)", load),
                         ("/predict/customer (feature store)", by_id)]:
        print(f"  {name}: {result['requests/s']:,.0f} requests/s ({result['requests/s'] / bare['requests/s']:.2f}x bare), "
              f"p50 {result['p50 ms']:.1f} ms, p99 {result['p99 ms']:.1f} ms, errors {result['errors']}")
    print(f"  1,000-row /predict/batch: p50 {np.percentile(timings, 50):.1f} ms, p99 {np.percentile(timings, 99):.1f} ms"
          "   (target < 50 ms)")
    print("In-process model calls (the floor):")
    for name, value in results.items():
        print(f"  {name}: {value}")


if __name__ == "__main__":
    main()
