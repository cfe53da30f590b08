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

Features on Spark: a run with `features_on_spark=true` runs the features step as the overlay's SparkApplication
(k8s/base/spark/features.yaml, rendered from the overlay at compile time like the image): the step hands its state
to the application's driver, which runs the same `cluster-run features` on a Spark cluster, and waits for it
(`churnops cluster-run --spark-application`). Only that step mounts a Kubernetes API token (the churnops-pipeline
account's, k8s/base/spark/rbac.yaml: create, get and delete SparkApplications, nothing else).
"""

import argparse  # no `from __future__ import annotations`: kfp reads the annotations as types
import json
import subprocess
from pathlib import Path

import yaml
from kfp import compiler, dsl, kubernetes

REPO = Path(__file__).resolve().parents[2]
SERVICE_ACCOUNT = "churnops-pipeline"  # terraform/modules/region/iam.tf: the pipeline's IRSA role trusts this account
OVERLAY = REPO / "k8s/overlays/dev"  # what the compiled steps run: its image, its SparkApplication
SPARK_STAGE_LABEL = {"churnops.io/stage": "features-spark"}  # k8s/base/spark/features.yaml
SPARK_STEP_CREDENTIALS = "churnops-pipeline-token"  # the Secret of k8s/base/spark/rbac.yaml, mounted in the Spark step only
TOKEN_MOUNT = "/var/run/secrets/churnops/kubernetes"


def overlay_image(overlay: Path = OVERLAY) -> str:
    "The churnops image the overlay runs (the image workflow writes its tag): the steps run the same."
    image = next(i for i in yaml.safe_load((overlay / "kustomization.yaml").read_text())["images"] if i["name"] == "churnops")
    return f"{image['newName']}:{image['newTag']}"


def overlay_spark_application(overlay: Path = OVERLAY) -> dict:
    "The features SparkApplication as the overlay renders it (namespace, image, config map name)."
    rendered = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True)
    if rendered.returncode != 0:
        raise RuntimeError(f"`kubectl kustomize {overlay}` failed: {rendered.stderr.strip()}")
    found = [doc for doc in yaml.safe_load_all(rendered.stdout) if doc and doc.get("kind") == "SparkApplication"
             and doc["metadata"].get("labels", {}).items() >= SPARK_STAGE_LABEL.items()]
    if len(found) != 1:
        raise ValueError(f"{overlay} renders {len(found)} SparkApplications labelled {SPARK_STAGE_LABEL}, expected 1")
    return found[0]


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

    @dsl.container_component
    def spark_stage(stage: str, spark_application: str, dvc_remote: str, state_url: str, reports_url: str,
                    mlflow_tracking_uri: str, upstream_state: dsl.Input[dsl.Artifact], state: dsl.Output[dsl.Artifact]):
        "Run a stage as the driver of a SparkApplication made from `spark_application`, and wait for it."
        return dsl.ContainerSpec(image=image, command=["churnops"], args=[
            "cluster-run", stage, "--single-item",
            *_store_args(dvc_remote, state_url, reports_url, mlflow_tracking_uri),
            "--spark-application", spark_application, "--kube-credentials", TOKEN_MOUNT,
            "--state-in", upstream_state.path, "--state-out", state.path])

    return first_stage, next_stage, spark_stage


def _pod_settings(task, cpu: str, memory_request: str, memory_limit: str):
    "What every step's pod gets: resources, a workspace, the pipeline pods' label, non-root, a timeout."
    task.set_caching_options(False)  # DVC decides what is up to date, from the data itself
    task.set_cpu_request(cpu).set_cpu_limit(cpu).set_memory_request(memory_request).set_memory_limit(memory_limit)
    kubernetes.empty_dir_mount(task, volume_name="workspace", mount_path="/workspace", size_limit="20Gi")
    kubernetes.set_security_context(task, run_as_user=10001, run_as_group=10001, run_as_non_root=True)
    kubernetes.add_pod_label(task, "app.kubernetes.io/component", "pipeline")
    kubernetes.set_timeout(task, 7200)
    return task


def build_pipeline(stage_names: list[str], image: str, spark_application: dict):
    "The Kubeflow pipeline function for these stages, in order, each a step in `image`; the features step optionally on Spark."
    if len(set(stage_names)) != len(stage_names):
        raise ValueError(f"stage names repeat: {stage_names}")
    spark_stages = spark_application["spec"].get("arguments", [])[1:]
    if spark_application["spec"].get("arguments", [])[:1] != ["cluster-run"] or len(spark_stages) != 1 \
            or spark_stages[0] not in stage_names[1:]:
        raise ValueError(f"the SparkApplication must run `cluster-run STAGE` for one stage after the first of {stage_names}; "
                         f"its arguments are {spark_application['spec'].get('arguments')}")
    first_stage, next_stage, spark_stage = stage_components(image)

    @dsl.pipeline(name="churnops", description="Churn prediction: ingest, validate, features, materialize, train, evaluate, "
                                               "register, score, monitor, publish (one step per DVC stage)")
    def churnops(dvc_remote: str = "s3://churnops-dev-artifacts/dvc",
                 state_url: str = "s3://churnops-dev-artifacts/state",
                 reports_url: str = "s3://churnops-dev-reports/latest",
                 mlflow_tracking_uri: str = "http://churnops-mlflow.churnops-dev.svc.cluster.local:5000",
                 features_on_spark: bool = False):
        store = {"dvc_remote": dvc_remote, "state_url": state_url, "reports_url": reports_url,
                 "mlflow_tracking_uri": mlflow_tracking_uri}
        def in_pod(name, state):
            task = (first_stage(stage=name, **store) if state is None else
                    next_stage(stage=name, upstream_state=state, **store))
            return _pod_settings(task.set_display_name(name), "2", "4G", "8G")

        state = None  # the state the previous step left
        for name in stage_names:
            if name != spark_stages[0]:
                state = in_pod(name, state).outputs["state"]
                continue
            with dsl.If(features_on_spark == True, name="on Spark"):  # noqa: E712 (a pipeline expression, not Python's)
                on_spark = spark_stage(stage=name, spark_application=json.dumps(spark_application), upstream_state=state,
                                       **store).set_display_name(f"{name} (Spark)")
                _pod_settings(on_spark, "250m", "256M", "512M")  # it waits for the SparkApplication
                kubernetes.use_secret_as_volume(on_spark, secret_name=SPARK_STEP_CREDENTIALS, mount_path=TOKEN_MOUNT)
            with dsl.Else(name="in the pod"):
                here = in_pod(name, state)
            state = dsl.OneOf(on_spark.outputs["state"], here.outputs["state"])

    return churnops


def compile_pipeline(out: Path, dvc_yaml: Path = REPO / "dvc.yaml") -> Path:
    "Compile the pipeline of `dvc_yaml` to an IR YAML file that Kubeflow Pipelines runs."
    pipeline = build_pipeline(stages(dvc_yaml), overlay_image(), overlay_spark_application())
    compiler.Compiler().compile(pipeline, package_path=str(out))
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
