# %% [markdown]
# # Ingest
# Synthetic data by default; your own event log or a snapshot table when `ingest.source` says so.
# Bad input stops here with the file, column and example rows, before anything is written.

# %% tags=["parameters"]
upstream = None
product = None
ingest = None  # block from params.yaml

# %%
from churnops.config import write_parquet
from churnops.ingest import load_source

# %%
customers, events = load_source(ingest)
print(f"{len(customers):,} customers, {len(events):,} events")
customers.head()

# %%
events.head() if len(events) else "no event log: snapshot table"

# %%
events.groupby("event_type", observed=True).size().rename("events").to_frame() if len(events) else None

# %%
write_parquet(customers, product["customers"])
write_parquet(events, product["events"])
