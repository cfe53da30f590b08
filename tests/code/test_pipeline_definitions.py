"pipeline.yaml (Ploomber) and dvc.yaml (DVC) must describe the same stages."
import shutil
import subprocess

import yaml

from churnops.catalog import stage_order
from churnops.pipeline import pipeline_differences


def test_definitions_agree(repo):
    assert pipeline_differences(repo / "pipeline.yaml", repo / "dvc.yaml") == []


def test_every_stage_notebook_exists_and_declares_its_parameters(repo):
    spec = yaml.safe_load((repo / "pipeline.yaml").read_text())
    for task in spec["tasks"]:
        source = (repo / task["source"]).read_text()
        assert 'tags=["parameters"]' in source, task["source"]
        for block in task.get("params", {}):
            assert f"\n{block} = None" in source, f"{task['source']} does not declare parameter {block!r}"
        assert "\ndef " not in source, f"{task['source']} defines a function: library code belongs in nbs_lib"


def test_a_planted_disagreement_is_reported(repo, tmp_path):
    for name in ["pipeline.yaml", "dvc.yaml", "params.yaml", "env.yaml"]:
        shutil.copy(repo / name, tmp_path / name)
    shutil.copytree(repo / "notebooks", tmp_path / "notebooks")
    shutil.copytree(repo / "churnops", tmp_path / "churnops")
    dvc = yaml.safe_load((tmp_path / "dvc.yaml").read_text())
    dvc["stages"]["score"]["outs"] = [o for o in dvc["stages"]["score"]["outs"] if "predictions" not in str(o)]
    dvc["stages"]["train"]["params"] = []
    dvc["stages"]["register"]["deps"].remove("churnops/evaluate.py")  # imported through churnops.registry
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(dvc))
    problems = pipeline_differences(tmp_path / "pipeline.yaml", tmp_path / "dvc.yaml")
    assert any(p.startswith("score: products") for p in problems), problems
    assert ("train: pipeline.yaml params ['expectations', 'features', 'ingest', 'mlflow', 'train'] != dvc.yaml params []"
            in problems), problems
    assert "register: dvc.yaml deps lack the library modules the notebook imports ['churnops/evaluate.py']" in problems
    assert any(p.startswith("monitor: upstream") for p in problems), "monitor lost its dependency on score"


def test_stage_order_is_run_order(repo):
    assert stage_order(repo / "dvc.yaml") == ["sources", "ingest", "validate", "features", "materialize", "train", "evaluate",
                                              "register", "score", "monitor", "publish"]


def test_only_the_sources_stage_is_not_a_notebook(repo, tmp_path):
    "`sources` (churnops sources) is the one DVC stage without a notebook; another one is reported."
    shutil.copy(repo / "pipeline.yaml", tmp_path / "pipeline.yaml")
    for name in ["params.yaml", "env.yaml"]:
        shutil.copy(repo / name, tmp_path / name)
    shutil.copytree(repo / "notebooks", tmp_path / "notebooks")
    shutil.copytree(repo / "churnops", tmp_path / "churnops")
    dvc = yaml.safe_load((repo / "dvc.yaml").read_text())
    dvc["stages"]["sources"]["cmd"] = "churnops sources --out elsewhere.json"
    dvc["stages"]["fetch"] = {"cmd": "curl -o data.csv https://example.com/data.csv", "outs": ["data.csv"]}
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(dvc, sort_keys=False))
    problems = pipeline_differences(tmp_path / "pipeline.yaml", tmp_path / "dvc.yaml")
    assert f"stage 'fetch' is in {tmp_path / 'dvc.yaml'} but not in {tmp_path / 'pipeline.yaml'}" in problems, problems
    assert "sources: dvc.yaml cmd 'churnops sources --out elsewhere.json' is not 'churnops sources'" in problems


def test_cli_is_installed_and_checks_the_pipeline(repo):
    help_text = subprocess.run(["churnops", "--help"], capture_output=True, text=True, check=True).stdout
    assert "check-pipeline" in help_text and "run" in help_text
    result = subprocess.run(["churnops", "check-pipeline"], cwd=repo, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_committed_lock_is_in_step_with_the_code(repo):
    "CI fails when dvc.lock (and the metrics git versions) are older than the notebooks, library and parameters."
    from churnops.pipeline import stale_lock

    assert stale_lock(repo) == [], "run `make lock` and commit dvc.lock and the metrics it names"
