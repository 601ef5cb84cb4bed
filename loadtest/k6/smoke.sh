#!/usr/bin/env bash
# smoke.sh runs every k6 script in loadtest/k6 for a few seconds against a
# fresh boxoffice on SQLite, failing when any script fails or any threshold
# is crossed. For CI.
#
#   loadtest/k6/smoke.sh [K6_BINARY]           build, seed, serve, run all scripts (≈ 1 min)
#   loadtest/k6/smoke.sh --check [K6_BINARY]   only `k6 inspect` every script (syntax and options)
#
# k6 is K6_BINARY, else $K6, else k6 on PATH, else
# $HOME/.cache/boxoffice-tools/k6-v1.8.1/k6. The server listens on
# 127.0.0.1:$PORT (default: the first free port in 19200-19299).
# SCRIPTS="browse hold" runs only those scripts. KEEP=1 keeps the temp dir.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../../scripts/nolimits.sh"
root=$(cd "$here/../.." && pwd)

mode=run
if [[ ${1:-} == --check ]]; then
	mode=check
	shift
fi

k6=${1:-${K6:-}}
if [[ -z $k6 ]]; then
	if command -v k6 >/dev/null 2>&1; then
		k6=$(command -v k6)
	elif [[ -x $HOME/.cache/boxoffice-tools/k6-v1.8.1/k6 ]]; then
		k6=$HOME/.cache/boxoffice-tools/k6-v1.8.1/k6
	else
		echo "smoke: no k6 found; build one with" >&2
		echo "  GOBIN=\$HOME/.cache/boxoffice-tools/k6-v1.8.1 go install go.k6.io/k6@v1.8.1" >&2
		exit 2
	fi
fi
echo "smoke: $("$k6" version | head -n1)"

read -r -a scripts <<<"${SCRIPTS:-browse signin hold onsale mixed checkout}"

