"""k8s/kubeflow/pipeline.py compiles (kfp v2) to one step per DVC stage, in order, each running its stage
in the churnops image and handing its pipeline state to the next step as an artifact."""
import json
import re

import yaml

from tests.conftest import DVC_STAGES, REPO
from tests.deploy.conftest import render, run, tool

PIPELINE = REPO / "k8s" / "kubeflow" / "pipeline.py"


def compile_to(out, dvc_yaml=REPO / "dvc.yaml"):
    return run(tool("python"), PIPELINE, "--out", out, "--dvc-yaml", dvc_yaml)


def stage_of(task: dict) -> str:
    return task["inputs"]["parameters"]["stage"]["runtimeValue"]["constant"]


def test_pipeline_compiles_to_one_step_per_stage_in_order(tmp_path):
    result = compile_to(tmp_path / "pipeline.yaml")
    assert result.returncode == 0, result.output
    spec, platform = list(yaml.safe_load_all((tmp_path / "pipeline.yaml").read_text()))
    tasks = spec["root"]["dag"]["tasks"]
    by_stage = {stage_of(task): name for name, task in tasks.items() if "stage" in task["inputs"].get("parameters", {})}
    by_stage["features"] = next(name for name in tasks if name.startswith("condition-branches"))  # in the pod or on Spark
    assert sorted(by_stage) == sorted(DVC_STAGES) and len(tasks) == len(DVC_STAGES)
    for previous, stage in zip(DVC_STAGES, DVC_STAGES[1:]):
        task = tasks[by_stage[stage]]
        assert task["dependentTasks"] == [by_stage[previous]]
        handed = task["inputs"]["artifacts"]
        handed = handed.get("upstream_state") or handed[f"pipelinechannel--{by_stage[previous]}-state"]
        assert handed["taskOutputArtifact"]["producerTask"] == by_stage[previous]
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


def test_the_features_step_runs_on_the_overlays_spark_application_when_asked(tmp_path):
    """features_on_spark=true: the features step becomes the SparkApplication the dev overlay renders, submitted with
    the same store flags by `cluster-run --spark-application` with the mounted token; either branch's state goes on."""
    from churnops.cli import build_parser

    assert compile_to(tmp_path / "pipeline.yaml").returncode == 0
    spec, platform = list(yaml.safe_load_all((tmp_path / "pipeline.yaml").read_text()))
    assert spec["root"]["inputDefinitions"]["parameters"]["features_on_spark"] == {
        "defaultValue": False, "isOptional": True, "parameterType": "BOOLEAN"}
    branches = next(c for name, c in spec["components"].items() if name.startswith("comp-condition-branches"))["dag"]
    conditions = {task["taskInfo"]["name"]: task["triggerPolicy"]["condition"] for task in branches["tasks"].values()}
    assert conditions == {"on Spark": "inputs.parameter_values['pipelinechannel--features_on_spark'] == true",
                          "in the pod": "!(inputs.parameter_values['pipelinechannel--features_on_spark'] == true)"}
    selected = list(branches["outputs"]["artifacts"].values())[0]["artifactSelectors"]
    assert len(selected) == 2  # the next step takes the state of whichever branch ran

    on_spark = spec["deploymentSpec"]["executors"]["exec-spark-stage"]["container"]
    spark_task = next(task for name, c in spec["components"].items() if name.startswith("comp-condition")
                      for task in c.get("dag", {}).get("tasks", {}).values() if task["componentRef"]["name"] == "comp-spark-stage")
    constants = {key: value["runtimeValue"]["constant"] for key, value in spark_task["inputs"]["parameters"].items()
                 if "runtimeValue" in value}
    assert constants["stage"] == "features"
    rendered = [o for o in yaml.safe_load_all(render(REPO / "k8s/overlays/dev")) if o and o["kind"] == "SparkApplication"]
    assert json.loads(constants["spark_application"]) == rendered[0]  # exactly what the overlay deploys
    args = [re.sub(r"\{\{\$\.inputs\.parameters\['(\w+)'\]\}\}", lambda m: constants.get(m.group(1), m.group(1)), arg)
            for arg in on_spark["args"]]
    parsed = build_parser().parse_args(args)
    assert parsed.spark_application and parsed.stages == ["features"] and parsed.single_item
    assert parsed.state_in and parsed.state_out and parsed.dvc_remote  # the same store flags as every step
    mounted = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert [e for e, settings in mounted.items() if "secretAsVolume" in settings] == ["exec-spark-stage"]  # that step only
    token = mounted["exec-spark-stage"]["secretAsVolume"][0]
    assert token["secretName"] == "churnops-pipeline-token"  # pragma: allowlist secret (a Secret's name)
    assert token["mountPath"] == parsed.kube_credentials
