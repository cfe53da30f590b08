# %% [markdown]
# # Features
# Point-in-time features and labels per (customer, as-of date); the newest snapshot is kept for scoring.

# %% tags=["parameters"]
upstream = ["ingest", "validate"]
product = None
features = None  # block from params.yaml
schema = None  # block from params.yaml

# %%
import pandas as pd

from churnops.config import write_parquet
from churnops.features import build_feature_table, split_labelled

# %%
customers = pd.read_parquet(upstream["ingest"]["customers"])
table = build_feature_table(customers, upstream["ingest"]["events"], features, schema)
labelled, scoring = split_labelled(table)
print(f"{len(labelled):,} labelled rows over {labelled.as_of_date.nunique()} as-of dates; "
      f"{len(scoring):,} customers to score at {scoring.as_of_date.max():%Y-%m-%d}")

# %%
labelled.groupby("as_of_date").churned.agg(customers="size", churn_rate="mean")

# %%
write_parquet(labelled, product["labelled"])
write_parquet(scoring, product["scoring"])
