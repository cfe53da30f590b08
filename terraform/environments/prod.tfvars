environment         = "prod"
vpc_cidr            = "10.50.0.0/16"
single_nat_gateway  = false
node_instance_types = ["m6i.xlarge"]
node_min_size       = 3
node_desired_size   = 3
node_max_size       = 9

# The standby region (k8s/RUNBOOK.md): replicated buckets, images and MLflow database; pipeline suspended.
secondary_region   = "us-east-1"
secondary_vpc_cidr = "10.51.0.0/16"
# Route 53 failover of the API: your hosted zone, the API's name (k8s/overlays/prod*'s Ingress host) and each
# region's own name, a record to that region's ingress load balancer.
api_dns = {
  zone_id = "Z0000000000000EXAMPLE"
  name    = "churnops-api.example.com"
  region_hosts = {
    eu-west-1 = "churnops-api.eu-west-1.example.com"
    us-east-1 = "churnops-api.us-east-1.example.com"
  }
}
