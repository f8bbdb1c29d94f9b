#!/bin/sh
# Benchmark: how long masterd's loop goes without a turn while one child
# sends a burst of rounds (issue #14), and how long the burst takes.  For
# each burst size, a fresh masterd with a 200 ms systemd watchdog (a
# WATCHDOG=1 every 100 ms when the loop turns) and a stand-in child
# (tests/regress/hostchild.py) that sends N rounds of its directive at
# once.  The longest gap between two WATCHDOG=1, less the 100 ms period,
# is the longest stall.  Prints a table; asserts nothing.
set -u
SIZES=${LOOP_BENCH_SIZES:-"500 1000 3000 10000"}
. "$(cd "$(dirname "$0")/.." && pwd)/regress/lib.subr"
. "$REGRESS_DIR/loop.subr"
WATCHDOG_SEC=0.2
use_hostchild
start_notify
printf '%8s  %12s  %16s\n' "rounds" "taken in s" "longest stall ms"
for n in $SIZES; do
	rm -rf "$T/state"
	: >"$T/notify.log"
	echo '{}' >"$FAKECHILD_DIR/burster.json"
	write_config </dev/null
	sed -i 's/^log_level = debug$/log_level = warning/' "$T/masterd.conf"
	NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=200000 start_masterd
	ctl submit "bench" --domains burster >/dev/null || fail submit
	wait_until "the first directive" directive_done 1 burster Build
	echo "{\"rounds\": $n}" >"$FAKECHILD_DIR/burster.json"
	watchdog_mark
	t0=$(date +%s.%N)
	ctl directive burster "burst" >/dev/null || fail directive
	DEADLINE=600 wait_until "the burst" directive_done 1 burster burst
	t1=$(date +%s.%N)
	gap=$(watchdog_gap)
	printf '%8s  %12.2f  %16.0f\n' "$n" "$(echo "$t1 - $t0" | bc)" \
	    "$(echo "($gap - 0.1) * 1000" | bc)"
	kill -TERM "$MD_PID"
	wait_until "masterd to stop" sh -c "! kill -0 $MD_PID 2>/dev/null"
	wait "$MD_PID" 2>/dev/null
	MD_PID=""
done
