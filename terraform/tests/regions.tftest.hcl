# Two regions of one environment, checked offline with mocked AWS providers (one per region): the failover
# records, replication of every data bucket and image, the global MLflow database, workload roles per region,
# and nothing pinned to a region or an account outside variables. Each region's own security properties are
# asserted by modules/region/tests/security.tftest.hcl.
mock_provider "aws" {
  source = "./tests/mocks"
}

mock_provider "aws" {
  alias  = "secondary"
  source = "./tests/mocks"
}

# The primary region's data key apart from its main key, so an assertion can tell which one encrypts what.
override_resource {
  target = module.primary.aws_kms_key.data
  values = { arn = "arn:aws:kms:eu-west-1:123456789012:key/mrk-11111111111111111111111111111111" }
}

variables {
  environment                    = "prod"
  region                         = "eu-west-1"
  secondary_region               = "us-east-1"
  vpc_cidr                       = "10.50.0.0/16"
  secondary_vpc_cidr             = "10.51.0.0/16"
  feature_store_redis_auth_token = "test-only-token-0123456789"
  stream_kafka_password          = "test-only-password-0123456789" # pragma: allowlist secret
  mlflow_db_password             = "test-only-password-9876543210" # pragma: allowlist secret
  api_dns = {
    zone_id = "Z0123456789ABCDEFGHIJ"
    name    = "churnops-api.example.com"
    region_hosts = {
      eu-west-1 = "churnops-api.eu-west-1.example.com"
      us-east-1 = "churnops-api.us-east-1.example.com"
    }
  }
}

run "the_api_name_fails_over_on_each_regions_ready_check" {
  command = apply

  assert {
    condition = (aws_route53_record.api["primary"].failover_routing_policy[0].type == "PRIMARY"
      && aws_route53_record.api["secondary"].failover_routing_policy[0].type == "SECONDARY"
      && aws_route53_record.api["primary"].records == toset(["churnops-api.eu-west-1.example.com"])
    && aws_route53_record.api["secondary"].records == toset(["churnops-api.us-east-1.example.com"]))
    error_message = "the API's name answers with the primary region's host, and with the secondary's when the primary fails"
  }

  assert {
    condition = alltrue([for role, record in aws_route53_record.api :
      record.name == "churnops-api.example.com" && record.ttl <= 60
    && record.health_check_id == aws_route53_health_check.api[role].id])
    error_message = "both failover records are the API's name, with a short TTL and their region's health check"
  }

  assert {
    condition = alltrue([for role, check in aws_route53_health_check.api :
      check.type == "HTTPS" && check.resource_path == "/ready" && check.fqdn == one(aws_route53_record.api[role].records)
    && check.request_interval * check.failure_threshold <= 30])
    error_message = "each region's health check asks its own host for /ready over HTTPS and fails it within 30 s"
  }
}

run "every_data_bucket_is_replicated_both_ways_and_encrypted_in_both_regions" {
  command = apply

  assert {
    condition = (length(module.primary.buckets) == 3 && keys(module.primary.buckets) == keys(module.secondary[0].buckets)
      && alltrue([for region in [module.primary, module.secondary[0]] : alltrue([for bucket in region.buckets :
        bucket.encryption.sse_algorithm == "aws:kms" && bucket.encryption.kms_master_key_id == region.data_key_arn
    && bucket.versioning_status == "Enabled"])]))
    error_message = "both regions hold every data bucket, versioned and encrypted with the region's data key"
  }

  assert {
    condition = (module.primary.data_key_origin.multi_region && module.secondary[0].data_key_origin.primary_key_arn == module.primary.data_key_arn
    && module.primary.data_key_arn != module.secondary[0].data_key_arn)
    error_message = "the data key is a multi-region key with a replica of its own in the secondary region"
  }

  assert {
    condition = alltrue([for direction in [
      { rules = module.replicate_to_secondary[0].rules, from = module.primary, to = module.secondary[0] },
      { rules = module.replicate_to_primary[0].rules, from = module.secondary[0], to = module.primary },
      ] : keys(direction.rules) == keys(direction.from.buckets) && alltrue([for name, rule in direction.rules :
        rule.status == "Enabled" && rule.destination[0].bucket == direction.to.buckets[name].arn
        && rule.destination[0].encryption_configuration[0].replica_kms_key_id == direction.to.data_key_arn
        && rule.source_selection_criteria[0].sse_kms_encrypted_objects[0].status == "Enabled"
    ])])
    error_message = "every data bucket replicates to its counterpart in the other region, re-encrypted with that region's data key, both ways"
  }

  assert {
    condition = alltrue([for rule in concat(values(module.replicate_to_secondary[0].rules), values(module.replicate_to_primary[0].rules)) :
      rule.delete_marker_replication[0].status == "Enabled" && rule.destination[0].replication_time[0].status == "Enabled"
    && rule.destination[0].replication_time[0].time[0].minutes == 15])
    error_message = "replication carries delete markers and is time-controlled (15 minutes: the RPO of k8s/RUNBOOK.md)"
  }

  assert {
    condition = alltrue(flatten([for policy in [module.replicate_to_secondary[0].role_policy, module.replicate_to_primary[0].role_policy] : [
      for statement in jsondecode(policy).Statement : [for action in flatten([statement.Action]) : !endswith(action, "*")]
    ]]))
    error_message = "the replication roles grant no wildcard action"
  }
}

