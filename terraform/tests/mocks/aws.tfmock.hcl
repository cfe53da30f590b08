# The mocked AWS provider of every `terraform test` here (tests/*.tftest.hcl, modules/region/tests/): fixed
# values where a resource argument must be a valid ARN or an assertion names one; everything else is generated.
mock_data "aws_caller_identity" {
  defaults = { account_id = "123456789012" }
}
mock_data "aws_partition" {
  defaults = { partition = "aws" }
}
mock_data "aws_availability_zones" {
  defaults = { names = ["eu-west-1a", "eu-west-1b", "eu-west-1c"] }
}
mock_resource "aws_eks_cluster" {
  defaults = { identity = [{ oidc = [{ issuer = "https://oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF" }] }] }
}
mock_resource "aws_kms_key" {
  defaults = { arn = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000" }
}
mock_resource "aws_iam_role" {
  defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
}
mock_resource "aws_cloudwatch_log_group" {
  defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:mock" }
}
mock_resource "aws_kms_replica_key" {
  defaults = { arn = "arn:aws:kms:us-east-1:123456789012:key/mrk-11111111111111111111111111111111" }
}
mock_resource "aws_ecr_repository" {
  defaults = { arn = "arn:aws:ecr:eu-west-1:123456789012:repository/churnops" }
}
mock_resource "aws_launch_template" {
  defaults = { id = "lt-0123456789abcdef0", latest_version = 1 }
}
mock_resource "aws_iam_openid_connect_provider" {
  defaults = { arn = "arn:aws:iam::123456789012:oidc-provider/mock" }
}
mock_resource "aws_msk_configuration" {
  defaults = { arn = "arn:aws:kafka:eu-west-1:123456789012:configuration/mock/00000000-0000-0000-0000-000000000000-1", latest_revision = 1 }
}
mock_resource "aws_msk_cluster" {
  defaults = { arn = "arn:aws:kafka:eu-west-1:123456789012:cluster/mock/00000000-0000-0000-0000-000000000000-1" }
}
mock_resource "aws_secretsmanager_secret" {
  defaults = { arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_mock-AbCdEf" }
}
