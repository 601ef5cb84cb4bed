terraform {
  # Ephemeral resources and write-only attributes keep the generated
  # database password and JWT secret out of the state (Terraform >= 1.11).
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Remote state: pass bucket, key, region and use_lockfile with
  # `terraform init -backend-config=...` (see README.md).
  backend "s3" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "boxoffice"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}
