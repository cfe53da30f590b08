"""Reproducible across time (issue 39), as the docs' reproducibility section (docs/pipeline.md) types it: run; commit; a new
delivery and a parameter change; run; commit; then `git checkout <first> && dvc checkout` brings back the first
run's data, features, model, metrics and champion, byte for byte, with no stage re-run; a fresh clone gets them
with `dvc pull`; DVC compares the two commits' metrics; a stage run by hand takes `-p key value`.
"""
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from churnops.pipeline import override_params
from churnops.registry import alias_version
from tests.conftest import STAGES

pytestmark = pytest.mark.slow

# what a user compares between two points in time: raw data, features, the model artefact, the served champion,
# the metrics
PRODUCTS = ["data/raw/events.parquet", "data/features/labelled.parquet", "models/model", "models/champion",
            "reports/evaluation/metrics.json"]


def digest(path: Path) -> str:
    "The SHA-256 of a file, or of a folder's files (names and bytes, in name order)."
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    sha = hashlib.sha256()
    for file in files:
        sha.update(str(file.relative_to(path) if path.is_dir() else file.name).encode() + b"\0" + file.read_bytes())
    return sha.hexdigest()


def fingerprint(root: Path) -> dict[str, str]:
    return {product: digest(root / product) for product in PRODUCTS}


def stages_run(output: str) -> list[str]:
    "The stages a `churnops run` ran (its ▶ lines)."
    return [s for s in STAGES if f"▶ {s}\n" in output]


def sh(root: Path, *command: str) -> str:
    result = subprocess.run(command, cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(command)}:\n{(result.stdout + result.stderr)[-4000:]}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def history(pipeline_run, tmp_path_factory):
    """The session's run, copied elsewhere (its MLflow store follows it) and committed; then a new delivery (another
    synthetic draw) and a parameter change, run and committed, with its challenger made champion if the gate kept
    the first. Yields the project, both commits and what each served."""
    root = tmp_path_factory.mktemp("history") / "project"
    shutil.copytree(pipeline_run, root, symlinks=True)
    first_run = sh(root, "churnops", "run")
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-qm", "first run")
    first = {"commit": sh(root, "git", "rev-parse", "HEAD").strip(), "products": fingerprint(root),
             "champion": alias_version(f"sqlite:///{root}/mlflow.db", "churnops-churn", "champion")}
    override_params(root / "params.yaml", {"ingest.synthetic.seed": 8, "train.seed": 7})
    second_run = sh(root, "churnops", "run")
    if alias_version(f"sqlite:///{root}/mlflow.db", "churnops-churn", "champion") == first["champion"]:
        challenger = alias_version(f"sqlite:///{root}/mlflow.db", "churnops-churn", "challenger")
        sh(root, "churnops", "registry", "promote", challenger, "--reason", "the second delivery's model, for the test")
        sh(root, "churnops", "run")  # scores and monitor with the new champion, all pushed
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-qm", "a new delivery and train.seed 7")
    second = {"commit": sh(root, "git", "rev-parse", "HEAD").strip(), "products": fingerprint(root),
              "champion": alias_version(f"sqlite:///{root}/mlflow.db", "churnops-churn", "champion")}
    return root, first, second, first_run, second_run


def test_a_copied_workspace_runs_nothing_again_and_writes_into_itself(history, pipeline_run):
    root, first, _, first_run, _ = history
    assert stages_run(first_run) == [], "the copy's outputs are those of its dvc.lock: nothing to run"
    runs = subprocess.run(["sqlite3", str(root / "mlflow.db"), "SELECT artifact_uri FROM runs"],
                          capture_output=True, text=True, check=True).stdout.split()
    assert runs and all(uri.removeprefix("file://").startswith(str(root)) for uri in runs), runs[:3]


def test_the_second_commit_changed_data_model_and_metrics(history):
    _, first, second, _, second_run = history
    assert stages_run(second_run)[:3] == ["ingest", "validate", "features"]
    changed = {p for p in PRODUCTS if first["products"][p] != second["products"][p]}
    assert changed == set(PRODUCTS), f"unchanged: {set(PRODUCTS) - changed}"
    assert first["champion"] != second["champion"]


def test_dvc_compares_the_commits_metrics(history):
    root, first, second, _, _ = history
    diff = json.loads(sh(root, "dvc", "metrics", "diff", first["commit"], second["commit"], "--json"))
    assert diff["reports/evaluation/metrics.json"], diff
    shown = json.loads(sh(root, "dvc", "exp", "show", "--all-commits", "--json"))
    metrics = {entry["rev"]: entry["data"]["metrics"] for entry in shown if entry.get("data")}
    for commit in (first["commit"], second["commit"]):
        unread = {path: entry["error"] for path, entry in metrics[commit].items() if "error" in entry}
        assert not unread, unread  # DVC reports a metrics file it could not read as {"error": ...}
        assert metrics[commit]["reports/evaluation/metrics.json"]["data"]["pr_auc"] > 0


