#!/usr/bin/env bash
# bench/metrics-cost.sh — what the Prometheus metrics cost on the hot path.
#
# Two servers on one MariaDB database, identical but for BOXOFFICE_METRICS
# (true / false), are loaded AT THE SAME TIME by two wrk hold runs (bench/wrk/
# hold.lua) with the same number of connections, PAIRS times. Whatever the
# shared machine does during a pair, it does to both servers, so the ratio
# of their holds/s within a pair is what the metrics cost, free of the
# machine's drift between runs. It also reads each server's CPU per hold
# from /proc, the most direct measure of the cost. Every 201 of every run is
# checked afterwards (loadgen -held-ids). Prints each pair, then medians.
#
#   bench/metrics-cost.sh                     # 9 pairs of 10 s, 256 connections per server
#   PAIRS=15 DURATION=15s CONNS=128 bench/metrics-cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
. scripts/nolimits.sh
PAIRS=${PAIRS:-9}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-256}
PORT=${PORT:-18390}
DB=bo_bench_metrics
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	mysql -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS $DB" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
export BOXOFFICE_PAYMENTS=test # simulated payments: these runs measure holds and checkouts, not a provider
export BOXOFFICE_JWT_SECRET=bench-secret-0123456789abcdefghijklmnop
go build -o "$work/boxoffice" ./cmd/boxoffice
go build -o "$work/loadgen" ./cmd/loadgen
mysql -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB"
export BOXOFFICE_DATABASE_URL=mysql://root@127.0.0.1:3306/$DB
seed=$("$work/boxoffice" seed -users 200000 -events 1000 -hot-capacity 100000000 -hot-max-per-user 1000 2>/dev/null)
event=$(sed -n 's/^hot_event_id=//p' <<<"$seed")
tier=$(sed -n 's/^hot_tier_id=//p' <<<"$seed")

declare -A pid port
port[on]=$PORT port[off]=$((PORT + 1))
for m in on off; do
	enabled=true
	[ "$m" = off ] && enabled=false
	BOXOFFICE_METRICS=$enabled BOXOFFICE_ADDR=127.0.0.1:${port[$m]} BOXOFFICE_LOG_LEVEL=warn \
		BOXOFFICE_ADMIN_EMAIL=admin@bench.test BOXOFFICE_ADMIN_PASSWORD=admin-stage-door-123 \
		"$work/boxoffice" >"$work/server-$m.log" 2>&1 &
	pid[$m]=$!
	pids+=($!)
done
for m in on off; do
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:${port[$m]}/readyz" >/dev/null && break; sleep 0.1; done
done
grep -q '^boxoffice_' <<<"$(curl -sf "http://127.0.0.1:${port[on]}/metrics")" || { echo "metrics are not on at :${port[on]}"; exit 1; }
curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${port[off]}/metrics" | grep -q 404 || { echo "metrics are not off at :${port[off]}"; exit 1; }

check_args=(-scenario hold -event "$event" -tier "$tier" -users 200000 -admin-email admin@bench.test
	-admin-password admin-stage-door-123 -quiet -fail-on-unexpected)
# A warm-up of each server, which also writes the users' tokens for wrk.
for m in on off; do
	"$work/loadgen" "${check_args[@]}" -targets "http://127.0.0.1:${port[$m]}" -vus 8 -duration 2s \
		-tokens-out "$work/tokens.txt" >/dev/null
done

printf '%-6s %16s %16s %8s %18s %18s %8s\n' pair "on holds/s" "off holds/s" "on/off" "on µs/hold" "off µs/hold" "on/off"
for i in $(seq "$PAIRS"); do
	declare -A t0 t1
	for m in on off; do t0[$m]=$(cpu_ticks "${pid[$m]}"); done
	wrk_hold "http://127.0.0.1:${port[on]}" "$CONNS" "$DURATION" "$work/tokens.txt" "$event" "$tier" "$work/on-$i" &
	a=$!
	wrk_hold "http://127.0.0.1:${port[off]}" "$CONNS" "$DURATION" "$work/tokens.txt" "$event" "$tier" "$work/off-$i" &
	b=$!
	wait $a
	wait $b
	for m in on off; do t1[$m]=$(cpu_ticks "${pid[$m]}"); done
	for m in on off; do
		"$work/loadgen" "${check_args[@]}" -targets "http://127.0.0.1:${port[$m]}" -vus 1 -held-ids "$work/$m-$i.ids.*" >/dev/null
	done
	on=$(jq .ok_per_s "$work/on-$i.json") off=$(jq .ok_per_s "$work/off-$i.json")
	con=$(us_per $((t1[on] - t0[on])) "$(jq .ok "$work/on-$i.json")")
	coff=$(us_per $((t1[off] - t0[off])) "$(jq .ok "$work/off-$i.json")")
	echo "$on $off $con $coff" >>"$work/pairs"
	printf '%-6s %16.0f %16.0f %8.3f %18s %18s %8.3f\n' "$i" "$on" "$off" "$(echo "$on / $off" | bc -l)" "$con" "$coff" "$(echo "$con / $coff" | bc -l)"
done
ratio=$(awk '{print $1 / $2}' "$work/pairs" | median)
cpu=$(awk '{print $3 / $4}' "$work/pairs" | median)
printf '\nmedian holds/s: metrics on %.0f, off %.0f\n' "$(awk '{print $1}' "$work/pairs" | median)" "$(awk '{print $2}' "$work/pairs" | median)"
printf 'median server CPU per hold: metrics on %s µs, off %s µs\n' "$(awk '{print $3}' "$work/pairs" | median)" "$(awk '{print $4}' "$work/pairs" | median)"
printf 'median per-pair ratio on/off: holds/s %.3f (%+.1f %%), server CPU per hold %.3f (%+.1f %%)\n' \
	"$ratio" "$(echo "($ratio - 1) * 100" | bc -l)" "$cpu" "$(echo "($cpu - 1) * 100" | bc -l)"
