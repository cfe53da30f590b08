# Three buckets per environment, all versioned, KMS-encrypted, private (public access blocked, ACLs off),
# TLS-only, with access logs:
#   artifacts: the DVC remote (dvc/) and the pipeline state (state/) of churnops cluster-run
#   mlflow:    MLflow artifacts (models), written through the tracking server
#   reports:   executed notebooks, Data Docs, Evidently reports, the run index (latest/)
locals {
  buckets = {
    artifacts = "DVC remote and pipeline state"
    mlflow    = "MLflow artifacts"
    reports   = "published reports"
  }
}

module "bucket" {
  source            = "../private-bucket"
  for_each          = local.buckets
  name              = "${local.prefix}-${each.key}"
  purpose           = each.value
  kms_key_arn       = local.data_key_arn
  access_log_bucket = aws_s3_bucket.access_logs.id
}

# Server access logs of the three buckets. S3 log delivery cannot write with SSE-KMS: this bucket uses
# SSE-S3 (AES-256), and keeps logs for a year.
resource "aws_s3_bucket" "access_logs" {
  bucket = "${local.prefix}-access-logs"
  tags   = { Purpose = "S3 server access logs" }
}

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket                  = aws_s3_bucket.access_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    id     = "expire-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = 365
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket     = aws_s3_bucket.access_logs.id
  policy     = jsonencode(local.access_logs_policy)
  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}

locals {
  access_logs_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.access_logs.arn, "${aws_s3_bucket.access_logs.arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
      {
        Sid       = "S3ServerAccessLogs"
        Effect    = "Allow"
        Principal = { Service = "logging.s3.amazonaws.com" }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.access_logs.arn}/*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
          ArnLike      = { "aws:SourceArn" = [for name in keys(local.buckets) : "arn:${local.partition}:s3:::${local.prefix}-${name}"] }
        }
      },
    ]
  }
}
