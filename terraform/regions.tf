# The regions of this environment: the same module (modules/region) once per region, each with its own
# provider. The primary keeps the names it had as a single-region environment (<name>-<environment>-*:
# renaming buckets would mean moving their data); the secondary's names carry its region.
# Terraform cannot pass one provider per instance of a module with for_each: two module blocks, the same
# arguments but for the region's own.
locals {
  mlflow_db = { engine_version = var.mlflow_db_engine_version, instance_class = var.mlflow_db_instance_class }
}

module "primary" {
  source    = "./modules/region"
  providers = { aws = aws }

  role      = "primary"
  region    = var.region
  prefix    = local.prefix
  vpc_cidr  = var.vpc_cidr
  mlflow_db = local.multi_region ? merge(local.mlflow_db, { instances = 2, global_cluster_id = aws_rds_global_cluster.mlflow[0].id }) : null

  mlflow_db_password             = var.mlflow_db_password
  name                           = var.name
  environment                    = var.environment
  az_count                       = var.az_count
  single_nat_gateway             = var.single_nat_gateway
  kubernetes_version             = var.kubernetes_version
  endpoint_public_access_cidrs   = var.endpoint_public_access_cidrs
  node_instance_types            = var.node_instance_types
  node_min_size                  = var.node_min_size
  node_desired_size              = var.node_desired_size
  node_max_size                  = var.node_max_size
  log_retention_days             = var.log_retention_days
  feature_store_node_type        = var.feature_store_node_type
  feature_store_redis_auth_token = var.feature_store_redis_auth_token
  stream_kafka_version           = var.stream_kafka_version
  stream_broker_instance_type    = var.stream_broker_instance_type
  stream_broker_volume_gb        = var.stream_broker_volume_gb
  stream_kafka_password          = var.stream_kafka_password
}

module "secondary" {
  source    = "./modules/region"
  count     = local.multi_region ? 1 : 0
  providers = { aws = aws.secondary }

  role                 = "secondary"
  region               = var.secondary_region
  prefix               = "${local.prefix}-${var.secondary_region}"
  vpc_cidr             = var.secondary_vpc_cidr
  data_key_primary_arn = module.primary.data_key_arn
  # The secondary cluster joins the global database once the writer has its instances (module output).
  mlflow_db = local.multi_region ? merge(local.mlflow_db, {
    instances         = 1
    global_cluster_id = module.primary.mlflow_db_cluster.global_cluster_identifier
  }) : null

  name                           = var.name
  environment                    = var.environment
  az_count                       = var.az_count
  single_nat_gateway             = var.single_nat_gateway
  kubernetes_version             = var.kubernetes_version
  endpoint_public_access_cidrs   = var.endpoint_public_access_cidrs
  node_instance_types            = var.node_instance_types
  node_min_size                  = var.node_min_size
  node_desired_size              = var.node_desired_size
  node_max_size                  = var.node_max_size
  log_retention_days             = var.log_retention_days
  feature_store_node_type        = var.feature_store_node_type
  feature_store_redis_auth_token = var.feature_store_redis_auth_token
  stream_kafka_version           = var.stream_kafka_version
  stream_broker_instance_type    = var.stream_broker_instance_type
  stream_broker_volume_gb        = var.stream_broker_volume_gb
  stream_kafka_password          = var.stream_kafka_password
}
