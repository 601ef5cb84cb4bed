#!/usr/bin/env bash
# scripts/fleet.sh — a local boxoffice fleet without containers: 3 instances
# on one MariaDB and one Redis behind haproxy (or nginx), all on loopback.
# It is the Kubernetes deployment in miniature: migrations run once
# (`boxoffice migrate`, the chart's hook), the instances run with
# BOXOFFICE_MIGRATE=false and a shared JWT secret, and the load balancer
# health-checks /readyz like a readiness probe.
#
#   scripts/fleet.sh up       # build, migrate, start 3 instances + load balancer
#   scripts/fleet.sh status   # which instances the load balancer sees
#   scripts/fleet.sh smoke    # up, walk a purchase through the load balancer, down
#   scripts/fleet.sh down     # stop what `up` started
#
# Benchmarks use it with the load generator:
#   scripts/fleet.sh up && go run ./cmd/loadgen -targets http://127.0.0.1:18080 ... ; scripts/fleet.sh down
#
# Settings (environment): FLEET_DIR (/tmp/boxoffice-fleet), FLEET_PORT (18080;
# instances on the next three ports, their metrics listeners from
# FLEET_PORT+101: TARGETS="127.0.0.1:18181 127.0.0.1:18182 127.0.0.1:18183"
# scripts/prometheus-local.sh scrapes them), FLEET_DB (bo_fleet, dropped and created
# by `up` unless FLEET_KEEP=1), FLEET_MYSQL (mysql://root@127.0.0.1:3306),
# FLEET_REDIS (redis://127.0.0.1:6379/1 — its keys are flushed by `up` unless
# FLEET_KEEP=1, so it must be a database of its own), FLEET_LB (haproxy or
# nginx; default: whichever is installed, haproxy first; installed with
# apt-get when neither is and we are root), FLEET_INSTANCES (3).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/nolimits.sh

