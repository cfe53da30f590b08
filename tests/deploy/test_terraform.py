"""terraform/: formatted, initialised against the AWS provider mirror on the machine image, valid, and its
security properties asserted by `terraform test` with a mocked provider (tests/security.tftest.hcl)."""
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.deploy.conftest import run, tool

TERRAFORM = REPO / "terraform"
MIRROR_ROOTS = ["/opt/tf-plugins", "/usr/share/terraform/plugins", "/usr/local/share/terraform/plugins",
                str(Path.home() / ".terraform.d" / "plugins")]


def provider_mirror() -> Path | None:
    "A filesystem mirror holding hashicorp/aws: $CHURNOPS_TF_PROVIDER_MIRROR or a usual place."
    candidates = [os.environ.get("CHURNOPS_TF_PROVIDER_MIRROR"), *MIRROR_ROOTS]
    for root in filter(None, candidates):
        if list(Path(root).glob("registry.terraform.io/hashicorp/aws/*/*/terraform-provider-aws*")):
            return Path(root)
    return None


@pytest.fixture(scope="module")
def terraform_env(tmp_path_factory) -> dict:
    mirror = provider_mirror()
    if mirror is None:
        pytest.skip("no filesystem mirror of the hashicorp/aws provider (looked in $CHURNOPS_TF_PROVIDER_MIRROR and "
                    f"{', '.join(MIRROR_ROOTS)}): terraform init, validate and test need one offline")
    config = tmp_path_factory.mktemp("terraform") / "terraformrc"
    config.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n'
                      f'    include = ["registry.terraform.io/hashicorp/aws"]\n  }}\n}}\n')
    return {**os.environ, "TF_CLI_CONFIG_FILE": str(config), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}


def terraform(env: dict, *args: str, cwd: Path = TERRAFORM):
    return run(tool("terraform"), *args, "-no-color", cwd=cwd, env=env)


@pytest.fixture(scope="module")
def initialised(terraform_env) -> dict:
    result = terraform(terraform_env, "init", "-backend=false", "-input=false", "-lockfile=readonly")
    assert result.returncode == 0, result.output
    return terraform_env


def copy_of_terraform(tmp_path: Path, env: dict) -> Path:
    target = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, target, ignore=shutil.ignore_patterns(".terraform"))
    assert terraform(env, "init", "-backend=false", "-input=false", cwd=target).returncode == 0
    return target


def test_formatted():
    result = run(tool("terraform"), "fmt", "-check", "-recursive", "-diff", TERRAFORM)
    assert result.returncode == 0, result.output


def test_valid(initialised):
    result = terraform(initialised, "validate")
    assert result.returncode == 0, result.output


def test_security_properties_hold(initialised):
    result = terraform(initialised, "test")
    assert result.returncode == 0, result.output
    assert "Success! 9 passed, 0 failed." in result.output


def test_every_environment_has_variables_and_a_state_backend():
    for environment in ("dev", "prod"):
        tfvars = (TERRAFORM / "environments" / f"{environment}.tfvars").read_text()
        assert re.search(rf'^environment\s*=\s*"{environment}"$', tfvars, re.MULTILINE)
        backend = (TERRAFORM / "backend" / f"{environment}.s3.tfbackend").read_text()
        assert "use_lockfile = true" in backend and "encrypt      = true" in backend


# Planted errors.

def test_planted_formatting_error_is_caught(tmp_path):
    shutil.copytree(TERRAFORM, tmp_path / "terraform", ignore=shutil.ignore_patterns(".terraform"))
    path = tmp_path / "terraform" / "ecr.tf"
    path.write_text(path.read_text().replace('image_tag_mutability = "IMMUTABLE"', 'image_tag_mutability="IMMUTABLE"'))
    result = run(tool("terraform"), "fmt", "-check", "-recursive", tmp_path / "terraform")
    assert result.returncode != 0 and "ecr.tf" in result.output


def test_planted_broken_reference_is_caught(tmp_path, initialised):
    target = copy_of_terraform(tmp_path, initialised)
    path = target / "iam.tf"
    path.write_text(path.read_text().replace("aws_ecr_repository.churnops.arn", "aws_ecr_repository.churn.arn"))
    result = terraform(initialised, "validate", cwd=target)
    assert result.returncode != 0 and "Reference to undeclared resource" in result.output


def test_planted_unencrypted_bucket_and_wildcard_policy_are_caught(tmp_path, initialised):
    target = copy_of_terraform(tmp_path, initialised)
    module = target / "modules" / "private-bucket" / "main.tf"
    module.write_text(module.read_text().replace('sse_algorithm     = "aws:kms"', 'sse_algorithm     = "AES256"'))
    iam = target / "iam.tf"
    iam.write_text(iam.read_text().replace('Action   = ["s3:PutObject", "s3:AbortMultipartUpload"]', 'Action   = "s3:*"'))
    result = terraform(initialised, "test", cwd=target)
    assert result.returncode != 0
    assert "every data bucket must be encrypted with SSE-KMS under the environment key" in result.output
    assert "an IRSA policy grants a wildcard action" in result.output
