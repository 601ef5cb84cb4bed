#!/usr/bin/env bash
# bench/checkin.sh — the door: online scans of ONE event's tickets on MariaDB.
#
# ROUNDS rounds of loadgen -scenario checkin, each on tickets of its own:
# its setup (not timed) places TICKETS/100 orders of 100 tickets of the hot
# event as seeded users, pays them with tok_visa and reads their codes; then
# VUS closed-loop scanners (the admin) scan every ticket twice, at two of
# eight gates, the two scans sometimes at the same moment, for at most
# DURATION. scans/s is the scans answered ok or already_used per second.
# Every round ends with its check (every ticket admitted exactly once, the
# gate counts grown by exactly the admissions, a sample of tickets read back
# used at the right gate) and the script fails when one fails.
#
#   bench/checkin.sh
#   ROUNDS=5 DURATION=10s VUS=256 TICKETS=60000 bench/checkin.sh
#   PROFILE=/tmp/prof bench/checkin.sh   # also a server CPU profile (PROFILE_SECONDS, 6 s) of the first round's scans, and loadgen's
#
# Needs MariaDB at 127.0.0.1:3306 (root, no password); it creates and drops
# the database bo_bench_checkin. The server, MariaDB and the load generator
# share the machine's cores. Each loadgen run is bounded (timeout 300 s).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
. scripts/nolimits.sh
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
VUS=${VUS:-128}
TICKETS=${TICKETS:-40000}
PORT=${PORT:-18197}
PROFILE=${PROFILE:-}
PROFILE_SECONDS=${PROFILE_SECONDS:-6}
DB=bo_bench_checkin
work=$(mktemp -d)
export BOXOFFICE_DATABASE_URL=mysql://root@127.0.0.1:3306/$DB
export BOXOFFICE_PAYMENTS=test # the test provider: tok_visa pays at once
export BOXOFFICE_TEST_PAYMENTS_SECRET=bench-payments-secret-0123456789abcdef
export BOXOFFICE_JWT_SECRET=bench-secret-0123456789abcdefghijklmnop
ADMIN_EMAIL=admin@bench.test ADMIN_PASSWORD=admin-stage-door-123
USERS=20000 # each buys 100 tickets once: TICKETS/100 a round
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
echo "ROUNDS=$ROUNDS DURATION=$DURATION VUS=$VUS TICKETS=$TICKETS (a round) BOXOFFICE_HOLD_BATCH=${BOXOFFICE_HOLD_BATCH:-256} BOXOFFICE_HOLD_PARALLEL=${BOXOFFICE_HOLD_PARALLEL:-1}"
seed=$("$work/boxoffice" seed -users $USERS -events 100 -hot-capacity 10000000 -hot-max-per-user 100 2>/dev/null)
event=$(sed -n 's/^hot_event_id=//p' <<<"$seed")
tier=$(sed -n 's/^hot_tier_id=//p' <<<"$seed")

pprof=()
[ -n "$PROFILE" ] && { mkdir -p "$PROFILE"; pprof=(BOXOFFICE_PPROF_ADDR=127.0.0.1:$((PORT + 1))); }
env "${pprof[@]}" BOXOFFICE_ADDR=127.0.0.1:$PORT BOXOFFICE_METRICS_ADDR=127.0.0.1:0 BOXOFFICE_LOG_LEVEL=warn \
	BOXOFFICE_ADMIN_EMAIL=$ADMIN_EMAIL BOXOFFICE_ADMIN_PASSWORD=$ADMIN_PASSWORD "$work/boxoffice" >"$work/server.log" 2>&1 &
server=$!
base=http://127.0.0.1:$PORT
for _ in $(seq 50); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.2; done
echo "hot event $event, tier $tier"

common=(-scenario checkin -targets "$base" -event "$event" -order-lines "$tier:100" -users $USERS
	-admin-email "$ADMIN_EMAIL" -admin-password "$ADMIN_PASSWORD" -check-workers 32 -quiet -fail-on-unexpected)
# A short warm-up of the path.
timeout 300 "$work/loadgen" "${common[@]}" -checkin-tickets 2000 -vus 16 -duration 2s >"$work/warm-up.txt" 2>&1 || {
	echo "warm-up FAILED:"
	cat "$work/warm-up.txt"
	exit 1
}

