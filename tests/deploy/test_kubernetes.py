"""k8s/: every overlay renders, validates strictly against the Kubernetes API schemas, and its custom
resources against their CRD schemas; the pipeline Jobs match dvc.yaml; the pods are locked down; production's
two regions get their own values from Terraform's settings, and exactly one of them runs the pipeline."""
import fnmatch
import re

import yaml

from churnops.params import load_params
from tests.conftest import DVC_STAGES, REPO, STAGES
from tests.deploy.conftest import OVERLAYS, render, run, tool

KUBERNETES_VERSION = "1.34"  # terraform/variables.tf kubernetes_version
CRD_VALIDATOR = REPO / "k8s" / "crd-validation" / "validate.mjs"
SPARK_VALIDATOR = REPO / "k8s" / "crd-validation" / "sparkapplication.py"  # the spark-operator's API models
POLICIES = sorted((REPO / "k8s" / "policies").glob("*.yaml"))
SIGNATURE_POLICY = REPO / "k8s" / "policies" / "verify-image-signatures.yaml"


def objects(path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def pod_spec(o: dict) -> dict | None:
    "The pod spec of a workload (Deployment, StatefulSet, Job, CronJob), None for other kinds."
    body = o.get("spec", {})
    return body.get("jobTemplate", {}).get("spec", body).get("template", {}).get("spec")


def kubernetes_validate(path):
    return run(tool("kubernetes-validate"), "--strict", "--kubernetes-version", KUBERNETES_VERSION, "--quiet", path)


def validate_crds(*paths):
    return run(tool("node"), CRD_VALIDATOR, *paths)


def validate_spark_applications(*paths):
    return run(tool("python"), SPARK_VALIDATOR, *paths)


def environment_of(overlay: str) -> str:
    "dev, prod: an overlay is its environment's primary region, or <environment>-<region> for another region."
    return overlay.split("-", 1)[0]


def test_every_overlay_renders_the_whole_system(rendered):
    for overlay in OVERLAYS:
        kinds = sorted({o["kind"] for o in objects(rendered[overlay])})
        # production's MLflow database is the region's Aurora cluster; dev runs PostgreSQL in the cluster
        database = ["StatefulSet"] if overlay == "dev" else []
        assert kinds == sorted(["AnalysisTemplate", "ConfigMap", "CronJob", "Deployment", "HorizontalPodAutoscaler", "Ingress",
                                "Job", "Namespace", "NetworkPolicy", "PodDisruptionBudget", "PodMonitor", "PrometheusRule",
                                "Role", "RoleBinding", "Rollout", "ScaledObject", "Secret", "Service", "ServiceAccount",
                                "ServiceMonitor", "SparkApplication", "StorageClass", "TriggerAuthentication", *database]), overlay
        namespaces = {o["metadata"].get("namespace") for o in objects(rendered[overlay])
                      if o["kind"] not in ("Namespace", "StorageClass")}
        assert namespaces == {f"churnops-{environment_of(overlay)}"}


def test_rendered_manifests_pass_strict_schema_validation(rendered):
    for overlay in OVERLAYS:
        result = kubernetes_validate(rendered[overlay])
        assert result.returncode == 0, result.output


def test_custom_resources_match_their_crd_schemas(rendered):
    argocd = sorted((REPO / "k8s" / "argocd").glob("*.yaml"))
    result = validate_crds(*rendered.values(), *argocd, *POLICIES)
    assert result.returncode == 0, result.output
    # 3 overlays x (2 ServiceMonitors + 1 rule + the stream's PodMonitor, ScaledObject, TriggerAuthentication + the
    # API's Rollout and 2 AnalysisTemplates) + 3 Argo CD (project, dev Application, prod ApplicationSet) + 2 Kyverno
    assert "32 custom resources valid, 0 invalid" in result.stdout
    result = validate_spark_applications(*rendered.values())
    assert result.returncode == 0, result.output
    assert "3 SparkApplications valid, 0 invalid" in result.stdout  # the features stage on Spark, per overlay


def test_only_images_the_image_workflow_signed_are_admitted(rendered):
    "The Kyverno policy trusts this repository's image workflow on main, and covers every churnops image we deploy."
    policy = objects(SIGNATURE_POLICY)[0]
    rule = policy["spec"]["rules"][0]
    check = rule["verifyImages"][0]
    assert check["failureAction"] == "Enforce" and check["required"] and check["mutateDigest"] and check["verifyDigest"]
    repository = re.search(r"^git_url = (\S+)$", (REPO / "settings.ini").read_text(), re.M).group(1)
    signer = {"issuer": "https://token.actions.githubusercontent.com",
              "subject": f"{repository}/.github/workflows/image.yml@refs/heads/main", "rekor": {"url": "https://rekor.sigstore.dev"}}
    assert [e["keyless"] for a in check["attestors"] for e in a["entries"]] == [signer]
    assert [e["keyless"] for t in check["attestations"] for a in t["attestors"] for e in a["entries"]] == [signer]
    workflow = (REPO / ".github" / "workflows" / "image.yml").read_text()
    assert "cosign sign --yes" in workflow and "cosign attest --yes --type cyclonedx" in workflow, "what the policy checks"
    namespaces = set(rule["match"]["any"][0]["resources"]["namespaces"])
    for overlay in OVERLAYS:
        assert f"churnops-{environment_of(overlay)}" in namespaces
        images = {c["image"] for o in objects(rendered[overlay]) for _, c in containers_in(o) if "/churnops" in c["image"]}
        assert images and all(any(fnmatch.fnmatch(i, pattern) for pattern in check["imageReferences"]) for i in images), images


def test_one_job_per_dvc_stage_runs_that_stage(rendered):
    "A Job per notebook stage; `sources` runs inside `cluster-run ingest` (DVC brings it up to date first)."
    jobs = {o["metadata"]["name"]: o for o in objects(rendered["dev"]) if o["kind"] == "Job"}
    assert sorted(jobs) == sorted(f"churnops-stage-{s}" for s in STAGES)
    assert list(yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]) == DVC_STAGES
    for stage in STAGES:
        job = jobs[f"churnops-stage-{stage}"]
        assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["cluster-run", stage]
        assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "Skip"  # run on demand, not on sync


