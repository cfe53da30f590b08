"""The code-scanning gate of `make test` (`make scan`: semgrep with the rules in scan-tools/semgrep-rules, bandit,
detect-secrets) run on planted code: each weakness is caught by the tool meant for it, the gate fails and names it,
and the safe way of writing the same thing passes. The repository itself passing is `make scan` in `make test`.

Planted secrets are assembled from pieces here, so that this file holds none (detect-secrets scans it too)."""
import json
import os
import subprocess
import textwrap

import pytest
import yaml

from tests.conftest import REPO

SCAN = REPO / ".tools" / "scan" / "bin"
AWS_KEY_ID = "AKIA" + "Q3EGRSTUVWXYZ2AB"
API_KEY = "sk-live-" + "8f3b2c1d9e7a6b5c4d3e"  # pragma: allowlist secret (planted, fake)

SQL_ROUTE = '''
import duckdb
from fastapi import FastAPI

app = FastAPI()
con = duckdb.connect()

@app.get("/customers/{customer_id}")
def customer(customer_id: str):
    return con.execute(f"SELECT * FROM customers WHERE customer_id = '{customer_id}'").fetchall()
'''
SAFE = '''
import hmac
import os
import subprocess

import duckdb
import yaml

con = duckdb.connect()
API_KEY = os.environ["CHURNOPS_API_KEY"]

def _sql_literal(value):
    return "'" + str(value).replace("'", "''") + "'"

def customer(customer_id: str):
    return con.execute("SELECT * FROM customers WHERE customer_id = ?", [customer_id]).fetchall()

def customers_on(day):
    return con.execute(f"SELECT * FROM customers WHERE signup_date = DATE {_sql_literal(day)}").fetchall()

def allowed(presented: str) -> bool:
    return hmac.compare_digest(presented.encode(), API_KEY.encode())

def params(path):
    with open(path) as file:
        return yaml.safe_load(file)

def archive(folder: str):
    subprocess.run(["tar", "-czf", "out.tgz", folder], check=True)
'''


def plant(folder, files: dict[str, str]):
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


def make_scan(folder):
    "The gate exactly as `make test` runs it, pointed at `folder` instead of the repository."
    files = " ".join(str(p) for p in sorted(folder.iterdir()))
    return subprocess.run(["make", "--no-print-directory", "scan", f"SCANNED_CODE={folder}", f"SECRETS_SCANNED={files}"],
                          cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "SEMGREP_SEND_METRICS": "off"})


@pytest.mark.parametrize("case,files,caught_by", [
    ("sql injection in an API route", {"api.py": SQL_ROUTE}, "sql-built-from-strings"),
    ("hard-coded API key", {"client.py": f'API_KEY = "{API_KEY}"\n'}, "hard-coded-secret"),
    ("shell command line from a value", {"jobs.py": 'import subprocess\n\ndef archive(folder):\n'
                                                    '    subprocess.run(f"tar -czf out.tgz {folder}", shell=True)\n'},
     "shell-command-from-strings"),
    ("HTML template without escaping", {"report.py": 'import jinja2\n\nENV = jinja2.Environment(autoescape=False)\n'},
     "B701"),
    ("cloud key in a config file", {"settings.yaml": f"aws_access_key_id: {AWS_KEY_ID}\n"}, "AWS Access Key"),
])
def test_the_gate_fails_on_a_planted_weakness_and_names_it(tmp_path, case, files, caught_by):
    result = make_scan(plant(tmp_path / "planted", files))
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"{case}: the gate passed\n{output[-3000:]}"
    assert caught_by in output, f"{case}: not reported as {caught_by}\n{output[-3000:]}"


def test_the_gate_passes_the_safe_way_of_writing_the_same(tmp_path):
    result = make_scan(plant(tmp_path / "safe", {"safe.py": SAFE, "settings.yaml": "aws_region: eu-west-1\n"}))
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


# One case per vendored rule (the rule's id is the file's name) and one twin written the safe way, in one run.
PLANTED_PER_RULE = {
    "sql-built-from-strings": 'def f(con, name):\n    query = "SELECT * FROM t WHERE name = \'%s\'" % name\n'
                              '    return con.execute(query)\n',
    "hard-coded-secret": f'import httpx\n\nhttpx.get("https://example.org", headers={{"token": "{API_KEY}"}}, timeout=5)\n'
                         f'client = dict(password="{API_KEY}")\n',
    "shell-command-from-strings": 'import os\n\ndef f(name):\n    os.system("rm -rf " + name)\n',
    "unsafe-yaml-load": 'import yaml\n\ndef f(text):\n    return yaml.load(text, Loader=yaml.Loader)\n',
    "unsafe-deserialization": 'import pickle\n\ndef f(blob):\n    return pickle.loads(blob)\n',
    "eval-of-a-value": 'def f(expression):\n    return eval(expression)\n',
    "tls-verification-disabled": 'import httpx\n\nhttpx.get("https://example.org", verify=False, timeout=5)\n',
    "insecure-temporary-file": 'import tempfile\n\nNAME = tempfile.mktemp()\n',
    "cors-any-origin-with-credentials": 'from fastapi import FastAPI\nfrom fastapi.middleware.cors import CORSMiddleware\n\n'
                                        'app = FastAPI()\napp.add_middleware(CORSMiddleware, allow_origins=["*"], '
                                        'allow_credentials=True)\n',
    "secret-compared-in-variable-time": 'def allowed(presented, api_key):\n    return api_key == presented\n',
    "http-request-without-timeout": 'import requests\n\nrequests.get("https://example.org")\n',
    "weak-hash-for-security": 'import hashlib\n\ndef f(password):\n    return hashlib.md5(password.encode()).hexdigest()\n',
}
SAFE_TWINS = 'import hashlib\nimport requests\n\nrequests.get("https://example.org", timeout=5)\n' \
             'BUCKET = hashlib.md5(b"customer-1", usedforsecurity=False).hexdigest()\nPASSWORD = None\n' \
             'def same(password):\n    return password == None\n' \
             'def well_formed(digest, token_file):\n    return len(digest) == 64 and str(token_file) != "-"\n'


def test_every_vendored_rule_catches_its_planted_case_and_only_that(tmp_path):
    folder = plant(tmp_path / "per-rule", {**{f"{rule}.py": text for rule, text in PLANTED_PER_RULE.items()},
                                           "safe_twins.py": SAFE_TWINS, "safe.py": SAFE})
    out = tmp_path / "semgrep.json"
    subprocess.run([SCAN / "semgrep", "scan", "--metrics", "off", "--disable-version-check", "--quiet",
                    "--config", REPO / "scan-tools" / "semgrep-rules", "--json-output", out, folder],
                   check=True, capture_output=True, timeout=600, env={**os.environ, "SEMGREP_SEND_METRICS": "off"})
    report = json.loads(out.read_text())
    assert report["errors"] == []
    found: dict[str, set[str]] = {}
    for result in report["results"]:
        found.setdefault(os.path.basename(result["path"])[:-3], set()).add(result["check_id"].rsplit(".", 1)[-1])
    rules = {rule["id"] for rule in yaml.safe_load(
        (REPO / "scan-tools" / "semgrep-rules" / "python-security.yaml").read_text())["rules"]}
    assert set(PLANTED_PER_RULE) == rules, "every vendored rule has a planted case here"
    assert found == {rule: {rule} for rule in PLANTED_PER_RULE}, found
