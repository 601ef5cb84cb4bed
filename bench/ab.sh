#!/usr/bin/env bash
# bench/ab.sh — an A/B run of the hold path: bench/holds.sh from two or more
# checkouts of boxoffice (git worktrees), in alternating rounds on the same
# MariaDB, so that the host's drift falls on every variant alike. Each run
# reseeds the database (bench/holds.sh drops and creates it).
#
#   git worktree add /tmp/base main~1
#   ROUNDS=3 bench/ab.sh /tmp/base .            # base against this checkout
#   ROUNDS=3 bench/ab.sh /tmp/base . /tmp/other # three variants
#
# Every run is one bench/holds.sh with REPS=1 (override VUS, DURATION,
# LOADER, BOXOFFICE_HOLD_PARALLEL as for holds.sh). It prints every run's
# holds/s, p99 and the server's and database's CPU per hold (LOADER=wrk), then
# per variant the median holds/s and its ratio to the first variant's, the
# median of the per-round ratios, and the median server CPU per hold.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
[ $# -ge 2 ] || { echo "usage: bench/ab.sh DIR_A DIR_B [DIR...]" >&2; exit 2; }
ROUNDS=${ROUNDS:-3}
export REPS=1 VUS=${VUS:-512} DURATION=${DURATION:-10s} LOADER=${LOADER:-wrk}
out=$(mktemp -d)
dirs=("$@")
for round in $(seq "$ROUNDS"); do
	for i in "${!dirs[@]}"; do
		d=${dirs[$i]}
		log="$out/run-$i-$round.log"
		(cd "$d" && bench/holds.sh) >"$log" 2>&1 || { echo "variant $i ($d), round $round failed:"; tail -20 "$log"; exit 1; }
		line=$(grep -m1 "^median $VUS VUs" "$log")
		hps=$(awk '{print $4}' <<<"$line")
		p99=$(awk '{print $5}' <<<"$line")
		# The run's own line: holds/s p50 p99 client-µs server-µs db-µs steal redo.
		cpu=$(grep -m1 "^hold $VUS VUs #1" "$log" | awk '{print $9, $10}')
		echo "$hps" >>"$out/hps-$i"
		echo "${cpu%% *}" >>"$out/cpu-$i"
		printf 'round %d  variant %d  %-9s %8.0f holds/s  p99 %8s ms  server %6s µs/hold  db %6s µs/hold  (%s)\n' \
			"$round" "$i" "$(git -C "$d" log -1 --format=%h)" "$hps" "$p99" "${cpu%% *}" "${cpu##* }" "$d"
	done
done
base=$(median <"$out/hps-0")
for i in "${!dirs[@]}"; do
	m=$(median <"$out/hps-$i")
	ratios=$(paste "$out/hps-$i" "$out/hps-0" | awk '{printf "%.4f\n", $1/$2}' | median)
	c=$(median <"$out/cpu-$i")
	printf 'variant %d %-24s median %8.0f holds/s  ×%.3f of variant 0 (median of round ratios ×%.3f)  server CPU %s µs/hold  ×%.3f\n' \
		"$i" "${dirs[$i]}" "$m" "$(echo "$m / $base" | bc -l)" "$ratios" "$c" "$(echo "$c / $(median <"$out/cpu-0")" | bc -l)"
done
rm -rf "$out"
