# %% [markdown]
# # Validate
# The data-quality gate on the ingested tables: Great Expectations suites, Data Docs under
# `reports/data_docs/raw_data/`, and a stop when a blocking expectation fails (warnings are listed and
# the run goes on). The rules and which of them block live in the `validate` block of params.yaml.

# %% tags=["parameters"]
upstream = ["ingest"]
product = None
validate = None  # block from params.yaml
schema = None  # block from params.yaml

# %%
import pandas as pd

from churnops.config import write_json
from churnops.validate import apply_levels, gate, raw_data_suites, read_previous, run_suites, summary

# %%
customers = pd.read_parquet(upstream["ingest"]["customers"])
events = pd.read_parquet(upstream["ingest"]["events"])
previous = read_previous(product["results"])
suites = raw_data_suites(customers, events, validate, schema, previous.get("baseline_row_counts"))
apply_levels(suites, validate.get("warn"))
records = run_suites(suites, product["data_docs"])
row_counts = {name: len(df) for name, (df, _) in suites.items()}
write_json(summary(records, row_counts, previous), product["results"])

# %%
results = pd.DataFrame(records)
results[["suite", "name", "level", "success", "passed_share", "observed"]]

# %%
for line in gate(records, "the ingested tables (data/raw)"):
    print("WARNING", line)
