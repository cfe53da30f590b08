# This configuration held one region in its root module until the second region came: these blocks move
# the existing state into module.primary instead of destroying and re-creating a live environment.
moved {
  from = aws_vpc.main
  to   = module.primary.aws_vpc.main
}

moved {
  from = aws_default_security_group.main
  to   = module.primary.aws_default_security_group.main
}

moved {
  from = aws_subnet.public
  to   = module.primary.aws_subnet.public
}

moved {
  from = aws_subnet.private
  to   = module.primary.aws_subnet.private
}

moved {
  from = aws_internet_gateway.main
  to   = module.primary.aws_internet_gateway.main
}

moved {
  from = aws_eip.nat
  to   = module.primary.aws_eip.nat
}

moved {
  from = aws_nat_gateway.main
  to   = module.primary.aws_nat_gateway.main
}

moved {
  from = aws_route_table.public
  to   = module.primary.aws_route_table.public
}

moved {
  from = aws_route.public_internet
  to   = module.primary.aws_route.public_internet
}

moved {
  from = aws_route_table_association.public
  to   = module.primary.aws_route_table_association.public
}

moved {
  from = aws_route_table.private
  to   = module.primary.aws_route_table.private
}

moved {
  from = aws_route.private_nat
  to   = module.primary.aws_route.private_nat
}

moved {
  from = aws_route_table_association.private
  to   = module.primary.aws_route_table_association.private
}

moved {
  from = aws_vpc_endpoint.s3
  to   = module.primary.aws_vpc_endpoint.s3
}

moved {
  from = aws_cloudwatch_log_group.flow_logs
  to   = module.primary.aws_cloudwatch_log_group.flow_logs
}

moved {
  from = aws_iam_role.flow_logs
  to   = module.primary.aws_iam_role.flow_logs
}

moved {
  from = aws_iam_role_policy.flow_logs
  to   = module.primary.aws_iam_role_policy.flow_logs
}

moved {
  from = aws_flow_log.main
  to   = module.primary.aws_flow_log.main
}

moved {
  from = aws_iam_role.cluster
  to   = module.primary.aws_iam_role.cluster
}

moved {
  from = aws_iam_role_policy_attachment.cluster
  to   = module.primary.aws_iam_role_policy_attachment.cluster
}

moved {
  from = aws_cloudwatch_log_group.eks
  to   = module.primary.aws_cloudwatch_log_group.eks
}

moved {
  from = aws_eks_cluster.main
  to   = module.primary.aws_eks_cluster.main
}

moved {
  from = aws_iam_role.node
  to   = module.primary.aws_iam_role.node
}

moved {
  from = aws_iam_role_policy_attachment.node
  to   = module.primary.aws_iam_role_policy_attachment.node
}

moved {
  from = aws_launch_template.node
  to   = module.primary.aws_launch_template.node
}

moved {
  from = aws_eks_node_group.main
  to   = module.primary.aws_eks_node_group.main
}

moved {
  from = aws_iam_openid_connect_provider.eks
  to   = module.primary.aws_iam_openid_connect_provider.eks
}

moved {
  from = aws_eks_addon.core
  to   = module.primary.aws_eks_addon.core
}

moved {
  from = aws_eks_addon.ebs_csi
  to   = module.primary.aws_eks_addon.ebs_csi
}

moved {
  from = aws_iam_role.irsa
  to   = module.primary.aws_iam_role.irsa
}

moved {
  from = aws_iam_role_policy.irsa
  to   = module.primary.aws_iam_role_policy.irsa
}

moved {
  from = aws_iam_role_policy_attachment.ebs_csi
  to   = module.primary.aws_iam_role_policy_attachment.ebs_csi
}

moved {
  from = aws_security_group.endpoints
  to   = module.primary.aws_security_group.endpoints
}

moved {
  from = aws_vpc_security_group_ingress_rule.endpoints_from_vpc
  to   = module.primary.aws_vpc_security_group_ingress_rule.endpoints_from_vpc
}

moved {
  from = aws_vpc_endpoint.interface
  to   = module.primary.aws_vpc_endpoint.interface
}

moved {
  from = aws_elasticache_subnet_group.feature_store
  to   = module.primary.aws_elasticache_subnet_group.feature_store
}

moved {
  from = aws_security_group.feature_store
  to   = module.primary.aws_security_group.feature_store
}

moved {
  from = aws_vpc_security_group_ingress_rule.feature_store_from_cluster
  to   = module.primary.aws_vpc_security_group_ingress_rule.feature_store_from_cluster
}

moved {
  from = aws_elasticache_replication_group.feature_store
  to   = module.primary.aws_elasticache_replication_group.feature_store
}

moved {
  from = aws_security_group.stream
  to   = module.primary.aws_security_group.stream
}

moved {
  from = aws_vpc_security_group_ingress_rule.stream_from_cluster
  to   = module.primary.aws_vpc_security_group_ingress_rule.stream_from_cluster
}

moved {
  from = aws_msk_configuration.stream
  to   = module.primary.aws_msk_configuration.stream
}

moved {
  from = aws_cloudwatch_log_group.stream
  to   = module.primary.aws_cloudwatch_log_group.stream
}

moved {
  from = aws_msk_cluster.stream
  to   = module.primary.aws_msk_cluster.stream
}

moved {
  from = aws_secretsmanager_secret.stream_kafka
  to   = module.primary.aws_secretsmanager_secret.stream_kafka
}

moved {
  from = aws_secretsmanager_secret_version.stream_kafka
  to   = module.primary.aws_secretsmanager_secret_version.stream_kafka
}

moved {
  from = aws_msk_scram_secret_association.stream
  to   = module.primary.aws_msk_scram_secret_association.stream
}

moved {
  from = aws_kms_key.main
  to   = module.primary.aws_kms_key.main
}

moved {
  from = aws_kms_alias.main
  to   = module.primary.aws_kms_alias.main
}

moved {
  from = module.bucket
  to   = module.primary.module.bucket
}

moved {
  from = aws_s3_bucket.access_logs
  to   = module.primary.aws_s3_bucket.access_logs
}

moved {
  from = aws_s3_bucket_versioning.access_logs
  to   = module.primary.aws_s3_bucket_versioning.access_logs
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.access_logs
  to   = module.primary.aws_s3_bucket_server_side_encryption_configuration.access_logs
}

moved {
  from = aws_s3_bucket_public_access_block.access_logs
  to   = module.primary.aws_s3_bucket_public_access_block.access_logs
}

moved {
  from = aws_s3_bucket_ownership_controls.access_logs
  to   = module.primary.aws_s3_bucket_ownership_controls.access_logs
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.access_logs
  to   = module.primary.aws_s3_bucket_lifecycle_configuration.access_logs
}

moved {
  from = aws_s3_bucket_policy.access_logs
  to   = module.primary.aws_s3_bucket_policy.access_logs
}

moved {
  from = aws_ecr_repository.churnops
  to   = module.primary.aws_ecr_repository.churnops
}

moved {
  from = aws_ecr_lifecycle_policy.churnops
  to   = module.primary.aws_ecr_lifecycle_policy.churnops
}
