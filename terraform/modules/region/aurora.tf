# The MLflow tracking and registry database of a multi-region environment: this region's member of an Aurora
# PostgreSQL global database (../../registry.tf). The primary region's cluster is the writer; a secondary
# region's cluster is a read-only replica (typically under a second behind) that `failover-global-cluster`
# promotes (k8s/RUNBOOK.md). Encrypted with the region's data key, in the private subnets, reachable from the
# EKS cluster only. A single-region environment keeps the in-cluster PostgreSQL (k8s/base/mlflow).
locals {
  mlflow_db = var.mlflow_db == null ? {} : { mlflow = var.mlflow_db }
}

resource "aws_db_subnet_group" "mlflow" {
  for_each   = local.mlflow_db
  name       = "${local.prefix}-mlflow"
  subnet_ids = aws_subnet.private[*].id
}

resource "aws_security_group" "mlflow_db" {
  for_each    = local.mlflow_db
  name        = "${local.prefix}-mlflow-db"
  description = "MLflow database: reachable from the EKS cluster only"
  vpc_id      = aws_vpc.main.id
  tags        = { Name = "${local.prefix}-mlflow-db" }
}

resource "aws_vpc_security_group_ingress_rule" "mlflow_db_from_cluster" {
  for_each                     = local.mlflow_db
  security_group_id            = aws_security_group.mlflow_db[each.key].id
  description                  = "PostgreSQL (TLS) from the EKS cluster security group (the MLflow server)"
  referenced_security_group_id = aws_eks_cluster.main.vpc_config[0].cluster_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

# Schema changes and statements slower than a second go to the postgresql log (CloudWatch).
resource "aws_rds_cluster_parameter_group" "mlflow" {
  for_each = local.mlflow_db
  name     = "${local.prefix}-mlflow"
  family   = "aurora-postgresql${split(".", each.value.engine_version)[0]}"

  parameter {
    name  = "log_statement"
    value = "ddl"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }
}

resource "aws_rds_cluster" "mlflow" {
  for_each                  = local.mlflow_db
  cluster_identifier        = "${local.prefix}-mlflow"
  global_cluster_identifier = each.value.global_cluster_id
  engine                    = "aurora-postgresql"
  engine_version            = each.value.engine_version
  # The writer creates the database and its user; a secondary takes both from the global database.
  database_name                   = local.primary ? "mlflow" : null
  master_username                 = local.primary ? "mlflow" : null
  master_password                 = local.primary ? var.mlflow_db_password : null
  db_subnet_group_name            = aws_db_subnet_group.mlflow[each.key].name
  db_cluster_parameter_group_name = aws_rds_cluster_parameter_group.mlflow[each.key].name
  vpc_security_group_ids          = [aws_security_group.mlflow_db[each.key].id]
  storage_encrypted               = true
  kms_key_id                      = local.data_key_arn
  backup_retention_period         = 14
  preferred_backup_window         = "02:00-03:00"
  copy_tags_to_snapshot           = true
  deletion_protection             = true
  final_snapshot_identifier       = "${local.prefix}-mlflow-final"
  enabled_cloudwatch_logs_exports = ["postgresql"]
  # MLflow logs in with its password; IAM authentication is on for people reading the registry with their role.
  iam_database_authentication_enabled = true

  lifecycle {
    # A managed failover swaps which cluster replicates from which: that is not drift.
    ignore_changes = [replication_source_identifier, global_cluster_identifier]
  }
}

resource "aws_rds_cluster_instance" "mlflow" {
  count                           = var.mlflow_db == null ? 0 : var.mlflow_db.instances
  identifier                      = "${local.prefix}-mlflow-${count.index}"
  cluster_identifier              = aws_rds_cluster.mlflow["mlflow"].id
  engine                          = aws_rds_cluster.mlflow["mlflow"].engine
  engine_version                  = aws_rds_cluster.mlflow["mlflow"].engine_version
  instance_class                  = var.mlflow_db.instance_class
  db_subnet_group_name            = aws_db_subnet_group.mlflow["mlflow"].name
  publicly_accessible             = false
  auto_minor_version_upgrade      = true
  performance_insights_enabled    = true
  performance_insights_kms_key_id = aws_kms_key.main.arn
}
