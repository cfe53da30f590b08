# The prediction API's name in a multi-region environment: Route 53 failover records. The primary region's
# record answers while its health check passes; when it fails, Route 53 answers with the secondary's, and
# back once the primary passes again. Each check asks the region's own host name for /ready over HTTPS
# every 10 s from several Route 53 locations, and fails after 3 misses: about 30 s to detect, plus the 60 s TTL
# that clients may keep the old answer (the RTO in k8s/RUNBOOK.md; the failover drill measures the rest).
locals {
  api_regions = local.multi_region ? {
    primary   = var.region
    secondary = var.secondary_region
  } : {}
}

resource "aws_route53_health_check" "api" {
  for_each          = local.api_regions
  fqdn              = var.api_dns.region_hosts[each.value]
  type              = "HTTPS"
  port              = 443
  resource_path     = "/ready"
  request_interval  = 10
  failure_threshold = 3
  tags              = { Name = "${local.prefix}-api-${each.value}" }
}

resource "aws_route53_record" "api" {
  for_each        = local.api_regions
  zone_id         = var.api_dns.zone_id
  name            = var.api_dns.name
  type            = "CNAME"
  ttl             = 60
  records         = [var.api_dns.region_hosts[each.value]]
  set_identifier  = "${local.prefix}-api-${each.value}"
  health_check_id = aws_route53_health_check.api[each.key].id

  failover_routing_policy {
    type = upper(each.key)
  }
}
