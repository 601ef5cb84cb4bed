#!/usr/bin/env bash
# bench/holds.sh — holds per second on ONE hot tier through the full HTTP path,
# next to the naive baseline (one transaction per hold on the tier row),
# measured in the same run on this machine. Prints medians of REPS runs.
#
#   bench/holds.sh                       # MariaDB at 127.0.0.1:3306, as configured now
#   STORE=sqlite bench/holds.sh          # the embedded SQLite store instead
#   REPS=5 DURATION=20s VUS="64 512" bench/holds.sh
#   LOADER=wrk bench/holds.sh            # load from wrk (bench/wrk/hold.lua) instead of cmd/loadgen
#
# LOADER=wrk drives the same requests from wrk, which costs a fraction of
# loadgen's CPU per request, leaving more of the two shared cores to the
# server and the database; loadgen still checks every 201 it reported
# (-held-ids) and the sales view afterwards.
#
# It creates (and afterwards keeps) the database bo_bench_holds; the server and
# load generator share the machine's cores.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
. scripts/nolimits.sh
REPS=${REPS:-3}
DURATION=${DURATION:-15s}
VUS=${VUS:-"64 512"}
STORE=${STORE:-mysql}
LOADER=${LOADER:-loadgen}
PORT=${PORT:-18190}
MYSQL_URL=${MYSQL_URL:-mysql://root@127.0.0.1:3306/bo_bench_holds}
work=$(mktemp -d)
export BOXOFFICE_PAYMENTS=test # simulated payments: these runs measure holds and checkouts, not a provider
export BOXOFFICE_JWT_SECRET=bench-secret-0123456789abcdefghijklmnop
go build -o "$work/boxoffice" ./cmd/boxoffice
go build -o "$work/loadgen" ./cmd/loadgen

if [ "$STORE" = sqlite ]; then
	export BOXOFFICE_DATABASE_URL="sqlite:$work/bench.db"
else
	mysql -h127.0.0.1 -uroot -e 'DROP DATABASE IF EXISTS bo_bench_holds; CREATE DATABASE bo_bench_holds'
	export BOXOFFICE_DATABASE_URL="$MYSQL_URL"
	echo "MariaDB: $(mysql -h127.0.0.1 -uroot -N -e "SELECT CONCAT('version=', VERSION(), ' flush_log_at_trx_commit=', @@innodb_flush_log_at_trx_commit, ' log_bin=', @@log_bin, ' sync_binlog=', @@sync_binlog, ' buffer_pool=', @@innodb_buffer_pool_size DIV 1048576, 'M log_file=', @@innodb_log_file_size DIV 1048576, 'M')")"
fi
echo "store=$STORE loader=$LOADER BOXOFFICE_HOLD_PARALLEL=${BOXOFFICE_HOLD_PARALLEL:-1} BOXOFFICE_HOLD_BATCH=${BOXOFFICE_HOLD_BATCH:-256} BOXOFFICE_METRICS=${BOXOFFICE_METRICS:-true}"
seed=$("$work/boxoffice" seed -users 200000 -events 1000 -hot-capacity 10000000 -hot-max-per-user 100 2>/dev/null)
event=$(sed -n 's/^hot_event_id=//p' <<<"$seed")
tier=$(sed -n 's/^hot_tier_id=//p' <<<"$seed")

BOXOFFICE_ADDR=127.0.0.1:$PORT BOXOFFICE_METRICS_ADDR=127.0.0.1:0 BOXOFFICE_LOG_LEVEL=warn BOXOFFICE_ADMIN_EMAIL=admin@bench.test \
	BOXOFFICE_ADMIN_PASSWORD=admin-stage-door-123 "$work/boxoffice" >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done


hold_args=(-scenario hold -targets "http://127.0.0.1:$PORT" -event "$event" -tier "$tier" -users 200000
	-admin-email admin@bench.test -admin-password admin-stage-door-123 -quiet -fail-on-unexpected)
# A short warm-up, which also writes the users' tokens for wrk.
"$work/loadgen" "${hold_args[@]}" -vus 8 -duration 2s -tokens-out "$work/tokens.txt" >/dev/null

run_hold() { # vus rep
	if [ "$LOADER" = wrk ]; then
		local s0 d0 m0 r0
		s0=$(cpu_ticks "$server") d0=$(cpu_ticks $dbpids) m0=$(cpu_stat) r0=$(redo_bytes)
		wrk_hold "http://127.0.0.1:$PORT" "$1" "$DURATION" "$work/tokens.txt" "$event" "$tier" "$work/hold-$1-$2"
		# CPU per hold of the server and the database during the load.
		local n
		n=$(jq .ok "$work/hold-$1-$2.json")
		echo "$(us_per $(($(cpu_ticks "$server") - s0)) "$n") $(us_per $(($(cpu_ticks $dbpids) - d0)) "$n") $(steal_pct $m0 $(cpu_stat)) $(per_op $(($(redo_bytes) - r0)) "$n")" >"$work/cpu-$1-$2"
		# Every 201 wrk saw must be a reservation the server has.
		"$work/loadgen" "${hold_args[@]}" -vus 1 -held-ids "$work/hold-$1-$2.ids.*" >"$work/check-$1-$2.txt"
	else
		"$work/loadgen" "${hold_args[@]}" -vus "$1" -duration "$DURATION" \
			-json "$work/hold-$1-$2.json" >"$work/hold-$1-$2.txt"
	fi
}
run_baseline() { # rep
	"$work/loadgen" -scenario baseline-sql -mysql "$MYSQL_URL" -clients 16 -duration "$DURATION" -quiet \
		-json "$work/base-$1.json" >"$work/base-$1.txt"
}

# The database's processes, for its CPU per hold (none for SQLite: it is in the server).
dbpids=$([ "$STORE" = sqlite ] || pgrep -x 'mariadbd|mysqld' || true)
# redo_bytes: what InnoDB has written to its redo log so far (0 for SQLite).
redo_bytes() {
	if [ "$STORE" = sqlite ]; then echo 0; return; fi
	mysql -h127.0.0.1 -uroot -N -e "SHOW GLOBAL STATUS LIKE 'Innodb_os_log_written'" | cut -f2
}

printf '\n%-22s %10s %9s %9s %14s %14s %14s %8s %12s\n' "run" "holds/s" "p50 ms" "p99 ms" "client µs/req" "server µs/hold" "db µs/hold" "steal %" "redo B/hold"
for vus in $VUS; do
	for rep in $(seq "$REPS"); do
		run_hold "$vus" "$rep"
		# A run fails (non-zero exit) on a lost reservation, an oversell or an unexpected answer.
		cpu=$(cat "$work/cpu-$vus-$rep" 2>/dev/null || echo "- - - -")
		jq -r --arg n "hold $vus VUs #$rep" --arg cpu "$cpu" '[$n, (.ok_per_s|floor), .latency.p50_ms, .latency.p99_ms, (.generator.cpu_us_per_request // 0 | floor), ($cpu | split(" ") | .[])] | @tsv' \
			"$work/hold-$vus-$rep.json" | awk -F'\t' '{printf "%-22s %10s %9s %9s %14s %14s %14s %8s %12s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9}'
	done
	m=$(for rep in $(seq "$REPS"); do jq '.ok_per_s' "$work/hold-$vus-$rep.json"; done | median)
	p99=$(for rep in $(seq "$REPS"); do jq '.latency.p99_ms' "$work/hold-$vus-$rep.json"; done | median)
	printf '%-22s %10.0f %9s %9s\n' "median $vus VUs" "$m" "" "$p99"
	echo "$vus $m $p99" >>"$work/medians"
done
# The machine's HTTP ceiling in the same run: a bare net/http server answering
# a body of a hold answer's size, loaded by the same generator (64 clients),
# and by wrk when installed (about 7 µs of CPU per request, against
# loadgen's 50-60).
"$work/loadgen" -serve-bare "127.0.0.1:$((PORT + 1))" -bare-bytes 450 >/dev/null 2>&1 &
bare=$!
trap 'kill $server $bare 2>/dev/null; wait $server $bare 2>/dev/null; rm -rf "$work"' EXIT
sleep 0.3
for rep in $(seq "$REPS"); do
	"$work/loadgen" -scenario get -url "http://127.0.0.1:$((PORT + 1))/" -vus 64 -duration "$DURATION" -quiet \
		-json "$work/bare-$rep.json" >/dev/null
	jq -r --arg n "bare net/http #$rep" '[$n, (.ok_per_s|floor), .latency.p50_ms, .latency.p99_ms, (.generator.cpu_us_per_request // 0 | floor)] | @tsv' \
		"$work/bare-$rep.json" | awk -F'\t' '{printf "%-22s %10s %9s %9s %12s\n", $1, $2, $3, $4, $5}'
	if command -v wrk >/dev/null; then
		wrk -t1 -c64 -d"$DURATION" "http://127.0.0.1:$((PORT + 1))/" | awk -v n="bare, wrk #$rep" '/Requests\/sec/ {printf "%-22s %10d\n", n, $2}' | tee -a "$work/wrk"
	fi
done
c=$(for rep in $(seq "$REPS"); do jq '.ok_per_s' "$work/bare-$rep.json"; done | median)
printf '%-22s %10.0f\n' "median bare net/http" "$c"
if [ -s "$work/wrk" ]; then
	printf '%-22s %10.0f\n' "median bare, wrk" "$(awk '{print $NF}' "$work/wrk" | median)"
fi
while read -r vus m p99; do
	printf 'ratio hold(%s VUs)/bare net/http (same generator): %.2f\n' "$vus" "$(echo "$m / $c" | bc -l)"
done <"$work/medians"

if [ "$STORE" != sqlite ]; then
	for rep in $(seq "$REPS"); do
		run_baseline "$rep"
		jq -r --arg n "baseline 16 clients #$rep" '[$n, (.ok_per_s|floor), .latency.p50_ms, .latency.p99_ms] | @tsv' "$work/base-$rep.json" |
			awk -F'\t' '{printf "%-22s %10s %9s %9s\n", $1, $2, $3, $4}'
	done
	b=$(for rep in $(seq "$REPS"); do jq '.ok_per_s' "$work/base-$rep.json"; done | median)
	printf '%-22s %10.0f\n' "median baseline" "$b"
	while read -r vus m p99; do
		printf 'ratio hold(%s VUs)/baseline: %.2f\n' "$vus" "$(echo "$m / $b" | bc -l)"
	done <"$work/medians"
fi
