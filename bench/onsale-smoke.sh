#!/usr/bin/env bash
# bench/onsale-smoke.sh — a short on-sale with the invariant check: two
# boxoffice instances on one MariaDB database and one Redis, an event with a
# waiting room, more buyers than tickets. Each buyer browses, opens the event,
# joins the queue, waits for admission over SSE, holds and pays. The run fails
# (non-zero exit) unless every ticket is sold, none twice, every 201 exists on
# the server, the sales view balances and no answer was unexpected.
#
#   bench/onsale-smoke.sh                      # CI size: 6,000 buyers, 1,500 tickets, ≤ 45 s of load
#   USERS=20000 CAPACITY=5000 RATE=1000 WAIT=poll DURATION=120s bench/onsale-smoke.sh
#
# Needs MariaDB at $MYSQL (default root@127.0.0.1:3306) and Redis at
# $REDIS_URL. It creates and drops the database bo_onsale_smoke.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/nolimits.sh
USERS=${USERS:-6000}
CAPACITY=${CAPACITY:-1500}
RATE=${RATE:-400}                # buyers arriving per second
ADMIT=${ADMIT:-60000}            # the event's admit_per_minute
WAIT=${WAIT:-sse}
DURATION=${DURATION:-45s}
PORT=${PORT:-18290}              # instances on PORT and PORT+1
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/11}
DB=bo_onsale_smoke
MYSQL_URL=mysql://root@127.0.0.1:3306/$DB

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	mysql -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS $DB" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/boxoffice" ./cmd/boxoffice
go build -o "$work/loadgen" ./cmd/loadgen
mysql -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB"
redis-cli -u "$REDIS_URL" FLUSHDB >/dev/null

export BOXOFFICE_DATABASE_URL=$MYSQL_URL BOXOFFICE_REDIS_URL=$REDIS_URL
export BOXOFFICE_PAYMENTS=test # simulated payments: these runs measure holds and checkouts, not a provider
export BOXOFFICE_JWT_SECRET=onsale-smoke-secret-0123456789abcdefghij
export BOXOFFICE_ADMIN_EMAIL=admin@onsale.test BOXOFFICE_ADMIN_PASSWORD=admin-stage-door-123
export BOXOFFICE_LOG_LEVEL=warn
seed=$("$work/boxoffice" seed -users "$USERS" -events 2000 -hot-capacity "$CAPACITY" -hot-max-per-user 4 \
	-hot-queue -hot-admit-per-minute "$ADMIT" 2>"$work/seed.log")
event=$(sed -n 's/^hot_event_id=//p' <<<"$seed")
echo "$seed" | head -1

targets=()
for i in 0 1; do
	BOXOFFICE_ADDR=127.0.0.1:$((PORT + i)) BOXOFFICE_METRICS_ADDR=127.0.0.1:0 "$work/boxoffice" >"$work/server$i.log" 2>&1 &
	pids+=($!)
	targets+=("http://127.0.0.1:$((PORT + i))")
done
for t in "${targets[@]}"; do
	for _ in $(seq 100); do curl -sf "$t/readyz" >/dev/null && break; sleep 0.1; done
	curl -sf "$t/readyz" >/dev/null || { echo "instance $t did not become ready"; cat "$work"/server*.log; exit 1; }
done

status=0
"$work/loadgen" -scenario onsale -targets "$(IFS=,; echo "${targets[*]}")" -event "$event" -users "$USERS" \
	-rate "$RATE" -onsale-wait "$WAIT" -duration "$DURATION" -onsale-expect-sellout -fail-on-unexpected \
	-admin-email "$BOXOFFICE_ADMIN_EMAIL" -admin-password "$BOXOFFICE_ADMIN_PASSWORD" -quiet || status=$?
if [ "$status" -ne 0 ]; then
	echo "onsale smoke FAILED (loadgen exit $status); server logs:"
	tail -n 30 "$work"/server*.log
	exit "$status"
fi
if grep -h 'level=ERROR' "$work"/server*.log | head -5 | grep .; then
	echo "onsale smoke: the servers logged errors (above)"
	exit 1
fi
echo "onsale smoke passed"
