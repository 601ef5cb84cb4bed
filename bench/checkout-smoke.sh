#!/usr/bin/env bash
# bench/checkout-smoke.sh — a short checkout with the invariant check: one
# boxoffice instance on MariaDB with the test payment provider, a hot event
# with two tiers. Buyers place two-line orders and cancel them, pay with
# tok_visa, or pay with tok_processing and deliver the provider's signed
# succeeded callback, and some refund a ticket (loadgen checkout); then the
# callbacks of orders set up beforehand are delivered with duplicates and
# stale ones (loadgen webhook). The run fails (non-zero exit) unless every
# order is found in the state its buyer left it, the sales view balances,
# its confirmed tickets grew by exactly the paid orders' tickets, its money
# by exactly their totals less refunds, and no answer was unexpected.
#
#   bench/checkout-smoke.sh                        # CI size: under a minute
#   DURATION=60s VUS=64 ORDERS=20000 bench/checkout-smoke.sh
#
# Needs MariaDB at 127.0.0.1:3306 (root, no password). It creates and drops
# the database bo_checkout_smoke.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/nolimits.sh
USERS=${USERS:-2000}
DURATION=${DURATION:-15s}
VUS=${VUS:-32}
ORDERS=${ORDERS:-2000}
PORT=${PORT:-18296}
DB=bo_checkout_smoke

work=$(mktemp -d)
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

export BOXOFFICE_DATABASE_URL=mysql://root@127.0.0.1:3306/$DB
export BOXOFFICE_PAYMENTS=test # the test provider, whose callbacks the load generator signs
export BOXOFFICE_TEST_PAYMENTS_SECRET=checkout-smoke-payments-secret-0123456789
export BOXOFFICE_JWT_SECRET=checkout-smoke-secret-0123456789abcdefghij
export BOXOFFICE_ADMIN_EMAIL=admin@checkout.test BOXOFFICE_ADMIN_PASSWORD=admin-stage-door-123
export BOXOFFICE_LOG_LEVEL=warn
seed=$("$work/boxoffice" seed -users "$USERS" -events 200 -hot-capacity 1000000 -hot-max-per-user 100 2>"$work/seed.log")
event=$(sed -n 's/^hot_event_id=//p' <<<"$seed")
tierA=$(sed -n 's/^hot_tier_id=//p' <<<"$seed")

BOXOFFICE_ADDR=127.0.0.1:$PORT BOXOFFICE_METRICS_ADDR=127.0.0.1:0 "$work/boxoffice" >"$work/server.log" 2>&1 &
server=$!
base=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "$base/readyz" >/dev/null || { echo "the server did not become ready"; cat "$work/server.log"; exit 1; }

# A second tier, added as an organizer would.
admin=$(curl -sf "$base/api/v1/auth/token" -H 'Content-Type: application/json' \
	-d "{\"email\":\"$BOXOFFICE_ADMIN_EMAIL\",\"password\":\"$BOXOFFICE_ADMIN_PASSWORD\"}" | jq -r .access_token)
curl -sf -X PATCH "$base/api/v1/events/$event" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
	-d '{"tiers":[{"name":"Child","price":{"amount":3000,"currency":"USD"},"capacity":1000000}]}' >/dev/null
tierB=$(curl -sf "$base/api/v1/events/$event" | jq -r --arg a "$tierA" '.tiers[] | select(.id != $a) | .id')

common=(-targets "$base" -event "$event" -users "$USERS" -order-lines "$tierA:2,$tierB:1"
	-admin-email "$BOXOFFICE_ADMIN_EMAIL" -admin-password "$BOXOFFICE_ADMIN_PASSWORD" -fail-on-unexpected -quiet)
status=0
"$work/loadgen" -scenario checkout "${common[@]}" -vus "$VUS" -duration "$DURATION" \
	-checkout-cancel 0.1 -checkout-visa 0.2 -checkout-refund 0.2 || status=$?
[ "$status" -eq 0 ] && { "$work/loadgen" -scenario webhook "${common[@]}" -vus "$VUS" -duration 30s \
	-webhook-orders "$ORDERS" -webhook-duplicates 0.2 -webhook-stale 0.2 || status=$?; }
if [ "$status" -ne 0 ]; then
	echo "checkout smoke FAILED (loadgen exit $status); server log:"
	tail -n 30 "$work/server.log"
	exit "$status"
fi
if grep -h 'level=ERROR' "$work/server.log" | head -5 | grep .; then
	echo "checkout smoke: the server logged errors (above)"
	exit 1
fi
echo "checkout smoke passed"