checkins() { mysql -h127.0.0.1 -uroot -N -e "SELECT COUNT(*) FROM $DB.checkins"; }
mariadb=$(pidof mariadbd || pidof mysqld || true)
mariadb=${mariadb%% *}
# idle_stat: the machine's CPU counters: total and idle (with iowait), in ticks.
idle_stat() { awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $5 + $6}' /proc/stat; }
# counters: the server's and MariaDB's CPU ticks and the machine's idle_stat.
counters() { echo "$(cpu_ticks "$server") $( [ -n "$mariadb" ] && cpu_ticks "$mariadb" || echo 0) $(idle_stat)"; }
sampler="" # writes counters to $1 once the round's scans have begun (its setup comes first)
sample() {
	local n0
	n0=$(checkins)
	(for _ in $(seq 1200); do [ "$(checkins)" -gt "$n0" ] && break; sleep 0.1; done
	counters >"$1") &
	sampler=$!
}

profiler=""
profile() { # a server CPU profile once the round's scans have begun (its setup comes first), in the background
	[ -n "$PROFILE" ] || return 0
	local n0
	n0=$(checkins)
	(for _ in $(seq 600); do [ "$(checkins)" -gt "$n0" ] && break; sleep 0.2; done
	sleep 1
	curl -sf -o "$PROFILE/checkin.prof" "http://127.0.0.1:$((PORT + 1))/debug/pprof/profile?seconds=$PROFILE_SECONDS" &&
		go tool pprof -top -cum "$work/boxoffice" "$PROFILE/checkin.prof" 2>/dev/null | head -60 >"$PROFILE/checkin.txt") &
	profiler=$!
}

# The CPU columns cover the scans and the check that follows them (not the
# setup): the server's and MariaDB's CPU per scan answered, and how idle the
# machine was meanwhile.
printf '\n%-6s %8s %7s %7s %7s %7s %9s %9s %9s %7s %7s\n' "round" "scans/s" "p50 ms" "p99 ms" "scan s" "tickets" \
	"server" "mariadb" "loadgen" "idle %" "steal %"
printf '%-6s %8s %7s %7s %7s %7s %9s %9s %9s %7s %7s\n' "" "" "" "" "" "" "µs/scan" "µs/scan" "µs/scan" "" ""
for r in $(seq "$ROUNDS"); do
	prof=()
	if [ "$r" = 1 ] && [ -n "$PROFILE" ]; then
		profile
		prof=(-cpuprofile "$PROFILE/loadgen.prof")
	fi
	m0=$(cpu_stat)
	sample "$work/round-$r.c0"
	timeout 300 "$work/loadgen" "${common[@]}" "${prof[@]}" -checkin-tickets "$TICKETS" -vus "$VUS" -duration "$DURATION" \
		-json "$work/round-$r.json" >"$work/round-$r.txt" || {
		echo "round $r FAILED:"
		cat "$work/round-$r.txt"
		tail -20 "$work/server.log"
		exit 1
	}
	read -r s1 d1 t1 i1 <<<"$(counters)"
	steal=$(steal_pct $m0 $(cpu_stat))
	wait "$sampler" 2>/dev/null || true
	read -r s0 d0 t0 i0 <"$work/round-$r.c0"
	n=$(jq .requests "$work/round-$r.json")
	jq -r --arg r "$r" --arg sv "$(us_per $((s1 - s0)) "$n")" --arg db "$(us_per $((d1 - d0)) "$n")" \
		--arg idle "$(awk -v t=$((t1 - t0)) -v i=$((i1 - i0)) 'BEGIN {printf "%.0f", (t > 0 ? 100 * i / t : 0)}')" --arg steal "$steal" \
		'[$r, (.ok_per_s|floor), .latency.p50_ms, .latency.p99_ms, .duration_s, .check.details.tickets,
		$sv, $db, .generator.cpu_us_per_request, $idle, $steal] | @tsv' "$work/round-$r.json" |
		awk -F'\t' '{printf "%-6s %8s %7.1f %7.1f %7.1f %7s %9s %9s %9s %7s %7s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11}'
	grep -E 'scans:|checked_in grew|checked_in_here' "$work/round-$r.txt" | sed 's/^ */    /'
done
m=$(for r in $(seq "$ROUNDS"); do jq .ok_per_s "$work/round-$r.json"; done | median)
printf 'median scans/s %.0f (target ≥ 5,000)\n' "$m"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "$profiler" ]; then
	wait "$profiler" || true
	go tool pprof -top -cum "$work/loadgen" "$PROFILE/loadgen.prof" 2>/dev/null | head -40 >"$PROFILE/loadgen.txt" || true
	echo "profiles in $PROFILE (checkin.txt: the server; loadgen.txt: the load generator)"
fi
