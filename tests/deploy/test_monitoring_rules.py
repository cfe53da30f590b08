"""The PrometheusRule: `promtool check rules` and `promtool test rules` (every alert fires when it should
and stays quiet when it should); the Grafana dashboards query metrics the code exports."""
import json
import re
import shutil

import pytest
import yaml

from tests.conftest import REPO
from tests.deploy.conftest import run, tool

MONITORING = REPO / "k8s" / "base" / "monitoring"
RULE_TESTS = MONITORING / "tests" / "churnops-rules.test.yaml"
# Metrics the rules and dashboards may use that come from elsewhere: Prometheus itself, kube-state-metrics.
EXTERNAL_METRICS = {"up", "kube_job_status_failed"}


def prometheus_rule(text: str | None = None) -> dict:
    "The PrometheusRule (or a changed copy of its text)."
    return yaml.safe_load(text if text is not None else (MONITORING / "prometheusrule.yaml").read_text())


def extract_rules(rule: dict, folder) -> None:
    "The PrometheusRule's spec is a Prometheus rule file: write it where the unit tests expect it."
    (folder / "churnops.rules.yaml").write_text(yaml.safe_dump(rule["spec"], sort_keys=False))
    shutil.copy(RULE_TESTS, folder / RULE_TESTS.name)


@pytest.fixture()
def rules_dir(tmp_path):
    extract_rules(prometheus_rule(), tmp_path)
    return tmp_path


def alerts() -> set[str]:
    rule = prometheus_rule()
    return {r["alert"] for group in rule["spec"]["groups"] for r in group["rules"] if "alert" in r}


def test_rules_are_valid(rules_dir):
    result = run(tool("promtool"), "check", "rules", rules_dir / "churnops.rules.yaml")
    assert result.returncode == 0, result.output
    assert "SUCCESS: 11 rules found" in result.output


def test_rule_unit_tests_pass_and_cover_every_alert(rules_dir):
    result = run(tool("promtool"), "test", "rules", rules_dir / RULE_TESTS.name)
    assert result.returncode == 0, result.output
    tested = {case["alertname"] for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
              for case in test["alert_rule_test"]}
    assert tested == alerts() == {"ChurnopsApiHighErrorRate", "ChurnopsApiHighLatency", "ChurnopsApiDown",
                                  "ChurnopsDriftAboveThreshold", "ChurnopsMonitorStale", "ChurnopsPipelineJobFailed",
                                  "ChurnopsStreamFallingBehind", "ChurnopsStreamDeadLetters", "ChurnopsStreamDown"}


def test_planted_bad_promql_fails_the_check(tmp_path):
    rule = prometheus_rule()
    rule["spec"]["groups"][1]["rules"][0]["expr"] = "sum(rate(churnops_http_requests_total[5m]) > "
    extract_rules(rule, tmp_path)
    result = run(tool("promtool"), "check", "rules", tmp_path / "churnops.rules.yaml")
    assert result.returncode != 0 and "ChurnopsApiHighErrorRate" not in result.stdout
    assert "parse error" in result.output


def test_planted_wrong_threshold_fails_the_unit_tests(tmp_path):
    text = (MONITORING / "prometheusrule.yaml").read_text().replace(
        "churnops_drift_share > churnops_drift_share_threshold", "churnops_drift_share > 0.9")
    extract_rules(prometheus_rule(text), tmp_path)
    result = run(tool("promtool"), "test", "rules", tmp_path / RULE_TESTS.name)
    assert result.returncode != 0
    assert "alertname: ChurnopsDriftAboveThreshold" in result.output


def metric_names(expr: str) -> set[str]:
    "Metric names an expression selects (identifiers followed by a selector, a range or nothing)."
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    words = set(re.findall(r"\b([a-z_:][a-z0-9_:]*)\b(?!\s*\()", without_strings))
    keywords = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "le",
                "bool", "offset"}
    return {w for w in words if w not in keywords and (w.startswith("churnops") or w in EXTERNAL_METRICS)}


