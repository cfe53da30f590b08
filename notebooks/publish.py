# %% [markdown]
# # ChurnOps run reports
# Every report of the latest pipeline run. This notebook, rendered without its code, is `reports/index.html`.

# %% tags=["parameters"]
upstream = ["ingest", "validate", "features", "materialize", "train", "evaluate", "register", "score", "monitor"]
product = None

# %%
from pathlib import Path

from IPython.display import HTML

from churnops.pipeline import stage_order
from churnops.reports import index_html

# %%
reports_dir = Path(product["nb_html"]).parent
print(f"Reports: {reports_dir.resolve() / 'index.html'}")
HTML(index_html(reports_dir, stage_order()))
