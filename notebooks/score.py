# %% [markdown]
# # Score
# Batch scoring of the newest snapshot with the trained model, written as Parquet.

# %% tags=["parameters"]
upstream = ["features", "train"]
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
model = load_model(upstream["train"]["model"])
run_id = json.loads(Path(upstream["train"]["summary"]).read_text())["run_id"]
scores = score_snapshot(model, pd.read_parquet(upstream["features"]["scoring"]), model_version=run_id)
scores["risk_band"] = pd.qcut(scores.churn_probability.rank(method="first"), score["risk_bands"], labels=score["band_labels"])
write_parquet(scores, product["predictions"])
scores.head(10)

# %%
scores.churn_probability.describe()
