# One Secrets Manager secret holds what the chart's existingSecret needs:
# database-url, redis-url, jwt-secret, stripe-secret-key,
# stripe-webhook-secret and stripe-publishable-key (secrets.* in
# values.yaml and values-production.yaml).
# External Secrets Operator, through EKS Pod Identity with the role below,
# copies it into the Kubernetes Secret "boxoffice" (README.md shows the
# ExternalSecret). The value is written with a write-only attribute during
# the same apply that sets the database password, so neither is in the state.

resource "aws_secretsmanager_secret" "app" {
  name                    = "${local.name}/app"
  description             = "boxoffice: BOXOFFICE_DATABASE_URL, BOXOFFICE_REDIS_URL, BOXOFFICE_JWT_SECRET, BOXOFFICE_STRIPE_SECRET_KEY, BOXOFFICE_STRIPE_WEBHOOK_SECRET, BOXOFFICE_STRIPE_PUBLISHABLE_KEY"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "app" {
  secret_id = aws_secretsmanager_secret.app.id
  secret_string_wo = jsonencode({
    # tls=preferred: encrypted; verifying the RDS CA needs its bundle in the image.
    "database-url"           = "mysql://boxoffice:${ephemeral.aws_secretsmanager_random_password.db.random_password}@${aws_db_instance.mysql.address}:${aws_db_instance.mysql.port}/boxoffice?tls=preferred"
    "redis-url"              = "rediss://${aws_elasticache_replication_group.redis.primary_endpoint_address}:6379/0"
    "jwt-secret"             = ephemeral.aws_secretsmanager_random_password.jwt.random_password
    "stripe-secret-key"      = var.stripe_secret_key
    "stripe-webhook-secret"  = var.stripe_webhook_secret
    "stripe-publishable-key" = var.stripe_publishable_key
  })
  secret_string_wo_version = var.credentials_version
}

data "aws_iam_policy_document" "pod_identity_assume" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]
    principals {
      type        = "Service"
      identifiers = ["pods.eks.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "read_app_secret" {
  statement {
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [aws_secretsmanager_secret.app.arn]
  }
  statement {
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.main.arn]
  }
}

resource "aws_iam_role" "external_secrets" {
  name               = "${local.name}-external-secrets"
  assume_role_policy = data.aws_iam_policy_document.pod_identity_assume.json
}

resource "aws_iam_role_policy" "external_secrets" {
  name   = "read-app-secret"
  role   = aws_iam_role.external_secrets.id
  policy = data.aws_iam_policy_document.read_app_secret.json
}

resource "aws_eks_pod_identity_association" "external_secrets" {
  cluster_name    = aws_eks_cluster.main.name
  namespace       = var.external_secrets_namespace.namespace
  service_account = var.external_secrets_namespace.service_account
  role_arn        = aws_iam_role.external_secrets.arn
}
