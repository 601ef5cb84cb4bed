#!/usr/bin/env bash
# bench/orders.sh — orders against holds on ONE hot event, and the payment
# callback rate, in one run on MariaDB:
#
#   1. ROUNDS alternating rounds of the single-tier hold rate (loadgen hold:
#      one ticket of tier A a request) and the two-line order rate (loadgen
#      order: one ticket of tier A and one of tier B an order), each with
#      VUS closed-loop clients for DURATION; the ratio order/hold of the
#      medians and the median of the rounds' ratios;
#   2. ROUNDS rounds of the webhook scenario: WEBHOOK_ORDERS orders with a
#      tok_processing payment each are set up (not timed), then WEBHOOK_VUS
#      clients deliver their signed succeeded callbacks as fast as the server
#      takes them, plus 10 % duplicates and 10 % stale failed callbacks;
#      callbacks/s is the first deliveries taken per second.
#
# Every run ends with its invariant check (every 201 read back; the sales
# view balances; for webhook, every order paid exactly once and the revenue
# equal to the orders' totals), and the script fails when one fails.
#
#   bench/orders.sh
#   ROUNDS=5 DURATION=10s VUS=256 WEBHOOK_ORDERS=20000 WEBHOOK_VUS=64 bench/orders.sh
#   PROFILE=/tmp/prof bench/orders.sh   # also 10 s server CPU profiles of the first order and webhook rounds, in that directory
#   PARTS=webhook bench/orders.sh       # only the callback rounds (PARTS=orders: only the hold and order rounds)
#
# Needs MariaDB at 127.0.0.1:3306 (root, no password); it creates and drops
# the database bo_bench_orders. The server, MariaDB and the load generator
# share the machine's cores.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
. scripts/nolimits.sh
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
VUS=${VUS:-256}
WEBHOOK_ORDERS=${WEBHOOK_ORDERS:-20000}
WEBHOOK_VUS=${WEBHOOK_VUS:-64}
PORT=${PORT:-18195}
PROFILE=${PROFILE:-}
PARTS=${PARTS:-orders webhook}
DB=bo_bench_orders
work=$(mktemp -d)
export BOXOFFICE_DATABASE_URL=mysql://root@127.0.0.1:3306/$DB
export BOXOFFICE_PAYMENTS=test # the test provider: these runs measure boxoffice, not a provider
export BOXOFFICE_TEST_PAYMENTS_SECRET=bench-payments-secret-0123456789abcdef
export BOXOFFICE_JWT_SECRET=bench-secret-0123456789abcdefghijklmnop
ADMIN_EMAIL=admin@bench.test ADMIN_PASSWORD=admin-stage-door-123
server=""
cleanup() {
	[ -n "$server" ] && { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
	mysql -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS $DB" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/boxoffice" ./cmd/boxoffice
go build -o "$work/loadgen" ./cmd/loadgen
mysql -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB"
echo "MariaDB: $(mysql -h127.0.0.1 -uroot -N -e "SELECT CONCAT('version=', VERSION(), ' flush_log_at_trx_commit=', @@innodb_flush_log_at_trx_commit, ' log_bin=', @@log_bin, ' buffer_pool=', @@innodb_buffer_pool_size DIV 1048576, 'M log_file=', @@innodb_log_file_size DIV 1048576, 'M')")"
echo "commit $(git rev-parse --short HEAD); $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "BOXOFFICE_HOLD_PARALLEL=${BOXOFFICE_HOLD_PARALLEL:-1} ROUNDS=$ROUNDS DURATION=$DURATION VUS=$VUS WEBHOOK_ORDERS=$WEBHOOK_ORDERS WEBHOOK_VUS=$WEBHOOK_VUS"
seed=$("$work/boxoffice" seed -users 200000 -events 1000 -hot-capacity 10000000 -hot-max-per-user 100 2>/dev/null)
event=$(sed -n 's/^hot_event_id=//p' <<<"$seed")
tierA=$(sed -n 's/^hot_tier_id=//p' <<<"$seed")

pprof=()
[ -n "$PROFILE" ] && { mkdir -p "$PROFILE"; pprof=(BOXOFFICE_PPROF_ADDR=127.0.0.1:$((PORT + 1))); }
env "${pprof[@]}" BOXOFFICE_ADDR=127.0.0.1:$PORT BOXOFFICE_METRICS_ADDR=127.0.0.1:0 BOXOFFICE_LOG_LEVEL=warn \
	BOXOFFICE_ADMIN_EMAIL=$ADMIN_EMAIL BOXOFFICE_ADMIN_PASSWORD=$ADMIN_PASSWORD "$work/boxoffice" >"$work/server.log" 2>&1 &
server=$!
base=http://127.0.0.1:$PORT
for _ in $(seq 50); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.2; done

# The hot event gets a second tier, B, as an organizer would add one.
admin=$(curl -sf "$base/api/v1/auth/token" -H 'Content-Type: application/json' \
	-d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}" | jq -r .access_token)
curl -sf -X PATCH "$base/api/v1/events/$event" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
	-d '{"tiers":[{"name":"Child","price":{"amount":3000,"currency":"USD"},"capacity":10000000}]}' >/dev/null
tierB=$(curl -sf "$base/api/v1/events/$event" | jq -r --arg a "$tierA" '.tiers[] | select(.id != $a) | .id')
echo "hot event $event: tier A $tierA, tier B $tierB"

common=(-targets "$base" -event "$event" -users 200000 -admin-email "$ADMIN_EMAIL" -admin-password "$ADMIN_PASSWORD"
	-check-workers 32 -quiet -fail-on-unexpected)
lines="$tierA:1,$tierB:1"
# A short warm-up of both paths.
"$work/loadgen" -scenario hold "${common[@]}" -tier "$tierA" -vus 8 -duration 2s >/dev/null
"$work/loadgen" -scenario order "${common[@]}" -order-lines "$lines" -vus 8 -duration 2s >/dev/null

profilers=()
profile() { # profile NAME [WAIT_FOR_PAID]: a 10 s server CPU profile, in the background
	[ -n "$PROFILE" ] || return 0
	local paid=""
	[ -n "${2:-}" ] && paid=$(succeeded)
	# For the webhook round, wait until callbacks are being applied: its
	# setup (orders and payments) comes first and is not what is measured.
	(if [ -n "$paid" ]; then
		for _ in $(seq 600); do [ "$(succeeded)" -gt "$paid" ] && break; sleep 0.2; done
	fi
	sleep 2; curl -sf -o "$PROFILE/$1.prof" "http://127.0.0.1:$((PORT + 1))/debug/pprof/profile?seconds=10" &&
		go tool pprof -top -cum "$work/boxoffice" "$PROFILE/$1.prof" 2>/dev/null | head -45 >"$PROFILE/$1.txt") &
	profilers+=($!)
}

succeeded() { mysql -h127.0.0.1 -uroot -N -e "SELECT COUNT(*) FROM $DB.payments WHERE status = 'succeeded'"; }

run() { # run NAME ARGS...: one loadgen run; prints its line, keeps its JSON
	local name=$1
	shift
	local s0 m0
	s0=$(cpu_ticks "$server") m0=$(cpu_stat)
	"$work/loadgen" "$@" -json "$work/$name.json" >"$work/$name.txt" || {
		echo "$name FAILED:"
		cat "$work/$name.txt"
		tail -20 "$work/server.log"
		exit 1
	}
	local n
	n=$(jq '.ok' "$work/$name.json")
	echo "$(us_per $(($(cpu_ticks "$server") - s0)) "$n") $(steal_pct $m0 $(cpu_stat))" >"$work/$name.cpu"
}

# server µs/op is the server's CPU over the whole loadgen run (its check, which
# reads every 201 back, included) per operation of the load.
printf '\n%-14s %10s %9s %9s %16s %8s\n' "run" "per s" "p50 ms" "p99 ms" "server µs/op" "steal %"
show() { # show NAME RATE
	jq -r --arg n "$1" --arg r "$2" --arg cpu "$(cat "$work/$1.cpu")" \
		'[$n, ($r|tonumber|floor), .latency.p50_ms, .latency.p99_ms, ($cpu | split(" ") | .[])] | @tsv' "$work/$1.json" |
		awk -F'\t' '{printf "%-14s %10s %9s %9s %16s %8s\n", $1, $2, $3, $4, $5, $6}'
}
if [[ " $PARTS " == *" orders "* ]]; then
for r in $(seq "$ROUNDS"); do
	run "hold-$r" -scenario hold "${common[@]}" -tier "$tierA" -vus "$VUS" -duration "$DURATION"
	show "hold-$r" "$(jq .ok_per_s "$work/hold-$r.json")"
	[ "$r" = 1 ] && profile order
	run "order-$r" -scenario order "${common[@]}" -order-lines "$lines" -vus "$VUS" -duration "$DURATION"
	show "order-$r" "$(jq .ok_per_s "$work/order-$r.json")"
	echo "$(jq .ok_per_s "$work/order-$r.json") / $(jq .ok_per_s "$work/hold-$r.json")" | bc -l >>"$work/ratios"
done
h=$(for r in $(seq "$ROUNDS"); do jq .ok_per_s "$work/hold-$r.json"; done | median)
o=$(for r in $(seq "$ROUNDS"); do jq .ok_per_s "$work/order-$r.json"; done | median)
printf 'median holds/s %.0f, orders/s %.0f (2 tickets each): orders/holds %.3f (median of the rounds'"'"' ratios %.3f; target ≥ 0.80)\n' \
	"$h" "$o" "$(echo "$o / $h" | bc -l)" "$(median <"$work/ratios")"
fi

if [[ " $PARTS " == *" webhook "* ]]; then
for r in $(seq "$ROUNDS"); do
	[ "$r" = 1 ] && profile webhook wait-for-paid
	run "webhook-$r" -scenario webhook "${common[@]}" -order-lines "$lines" -vus "$WEBHOOK_VUS" -duration 120s \
		-webhook-orders "$WEBHOOK_ORDERS" -webhook-duplicates 0.1 -webhook-stale 0.1
	# The rate of first deliveries: each one applied a payment.
	show "webhook-$r" "$(jq '.ops.webhook.count / .duration_s' "$work/webhook-$r.json")"
	grep -E 'callbacks:|money USD:' "$work/webhook-$r.txt" | sed 's/^ */    /'
done
w=$(for r in $(seq "$ROUNDS"); do jq '.ops.webhook.count / .duration_s' "$work/webhook-$r.json"; done | median)
a=$(for r in $(seq "$ROUNDS"); do jq '.ok_per_s' "$work/webhook-$r.json"; done | median)
printf 'median callbacks/s %.0f applied (first deliveries), %.0f with duplicates and stale ones (target ≥ 2,000 applied)\n' "$w" "$a"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
for p in "${profilers[@]}"; do wait "$p" || true; done
