# %% [markdown]
# # Validate
# The data-quality gate on the ingested tables (`data/ingested/`): Great Expectations suites, Data Docs
# under `reports/data_docs/raw_data/`, and a stop when a blocking expectation fails (warnings are listed
# and the run goes on). Besides the configured rules, expectations are learned from the last delivery that
# passed every gate (`data/raw/`, same columns): ranges, missing shares, categories. Tables that pass go on
# to the features stage, which publishes them to `data/raw/` once its own gate has passed too: a failed gate
# leaves the last good tables there and the rejected ones in `data/ingested/` to inspect.
# The rules and which of them block live in the `validate` block of params.yaml.

# %% tags=["parameters"]
upstream = ["ingest"]
product = None
validate = None  # block from params.yaml
schema = None  # block from params.yaml

# %%
import pandas as pd

from churnops.config import write_json
from churnops.validate import (
    apply_levels,
    gate,
    last_good_delivery,
    raw_data_suites,
    run_suites,
    summary,
)

# %%
customers = pd.read_parquet(upstream["ingest"]["customers"])
events = pd.read_parquet(upstream["ingest"]["events"])
last_good = last_good_delivery()  # read, never written, here: this stage's result is a function of its inputs
previous = {"baseline_row_counts": {name: len(table) for name, table in last_good.items()}}
suites = raw_data_suites(customers, events, validate, schema, previous["baseline_row_counts"], last_good=last_good)
configured = [*schema["measures"], *schema["customer_attributes"], *validate["columns"]]  # absent ones do not apply
apply_levels(suites, validate.get("warn"), configured)
records = run_suites(suites, product["data_docs"])
row_counts = {name: len(df) for name, (df, _) in suites.items()}
write_json(summary(records, row_counts, previous), product["results"])

# %%
results = pd.DataFrame(records)
results[["suite", "name", "level", "success", "passed_share", "observed"]]

# %%
for line in gate(records, "the ingested tables (data/ingested; data/raw keeps the last tables that passed)"):
    print("WARNING", line)
