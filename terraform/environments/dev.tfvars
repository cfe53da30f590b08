environment                  = "dev"
single_nat_gateway           = true
node_instance_types          = ["m6i.large"]
node_min_size                = 1
node_desired_size            = 2
node_max_size                = 4
endpoint_public_access_cidrs = []
