# Per region (keyed by region name): what k8s/overlays/<environment>[-<region>] need.
locals {
  regions = merge({ (var.region) = module.primary }, local.multi_region ? { (var.secondary_region) = module.secondary[0] } : {})
}

output "cluster_names" {
  description = "aws eks update-kubeconfig --region <region> --name <this>"
  value       = { for region, outputs in local.regions : region => outputs.cluster_name }
}

output "cluster_endpoints" {
  description = "Argo CD's cluster secrets (k8s/argocd/churnops-prod.yaml's destinations)"
  value       = { for region, outputs in local.regions : region => outputs.cluster_endpoint }
}

output "irsa_role_arns" {
  description = "eks.amazonaws.com/role-arn of each service account (irsa.yaml of each region's overlay)"
  value       = { for region, outputs in local.regions : region => outputs.irsa_role_arns }
}

output "buckets" {
  description = "CHURNOPS_DVC_REMOTE, CHURNOPS_STATE_URL, CHURNOPS_REPORTS_URL and MLFLOW_ARTIFACTS_DESTINATION live here"
  value       = { for region, outputs in local.regions : region => { for name, bucket in outputs.buckets : name => bucket.bucket } }
}

output "ecr_repository_urls" {
  description = "images: newName of each region's overlay (the secondary's is a replica)"
  value       = { for region, outputs in local.regions : region => outputs.ecr_repository_url }
}

output "github_image_push_role_arn" {
  description = "AWS_IMAGE_PUSH_ROLE_ARN of the GitHub repository (image workflow)"
  value       = aws_iam_role.github_image_push.arn
}

output "feature_store_redis_endpoints" {
  description = "Primary endpoint of each region's Redis online store (CHURNOPS_REDIS_CONNECTION=<this>:6379,ssl=true,password=...)."
  value       = { for region, outputs in local.regions : region => outputs.feature_store_redis_endpoint }
}

output "stream_kafka_bootstrap_brokers" {
  description = "Each region's MSK brokers (SASL/SCRAM over TLS) for CHURNOPS_KAFKA_BOOTSTRAP"
  value       = { for region, outputs in local.regions : region => outputs.stream_kafka_bootstrap_brokers }
}

output "mlflow_db_endpoints" {
  description = "MLFLOW_DB_HOST of each region's overlay: the primary's writer, the secondary's reader until it is promoted (multi-region environments)"
  value       = { for region, outputs in local.regions : region => outputs.mlflow_db_endpoints }
}
