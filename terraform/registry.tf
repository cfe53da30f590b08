# The MLflow database of a multi-region environment: an Aurora PostgreSQL global database whose writer is the
# primary region's cluster and whose secondary region's cluster replicates it (storage-level, typically under a
# second behind: the registry's RPO in k8s/RUNBOOK.md). The aliases (champion, challenger) are rows of it.
resource "aws_rds_global_cluster" "mlflow" {
  count                     = local.multi_region ? 1 : 0
  global_cluster_identifier = "${local.prefix}-mlflow"
  engine                    = "aurora-postgresql"
  engine_version            = var.mlflow_db_engine_version
  storage_encrypted         = true
  deletion_protection       = true
}
