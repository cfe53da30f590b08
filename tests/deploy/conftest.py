"""Offline validation of the deployment artefacts: the validators are real programs (`make infra-tools`
installs the Python ones into .tools/infra from infra-tools/uv.lock, and the CRD validator from
k8s/crd-validation/package-lock.json; kubectl, terraform and promtool come from the machine)."""
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

INFRA_BIN = REPO / ".tools" / "infra" / "bin"
OVERLAYS = ["dev", "prod"]


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
