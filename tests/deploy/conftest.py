"""Offline validation of the deployment artefacts: the validators are real programs (`make infra-tools`
installs the Python ones into .tools/infra from infra-tools/uv.lock, and the CRD validator from
k8s/crd-validation/package-lock.json; kubectl, terraform and promtool come from the machine)."""
import fnmatch
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

INFRA_BIN = REPO / ".tools" / "infra" / "bin"
OVERLAYS = ["dev", "prod", "prod-us-east-1"]  # prod-us-east-1: production's standby region


def tool(name: str) -> str:
    "Path of a validator; a missing one fails the test with what installs it (nothing is skipped silently)."
    path = INFRA_BIN / name if (INFRA_BIN / name).exists() else shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `make infra-tools` (promtool: apt-get install prometheus)")
    return str(path)


def run(*command: str | Path, cwd: Path = REPO, env: dict | None = None) -> subprocess.CompletedProcess:
    "Run a validator; the result carries the exit code and the combined output."
    result = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True)
    result.output = result.stdout + result.stderr
    return result


def render(overlay: Path) -> str:
    result = run(tool("kubectl"), "kustomize", overlay)
    assert result.returncode == 0, result.output
    return result.stdout


@pytest.fixture(scope="session")
def rendered(tmp_path_factory) -> dict[str, Path]:
    "Each overlay rendered by `kubectl kustomize` into its own file (what Argo CD applies)."
    out = tmp_path_factory.mktemp("rendered")
    files = {}
    for overlay in OVERLAYS:
        files[overlay] = out / f"{overlay}.yaml"
        files[overlay].write_text(render(REPO / "k8s" / "overlays" / overlay))
    return files


@pytest.fixture()
def k8s_copy(tmp_path) -> Path:
    "A copy of k8s/ to plant errors in."
    shutil.copytree(REPO / "k8s", tmp_path / "k8s", ignore=shutil.ignore_patterns("node_modules"))
    return tmp_path / "k8s"


DOCKERFILE = REPO / "Dockerfile"


def dockerfile_stage(name: str) -> str:
    "One stage of the Dockerfile, from its FROM line to the next."
    return DOCKERFILE.read_text().split(f" AS {name}\n", 1)[1].split("\nFROM ", 1)[0]


def runtime_stage() -> str:
    "The Dockerfile's stage that the API and the pipeline pods run."
    return dockerfile_stage("runtime")


def copied(stage: str) -> list[str]:
    "The build-context paths a stage COPYs (not those copied from another stage)."
    sources = []
    for line in stage.splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            sources += [s for s in line.split()[1:-1] if not s.startswith("--")]
    return sources


def in_build_context(relative: str) -> bool:
    "Whether .dockerignore (`*` then `!` exceptions, then exclusions) lets a file into the build context."
    included = False
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate, pattern = line.startswith("!"), line.lstrip("!")
        if pattern.endswith("/"):
            hit = relative.startswith(pattern)
        elif pattern.startswith("**/"):
            hit = any(fnmatch.fnmatch(part, pattern[3:]) for part in relative.split("/"))
        else:
            hit = fnmatch.fnmatch(relative, pattern)
        if hit:
            included = negate
    return included


def image_project(target: Path) -> Path:
    "The project folder of the runtime image (/opt/churnops/project), built from the Dockerfile's COPY lines."
    for source in copied(runtime_stage()):
        path = REPO / source
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            relative = file.relative_to(REPO).as_posix()
            if in_build_context(relative):
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(file, target / relative)
    if "RUN ln -s params.yaml env.yaml" in runtime_stage():
        (target / "env.yaml").symlink_to("params.yaml")
    # the report-assets stage runs what `make setup` runs (npm ci from the same lock, node vendor.mjs): its dist/ here
    if "COPY --from=report-assets --chown=root:root /src/report-assets/dist report-assets/dist" in runtime_stage():
        shutil.copytree(REPO / "report-assets" / "dist", target / "report-assets" / "dist")
    return target
