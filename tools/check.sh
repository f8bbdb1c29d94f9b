#!/bin/sh
# make check's two passes at once: the plain build's suite and the
# ASan/UBSan build's, each on its own build directory, temporary
# directories and logs.  The suites mostly wait (on sockets, children,
# timers), so two at a time take little more than the slower one, and
# they load the machine no more than the suite is made to bear.  Each
# pass's output is shown whole when both are over; the status is the
# worse of the two.
set -u
make=${MAKE:-make}
out=$(mktemp -d "${TMPDIR:-/tmp}/masterd-check.XXXXXX") || exit 1
$make --no-print-directory test >"$out/test" 2>&1 &
plain=$!
$make --no-print-directory sanitize >"$out/sanitize" 2>&1 &
san=$!
wait $plain
rc_plain=$?
wait $san
rc_san=$?
echo "==> the suite (plain build)"
cat "$out/test"
echo
echo "==> the suite (ASan/UBSan build)"
cat "$out/sanitize"
rm -rf "$out"
echo
echo "make check: plain build $( [ $rc_plain -eq 0 ] && echo passed || echo FAILED), ASan/UBSan build $( [ $rc_san -eq 0 ] && echo passed || echo FAILED)"
[ $rc_plain -eq 0 ] && [ $rc_san -eq 0 ]
