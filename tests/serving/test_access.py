"""Who may call the prediction API, through a real `churnops serve`: keys made by `churnops api-key create`,
401 vs 403, per-client rate limits (429 + Retry-After), the body limit (413 before the body is read), the counters
on /metrics (a port of its own, which clients never need), and the secure default (a local key made once, or a refusal to start)."""
import os
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from churnops.pipeline import override_params
from tests.serving.test_api import serve, trained  # noqa: F401 (fixtures)

CHURNOPS = str(Path(sys.executable).parent / "churnops")


def create_key(keys_file, name, *options):
    out = subprocess.run([CHURNOPS, "api-key", "create", "--name", name, "--file", str(keys_file), *options],
                         capture_output=True, text=True, check=True).stdout
    return re.search(r"^(co_\S+)$", out, re.M).group(1)


def error_count(server, kind):
    found = re.search(rf'^churnops_errors_total{{kind="{kind}"}} ([\d.]+)$', httpx.get(server.metrics_url).text, re.M)
    return float(found.group(1)) if found else 0.0


def test_keys_scopes_rate_limits_and_the_body_limit(serve, trained, tmp_path):  # noqa: F811
    keys_file = tmp_path / "secrets" / "api-keys.yaml"
    crm = create_key(keys_file, "crm")
    ops = create_key(keys_file, "ops", "--scopes", "predict,admin")
    burst = create_key(keys_file, "burst", "--requests-per-minute", "3")
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600 and crm not in keys_file.read_text()
    root, rows = trained
    server = serve(root / "1", api_keys_file=str(keys_file), allow_anonymous=False, max_body_bytes=50_000)
    predict = lambda key=None: httpx.post(server.url + "/predict", json=rows[0], timeout=10,
                                          headers={"authorization": f"Bearer {key}"} if key else {})

    anonymous, wrong = predict(), predict(crm[:-2] + "xx")
    assert anonymous.status_code == wrong.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="churnops"' and "churn_probability" not in anonymous.text
    assert wrong.json()["detail"] == "wrong API key"
    answered = predict(crm)
    assert answered.status_code == 200 and 0 <= answered.json()["churn_probability"] <= 1
    assert httpx.post(server.url + "/predict", json=rows[0], headers={"x-api-key": crm}).status_code == 200
    forbidden = httpx.post(server.url + "/admin/reload", headers={"authorization": f"Bearer {crm}"}, timeout=60)
    assert forbidden.status_code == 403 and "'admin' scope" in forbidden.json()["detail"]
    reloaded = httpx.post(server.url + "/admin/reload", headers={"authorization": f"Bearer {ops}"}, timeout=60)
    assert reloaded.status_code == 200 and reloaded.json()["reloaded"] is True
    unauthenticated = error_count(server, "unauthenticated")
    for headers in ({}, {"authorization": f"Bearer {ops[:-2]}xx"}, {"x-api-key": "co_nobody"}):  # issue 38.8
        refused = httpx.post(server.url + "/admin/reload", headers=headers, timeout=60)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == 'Bearer realm="churnops"', refused.text
    assert error_count(server, "unauthenticated") >= unauthenticated + 3, "admin refusals are counted"

    assert [predict(burst).status_code for _ in range(3)] == [200, 200, 200]
    limited = predict(burst)
    assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 20, limited.headers
    assert predict(crm).status_code == 200, "one client's limit does not hold back another"

    batch = {"rows": rows[:100]}
    declared = httpx.post(server.url + "/predict/batch", json=batch, headers={"x-api-key": crm})
    assert declared.status_code == 413 and "serve.max_body_bytes" in declared.json()["detail"]
    body = httpx.Request("POST", "/", json=batch).content
    chunked = httpx.post(server.url + "/predict/batch", headers={"x-api-key": crm, "content-type": "application/json"},
                         content=(body[i:i + 4096] for i in range(0, len(body), 4096)))  # no Content-Length
    assert chunked.status_code == 413
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:  # 1 GB announced, none sent
        raw.sendall(f"POST /predict/batch HTTP/1.1\r\nHost: x\r\nX-API-Key: {crm}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {10**9}\r\n\r\n".encode())
        assert raw.recv(200).startswith(b"HTTP/1.1 413"), "answered before the body was read"
    assert predict(crm).status_code == 200, "still serving"

    counts = {kind: error_count(server, kind) for kind in ("unauthenticated", "forbidden", "rate_limited", "body_too_large")}
    assert counts == {"unauthenticated": 5, "forbidden": 1, "rate_limited": 1, "body_too_large": 3}, counts


