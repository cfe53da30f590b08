"""A run killed with SIGKILL in the middle of a stage (issue 38.4): its children (DVC, the stage server, the kernels)
die with it, and the next `churnops run` recovers with no hand step and ends with a consistent champion: every
output matches dvc.lock, the bundle is the registry's champion, and its scores are the champion's."""
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from churnops.model import load_bundle
from churnops.pipeline import override_params

pytestmark = pytest.mark.slow


def processes_in(root: Path) -> list[str]:
    "The processes working in `root` (what a killed run could leave behind)."
    found = []
    for process in psutil.process_iter(["pid", "cwd", "cmdline"]):
        cwd = process.info["cwd"]
        if cwd and Path(cwd).is_relative_to(root) and process.pid != os.getpid():
            found.append(f"{process.pid}: {' '.join(process.info['cmdline'] or [])[:120]}")
    return found


@pytest.mark.parametrize("stage", ["train", "score"])
def test_a_killed_run_leaves_no_orphans_and_the_next_run_recovers(pipeline_run, tmp_path, stage):
    root = tmp_path / "run"
    shutil.copytree(pipeline_run, root, symlinks=True)
    override_params(root / "params.yaml", {"train.seed": 7})  # train and everything after it run again
    run = subprocess.Popen(["churnops", "run"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    for line in run.stdout:
        seen.append(line)
        if f"▶ {stage}" in line:
            break
    time.sleep(2)  # inside the stage's notebook
    run.send_signal(signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 120  # the children are signalled at once; kernels may take a moment to stop
    while processes_in(root) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert processes_in(root) == [], f"orphans of the killed run: {processes_in(root)}\n{''.join(seen)[-2000:]}"

    again = subprocess.run(["churnops", "run"], cwd=root, capture_output=True, text=True)
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    status = subprocess.run(["dvc", "status"], cwd=root, capture_output=True, text=True)
    assert status.stdout.split() == ["sources:", "always", "changed"], status.stdout[-2000:]  # it hashes the inputs
    decision = json.loads((root / "reports" / "registry" / "decision.json").read_text())
    bundle = load_bundle(root / "models" / "champion")
    assert bundle.version == decision["champion"], (bundle.version, decision)
    scoring = pd.read_parquet(root / "data" / "features" / "scoring.parquet")
    scores = pd.read_parquet(root / "data" / "predictions" / "scores.parquet").set_index("customer_id")
    expected = pd.Series(bundle.predictor.predict(scoring), index=scoring.customer_id)
    assert (scores.churn_probability - expected.reindex(scores.index)).abs().max() <= 1e-12


def test_a_run_killed_while_dvc_wrote_its_rwlock_is_followed_by_a_run_that_needs_no_hand_step(pipeline_run, tmp_path):
    """DVC truncates .dvc/tmp/rwlock, then writes it: a run killed in between left it empty (found by the test above
    on CI). Cut short anywhere, the next `churnops run` sets it aside and runs, with nothing to re-run."""
    root = tmp_path / "run"
    shutil.copytree(pipeline_run, root, symlinks=True)
    held = json.dumps({"read": {"params.yaml": [{"pid": 999999, "cmd": "dvc repro"}]},
                       "write": {"data/features": {"pid": 999999, "cmd": "dvc repro"}}})
    rwlock = root / ".dvc" / "tmp" / "rwlock"
    for cut in (0, len(held) // 2):
        rwlock.write_text(held[:cut])
        again = subprocess.run(["churnops", "run"], cwd=root, capture_output=True, text=True)
        assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
        ran = [line for line in again.stdout.splitlines() if line.startswith("▶")]
        assert "set aside as rwlock.cut-short" in again.stdout and ran == ["▶ sources"], again.stdout[-2000:]
        assert (rwlock.parent / "rwlock.cut-short").read_text() == held[:cut]
        assert json.loads(rwlock.read_text()) == {}  # DVC's own, written whole, with every lock released
