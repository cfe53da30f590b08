# Task runner. `make pipeline` and `make test` are the two commands of the README.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
UV_VERSION := 0.13.8
UV := .tools/bin/uv
export PATH := $(CURDIR)/.venv/bin:$(PATH)
# Telemetry off in every process; two BLAS/OpenMP threads on this 2-core class of machine.
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export DVC_NO_ANALYTICS := 1
export GX_ANALYTICS_ENABLED := false
export PLOOMBER_STATS_ENABLED := false
# One OpenMP thread per process unless the environment says otherwise: `churnops run` starts the next stages' kernels
# beside the running stage, and the tests run two at a time; on 2 cores a second thread then waits more than it works
# (train: 22 s with 2 threads, 13 s with 1, in benchmarks/pipeline_stages.py)
export OMP_NUM_THREADS ?= 1
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION := false

.PHONY: setup lock test-fast spark flink system-tools infra-tools scan-tools pipeline test lint scan audit sbom image-sbom nbdev-check nbdev-test docs pytest deploy-check gauntlet benchmark clean

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

# The environment is rebuilt from uv.lock only when the lock changes. Bytecode is compiled at install
# time: this machine sets PYTHONDONTWRITEBYTECODE, and without .pyc files every stage spends seconds
# compiling imports.
.venv/.synced: uv.lock pyproject.toml | $(UV)
	UV_COMPILE_BYTECODE=1 $(UV) sync --frozen
	touch $@

# The scripts, styles and fonts Great Expectations Data Docs would load from CDNs (report-assets/package-lock.json),
# copied to report-assets/dist: the validate and features stages put them into every Data Docs site.
report-assets/dist/.synced: report-assets/package-lock.json report-assets/assets.json report-assets/vendor.mjs
	cd report-assets && npm ci --no-audit --no-fund --loglevel=error --ignore-scripts && node vendor.mjs
	touch $@

setup: .venv/.synced report-assets/dist/.synced
	@churnops remote  # the DVC remote: a folder on this machine unless the project names one

# The Spark and Flink engines of the features stage (the `spark` and `flink` extras: pyspark, sqlglot) for the tests that hold them to the
# DuckDB engine. pyspark is a 450 MB source distribution: uv builds it once (about a minute) and keeps the wheel
# in its cache, so later installs take seconds.
.venv/.spark-synced: .venv/.synced
	UV_COMPILE_BYTECODE=1 $(UV) sync --frozen --inexact --extra spark --extra flink
	touch $@

spark: .venv/.spark-synced

# Programs the tests start or call that come from Debian, installed when missing (root, or sudo): java (Spark),
# promtool (PrometheusRule checks and unit tests), a Pushgateway (the drift-metrics scrape test) and
# redis-server (the Redis online store of the feature store) and chromium (the browser tests of the reports, driven by
# Playwright: browser downloads are not possible here, so the Debian build is used) and haproxy (the
# health-checking proxy of the failover drill).
SYSTEM_TOOLS := java=default-jre-headless promtool=prometheus prometheus-pushgateway=prometheus-pushgateway redis-server=redis-server chromium=chromium haproxy=haproxy
system-tools:
	@missing=""; for tool in $(SYSTEM_TOOLS); do { command -v "$${tool%%=*}" || [ -x "/usr/sbin/$${tool%%=*}" ]; } >/dev/null || missing="$$missing $${tool#*=}"; done; \
	if [ -n "$$missing" ]; then \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  echo "installing from Debian:$$missing"; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The offline validators of the deployment artefacts (tests/deploy): Python ones from infra-tools/uv.lock
# into their own environment, the CRD validator from k8s/crd-validation/package-lock.json. kubectl and
# terraform come from the machine; promtool from `system-tools`.
INFRA := $(CURDIR)/.tools/infra
$(INFRA)/.synced: infra-tools/uv.lock infra-tools/pyproject.toml | $(UV)
	UV_PROJECT_ENVIRONMENT=$(INFRA) $(UV) sync --frozen --project infra-tools
	touch $@