def test_jobs_and_cronjobs_share_one_pod_template(rendered):
    def pod(spec: dict) -> dict:
        template = yaml.safe_load(yaml.safe_dump(spec["template"]))
        template["spec"]["containers"][0].pop("args")
        return template
    docs = objects(rendered["prod"])
    job_pods = [pod(o["spec"]) for o in docs if o["kind"] == "Job"]
    cron_pods = [pod(o["spec"]["jobTemplate"]["spec"]) for o in docs if o["kind"] == "CronJob"]
    assert all(p == job_pods[0] for p in job_pods + cron_pods)
    crons = {o["metadata"]["name"]: o for o in docs if o["kind"] == "CronJob"}
    assert pod_spec(crons["churnops-retrain-if-drift"])["containers"][0]["args"] == ["cluster-run", "--retrain-if-drift"]
    assert all(c["spec"]["concurrencyPolicy"] == "Forbid" for c in crons.values())


def test_every_container_is_locked_down(rendered):
    for overlay in OVERLAYS:
        for o in objects(rendered[overlay]):
            spec = pod_spec(o)
            if spec is None:
                continue
            assert spec["securityContext"]["runAsNonRoot"] is True, o["metadata"]["name"]
            assert spec["automountServiceAccountToken"] is False, o["metadata"]["name"]
            for container in spec["containers"]:
                context = container["securityContext"]
                assert context["readOnlyRootFilesystem"] and not context["allowPrivilegeEscalation"]
                assert context["capabilities"]["drop"] == ["ALL"]
                assert container["resources"]["limits"] and container["resources"]["requests"]


def test_no_secret_reaches_a_command_line(rendered):
    "A Secret expanded into a container's command or args is readable by every process on the node (ps): environment only (issue 38.10)."
    for overlay in OVERLAYS:
        for owner, container in containers_in(objects(rendered[overlay])):
            secret = {e["name"] for e in container.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})}
            line = " ".join(map(str, [*container.get("command", []), *container.get("args", [])]))
            assert not [name for name in secret if f"$({name})" in line], (overlay, owner, container["name"], line)


def test_every_ingress_host_is_served_over_tls(rendered):
    "Each rule's host has a certificate and plain HTTP is redirected (issue 38.10)."
    for overlay in OVERLAYS:
        for ingress in [o for o in objects(rendered[overlay]) if o["kind"] == "Ingress"]:
            hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
            covered = {host for entry in ingress["spec"].get("tls", []) if entry.get("secretName") for host in entry["hosts"]}
            assert hosts <= covered, (overlay, ingress["metadata"]["name"], hosts - covered)
            assert ingress["metadata"]["annotations"].get("nginx.ingress.kubernetes.io/force-ssl-redirect") == "true"


def test_api_probes_and_identity(rendered):
    api = next(o for o in objects(rendered["prod"]) if o["kind"] == "Deployment" and o["metadata"]["name"] == "churnops-api")
    pod = api["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert "--model-source=$(CHURNOPS_MODEL_SOURCE)" in container["args"]
    source = next(e for e in container["env"] if e["name"] == "CHURNOPS_MODEL_SOURCE")["valueFrom"]["configMapKeyRef"]
    config = next(o for o in objects(rendered["prod"]) if o["kind"] == "ConfigMap" and o["metadata"]["name"] == source["name"])
    assert config["data"][source["key"]] == "models:/churnops-churn@champion"
    accounts = {o["metadata"]["name"]: o for o in objects(rendered["prod"]) if o["kind"] == "ServiceAccount"}
    assert accounts[pod["serviceAccountName"]]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(
        ":role/churnops-prod-api")  # terraform/modules/region/iam.tf names the role <name>-<environment>-api


def selects(selector: dict, labels: dict) -> bool:
    "Whether a label selector (matchLabels, matchExpressions with In) selects these labels; {} selects everything."
    return (all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())
            and all(labels.get(e["key"]) in e["values"] for e in selector.get("matchExpressions", [])))


def peer_matches(entry: dict, peer: dict) -> bool:
    "Whether a from/to entry of a policy matches `peer`: {'pod': labels} in the policy's namespace, or also 'namespace'."
    if "ipBlock" in entry:
        return False
    if ("namespaceSelector" in entry) != ("namespace" in peer):
        return False
    if "namespaceSelector" in entry and not selects(entry["namespaceSelector"], {"kubernetes.io/metadata.name": peer["namespace"]}):
        return False
    return selects(entry.get("podSelector", {}), peer["pod"])


def open_ports(policies: list[dict], labels: dict, peer: dict, direction: str = "ingress") -> set[int]:
    "Ports the NetworkPolicies open for a pod with `labels` from (ingress) or to (egress) `peer`."
    side = {"ingress": "from", "egress": "to"}[direction]
    ports = set()
    for policy in policies:
        if selects(policy["spec"]["podSelector"], labels) and direction.capitalize() in policy["spec"]["policyTypes"]:
            for rule in policy["spec"].get(direction, []):
                if any(peer_matches(entry, peer) for entry in rule.get(side, [])):
                    ports |= {p["port"] for p in rule.get("ports", [])}
    return ports


