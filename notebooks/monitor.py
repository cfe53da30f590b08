# %% [markdown]
# # Monitor
# Drift between the training reference and the newest scoring snapshot, and the retrain decision.

# %% tags=["parameters"]
upstream = ["features", "train", "register", "score"]
product = None
monitor = None  # block from params.yaml

# %%
from pathlib import Path

import pandas as pd

from churnops.config import write_json
from churnops.monitor import drift_summary
from churnops.train import load_model, model_inputs

# %%
# Reference and current scores come from the same model: the champion that scored the current snapshot.
model = load_model(Path(upstream["register"]["champion"], "model"))
reference = pd.read_parquet(upstream["train"]["train_set"])
current = pd.read_parquet(upstream["features"]["scoring"])
scores = pd.read_parquet(upstream["score"]["predictions"])
summary = drift_summary(reference, current, model_inputs(model), monitor,
                        reference_scores=model.predict_proba(reference[model_inputs(model)])[:, 1],
                        current_scores=scores.churn_probability.to_numpy())
write_json(summary, product["drift"])
print(f"drift share {summary['drift_share']:.2f} (threshold {summary['drift_share_threshold']}): "
      + ("RETRAIN" if summary["retrain"] else "no retraining needed"))

# %%
pd.Series(summary["feature_psi"], name="psi").sort_values(ascending=False).head(15).to_frame()
