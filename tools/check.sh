#!/bin/sh
# make check: the plain build's suite and the ASan/UBSan build's, each
# run in two shards (tests/run TESTS_SHARD), the four at once.  Both
# builds are made first, side by side.  The suites mostly wait (on
# sockets, children, timers) and are made to pass on a loaded machine,
# so four at a time take little more than the slowest shard; every test
# has its own temporary directory, socket and ports, and the plain and
# sanitizer builds their own build directories and logs.  Each shard's
# output is shown whole when all are over; the status is the worst.
set -u
make=${MAKE:-make}
SHARDS=${CHECK_SHARDS:-2}
out=$(mktemp -d "${TMPDIR:-/tmp}/masterd-check.XXXXXX") || exit 1
trap 'rm -rf "$out"' EXIT

$make --no-print-directory test-build >"$out/build" 2>&1 &
plain=$!
$make --no-print-directory sanitize-build >"$out/build-sanitize" 2>&1 &
san=$!
wait $plain && wait $san || {
	wait
	cat "$out/build" "$out/build-sanitize"
	echo "make check: the build FAILED"
	exit 1
}

pids=""
for build in build build/sanitize; do
	k=1
	while [ $k -le "$SHARDS" ]; do
		BUILD=$build TESTS_SHARD=$k/$SHARDS sh tests/run \
		    >"$out/$(echo $build | tr / -)-$k" 2>&1 &
		pids="$pids $!"
		k=$((k + 1))
	done
done
rc=0
for p in $pids; do
	wait "$p" || rc=1
done

status=""
for build in build build/sanitize; do
	what="plain build"
	[ $build = build ] || what="ASan/UBSan build"
	result=passed
	k=1
	while [ $k -le "$SHARDS" ]; do
		f="$out/$(echo $build | tr / -)-$k"
		echo "==> the suite ($what), shard $k of $SHARDS"
		cat "$f"
		echo
		tail -n 1 "$f" | grep -q ' 0 failed$' || result=FAILED
		k=$((k + 1))
	done
	status="$status${status:+, }$what $result"
done
echo "make check: $status"
exit $rc
