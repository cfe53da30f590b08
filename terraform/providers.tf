# One provider per region: the default one is the primary region's. The secondary's exists in a single-region
# environment too (Terraform needs every provider configured), pointing at the primary region, used by nothing.
provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

provider "aws" {
  alias  = "secondary"
  region = coalesce(var.secondary_region, var.region)

  default_tags {
    tags = local.tags
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  prefix       = "${var.name}-${var.environment}"
  account_id   = data.aws_caller_identity.current.account_id
  partition    = data.aws_partition.current.partition
  multi_region = var.secondary_region != null
  tags = {
    Project     = var.name
    Environment = var.environment
    ManagedBy   = "terraform"
    Repository  = var.github_repository
  }
}
