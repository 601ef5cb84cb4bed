#!/usr/bin/env bash
# bench/signin-attack.sh — the owner's sign-in while an attacker guesses
# passwords for the owner's email. One boxoffice on the embedded SQLite
# store, the DEFAULT rate limits (scripts/nolimits.sh is not sourced),
# bcrypt cost 10, BOXOFFICE_TRUSTED_PROXIES=127.0.0.1/32. The owner
# (user0@seed.boxoffice.test) signs in once a second from its own address
# (127.0.0.1, no X-Forwarded-For; loadgen's open model, -rate 1) for
# DURATION in three phases:
#
#   baseline  no attack
#   one       ATTACKERS closed-loop guessers, all from one address (X-Forwarded-For 10.0.0.1)
#   many      ATTACKERS closed-loop guessers, each guess from the next of 1,000,000 addresses
#
# The attacker never honours Retry-After. Each phase's loadgen report is
# written to OUT/<phase>-{owner,attacker}.json and a table to stdout.
#
# With OWNER_DEVICE=1 the owner presents the device token of its previous
# sign-in (loadgen -signin-device-file; its first sign-in, in the baseline,
# has none), as a returning owner's browser does: the server then checks
# its password in the lane kept for device tokens. The owner's 1 sign-in a
# second is far beyond the lane's default budget per account (20 an hour,
# past which the token counts as none), so that run raises it to 1000/1h:
# every sign-in then measures the lane. PHASES picks the phases (the
# baseline always runs first).
#
#   bench/signin-attack.sh                        # 30 s phases, 256 guessers
#   DURATION=10s ATTACKERS=64 bench/signin-attack.sh
#   OWNER_DEVICE=1 PHASES=many bench/signin-attack.sh
#
# Loopback only; every loop is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-30s}
ATTACKERS=${ATTACKERS:-256}
PORT=${PORT:-18297}
OUT=${OUT:-$(mktemp -d)}
OWNER_DEVICE=${OWNER_DEVICE:-}
PHASES=${PHASES:-one many}

work=$(mktemp -d)
server=""
cleanup() {
	[ -n "$server" ] && { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
	rm -rf "$work"
}
trap cleanup EXIT

for v in $(env | sed -n 's/^\(BOXOFFICE_LIMIT_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done # the defaults
[ -n "$OWNER_DEVICE" ] && export BOXOFFICE_LIMIT_SIGNIN_DEVICE_LANE_PER_USER=1000/1h
go build -o "$work/boxoffice" ./cmd/boxoffice
go build -o "$work/loadgen" ./cmd/loadgen
mkdir -p "$OUT"

export BOXOFFICE_DATABASE_URL=sqlite:$work/bo.db
export BOXOFFICE_JWT_SECRET=signin-attack-secret-0123456789abcdefghij
export BOXOFFICE_BCRYPT_COST=10
export BOXOFFICE_TRUSTED_PROXIES=127.0.0.1/32
export BOXOFFICE_LOG_LEVEL=warn
"$work/boxoffice" seed -users 1 -events 1 -hot-capacity 10 -password owner-stage-door-123 >/dev/null 2>"$work/seed.log"

BOXOFFICE_ADDR=127.0.0.1:$PORT BOXOFFICE_METRICS_ADDR=127.0.0.1:0 "$work/boxoffice" >"$work/server.log" 2>&1 &
server=$!
base=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "$base/readyz" >/dev/null || { echo "the server did not become ready"; cat "$work/server.log"; exit 1; }

common=(-scenario signin -targets "$base" -users 1 -quiet)
device=()
[ -n "$OWNER_DEVICE" ] && device=(-signin-device-file "$work/owner-device")
owner() { "$work/loadgen" "${common[@]}" "${device[@]}" -password owner-stage-door-123 -rate 1 -workers 16 -duration "$DURATION" -json "$OUT/$1-owner.json" >"$OUT/$1-owner.txt" || true; }
attacker() { # XFF-ADDRESSES PHASE: runs 4 s longer than the owner, who starts 2 s in
	"$work/loadgen" "${common[@]}" -password wrong-guess-000 -vus "$ATTACKERS" -signin-xff "$1" \
		-duration "$(($(sed 's/s$//' <<<"$DURATION") + 4))s" -json "$OUT/$2-attacker.json" >"$OUT/$2-attacker.txt" || true
}

owner baseline
for p in $PHASES; do
	case $p in
	one) n=1 ;;
	many) n=1000000 ;;
	*) echo "unknown phase $p (one, many)"; exit 2 ;;
	esac
	attacker "$n" "$p" &
	a=$!
	sleep 2
	owner "$p"
	wait "$a"
done

echo "owner (1/s from 127.0.0.1${OWNER_DEVICE:+, presenting its device token}):"
printf '  %-9s %8s %5s %9s %9s %9s  %s\n' phase sign-ins ok% p50_ms p99_ms max_ms by_status
for p in baseline $PHASES; do
	jq -r --arg p "$p" '"  \($p)\t\(.requests)\t\(if .requests > 0 then 100 * .ok / .requests | floor else 0 end)\t\(.latency.p50_ms)\t\(.latency.p99_ms)\t\(.latency.max_ms)\t\(.by_status | tojson)"' \
		"$OUT/$p-owner.json" | awk -F'\t' '{printf "%-11s %8s %5s %9s %9s %9s  %s\n", $1, $2, $3, $4, $5, $6, $7}'
done
echo "attacker ($ATTACKERS guessers, wrong password, no Retry-After):"
for p in $PHASES; do
	jq -r --arg p "$p" '"  \($p)\t\(.requests_per_s | floor)/s\t\(.by_status | tojson)\tp50 \(.latency.p50_ms) ms"' "$OUT/$p-attacker.json" |
		awk -F'\t' '{printf "%-11s %10s  %s  %s\n", $1, $2, $3, $4}'
done
echo "reports in $OUT"
if grep -h 'level=ERROR' "$work/server.log" | head -5 | grep .; then echo "the server logged errors (above)"; fi
