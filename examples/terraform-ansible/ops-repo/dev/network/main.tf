# Offline stand-ins for a VPC and a subnet: terraform_data needs no provider download.
# The state path comes from bitops.config.yaml (cli.backend-config).
terraform {
  backend "local" {}
}

resource "terraform_data" "vpc" {
  input = {
    name = "example-dev"
    cidr = "10.0.0.0/16"
  }
}

resource "terraform_data" "subnet" {
  input = cidrsubnet(terraform_data.vpc.output.cidr, 8, 1)
}

# A password made at the first apply and kept (ignore_changes): no file of the repo
# holds it and terraform never prints it, so seeing it anywhere in the output is a leak.
resource "terraform_data" "db_password" {
  input = sensitive(substr(sha256(uuid()), 0, 24))
  lifecycle {
    ignore_changes = [input]
  }
}

output "vpc_id" {
  value = terraform_data.vpc.id
}

output "vpc_cidr" {
  value = terraform_data.vpc.output.cidr
}

output "subnet" {
  value = terraform_data.subnet.output
}

output "db_password" {
  value     = terraform_data.db_password.output
  sensitive = true
}
