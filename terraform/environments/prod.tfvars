environment         = "prod"
vpc_cidr            = "10.50.0.0/16"
single_nat_gateway  = false
node_instance_types = ["m6i.xlarge"]
node_min_size       = 3
node_desired_size   = 3
node_max_size       = 9
