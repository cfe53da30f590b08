"""The Dockerfile (no Docker engine here: docker build runs in the image workflow): what it copies exists,
the runtime stage carries everything `dvc repro` hashes, runs as a non-root user and has a health check."""
import re

import yaml

from tests.conftest import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()


def runtime_stage() -> str:
    return DOCKERFILE.split(" AS runtime", 1)[1]


def copied(stage: str) -> list[str]:
    sources = []
    for line in stage.splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            sources += [s for s in line.split()[1:-1] if not s.startswith("--")]
    return sources


def test_everything_copied_exists_and_is_in_the_build_context():
    ignore = (REPO / ".dockerignore").read_text()
    for source in copied(DOCKERFILE):
        assert (REPO / source).exists(), source
        assert f"!{source.rstrip('/')}" in ignore or f"!{source}" in ignore, f"{source} is excluded by .dockerignore"


def test_runtime_image_holds_every_file_the_pipeline_stages_hash():
    runtime = copied(runtime_stage())
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    outputs = {next(iter(o)) if isinstance(o, dict) else o for s in stages.values()
               for kind in ("outs", "metrics", "plots") for o in s.get(kind, [])}
    for name, stage in stages.items():
        for dep in stage.get("deps", []):
            if dep in outputs or any(dep.startswith(o.rstrip("/") + "/") for o in outputs):
                continue  # produced by an earlier stage, pulled from the artifact store
            assert any(dep == c or dep.startswith(c) for c in runtime), f"{name}: {dep} is not in the image"
    for needed in ("dvc.yaml", "dvc.lock", "pipeline.yaml", "params.yaml", "env.yaml"):
        assert needed in runtime


def test_runtime_runs_as_a_non_root_user_with_a_health_check():
    runtime = runtime_stage()
    assert re.search(r"^USER 10001:10001$", runtime, re.MULTILINE)
    assert "HEALTHCHECK" in runtime and "/health" in runtime
    assert 'ENTRYPOINT ["churnops"]' in runtime
    assert "uv" not in runtime.split("COPY --from=build")[1].split("USER")[0].replace("uv.lock", "")  # no build tools
    assert all(line.split()[1] == "python:3.11.14-slim-bookworm" for line in DOCKERFILE.splitlines()
               if line.startswith("FROM "))
