output "cluster_name" {
  value = aws_eks_cluster.main.name
}

output "cluster_endpoint" {
  value = aws_eks_cluster.main.endpoint
}

output "irsa_role_arns" {
  value = { for name, role in aws_iam_role.irsa : name => role.arn }
}

output "irsa_policies" {
  description = "Each workload role's policy document (what the root module's tests check across regions)."
  value       = { for name, policy in aws_iam_role_policy.irsa : name => policy.policy }
}

output "buckets" {
  description = "name => { bucket, arn, encryption, versioning_status } of each data bucket"
  value = { for name, bucket in module.bucket : name => {
    bucket            = bucket.bucket
    arn               = bucket.arn
    encryption        = bucket.encryption
    versioning_status = bucket.versioning_status
  } }
}

output "data_key_arn" {
  description = "The region's multi-region data key (the primary key, or its replica)."
  value       = local.data_key_arn
}

output "data_key_origin" {
  description = "Whether the data key is multi-region, and the primary key it is (or replicates)."
  value = local.primary ? { multi_region = aws_kms_key.data[0].multi_region, primary_key_arn = aws_kms_key.data[0].arn } : {
    multi_region = true, primary_key_arn = aws_kms_replica_key.data[0].primary_key_arn
  }
}

output "ecr_repository_url" {
  value = aws_ecr_repository.churnops.repository_url
}

output "ecr_repository_arn" {
  value = aws_ecr_repository.churnops.arn
}

output "main_key_arn" {
  value = aws_kms_key.main.arn
}

output "feature_store_redis_endpoint" {
  value = aws_elasticache_replication_group.feature_store.primary_endpoint_address
}

output "stream_kafka_bootstrap_brokers" {
  value = aws_msk_cluster.stream.bootstrap_brokers_sasl_scram
}

output "mlflow_db_endpoints" {
  description = "The cluster's writer endpoint (a secondary's takes writes only once promoted) and reader endpoint; null: in-cluster PostgreSQL."
  value = var.mlflow_db == null ? null : {
    writer = aws_rds_cluster.mlflow["mlflow"].endpoint
    reader = aws_rds_cluster.mlflow["mlflow"].reader_endpoint
  }
}

output "mlflow_db_cluster" {
  description = "What the root module's tests check: the cluster's global membership, key and protection."
  value = var.mlflow_db == null ? null : {
    arn                       = aws_rds_cluster.mlflow["mlflow"].arn
    global_cluster_identifier = aws_rds_cluster.mlflow["mlflow"].global_cluster_identifier
    kms_key_id                = aws_rds_cluster.mlflow["mlflow"].kms_key_id
    storage_encrypted         = aws_rds_cluster.mlflow["mlflow"].storage_encrypted
    instances                 = length(aws_rds_cluster_instance.mlflow)
  }
  # A secondary cluster can join the global database only once the writer has an instance.
  depends_on = [aws_rds_cluster_instance.mlflow]
}
