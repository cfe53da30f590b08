"""terraform/: formatted, initialised against the AWS provider mirror on the machine image, valid, and its
properties asserted by `terraform test` with mocked providers: each region's security
(modules/region/tests/security.tftest.hcl) and what spans the two regions (tests/regions.tftest.hcl)."""
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.deploy.conftest import run, tool

TERRAFORM = REPO / "terraform"
REGION_MODULE = Path("modules") / "region"  # the module instantiated per region, with tests of its own
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


def init(env: dict, root: Path, *args: str):
    "terraform init of the root module and of the region module (which `terraform test` runs on its own)."
    for directory in (root, root / REGION_MODULE):
        result = terraform(env, "init", "-backend=false", "-input=false", *args, cwd=directory)
        assert result.returncode == 0, result.output


@pytest.fixture(scope="module")
def initialised(terraform_env) -> dict:
    init(terraform_env, TERRAFORM, "-lockfile=readonly")
    return terraform_env


def copy_of_terraform(tmp_path: Path, env: dict) -> Path:
    target = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, target, ignore=shutil.ignore_patterns(".terraform"))
    init(env, target)
    return target


def test_formatted():
    result = run(tool("terraform"), "fmt", "-check", "-recursive", "-diff", TERRAFORM)
    assert result.returncode == 0, result.output


def test_valid(initialised):
    result = terraform(initialised, "validate")
    assert result.returncode == 0, result.output


@pytest.mark.parametrize("module,runs", [(Path("."), 13), (REGION_MODULE, 8)])
def test_terraform_tests_pass(initialised, module, runs):
    result = terraform(initialised, "test", cwd=TERRAFORM / module)
    assert result.returncode == 0, result.output
    assert f"Success! {runs} passed, 0 failed." in result.output


def test_moved_blocks_lead_into_the_primary_region():
    """The single-region configuration's resources moved into module.primary: each moved block names a resource
    the region module declares and that the root no longer does, so `terraform plan` on a live environment moves
    its state instead of destroying and re-creating it."""
    moves = re.findall(r"from = (\S+)\n\s+to   = module\.primary\.(\S+)", (TERRAFORM / "moved.tf").read_text())
    assert len(moves) >= 50

    def declared(directory: Path) -> set[str]:
        text = "".join(path.read_text() for path in directory.glob("*.tf"))
        return ({f"{kind}.{name}" for kind, name in re.findall(r'^resource "(\w+)" "(\w+)"', text, re.MULTILINE)}
                | {f"module.{name}" for name in re.findall(r'^module "(\w+)"', text, re.MULTILINE)})

    in_region, in_root = declared(TERRAFORM / REGION_MODULE), declared(TERRAFORM)
    for source, target in moves:
        assert source == target and target in in_region and source not in in_root, (source, target)


def test_every_environment_has_variables_and_a_state_backend():
    for environment in ("dev", "prod"):
        tfvars = (TERRAFORM / "environments" / f"{environment}.tfvars").read_text()
        assert re.search(rf'^environment\s*=\s*"{environment}"$', tfvars, re.MULTILINE)
        backend = (TERRAFORM / "backend" / f"{environment}.s3.tfbackend").read_text()
        assert "use_lockfile = true" in backend and "encrypt      = true" in backend


# Planted errors.

def test_planted_formatting_error_is_caught(tmp_path):
    shutil.copytree(TERRAFORM, tmp_path / "terraform", ignore=shutil.ignore_patterns(".terraform"))
    path = tmp_path / "terraform" / REGION_MODULE / "ecr.tf"
    path.write_text(path.read_text().replace('image_tag_mutability = "IMMUTABLE"', 'image_tag_mutability="IMMUTABLE"'))
    result = run(tool("terraform"), "fmt", "-check", "-recursive", tmp_path / "terraform")
    assert result.returncode != 0 and "ecr.tf" in result.output


def test_planted_broken_reference_is_caught(tmp_path, initialised):
    target = copy_of_terraform(tmp_path, initialised)
    path = target / "github.tf"
    path.write_text(path.read_text().replace("aws_iam_openid_connect_provider.github.arn",
                                             "aws_iam_openid_connect_provider.gh.arn"))
    result = terraform(initialised, "validate", cwd=target)
    assert result.returncode != 0 and "Reference to undeclared resource" in result.output


def test_planted_unencrypted_bucket_and_wildcard_policy_are_caught(tmp_path, initialised):
    target = copy_of_terraform(tmp_path, initialised)
    module = target / "modules" / "private-bucket" / "main.tf"
    module.write_text(module.read_text().replace('sse_algorithm     = "aws:kms"', 'sse_algorithm     = "AES256"'))
    iam = target / REGION_MODULE / "iam.tf"
    iam.write_text(iam.read_text().replace('Action   = ["s3:PutObject", "s3:AbortMultipartUpload"]', 'Action   = "s3:*"'))
    result = terraform(initialised, "test", cwd=target / REGION_MODULE)
    assert result.returncode != 0
    output = " ".join(result.output.split())  # terraform wraps long messages
    assert "every data bucket must be encrypted with SSE-KMS under the multi-region data key" in output
    assert "an IRSA policy grants a wildcard action" in output


def test_planted_replication_and_failover_faults_are_caught(tmp_path, initialised):
    target = copy_of_terraform(tmp_path, initialised)
    replication = target / "modules" / "bucket-replication" / "main.tf"
    text = replication.read_text()
    replication.write_text(text.replace("delete_marker_replication {\n      status = \"Enabled\"",
                                        "delete_marker_replication {\n      status = \"Disabled\"", 1))
    failover = target / "failover.tf"
    failover.write_text(failover.read_text().replace('resource_path     = "/ready"', 'resource_path     = "/health"'))
    region = target / REGION_MODULE / "endpoints.tf"
    region.write_text(region.read_text().replace("com.amazonaws.${var.region}.", "com.amazonaws.eu-west-1."))
    result = terraform(initialised, "test", cwd=target)
    assert result.returncode != 0
    output = " ".join(result.output.split())
    assert "replication carries delete markers" in output
    assert "each region's health check asks its own host for /ready" in output
    assert "a .tf file names a region or an account" in output
