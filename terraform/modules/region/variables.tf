# What one region needs; the root module's variables.tf describes each setting for users.
variable "name" {
  type = string
}

variable "environment" {
  type = string
}

variable "prefix" {
  description = "Name prefix of this region's resources (names of buckets and IAM roles are global: unique per region)."
  type        = string
}

variable "role" {
  description = "primary (runs the pipeline, creates the multi-region data key and the writer database) or secondary."
  type        = string

  validation {
    condition     = contains(["primary", "secondary"], var.role)
    error_message = "role must be primary or secondary."
  }
}

variable "region" {
  description = "The region of this module's provider."
  type        = string
}

variable "data_key_primary_arn" {
  description = "Secondary regions: the primary region's multi-region data key, replicated here."
  type        = string
  default     = null
}

variable "mlflow_db" {
  description = "The region's member of the MLflow Aurora global database; null: the in-cluster PostgreSQL (single region)."
  type = object({
    global_cluster_id = string
    engine_version    = string
    instance_class    = string
    instances         = number
  })
  default = null
}

variable "mlflow_db_password" {
  description = "Master password of the MLflow database; the primary region's only (secondaries take the global database's)."
  type        = string
  default     = null
  sensitive   = true
}

variable "vpc_cidr" {
  type = string
}

variable "az_count" {
  type = number
}

variable "single_nat_gateway" {
  type = bool
}

variable "kubernetes_version" {
  type = string
}

variable "endpoint_public_access_cidrs" {
  type = list(string)
}

variable "node_instance_types" {
  type = list(string)
}

variable "node_min_size" {
  type = number
}

variable "node_desired_size" {
  type = number
}

variable "node_max_size" {
  type = number
}

variable "log_retention_days" {
  type = number
}

variable "feature_store_node_type" {
  type = string
}

variable "feature_store_redis_auth_token" {
  type      = string
  sensitive = true
}

variable "stream_kafka_version" {
  type = string
}

variable "stream_broker_instance_type" {
  type = string
}

variable "stream_broker_volume_gb" {
  type = number
}

variable "stream_kafka_password" {
  type      = string
  sensitive = true
}
