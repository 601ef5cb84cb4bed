#!/usr/bin/env bash
# bench/attendees.sh — the attendee export of one large event on MariaDB:
#
#   1. seeds TICKETS sold tickets of the hot event (boxoffice seed
#      --hot-tickets: paid orders of two by USERS seeded users; every 10th
#      ticket used, every 50th void, every other order without an email of
#      its own), timed;
#   2. starts the real server binary and reads its peak RSS (VmHWM) once it
#      answers and after a few list requests;
#   3. downloads GET /api/v1/events/{id}/attendees.csv with curl ROUNDS
#      times (timed; rows counted; the byte order mark, the header and the
#      formula protection checked) and reads VmHWM after each, sampling
#      VmRSS every 0.5 s meanwhile;
#   4. times a few list requests: the first page, a deep page, and searches
#      by name prefix (common, rare, with a status), email prefix (orders'
#      and accounts'), order ID and a prefix nothing matches.
#
#   bench/attendees.sh
#   TICKETS=100000 ROUNDS=1 bench/attendees.sh
#
# Needs MariaDB at 127.0.0.1:3306 (root, no password); it creates and drops
# the database bo_bench_attendees. Every download is bounded by curl
# --max-time; the server, MariaDB and curl share the machine's cores.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/nolimits.sh
TICKETS=${TICKETS:-1000000}
USERS=${USERS:-100000}
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-18197}
DB=bo_bench_attendees
work=$(mktemp -d)
export BOXOFFICE_DATABASE_URL=mysql://root@127.0.0.1:3306/$DB
export BOXOFFICE_JWT_SECRET=bench-secret-0123456789abcdefghijklmnop
ADMIN_EMAIL=admin@bench.test ADMIN_PASSWORD=admin-stage-door-123
server="" sampler=""
cleanup() {
	[ -n "$sampler" ] && { kill "$sampler" 2>/dev/null || true; }
	[ -n "$server" ] && { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
	mysql -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS $DB" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
hwm() { awk '/^VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/$server/status"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$server/status"; }

go build -o "$work/boxoffice" ./cmd/boxoffice
mysql -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB"
echo "MariaDB: $(mysql -h127.0.0.1 -uroot -N -e "SELECT CONCAT('version=', VERSION(), ' buffer_pool=', @@innodb_buffer_pool_size DIV 1048576, 'M flush_log_at_trx_commit=', @@innodb_flush_log_at_trx_commit)")"
echo "commit $(git rev-parse --short HEAD); $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "TICKETS=$TICKETS USERS=$USERS ROUNDS=$ROUNDS"

start=$(date +%s.%N)
seed=$("$work/boxoffice" seed -users "$USERS" -events 0 -hot-tickets "$TICKETS" 2>"$work/seed.log")
echo "seed: $TICKETS tickets ($(( (TICKETS + 1) / 2 )) orders) and $USERS users in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}') s"
event=$(sed -n 's/^hot_event_id=//p' <<<"$seed")
mysql -h127.0.0.1 -uroot -N -e "ANALYZE TABLE $DB.tickets, $DB.orders" >/dev/null
mysql -h127.0.0.1 -uroot -N -e "SELECT CONCAT('tables: tickets ', ROUND((data_length + index_length) / 1048576), ' MiB') FROM information_schema.tables WHERE table_schema = '$DB' AND table_name = 'tickets'"

BOXOFFICE_ADDR=127.0.0.1:$PORT BOXOFFICE_METRICS_ADDR=127.0.0.1:0 BOXOFFICE_LOG_LEVEL=warn \
	BOXOFFICE_ADMIN_EMAIL=$ADMIN_EMAIL BOXOFFICE_ADMIN_PASSWORD=$ADMIN_PASSWORD "$work/boxoffice" >"$work/server.log" 2>&1 &
server=$!
base=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.2; done
admin=$(curl -sf "$base/api/v1/auth/token" -H 'Content-Type: application/json' \
	-d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}" | jq -r .access_token)
auth=(-H "Authorization: Bearer $admin")
echo "server pid $server: VmHWM after start $(hwm)"

# The list: first page, a deep page, searches (each timed by curl).
list() {
	local what=$1 query=$2
	curl -sS --max-time 60 "${auth[@]}" -o "$work/page.json" -w "%{http_code} %{time_total}" "$base/api/v1/events/$event/attendees$query" >"$work/w"
	read -r code secs <"$work/w" || true
	printf '  %-32s %s  %4d items  %6.1f ms\n' "$what" "$code" "$(jq '.items | length' "$work/page.json")" "$(awk -v s="$secs" 'BEGIN {print s * 1000}')"
}
echo "list:"
list "first page (limit 100)" "?limit=100"
cursor=$(jq -r .next_cursor "$work/page.json")
order=$(jq -r '.items[0].order_id' "$work/page.json")
for _ in $(seq 50); do # 50 pages deep
	cursor=$(curl -sf --max-time 60 "${auth[@]}" "$base/api/v1/events/$event/attendees?limit=100&cursor=$cursor" | jq -r .next_cursor)
done
list "page 52 (limit 100)" "?limit=100&cursor=$cursor"
list "q=a (common name prefix)" "?q=a&limit=100"
list "q=a&status=void" "?q=a&status=void&limit=100"
list "q=b (order emails buyer…)" "?q=b&limit=100"
list "q=u (account emails user…)" "?q=u&limit=100"
list "q=zoë (name prefix)" "?q=zo%C3%AB&limit=100"
list "q=ada+lovelace (name prefix)" "?q=ada+lovelace&limit=100"
list "q=buyer12345@ (order email)" "?q=buyer12345@&limit=100"
list "q=user778@ (account email)" "?q=user778@&limit=100"
list "q=<order id>" "?q=$order"
list "q=nobody (no match)" "?q=nobody&limit=100"
list "status=void" "?status=void&limit=100"
echo "VmHWM after the list requests: $(hwm)"

echo "export:"
for r in $(seq "$ROUNDS"); do
	max_rss=0
	(while kill -0 "$server" 2>/dev/null; do rss_kb; sleep 0.5; done) >"$work/rss.$r" &
	sampler=$!
	curl -sS --max-time 300 "${auth[@]}" -o "$work/attendees.csv" -D "$work/headers" \
		-w "%{http_code} %{size_download} %{time_starttransfer} %{time_total}\n" "$base/api/v1/events/$event/attendees.csv" >"$work/w"
	kill "$sampler" 2>/dev/null || true
	wait "$sampler" 2>/dev/null || true
	sampler=""
	read -r code bytes ttfb secs <"$work/w"
	max_rss=$(sort -n "$work/rss.$r" | tail -1)
	rows=$(($(wc -l <"$work/attendees.csv") - 1))
	bom=$(head -c 3 "$work/attendees.csv" | od -An -tx1 | tr -d ' ')
	protected=$(grep -c "'=HYPERLINK" "$work/attendees.csv" || true)
	printf '  round %d: %s, %d rows, %.1f MiB in %.2f s (first byte %.3f s), %.0f rows/s; max VmRSS sampled %.1f MiB; VmHWM %s\n' \
		"$r" "$code" "$rows" "$(awk -v b="$bytes" 'BEGIN {print b / 1048576}')" "$secs" "$ttfb" \
		"$(awk -v n="$rows" -v s="$secs" 'BEGIN {print n / s}')" "$(awk -v k="$max_rss" 'BEGIN {print k / 1024}')" "$(hwm)"
	[ "$code" = 200 ] && [ "$rows" -eq "$TICKETS" ] && [ "$bom" = efbbbf ] || { echo "export round $r: bad answer (code $code, rows $rows, BOM $bom)" >&2; exit 3; }
done
echo "  header: $(sed -n '1p' "$work/attendees.csv" | tr -d '\r' | cut -c4-)"
echo "  formula cells protected: $protected (expected $((TICKETS / 100000)))"
echo "  $(grep -i '^content-disposition' "$work/headers" | tr -d '\r')"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
if grep -q 'cut short' "$work/server.log"; then
	echo "server log:" >&2
	cat "$work/server.log" >&2
	exit 3
fi