k8s/crd-validation/node_modules/.synced: k8s/crd-validation/package-lock.json
	cd k8s/crd-validation && npm ci --no-audit --no-fund --loglevel=error
	touch $@

infra-tools: $(INFRA)/.synced k8s/crd-validation/node_modules/.synced

# The Flink job's environment (flink/uv.lock: PyFlink pins pyarrow < 21) in .tools/flink; churnops runs
# flink/job.py with its interpreter. Java comes from system-tools.
FLINK := $(CURDIR)/.tools/flink
$(FLINK)/.synced: flink/uv.lock flink/pyproject.toml | $(UV)
	UV_PROJECT_ENVIRONMENT=$(FLINK) $(UV) sync --frozen --project flink
	touch $@
flink: $(FLINK)/.synced

# The code and supply-chain scanners (scan-tools/uv.lock) in an environment of their own, .tools/scan.
SCAN := $(CURDIR)/.tools/scan
$(SCAN)/.synced: scan-tools/uv.lock scan-tools/pyproject.toml | $(UV)
	UV_PROJECT_ENVIRONMENT=$(SCAN) $(UV) sync --frozen --project scan-tools
	touch $@

scan-tools: $(SCAN)/.synced

pipeline: setup
	churnops run

# Brings the committed dvc.lock, and the metrics git versions (dvc.yaml), in step with the code and parameters: CI
# fails when they are stale (`churnops check-pipeline --lock`, tests/code). Commit what it lists.
lock: setup
	churnops run
	churnops check-pipeline --lock
	@git status --short dvc.lock reports/

lint: setup
	ruff check churnops nbs_lib notebooks tests benchmarks k8s feature_repo flink docs

# The SonarQube-style gate of `make test`: semgrep with the project's rules (scan-tools/semgrep-rules, no download),
# bandit (medium or high severity found with high confidence) and detect-secrets (anything not in .secrets.baseline)
# over the code and configuration. A finding fails the gate until it is fixed or justified on its line
# (`# nosemgrep: <rule> -- why`, `# nosec <test>` with the reason on the line above: bandit reads words after
# it as test ids, `# pragma: allowlist secret`). churnops/ is scanned as
# exported, so its justifications live in nbs_lib/. tests/ is left out, as semgrep and Sonar leave it by default.
SCANNED_CODE := churnops notebooks feature_repo k8s benchmarks dashboards flink
SECRETS_SCANNED = $(shell git ls-files)
scan: scan-tools
	SEMGREP_SEND_METRICS=off $(SCAN)/bin/semgrep scan --metrics off --disable-version-check --quiet --error \
	  --config scan-tools/semgrep-rules $(SCANNED_CODE)
	$(SCAN)/bin/bandit --quiet --recursive --configfile pyproject.toml --severity-level medium --confidence-level high \
	  $(SCANNED_CODE)
	@echo "detect-secrets-hook --baseline .secrets.baseline <$(words $(SECRETS_SCANNED)) files>"
	@$(SCAN)/bin/detect-secrets-hook --baseline .secrets.baseline $(SECRETS_SCANNED)
	@echo "scan: no semgrep finding, no bandit finding of medium or high severity, no new secret"

# Known vulnerabilities in the locked packages (PyPI's advisory data, via pip-audit). Needs pypi.org's JSON API or
# api.osv.dev, which this project's test machines cannot reach: the CI workflow runs it on GitHub's runners.
audit: scan-tools
	$(UV) export --frozen --format requirements-txt --no-emit-project --all-extras --all-groups --quiet \
	  --output-file .tools/requirements.lock.txt
	$(SCAN)/bin/pip-audit --disable-pip --require-hashes --progress-spinner off --strict -r .tools/requirements.lock.txt

# A CycloneDX SBOM of the installed environment (what the image ships: the same uv.lock), validated against the
# CycloneDX 1.6 schema, to $(SBOM).
SBOM := reports/sbom.cdx.json
sbom: setup scan-tools
	mkdir -p $(dir $(SBOM))
	$(SCAN)/bin/cyclonedx-py environment --pyproject pyproject.toml --output-reproducible --output-format JSON \
	  --spec-version 1.6 --validate --output-file $(SBOM) .venv/bin/python
	@echo "sbom: $(SBOM)"

