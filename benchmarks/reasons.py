"""What reasons cost (issue 40.1: at most 2x a 1,000-row batch score; off: nothing). For each candidate kind, trained
with params.yaml's hyperparameters on a small synthetic run, the same 1,000 rows are scored through the score stage's
door (`score_snapshot`, a DataFrame) and the API's (`Predictor.predict_rows`, dict rows): without reasons, then with
`score.reasons` of them. Prints the fastest of several calls and the ratio measured in the same run.

    python benchmarks/reasons.py [--rows 1000] [--customers 3000]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def best_of(fn, repeats: int = 7) -> float:
    "The fastest of `repeats` calls, in seconds (after one warm-up call)."
    fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--customers", type=int, default=3000)
    args = parser.parse_args()

    from churnops.features import build_features, split_labelled
    from churnops.generate import generate_churn_data
    from churnops.model import Predictor
    from churnops.params import load_params
    from churnops.score import score_snapshot
    from churnops.train import make_model, model_columns

    params = load_params("params.yaml")
    top = params["score"]["reasons"] or 3
    customers, events = generate_churn_data(args.customers, 150, seed=3)
    labelled, scoring = split_labelled(build_features(customers, events, params["features"], params["schema"]))
    numeric, categorical, _ = model_columns(labelled)
    batch = labelled.sample(args.rows, replace=len(labelled) < args.rows, random_state=0).reset_index(drop=True)
    rows = [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in batch.to_dict("records")]
    print(f"{args.rows:,}-row batch, {len(numeric) + len(categorical)} inputs, {top} reasons per row, "
          f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}")
    print(f"{'model':<24} {'door':<16} {'scores':>10} {'+ reasons':>10} {'ratio':>7}")
    for kind, hyperparameters in params["train"]["candidates"].items():
        model = make_model(kind, numeric, categorical, hyperparameters or {}, impute=True)
        model.fit(labelled[numeric + categorical], labelled.churned)
        predictor = Predictor(model, probe=labelled)
        assert predictor.fast, predictor.fallback_reason
        doors = {"score stage": (lambda p=predictor: score_snapshot(p, batch, "v"),
                                 lambda p=predictor: score_snapshot(p, batch, "v", reasons=top)),
                 "API (dict rows)": (lambda p=predictor: p.predict_rows(rows),
                                     lambda p=predictor: p.explain_rows(rows, top))}
        for door, (plain, explained) in doors.items():
            without, with_reasons = best_of(plain), best_of(explained)
            print(f"{kind:<24} {door:<16} {without * 1e3:>8.2f}ms {with_reasons * 1e3:>8.2f}ms "
                  f"{with_reasons / without:>6.2f}x")
        bias, contributions = predictor.scorer.contributions(predictor.scorer.design_frame(batch))
        p = predictor.predict(batch)
        gap = np.max(np.abs(bias + contributions.sum(axis=1) - np.log(p / (1 - p))))
        print(f"{'':<24} contributions + bias vs the model's log-odds: largest difference {gap:.1e}")


if __name__ == "__main__":
    main()
