# bench/lib.sh — helpers the bench scripts share; source it.

# median: the median of the numbers on stdin, one a line.
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# cpu_ticks PID...: user + system CPU of the processes so far, in clock ticks.
cpu_ticks() {
	local t=0 p
	for p in "$@"; do
		t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo "$t"
}

# cpu_stat: the machine's CPU counters from /proc/stat: total and steal
# (time the host gave this machine's virtual CPUs to someone else), in ticks.
cpu_stat() { awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $9}' /proc/stat; }

# steal_pct T0 S0 T1 S1: the share of CPU time stolen between two cpu_stat readings.
steal_pct() { awk -v t="$(($3 - $1))" -v s="$(($4 - $2))" 'BEGIN {printf "%.0f", (t > 0 ? 100 * s / t : 0)}'; }

# per_op: a count per operation, rounded: per_op TOTAL N.
per_op() { awk -v t="$1" -v n="$2" 'BEGIN {printf "%.0f", (n > 0 ? t / n : 0)}'; }

# us_per: CPU microseconds per operation from a tick delta and a count.
us_per() { awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", (n > 0 ? t * 1e6 / hz / n : 0)}'; }

# wrk_hold URL CONNS DURATION TOKENS EVENT TIER OUT: one hold run from wrk
# (bench/wrk/hold.lua, 1 thread per 256 connections, at most 2). OUT.txt
# gets wrk's report, OUT.ids.* the ids of its 201s, and OUT.json the fields
# of loadgen's report that the scripts read (ok_per_s, latency, the client's
# CPU per request). It fails when any answer was not a 201.
wrk_hold() {
	local url=$1 conns=$2 duration=$3 tokens=$4 event=$5 tier=$6 out=$7
	local threads=$(((conns + 255) / 256))
	threads=$((threads > 2 ? 2 : threads))
	rm -f "$out".ids.* "$out.txt"
	/usr/bin/time -f 'wrk_cpu_s %U %S' -a -o "$out.txt" \
		wrk -t"$threads" -c"$conns" -d"$duration" --timeout 10s -s "$(dirname "${BASH_SOURCE[0]}")/wrk/hold.lua" "$url" -- \
		"$tokens" "$event" "$tier" "$out.ids" "$(basename "$out")-$RANDOM$RANDOM" >>"$out.txt"
	if grep -E '^wrk_(status_[0-9]+|socket_errors) ' "$out.txt" | grep -vE '^wrk_status_201 |^wrk_socket_errors 0$' >&2; then
		echo "wrk_hold $out: answers other than 201 (above)" >&2
		return 3
	fi
	awk '{v[$1]=$2} $1=="wrk_cpu_s" {cpu=$2+$3}
		END {printf "{\"ok_per_s\": %s, \"ok\": %d, \"latency\": {\"p50_ms\": %s, \"p99_ms\": %s}, \"generator\": {\"cpu_us_per_request\": %.1f}}\n",
			v["wrk_ok_per_s"], v["wrk_status_201"], v["wrk_p50_ms"], v["wrk_p99_ms"], cpu * 1e6 / v["wrk_requests"]}' \
		"$out.txt" >"$out.json"
}