def test_prometheus_reaches_the_api_metrics_port_and_nothing_else(rendered):
    docs = objects(rendered["prod"])
    api = next(o for o in docs if o["kind"] == "Deployment" and o["metadata"]["name"] == "churnops-api")
    container = api["spec"]["template"]["spec"]["containers"][0]
    flags = dict(a.removeprefix("--").split("=", 1) for a in container["args"] if a.startswith("--"))
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert named == {"http": int(flags["port"]), "metrics": int(flags["metrics-port"])}, "the ports the CLI is told"
    policies = [o for o in docs if o["kind"] == "NetworkPolicy"]
    pod_labels = api["spec"]["template"]["metadata"]["labels"]
    from_namespace = {name: {"namespace": name, "pod": {}} for name in ("monitoring", "ingress-nginx")}
    assert open_ports(policies, pod_labels, from_namespace["monitoring"]) == {named["metrics"]}, "no prediction, no /admin/reload"
    assert open_ports(policies, pod_labels, from_namespace["ingress-nginx"]) == {named["http"]}, "clients never see /metrics"
    monitor = next(o for o in docs if o["kind"] == "ServiceMonitor" and o["metadata"]["name"] == "churnops-api")
    service = next(o for o in docs if o["kind"] == "Service" and o["metadata"]["name"] == "churnops-api")
    scraped = next(p for p in service["spec"]["ports"] if p["name"] == monitor["spec"]["endpoints"][0]["port"])
    assert scraped["targetPort"] == "metrics", "Prometheus scrapes the metrics port"


def terraform_setting(environment: str, name: str) -> str | None:
    "A string variable as terraform sets it for the environment: its tfvars' value, else the variable's default."
    tfvars = (REPO / "terraform" / "environments" / f"{environment}.tfvars").read_text()
    found = re.search(rf'^{name}\s*=\s*"([^"]+)"', tfvars, re.MULTILINE)
    if found:
        return found.group(1)
    declaration = (REPO / "terraform" / "variables.tf").read_text().split(f'variable "{name}"', 1)[1].split("\n}", 1)[0]
    found = re.search(r'default\s*=\s*"([^"]+)"', declaration)
    return found.group(1) if found else None


def region_of(overlay: str) -> str:
    "The AWS region an overlay deploys to: its environment's primary region, or the one its name carries."
    environment = environment_of(overlay)
    return overlay.removeprefix(f"{environment}-") if "-" in overlay else terraform_setting(environment, "region")


def vpc_cidr(overlay: str) -> str:
    "The VPC terraform builds for the overlay's region: vpc_cidr for the primary, secondary_vpc_cidr for the other."
    environment = environment_of(overlay)
    secondary = region_of(overlay) == terraform_setting(environment, "secondary_region")
    return terraform_setting(environment, "secondary_vpc_cidr" if secondary else "vpc_cidr")


def test_egress_never_leaves_the_environments_vpc(rendered):
    "Every egress rule names its destination: pods in the namespace, cluster DNS, or the VPC (AWS APIs by endpoint)."
    for overlay in OVERLAYS:
        for policy in (o for o in objects(rendered[overlay]) if o["kind"] == "NetworkPolicy"):
            for rule in policy["spec"].get("egress", []):
                assert rule.get("to"), f"{overlay} {policy['metadata']['name']}: an egress rule open to any address"
                blocks = {peer["ipBlock"]["cidr"] for peer in rule["to"] if "ipBlock" in peer}
                assert blocks <= {vpc_cidr(overlay)}, (overlay, policy["metadata"]["name"], blocks)


def pod_templates_in(node, owner: str = ""):
    "(owner name, pod labels, pod spec) for every pod template anywhere in `node` (workloads, CronJobs, AnalysisTemplate Jobs)."
    if isinstance(node, dict):
        owner = node.get("metadata", {}).get("name", owner)
        if "containers" in node.get("spec", {}):
            yield owner, node.get("metadata", {}).get("labels", {}), node["spec"]
        for value in node.values():
            yield from pod_templates_in(value, owner)
    elif isinstance(node, list):
        for item in node:
            yield from pod_templates_in(item, owner)


def containers_in(node):
    "(owner name, container) for every container anywhere in `node`."
    for owner, _, spec in pod_templates_in(node):
        for container in spec["containers"]:
            yield owner, container


def calls_the_registry(container: dict) -> bool:
    return any(e["name"] == "MLFLOW_TRACKING_URI" for e in container.get("env", [])) or any(
        f.get("configMapRef", {}).get("name", "").startswith("churnops-config") for f in container.get("envFrom", []))


def test_every_registry_client_may_reach_the_registry_through_the_network_policies(rendered):
    "Default deny: each pod that calls MLflow needs DNS, an egress rule to MLflow and MLflow's ingress rule."
    docs = objects(rendered["prod"])
    policies = [o for o in docs if o["kind"] == "NetworkPolicy"]
    mlflow = {"pod": {"app.kubernetes.io/component": "mlflow"}}
    dns = {"namespace": "kube-system", "pod": {"k8s-app": "kube-dns"}}
    clients = {owner: labels for o in docs for owner, labels, spec in pod_templates_in(o)
               if any(calls_the_registry(c) for c in spec["containers"]) and o["kind"] != "Rollout"}
    assert {"churnops-api", "churnops-stream", "churnops-promote-champion", "churnops-retrain-if-drift"} <= set(clients)
    for owner, labels in clients.items():
        assert 53 in open_ports(policies, labels, dns, "egress"), f"{owner}: no DNS"
        assert 5000 in open_ports(policies, labels, mlflow, "egress"), f"{owner}: no egress to MLflow"
        assert 5000 in open_ports(policies, mlflow["pod"], {"pod": labels}), f"{owner}: MLflow does not admit it"


