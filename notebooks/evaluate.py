# %% [markdown]
# # Evaluate
# Holdout metrics of the trained model beside the best single-feature baseline, calibration and gain.

# %% tags=["parameters"]
upstream = ["train"]
product = None
evaluate = None  # block from params.yaml
register = None  # block from params.yaml (the promotion gate: "beats the baseline" is its rule)

# %%
import json
from pathlib import Path

import pandas as pd

from churnops.config import atomic_path, write_json
from churnops.contract import split_columns
from churnops.evaluate import (
    at_threshold,
    best_threshold,
    calibration_table,
    classification_metrics,
    clears_baseline,
    curve_tables,
    lift_table,
    plot_calibration,
    plot_gain,
    profit_curve,
    single_feature_baseline,
)
from churnops.model import load_model, predict

# %%
model = load_model(upstream["train"]["model"])
train_set = pd.read_parquet(upstream["train"]["train_set"])
test_set = pd.read_parquet(upstream["train"]["test_set"])
probability = predict(model, test_set)
metrics = classification_metrics(test_set.churned, probability, evaluate["calibration_bins"])
column, baseline = single_feature_baseline(train_set, test_set, split_columns(train_set)[0])
pd.DataFrame({"model": metrics, f"baseline ({column})": baseline})

# %%
beats, versus = clears_baseline(metrics, baseline, register["gate"])  # the promotion gate's own rule
trained = json.loads(Path(upstream["train"]["summary"]).read_text())
if beats:
    print(f"The model ({trained['selected_candidate']}) beats the single-feature baseline: {versus}.")
elif trained["single_feature"]:
    print(f"No model beat a single feature on validation: the model is {trained['single_feature']} alone.")
else:
    print(f"WARNING: the model ({trained['selected_candidate']}) does NOT beat the single-feature baseline ({column}) "
          f"on the holdout by the gate's margin ({register['gate']['baseline_margin']:.1%}): {versus}.")

# %%
calibration = calibration_table(test_set.churned, probability, evaluate["calibration_bins"])
gains = lift_table(test_set.churned, probability)
plot_calibration(calibration).savefig(product["calibration_plot"], dpi=100)
plot_gain(gains).savefig(product["gain_plot"], dpi=100)
gains

# %% [markdown]
# The same curves as data for `dvc plots diff` (x/y fields declared in dvc.yaml):

# %%
for stem, curve in curve_tables(test_set.churned, probability, evaluate["campaign"], evaluate["calibration_bins"]).items():
    with atomic_path(product[f"{stem}_curve"]) as tmp:
        curve.to_csv(tmp, index=False)

# %% [markdown]
# The decision threshold that maximises the expected profit of a retention campaign (params.yaml `evaluate.campaign`):

# %%
decision = best_threshold(profit_curve(test_set.churned.to_numpy(), probability, evaluate["campaign"]))
decision.update(at_threshold(test_set.churned, probability, decision["profit_threshold"]))
decision

# %%
write_json({**metrics, **decision, "baseline_feature": column, "baseline_roc_auc": baseline["roc_auc"],
            "baseline_pr_auc": baseline["pr_auc"], "beats_baseline": bool(beats), "run_id": trained["run_id"],
            "single_feature": trained.get("single_feature")}, product["metrics"])  # set: one feature is the model
