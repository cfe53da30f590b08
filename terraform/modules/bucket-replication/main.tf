# S3 replication of an environment's data buckets from one region to the other (../../replication.tf runs it
# both ways). Every new object version and delete marker is copied, re-encrypted with the destination region's
# replica of the data key, within 15 minutes for 99.99% of objects (Replication Time Control), with metrics.
#
# Delete markers are replicated: the standby sees what the active region sees (a model MLflow's gc removed does
# not come back after a failover). Versions stay: both sides keep noncurrent versions for 90 days, so a mistaken
# delete is undone in either region, and S3 never replicates the permanent deletion of a version, so nobody can
# erase both copies from one region.
terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}

variable "name" {
  description = "Name of the replication role."
  type        = string
}

variable "source_buckets" {
  description = "name => { bucket, arn } of each bucket to replicate (the region module's buckets output)"
  type        = map(object({ bucket = string, arn = string }))
}

variable "destination_buckets" {
  description = "name => { bucket, arn } of their counterparts in the destination region, by the same names"
  type        = map(object({ bucket = string, arn = string }))
}

variable "source_key_arn" {
  type = string
}

variable "destination_key_arn" {
  type = string
}

variable "destination_region" {
  type = string
}

resource "aws_iam_role" "replication" {
  name = var.name
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "s3.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "replication" {
  name = "replicate-data-buckets"
  role = aws_iam_role.replication.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadReplicationConfiguration"
        Effect   = "Allow"
        Action   = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
        Resource = [for bucket in var.source_buckets : bucket.arn]
      },
      {
        Sid      = "ReadSourceVersions"
        Effect   = "Allow"
        Action   = ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"]
        Resource = [for bucket in var.source_buckets : "${bucket.arn}/*"]
      },
      {
        Sid      = "WriteReplicas"
        Effect   = "Allow"
        Action   = ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]
        Resource = [for bucket in var.destination_buckets : "${bucket.arn}/*"]
      },
      {
        Sid      = "DecryptSource"
        Effect   = "Allow"
        Action   = "kms:Decrypt"
        Resource = var.source_key_arn
      },
      {
        Sid      = "EncryptReplicas"
        Effect   = "Allow"
        Action   = ["kms:Encrypt", "kms:GenerateDataKey"]
        Resource = var.destination_key_arn
      },
    ]
  })
}

resource "aws_s3_bucket_replication_configuration" "this" {
  for_each = var.source_buckets
  bucket   = each.value.bucket
  role     = aws_iam_role.replication.arn

  rule {
    id     = "to-${var.destination_region}"
    status = "Enabled"
    filter {}

    delete_marker_replication {
      status = "Enabled"
    }

    source_selection_criteria {
      sse_kms_encrypted_objects {
        status = "Enabled"
      }
      # Metadata changes made to replicas flow back: the two directions keep one object history.
      replica_modifications {
        status = "Enabled"
      }
    }

    destination {
      bucket        = var.destination_buckets[each.key].arn
      storage_class = "STANDARD"

      encryption_configuration {
        replica_kms_key_id = var.destination_key_arn
      }

      replication_time {
        status = "Enabled"
        time {
          minutes = 15
        }
      }

      metrics {
        status = "Enabled"
        event_threshold {
          minutes = 15
        }
      }
    }
  }
}

output "rules" {
  description = "bucket name => its replication rule (what the root module's tests check)"
  value       = { for name, configuration in aws_s3_bucket_replication_configuration.this : name => configuration.rule[0] }
}

output "role_policy" {
  value = aws_iam_role_policy.replication.policy
}
