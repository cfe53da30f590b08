# Security properties of one region, checked offline: `terraform test` with a mocked AWS provider applies
# the module to fake resources, so every value (policies included) is known and asserted. What spans regions
# (replication, failover, the global database) is asserted by the root module's tests/regions.tftest.hcl.
mock_provider "aws" {
  source = "../../tests/mocks"
}

# The region's two keys apart, so an assertion can tell which one encrypts what.
override_resource {
  target = aws_kms_key.data
  values = { arn = "arn:aws:kms:eu-west-1:123456789012:key/mrk-11111111111111111111111111111111", multi_region = true }
}

override_resource {
  target = aws_kms_replica_key.data
  values = { arn = "arn:aws:kms:us-east-1:123456789012:key/mrk-11111111111111111111111111111111" }
}

variables {
  name                           = "churnops"
  environment                    = "dev"
  prefix                         = "churnops-dev"
  role                           = "primary"
  region                         = "eu-west-1"
  vpc_cidr                       = "10.40.0.0/16"
  az_count                       = 3
  single_nat_gateway             = true
  kubernetes_version             = "1.34"
  endpoint_public_access_cidrs   = []
  node_instance_types            = ["m6i.large"]
  node_min_size                  = 1
  node_desired_size              = 2
  node_max_size                  = 4
  log_retention_days             = 365
  feature_store_node_type        = "cache.t4g.small"
  feature_store_redis_auth_token = "test-only-token-0123456789"
  stream_kafka_version           = "3.8.x"
  stream_broker_instance_type    = "kafka.m7g.large"
  stream_broker_volume_gb        = 100
  stream_kafka_password          = "test-only-password-0123456789" # pragma: allowlist secret
}

run "buckets_are_encrypted_with_the_data_key_versioned_and_private" {
  command = apply

  assert {
    condition = length(module.bucket) == 3 && alltrue([
      for bucket in module.bucket : bucket.encryption.sse_algorithm == "aws:kms" && bucket.encryption.kms_master_key_id == aws_kms_key.data[0].arn
    ])
    error_message = "every data bucket must be encrypted with SSE-KMS under the multi-region data key"
  }

  assert {
    condition     = alltrue([for bucket in module.bucket : bucket.versioning_status == "Enabled"])
    error_message = "every data bucket must be versioned"
  }

  assert {
    condition = alltrue([
      for block in concat([for bucket in module.bucket : bucket.public_access_block], [aws_s3_bucket_public_access_block.access_logs]) :
      block.block_public_acls && block.block_public_policy && block.ignore_public_acls && block.restrict_public_buckets
    ])
    error_message = "every bucket must block all public access"
  }

  assert {
    condition = alltrue([
      for bucket in module.bucket : anytrue([
        for statement in jsondecode(bucket.policy).Statement :
        statement.Effect == "Deny" && statement.Condition.Bool["aws:SecureTransport"] == "false"
      ])
    ])
    error_message = "every data bucket policy must deny requests without TLS"
  }

  assert {
    condition     = aws_kms_key.main.enable_key_rotation && aws_kms_key.data[0].enable_key_rotation
    error_message = "the region's keys must rotate"
  }

  assert {
    condition     = aws_kms_key.data[0].multi_region && length(aws_kms_replica_key.data) == 0
    error_message = "the primary region creates the multi-region data key (a secondary replicates it)"
  }

  assert {
    condition     = aws_ecr_repository.churnops.image_tag_mutability == "IMMUTABLE" && aws_ecr_repository.churnops.image_scanning_configuration[0].scan_on_push
    error_message = "ECR tags must be immutable (the overlays pin tags) and images scanned on push"
  }
}

run "workload_roles_are_least_privilege" {
  command = apply

  assert {
    condition = alltrue(flatten([
      for policy in aws_iam_role_policy.irsa : [
        for statement in jsondecode(policy.policy).Statement : [
          for action in flatten([statement.Action]) : !endswith(action, "*")
        ]
      ]
    ]))
    error_message = "an IRSA policy grants a wildcard action"
  }

  assert {
    condition = alltrue(flatten([
      for policy in aws_iam_role_policy.irsa : [
        for statement in jsondecode(policy.policy).Statement : [
          for resource in flatten([statement.Resource]) : resource != "*"
        ]
      ]
    ]))
    error_message = "an IRSA policy applies to every resource"
  }

  assert {
    condition = !anytrue(flatten([
      for name in ["pipeline", "api", "stream", "spark-driver", "spark-executor"] : [
        for statement in jsondecode(aws_iam_role_policy.irsa[name].policy).Statement :
        contains(flatten([statement.Action]), "s3:DeleteObject")
      ]
    ]))
    error_message = "only the MLflow server may delete objects"
  }

  assert {
    condition = toset(flatten([
      for statement in jsondecode(aws_iam_role_policy.irsa["api"].policy).Statement : flatten([statement.Action])
    ])) == toset(["s3:GetObject", "kms:Decrypt"])
    error_message = "the API role must be read-only"
  }

  assert {
    condition = toset(flatten([
      for statement in jsondecode(aws_iam_role_policy.irsa["spark-executor"].policy).Statement : flatten([statement.Action])
      ])) == toset(["s3:ListBucket", "s3:GetObject", "kms:Decrypt"]) && alltrue([
      for statement in jsondecode(aws_iam_role_policy.irsa["spark-executor"].policy).Statement :
      statement.Action != "s3:GetObject" || statement.Resource == "${module.bucket["artifacts"].arn}/dvc/files/*"
    ])
    error_message = "Spark executors only read the DVC remote's objects (the event log), nothing else"
  }

  assert {
    condition     = aws_iam_role_policy.irsa["spark-driver"].policy == aws_iam_role_policy.irsa["pipeline"].policy
    error_message = "the Spark driver runs `churnops cluster-run features`: the pipeline's prefixes, no more"
  }

  assert {
    condition = alltrue([
      for name, role in aws_iam_role.irsa :
      jsondecode(role.assume_role_policy).Statement[0].Condition.StringEquals["oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF:sub"] ==
      "system:serviceaccount:${name == "ebs-csi" ? "kube-system" : "churnops-dev"}:${name == "ebs-csi" ? "ebs-csi-controller-sa" : "churnops-${name}"}"
    ])
    error_message = "each IRSA role must trust exactly one service account of its namespace"
  }
}