# The SBOM of what the image installs (uv.lock without the dev group, as the Dockerfile syncs it), to $(SBOM): the
# image workflow signs it as an attestation of the image.
image-sbom: scan-tools
	$(UV) export --frozen --no-dev --no-emit-project --format requirements-txt --quiet \
	  --output-file .tools/image-requirements.txt
	mkdir -p $(dir $(SBOM))
	$(SCAN)/bin/cyclonedx-py requirements --pyproject pyproject.toml --output-reproducible --output-format JSON \
	  --spec-version 1.6 --validate --output-file $(SBOM) .tools/image-requirements.txt
	@echo "image-sbom: $(SBOM)"

# nbs_lib is the only place library code is written: exporting it again must reproduce churnops/,
# and the notebooks must already be clean (no outputs or execution counts).
nbdev-check: setup
	tmp=$$(mktemp -d) && cp -r settings.ini nbs_lib churnops pyproject.toml "$$tmp"/ && \
	  (cd "$$tmp" && nbdev_clean --fname nbs_lib && nbdev_export) && \
	  diff -r -x __pycache__ nbs_lib "$$tmp/nbs_lib" && diff -r -x __pycache__ churnops "$$tmp/churnops" && \
	  rm -rf "$$tmp" && echo "nbdev: nbs_lib is clean and churnops/ matches its export"

nbdev-test: setup spark
	nbdev_test --path nbs_lib --n_workers 1

# Two pytest processes (pytest-xdist), each given whole test files: a file's tests run in order in one process and
# share its fixtures. The pipeline runs the tests start are mostly single-threaded, so two processes use both cores;
# each process then gets one OpenMP thread (two each would oversubscribe 2 cores). PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= 2
# The fast tier for developers: lint, the library notebooks' tests and every test that needs no whole pipeline run,
# broker, Spark or browser (a few minutes; `make test` runs everything, as CI does).
test-fast: lint nbdev-check nbdev-test docs setup
	OMP_NUM_THREADS=1 pytest -n $(PYTEST_WORKERS) --dist loadfile -m "not slow and not heavy" tests/code tests/data tests/model tests/serving tests/pipeline

pytest: setup spark flink system-tools infra-tools scan-tools
	OMP_NUM_THREADS=1 pytest -n $(PYTEST_WORKERS) --dist loadfile

# Only the deployment artefacts (k8s, Terraform, Dockerfile, workflows, Kubeflow): about a minute.
deploy-check: setup system-tools infra-tools
	pytest tests/deploy

# The documentation site (README.md as its home page, docs/ one page per topic) in site/; --strict: a link to a missing
# page or anchor fails the build. tests/reports/test_docs_site.py builds it again and opens every page in a browser.
docs: setup
	mkdocs build --strict --quiet
	@echo "docs: $(CURDIR)/site/index.html"

test: lint scan nbdev-check nbdev-test docs pytest

# The gauntlet of generated customer tables and event logs (tests/data/test_gauntlet.py) with many examples; `make test`
# runs a handful. Each example prints how it ended (champion, or the reason there is none).
GAUNTLET_EXAMPLES ?= 100
gauntlet: setup
	GAUNTLET_EXAMPLES=$(GAUNTLET_EXAMPLES) OMP_NUM_THREADS=1 pytest -s tests/data/test_gauntlet.py

benchmark: spark
	UV_COMPILE_BYTECODE=1 $(UV) sync --frozen --inexact --group benchmark
	python benchmarks/model_call.py
	python benchmarks/model_load.py
	python benchmarks/pipeline_stages.py
	python benchmarks/features_scale.py --engines duckdb
	python benchmarks/features_scale.py --customers 30000 --engines duckdb spark
	python benchmarks/serving.py
	python benchmarks/feature_store.py
	python benchmarks/hostile.py

clean:
	rm -rf data models reports mlflow.db mlartifacts feature_repo/feature_store.yaml
