# The event stream of real-time scoring (churnops.stream): Amazon MSK, brokers in every private subnet,
# TLS between clients and brokers and inside the cluster, storage encrypted with the environment's KMS key,
# SASL/SCRAM authentication (no unauthenticated access), reachable only from the EKS cluster on 9096.
# Topics are created by the stream service (auto-creation off): events kept for the longest feature
# window plus a week (a consumer rebuilds its state from them), replication 3, two in-sync replicas.
# The stream pods connect with CHURNOPS_KAFKA_BOOTSTRAP=<stream_kafka_bootstrap_brokers> and the SCRAM
# user of the Kubernetes Secret churnops-kafka (the same values as the Secrets Manager secret below).
resource "aws_security_group" "stream" {
  name        = "${local.prefix}-stream"
  description = "MSK brokers: reachable from the EKS cluster only"
  vpc_id      = aws_vpc.main.id
  tags        = { Name = "${local.prefix}-stream" }
}

resource "aws_vpc_security_group_ingress_rule" "stream_from_cluster" {
  security_group_id            = aws_security_group.stream.id
  description                  = "Kafka SASL/SCRAM over TLS from the EKS cluster security group (stream pods)"
  referenced_security_group_id = aws_eks_cluster.main.vpc_config[0].cluster_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = 9096
  to_port                      = 9096
}

resource "aws_msk_configuration" "stream" {
  name           = "${local.prefix}-stream"
  kafka_versions = [var.stream_kafka_version]
  server_properties = join("\n", [
    "auto.create.topics.enable=false",
    "default.replication.factor=3",
    "min.insync.replicas=2",
    "unclean.leader.election.enable=false",
  ])
}

resource "aws_cloudwatch_log_group" "stream" {
  name              = "/aws/msk/${local.prefix}-stream"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_msk_cluster" "stream" {
  cluster_name  = "${local.prefix}-stream"
  kafka_version = var.stream_kafka_version
  # one broker per zone (a multiple of the subnets); two per zone with two zones, so replication 3 fits
  number_of_broker_nodes = length(aws_subnet.private) == 2 ? 4 : length(aws_subnet.private)

  broker_node_group_info {
    instance_type   = var.stream_broker_instance_type
    client_subnets  = aws_subnet.private[*].id
    security_groups = [aws_security_group.stream.id]
    storage_info {
      ebs_storage_info {
        volume_size = var.stream_broker_volume_gb
      }
    }
  }

  encryption_info {
    encryption_at_rest_kms_key_arn = aws_kms_key.main.arn
    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }

  client_authentication {
    unauthenticated = false
    sasl {
      scram = true
      iam   = false
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.stream.arn
    revision = aws_msk_configuration.stream.latest_revision
  }

  logging_info {
    broker_logs {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.stream.name
      }
    }
  }
}

# SCRAM credentials: MSK reads them from Secrets Manager (name prefix AmazonMSK_, a customer-managed key).
resource "aws_secretsmanager_secret" "stream_kafka" {
  name       = "AmazonMSK_${local.prefix}-stream"
  kms_key_id = aws_kms_key.main.arn
}

resource "aws_secretsmanager_secret_version" "stream_kafka" {
  secret_id     = aws_secretsmanager_secret.stream_kafka.id
  secret_string = jsonencode({ username = "churnops-stream", password = var.stream_kafka_password })
}

resource "aws_msk_scram_secret_association" "stream" {
  cluster_arn     = aws_msk_cluster.stream.arn
  secret_arn_list = [aws_secretsmanager_secret.stream_kafka.arn]
  depends_on      = [aws_secretsmanager_secret_version.stream_kafka]
}
