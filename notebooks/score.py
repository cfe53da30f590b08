# %% [markdown]
# # Score
# Batch scoring of the newest snapshot with the champion (the bundle exported by the register stage),
# written as Parquet with the campaign decision at the champion's profit-optimal threshold.

# %% tags=["parameters"]
upstream = ["features", "register"]
product = None
score = None  # block from params.yaml
evaluate = None  # block from params.yaml (the campaign's offer cost and success rate)

# %%
import pandas as pd

from churnops.config import atomic_path, write_json, write_parquet
from churnops.contact import contact_list, contact_summary, customer_values
from churnops.score import champion_for, no_scores, score_with_bundle

# %%
scoring = pd.read_parquet(upstream["features"]["scoring"])
bundle, not_scored = champion_for(upstream["register"]["champion"], scoring)  # None: no champion can score this data
scores = (score_with_bundle(bundle, scoring, score["band_labels"], score["reasons"]) if bundle
          else no_scores(score["band_labels"], score["reasons"]))
write_parquet(scores, product["predictions"])
scores.head(10)

# %%
if bundle is None:
    print(f"no scores this run: {not_scored}")
else:
    print(f"champion {bundle.label}: contact {scores.contact.sum():,} of {len(scores):,} customers "
          f"(threshold {bundle.threshold:.3f}); " + ("compiled scorer (proven equal to the model on load)"
                                                     if bundle.predictor.fast else bundle.predictor.fallback_reason))
scores.churn_probability.describe()

# %% [markdown]
# This run's contact list (`score.contact`): customers ranked by the expected net value of a retention offer, within
# the budget, with their reasons; and the budget curve.

# %%
scored = scoring.set_index("customer_id").loc[scores.customer_id].reset_index()  # the scores' order
values, value_source = customer_values(scored, score["contact"], evaluate["campaign"])
chosen, curve = contact_list(scores, values, score["contact"], evaluate["campaign"])
summary = contact_summary(chosen, curve, score["contact"], value_source)
with atomic_path(product["contact_list"]) as tmp:
    chosen.to_csv(tmp, index=False)
with atomic_path(product["budget_curve"]) as tmp:
    curve.to_csv(tmp, index=False)
write_json(summary, product["contact_summary"])
print(f"contact {summary['contacts']:,} of {summary['customers_scored']:,} customers (budget {summary['budget']:,}): "
      f"expected saved value {summary['expected_saved_value']:,.0f}, net of offers {summary['expected_net_value']:,.0f}; "
      f"the most it could earn is {summary['best_expected_net_value']:,.0f} at {summary['best_budget']:,} contacts "
      f"(value: {value_source})")
chosen.head(10)
