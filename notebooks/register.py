# %% [markdown]
# # Register
# The trained model becomes a new registry version (alias `challenger`). It becomes `champion` only if it
# passes the behavioural checks and beats the current champion on this run's holdout; the decision and
# its reason are saved, and the champion is exported as a bundle for scoring and serving.

# %% tags=["parameters"]
upstream = ["train", "evaluate"]
product = None
register = None  # block from params.yaml
expectations = None  # block from params.yaml (the behavioural checks)
mlflow = None  # block from params.yaml
features = None  # block from params.yaml (the label definition: churn horizon)
ingest = None  # block from params.yaml (the label definition: source)

# %%
import json
from pathlib import Path

import pandas as pd

from churnops.config import mlflow_tracking_uri, write_json
from churnops.contract import label_definition
from churnops.expectations import declared_directions
from churnops.model import Predictor, load_model
from churnops.registry import (
    attach_evaluation,
    export_bundle,
    export_no_champion,
    gate_challenger,
    list_versions,
    register_version,
)

# %%
uri, name = mlflow_tracking_uri(mlflow["tracking_uri"]), mlflow["model_name"]
summary = json.loads(Path(upstream["train"]["summary"]).read_text())
evaluation = json.loads(Path(upstream["evaluate"]["metrics"]).read_text())
test_set = pd.read_parquet(upstream["train"]["test_set"])
challenger = Predictor(load_model(upstream["train"]["model"]), probe=test_set)
label = label_definition(ingest, features)
metrics = {k: evaluation[k] for k in ["roc_auc", "pr_auc", "brier", "profit_threshold"]}
version = register_version(uri, name, summary["model_uri"], summary["run_id"], metrics, tags={"label_definition": label})
reports = [*(Path(p) for p in upstream["evaluate"].values() if not str(p).endswith(".ipynb")),
           Path(upstream["train"]["nb_ipynb"]), Path(upstream["evaluate"]["nb_ipynb"])]
attach_evaluation(uri, summary["run_id"], {k: v for k, v in evaluation.items() if isinstance(v, int | float)}, reports)

# %% [markdown]
# The gate (churnops.registry.gate_challenger): the current champion is scored on the same holdout as the
# challenger if it is comparable (it reads these features, can score these rows, and predicts the same label); the
# challenger's behavioural checks; then the promotion rule.

# %%
decision = gate_challenger(uri, name, version, challenger, test_set, evaluation, summary["single_feature"], label,
                           register["gate"], expectations)
if decision["champion_not_comparable"]:
    print(f"not comparable: {decision['champion_not_comparable']}; the challenger can at most wait for a person")
print(f"version {version}: {decision['reason']}")
pd.DataFrame(decision["expectations"])

# %%
_, switched_off, _ = declared_directions([], expectations["directions"])  # pattern -> the reason it is off
decision.update({"expectations_off": switched_off, "selected_candidate": summary["selected_candidate"]})
promoted, reason, failures, champion_now = (decision[k] for k in ("promoted", "reason", "behaviour_failures", "champion"))
# A run that promotes nothing is a finished run: the last champion (if any) stays exported, else the bundle says
# why there is none; score, monitor and publish still run and the landing page shows the reason.
if champion_now is None:
    export_no_champion(name, product["champion"], reason)
else:
    export_bundle(uri, name, product["champion"])
write_json(decision, product["decision"])
if not promoted:
    print(f"nothing promoted; champion: {champion_now or 'none yet'}. The evidence is in {product['decision']}"
          + ("; if the data contradicts an expectation, switch it off in params.yaml with the reason "
             "(expectations.directions.<pattern>: {off: why})" if failures else ""))
list_versions(uri, name)
