# %% [markdown]
# # Score
# Batch scoring of the newest snapshot with the champion (the bundle exported by the register stage),
# written as Parquet with the campaign decision at the champion's profit-optimal threshold.

# %% tags=["parameters"]
upstream = ["features", "register"]
product = None
score = None  # block from params.yaml

# %%
import json
from pathlib import Path

import pandas as pd

from churnops.config import write_parquet
from churnops.score import score_snapshot
from churnops.train import load_model

# %%
bundle = json.loads(Path(upstream["register"]["champion"], "bundle.json").read_text())
model = load_model(Path(upstream["register"]["champion"], "model"))
scores = score_snapshot(model, pd.read_parquet(upstream["features"]["scoring"]),
                        model_version=f"{bundle['model_name']}/{bundle['version']}")
scores["contact"] = scores.churn_probability >= bundle["profit_threshold"]
scores["risk_band"] = pd.qcut(scores.churn_probability.rank(method="first"), score["risk_bands"], labels=score["band_labels"])
write_parquet(scores, product["predictions"])
scores.head(10)

# %%
print(f"champion {bundle['model_name']} version {bundle['version']}: contact {scores.contact.sum():,} of "
      f"{len(scores):,} customers (threshold {bundle['profit_threshold']:.3f})")
scores.churn_probability.describe()
