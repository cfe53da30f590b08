# %% [markdown]
# # Publish
# The landing page of the run, `reports/index.html`: the headline numbers (model against its baseline, the gate's
# decision, the data gates, drift, the last retraining decision), the plots, and a link to every report.

# %% tags=["parameters"]
upstream = ["ingest", "validate", "features", "materialize", "train", "evaluate", "register", "score", "monitor"]
product = None

# %%
import time
from pathlib import Path

from IPython.display import HTML

from churnops.catalog import stage_order
from churnops.reports import landing_page, run_summary, summary_lines, summary_paths

# %%
paths = summary_paths(upstream)  # the results this page shows, as its upstream stages wrote them
summary = run_summary(paths)
page = landing_page(summary, Path(product["nb_html"]).parent, stage_order(),
                    plots={"Cumulative gain on the holdout": paths["gain_plot"],
                           "Calibration on the holdout": paths["calibration_plot"]},
                    generated_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
print("\n".join(summary_lines(summary)))

# %% [markdown]
# The page (this output is what the stage publishes as `reports/index.html`):

# %%
HTML(page)
