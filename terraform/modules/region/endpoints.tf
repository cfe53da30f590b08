# Interface endpoints for the AWS APIs the pods call, with private DNS: S3 (data, models, reports, the feature
# registry), STS (IRSA) and ECR (image pulls by the nodes). Their addresses are inside the VPC, so the pods'
# NetworkPolicy (k8s/base/networkpolicies.yaml) allows HTTPS to var.vpc_cidr only and nothing on the internet.
locals {
  interface_endpoints = toset(["s3", "sts", "ecr.api", "ecr.dkr"])
}

resource "aws_security_group" "endpoints" {
  name        = "${local.prefix}-endpoints"
  description = "Interface VPC endpoints: HTTPS from inside the VPC only"
  vpc_id      = aws_vpc.main.id
  tags        = { Name = "${local.prefix}-endpoints" }
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_from_vpc" {
  security_group_id = aws_security_group.endpoints.id
  description       = "HTTPS to the AWS APIs from the nodes and pods of the VPC"
  cidr_ipv4         = var.vpc_cidr
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_endpoint" "interface" {
  for_each            = local.interface_endpoints
  vpc_id              = aws_vpc.main.id
  service_name        = "com.amazonaws.${var.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = aws_subnet.private[*].id
  security_group_ids  = [aws_security_group.endpoints.id]
  private_dns_enabled = true
  dynamic "dns_options" {
    for_each = each.key == "s3" ? [1] : []
    content {
      # S3 has a gateway endpoint too (vpc.tf): without this, DNS inside the VPC would send S3 traffic to
      # S3's public addresses through the gateway, which a NetworkPolicy cannot tell from the internet.
      private_dns_only_for_inbound_resolver_endpoint = false
    }
  }
  tags = { Name = "${local.prefix}-${each.key}" }
}
