# %% [markdown]
# # Features
# Point-in-time features and labels per (customer, as-of date); the newest snapshot is kept for scoring.
# The feature suites (no NaN/inf, ranges, keys, label rate, scoring columns = training columns) must
# pass before anything is written; their Data Docs are under `reports/data_docs/features/`. Only then is the
# delivery (which passed the raw gate in validate) published to `data/raw/` as the last good one.

# %% tags=["parameters"]
upstream = ["ingest", "validate"]
product = None
features = None  # block from params.yaml
schema = None  # block from params.yaml
validate = None  # block from params.yaml

# %%
import warnings

import pandas as pd

from churnops.config import publish_file, write_json, write_parquet
from churnops.features import build_feature_table, split_labelled, windows_cadence_note
from churnops.validate import apply_levels, feature_suites, gate, run_suites, summary

# %%
customers = pd.read_parquet(upstream["ingest"]["customers"])  # the tables that passed the raw data gate (validate)
if (note := windows_cadence_note(upstream["ingest"]["events"], features["windows_days"])):
    warnings.warn(note, stacklevel=1)  # shown under the stage by `churnops run`
table = build_feature_table(customers, upstream["ingest"]["events"], features, schema)
labelled, scoring = split_labelled(table)
print(f"{len(labelled):,} labelled rows over {labelled.as_of_date.nunique()} as-of dates; "
      f"{len(scoring):,} customers to score at {scoring.as_of_date.max():%Y-%m-%d}")

# %%
labelled.groupby("as_of_date").churned.agg(customers="size", churn_rate="mean")

# %%
suites = feature_suites(labelled, scoring, validate)
apply_levels(suites, validate.get("warn"))
records = run_suites(suites, product["data_docs"])
write_json(summary(records, {"labelled": len(labelled), "scoring": len(scoring)}), product["validation"])
for line in gate(records, "the feature table"):
    print("WARNING", line)

# %%
write_parquet(labelled, product["labelled"])
write_parquet(scoring, product["scoring"])
publish_file(upstream["ingest"]["customers"], product["customers"])  # every gate has passed: the new last good delivery
publish_file(upstream["ingest"]["events"], product["events"])
