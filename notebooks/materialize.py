# %% [markdown]
# # Materialize
# The feature store (Feast). Every snapshot the features stage built goes to the offline table (the
# point-in-time source of training retrievals); the feature view is generated from its columns and
# applied; the newest snapshot is written to the online store (SQLite, or Redis with
# `CHURNOPS_ONLINE_STORE=redis`), where the API's `/predict/customer` reads a customer's features by id.

# %% tags=["parameters"]
upstream = ["features"]
product = None
feature_store = None  # block from params.yaml

# %%
import pandas as pd

from churnops.config import write_json, write_parquet
from churnops.feature_store import materialize_newest, offline_table, open_store, write_repo_config

# %%
table = offline_table(pd.read_parquet(upstream["features"]["labelled"]), pd.read_parquet(upstream["features"]["scoring"]))
write_parquet(table, product["offline_table"])
print(f"feature repository: {write_repo_config(feature_store, '.')}")
done = materialize_newest(open_store(feature_store), feature_store, table, product["offline_table"])
write_json(vars(done), product["summary"])
print(f"{done.customers:,} customers x {done.features} features of {done.as_of_date} in the {done.online_store} "
      f"online store ({done.seconds:.1f} s); offline table: {len(table):,} rows, {table.as_of_date.nunique()} as-of dates")