def exported_metrics() -> set[str]:
    source = "".join((REPO / "churnops" / f"{module}.py").read_text() for module in ("serve_metrics", "monitor", "stream"))
    names = set(re.findall(r'"(churnops_[a-z_]+)"', source))
    histograms = set(re.findall(r'Histogram\(\s*"(churnops_[a-z_]+)"', source))
    assert {"churnops_http_request_duration_seconds", "churnops_stream_event_to_score_seconds"} <= histograms
    return names | {f"{h}_{s}" for h in histograms & names for s in ("bucket", "count", "sum")} | EXTERNAL_METRICS


def test_dashboards_and_rules_use_only_metrics_the_code_exports():
    exported = exported_metrics()
    rule = prometheus_rule()
    recorded = {r["record"] for g in rule["spec"]["groups"] for r in g["rules"] if "record" in r}
    used = {name for g in rule["spec"]["groups"] for r in g["rules"] for name in metric_names(r["expr"])}
    for name, dashboard in dashboards().items():
        assert dashboard["panels"], name
        for panel in dashboard["panels"]:
            assert panel["targets"], (name, panel["title"])
            used |= {metric for target in panel["targets"] for metric in metric_names(target["expr"])}
    assert used - exported - recorded == set()
    assert {"churnops_inference_duration_seconds_bucket", "churnops_prediction_score_bucket",
            "churnops_drift_share"} <= used  # latency by model version, prediction distribution, drift
    assert {"churnops_stream_consumer_lag", "churnops_stream_event_to_score_seconds_bucket",  # the stream scorer
            "churnops_stream_dead_letters_total", "churnops_stream_online_pending_rows",       # and the online store
            "churnops_feature_lookup_duration_seconds_bucket"} <= used


def dashboards() -> dict[str, dict]:
    "The Grafana dashboards, by file name."
    return {path.name: json.loads(path.read_text()) for path in sorted((MONITORING / "grafana").glob("*.json"))}


def check_dashboard_queries(boards: dict[str, dict], folder) -> tuple[int, object]:
    "promtool's parse of every panel query (as a recording rule, $namespace given a value): (queries, result)."
    rules = [{"record": f"dashboard:{name.removesuffix('.json').replace('-', '_')}:{panel['id']}_{target['refId']}",
              "expr": target["expr"].replace("$namespace", "churnops")}
             for name, board in boards.items() for panel in board["panels"] for target in panel["targets"]]
    path = folder / "dashboards.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}))
    return len(rules), run(tool("promtool"), "check", "rules", path)


def test_every_dashboard_query_parses_and_every_dashboard_is_deployed(tmp_path):
    boards = dashboards()
    queries, result = check_dashboard_queries(boards, tmp_path)
    assert result.returncode == 0 and f"SUCCESS: {queries} rules found" in result.output, result.output
    assert queries >= 30
    kustomization = yaml.safe_load((REPO / "k8s" / "base" / "kustomization.yaml").read_text())
    deployed = next(g["files"] for g in kustomization["configMapGenerator"] if g["name"] == "churnops-grafana-dashboards")
    assert sorted(path.rsplit("/", 1)[-1] for path in deployed) == sorted(boards)
    uids = [board["uid"] for board in boards.values()]
    assert len(set(uids)) == len(uids) == 3


def test_a_dashboard_query_cut_short_would_be_caught(tmp_path):
    boards = dashboards()
    target = boards["churnops-stream.json"]["panels"][2]["targets"][1]
    target["expr"] = target["expr"][:-2]  # a closing bracket lost
    result = check_dashboard_queries(boards, tmp_path)[1]
    assert result.returncode != 0 and "dashboard:churnops_stream:3_B" in result.output, result.output


def test_a_misspelled_metric_would_be_caught():
    expr = 'histogram_quantile(0.99, sum by (le) (rate(churnops_http_request_duration_second_bucket{route="/x"}[5m])))'
    assert metric_names(expr) - exported_metrics() == {"churnops_http_request_duration_second_bucket"}
