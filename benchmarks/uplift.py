"""Who a call changes (issue 40.4/40.5): on the simulator's contact experiment with a known truth (customers randomly
contacted on a campaign day; some kept by the call, some lost causes, some who stay anyway, some annoyed into leaving),
the uplift model is fitted on half the customers and every targeting policy is judged on the other half by the true
incremental saves (churners kept minus customers a call drove away) at several contact budgets. Prints uplift-,
risk-, random- and oracle-ranked targeting side by side; the oracle knows each customer's realized effect.

    python benchmarks/uplift.py [--customers 30000] [--seed 1]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from churnops.params import load_params
    from churnops.uplift import contact_experiment, fit_uplift, targeting_comparison

    params = load_params("params.yaml")
    experiment = contact_experiment(args.customers, 180, 130, params["features"], params["schema"], seed=args.seed)
    fit = np.random.default_rng(0).random(len(experiment.rows)) < 0.5
    model = fit_uplift(experiment.rows[fit].reset_index(drop=True), experiment.contacted[fit], experiment.churned[fit])
    judged = np.flatnonzero(~fit)
    effects = experiment.true_effect[judged]
    print(f"{len(experiment.rows):,} customers on the campaign day, half contacted; judged on {len(judged):,}: "
          f"{(effects == 1).sum()} a call would keep, {(effects == -1).sum()} it would drive away")
    table = targeting_comparison(experiment, model, judged, budgets=(0.1, 0.2, 0.3, 0.5))
    table["uplift / oracle"] = table["uplift"] / table["oracle (true effects)"]
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
