# %% [markdown]
# # Register
# The trained model becomes a new registry version (alias `challenger`). It becomes `champion` only if it
# passes the behavioural checks and beats the current champion on this run's holdout; the decision and
# its reason are saved, and the champion is exported as a bundle for scoring and serving.

# %% tags=["parameters"]
upstream = ["train", "evaluate"]
product = None
register = None  # block from params.yaml
mlflow = None  # block from params.yaml

# %%
import json
from pathlib import Path

import pandas as pd

from churnops.config import mlflow_tracking_uri, write_json
from churnops.evaluate import classification_metrics
from churnops.registry import (
    alias_version,
    attach_evaluation,
    behaviour_failures,
    export_bundle,
    list_versions,
    load_version,
    promote,
    promotion_decision,
    register_version,
)
from churnops.train import load_model, model_inputs

# %%
uri, name = mlflow_tracking_uri(mlflow["tracking_uri"]), mlflow["model_name"]
summary = json.loads(Path(upstream["train"]["summary"]).read_text())
evaluation = json.loads(Path(upstream["evaluate"]["metrics"]).read_text())
test_set = pd.read_parquet(upstream["train"]["test_set"])
challenger = load_model(upstream["train"]["model"])
metrics = {k: evaluation[k] for k in ["roc_auc", "pr_auc", "brier", "profit_threshold"]}
version = register_version(uri, name, summary["model_uri"], summary["run_id"], metrics)
reports = [*(Path(p) for p in upstream["evaluate"].values() if not str(p).endswith(".ipynb")),
           Path(upstream["train"]["nb_ipynb"]), Path(upstream["evaluate"]["nb_ipynb"])]
attach_evaluation(uri, summary["run_id"], {k: v for k, v in evaluation.items() if isinstance(v, int | float)}, reports)

# %% [markdown]
# The current champion is scored on the same holdout as the challenger:

# %%
champion_version = alias_version(uri, name, "champion")
champion_metrics = None
if champion_version not in (None, version):
    champion = load_version(uri, name, champion_version)
    if set(model_inputs(champion)) <= set(test_set.columns):
        champion_metrics = classification_metrics(test_set.churned, champion.predict_proba(test_set[model_inputs(champion)])[:, 1])
    else:
        print(f"champion v{champion_version} reads features this run does not build: it is judged against the baseline only")
baseline = {"roc_auc": evaluation["baseline_roc_auc"], "pr_auc": evaluation["baseline_pr_auc"]}
failures = behaviour_failures(challenger, test_set, **register["behaviour"])
promoted, reason = promotion_decision(metrics, champion_metrics, baseline, failures, register["gate"])
if promoted:
    promote(uri, name, version, reason)
print(f"version {version}: {reason}")

# %%
champion_now = alias_version(uri, name, "champion")
if champion_now is None:
    raise RuntimeError(f"{name}: no champion yet ({reason}); nothing can be scored. Improve the model and re-run.")
export_bundle(uri, name, product["champion"])
write_json({"version": version, "promoted": promoted, "reason": reason, "behaviour_failures": failures,
            "challenger": metrics, "champion_before": champion_version, "champion_before_metrics": champion_metrics,
            "champion": champion_now}, product["decision"])
list_versions(uri, name)