if [[ $mode == check ]]; then
	for s in "${scripts[@]}"; do
		# inspect evaluates the init code: imports, options, thresholds.
		if ! out=$("$k6" inspect "$here/$s.js" 2>&1); then
			echo "smoke: $s.js: k6 inspect failed:" >&2
			echo "$out" >&2
			exit 1
		fi
		echo "smoke: $s.js ok"
	done
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/boxoffice-k6-smoke.XXXXXX")
server_pid=
cleanup() {
	local rc=$?
	if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	if [[ $rc -ne 0 && -f $tmp/server.log ]]; then
		echo "smoke: last server log lines:" >&2
		tail -n 20 "$tmp/server.log" >&2
	fi
	if [[ -n ${KEEP:-} ]]; then
		echo "smoke: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=${PORT:-}
if [[ -z $port ]]; then
	for p in $(seq 19200 19299); do
		if port_free "$p"; then
			port=$p
			break
		fi
	done
	[[ -n $port ]] || { echo "smoke: no free port in 19200-19299" >&2; exit 1; }
fi
base=http://127.0.0.1:$port

echo "smoke: building cmd/boxoffice"
(cd "$root" && go build -o "$tmp/boxoffice" ./cmd/boxoffice)

export BOXOFFICE_DATABASE_URL=sqlite:$tmp/boxoffice.db
BOXOFFICE_JWT_SECRET=k6-smoke-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
export BOXOFFICE_JWT_SECRET
export BOXOFFICE_PAYMENTS=test # simulated payments
# The key of the test provider's signed callbacks (checkout.js signs them).
BOXOFFICE_TEST_PAYMENTS_SECRET=k6-smoke-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
export BOXOFFICE_TEST_PAYMENTS_SECRET
export BOXOFFICE_ADMIN_EMAIL=admin@k6-smoke.test
export BOXOFFICE_ADMIN_PASSWORD=k6-smoke-admin-password
export BOXOFFICE_ADDR=127.0.0.1:$port
export BOXOFFICE_METRICS_ADDR=127.0.0.1:0
export BOXOFFICE_LOG_LEVEL=${BOXOFFICE_LOG_LEVEL:-warn}
# The smoke checks the scripts and the contract, not bcrypt's speed on a busy
# CI runner: a cheap cost (seed and server agree on it) keeps sign-ins fast.
export BOXOFFICE_BCRYPT_COST=${BOXOFFICE_BCRYPT_COST:-4}

users=2000
seed_flags=(-users "$users" -events 500 -hot-capacity 300 -hot-queue -hot-admit-per-minute "${HOT_ADMIT_PER_MINUTE:-60000}")
echo "smoke: boxoffice seed ${seed_flags[*]}"
"$tmp/boxoffice" seed "${seed_flags[@]}" >"$tmp/seed.out" 2>"$tmp/seed.log"
event_id=$(sed -n 's/^hot_event_id=//p' "$tmp/seed.out")
tier_id=$(sed -n 's/^hot_tier_id=//p' "$tmp/seed.out")
[[ -n $event_id && -n $tier_id ]] || { echo "smoke: seed printed no hot event:" >&2; cat "$tmp/seed.out" "$tmp/seed.log" >&2; exit 1; }

echo "smoke: serving on $base"
"$tmp/boxoffice" serve >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null &&
		curl -fsS -o /dev/null "$base/readyz" 2>/dev/null; then
		break
	fi
	kill -0 "$server_pid" 2>/dev/null || { echo "smoke: the server exited" >&2; exit 1; }
	sleep 0.1
done
curl -fsS -o /dev/null "$base/readyz" || { echo "smoke: the server is not ready" >&2; exit 1; }

common=(
	-e "BASE_URL=$base" -e "EVENT_ID=$event_id" -e "TIER_ID=$tier_id" -e "USERS=$users"
	-e "JWT_SECRET=$BOXOFFICE_JWT_SECRET" -e "TEST_PAYMENTS_SECRET=$BOXOFFICE_TEST_PAYMENTS_SECRET"
	-e "ADMIN_EMAIL=$BOXOFFICE_ADMIN_EMAIL" -e "ADMIN_PASSWORD=$BOXOFFICE_ADMIN_PASSWORD"
	-e RAMP=1s -e THINK=0.1 -e POLL_INTERVAL=0.5 -e QUEUE_MAX_WAIT=10
	--quiet --no-usage-report
)
# Each script's own settings: small VU counts, a few seconds each.
declare -A args=(
	[browse]="-e VUS=5 -e DURATION=5s"
	[signin]="-e VUS=2 -e DURATION=5s -e TOKENS=signin -e USER_OFFSET=1000 -e USERS=1000"
	[hold]="-e VUS=10 -e DURATION=5s -e CREATE_EVENT=1 -e CAPACITY=40 -e USER_OFFSET=1000 -e USERS=1000"
	[onsale]="-e VUS=10 -e DURATION=8s -e USERS=1000 -e QUANTITY=3"
	[mixed]="-e RPM=3000 -e DURATION=8s -e USERS=1000 -e USER_OFFSET=1000 -e TOKENS=mint"
	[checkout]="-e VUS=4 -e DURATION=6s -e CREATE_EVENT=1 -e USERS=2000"
)

failed=()
start=$SECONDS
for s in "${scripts[@]}"; do
	echo "smoke: k6 run $s.js ${args[$s]:-}"
	t0=$SECONDS
	# shellcheck disable=SC2086 # args are word lists
	if "$k6" run "${common[@]}" ${args[$s]:-} --summary-export "$tmp/$s.summary.json" "$here/$s.js" >"$tmp/$s.log" 2>&1; then
		echo "smoke: $s.js passed in $((SECONDS - t0)) s"
	else
		rc=$?
		echo "smoke: $s.js FAILED (exit $rc) after $((SECONDS - t0)) s:" >&2
		cat "$tmp/$s.log" >&2
		failed+=("$s")
	fi
	if [[ -n ${VERBOSE:-} ]]; then cat "$tmp/$s.log"; fi
done
echo "smoke: k6 runs took $((SECONDS - start)) s"

if ! kill -0 "$server_pid" 2>/dev/null; then
	echo "smoke: the server is no longer running (crashed or interrupted)" >&2
	exit 1
fi
if ((${#failed[@]})); then
	echo "smoke: FAILED: ${failed[*]}" >&2
	exit 1
fi
echo "smoke: all passed"
