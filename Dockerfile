# syntax=docker/dockerfile:1
# One image, two entrypoints (the `churnops` command):
#   API:              churnops serve --host 0.0.0.0 --model-source models:/churnops-churn@champion
#   pipeline stages:  churnops cluster-run STAGE...   (k8s Jobs and CronJobs, Kubeflow steps)
# Build: docker build -t churnops:dev .   Both stages use the same base, pinned to a patch release (a bump
# is a reviewed change of both FROM lines; the image workflow rebuilds with --pull and scans the result).
# The `spark` target (docker build --target spark -t churnops:dev-spark .) adds the features stage's Spark engine:
# Java, the `spark` extra and the S3A connector. It runs the SparkApplication of k8s/base/spark (driver and
# executors); the runtime image stays without a JVM.

# ---- build: resolve the locked environment into /opt/venv (uv, no dev group) ----
FROM python:3.11.14-slim-bookworm AS build
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /src
# Dependencies first: this layer is rebuilt only when the lock changes.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY churnops/ churnops/
COPY README.md settings.ini ./
RUN uv sync --frozen --no-dev --no-editable

# ---- build-spark: the same environment plus the `spark` extra (pyspark, sqlglot) ----
FROM build AS build-spark
RUN uv sync --frozen --no-dev --no-editable --extra spark

# ---- report assets: what Great Expectations Data Docs would load from CDNs, from the locked npm packages ----
FROM node:22.12.0-bookworm-slim AS report-assets
WORKDIR /src/report-assets
COPY report-assets/package.json report-assets/package-lock.json report-assets/assets.json report-assets/vendor.mjs ./
RUN npm ci --no-audit --no-fund --ignore-scripts && node vendor.mjs

# ---- runtime: the environment and the project files, no compilers, no uv, no secrets ----
FROM python:3.11.14-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="churnops" \
      org.opencontainers.image.description="Churn prediction pipeline stages and prediction API" \
      org.opencontainers.image.source="https://github.com/churnops/churnops" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 churnops \
 && useradd --system --uid 10001 --gid churnops --no-create-home --shell /usr/sbin/nologin churnops
COPY --from=build /opt/venv /opt/venv
# The project files a stage run needs (dvc.yaml hashes the notebooks and the library modules it names);
# data, models and reports come from the artifact store at run time.
WORKDIR /opt/churnops/project
COPY --chown=root:root dvc.yaml dvc.lock pipeline.yaml params.yaml params.override.yaml .dvcignore ./
# Ploomber's interactive tools read the parameters through env.yaml, a link to params.yaml (COPY would copy the
# file it points to); `churnops stage` hands the stages params.yaml merged with params.override.yaml.
RUN ln -s params.yaml env.yaml
COPY --chown=root:root .dvc/config .dvc/
COPY --chown=root:root notebooks/ notebooks/
COPY --chown=root:root churnops/ churnops/
COPY --chown=root:root dashboards/ dashboards/
COPY --chown=root:root feature_repo/features.py feature_repo/
# Data Docs open without a network: the validate and features stages copy these into each site.
COPY --chown=root:root report-assets/assets.json report-assets/
COPY --from=report-assets --chown=root:root /src/report-assets/dist report-assets/dist
# The root filesystem is read-only in the cluster: everything that writes goes to /tmp or the workspace
# (an emptyDir volume), and the numba/matplotlib/jupyter caches are pointed there.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    CHURNOPS_PROJECT_DIR=/opt/churnops/project \
    CHURNOPS_WORKSPACE=/workspace \
    NUMBA_CACHE_DIR=/tmp/numba \
    MPLCONFIGDIR=/tmp/matplotlib \
    JUPYTER_RUNTIME_DIR=/tmp/jupyter \
    IPYTHONDIR=/tmp/ipython \
    MLFLOW_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=true \
    DVC_NO_ANALYTICS=1 \
    GX_ANALYTICS_ENABLED=false \
    PLOOMBER_STATS_ENABLED=false \
    OMP_NUM_THREADS=2
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2).status != 200)"]
ENTRYPOINT ["churnops"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--model-source", "models:/churnops-churn@champion"]

# ---- spark: the runtime plus a JRE, pyspark and the S3A connector (Hadoop's hadoop-aws, the AWS SDK bundle it
# was built against and the analytics accelerator it needs at compile scope; pyspark ships Hadoop's client jars but not
# these), each checked against a SHA-1 pinned here (as Maven Central publishes it; not fetched from the same host at
# build time, so a tampered mirror cannot hand over a matching sum). A version change changes its pin, in this file.
# Spark's Kubernetes scheduler starts driver and executor pods from this image (k8s/base/spark/entrypoint.sh); the
# driver runs /opt/churnops/spark-main.py, the `churnops` command as a .py file, which spark-submit needs. ----
FROM runtime AS spark
ARG HADOOP_VERSION=3.5.0
ARG AWS_SDK_VERSION=2.35.4
ARG ANALYTICS_ACCELERATOR_VERSION=1.3.1
USER 0:0
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless curl ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build-spark /opt/venv /opt/venv
RUN jars=/opt/venv/lib/python3.11/site-packages/pyspark/jars \
 && printf '%s\n' \
      "9e594525d264c0db653c7f68da98b245f7d61ea5 org/apache/hadoop/hadoop-aws/${HADOOP_VERSION}/hadoop-aws-${HADOOP_VERSION}.jar" \
      "7252265e3970b214708e68a8b74a8fa8c875af1e software/amazon/awssdk/bundle/${AWS_SDK_VERSION}/bundle-${AWS_SDK_VERSION}.jar" \
      "6c9bd0f6c440c9a78e82d272f5f0252d942419f6 software/amazon/s3/analyticsaccelerator/analyticsaccelerator-s3/${ANALYTICS_ACCELERATOR_VERSION}/analyticsaccelerator-s3-${ANALYTICS_ACCELERATOR_VERSION}.jar" \
    | while read -r sha1 artifact; do \
        jar="${jars}/${artifact##*/}"; \
        curl -fsSL --retry 3 -o "${jar}" "https://repo1.maven.org/maven2/${artifact}" \
        && echo "${sha1}  ${jar}" | sha1sum -c - || exit 1; \
      done \
 && apt-get purge -y curl && apt-get autoremove -y
COPY --chown=0:0 --chmod=0755 k8s/base/spark/entrypoint.sh /opt/churnops/entrypoint.sh
COPY --chown=0:0 k8s/base/spark/main.py /opt/churnops/spark-main.py
ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 \
    SPARK_HOME=/opt/venv/lib/python3.11/site-packages/pyspark \
    PYSPARK_PYTHON=/opt/venv/bin/python \
    CHURNOPS_FEATURES_ENGINE=spark
USER 10001:10001
HEALTHCHECK NONE
ENTRYPOINT ["/opt/churnops/entrypoint.sh"]
