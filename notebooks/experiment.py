# %% [markdown]
# # Experiment: champion (A) against challenger (B)
# Who saw which model comes from the API's assignment log (`experiment.assignment_log`: a folder or a Kafka topic);
# who churned comes from data observed later (`experiment.outcome_data`, the pipeline's label at each customer's
# first exposure). Run by `churnops experiment analyze` whenever new data has arrived; not a pipeline stage, since
# the log is the API's, not the pipeline's. Outputs: this report and `reports/experiment/analysis.json`.

# %% tags=["parameters"]
product = None
experiment = None  # blocks from params.yaml
features = None
schema = None
campaign = None
share_b = None     # serve.challenger_share: the split the sample-ratio check expects
stream = None      # the brokers of a log on a Kafka topic (kafka:<topic>)

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from churnops.config import write_json
from churnops.experiment import result_tables, run_analysis

# %%
result, observed = run_analysis(experiment, features, schema, share_b, campaign, stream)
write_json(result, product["json"])
counts, r = result["counts"], result["retention"]
display(Markdown(f"**{counts['experiment']}** ({counts['first_exposure'][:10]} to {counts['last_exposure'][:10]}): "
                 f"**{result['verdict']}**. Retention B - A = {r['difference']:+.4f} "
                 f"({1 - result['alpha']:.0%} interval {r['ci_low']:+.4f} to {r['ci_high']:+.4f}, p = {r['p_value']:.3g}); "
                 f"P(B beats A) = {result['bayes']['prob_b_beats_a']:.3f}. Customers: {counts['observed']:,} observed, "
                 f"{counts['pending']:,} still inside the horizon, {counts['not_live']:,} not live on their exposure day, "
                 f"{counts['crossed_arms']:,} excluded for meeting both arms."))
tables = result_tables(result)
tables["arms"]

# %%
tables["effects"]

# %%
fig, ax = plt.subplots(figsize=(6, 2.5))
lows, highs = tables["effects"]["ci_low"], tables["effects"]["ci_high"]
ax.errorbar(tables["effects"]["difference"], range(len(lows)), xerr=[tables["effects"]["difference"] - lows,
            highs - tables["effects"]["difference"]], fmt="o", capsize=4)
ax.axvline(0, color="k", linewidth=0.8)
ax.set_yticks(range(len(lows)), tables["effects"].index)
ax.set_xlabel("B - A with its interval")
plt.tight_layout()

# %% [markdown]
# Sample-ratio check, guardrails and power:

# %%
{"srm": result["srm"], "guardrails": result["guardrails"], "bayes": result["bayes"],
 "detectable_effect_now": result["power"]["detectable_effect_now"], "enough_customers": result["power"]["enough_customers"]}

# %% [markdown]
# Planning the next experiment at today's traffic (customers per arm and days, by the effect to detect):

# %%
tables["plans"]