def test_serve_makes_one_local_key_or_refuses_to_start(serve, trained, repo, tmp_path):  # noqa: F811
    root, rows = trained
    project = tmp_path / "project"
    project.mkdir()
    first = serve(root / "1", cwd=project, api_keys_file=".churnops/api-keys.yaml", allow_anonymous=False)
    _, err = first.stop()
    key = re.search(r"^\s+(co_\S+)$", err, re.M).group(1)
    keys_file = project / ".churnops" / "api-keys.yaml"
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600 and key not in keys_file.read_text()
    again = serve(root / "1", cwd=project, api_keys_file=".churnops/api-keys.yaml", allow_anonymous=False)
    assert httpx.post(again.url + "/predict", json=rows[0]).status_code == 401
    assert httpx.post(again.url + "/predict", json=rows[0], headers={"x-api-key": key}).status_code == 200
    _, err = again.stop()
    assert "co_" not in err, "the key is shown once, when it is made"

    params = tmp_path / "params.yaml"
    params.write_text((repo / "params.yaml").read_text())
    override_params(params, {"serve.api_keys_file": None, "serve.allow_anonymous": False})
    for env, message in [({}, "no API keys configured"),
                         ({"CHURNOPS_API_KEYS_FILE": str(tmp_path / "mounted" / "missing.yaml")}, "does not exist")]:
        refused = subprocess.run([CHURNOPS, "serve", "--port", "1", "--model-source", str(root / "1"), "--params", str(params)],
                                 capture_output=True, text=True, timeout=120, env={**os.environ, **env})
        assert refused.returncode != 0 and message in refused.stderr, refused.stderr[-2000:]
    assert not (tmp_path / "mounted").exists(), "a keys file named by the environment is never made up"


@pytest.mark.parametrize("docs", [True, False, "local"])
def test_docs_and_the_schema_are_configurable(serve, trained, docs):  # noqa: F811
    "`local` (the default) shows them on a loopback address, as here; ServeConfig.listening_on hides them elsewhere."
    server = serve(trained[0] / "1", docs=docs)
    assert httpx.get(server.url + "/openapi.json").status_code == (404 if docs is False else 200)
    assert httpx.get(server.url + "/docs").status_code == (404 if docs is False else 200)


def test_metrics_are_served_on_their_own_port_only(serve, trained, repo, tmp_path):  # noqa: F811
    server = serve(trained[0] / "1", api_key="co_tests-admin-key")  # pragma: allowlist secret
    assert httpx.post(server.url + "/predict", json=trained[1][0], headers=server.headers).status_code == 200
    assert httpx.get(server.url + "/metrics", headers=server.headers).status_code == 404, "not on the API port"
    scraped = httpx.get(server.metrics_url)
    assert scraped.status_code == 200 and 'route="/predict",status="200"} 1.0' in scraped.text
    assert httpx.post(server.metrics_url.replace("/metrics", "/predict"), json=trained[1][0]).status_code >= 400
    with socket.socket() as taken:  # a port someone else holds: a clear refusal naming it, before the API starts
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = subprocess.run([CHURNOPS, "serve", "--port", "1", "--metrics-port", str(port), "--model-source",
                                  str(trained[0] / "1"), "--params", str(repo / "params.yaml")],
                                 capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert refused.returncode == 2 and f"cannot serve /metrics on 127.0.0.1:{port}" in refused.stderr, refused.stderr[-2000:]


def test_forwarded_addresses_count_only_from_configured_proxies(serve, trained):  # noqa: F811
    "Anonymous rate limits are per client address: X-Forwarded-For from an unconfigured address cannot rotate it (issue 38.9)."
    root, rows = trained
    limit = {"api_keys_file": None, "allow_anonymous": True, "anonymous_requests_per_minute": 3}
    rotating = lambda server, i: httpx.post(server.url + "/predict", json=rows[0], timeout=10,
                                            headers={"x-forwarded-for": f"203.0.113.{i}"}).status_code
    direct = serve(root / "1", **limit)
    assert [rotating(direct, i) for i in range(4)] == [200, 200, 200, 429], "127.0.0.1 is not a proxy unless configured"
    behind_proxy = serve(root / "1", **limit, trusted_proxies=["127.0.0.1"])
    assert [rotating(behind_proxy, i) for i in range(4)] == [200] * 4, "a configured proxy names each client"