run "cluster_is_private_encrypted_and_logged" {
  command = apply

  assert {
    condition     = !aws_eks_cluster.main.vpc_config[0].endpoint_public_access && aws_eks_cluster.main.vpc_config[0].endpoint_private_access
    error_message = "without allowed CIDRs the Kubernetes API must be private"
  }

  assert {
    condition     = contains(aws_eks_cluster.main.encryption_config[0].resources, "secrets")
    error_message = "Kubernetes secrets must be envelope-encrypted with KMS"
  }

  assert {
    condition     = length(aws_eks_cluster.main.enabled_cluster_log_types) == 5
    error_message = "every control plane log type must be enabled"
  }

  assert {
    condition     = aws_launch_template.node.metadata_options[0].http_tokens == "required" && aws_launch_template.node.metadata_options[0].http_put_response_hop_limit == 1
    error_message = "nodes must require IMDSv2 and keep pods away from the node role"
  }
}

run "feature_store_redis_is_encrypted_authenticated_and_private" {
  command = apply

  assert {
    condition = alltrue([
      aws_elasticache_replication_group.feature_store.transit_encryption_enabled,
      aws_elasticache_replication_group.feature_store.at_rest_encryption_enabled,
      aws_elasticache_replication_group.feature_store.kms_key_id == aws_kms_key.main.arn,
    ])
    error_message = "the Redis online store must use TLS and KMS encryption at rest under the environment key"
  }

  assert {
    condition     = aws_elasticache_replication_group.feature_store.automatic_failover_enabled && aws_elasticache_replication_group.feature_store.num_cache_clusters >= 2
    error_message = "the Redis online store must keep a replica with automatic failover"
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.feature_store_from_cluster.from_port == 6379 && aws_vpc_security_group_ingress_rule.feature_store_from_cluster.cidr_ipv4 == null
    error_message = "Redis must be reachable on 6379 from the cluster security group only, never from a CIDR"
  }
}

run "stream_kafka_is_encrypted_authenticated_and_private" {
  command = apply

  assert {
    condition = alltrue([
      aws_msk_cluster.stream.encryption_info[0].encryption_at_rest_kms_key_arn == aws_kms_key.main.arn,
      aws_msk_cluster.stream.encryption_info[0].encryption_in_transit[0].client_broker == "TLS",
      aws_msk_cluster.stream.encryption_info[0].encryption_in_transit[0].in_cluster,
    ])
    error_message = "MSK must use TLS (clients and brokers) and KMS encryption at rest under the environment key"
  }

  assert {
    condition     = !aws_msk_cluster.stream.client_authentication[0].unauthenticated && aws_msk_cluster.stream.client_authentication[0].sasl[0].scram
    error_message = "MSK must require SASL/SCRAM authentication"
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.stream_from_cluster.from_port == 9096 && aws_vpc_security_group_ingress_rule.stream_from_cluster.cidr_ipv4 == null
    error_message = "MSK must be reachable on 9096 from the cluster security group only, never from a CIDR"
  }

  assert {
    condition     = aws_msk_cluster.stream.number_of_broker_nodes % length(aws_subnet.private) == 0 && aws_msk_cluster.stream.number_of_broker_nodes >= 3
    error_message = "MSK needs at least three brokers (replication 3) spread evenly over the private subnets"
  }

  assert {
    condition     = strcontains(aws_msk_configuration.stream.server_properties, "auto.create.topics.enable=false") && strcontains(aws_msk_configuration.stream.server_properties, "min.insync.replicas=2")
    error_message = "topics are created by the stream service with replication 3 and two in-sync replicas"
  }

  assert {
    condition     = startswith(aws_secretsmanager_secret.stream_kafka.name, "AmazonMSK_") && aws_secretsmanager_secret.stream_kafka.kms_key_id == aws_kms_key.main.arn
    error_message = "the SCRAM secret must be named AmazonMSK_* and encrypted with the environment key (MSK's rules)"
  }

  assert {
    condition = toset(flatten([
      for statement in jsondecode(aws_iam_role_policy.irsa["stream"].policy).Statement : flatten([statement.Action])
    ])) == toset(["s3:ListBucket", "s3:GetObject", "kms:Decrypt"])
    error_message = "the stream role must be read-only"
  }
}

