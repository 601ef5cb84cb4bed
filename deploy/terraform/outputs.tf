output "cluster_name" {
  value = aws_eks_cluster.main.name
}

output "kubeconfig_command" {
  value = "aws eks update-kubeconfig --region ${var.region} --name ${aws_eks_cluster.main.name}"
}

output "ecr_repository_url" {
  description = "image.repository in values-production.yaml."
  value       = aws_ecr_repository.boxoffice.repository_url
}

output "mysql_endpoint" {
  value = aws_db_instance.mysql.address
}

output "redis_primary_endpoint" {
  value = aws_elasticache_replication_group.redis.primary_endpoint_address
}

output "app_secret_arn" {
  description = "The Secrets Manager secret that External Secrets copies into the Secret \"boxoffice\"."
  value       = aws_secretsmanager_secret.app.arn
}

output "github_ci_role_arn" {
  description = "AWS_ROLE_ARN for .github/workflows/ci.yml (empty without github_repository)."
  value       = one(aws_iam_role.github_ci[*].arn)
}

output "vpc_cidr" {
  description = "networkPolicy CIDRs in values-production.yaml."
  value       = aws_vpc.main.cidr_block
}