def test_dvc_plots_diff_draws_both_commits_curves(history):
    root, first, second, _, _ = history
    plots = json.loads(sh(root, "dvc", "plots", "diff", first["commit"], second["commit"], "--json"))["data"]
    shutil.rmtree(root / "dvc_plots", ignore_errors=True)  # the images it renders
    for curve in ("calibration", "gain", "profit"):
        revisions = {rev for entry in plots[f"reports/evaluation/{curve}.csv"] for rev in entry.get("revisions", [])}
        assert {first["commit"], second["commit"]} <= revisions, (curve, revisions)


def test_checking_out_the_first_commit_brings_back_its_products_and_champion(history):
    root, first, second, _, _ = history
    sh(root, "git", "checkout", "-q", first["commit"])
    try:
        sh(root, "dvc", "checkout")
        assert fingerprint(root) == first["products"], "byte for byte, from DVC's cache"
        again = sh(root, "churnops", "run")
        assert stages_run(again) == [], again[-3000:]
        assert f"registry: champion {second['champion']} -> {first['champion']}" in again
        assert alias_version(f"sqlite:///{root}/mlflow.db", "churnops-churn", "champion") == first["champion"]
    finally:
        sh(root, "git", "checkout", "-q", second["commit"])
        sh(root, "dvc", "checkout")


def test_parameters_that_ran_before_are_restored_from_the_run_cache(history):
    "A parameter changed and changed back, dvc.lock untouched: DVC's run cache restores the outputs, no stage re-runs."
    root, _, second, _, _ = history
    override_params(root / "params.yaml", {"train.seed": 11})
    assert "▶ train" in sh(root, "churnops", "run")
    sh(root, "git", "checkout", "--", "params.yaml")  # train.seed 7 again; dvc.lock still says 11
    back = sh(root, "churnops", "run")
    assert stages_run(back) == [], back[-3000:]
    assert "· train: ran before with these inputs, its outputs restored from DVC's run cache" in back
    assert fingerprint(root) == second["products"]
    sh(root, "git", "checkout", "--", "dvc.lock")


def test_a_fresh_clone_pulls_the_products_and_retrains_the_same_model(history, tmp_path):
    root, _, second, _, _ = history
    clone = tmp_path / "clone"
    sh(tmp_path, "git", "clone", "-q", str(root), str(clone))
    shutil.copytree(root / "report-assets" / "dist", clone / "report-assets" / "dist")  # built by `make setup`
    sh(clone, "churnops", "remote")
    sh(clone, "dvc", "pull")
    assert fingerprint(clone) == second["products"]
    ran = sh(clone, "churnops", "run")
    assert stages_run(ran) == [], ran[-3000:]
    # the model artefact is a function of its inputs: trained again in the clone, it is the same bytes
    sh(clone, "dvc", "repro", "--force", "--single-item", "train")
    assert digest(clone / "models" / "model") == second["products"]["models/model"]


def test_a_stage_runs_by_hand_with_a_parameter_for_that_run_only(history):
    root = history[0]
    before = (root / "params.yaml").read_text()
    out = sh(root, "churnops", "stage", "score", "-p", "score.risk_bands", "2", "-p", "score.band_labels", "[low, high]")
    assert "for this run only" in out
    assert set(pd.read_parquet(root / "data" / "predictions" / "scores.parquet").risk_band) == {"low", "high"}
    assert (root / "params.yaml").read_text() == before
    assert "score" in sh(root, "dvc", "status"), "DVC sees the by-hand products and runs score again"
    result = subprocess.run(["churnops", "stage", "score", "-p", "score.risk_band", "2"], cwd=root,
                            capture_output=True, text=True)
    assert result.returncode != 0 and "score.risk_band: unknown key" in result.stderr
    sh(root, "dvc", "checkout", "--force")  # back to the products dvc.lock records
    assert "score" not in sh(root, "dvc", "status")


def test_an_experiment_runs_and_is_compared_with_dvc_exp(history):
    "`dvc exp run --set-param`, `dvc exp show` and `dvc exp diff`, as the docs type them (last: it changes the workspace)."
    root, _, second, _, _ = history
    sh(root, "dvc", "exp", "run", "--set-param", "train.seed=13", "--name", "seed13")
    shown = json.loads(sh(root, "dvc", "exp", "show", "--json"))
    experiments = {rev.get("name"): rev for entry in shown for exp in entry.get("experiments") or [] for rev in exp["revs"]}
    assert experiments["seed13"]["data"]["params"]["params.yaml"]["data"]["train"]["seed"] == 13
    assert experiments["seed13"]["data"]["metrics"]["reports/evaluation/metrics.json"]["data"]["pr_auc"] > 0
    diff = json.loads(sh(root, "dvc", "exp", "diff", second["commit"], "seed13", "--json"))
    assert (diff["params"]["params.yaml"]["train.seed"]["old"], diff["params"]["params.yaml"]["train.seed"]["new"]) == (7, 13)
    sh(root, "git", "checkout", "--", ".")
    sh(root, "dvc", "checkout", "--force")
