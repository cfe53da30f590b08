terraform {
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Remote state in S3 with native locking (no DynamoDB table). Partial configuration: the bucket, key and
  # region of each environment are in backend/<environment>.s3.tfbackend:
  #   terraform init -backend-config=backend/dev.s3.tfbackend
  backend "s3" {}
}
