"""`churnops cluster-run`: how k8s Jobs and Kubeflow steps pass the pipeline between pods through the artifact store.

Each run gets a fresh workspace (a new pod), the same project files (the image) and a local artifact store
(a folder stands in for S3: the code path is fsspec and DVC's remote either way)."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from churnops.pipeline import copy_work_tree, override_params


@pytest.fixture(scope="module")
def store(repo, tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("cluster")
    project = copy_work_tree(repo, base / "project")  # no .git, as in the image
    override_params(project / "params.yaml", {"ingest.synthetic.n_customers": 1000, "ingest.synthetic.n_days": 180})
    env = {**os.environ, "CHURNOPS_DVC_REMOTE": str(base / "remote"), "CHURNOPS_STATE_URL": f"file://{base}/state",
           "CHURNOPS_REPORTS_URL": str(base / "published"), "CHURNOPS_PROJECT_DIR": str(project)}
    return {"base": base, "env": env}


def cluster_run(store: dict, pod: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    workspace = store["base"] / pod
    return subprocess.run(["churnops", "cluster-run", "--workspace", str(workspace), *args],
                          env=env or store["env"], cwd=store["base"], capture_output=True, text=True)


def locked_stages(store: dict) -> dict:
    return yaml.safe_load((store["base"] / "state" / "dvc.lock").read_text())["stages"]


def test_each_pod_continues_from_the_state_the_previous_one_saved(store):
    first = cluster_run(store, "pod-ingest", "ingest")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "state empty (first run)" in first.stdout
    assert "Running stage 'ingest'" in first.stdout + first.stderr
    ingest_lock = locked_stages(store)["ingest"]

    second = cluster_run(store, "pod-validate", "validate")
    output = second.stdout + second.stderr
    assert second.returncode == 0, output[-4000:]
    assert "Stage 'ingest' didn't change, skipping" in output  # pulled from the remote, not recomputed
    assert "Running stage 'validate'" in output
    state = locked_stages(store)
    assert state["ingest"] == ingest_lock and "validate" in state
    published = store["base"] / "published"
    assert (published / "data_docs" / "raw_data" / "index.html").is_file()
    assert json.loads((published / "validation" / "raw_data.json").read_text())["passed"] is True


def test_a_failed_stage_saves_the_progress_before_it_and_exits_non_zero(store):
    before = locked_stages(store)
    bad = store["base"] / "bad-project"
    shutil.copytree(store["base"] / "project", bad, symlinks=True)  # env.yaml links to params.yaml
    override_params(bad / "params.yaml", {"validate.earliest_timestamp": "2099-01-01"})  # every event is "too early"
    failed = cluster_run(store, "pod-bad", "validate", env={**store["env"], "CHURNOPS_PROJECT_DIR": str(bad)})
    assert failed.returncode != 0
    assert "events.ts.in_data_window" in failed.stdout + failed.stderr  # the gate says which rule stopped it
    assert locked_stages(store) == before  # the lock still records the last passing validate run


def test_missing_artifact_store_settings_are_named(store):
    env = {k: v for k, v in store["env"].items() if k not in ("CHURNOPS_DVC_REMOTE", "CHURNOPS_STATE_URL")}
    result = cluster_run(store, "pod-misconfigured", "ingest", env=env)
    assert result.returncode == 2
    assert "set CHURNOPS_DVC_REMOTE and CHURNOPS_STATE_URL" in result.stderr
