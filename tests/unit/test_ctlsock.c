/*
 * test_ctlsock.c — the control socket's trust rules (common/ctlsock.c),
 * the default socket path without $XDG_RUNTIME_DIR (common/config.c) and
 * the terminal escaping of masterctl's output (common/termsafe.c).
 */
#include "testutil.h"

#include <unistd.h>

#include "common/config.h"
#include "common/ctlsock.h"
#include "common/termsafe.h"

static struct stat
dir_stat(uid_t uid, gid_t gid, mode_t mode)
{
	struct stat st;

	memset(&st, 0, sizeof(st));
	st.st_mode = S_IFDIR | mode;
	st.st_uid = uid;
	st.st_gid = gid;
	return st;
}

static void
test_dir_rules(void **state)
{
	struct stat st;

	(void)state;
	/* Ours or root's, writable by no one else: fine. */
	st = dir_stat(1000, 1000, 0700);
	assert_null(ctlsock_dir_unsafe(&st, 1000, CTLSOCK_NO_GROUP));
	st = dir_stat(0, 0, 0755);
	assert_null(ctlsock_dir_unsafe(&st, 1000, CTLSOCK_NO_GROUP));
	/* /tmp: root's, but everyone writes there (sticky or not). */
	st = dir_stat(0, 0, 01777);
	assert_string_equal(ctlsock_dir_unsafe(&st, 1000, CTLSOCK_NO_GROUP),
	    "writable by every user");
	assert_string_equal(ctlsock_dir_unsafe(&st, 0, CTLSOCK_NO_GROUP),
	    "writable by every user");
	/* Someone else's directory, however closed. */
	st = dir_stat(1001, 1001, 0700);
	assert_string_equal(ctlsock_dir_unsafe(&st, 1000, CTLSOCK_NO_GROUP),
	    "owned by another user");
	/* Group-writable: only when the group is the control group. */
	st = dir_stat(1000, 50, 0770);
	assert_non_null(ctlsock_dir_unsafe(&st, 1000, CTLSOCK_NO_GROUP));
	assert_non_null(ctlsock_dir_unsafe(&st, 1000, 51));
	assert_null(ctlsock_dir_unsafe(&st, 1000, 50));
	/* Not a directory (lstat of a symlink). */
	st = dir_stat(1000, 1000, 0700);
	st.st_mode = S_IFLNK | 0777;
	assert_string_equal(ctlsock_dir_unsafe(&st, 1000, CTLSOCK_NO_GROUP),
	    "not a directory");
}

static void
test_real_tmp(void **state)
{
	struct stat st;

	(void)state;
	if (lstat("/tmp", &st) != 0 || !(st.st_mode & S_IWOTH))
		skip();
	assert_non_null(ctlsock_dir_unsafe(&st, geteuid(),
	    CTLSOCK_NO_GROUP));
}

static void
test_server_rules(void **state)
{
	(void)state;
	assert_null(ctlsock_server_untrusted(0, 1000, false));
	assert_null(ctlsock_server_untrusted(1000, 1000, false));
	assert_null(ctlsock_server_untrusted(999, 1000, true));
	assert_non_null(ctlsock_server_untrusted(1001, 1000, false));
	assert_non_null(ctlsock_server_untrusted(65534, 0, false));
}

static void
test_default_socket(void **state)
{
	char *s, want[64];

	(void)state;
	unsetenv("RUNTIME_DIRECTORY");
	unsetenv("XDG_RUNTIME_DIR");
	s = conf_default_socket();
	if (geteuid() == 0) {
		assert_string_equal(s, "/run/masterd/control.sock");
	} else {
		/* Never straight in /tmp: a directory of this user's. */
		snprintf(want, sizeof(want), "/tmp/masterd-%lu/control.sock",
		    (unsigned long)geteuid());
		assert_string_equal(s, want);
	}
	free(s);
}

static void
escapes(const char *in, size_t n, const char *want)
{
	struct termsafe ts = { 0 };
	char out[512];
	size_t len;

	len = termsafe_escape(&ts, in, n, out);
	out[len] = '\0';
	assert_string_equal(out, want);
}

static void
test_escape(void **state)
{
	struct termsafe ts = { 0 };
	char out[64];
	size_t len;

	(void)state;
	escapes("plain text\n\ttab", 15, "plain text\n\ttab");
	escapes("\033[2J", 4, "\\x1b[2J");
	escapes("a\rb\007\177", 5, "a\\x0db\\x07\\x7f");
	escapes("nul\0x", 5, "nul\\x00x");
	/* C1 controls arrive UTF-8 encoded: U+009B (CSI), U+0085. */
	escapes("\302\2331m\302\205", 6, "\\u009b1m\\u0085");
	/* Other UTF-8 passes: U+00A0, U+00E9, U+2026. */
	escapes("\302\240\303\251\342\200\246", 7, "\302\240\303\251\342\200\246");
	/* A C1 split across two writes is still caught. */
	len = termsafe_escape(&ts, "x\302", 2, out);
	assert_int_equal(len, 1);
	len += termsafe_escape(&ts, "\233y", 2, out + len);
	out[len] = '\0';
	assert_string_equal(out, "x\\u009by");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dir_rules),
		cmocka_unit_test(test_real_tmp),
		cmocka_unit_test(test_server_rules),
		cmocka_unit_test(test_default_socket),
		cmocka_unit_test(test_escape),
	};

	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