run "images_are_replicated_to_the_secondary_region" {
  command = apply

  assert {
    condition = (aws_ecr_replication_configuration.images[0].replication_configuration[0].rule[0].destination[0].region == "us-east-1"
      && aws_ecr_replication_configuration.images[0].replication_configuration[0].rule[0].destination[0].registry_id == "123456789012"
    && aws_ecr_replication_configuration.images[0].replication_configuration[0].rule[0].repository_filter[0].filter == "churnops")
    error_message = "the primary's registry replicates the churnops repository to the secondary region"
  }

  assert {
    condition     = jsondecode(aws_iam_role.github_image_push.assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"] == "repo:churnops/churnops:ref:refs/heads/main"
    error_message = "only the main branch of the repository may push images"
  }

  assert {
    condition     = [for statement in jsondecode(aws_iam_role_policy.github_image_push.policy).Statement : statement.Resource if statement.Sid == "PushImage"] == [module.primary.ecr_repository_arn]
    error_message = "the CI workflow pushes to the primary region's repository only (replication carries the image on)"
  }
}

run "the_mlflow_database_is_one_global_database_written_in_the_primary" {
  command = apply

  assert {
    condition = (module.primary.mlflow_db_cluster.global_cluster_identifier == aws_rds_global_cluster.mlflow[0].id
    && module.secondary[0].mlflow_db_cluster.global_cluster_identifier == aws_rds_global_cluster.mlflow[0].id)
    error_message = "both regions' MLflow database clusters are members of one global database"
  }

  assert {
    condition = alltrue([for region in [module.primary, module.secondary[0]] :
    region.mlflow_db_cluster.storage_encrypted && region.mlflow_db_cluster.kms_key_id == region.data_key_arn])
    error_message = "each region's MLflow database is encrypted with that region's data key"
  }

  assert {
    condition     = module.primary.mlflow_db_cluster.instances == 2 && module.secondary[0].mlflow_db_cluster.instances >= 1
    error_message = "the writer region keeps a writer and a reader; the secondary one reader, ready to be promoted"
  }
}

run "each_region_has_its_own_workload_roles_on_its_own_buckets" {
  command = apply

  assert {
    condition     = keys(module.primary.irsa_role_arns) == keys(module.secondary[0].irsa_role_arns)
    error_message = "each region has the same workload roles (IRSA)"
  }

  assert {
    condition = alltrue(flatten([for region in [module.primary, module.secondary[0]] : [
      for policy in values(region.irsa_policies) : [
        for statement in jsondecode(policy).Statement : [
          for resource in flatten([statement.Resource]) : !startswith(resource, "arn:aws:s3") || anytrue([
            for bucket in values(region.buckets) : resource == bucket.arn || startswith(resource, "${bucket.arn}/")
          ])
        ]
      ]
    ]]))
    error_message = "a region's workload roles reach only that region's buckets"
  }
}

run "nothing_names_a_region_or_an_account_outside_variables" {
  command = plan

  assert {
    condition = alltrue([for file in fileset(path.module, "**/*.tf") :
      !can(regex("\\b(us|eu|ap|sa|ca|me|af|il|mx)-(north|south|east|west|central|northeast|southeast)-[0-9]\\b|\\b[0-9]{12}\\b", file("${path.module}/${file}")))
    if !endswith(file, "variables.tf")])
    error_message = "a .tf file names a region or an account: they belong in variables (and environments/*.tfvars)"
  }
}

run "a_single_region_environment_has_no_second_region" {
  command = apply

  variables {
    environment        = "dev"
    secondary_region   = null
    api_dns            = null
    mlflow_db_password = null
  }

  assert {
    condition = (length(module.secondary) == 0 && length(module.replicate_to_secondary) == 0 && length(aws_route53_record.api) == 0
    && length(aws_rds_global_cluster.mlflow) == 0 && length(aws_ecr_replication_configuration.images) == 0 && module.primary.mlflow_db_endpoints == null)
    error_message = "a single-region environment creates no secondary, replication, failover records or global database"
  }
}

run "failover_needs_the_api_dns" {
  command = plan

  variables {
    api_dns = null
  }

  expect_failures = [var.api_dns]
}

run "the_secondary_region_differs_from_the_primary" {
  command = plan

  variables {
    secondary_region = "eu-west-1"
  }

  expect_failures = [var.secondary_region]
}

run "mlflow_db_password_is_validated" {
  command = plan

  variables {
    mlflow_db_password = "short" # pragma: allowlist secret
  }

  expect_failures = [var.mlflow_db_password]
}

run "stream_kafka_password_is_validated" {
  command = plan

  variables {
    stream_kafka_password = "short" # pragma: allowlist secret
  }

  expect_failures = [var.stream_kafka_password]
}

run "redis_auth_token_is_validated" {
  command = plan

  variables {
    feature_store_redis_auth_token = "short"
  }

  expect_failures = [var.feature_store_redis_auth_token]
}

run "environment_is_validated" {
  command = plan

  variables {
    environment = "staging"
  }

  expect_failures = [var.environment]
}
