# RDS MySQL (Multi-AZ) is the system of record; ElastiCache Redis (primary
# plus a replica in another zone, automatic failover) holds the waiting room.
# Only the cluster's security group (nodes and pods) may reach either.

resource "aws_security_group" "mysql" {
  name        = "${local.name}-mysql"
  description = "MySQL from the EKS cluster"
  vpc_id      = aws_vpc.main.id
}

resource "aws_vpc_security_group_ingress_rule" "mysql_from_eks" {
  security_group_id            = aws_security_group.mysql.id
  referenced_security_group_id = aws_eks_cluster.main.vpc_config[0].cluster_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = 3306
  to_port                      = 3306
}

resource "aws_db_subnet_group" "main" {
  name       = local.name
  subnet_ids = aws_subnet.data[*].id
}

resource "aws_db_parameter_group" "mysql" {
  name   = "${local.name}-mysql84"
  family = "mysql8.4"

  # A sale the API acknowledged is never lost: full durability on commit.
  parameter {
    name  = "innodb_flush_log_at_trx_commit"
    value = "1"
  }
  parameter {
    name  = "sync_binlog"
    value = "1"
  }
  # Each pod opens up to 32 connections (internal/mysql DefaultMaxOpenConns):
  # 60 pods need 1,920, plus the migration job and operators.
  parameter {
    name  = "max_connections"
    value = "2500"
  }
  parameter {
    name  = "require_secure_transport"
    value = "1"
  }
}

# The master password is generated during apply and written only to RDS and
# Secrets Manager (write-only attributes): it is never stored in the state.
ephemeral "aws_secretsmanager_random_password" "db" {
  password_length     = 40
  exclude_punctuation = true
}

ephemeral "aws_secretsmanager_random_password" "jwt" {
  password_length     = 64
  exclude_punctuation = true
}

resource "aws_db_instance" "mysql" {
  identifier     = local.name
  engine         = "mysql"
  engine_version = var.mysql_engine_version
  instance_class = var.db_instance_class

  allocated_storage     = var.db_allocated_storage
  max_allocated_storage = var.db_max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.main.arn

  db_name             = "boxoffice"
  username            = "boxoffice"
  password_wo         = ephemeral.aws_secretsmanager_random_password.db.random_password
  password_wo_version = var.credentials_version

  multi_az               = true
  db_subnet_group_name   = aws_db_subnet_group.main.name
  vpc_security_group_ids = [aws_security_group.mysql.id]
  parameter_group_name   = aws_db_parameter_group.mysql.name
  publicly_accessible    = false

  backup_retention_period   = 14
  backup_window             = "02:00-03:00"
  maintenance_window        = "Mon:03:30-Mon:04:30"
  copy_tags_to_snapshot     = true
  deletion_protection       = true
  skip_final_snapshot       = false
  final_snapshot_identifier = "${local.name}-final"

  performance_insights_enabled    = true
  performance_insights_kms_key_id = aws_kms_key.main.arn
  enabled_cloudwatch_logs_exports = ["error", "slowquery"]
  auto_minor_version_upgrade      = true
  apply_immediately               = false
}

resource "aws_security_group" "redis" {
  name        = "${local.name}-redis"
  description = "Redis from the EKS cluster"
  vpc_id      = aws_vpc.main.id
}

resource "aws_vpc_security_group_ingress_rule" "redis_from_eks" {
  security_group_id            = aws_security_group.redis.id
  referenced_security_group_id = aws_eks_cluster.main.vpc_config[0].cluster_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
}

resource "aws_elasticache_subnet_group" "main" {
  name       = local.name
  subnet_ids = aws_subnet.data[*].id
}

resource "aws_elasticache_parameter_group" "redis" {
  name   = "${local.name}-redis7"
  family = "redis7"

  # An evicting policy would silently drop waiting-room keys under memory
  # pressure (docs/waiting-room.md).
  parameter {
    name  = "maxmemory-policy"
    value = "noeviction"
  }
}

# Cluster mode stays disabled: the waiting room's Lua scripts touch keys of
# several hash slots (SCALING.md says what must change for Redis Cluster).
# Persistence: ElastiCache offers no AOF for Redis 2.8.22 and later; the
# durable copy is the replica in another zone with automatic Multi-AZ
# failover, plus daily snapshots (README.md, "Redis persistence").
resource "aws_elasticache_replication_group" "redis" {
  replication_group_id = local.name
  description          = "boxoffice waiting room and cache"
  engine               = "redis"
  engine_version       = "7.1"
  node_type            = var.redis_node_type
  port                 = 6379
  parameter_group_name = aws_elasticache_parameter_group.redis.name

  num_cache_clusters         = 2
  automatic_failover_enabled = true
  multi_az_enabled           = true

  subnet_group_name  = aws_elasticache_subnet_group.main.name
  security_group_ids = [aws_security_group.redis.id]

  at_rest_encryption_enabled = true
  kms_key_id                 = aws_kms_key.main.arn
  transit_encryption_enabled = true

  snapshot_retention_limit   = 7
  snapshot_window            = "01:00-02:00"
  maintenance_window         = "mon:04:30-mon:05:30"
  auto_minor_version_upgrade = true
  apply_immediately          = false
}
