"""The ChurnOps pipeline on Kubeflow Pipelines (kfp v2): one step per DVC stage, in dvc.yaml's order.

Every step runs the stage notebook in the churnops image (`churnops cluster-run STAGE`, the same command as
the Kubernetes Jobs). Steps pass the pipeline state (dvc.lock and the retrain records) to each other as
Kubeflow artifacts: a step starts from its predecessor's state, pulls the data it names from the DVC remote,
runs its stage and pushes the outputs before it writes its own state. The data, models and reports travel
through the DVC remote by content hash; the state artifacts make each step's inputs visible in the Kubeflow UI.

Compile (tests/deploy does this):  python k8s/kubeflow/pipeline.py --out churnops-pipeline.yaml
Run it:  python k8s/kubeflow/pipeline.py --submit https://kubeflow.example/pipeline --namespace churnops-dev
A run's pods use the service account churnops-pipeline (the IRSA role terraform/modules/region/iam.tf binds to it): Kubeflow
takes the service account per run, not from the compiled file, so `--submit` names it, and the admission policy
k8s/policies/pipeline-pods.yaml refuses pipeline pods under any other account (e.g. a run started from the UI
with the profile's default-editor). Steps run as a non-root user; the Kubeflow backend (kfp >= 2.15) drops
their capabilities and privilege escalation, which the same policy checks.
"""

import argparse  # no `from __future__ import annotations`: kfp reads the annotations as types
from pathlib import Path

import yaml
from kfp import compiler, dsl, kubernetes

REPO = Path(__file__).resolve().parents[2]
SERVICE_ACCOUNT = "churnops-pipeline"  # terraform/modules/region/iam.tf: the pipeline's IRSA role trusts this account


def overlay_image(overlay: Path = REPO / "k8s/overlays/dev/kustomization.yaml") -> str:
    "The churnops image the dev overlay runs (the image workflow writes its tag): the steps run the same."
    image = next(i for i in yaml.safe_load(overlay.read_text())["images"] if i["name"] == "churnops")
    return f"{image['newName']}:{image['newTag']}"


def stages(dvc_yaml: Path = REPO / "dvc.yaml") -> list[str]:
    "The pipeline's stages in the order dvc.yaml lists them (each after the stages it depends on)."
    names = list((yaml.safe_load(dvc_yaml.read_text()) or {}).get("stages") or [])
    if not names:
        raise ValueError(f"{dvc_yaml}: no stages")
    return names


def _store_args(dvc_remote: str, state_url: str, reports_url: str, mlflow_tracking_uri: str) -> list:
    return ["--dvc-remote", dvc_remote, "--state-url", state_url, "--reports-url", reports_url,
            "--mlflow-tracking-uri", mlflow_tracking_uri]


def stage_components(image: str):
    "The two step kinds, in `image`: the first stage (starts from the store's state) and every later one."

    @dsl.container_component
    def first_stage(stage: str, dvc_remote: str, state_url: str, reports_url: str, mlflow_tracking_uri: str,
                    state: dsl.Output[dsl.Artifact]):
        "Run the first stage from the state the last run left in the artifact store."
        return dsl.ContainerSpec(image=image, command=["churnops"], args=[
            "cluster-run", stage, "--single-item",
            *_store_args(dvc_remote, state_url, reports_url, mlflow_tracking_uri), "--state-out", state.path])

    @dsl.container_component
    def next_stage(stage: str, dvc_remote: str, state_url: str, reports_url: str, mlflow_tracking_uri: str,
                   upstream_state: dsl.Input[dsl.Artifact], state: dsl.Output[dsl.Artifact]):
        "Run a stage from the state its predecessor produced."
        return dsl.ContainerSpec(image=image, command=["churnops"], args=[
            "cluster-run", stage, "--single-item",
            *_store_args(dvc_remote, state_url, reports_url, mlflow_tracking_uri),
            "--state-in", upstream_state.path, "--state-out", state.path])

    return first_stage, next_stage


def build_pipeline(stage_names: list[str], image: str):
    "The Kubeflow pipeline function for these stages, in order, each a step in `image`."
    if len(set(stage_names)) != len(stage_names):
        raise ValueError(f"stage names repeat: {stage_names}")
    first_stage, next_stage = stage_components(image)

    @dsl.pipeline(name="churnops", description="Churn prediction: ingest, validate, features, materialize, train, evaluate, "
                                               "register, score, monitor, publish (one step per DVC stage)")
    def churnops(dvc_remote: str = "s3://churnops-dev-artifacts/dvc",
                 state_url: str = "s3://churnops-dev-artifacts/state",
                 reports_url: str = "s3://churnops-dev-reports/latest",
                 mlflow_tracking_uri: str = "http://churnops-mlflow.churnops-dev.svc.cluster.local:5000"):
        store = {"dvc_remote": dvc_remote, "state_url": state_url, "reports_url": reports_url,
                 "mlflow_tracking_uri": mlflow_tracking_uri}
        previous = None
        for name in stage_names:
            task = (first_stage(stage=name, **store) if previous is None else
                    next_stage(stage=name, upstream_state=previous.outputs["state"], **store))
            task.set_display_name(name)
            task.set_caching_options(False)  # DVC decides what is up to date, from the data itself
            task.set_cpu_request("2").set_cpu_limit("2").set_memory_request("4G").set_memory_limit("8G")
            kubernetes.empty_dir_mount(task, volume_name="workspace", mount_path="/workspace", size_limit="20Gi")
            kubernetes.set_security_context(task, run_as_user=10001, run_as_group=10001, run_as_non_root=True)
            kubernetes.add_pod_label(task, "app.kubernetes.io/component", "pipeline")
            kubernetes.set_timeout(task, 7200)
            previous = task

    return churnops


def compile_pipeline(out: Path, dvc_yaml: Path = REPO / "dvc.yaml") -> Path:
    "Compile the pipeline of `dvc_yaml` to an IR YAML file that Kubeflow Pipelines runs."
    compiler.Compiler().compile(build_pipeline(stages(dvc_yaml), overlay_image()), package_path=str(out))
    return out


def submit(package: Path, host: str, namespace: str) -> str:
    "Start a run of a compiled pipeline in `namespace` as the pipeline's service account; the run id."
    from kfp import Client
    run = Client(host=host, namespace=namespace).create_run_from_pipeline_package(
        str(package), experiment_name="churnops", namespace=namespace, service_account=SERVICE_ACCOUNT)
    return run.run_id


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("churnops-pipeline.yaml"))
    parser.add_argument("--dvc-yaml", type=Path, default=REPO / "dvc.yaml")
    parser.add_argument("--submit", metavar="HOST", help="then start a run on this Kubeflow Pipelines endpoint")
    parser.add_argument("--namespace", help="the Kubeflow profile namespace of the run (churnops-dev, churnops-prod)")
    args = parser.parse_args()
    if args.submit and not args.namespace:
        parser.error("--submit needs --namespace (the profile whose churnops-pipeline account the run uses)")
    print(compile_pipeline(args.out, args.dvc_yaml))
    if args.submit:
        print(f"run {submit(args.out, args.submit, args.namespace)} as {SERVICE_ACCOUNT} in {args.namespace}")
