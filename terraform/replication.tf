# Cross-region replication of a multi-region environment, both ways: the active region's writes reach the
# standby within 15 minutes, and after a failover the standby's writes come back the same way
# (k8s/RUNBOOK.md). Only one region's pipeline runs at a time (the CronJob patches of k8s/overlays/prod*), so the two
# directions never carry writes to the same object at once. The access-log buckets stay in their region: they
# record that region's requests.
module "replicate_to_secondary" {
  source    = "./modules/bucket-replication"
  count     = local.multi_region ? 1 : 0
  providers = { aws = aws }

  name                = "${local.prefix}-s3-replication-to-${var.secondary_region}"
  source_buckets      = module.primary.buckets
  destination_buckets = module.secondary[0].buckets
  source_key_arn      = module.primary.data_key_arn
  destination_key_arn = module.secondary[0].data_key_arn
  destination_region  = var.secondary_region
}

module "replicate_to_primary" {
  source    = "./modules/bucket-replication"
  count     = local.multi_region ? 1 : 0
  providers = { aws = aws.secondary }

  name                = "${local.prefix}-s3-replication-to-${var.region}"
  source_buckets      = module.secondary[0].buckets
  destination_buckets = module.primary.buckets
  source_key_arn      = module.secondary[0].data_key_arn
  destination_key_arn = module.primary.data_key_arn
  destination_region  = var.region
}

# Images: the CI workflow pushes to the primary region's repository only (github.tf); ECR copies every image of
# the repository to the secondary's, where its own key encrypts it and its nodes pull it (same tag, same digest).
resource "aws_ecr_replication_configuration" "images" {
  count = local.multi_region ? 1 : 0

  replication_configuration {
    rule {
      destination {
        region      = var.secondary_region
        registry_id = local.account_id
      }
      repository_filter {
        filter      = var.name
        filter_type = "PREFIX_MATCH"
      }
    }
  }
}
