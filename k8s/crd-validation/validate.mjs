// Validate the custom resources in YAML files against the OpenAPI schemas of their CRDs.
// The schemas come from @kubernetes-models (generated from the upstream CRDs of Argo CD 3, Argo Rollouts, the
// Prometheus Operator, KEDA and Kyverno), pinned in package-lock.json. Kinds without a schema here are left to kubernetes-validate.
// Usage: node validate.mjs FILE.yaml...   Exit code 1 and one line per error when a resource is invalid.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { Application } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application";
import { AppProject } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/AppProject";
import { ApplicationSet } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/ApplicationSet";
import { AnalysisTemplate } from "@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1/AnalysisTemplate";
import { Rollout } from "@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1/Rollout";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { PodMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import { TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication";
import { ClusterPolicy } from "@kubernetes-models/kyverno/kyverno.io/v1/ClusterPolicy";

const models = {
  "argoproj.io/v1alpha1/Application": Application,
  "argoproj.io/v1alpha1/AppProject": AppProject,
  "argoproj.io/v1alpha1/ApplicationSet": ApplicationSet,
  "argoproj.io/v1alpha1/Rollout": Rollout,
  "argoproj.io/v1alpha1/AnalysisTemplate": AnalysisTemplate,
  "monitoring.coreos.com/v1/PrometheusRule": PrometheusRule,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
  "monitoring.coreos.com/v1/PodMonitor": PodMonitor,
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
  "keda.sh/v1alpha1/TriggerAuthentication": TriggerAuthentication,
  "kyverno.io/v1/ClusterPolicy": ClusterPolicy,
};

let errors = 0;
let validated = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length) {
      errors += 1;
      console.log(`${file}: not YAML: ${doc.errors[0].message}`);
      continue;
    }
    const object = doc.toJS();
    if (!object) continue;
    const Model = models[`${object.apiVersion}/${object.kind}`];
    if (!Model) continue;
    try {
      new Model(object).validate();
      validated += 1;
    } catch (error) {
      errors += 1;
      const name = object.metadata?.name ?? "(no name)";
      console.log(`${file}: ${object.kind}/${name}: ${error.message}`);
    }
  }
}
console.log(`${validated} custom resources valid, ${errors} invalid`);
process.exit(errors ? 1 : 0);
