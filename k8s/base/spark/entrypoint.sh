#!/bin/bash
# Entrypoint of the churnops `spark` image (Dockerfile, target spark) for Spark on Kubernetes. Spark's Kubernetes
# scheduler starts the driver pod with the arguments `driver <spark-submit arguments>` and each executor pod with
# `executor` and its settings in SPARK_* environment variables; pyspark's pip distribution has the jars and
# scripts for both but not an image entrypoint, so this is it. Anything else runs as given (e.g. `churnops ...`).
set -euo pipefail

spark_home="${SPARK_HOME:?the image sets SPARK_HOME}"
case "${1:-}" in
  driver)
    shift
    # client deploy mode inside the driver pod: the pod is the driver; bind where the scheduler told it to
    exec "${spark_home}/bin/spark-submit" --conf "spark.driver.bindAddress=${SPARK_DRIVER_BIND_ADDRESS:-0.0.0.0}" \
      --deploy-mode client "$@"
    ;;
  executor)
    shift
    # the JVM options Spark passes one per variable (SPARK_JAVA_OPT_0, SPARK_JAVA_OPT_1, ...), in order
    java_opts=()
    for index in $(compgen -v SPARK_JAVA_OPT_ | sed 's/^SPARK_JAVA_OPT_//' | sort -n); do
      name="SPARK_JAVA_OPT_${index}"
      java_opts+=("${!name}")
    done
    exec java "${java_opts[@]}" -Xms"${SPARK_EXECUTOR_MEMORY}" -Xmx"${SPARK_EXECUTOR_MEMORY}" \
      -cp "${SPARK_CLASSPATH:+${SPARK_CLASSPATH}:}${spark_home}/jars/*" \
      org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
      --driver-url "${SPARK_DRIVER_URL}" --executor-id "${SPARK_EXECUTOR_ID}" --cores "${SPARK_EXECUTOR_CORES}" \
      --app-id "${SPARK_APPLICATION_ID}" --hostname "${SPARK_EXECUTOR_POD_IP}" \
      --resourceProfileId "${SPARK_RESOURCE_PROFILE_ID:-0}" --podName "${SPARK_EXECUTOR_POD_NAME:-${HOSTNAME}}"
    ;;
  *)
    exec "$@"
    ;;
esac
