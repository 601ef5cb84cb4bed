variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-central-1"
}

variable "environment" {
  description = "Environment name, part of every resource name (e.g. production, staging)."
  type        = string
  default     = "production"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.environment))
    error_message = "environment must be 2-21 lowercase letters, digits or dashes."
  }
}

variable "vpc_cidr" {
  description = "CIDR of the VPC. The chart's values-production.yaml allows egress to it (networkPolicy)."
  type        = string
  default     = "10.42.0.0/16"
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper, a zone outage cuts egress) instead of one per zone."
  type        = bool
  default     = false
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version (the chart needs >= 1.30 for the preStop sleep action)."
  type        = string
  default     = "1.33"
}

variable "eks_public_access_cidrs" {
  description = "CIDRs allowed to reach the EKS API endpoint publicly; empty = private endpoint only."
  type        = list(string)
  default     = []
}

variable "node_instance_types" {
  description = "Instance types of the managed node group (boxoffice is CPU-bound: compute-optimised)."
  type        = list(string)
  default     = ["c7i.xlarge"]
}

variable "node_min_size" {
  type    = number
  default = 3
}

variable "node_desired_size" {
  type    = number
  default = 3
}

variable "node_max_size" {
  type    = number
  default = 30
}

variable "mysql_engine_version" {
  description = "RDS MySQL engine version."
  type        = string
  default     = "8.4"
}

variable "db_instance_class" {
  description = "RDS instance class (Multi-AZ doubles it)."
  type        = string
  default     = "db.r7g.xlarge"
}

variable "db_allocated_storage" {
  description = "Initial gp3 storage in GiB; storage autoscaling grows it up to db_max_allocated_storage."
  type        = number
  default     = 100
}

variable "db_max_allocated_storage" {
  type    = number
  default = 1000
}

variable "redis_node_type" {
  description = "ElastiCache node type (primary and replica)."
  type        = string
  default     = "cache.r7g.large"
}

variable "credentials_version" {
  description = "Bump to generate a new database password and JWT secret and write them to RDS and Secrets Manager in one apply (write-only attributes are sent only when their version changes)."
  type        = number
  default     = 1
}

variable "stripe_secret_key" {
  description = "The Stripe secret key (sk_live_…) the pods take payments with; written to Secrets Manager with the other credentials when credentials_version changes, never stored in the state."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "stripe_webhook_secret" {
  description = "The signing secret (whsec_…) of the Stripe webhook endpoint https://YOUR-SITE/api/v1/payments/webhooks/stripe; handled like stripe_secret_key."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "stripe_publishable_key" {
  description = "The Stripe publishable key (pk_live_…) the checkout page gives Stripe.js. It is public, but goes to Secrets Manager with the other Stripe keys so that the pods find all three in one Secret."
  type        = string
  ephemeral   = true
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose Actions push images to ECR through OIDC; empty = no CI role."
  type        = string
  default     = ""
}

variable "external_secrets_namespace" {
  description = "Namespace and service account of External Secrets Operator, which syncs the app secret into the Secret \"boxoffice\"."
  type = object({
    namespace       = string
    service_account = string
  })
  default = {
    namespace       = "external-secrets"
    service_account = "external-secrets"
  }
}
