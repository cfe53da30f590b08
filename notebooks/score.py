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
from churnops.score import champion_for, no_scores, score_with_bundle

# %%
scoring = pd.read_parquet(upstream["features"]["scoring"])
bundle, not_scored = champion_for(upstream["register"]["champion"], scoring)  # None: no champion can score this data
scores = (score_with_bundle(bundle, scoring, score["band_labels"], score["reasons"]) if bundle
          else no_scores(score["band_labels"], score["reasons"]))
write_parquet(scores, product["predictions"])
scores.head(10)

# %%
if bundle is None:
    print(f"no scores this run: {not_scored}")
else:
    print(f"champion {bundle.label}: contact {scores.contact.sum():,} of {len(scores):,} customers "
          f"(threshold {bundle.threshold:.3f}); " + ("compiled scorer (proven equal to the model on load)"
                                                     if bundle.predictor.fast else bundle.predictor.fallback_reason))
scores.churn_probability.describe()
