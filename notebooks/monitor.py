# %% [markdown]
# # Monitor
# Did the data or the model drift since training? Evidently compares the champion's training snapshot
# (the newest as-of date of its training split) with the newest scoring snapshot; the champion is also
# scored on the newest labelled period. Outputs: the Evidently report `reports/monitoring/evidently/index.html`,
# `reports/monitoring/drift.json` (DVC metrics) and `drift.prom` (Prometheus gauges).

# %% tags=["parameters"]
upstream = ["features", "train", "register", "score"]
product = None
monitor = None  # block from params.yaml

# %%
from pathlib import Path

import pandas as pd

from churnops.config import write_json
from churnops.monitor import (
    comparable_columns,
    evidently_drift,
    monitored_columns,
    quality_on_labelled,
    write_drift_metrics,
)
from churnops.score import champion_for

# %%
# Reference and current scores come from the same model: the champion that scored the current snapshot. Without a
# champion that can score this data, the features still drift or not; the summary says why there are no scores.
train_set = pd.read_parquet(upstream["train"]["train_set"])
reference = train_set[train_set.as_of_date == train_set.as_of_date.max()]
current = pd.read_parquet(upstream["features"]["scoring"])
champion, not_scored = champion_for(upstream["register"]["champion"], current)
scores = pd.read_parquet(upstream["score"]["predictions"])
events = pd.read_parquet(upstream["features"]["events"], columns=["ts"])  # how much history the reference has
history = (reference.as_of_date.max() - events.ts.min()).days if len(events) else None
columns, left_out = comparable_columns(monitored_columns(reference, current, champion), history)
summary = evidently_drift(reference, current, columns, monitor,
                          reference_scores=champion.predictor.predict(reference) if champion else None,
                          current_scores=scores.churn_probability.to_numpy() if champion else None,
                          html_path=Path(product["report"], "index.html"))
labelled = pd.read_parquet(upstream["features"]["labelled"])
newest = labelled[labelled.as_of_date == labelled.as_of_date.max()]
summary["quality"] = quality_on_labelled(newest, champion.predictor.predict(newest), champion.holdout) if champion else {}
summary.update(reference_as_of=str(reference.as_of_date.max().date()), current_as_of=str(current.as_of_date.max().date()),
               champion=champion.label if champion else None, not_scored=not_scored, left_out=left_out)
write_json(summary, product["drift"])
write_drift_metrics(summary, product["prometheus"])
print(f"{summary['reference_as_of']} -> {summary['current_as_of']}: drift share {summary['drift_share']:.2f} "
      f"(threshold {summary['drift_share_threshold']}): " + ("RETRAIN" if summary["retrain"] else "no retraining needed"))

# %%
pd.DataFrame(summary["feature_drift"]).T.sort_values("score", ascending=False).head(15)

# %%
pd.DataFrame({"newest labelled period": summary["quality"], "training holdout": summary["quality"]["training"]}).drop(
    index="training", errors="ignore") if champion else not_scored
