#!/usr/bin/env bash
# scripts/prometheus-local.sh — a local Prometheus (Debian's prometheus package)
# that scrapes a running boxoffice's metrics listener (BOXOFFICE_METRICS_ADDR,
# 127.0.0.1:9464 by default) every 5 s and loads the alert rules of
# deploy/prometheus, so you can watch the metrics move during a load run.
#
#   go build ./cmd/boxoffice && ./boxoffice &             # any running instance(s)
#   scripts/prometheus-local.sh                           # scrapes 127.0.0.1:9464; UI on http://127.0.0.1:9090
#   TARGETS="127.0.0.1:18181 127.0.0.1:18182" PORT=9091 scripts/prometheus-local.sh   # metrics listeners, not API ports
#   scripts/prometheus-local.sh --smoke                   # start, wait for the targets, print a few series, stop
#
# Then run a load (go run ./cmd/loadgen -h) and query, for example:
#   sum by (route) (rate(boxoffice_http_request_duration_seconds_count[30s]))
#   histogram_quantile(0.99, sum by (le) (rate(boxoffice_http_request_duration_seconds_bucket{route="/api/v1/events/{id}/reservations"}[30s])))
#   boxoffice_tier_available_tickets           sum(rate(boxoffice_hold_batch_size_sum[30s])) / sum(rate(boxoffice_hold_batch_size_count[30s]))
# or open http://127.0.0.1:9090/alerts for the rules.
#
# Grafana (optional): in Grafana add a Prometheus data source with URL
# http://127.0.0.1:$PORT, then Dashboards → New → Import → upload
# deploy/grafana/boxoffice-onsale.json and pick that data source. To provision
# instead, mount deploy/grafana/provisioning/dashboards/boxoffice.yaml and
# deploy/grafana/provisioning/datasources/prometheus.yaml under
# /etc/grafana/provisioning/ and the JSON under /var/lib/grafana/dashboards/boxoffice/.
#
# Needs: prometheus (apt-get install -y prometheus; its systemd service may
# already hold :9090 — then pick another PORT), curl. Data lives in a temporary
# directory unless DATA=dir is set.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=${TARGETS:-127.0.0.1:9464}
PORT=${PORT:-9090}
SCRAPE_INTERVAL=${SCRAPE_INTERVAL:-5s}
smoke=false
[ "${1:-}" = "--smoke" ] && smoke=true

PROMETHEUS=${PROMETHEUS:-$(command -v prometheus || echo /usr/bin/prometheus)}
if [ ! -x "$PROMETHEUS" ]; then
	echo "prometheus is not installed; on Debian/Ubuntu: apt-get install -y prometheus" >&2
	exit 1
fi

work=$(mktemp -d)
data=${DATA:-$work/data}
list=""
for t in $TARGETS; do list="$list\"$t\", "; done
cp deploy/prometheus/boxoffice-rules.yml "$work/"
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: $SCRAPE_INTERVAL
  evaluation_interval: $SCRAPE_INTERVAL
rule_files:
  - boxoffice-rules.yml
scrape_configs:
  - job_name: boxoffice
    metrics_path: /metrics
    static_configs:
      - targets: [${list%, }]
EOF
if command -v promtool >/dev/null; then
	promtool check config "$work/prometheus.yml" >/dev/null
fi
for t in $TARGETS; do
	curl -sf "http://$t/metrics" >/dev/null || echo "warning: nothing answers at http://$t/metrics (yet)" >&2
done

"$PROMETHEUS" --config.file="$work/prometheus.yml" --storage.tsdb.path="$data" \
	--web.listen-address="127.0.0.1:$PORT" --storage.tsdb.retention.time=2d \
	--log.level=warn >"$work/prometheus.log" 2>&1 &
prom=$!
trap 'kill $prom 2>/dev/null; wait $prom 2>/dev/null; rm -rf "$work"' EXIT
trap 'exit 0' INT TERM

api="http://127.0.0.1:$PORT/api/v1"
for _ in $(seq 100); do
	curl -sf "http://127.0.0.1:$PORT/-/ready" >/dev/null && break
	if ! kill -0 $prom 2>/dev/null; then cat "$work/prometheus.log" >&2; exit 1; fi
	sleep 0.2
done
echo "Prometheus on http://127.0.0.1:$PORT scraping $TARGETS every $SCRAPE_INTERVAL (log: $work/prometheus.log)"

if ! $smoke; then
	echo "Ctrl-C stops it."
	wait $prom
	exit
fi

# --smoke: wait until every target was scraped, then show what it sees.
want=$(wc -w <<<"$TARGETS")
query() { curl -sfG "$api/query" --data-urlencode "query=$1"; }
for _ in $(seq 60); do
	up=$(query 'sum(up{job="boxoffice"})' | sed -n 's/.*"value":\[[^,]*,"\([0-9.]*\)"\].*/\1/p')
	[ "${up:-0}" = "$want" ] && break
	sleep 0.5
done
if [ "${up:-0}" != "$want" ]; then
	echo "targets up: ${up:-0} of $want" >&2
	curl -sf "$api/targets" >&2 || true
	exit 1
fi
echo "targets up: $up of $want"
series=$(query 'count({job="boxoffice"})' | sed -n 's/.*"value":\[[^,]*,"\([0-9.]*\)"\].*/\1/p')
echo "series scraped: $series"
rules=$(curl -sf "$api/rules" | grep -o '"type":"alerting"' | wc -l)
echo "alerting rules loaded: $rules"
for q in 'sum by (route) (boxoffice_http_request_duration_seconds_count)' 'boxoffice_tier_available_tickets' 'boxoffice_db_pool_max_open_connections'; do
	echo "$q:"
	query "$q" | grep -o '"metric":{[^}]*},"value":\[[^]]*\]' | head -5 | sed 's/^/  /'
done
