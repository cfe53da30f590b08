"""GitHub Actions: actionlint and zizmor (offline) pass; every action is pinned to a commit; permissions are
least-privilege; the GitOps step really rewrites the dev overlay's image tag."""
import re
import shutil
import subprocess

import yaml

from tests.conftest import REPO
from tests.deploy.conftest import render, run, tool

WORKFLOWS = REPO / ".github" / "workflows"


def lint(folder):
    files = sorted(folder.glob("*.yml"))
    return run(tool("actionlint"), *files), run(tool("zizmor"), "--offline", *files)


def test_workflows_pass_actionlint_and_zizmor():
    actionlint, zizmor = lint(WORKFLOWS)
    assert actionlint.returncode == 0, actionlint.output
    assert zizmor.returncode == 0, zizmor.output


def test_actions_are_pinned_and_permissions_least_privilege():
    for path in WORKFLOWS.glob("*.yml"):
        workflow = yaml.safe_load(path.read_text())
        assert workflow["permissions"] == {"contents": "read"}, path.name  # jobs widen it where they must
        for job in workflow["jobs"].values():
            for step in job.get("steps", []):  # a job that calls a workflow has none
                if "uses" in step:
                    assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
    image = yaml.safe_load((WORKFLOWS / "image.yml").read_text())["jobs"]
    assert image["build-scan-push"]["permissions"] == {"contents": "read", "id-token": "write"}
    assert image["gitops-bump"]["permissions"] == {"contents": "write", "pull-requests": "write"}


def test_the_image_is_built_only_after_ci_passed_and_deploys_through_a_pull_request():
    image = yaml.safe_load((WORKFLOWS / "image.yml").read_text())
    assert list(image[True]) == ["workflow_call"], "no trigger of its own: only the ci workflow calls it"
    caller = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())["jobs"]["image"]
    assert caller["uses"] == "$/.github/workflows/image.yml" and set(caller["needs"]) == {"test", "pipeline-smoke"}
    assert caller["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    bump = "\n".join(step.get("run", "") for step in image["jobs"]["gitops-bump"]["steps"])
    assert "gh pr create --base main" in bump and "HEAD:main" not in bump
    build = "\n".join(step.get("run", "") for step in image["jobs"]["build-scan-push"]["steps"])
    assert 'cosign sign --yes "$ECR_REGISTRY/churnops@${DIGEST}"' in build and "cosign attest" in build


def test_gitops_step_points_the_dev_overlay_at_the_new_image(tmp_path):
    step = next(s for s in yaml.safe_load((WORKFLOWS / "image.yml").read_text())["jobs"]["gitops-bump"]["steps"]
                if s.get("name") == "Point the dev overlay at the new image")
    shutil.copytree(REPO / "k8s", tmp_path / "k8s", ignore=shutil.ignore_patterns("node_modules"))
    tag = "0123456789abcdef0123456789abcdef01234567"  # pragma: allowlist secret
    subprocess.run(["bash", "-euo", "pipefail", "-c", step["run"]], cwd=tmp_path, env={"TAG": tag, "PATH": "/usr/bin:/bin"},
                   check=True)
    rendered = render(tmp_path / "k8s" / "overlays" / "dev")
    assert f"dkr.ecr.eu-west-1.amazonaws.com/churnops:{tag}\n" in rendered
    assert f"dkr.ecr.eu-west-1.amazonaws.com/churnops:{tag}-spark\n" in rendered  # the SparkApplication's image
    assert "churnops:0.1.0" not in rendered
    assert "churnops:0.1.0" in render(tmp_path / "k8s" / "overlays" / "prod")  # prod moves by reviewed change only


def test_planted_unpinned_action_and_bad_expression_are_caught(tmp_path):
    folder = tmp_path / "workflows"
    shutil.copytree(WORKFLOWS, folder)
    ci = folder / "ci.yml"
    ci.write_text(ci.read_text().replace("actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683", "actions/checkout@v4", 1)
                  .replace("group: ci-${{ github.ref }}", "group: ci-${{ github.reff }}"))
    actionlint, zizmor = lint(folder)
    assert actionlint.returncode != 0 and 'property "reff" is not defined' in actionlint.output
    assert zizmor.returncode != 0 and "unpinned-uses" in zizmor.output
