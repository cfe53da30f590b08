# One region of an environment: its VPC, EKS cluster, buckets, image repository, key, online store, Kafka and
# MLflow database. The root module instantiates it once per region (../../regions.tf) with that region's
# provider; what spans regions (replication, failover records, the global database) is in the root module.
terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_availability_zones" "available" {
  state = "available"
}

locals {
  prefix     = var.prefix
  primary    = var.role == "primary"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  azs        = slice(data.aws_availability_zones.available.names, 0, var.az_count)
  # Kubernetes namespace of this environment (k8s/overlays/<environment>) and its service accounts: the same
  # in every region, so one overlay's manifests differ between regions only in the values of that region.
  namespace = "${var.name}-${var.environment}"
}
