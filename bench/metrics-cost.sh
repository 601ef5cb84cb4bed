#!/usr/bin/env bash
# bench/metrics-cost.sh — what the Prometheus metrics cost on the hot path.
# Two servers on one MariaDB database, identical but for BOXOFFICE_METRICS
# (true / false), take turns: PAIRS times a hold run against one, then the
# other (the order alternates), so the machine's drift hits both alike. It
# prints every run and the median of the per-pair ratios on/off.
#
#   bench/metrics-cost.sh                 # 6 pairs of 10 s at 256 clients
#   PAIRS=10 DURATION=15s VUS=512 bench/metrics-cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${PAIRS:-6}
DURATION=${DURATION:-10s}
VUS=${VUS:-256}
PORT=${PORT:-18390}
DB=bo_bench_metrics
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	mysql -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS $DB" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
export BOXOFFICE_JWT_SECRET=bench-secret-0123456789abcdefghijklmnop
go build -o "$work/boxoffice" ./cmd/boxoffice
go build -o "$work/loadgen" ./cmd/loadgen
mysql -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB"
export BOXOFFICE_DATABASE_URL=mysql://root@127.0.0.1:3306/$DB
seed=$("$work/boxoffice" seed -users 200000 -events 1000 -hot-capacity 100000000 -hot-max-per-user 1000 2>/dev/null)
event=$(sed -n 's/^hot_event_id=//p' <<<"$seed")
tier=$(sed -n 's/^hot_tier_id=//p' <<<"$seed")

for m in true false; do
	port=$PORT
	[ "$m" = false ] && port=$((PORT + 1))
	BOXOFFICE_METRICS=$m BOXOFFICE_ADDR=127.0.0.1:$port BOXOFFICE_LOG_LEVEL=warn "$work/boxoffice" >"$work/server-$m.log" 2>&1 &
	pids+=($!)
done
for port in "$PORT" $((PORT + 1)); do
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
done
grep -q '^boxoffice_' <<<"$(curl -sf "http://127.0.0.1:$PORT/metrics")" || { echo "metrics are not on at :$PORT"; exit 1; }
curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$((PORT + 1))/metrics" | grep -q 404 || { echo "metrics are not off at :$((PORT + 1))"; exit 1; }

run() { # on|off pair
	local port=$PORT
	[ "$1" = off ] && port=$((PORT + 1))
	"$work/loadgen" -scenario hold -targets "http://127.0.0.1:$port" -event "$event" -tier "$tier" -users 200000 \
		-vus "$VUS" -duration "$DURATION" -quiet -fail-on-unexpected -json "$work/$1-$2.json" >/dev/null
	jq -r --arg n "metrics $1 #$2" '[$n, (.ok_per_s|floor), .latency.p50_ms, .latency.p99_ms] | @tsv' "$work/$1-$2.json" |
		awk -F'\t' '{printf "%-18s %9s holds/s  p50 %7.1f ms  p99 %7.1f ms\n", $1, $2, $3, $4}'
}
for i in $(seq "$PAIRS"); do
	if [ $((i % 2)) = 1 ]; then run on "$i"; run off "$i"; else run off "$i"; run on "$i"; fi
	echo "$(jq .ok_per_s "$work/on-$i.json") $(jq .ok_per_s "$work/off-$i.json")" >>"$work/pairs"
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
on=$(awk '{print $1}' "$work/pairs" | median)
off=$(awk '{print $2}' "$work/pairs" | median)
ratio=$(awk '{print $1 / $2}' "$work/pairs" | median)
printf '\nmedian holds/s: metrics on %.0f, off %.0f; median of the per-pair ratios on/off: %.3f (cost %.1f %%)\n' \
	"$on" "$off" "$ratio" "$(echo "(1 - $ratio) * 100" | bc -l)"