run "pods_reach_aws_apis_inside_the_vpc" {
  command = apply

  assert {
    condition = alltrue([for service in ["s3", "sts", "ecr.api", "ecr.dkr"] :
    contains(keys(aws_vpc_endpoint.interface), service)])
    error_message = "S3, STS (IRSA) and ECR need interface endpoints: the pods' egress policy admits the VPC only."
  }

  assert {
    condition = alltrue([for endpoint in aws_vpc_endpoint.interface :
      endpoint.private_dns_enabled && endpoint.vpc_endpoint_type == "Interface"
    && toset(endpoint.subnet_ids) == toset(aws_subnet.private[*].id)])
    error_message = "Every interface endpoint has private DNS and sits in the private subnets."
  }

  assert {
    condition     = aws_vpc_endpoint.interface["s3"].dns_options[0].private_dns_only_for_inbound_resolver_endpoint == false
    error_message = "S3 inside the VPC must resolve to the interface endpoint, not to public addresses through the gateway."
  }

  assert {
    condition = (aws_vpc_security_group_ingress_rule.endpoints_from_vpc.cidr_ipv4 == var.vpc_cidr
      && aws_vpc_security_group_ingress_rule.endpoints_from_vpc.from_port == 443
    && aws_vpc_security_group_ingress_rule.endpoints_from_vpc.to_port == 443)
    error_message = "The endpoints admit HTTPS from the VPC only."
  }
}

run "a_secondary_region_encrypts_with_its_replica_of_the_data_key" {
  command = apply

  variables {
    role                 = "secondary"
    region               = "us-east-1"
    prefix               = "churnops-prod-us-east-1"
    data_key_primary_arn = "arn:aws:kms:eu-west-1:123456789012:key/mrk-11111111111111111111111111111111"
  }

  assert {
    condition     = length(aws_kms_key.data) == 0 && aws_kms_replica_key.data[0].primary_key_arn == var.data_key_primary_arn
    error_message = "a secondary region replicates the primary's data key instead of creating its own"
  }

  assert {
    condition = alltrue([for bucket in module.bucket :
    bucket.encryption.kms_master_key_id == aws_kms_replica_key.data[0].arn])
    error_message = "a secondary region's buckets are encrypted with its replica of the data key"
  }

  assert {
    condition     = alltrue([for name, bucket in module.bucket : bucket.bucket == "churnops-prod-us-east-1-${name}"])
    error_message = "a secondary region's bucket names carry its region (bucket names are global)"
  }

  assert {
    condition     = alltrue([for name, role in aws_iam_role.irsa : role.name == "churnops-prod-us-east-1-${name}"])
    error_message = "a secondary region's IRSA role names carry its region (IAM names are global)"
  }

  assert {
    condition     = alltrue([for endpoint in aws_vpc_endpoint.interface : startswith(endpoint.service_name, "com.amazonaws.us-east-1.")])
    error_message = "the VPC endpoints are the region's own"
  }
}

run "the_mlflow_database_is_encrypted_private_and_protected" {
  command = apply

  variables {
    mlflow_db = {
      global_cluster_id = "churnops-prod-mlflow"
      engine_version    = "16.6"
      instance_class    = "db.r6g.large"
      instances         = 2
    }
    mlflow_db_password = "test-only-password-0123456789" # pragma: allowlist secret
  }

  assert {
    condition = (aws_rds_cluster.mlflow["mlflow"].storage_encrypted && aws_rds_cluster.mlflow["mlflow"].kms_key_id == aws_kms_key.data[0].arn
    && aws_rds_cluster.mlflow["mlflow"].global_cluster_identifier == "churnops-prod-mlflow")
    error_message = "the MLflow database is a member of the global database, encrypted with the data key"
  }

  assert {
    condition     = aws_rds_cluster.mlflow["mlflow"].deletion_protection && aws_rds_cluster.mlflow["mlflow"].backup_retention_period >= 7
    error_message = "the MLflow database is protected from deletion and backed up for at least a week"
  }

  assert {
    condition     = length(aws_rds_cluster_instance.mlflow) == 2 && alltrue([for instance in aws_rds_cluster_instance.mlflow : !instance.publicly_accessible])
    error_message = "the writer region has a writer and a reader instance, neither public"
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.mlflow_db_from_cluster["mlflow"].from_port == 5432 && aws_vpc_security_group_ingress_rule.mlflow_db_from_cluster["mlflow"].cidr_ipv4 == null
    error_message = "the MLflow database is reachable on 5432 from the cluster security group only, never from a CIDR"
  }
}
