# The feature store's online store (Feast, churnops.feature_store): ElastiCache for Redis, encrypted in
# transit (TLS) and at rest (the environment's KMS key), AUTH token required, a replica in a second zone
# with automatic failover, daily snapshots, reachable only from the EKS nodes on 6379. The API and the
# materialize Job connect with CHURNOPS_ONLINE_STORE=redis and
# CHURNOPS_REDIS_CONNECTION=<primary endpoint>:6379,ssl=true,password=${REDIS_PASSWORD} (k8s/base/config.env).
resource "aws_elasticache_subnet_group" "feature_store" {
  name       = "${local.prefix}-feature-store"
  subnet_ids = aws_subnet.private[*].id
}

resource "aws_security_group" "feature_store" {
  name        = "${local.prefix}-feature-store"
  description = "Redis online store: reachable from the EKS cluster only"
  vpc_id      = aws_vpc.main.id
  tags        = { Name = "${local.prefix}-feature-store" }
}

resource "aws_vpc_security_group_ingress_rule" "feature_store_from_cluster" {
  security_group_id            = aws_security_group.feature_store.id
  description                  = "Redis (TLS) from the EKS cluster security group (API pods, materialize Jobs)"
  referenced_security_group_id = aws_eks_cluster.main.vpc_config[0].cluster_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
}

resource "aws_elasticache_replication_group" "feature_store" {
  replication_group_id       = "${local.prefix}-features"
  description                = "ChurnOps online feature store (Feast)"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = var.feature_store_node_type
  port                       = 6379
  num_cache_clusters         = 2
  automatic_failover_enabled = true
  multi_az_enabled           = true
  subnet_group_name          = aws_elasticache_subnet_group.feature_store.name
  security_group_ids         = [aws_security_group.feature_store.id]
  at_rest_encryption_enabled = true
  kms_key_id                 = aws_kms_key.main.arn
  transit_encryption_enabled = true
  auth_token                 = var.feature_store_redis_auth_token
  snapshot_retention_limit   = 7
  snapshot_window            = "03:00-04:00"
  maintenance_window         = "sun:04:30-sun:05:30"
  auto_minor_version_upgrade = true
  apply_immediately          = false
}
