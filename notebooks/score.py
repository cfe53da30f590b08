# %% [markdown]
# # Score
# Batch scoring of the newest snapshot with the champion (the bundle exported by the register stage),
# written as Parquet with the campaign decision at the champion's profit-optimal threshold.

# %% tags=["parameters"]
upstream = ["features", "register"]
product = None
score = None  # block from params.yaml

# %%
import pandas as pd

from churnops.config import write_parquet
from churnops.model import load_bundle
from churnops.score import score_with_bundle

# %%
scoring = pd.read_parquet(upstream["features"]["scoring"])
bundle = load_bundle(upstream["register"]["champion"], probe=scoring)
scores = score_with_bundle(bundle, scoring, score["band_labels"])
write_parquet(scores, product["predictions"])
scores.head(10)

# %%
print(f"champion {bundle.label}: contact {scores.contact.sum():,} of {len(scores):,} customers "
      f"(threshold {bundle.threshold:.3f}); "
      + ("compiled scorer (proven equal to the model on load)" if bundle.predictor.fast else bundle.predictor.fallback_reason))
scores.churn_probability.describe()
