"""The Dockerfile (no Docker engine here: docker build runs in the image workflow): what it copies exists,
the runtime stage carries everything `dvc repro` hashes, runs as a non-root user and has a health check."""
import re
from pathlib import Path

import yaml

from tests.conftest import REPO
from tests.deploy.conftest import (
    DOCKERFILE,
    copied,
    dockerfile_stage,
    image_project,
    in_build_context,
    runtime_stage,
)


def test_everything_copied_exists_and_is_in_the_build_context():
    for source in copied(DOCKERFILE.read_text()):
        path = REPO / source
        assert path.exists(), source
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        assert any(in_build_context(f.relative_to(REPO).as_posix()) for f in files), f"{source}: not in the context"


def test_runtime_image_holds_every_file_the_pipeline_stages_hash(tmp_path):
    project = image_project(tmp_path)  # what /opt/churnops/project holds
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    outputs = {next(iter(o)) if isinstance(o, dict) else o for s in stages.values()
               for kind in ("outs", "metrics", "plots") for o in s.get(kind, [])}
    for name, stage in stages.items():
        for dep in stage.get("deps", []):
            if dep in outputs or any(dep.startswith(o.rstrip("/") + "/") for o in outputs):
                continue  # produced by an earlier stage, pulled from the artifact store
            assert (project / dep).exists(), f"{name}: {dep} is not in the image"
    for needed in ("dvc.yaml", "dvc.lock", "pipeline.yaml", "params.yaml", ".dvc/config"):
        assert (project / needed).is_file(), needed
    assert (project / "env.yaml").is_symlink()  # Ploomber must read the params.yaml a retrain edits
    assert not list(project.rglob("__pycache__")) and not (project / "nbs_lib").exists()


def test_runtime_runs_as_a_non_root_user_with_a_health_check():
    runtime = runtime_stage()
    assert re.search(r"^USER 10001:10001$", runtime, re.MULTILINE)
    assert "HEALTHCHECK" in runtime and "/health" in runtime
    assert 'ENTRYPOINT ["churnops"]' in runtime
    assert "uv" not in runtime.split("COPY --from=build")[1].split("USER")[0].replace("uv.lock", "")  # no build tools
    bases = {line.split()[-1]: line.split()[1] for line in DOCKERFILE.read_text().splitlines() if line.startswith("FROM ")}
    assert bases == {"build": "python:3.11.14-slim-bookworm", "report-assets": "node:22.12.0-bookworm-slim",
                     "runtime": "python:3.11.14-slim-bookworm", "build-spark": "build", "spark": "runtime"}, \
        "every base pinned to a patch release; Python the same twice; the spark target extends the runtime"


def test_spark_target_runs_spark_on_kubernetes_as_the_same_user_with_the_s3a_connector_of_its_hadoop():
    """The `spark` target: the runtime plus Java, the spark extra and hadoop-aws of exactly the Hadoop version pyspark
    ships (a mismatch fails at the first s3a read), its entrypoint handling Spark's driver and executor pods."""
    import pyspark

    spark = dockerfile_stage("spark")
    assert re.search(r"^USER 10001:10001$", spark, re.MULTILINE)
    assert 'ENTRYPOINT ["/opt/churnops/entrypoint.sh"]' in spark and "uv sync" not in spark
    assert "--extra spark" in dockerfile_stage("build-spark")
    hadoop = {jar.name.removeprefix("hadoop-client-api-").removesuffix(".jar")
              for jar in (Path(pyspark.__file__).parent / "jars").glob("hadoop-client-api-*.jar")}
    assert hadoop == {re.search(r"^ARG HADOOP_VERSION=(\S+)$", spark, re.MULTILINE).group(1)}
    # every downloaded jar is checked against a sum pinned in the Dockerfile, never one fetched beside it
    pinned = re.findall(r'"([0-9a-f]{40}) (\S+\.jar)"', spark)
    assert {artifact.split("/")[-3] for _, artifact in pinned} == {"hadoop-aws", "bundle", "analyticsaccelerator-s3"}
    assert "sha1sum -c" in spark and ".sha1" not in spark and spark.count("curl -fsSL") == 1
    entrypoint = (REPO / "k8s" / "base" / "spark" / "entrypoint.sh").read_text()
    assert "KubernetesExecutorBackend" in entrypoint and "--deploy-mode client" in entrypoint
