# Two customer-managed keys per region.
# main: the region's own resources: the ECR repository, EKS secrets, node volumes, logs, Redis, MSK. Key policy:
#   the account administers it; CloudWatch Logs may use it for this environment's logs. (It encrypted the
#   buckets too before the data key existed: objects written then still name it, so the workload roles keep
#   Decrypt on it.)
# data: the replicated data (S3 buckets, the MLflow database). A multi-region key: the primary region creates
#   it, every other region holds a replica with the same key material, so data replicated between regions is
#   readable in each with the key of that region and no call to another region.
resource "aws_kms_key" "main" {
  description             = "${local.prefix}: ECR, EKS secrets, volumes, logs, Redis, MSK"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogs"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = { "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*${local.prefix}*" }
        }
      },
    ]
  })
}

resource "aws_kms_alias" "main" {
  name          = "alias/${local.prefix}"
  target_key_id = aws_kms_key.main.key_id
}

resource "aws_kms_key" "data" {
  count                   = local.primary ? 1 : 0
  description             = "${local.prefix}: replicated data (S3 buckets, MLflow database)"
  multi_region            = true
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = jsonencode(local.data_key_policy)
}

resource "aws_kms_replica_key" "data" {
  count                   = local.primary ? 0 : 1
  description             = "${local.prefix}: replicated data (S3 buckets, MLflow database)"
  primary_key_arn         = var.data_key_primary_arn
  deletion_window_in_days = 30
  policy                  = jsonencode(local.data_key_policy)
}

resource "aws_kms_alias" "data" {
  name          = "alias/${local.prefix}-data"
  target_key_id = local.data_key_arn
}

locals {
  data_key_arn = local.primary ? aws_kms_key.data[0].arn : aws_kms_replica_key.data[0].arn
  data_key_policy = {
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministers"
      Effect    = "Allow"
      Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  }
}
