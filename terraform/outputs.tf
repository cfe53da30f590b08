output "cluster_name" {
  description = "aws eks update-kubeconfig --name <this>"
  value       = aws_eks_cluster.main.name
}

output "cluster_endpoint" {
  value = aws_eks_cluster.main.endpoint
}

output "irsa_role_arns" {
  description = "eks.amazonaws.com/role-arn of each service account (k8s/overlays/<environment>/irsa.yaml)"
  value       = { for name, role in aws_iam_role.irsa : name => role.arn }
}

output "buckets" {
  description = "CHURNOPS_DVC_REMOTE, CHURNOPS_STATE_URL, CHURNOPS_REPORTS_URL and MLFLOW_ARTIFACTS_DESTINATION live here"
  value       = { for name, bucket in module.bucket : name => bucket.bucket }
}

output "ecr_repository_url" {
  description = "images: newName of the overlays"
  value       = aws_ecr_repository.churnops.repository_url
}

output "github_image_push_role_arn" {
  description = "AWS_IMAGE_PUSH_ROLE_ARN of the GitHub repository (image workflow)"
  value       = aws_iam_role.github_image_push.arn
}

output "feature_store_redis_endpoint" {
  description = "Primary endpoint of the Redis online store (CHURNOPS_REDIS_CONNECTION=<this>:6379,ssl=true,password=...)."
  value       = aws_elasticache_replication_group.feature_store.primary_endpoint_address
}

output "stream_kafka_bootstrap_brokers" {
  description = "MSK brokers (SASL/SCRAM over TLS) for CHURNOPS_KAFKA_BOOTSTRAP in k8s/overlays/<env>"
  value       = aws_msk_cluster.stream.bootstrap_brokers_sasl_scram
}
