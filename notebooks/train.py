# %% [markdown]
# # Train
# Candidates on a time-based split with a gap (gradient boosting constrained by the declared
# `expectations`; the single strongest feature is a candidate too), and an MLflow run with the model, its
# signature, the data fingerprint and the git commit.

# %% tags=["parameters"]
upstream = ["features"]
product = None
train = None  # block from params.yaml
expectations = None  # block from params.yaml (monotonic constraints; candidates that break one are passed over)
mlflow = None  # block from params.yaml
features = None  # block from params.yaml (logged with the run: it shapes the model)
ingest = None  # block from params.yaml (logged with the run)

# %%
import pandas as pd

from churnops.config import file_sha256, git_commit, mlflow_tracking_uri, write_json, write_parquet
from churnops.model import save_model
from churnops.train import fit_candidates, log_training_run, recent_window, single_feature_of, time_split

# %%
labelled = recent_window(pd.read_parquet(upstream["features"]["labelled"]), train["window_days"])
train_set, test_set = time_split(labelled, train["test_snapshots"], train["gap_days"], train["seed"])
print(f"train {len(train_set):,} rows (to {train_set.as_of_date.max():%Y-%m-%d}), "
      f"test {len(test_set):,} rows (from {test_set.as_of_date.min():%Y-%m-%d})")

# %%
model, leaderboard, calibration = fit_candidates(train_set, train, expectations)
selected = leaderboard[leaderboard.selected].iloc[0]
single_feature = single_feature_of(selected.candidate)
if single_feature:
    print(f"No model beats the single feature {single_feature} on validation: it is the selected model")
print(f"calibration: {calibration['method']}" + (
    f" (slope {calibration['slope']:.3f}, intercept {calibration['intercept']:+.3f}; out-of-fold log loss "
    f"{calibration['out_of_fold_log_loss']:.4f} -> {calibration['calibrated_log_loss']:.4f})"
    if "calibrated_log_loss" in calibration else ""))
if selected.expectations_failed:
    print(f"Every candidate breaks a declared expectation; the best breaks: {selected.expectations_failed}")
leaderboard

# %%
write_parquet(train_set, product["train_set"])
write_parquet(test_set, product["test_set"])
save_model(model, product["model"])
run = log_training_run(
    model, train_set, leaderboard=leaderboard,
    params={"train": train, "expectations": expectations, "features": features, "ingest": ingest},
    tags={"data_fingerprint": file_sha256(product["train_set"]), "git_commit": git_commit() or "unknown"},
    tracking_uri=mlflow_tracking_uri(mlflow["tracking_uri"]), experiment=mlflow["experiment"], calibration=calibration)
write_json({**run, "leaderboard": leaderboard.to_dict(orient="records"), "selected_candidate": selected.candidate,
            "single_feature": single_feature, "calibration": calibration}, product["summary"])
run