FLEET_DIR=${FLEET_DIR:-/tmp/boxoffice-fleet}
FLEET_PORT=${FLEET_PORT:-18080}
FLEET_DB=${FLEET_DB:-bo_fleet}
FLEET_MYSQL=${FLEET_MYSQL:-mysql://root@127.0.0.1:3306}
FLEET_REDIS=${FLEET_REDIS:-redis://127.0.0.1:6379/1}
FLEET_INSTANCES=${FLEET_INSTANCES:-3}
FLEET_KEEP=${FLEET_KEEP:-0}
export BOXOFFICE_PAYMENTS=test # simulated payments: these runs measure holds and checkouts, not a provider
export BOXOFFICE_JWT_SECRET=${BOXOFFICE_JWT_SECRET:-fleet-secret-shared-by-every-instance-0123}
export BOXOFFICE_ADMIN_EMAIL=${BOXOFFICE_ADMIN_EMAIL:-admin@fleet.test}
export BOXOFFICE_ADMIN_PASSWORD=${BOXOFFICE_ADMIN_PASSWORD:-admin-stage-door-123}

say() { printf 'fleet: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# mysql_cli runs the mysql client against FLEET_MYSQL's host and port (root,
# no password, as on the development machines and CI).
mysql_cli() {
	local hostport=${FLEET_MYSQL#mysql://}
	hostport=${hostport#*@}
	hostport=${hostport%%/*}
	mysql -h"${hostport%:*}" -P"${hostport##*:}" -uroot "$@"
}

redis_cli() {
	local rest=${FLEET_REDIS#redis://}
	local hostport=${rest%%/*} db=${rest#*/}
	redis-cli -h "${hostport%:*}" -p "${hostport##*:}" -n "${db:-0}" "$@"
}

pick_lb() {
	if [ -n "${FLEET_LB:-}" ]; then echo "$FLEET_LB"; return; fi
	if command -v haproxy >/dev/null; then echo haproxy; return; fi
	if command -v nginx >/dev/null; then echo nginx; return; fi
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		say "installing haproxy (Debian package)"
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy; } >"$FLEET_DIR/apt.log" 2>&1 ||
			die "could not install haproxy (see $FLEET_DIR/apt.log)"
		echo haproxy
		return
	fi
	die "neither haproxy nor nginx is installed (apt-get install haproxy)"
}

write_haproxy() { # cfg
	{
		cat <<EOF
global
    maxconn 8000
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    # SSE status streams stay open.
    timeout tunnel 1h
    option http-server-close
    # A request to an instance that just went away goes to another one.
    retries 3
    option redispatch 1
frontend boxoffice
    bind 127.0.0.1:$FLEET_PORT
    default_backend fleet
backend fleet
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 1s fall 2 rise 1
    # Which instance answered: the smoke test checks the requests spread.
    http-response set-header X-Fleet-Backend %s
EOF
		for i in $(seq "$FLEET_INSTANCES"); do
			echo "    server bo$i 127.0.0.1:$((FLEET_PORT + i)) check"
		done
	} >"$1"
}

write_nginx() { # cfg
	{
		cat <<EOF
daemon on;
pid $FLEET_DIR/lb.pid;
error_log $FLEET_DIR/lb.log warn;
worker_processes 1;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $FLEET_DIR/nginx-body;
    proxy_temp_path $FLEET_DIR/nginx-proxy;
    fastcgi_temp_path $FLEET_DIR/nginx-fastcgi;
    uwsgi_temp_path $FLEET_DIR/nginx-uwsgi;
    scgi_temp_path $FLEET_DIR/nginx-scgi;
    upstream fleet {
EOF
		for i in $(seq "$FLEET_INSTANCES"); do
			echo "        server 127.0.0.1:$((FLEET_PORT + i)) max_fails=2 fail_timeout=2s;"
		done
		cat <<EOF
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$FLEET_PORT;
        location / {
            proxy_pass http://fleet;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 1h;
            proxy_next_upstream error timeout http_503;
            add_header X-Fleet-Backend \$upstream_addr always;
        }
    }
}
EOF
	} >"$1"
}

wait_http() { # url seconds
	for _ in $(seq $(($2 * 5))); do
		if curl -sf -o /dev/null "$1"; then return 0; fi
		sleep 0.2
	done
	return 1
}

up() {
	mkdir -p "$FLEET_DIR"
	[ -e "$FLEET_DIR/pids" ] && die "a fleet is already up in $FLEET_DIR (scripts/fleet.sh down)"
	mysql_cli -e 'SELECT 1' >/dev/null 2>&1 || die "MariaDB does not answer at $FLEET_MYSQL"
	redis_cli ping >/dev/null 2>&1 || die "Redis does not answer at $FLEET_REDIS"
	local lb port
	for port in $(seq "$FLEET_PORT" $((FLEET_PORT + FLEET_INSTANCES))); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then die "port $port is in use (set FLEET_PORT)"; fi
	done
	lb=$(pick_lb)

	say "building boxoffice"
	VERSION=fleet COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown) deploy/build.sh "$FLEET_DIR/boxoffice"

	if [ "$FLEET_KEEP" != 1 ]; then
		mysql_cli -e "DROP DATABASE IF EXISTS \`$FLEET_DB\`; CREATE DATABASE \`$FLEET_DB\`"
		redis_cli flushdb >/dev/null
	else
		mysql_cli -e "CREATE DATABASE IF NOT EXISTS \`$FLEET_DB\`"
	fi
	export BOXOFFICE_DATABASE_URL="$FLEET_MYSQL/$FLEET_DB"
	export BOXOFFICE_REDIS_URL="$FLEET_REDIS"
	say "migrating $BOXOFFICE_DATABASE_URL"
	"$FLEET_DIR/boxoffice" migrate 2>>"$FLEET_DIR/migrate.log"

	: >"$FLEET_DIR/pids"
	for i in $(seq "$FLEET_INSTANCES"); do
		BOXOFFICE_ADDR=127.0.0.1:$((FLEET_PORT + i)) BOXOFFICE_METRICS_ADDR=127.0.0.1:$((FLEET_PORT + 100 + i)) \
			BOXOFFICE_MIGRATE=false BOXOFFICE_DRAIN_DELAY=1s \
			BOXOFFICE_LOG_LEVEL=${BOXOFFICE_LOG_LEVEL:-warn} \
			"$FLEET_DIR/boxoffice" serve >"$FLEET_DIR/bo$i.log" 2>&1 &
		echo "bo$i $!" >>"$FLEET_DIR/pids"
	done
	for i in $(seq "$FLEET_INSTANCES"); do
		wait_http "http://127.0.0.1:$((FLEET_PORT + i))/readyz" 30 || { down; die "instance $i did not become ready (see $FLEET_DIR/bo$i.log)"; }
	done

	case $lb in
	haproxy)
		write_haproxy "$FLEET_DIR/lb.cfg"
		haproxy -c -q -f "$FLEET_DIR/lb.cfg" >"$FLEET_DIR/lb.log" 2>&1 &&
			haproxy -D -p "$FLEET_DIR/lb.pid" -f "$FLEET_DIR/lb.cfg" >>"$FLEET_DIR/lb.log" 2>&1 ||
			{ cat "$FLEET_DIR/lb.log" >&2; down; die "haproxy did not start"; }
		;;
	nginx)
		write_nginx "$FLEET_DIR/lb.cfg"
		nginx -t -q -c "$FLEET_DIR/lb.cfg" -p "$FLEET_DIR" 2>>"$FLEET_DIR/lb.log" &&
			nginx -c "$FLEET_DIR/lb.cfg" -p "$FLEET_DIR" 2>>"$FLEET_DIR/lb.log" ||
			{ cat "$FLEET_DIR/lb.log" >&2; down; die "nginx did not start"; }
		;;
	*) die "FLEET_LB must be haproxy or nginx" ;;
	esac
	for _ in $(seq 50); do [ -s "$FLEET_DIR/lb.pid" ] && break; sleep 0.1; done
	echo "lb $(cat "$FLEET_DIR/lb.pid")" >>"$FLEET_DIR/pids"
	wait_http "http://127.0.0.1:$FLEET_PORT/readyz" 15 || { down; die "load balancer not ready (see $FLEET_DIR/lb.log)"; }
	say "up: $FLEET_INSTANCES instances behind $lb at http://127.0.0.1:$FLEET_PORT (database $FLEET_DB, redis $FLEET_REDIS)"
	echo "BOXOFFICE_FLEET_URL=http://127.0.0.1:$FLEET_PORT"
}

