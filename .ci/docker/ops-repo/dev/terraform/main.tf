terraform {
  backend "local" { path = "/state/terraform.tfstate" }
}
resource "terraform_data" "app" { input = "built in the image" }
output "app" { value = terraform_data.app.output }
