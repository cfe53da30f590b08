# %% [markdown]
# # Validate
# The data-quality gate: any failed blocking check stops the pipeline here, and the results are saved.

# %% tags=["parameters"]
upstream = ["ingest"]
product = None
validate = None  # block from params.yaml

# %%
import pandas as pd

from churnops.config import write_json
from churnops.validate import check_raw_data, gate

# %%
customers = pd.read_parquet(upstream["ingest"]["customers"])
events = pd.read_parquet(upstream["ingest"]["events"])
results = check_raw_data(customers, events, validate)
write_json({"passed": all(r["passed"] for r in results), "checks": results}, product["results"])
pd.DataFrame(results)[["check", "column", "passed", "failing_rows", "total_rows"]]

# %%
gate(results, upstream["ingest"]["events"])