down() {
	[ -e "$FLEET_DIR/pids" ] || { say "no fleet in $FLEET_DIR"; return 0; }
	# Only the processes `up` started, by their recorded ids.
	while read -r name pid; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
		fi
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$pid" 2>/dev/null && { say "$name ($pid) did not stop; killing"; kill -KILL "$pid" 2>/dev/null || true; }
	done <"$FLEET_DIR/pids"
	rm -f "$FLEET_DIR/pids" "$FLEET_DIR/lb.pid"
	say "down"
}

status() {
	[ -e "$FLEET_DIR/pids" ] || { say "no fleet in $FLEET_DIR"; return 1; }
	while read -r name pid; do
		if kill -0 "$pid" 2>/dev/null; then state=running; else state=gone; fi
		printf '%-4s pid %-8s %s\n' "$name" "$pid" "$state"
	done <"$FLEET_DIR/pids"
	for i in $(seq "$FLEET_INSTANCES"); do
		printf 'bo%s /readyz %s\n' "$i" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$((FLEET_PORT + i))/readyz")"
	done
}

# smoke: a purchase through the load balancer, where consecutive requests
# land on different instances; then one instance is stopped and the sale
# goes on. Exits non-zero on any unexpected answer.
smoke() {
	trap down EXIT
	up >/dev/null
	local api="http://127.0.0.1:$FLEET_PORT/api/v1" hdr="$FLEET_DIR/smoke.headers"
	req() { # method path token [body] — prints the body, fails on non-2xx
		local out code args=(-sS -D "$hdr" -X "$1" "$api$2" -w '\n%{http_code}')
		[ -n "${3:-}" ] && args+=(-H "Authorization: Bearer $3")
		[ -n "${4:-}" ] && args+=(-H 'Content-Type: application/json' -d "$4")
		out=$(curl "${args[@]}") || die "$1 $2: curl failed"
		code=${out##*$'\n'}
		echo "$(grep -i '^x-fleet-backend' "$hdr" | tr -d '\r' | awk '{print $2}')" >>"$FLEET_DIR/smoke.backends"
		[ "${code:0:1}" = 2 ] || die "$1 $2: HTTP $code: ${out%$'\n'*}"
		printf '%s' "${out%$'\n'*}"
	}
	: >"$FLEET_DIR/smoke.backends"
	local admin now later ev event tier fan st token res
	admin=$(req POST /auth/token "" '{"email":"'"$BOXOFFICE_ADMIN_EMAIL"'","password":"'"$BOXOFFICE_ADMIN_PASSWORD"'"}' | jq -r .access_token)
	now=$(date -u -d '-1 min' +%Y-%m-%dT%H:%M:%SZ)
	later=$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)
	ev=$(req POST /events "$admin" '{"title":"Fleet smoke","venue":"Loopback","starts_at":"'"$later"'","sales_start_at":"'"$now"'","sales_end_at":"'"$later"'",
		"max_tickets_per_user":2,"queue":{"enabled":true,"admit_per_minute":6000},
		"tiers":[{"name":"GA","price":{"amount":1000,"currency":"EUR"},"capacity":10}]}')
	event=$(jq -r .id <<<"$ev")
	tier=$(jq -r '.tiers[0].id' <<<"$ev")
	req POST /users "" '{"email":"fan@fleet.test","password":"stage-door-123","name":"Fan"}' >/dev/null
	fan=$(req POST /auth/token "" '{"email":"fan@fleet.test","password":"stage-door-123"}' | jq -r .access_token)
	req POST "/events/$event/queue" "$fan" >/dev/null
	token=""
	for _ in $(seq 100); do
		st=$(req GET "/events/$event/queue" "$fan")
		token=$(jq -r '.admission_token // empty' <<<"$st")
		[ -n "$token" ] && break
		sleep 0.2
	done
	[ -n "$token" ] || die "not admitted within 20s: $st"
	res=$(curl -sS "$api/events/$event/reservations" -H "Authorization: Bearer $fan" -H "Admission-Token: $token" \
		-H 'Content-Type: application/json' -d '{"tier_id":"'"$tier"'","quantity":1}')
	[ "$(jq -r .status <<<"$res")" = held ] || die "hold: $res"
	req GET "/reservations/$(jq -r .id <<<"$res")" "$fan" >/dev/null
	local spread
	spread=$(sort -u "$FLEET_DIR/smoke.backends" | grep -c . || true)
	[ "$spread" -ge 2 ] || die "all requests went to one instance: $(sort -u "$FLEET_DIR/smoke.backends" | tr '\n' ' ')"

	# A pod goes away: the load balancer stops sending to it, the sale goes on.
	local first
	first=$(awk 'NR==1 {print $2}' "$FLEET_DIR/pids")
	kill -TERM "$first"
	for _ in $(seq 100); do kill -0 "$first" 2>/dev/null || break; sleep 0.1; done
	for _ in $(seq 10); do req GET "/events/$event" "" >/dev/null; done
	local sold
	sold=$(req GET "/events/$event/sales" "$admin" | jq '.tiers[0].held')
	[ "$sold" = 1 ] || die "sales view after a lost instance: held=$sold"
	say "smoke passed: $(sort -u "$FLEET_DIR/smoke.backends" | grep -c .) instances answered; 1 held; sale went on without bo1"
}

case ${1:-} in
up) up ;;
down) down ;;
status) status ;;
smoke) smoke ;;
*) echo "usage: scripts/fleet.sh up|down|status|smoke" >&2; exit 2 ;;
esac
