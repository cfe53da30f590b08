variable "name" {
  description = "Prefix of every resource name; S3 bucket names are global, so change it if churnops-<environment>-* is taken."
  type        = string
  default     = "churnops"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,20}$", var.name))
    error_message = "name: 3 to 21 lower-case letters, digits or dashes, starting with a letter."
  }
}

variable "environment" {
  description = "dev or prod: one VPC, EKS cluster and set of buckets each (k8s/overlays/<environment>)."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be dev or prod."
  }
}

variable "region" {
  description = "The primary AWS region: it runs the pipeline and holds the writer copies of the buckets and the MLflow database."
  type        = string
  default     = "eu-west-1"
}

variable "secondary_region" {
  description = "The standby region (k8s/RUNBOOK.md): the same modules, replicated buckets, images and MLflow database, pipeline suspended. null: a single-region environment."
  type        = string
  default     = null

  validation {
    condition     = var.secondary_region == null || var.secondary_region != var.region
    error_message = "secondary_region must differ from region."
  }
}

variable "secondary_vpc_cidr" {
  description = "CIDR block of the secondary region's VPC (apart from vpc_cidr, so the two can be peered)."
  type        = string
  default     = "10.41.0.0/16"

  validation {
    condition     = var.secondary_vpc_cidr != var.vpc_cidr
    error_message = "secondary_vpc_cidr must differ from vpc_cidr."
  }
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose workflows may push images to ECR (OIDC, no stored keys)."
  type        = string
  default     = "churnops/churnops"
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC; /16 gives each of the subnets a /20."
  type        = string
  default     = "10.40.0.0/16"
}

variable "az_count" {
  description = "Availability zones to spread subnets and nodes over."
  type        = number
  default     = 3

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 4
    error_message = "az_count must be between 2 and 4 (EKS needs subnets in at least two zones)."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper, dev) instead of one per zone (prod)."
  type        = bool
  default     = false
}

variable "kubernetes_version" {
  description = "EKS control plane version."
  type        = string
  default     = "1.34"
}

variable "endpoint_public_access_cidrs" {
  description = "CIDR blocks allowed to reach the public Kubernetes API endpoint; empty: private endpoint only."
  type        = list(string)
  default     = []
}

variable "node_instance_types" {
  description = "Instance types of the managed node group (2 vCPU per pipeline pod, ~1 vCPU per API replica)."
  type        = list(string)
  default     = ["m6i.xlarge"]
}

variable "node_min_size" {
  type    = number
  default = 2
}

variable "node_desired_size" {
  type    = number
  default = 3
}

variable "node_max_size" {
  type    = number
  default = 6
}

variable "log_retention_days" {
  description = "Retention of the EKS control plane and VPC flow logs."
  type        = number
  default     = 365
}

variable "feature_store_node_type" {
  description = "ElastiCache node type of the Redis online store (two nodes: primary and replica)."
  type        = string
  default     = "cache.t4g.small"
}

variable "feature_store_redis_auth_token" {
  description = "AUTH token of the Redis online store (TF_VAR_feature_store_redis_auth_token from your secret store; never in a tfvars file). The same value goes to the Kubernetes Secret churnops-redis (key: password)."
  type        = string
  sensitive   = true

  validation {
    condition     = can(regex("^[A-Za-z0-9!&#$^<>-]{16,128}$", var.feature_store_redis_auth_token))
    error_message = "feature_store_redis_auth_token: 16 to 128 printable characters without spaces, @, \" or / (ElastiCache's rule)."
  }
}

variable "stream_kafka_version" {
  description = "Kafka version of the MSK cluster of real-time scoring."
  type        = string
  default     = "3.8.x"
}

variable "stream_broker_instance_type" {
  description = "MSK broker size (benchmarks/stream.py measures what one consumer takes)."
  type        = string
  default     = "kafka.m7g.large"
}

variable "stream_broker_volume_gb" {
  description = "EBS storage per MSK broker: the events of the longest feature window plus a week, three times over."
  type        = number
  default     = 100
}

variable "stream_kafka_password" {
  description = "SCRAM password of the stream's Kafka user (TF_VAR_stream_kafka_password from your secret store; never in a tfvars file). The same value goes to the Kubernetes Secret churnops-kafka (keys: username=churnops-stream, password)."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.stream_kafka_password) >= 16 && length(var.stream_kafka_password) <= 128
    error_message = "stream_kafka_password: 16 to 128 characters."
  }
}

variable "mlflow_db_engine_version" {
  description = "Aurora PostgreSQL version of the MLflow global database (multi-region environments)."
  type        = string
  default     = "16.6"
}

variable "mlflow_db_instance_class" {
  description = "Instance class of the MLflow database (Aurora global databases need a memory-optimized class)."
  type        = string
  default     = "db.r6g.large"
}

variable "mlflow_db_password" {
  description = "Master password of the MLflow global database (TF_VAR_mlflow_db_password from your secret store; never in a tfvars file). The same value goes to the Kubernetes Secret churnops-mlflow-db (key: password) in both regions. Needed when secondary_region is set."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.secondary_region == null || try(length(var.mlflow_db_password) >= 16 && length(var.mlflow_db_password) <= 128 && !can(regex("[/@\" ]", var.mlflow_db_password)), false)
    error_message = "mlflow_db_password: 16 to 128 characters without /, @, \" or spaces (RDS's rule), required when secondary_region is set."
  }
}

variable "api_dns" {
  description = <<-EOT
    Route 53 failover of the prediction API (multi-region environments): zone_id of the hosted zone, name of the
    API (the Ingress host of k8s/overlays/<environment>), and each region's own host name, a record to that
    region's ingress load balancer (which also answers to it), keyed by region. Route 53 checks /ready on each.
  EOT
  type = object({
    zone_id      = string
    name         = string
    region_hosts = map(string)
  })
  default = null

  validation {
    condition     = var.secondary_region == null || var.api_dns != null
    error_message = "api_dns is required when secondary_region is set: without failover records the secondary takes no traffic."
  }

  validation {
    condition = var.api_dns == null || var.secondary_region == null || try(
    toset(keys(var.api_dns.region_hosts)) == toset([var.region, var.secondary_region]), false)
    error_message = "api_dns.region_hosts needs exactly one host per region: region and secondary_region."
  }
}