def test_every_registry_client_signs_in_with_the_least_it_needs(rendered):
    "MLflow runs its basic-auth app; who reads (API, stream) and who writes (pipeline, canary promotion) by Secret."
    docs = objects(rendered["prod"])
    mlflow = next(o for o in docs if o["kind"] == "Deployment" and o["metadata"]["name"] == "churnops-mlflow")
    server = mlflow["spec"]["template"]["spec"]["containers"][0]
    assert "--app-name=basic-auth" in server["args"]
    config_path = next(e["value"] for e in server["env"] if e["name"] == "MLFLOW_AUTH_CONFIG_PATH")
    mount = next(m for m in server["volumeMounts"] if config_path.startswith(m["mountPath"] + "/"))
    volume = next(v for v in mlflow["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
    auth = volume["secret"]["secretName"]  # pragma: allowlist secret
    assert auth == "churnops-mlflow-auth", "the auth config holds a database password"
    users = {}
    for owner, container in (pair for o in docs for pair in containers_in(o)):
        env = {e["name"]: e for e in container.get("env", [])}
        if calls_the_registry(container):
            credentials = [env.get(v, {}).get("valueFrom", {}).get("secretKeyRef", {}).get("name")
                           for v in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")]
            secrets = set(credentials)
            assert None not in secrets and len(secrets) == 1, f"{owner}: no registry user, or name and password apart"
            users.setdefault(secrets.pop(), set()).add(owner.removeprefix("churnops-").split("-")[0])
    assert users == {"churnops-mlflow-reader": {"api", "stream"},
                     "churnops-mlflow-pipeline": {"stage", "pipeline", "retrain", "batch", "promote"}}, users


def matches(pattern, value) -> bool:
    "Kyverno's validate pattern, the part these policies use: mappings key by key, a one-element list for every item."
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and matches(v, value[k]) for k, v in pattern.items())
    if isinstance(pattern, list) and len(pattern) == 1 and isinstance(pattern[0], dict):
        return isinstance(value, list) and all(matches(pattern[0], item) for item in value)
    if isinstance(pattern, str) and " | " in pattern:  # one of the alternatives
        return value in pattern.split(" | ")
    return pattern == value


def test_pipeline_pods_run_as_the_identity_terraform_trusts(rendered):
    "The admission rule names the service account of the pipeline's IRSA role, and our own pipeline pods pass it."
    rule = objects(REPO / "k8s" / "policies" / "pipeline-pods.yaml")[0]["spec"]["rules"][0]
    pattern = rule["validate"]["pattern"]
    pipeline_role = (REPO / "terraform" / "modules" / "region" / "iam.tf").read_text().split("pipeline = {", 1)[1]
    assert pattern["spec"]["serviceAccountName"] == re.search(r'service_account = "([^"]+)"', pipeline_role).group(1)
    selector = rule["match"]["any"][0]["resources"]["selector"]
    for overlay in OVERLAYS:
        pods = [(owner, {"spec": spec}) for o in objects(rendered[overlay]) for owner, labels, spec in pod_templates_in(o)
                if selects(selector, labels)]
        assert len(pods) >= 12, "the stage Jobs and the CronJobs"
        for owner, pod in pods:
            assert matches(pattern, pod), f"{overlay} {owner}: the admission rule would refuse it"
    locked_down = {"spec": {"serviceAccountName": "default", "securityContext": {"runAsNonRoot": True},
                            "containers": [{"securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}]}}
    assert not matches(pattern, locked_down), "another service account is refused"


def kyverno_denies(rule: dict, pod: dict) -> list[str]:
    "The deny conditions of a Kyverno rule that hold for `pod` at admission (JMESPath, as Kyverno evaluates them)."
    import jmespath

    held = []
    for condition in rule["validate"]["deny"]["conditions"]["any"]:
        expression = re.fullmatch(r"\{\{\s*(.*?)\s*\}\}", condition["key"]).group(1)
        value = jmespath.search(expression, {"request": {"object": pod}})
        operator, bound = condition["operator"], condition["value"]
        assert operator in ("NotEquals", "GreaterThan"), f"{operator}: not evaluated here"
        if value != bound if operator == "NotEquals" else (value is not None and value > bound):
            held.append(expression)
    return held


def test_the_spark_driver_may_start_its_executors_and_nothing_else(rendered):
    """The driver's role may create pods (Spark starts its executors so); admission lets its account create only
    executor pods that reach no Secret: another account, a Secret volume, a projected token or a Secret-backed
    variable is refused."""
    rule = next(r for r in objects(REPO / "k8s" / "policies" / "pipeline-pods.yaml")[0]["spec"]["rules"]
                if r["name"] == "spark-driver-starts-only-executors")
    subjects = rule["match"]["any"][0]["subjects"]
    assert {(s["name"], s["namespace"]) for s in subjects} == {
        ("churnops-spark-driver", f"churnops-{environment_of(o)}") for o in OVERLAYS}
    for overlay in OVERLAYS:
        app = next(o for o in objects(rendered[overlay]) if o["kind"] == "SparkApplication")["spec"]
        executor = app["executor"]
        volumes = [v for v in app["volumes"] if v["name"] in {m["name"] for m in executor["volumeMounts"]}]
        as_started = {"metadata": {"labels": executor["labels"]},  # as Spark creates it, with its conf volume
                      "spec": {"serviceAccountName": executor["serviceAccount"],
                               "volumes": [*volumes, {"name": "spark-conf-volume-exec", "configMap": {"name": "conf"}}],
                               "containers": [{"name": "spark-kubernetes-executor", "env": executor.get("env", [])}]}}
        assert kyverno_denies(rule, as_started) == [], f"{overlay}: the executors would be refused"
        spec = as_started["spec"]
        refused = {
            "another account": {**spec, "serviceAccountName": "churnops-pipeline"},
            "a Secret volume": {**spec, "volumes": [*spec["volumes"], {"name": "s", "secret": {"secretName": "churnops-mlflow-auth"}}]},  # pragma: allowlist secret
            "a token": {**spec, "volumes": [*spec["volumes"], {"name": "t", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}]},
            "a Secret variable": {**spec, "containers": [{"name": "x", "env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}]},
            "Secret variables in an init container": {**spec, "initContainers": [{"name": "x", "envFrom": [{"secretRef": {"name": "s"}}]}]},
        }
        for what, pod_spec in refused.items():
            assert kyverno_denies(rule, {**as_started, "spec": pod_spec}), f"{overlay}: {what} is admitted"
    assert kyverno_denies(rule, {"metadata": {"labels": {}}, "spec": {"serviceAccountName": "churnops-spark-executor"}})


def test_stream_scaler_follows_the_consumer_group_and_its_partitions(rendered):
    "KEDA watches the group and topic the service uses, and never adds a replica that would hold no partition."
    params = yaml.safe_load((REPO / "params.yaml").read_text())["stream"]
    prod = objects(rendered["prod"])
    scaler = next(o for o in prod if o["kind"] == "ScaledObject")
    trigger = scaler["spec"]["triggers"][0]["metadata"]
    assert (trigger["consumerGroup"], trigger["topic"]) == (params["group_id"], params["events_topic"])
    assert scaler["spec"]["maxReplicaCount"] == params["partitions"]
    stream = next(o for o in prod if o["kind"] == "Deployment" and o["metadata"]["name"] == "churnops-stream")
    assert scaler["spec"]["scaleTargetRef"]["name"] == stream["metadata"]["name"]
    container = stream["spec"]["template"]["spec"]["containers"][0]
    names = {e["name"] for e in container["env"]}
    assert trigger["bootstrapServersFromEnv"] in names and {"CHURNOPS_KAFKA_SASL_PASSWORD", "REDIS_PASSWORD"} <= names
    assert f"--metrics-port={container['ports'][0]['containerPort']}" in container["args"]
    policy = next(o for o in prod if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "churnops-stream")
    assert {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]} == {9096, 5000}


def test_the_api_records_a_configured_split_on_the_brokers_topic(rendered):
    "An A/B experiment is one setting; its decisions go to a Kafka topic the API may reach, never to the pod's disk."
    for overlay in OVERLAYS:
        rendered_objects = objects(rendered[overlay])
        config = next(o for o in rendered_objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("churnops-config"))["data"]
        assert config["CHURNOPS_CHALLENGER_SOURCE"] == "", "no experiment until one is configured"
        assert config["CHURNOPS_ASSIGNMENT_LOG"].startswith("kafka:")
        api = next(o for o in rendered_objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "churnops-api")
        container = api["spec"]["template"]["spec"]["containers"][0]
        assert {"--challenger-source=$(CHURNOPS_CHALLENGER_SOURCE)", "--assignment-log=$(CHURNOPS_ASSIGNMENT_LOG)"} <= set(container["args"])
        env = {e["name"]: e for e in container["env"]}
        assert {"CHURNOPS_CHALLENGER_SOURCE", "CHURNOPS_ASSIGNMENT_LOG", "CHURNOPS_KAFKA_BOOTSTRAP",
                "CHURNOPS_KAFKA_SASL_PASSWORD"} <= env.keys()
        assert env["CHURNOPS_KAFKA_BOOTSTRAP"]["valueFrom"]["configMapKeyRef"]["key"] in config
        policy = next(o for o in rendered_objects if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "churnops-api")
        brokers = [rule for rule in policy["spec"]["egress"] if any(p["port"] == 9096 for p in rule["ports"])]
        assert [peer["ipBlock"]["cidr"] for rule in brokers for peer in rule["to"]] == [vpc_cidr(overlay)], overlay


def cronjobs_suspended(overlay_file) -> set[bool]:
    return {o["spec"].get("suspend", False) for o in objects(overlay_file) if o["kind"] == "CronJob"}


def test_exactly_one_production_region_runs_the_pipeline(rendered):
    "Two regions must never write the same state: the standby's CronJobs are suspended, the active one's are not."
    production = [overlay for overlay in OVERLAYS if environment_of(overlay) == "prod"]
    assert len(production) == 2
    states = {overlay: cronjobs_suspended(rendered[overlay]) for overlay in production}
    assert all(len(state) == 1 for state in states.values()), f"a region with its pipeline half suspended: {states}"
    assert sorted(state.pop() for state in states.values()) == [False, True], states
    assert cronjobs_suspended(rendered["dev"]) == {False}


def application_set() -> dict:
    return objects(REPO / "k8s" / "argocd" / "churnops-prod.yaml")[0]


def test_the_application_set_deploys_each_regions_overlay_to_that_regions_cluster():
    appset = application_set()
    [generator] = appset["spec"]["generators"]
    elements = generator["list"]["elements"]
    assert {element["region"] for element in elements} == {terraform_setting("prod", "region"),
                                                           terraform_setting("prod", "secondary_region")}
    project = objects(REPO / "k8s" / "argocd" / "project.yaml")[0]
    allowed = {(d["server"], d["namespace"]) for d in project["spec"]["destinations"]}
    for element in elements:
        overlay = element["overlay"].removeprefix("k8s/overlays/")
        assert overlay in OVERLAYS and region_of(overlay) == element["region"], element
        assert f".{element['region']}.eks.amazonaws.com" in element["server"], element
        assert (element["server"], "churnops-prod") in allowed, "the project admits each region's cluster"
    template = appset["spec"]["template"]
    assert "{{.region}}" in template["metadata"]["name"], "one Application per region"
    assert template["spec"]["source"]["path"] == "{{.overlay}}" and template["spec"]["destination"]["server"] == "{{.server}}"
    assert "automated" not in template["spec"]["syncPolicy"], "production syncs only when someone presses Sync"


def test_the_standby_region_is_the_primary_with_its_own_regions_values(rendered):
    """The same objects in both regions; each region's images, buckets, roles, database and host names are the
    ones terraform gives that region (modules/region: the secondary's names carry its region)."""
    primary, standby = (objects(rendered[overlay]) for overlay in ("prod", "prod-us-east-1"))

    def names(docs):
        return {(o["kind"], re.sub(r"-[a-z0-9]{10}$", "", o["metadata"]["name"])) for o in docs}

    assert names(primary) == names(standby)
    for overlay, docs in (("prod", primary), ("prod-us-east-1", standby)):
        region = region_of(overlay)
        prefix = "churnops-prod" if overlay == "prod" else f"churnops-prod-{region}"
        config = next(o["data"] for o in docs if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("churnops-config"))
        for key in ("MLFLOW_ARTIFACTS_DESTINATION", "CHURNOPS_DVC_REMOTE", "CHURNOPS_STATE_URL", "CHURNOPS_REPORTS_URL",
                    "CHURNOPS_FEAST_REGISTRY"):
            assert re.match(rf"s3://{prefix}-(artifacts|mlflow|reports)/", config[key]), (overlay, key, config[key])
        for key in ("CHURNOPS_KAFKA_BOOTSTRAP", "MLFLOW_DB_HOST"):
            assert f".{region}." in config[key], (overlay, key)
        assert config["MLFLOW_DB_HOST"].startswith(f"{prefix}-mlflow.") and config["MLFLOW_DB_SSLMODE"] == "require"
        roles = {o["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] for o in docs if o["kind"] == "ServiceAccount"}
        assert roles and all(re.fullmatch(rf"arn:aws:iam::\d{{12}}:role/{prefix}-(api|pipeline|mlflow|stream|spark-driver|spark-executor)", r) for r in roles), roles
        images = {c["image"] for _, c in (pair for o in docs for pair in containers_in(o)) if "churnops" in c["image"]}
        assert images and all(f".dkr.ecr.{region}.amazonaws.com/churnops:" in image for image in images), images
        hosts = [rule["host"] for o in docs if o["kind"] == "Ingress" for rule in o["spec"]["rules"]]
        assert hosts == ["churnops-api.example.com", f"churnops-api.{region}.example.com"], hosts
        assert hosts[1] in (REPO / "terraform" / "environments" / "prod.tfvars").read_text(), "Route 53 checks this host"
        mlflow_egress = next(o for o in docs if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "churnops-mlflow")
        assert mlflow_egress["spec"]["egress"][0]["to"] == [{"ipBlock": {"cidr": vpc_cidr(overlay)}}], "to its Aurora cluster"


# Planted errors: each validator catches its kind of mistake.

def test_planted_wrong_type_fails_strict_validation(k8s_copy, tmp_path):
    path = k8s_copy / "base" / "api" / "service.yaml"
    path.write_text(path.read_text().replace("port: 80", 'port: "eighty"'))
    bad = tmp_path / "bad.yaml"
    bad.write_text(render(k8s_copy / "overlays" / "dev"))
    result = kubernetes_validate(bad)
    assert result.returncode != 0
    assert "service/churnops-api" in result.output and "'eighty' is not of type 'integer'" in result.output


def test_planted_unknown_field_fails_strict_validation(k8s_copy, tmp_path):
    path = k8s_copy / "base" / "pipeline" / "cronjobs.yaml"
    path.write_text(path.read_text().replace("  timeZone: Etc/UTC", "  timezone: Etc/UTC", 1))
    bad = tmp_path / "bad.yaml"
    bad.write_text(render(k8s_copy / "overlays" / "prod"))
    result = kubernetes_validate(bad)
    assert result.returncode != 0
    assert "'timezone' was unexpected" in result.output


def test_planted_crd_error_fails_crd_validation(k8s_copy):
    path = k8s_copy / "base" / "monitoring" / "servicemonitor.yaml"
    path.write_text(path.read_text().replace("    - port: metrics  # the API's metrics port (the API port has no /metrics)\n      path: /metrics",
                                             "    - port: 9100\n      path: /metrics"))
    rendered = k8s_copy / "dev.yaml"
    rendered.write_text(render(k8s_copy / "overlays" / "dev"))
    result = validate_crds(rendered)
    assert result.returncode == 1
    assert "ServiceMonitor/churnops-api: data/spec/endpoints/0/port must be string" in result.stdout
    app = k8s_copy / "argocd" / "churnops-dev.yaml"
    app.write_text(app.read_text().replace("    automated:\n      prune: true", "    automated:\n      prune: yes-please"))
    result = validate_crds(app)
    assert result.returncode == 1
    assert "Application/churnops-dev: data/spec/syncPolicy/automated/prune must be boolean" in result.stdout


def test_planted_spark_application_errors_fail_its_validation(k8s_copy):
    path = k8s_copy / "base" / "spark" / "features.yaml"
    path.write_text(path.read_text().replace("    instances: 4\n", "    instances: four\n")
                    .replace("    coreLimit: \"4\"\n", "    coreLimt: \"4\"\n")
                    .replace("        sizeLimit: 20Gi", "        sizeLimit: [20Gi]"))
    rendered = k8s_copy / "dev.yaml"
    rendered.write_text(render(k8s_copy / "overlays" / "dev"))
    result = validate_spark_applications(rendered)
    assert result.returncode == 1
    assert "SparkApplication/churnops-features: /spec/executor/instances: Input should be a valid integer" in result.stdout
    assert "SparkApplication/churnops-features: /spec/executor/coreLimt: unknown field" in result.stdout  # a typo is not dropped
    assert "/spec/volumes/0/emptyDir/sizeLimit" in result.stdout
    assert "0 SparkApplications valid, 1 invalid" in result.stdout


def test_the_spark_application_runs_the_features_stage_as_the_identities_terraform_trusts(rendered):
    """The driver runs `churnops cluster-run features` on Spark as churnops-spark-driver (the pipeline's S3 prefixes, the
    Kubernetes API for its executors), the executors as churnops-spark-executor (read the DVC remote); both roles
    exist in Terraform, both pods are locked down, and the network policy admits the ports Spark is pinned to."""
    from churnops.cli import build_parser

    iam = (REPO / "terraform" / "modules" / "region" / "iam.tf").read_text()
    for overlay in OVERLAYS:
        docs = objects(rendered[overlay])
        app = next(o for o in docs if o["kind"] == "SparkApplication")["spec"]
        assert app["image"].endswith("-spark") and app["image"].split("/")[-1].startswith("churnops:")
        args = build_parser().parse_args(app["arguments"])
        assert args.command == "cluster-run" and args.stages == ["features"]
        assert {"name": "CHURNOPS_FEATURES_ENGINE", "value": "spark"} in app["driver"]["env"]
        accounts = {o["metadata"]["name"]: o for o in docs if o["kind"] == "ServiceAccount"}
        for role, pod in (("spark-driver", app["driver"]), ("spark-executor", app["executor"])):
            assert pod["serviceAccount"] == f"churnops-{role}"
            assert f'service_account = "churnops-{role}"' in iam
            assert accounts[f"churnops-{role}"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(f"-{role}")
            context = pod["securityContext"]
            assert context["runAsNonRoot"] and context["readOnlyRootFilesystem"] and not context["allowPrivilegeEscalation"]
            assert context["capabilities"]["drop"] == ["ALL"]
            assert pod["labels"]["app.kubernetes.io/component"] == "spark"
        rule = next(r for r in objects(REPO / "k8s" / "policies" / "pipeline-pods.yaml")[0]["spec"]["rules"]
                    if r["name"] == "spark-identity-and-security-context")
        for pod in (app["driver"], app["executor"]):  # the pods the operator and the driver create from the spec
            as_created = {"spec": {"serviceAccountName": pod["serviceAccount"], "securityContext": pod["podSecurityContext"],
                                   "containers": [{"securityContext": pod["securityContext"]}]}}
            assert selects(rule["match"]["any"][0]["resources"]["selector"], pod["labels"])
            assert matches(rule["validate"]["pattern"], as_created), f"{overlay}: the admission rule would refuse it"
            assert not matches(rule["validate"]["pattern"], {**as_created, "spec": {**as_created["spec"],
                                                                                   "serviceAccountName": "churnops-pipeline"}})
        assert accounts["churnops-spark-driver"]["automountServiceAccountToken"] is True  # it starts its executors
        assert accounts["churnops-spark-executor"]["automountServiceAccountToken"] is False
        binding = next(o for o in docs if o["kind"] == "RoleBinding" and o["metadata"]["name"] == "churnops-spark-driver")
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "churnops-spark-driver",
                                        "namespace": f"churnops-{environment_of(overlay)}"}]
        role = next(o for o in docs if o["kind"] == "Role" and o["metadata"]["name"] == "churnops-spark-driver")
        assert {r for rule in role["rules"] for r in rule["resources"]} == {"pods", "configmaps"}  # its executors
        # the Kubeflow step that submits it: its pipeline account may create, follow and delete SparkApplications, no
        # more, with a token from a Secret that only that step mounts (the account itself mounts none)
        submitter = next(o for o in docs if o["kind"] == "Role" and o["metadata"]["name"] == "churnops-pipeline-spark")
        assert submitter["rules"] == [{"apiGroups": ["sparkoperator.k8s.io"], "resources": ["sparkapplications"],
                                       "verbs": ["create", "get", "delete"]}]
        binding = next(o for o in docs if o["kind"] == "RoleBinding" and o["metadata"]["name"] == "churnops-pipeline-spark")
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "churnops-pipeline",
                                        "namespace": f"churnops-{environment_of(overlay)}"}]
        token = next(o for o in docs if o["kind"] == "Secret")
        assert token["type"] == "kubernetes.io/service-account-token" and token["metadata"]["name"] == "churnops-pipeline-token"
        assert token["metadata"]["annotations"]["kubernetes.io/service-account.name"] == "churnops-pipeline"
        assert accounts["churnops-pipeline"]["automountServiceAccountToken"] is False
        policy = next(o for o in docs if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "churnops-spark")["spec"]
        pinned = {int(app["sparkConf"][key]) for key in ("spark.driver.port", "spark.driver.blockManager.port",
                                                          "spark.blockManager.port")}
        assert {p["port"] for p in policy["ingress"][0]["ports"]} == pinned == {p["port"] for p in policy["egress"][0]["ports"]}


def test_planted_missing_resource_fails_to_render(k8s_copy):
    (k8s_copy / "base" / "api" / "pdb.yaml").unlink()
    result = run(tool("kubectl"), "kustomize", k8s_copy / "overlays" / "dev")
    assert result.returncode != 0
    assert "pdb.yaml" in result.output


def test_every_churnops_command_in_the_manifests_is_one_the_cli_accepts(rendered):
    from churnops.cli import build_parser

    parser = build_parser()
    commands = []
    for o in objects(rendered["prod"]):
        for container in (pod_spec(o) or {}).get("containers", []):
            if container["image"].split("/")[-1].startswith("churnops:") and "command" not in container:
                commands.append(container["args"])  # the image's entrypoint is `churnops`
    assert len(commands) == 1 + 1 + 10 + 3  # the API, the stream scorer, the stage Jobs, the CronJobs
    for args in commands:
        parsed = parser.parse_args(args)  # exits (fails the test) on an unknown subcommand or option
        assert parsed.command in ("serve", "stream", "cluster-run"), args
    batch = parser.parse_args(["cluster-run", "--single-item", "ingest", "validate", "features", "score", "publish"])
    assert batch.single_item and batch.stages == ["ingest", "validate", "features", "score", "publish"]


def test_the_api_rolls_out_as_a_canary_that_promotes_the_model_it_served(rendered):
    "The Rollout runs the Deployment's pods in canary steps with the analysis; the HPA scales the Rollout; the last step moves the alias."
    prod = objects(rendered["prod"])
    rollout = next(o for o in prod if o["kind"] == "Rollout")
    deployment = next(o for o in prod if o["kind"] == "Deployment" and o["metadata"]["name"] == "churnops-api")
    assert rollout["spec"]["workloadRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "churnops-api",
                                              "scaleDown": "progressively"}
    assert rollout["spec"]["selector"] == deployment["spec"]["selector"] and rollout["spec"]["progressDeadlineAbort"]
    canary = rollout["spec"]["strategy"]["canary"]
    assert [s["setWeight"] for s in canary["steps"] if "setWeight" in s] == [1, 10, 50, 100]
    templates = {o["metadata"]["name"]: o for o in prod if o["kind"] == "AnalysisTemplate"}
    assert canary["analysis"]["templates"][0]["templateName"] in templates
    assert canary["steps"][-1]["analysis"]["templates"][0]["templateName"] in templates
    hpa = next(o for o in prod if o["kind"] == "HorizontalPodAutoscaler" and o["metadata"]["name"] == "churnops-api")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "churnops-api"}
    job = templates["churnops-promote-champion"]["spec"]["metrics"][0]["provider"]["job"]["spec"]["template"]["spec"]
    container = job["containers"][0]
    assert container["image"] == deployment["spec"]["template"]["spec"]["containers"][0]["image"], "the image tag follows"
    config = next(o["metadata"]["name"] for o in prod if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("churnops-config"))
    assert {e["valueFrom"]["configMapKeyRef"]["name"] for e in container["env"] if "configMapKeyRef" in e["valueFrom"]} == {config}, "the hashed config map name"
    assert container["args"][:3] == ["registry", "--pipeline=none", "promote"] and "$(CHURNOPS_MODEL_SOURCE)" in container["args"]
    monitor = next(o for o in prod if o["kind"] == "ServiceMonitor" and o["metadata"]["name"] == "churnops-api")
    assert monitor["spec"]["endpoints"][0]["relabelings"][0]["targetLabel"] == "rollouts_pod_template_hash"


def test_canary_weights_are_shares_of_requests_through_the_ingress(rendered):
    "ingress-nginx splits requests by weight: the Rollout names the Ingress, and the Ingress sends to the stable track."
    for overlay in OVERLAYS:
        manifests = objects(rendered[overlay])
        canary = next(o for o in manifests if o["kind"] == "Rollout")["spec"]["strategy"]["canary"]
        ingress = next(o for o in manifests if o["kind"] == "Ingress" and
                       o["metadata"]["name"] == canary["trafficRouting"]["nginx"]["stableIngress"])
        assert ingress["spec"]["ingressClassName"] == "nginx"
        for rule in ingress["spec"]["rules"]:  # production: the API's name and the region's own (health-checked)
            assert rule["host"].startswith("churnops-api.") and rule["host"] != "churnops-api.local", "the overlay sets the host"
            backends = {p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
            assert backends == {canary["stableService"]}, backends
        services = {o["metadata"]["name"]: o for o in manifests if o["kind"] == "Service"}
        api = next(o for o in manifests if o["kind"] == "Deployment" and o["metadata"]["name"] == "churnops-api")
        for track in (canary["stableService"], canary["canaryService"]):
            spec = services[track]["spec"]
            assert spec["selector"].items() <= api["spec"]["template"]["metadata"]["labels"].items(), track
            # the API port only: the ServiceMonitor (port: metrics) scrapes each pod once, through churnops-api
            assert [p["targetPort"] for p in spec["ports"]] == ["http"], track
    # a proxy limit below the API's own would answer 413 before the API could count it
    limit = next(o for o in objects(rendered["prod"]) if o["kind"] == "Ingress")["metadata"]["annotations"][
        "nginx.ingress.kubernetes.io/proxy-body-size"]
    assert int(limit.rstrip("m")) * 1_000_000 > load_params(REPO / "params.yaml")["serve"]["max_body_bytes"]
