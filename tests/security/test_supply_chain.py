"""The SBOMs: `make sbom` describes the environment that runs (every installed distribution, at the version uv.lock
pins, with its package URL, and nothing else); `make image-sbom` what the image installs (no dev packages)."""
import json
import subprocess
import tomllib

from packaging.utils import canonicalize_name

from tests.conftest import REPO


def test_the_sbom_lists_every_installed_package_at_its_locked_version(tmp_path):
    sbom_path = tmp_path / "sbom.cdx.json"
    subprocess.run(["make", "--no-print-directory", "sbom", f"SBOM={sbom_path}"], cwd=REPO, check=True,
                   capture_output=True, timeout=600)
    sbom = json.loads(sbom_path.read_text())
    assert sbom["bomFormat"] == "CycloneDX" and sbom["specVersion"] == "1.6"
    assert sbom["metadata"]["component"]["name"] == "churnops"
    listed = {canonicalize_name(c["name"]): c for c in sbom["components"]}
    installed = json.loads(subprocess.run(
        [REPO / ".venv" / "bin" / "python", "-c", "import importlib.metadata as m, json; print(json.dumps("
         "{d.metadata['Name']: d.version for d in m.distributions() if d.metadata['Name'] != 'churnops'}))"],
        check=True, capture_output=True, text=True).stdout)
    installed = {canonicalize_name(name): version for name, version in installed.items()}
    locked = {canonicalize_name(p["name"]): p.get("version") for p in tomllib.loads((REPO / "uv.lock").read_text())["package"]}
    assert set(listed) == set(installed), (set(listed) ^ set(installed))
    for name, component in listed.items():
        assert component["version"] == installed[name] == locked.get(name), (name, component["version"], locked.get(name))
        purl_name, _, purl_version = component["purl"].removeprefix("pkg:pypi/").partition("@")
        assert (canonicalize_name(purl_name), purl_version) == (name, installed[name]), component["purl"]


def test_the_image_sbom_lists_the_runtime_packages_at_their_locked_versions(tmp_path):
    sbom_path = tmp_path / "image.cdx.json"
    subprocess.run(["make", "--no-print-directory", "image-sbom", f"SBOM={sbom_path}"], cwd=REPO, check=True,
                   capture_output=True, timeout=600)
    components = {canonicalize_name(c["name"]): c["version"] for c in json.loads(sbom_path.read_text())["components"]}
    locked = {canonicalize_name(p["name"]): p.get("version") for p in tomllib.loads((REPO / "uv.lock").read_text())["package"]}
    assert {name: version for name, version in components.items() if locked.get(name) != version} == {}
    assert {"fastapi", "scikit-learn", "mlflow", "feast"} <= set(components)
    assert not {"pytest", "ruff", "playwright"} & set(components), "the dev group is not in the image"
