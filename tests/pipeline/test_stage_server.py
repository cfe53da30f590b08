"""`churnops run`'s stage server: every stage runs in a fresh kernel started ahead of it, and a stage gives the same
results warm as cold (`dvc repro` by hand, a K8s Job)."""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat

from churnops.pipeline import STAGE_SERVER_ENV, STAGE_SERVER_LOG
from tests.conftest import STAGES


def kernels_in(folder: Path) -> list[int]:
    "Process ids of the Jupyter kernels (started, or forked by the zygote) and zygotes working in `folder`."
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_text()
            if ("ipykernel" in command or "churnops.kernels" in command) and Path(f"/proc/{pid}/cwd").resolve() == folder.resolve():
                found.append(int(pid))
        except OSError:  # ended meanwhile, or not ours
            continue
    return found


def test_every_stage_ran_on_the_server_in_a_kernel_warmed_ahead(pipeline_run):
    log = (pipeline_run / STAGE_SERVER_LOG).read_text()
    for stage in STAGES:
        assert re.search(rf"^{stage}: exit 0; [\d.]+ s waiting for its kernel, [\d.]+ s running; kernel forked$", log, re.M), log
    assert "could not be forked" not in log and "started cold" not in log, log  # every kernel came from the zygote
    # the warm-up imports left nothing in the notebooks: their cells count from 1, as in a kernel of their own
    for stage in STAGES:
        cells = nbformat.read(pipeline_run / "reports" / "notebooks" / f"{stage}.ipynb", as_version=4).cells
        counts = [cell.execution_count for cell in cells if cell.cell_type == "code"]
        assert counts == list(range(1, len(counts) + 1)), (stage, counts)
    assert kernels_in(pipeline_run) == [], "a kernel or the zygote outlived the run"


def test_a_stage_gives_the_same_model_warm_and_cold(pipeline_run, tmp_path):
    "No state passes between stages: train, run again without the server, selects and scores the candidates alike."
    root = tmp_path / "run"
    shutil.copytree(pipeline_run, root, symlinks=True)
    warm = json.loads((root / "models" / "train_summary.json").read_text())
    # a server that is gone (its socket path left in the environment): the stage runs here, cold
    environment = {**os.environ, STAGE_SERVER_ENV: str(tmp_path / "no-server")}
    result = subprocess.run(["churnops", "stage", "train"], cwd=root, capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stdout + result.stderr
    cold = json.loads((root / "models" / "train_summary.json").read_text())
    assert cold["run_id"] != warm["run_id"], "train did not run again"
    assert (cold["selected_candidate"], cold["leaderboard"]) == (warm["selected_candidate"], warm["leaderboard"])
