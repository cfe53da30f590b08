"""Loading the champion, from a new process, against what users would pick instead (issue 42.3): skops' `load`
of the same model file and `mlflow.pyfunc.load_model` of the same folder, beside `churnops.model.load_bundle` (the
API's and the score stage's door: the skops load, the compiled scorer, its proof against `predict_proba`).

Each contender runs in a new Python process, several times in turn (best of `--repeats`), and reports two
times: import + load (a new process's whole wait before it can score: what a starting server or stage feels), and
the load alone, every library the contender's load needs imported first (scikit-learn's estimators for all; skops
and Numba for churnops), which leaves the work done per model. Prints the ratios to skops from the same run.

Needs a finished `make pipeline` (models/champion).

    python benchmarks/model_load.py [--repeats 5] [--bundle models/champion]
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ESTIMATORS = "import sklearn.compose, sklearn.ensemble, sklearn.pipeline, sklearn.preprocessing, sklearn.linear_model"
CONTENDERS = {  # name -> (imports, load); `bundle` is the bundle folder
    "skops.io.load": ("import skops.io as sio",
                      "f = bundle + '/model/model.skops'; sio.load(f, trusted=sio.get_untrusted_types(file=f))"),
    "mlflow.pyfunc.load_model": ("import mlflow.pyfunc", "mlflow.pyfunc.load_model(bundle + '/model')"),
    "churnops load_bundle": ("from churnops.model import load_bundle; import skops.io, numba",
                             "b = load_bundle(bundle); assert b.predictor.fast, b.predictor.fallback_reason"),
}

TIMED = """
import json, sys, time
started = time.perf_counter()
{estimators}
{imports}
imported = time.perf_counter()
bundle = sys.argv[1]
{load}
done = time.perf_counter()
print(json.dumps({{"load": done - imported, "import_and_load": done - started}}))
"""


def measure(name: str, bundle: str) -> dict[str, float]:
    imports, load = CONTENDERS[name]
    out = subprocess.run([sys.executable, "-c", TIMED.format(estimators=ESTIMATORS, imports=imports, load=load), bundle], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default="models/champion")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    best: dict[str, dict[str, float]] = {}
    for _ in range(args.repeats + 1):  # the first round warms the file cache and Numba's disk cache
        for name in CONTENDERS:
            times = measure(name, args.bundle)
            if _ == 0:
                continue
            best[name] = {k: min(v, best.get(name, {}).get(k, v)) for k, v in times.items()}
    base = best["skops.io.load"]
    print(f"{args.bundle}, a new process each time, best of {args.repeats}:")
    print(f"{'':28s} {'load s':>8s} {'x skops':>8s} {'import+load s':>14s} {'x skops':>8s}")
    for name, times in best.items():
        print(f"{name:28s} {times['load']:8.3f} {times['load'] / base['load']:8.2f} "
              f"{times['import_and_load']:14.3f} {times['import_and_load'] / base['import_and_load']:8.2f}")


if __name__ == "__main__":
    main()
