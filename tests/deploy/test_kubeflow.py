"""k8s/kubeflow/pipeline.py compiles (kfp v2) to one step per DVC stage, in order, each running its stage
in the churnops image and handing its pipeline state to the next step as an artifact."""
import yaml

from tests.conftest import DVC_STAGES, REPO
from tests.deploy.conftest import run, tool

PIPELINE = REPO / "k8s" / "kubeflow" / "pipeline.py"


def compile_to(out, dvc_yaml=REPO / "dvc.yaml"):
    return run(tool("python"), PIPELINE, "--out", out, "--dvc-yaml", dvc_yaml)


def test_pipeline_compiles_to_one_step_per_stage_in_order(tmp_path):
    result = compile_to(tmp_path / "pipeline.yaml")
    assert result.returncode == 0, result.output
    spec, platform = list(yaml.safe_load_all((tmp_path / "pipeline.yaml").read_text()))
    tasks = spec["root"]["dag"]["tasks"]
    stage_of = {name: task["inputs"]["parameters"]["stage"]["runtimeValue"]["constant"] for name, task in tasks.items()}
    assert sorted(stage_of.values()) == sorted(DVC_STAGES)
    by_stage = {stage: name for name, stage in stage_of.items()}
    for previous, stage in zip(DVC_STAGES, DVC_STAGES[1:]):
        task = tasks[by_stage[stage]]
        assert task["dependentTasks"] == [by_stage[previous]]
        assert task["inputs"]["artifacts"]["upstream_state"]["taskOutputArtifact"] == {
            "outputArtifactKey": "state", "producerTask": by_stage[previous]}
    image = yaml.safe_load((REPO / "k8s/overlays/dev/kustomization.yaml").read_text())["images"][0]
    for executor in spec["deploymentSpec"]["executors"].values():
        assert executor["container"]["image"] == f"{image['newName']}:{image['newTag']}"
        assert executor["container"]["command"] == ["churnops"] and executor["container"]["args"][0] == "cluster-run"
    kubernetes = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert all(e["emptyDirMounts"][0]["mountPath"] == "/workspace" for e in kubernetes.values())
    policy = yaml.safe_load((REPO / "k8s/policies/pipeline-pods.yaml").read_text())["spec"]["rules"][0]
    label = policy["match"]["any"][0]["resources"]["selector"]["matchLabels"]
    for executor in kubernetes.values():  # every step is a pipeline pod to the admission policy, and runs non-root
        assert executor["podMetadata"]["labels"].items() >= label.items()
        assert executor["securityContext"]["runAsNonRoot"] is True


def test_planted_pipeline_without_stages_is_refused(tmp_path):
    empty = tmp_path / "dvc.yaml"
    empty.write_text("stages: {}\n")
    result = compile_to(tmp_path / "pipeline.yaml", empty)
    assert result.returncode != 0 and "no stages" in result.output
    assert not (tmp_path / "pipeline.yaml").exists()
