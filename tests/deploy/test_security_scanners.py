"""checkov and trivy config over k8s/ (rendered overlays and Argo CD), terraform/, the Dockerfile and the
workflows: zero failed checks (checkov) and zero HIGH/CRITICAL misconfigurations (trivy); every exception
is in .checkov.yaml or .trivyignore.yaml with its reason. hadolint lints the Dockerfile."""
import json
import re
import shutil

import pytest

from tests.conftest import REPO
from tests.deploy.conftest import run, tool


def checkov(target, framework: str):
    flag = "-f" if target.is_file() else "-d"
    result = run(tool("checkov"), "--config-file", REPO / ".checkov.yaml", flag, target, "--framework", framework,
                 "-o", "json")
    reports = json.loads(result.stdout or "[]")
    reports = reports if isinstance(reports, list) else [reports]
    failed = [f"{c['check_id']} {c['resource']}: {c['check_name']}"
              for report in reports for c in report.get("results", {}).get("failed_checks", [])]
    return result, failed


def trivy(target):
    return run(tool("trivy"), "config", "--skip-check-update", "--quiet", "--exit-code", "1",
               "--severity", "HIGH,CRITICAL", "--ignorefile", REPO / ".trivyignore.yaml", target)


@pytest.fixture(scope="module")
def k8s_scan_dir(rendered, tmp_path_factory):
    folder = tmp_path_factory.mktemp("k8s-scan")
    for overlay, path in rendered.items():
        shutil.copy(path, folder / f"{overlay}.yaml")
    for path in (REPO / "k8s" / "argocd").glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    return folder


@pytest.mark.parametrize("target,framework", [("k8s", "kubernetes"), ("terraform", "terraform"),
                                              ("Dockerfile", "dockerfile"), (".github/workflows", "github_actions")])
def test_checkov_finds_no_failed_check(target, framework, k8s_scan_dir):
    path = k8s_scan_dir if target == "k8s" else REPO / target
    result, failed = checkov(path, framework)
    assert result.returncode == 0 and failed == [], "\n".join(failed) or result.output[-3000:]


@pytest.mark.parametrize("target", ["k8s", "terraform", "Dockerfile"])
def test_trivy_finds_no_high_or_critical_misconfiguration(target, k8s_scan_dir):
    result = trivy(k8s_scan_dir if target == "k8s" else REPO / target)
    assert result.returncode == 0, result.output[-3000:]


def test_hadolint_passes_the_dockerfile():
    result = run(tool("hadolint"), REPO / "Dockerfile")
    assert result.returncode == 0, result.output


def test_every_skip_has_a_reason():
    for line in (REPO / ".checkov.yaml").read_text().splitlines():
        if line.strip().startswith("- CKV"):
            assert "#" in line and len(line.split("#", 1)[1].strip()) > 20, line
    assert "statement:" in (REPO / ".trivyignore.yaml").read_text()


# Planted errors.

def test_planted_privileged_container_is_caught(k8s_scan_dir, tmp_path):
    bad = (k8s_scan_dir / "dev.yaml").read_text().replace("privileged: false", "privileged: true", 1)
    (tmp_path / "bad.yaml").write_text(bad)
    _, failed = checkov(tmp_path, "kubernetes")
    assert any(f.startswith("CKV_K8S_16 ") for f in failed), failed  # "Container should not be privileged"
    result = trivy(tmp_path)
    assert result.returncode == 1 and "KSV-0017" in result.output  # trivy: privileged container (HIGH)


def test_planted_public_bucket_is_caught(tmp_path):
    shutil.copytree(REPO / "terraform", tmp_path / "terraform", ignore=shutil.ignore_patterns(".terraform"))
    module = tmp_path / "terraform" / "modules" / "private-bucket" / "main.tf"
    module.write_text(module.read_text().replace("block_public_acls       = true", "block_public_acls       = false"))
    _, failed = checkov(tmp_path / "terraform", "terraform")
    assert any(f.startswith("CKV_AWS_53 ") for f in failed), failed  # "S3 bucket has block public ACLS enabled"
    result = trivy(tmp_path / "terraform")
    assert result.returncode == 1 and "AWS-0086" in result.output  # trivy: public ACLs not blocked (HIGH)


def test_planted_root_user_and_unpinned_packages_in_the_dockerfile_are_caught(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    text = re.sub(r"^USER .*\n", "", (REPO / "Dockerfile").read_text(), flags=re.MULTILINE)
    text = text.replace("RUN pip install --no-cache-dir uv==0.13.8",
                        "RUN apt-get update && apt-get install -y curl\nRUN pip install --no-cache-dir uv==0.13.8")
    dockerfile.write_text(text)
    result = run(tool("hadolint"), dockerfile)
    assert result.returncode != 0 and "DL3008" in result.output  # apt-get install without versions
    result = trivy(dockerfile)
    assert result.returncode == 1 and "DS-0002" in result.output  # trivy: image runs as root (HIGH)
    _, failed = checkov(dockerfile, "dockerfile")
    assert any(f.startswith("CKV_DOCKER_3 ") for f in failed), failed  # "a user for the container has been created"
