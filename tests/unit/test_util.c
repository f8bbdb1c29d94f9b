/*
 * test_util.c — the shared helpers (common/util.c): base64 both ways and
 * refused input, the UTF-8 validator on the forms it must refuse
 * (overlongs, surrogates, past U+10FFFF, truncated and stray bytes), the
 * repairs built on it, write_all through a pipe, remove_tree, the JSON
 * getters and the allocator.
 */
#include "testutil.h"

#include <sys/wait.h>

#include <jansson.h>

#include "common/util.h"

/* ------------------------------------------------------------ base64 */

/* The encoding of raw (up to 256 bytes), checked to decode back to it. */
static char *
b64_round_trip(const void *raw, size_t len)
{
	unsigned char out[256];
	char *enc = base64_encode(raw, len);
	ssize_t n = base64_decode(enc, strlen(enc), out);

	assert_int_equal(n, (ssize_t)len);
	assert_memory_equal(out, raw, len);
	return enc;
}

static void
expect_b64(const char *raw, size_t len, const char *want)
{
	char *enc = b64_round_trip(raw, len);

	assert_string_equal(enc, want);
	free(enc);
}

static void
test_base64_round_trips(void **state)
{
	unsigned char all[256];
	char *enc;

	/* RFC 4648, section 10. */
	expect_b64("", 0, "");
	expect_b64("f", 1, "Zg==");
	expect_b64("fo", 2, "Zm8=");
	expect_b64("foo", 3, "Zm9v");
	expect_b64("foob", 4, "Zm9vYg==");
	expect_b64("fooba", 5, "Zm9vYmE=");
	expect_b64("foobar", 6, "Zm9vYmFy");
	expect_b64("\0\xff\xfe", 3, "AP/+");

	/* Every byte value, at every length up to 256. */
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	for (size_t len = 0; len <= sizeof(all); len++) {
		enc = b64_round_trip(all, len);
		assert_int_equal(strlen(enc), (len + 2) / 3 * 4);
		free(enc);
	}
}

static void
test_base64_bad_input(void **state)
{
	static const char *const bad[] = {
		"Zg=",		/* not a multiple of 4 */
		"Zg",
		"Z===",		/* padding where data must be */
		"Zg=a",		/* data after padding */
		"Zg==Zg==",	/* padding before the end */
		"Zm9v!A==",	/* not in the alphabet */
		"Zm9v Yg==",
		"Zm9-",		/* base64url is not base64 */
		"Zm9_",
		NULL
	};
	unsigned char out[16];

	for (size_t i = 0; bad[i] != NULL; i++) {
		if (base64_decode(bad[i], strlen(bad[i]), out) != -1)
			fail_msg("decoded \"%s\"", bad[i]);
	}
	/* A NUL inside the input is not a character of the alphabet. */
	assert_int_equal(base64_decode("Zm\0v", 4, out), -1);
}

/* ------------------------------------------------------------ UTF-8 */

static size_t
seq(const char *s, size_t len)
{
	return utf8_seq((const unsigned char *)s, len);
}

static void
test_utf8_seq(void **state)
{
	/* Valid: one to four bytes, at the edges of each range. */
	assert_int_equal(seq("a", 1), 1);
	assert_int_equal(seq("\x7f", 1), 1);
	assert_int_equal(seq("\xc2\x80", 2), 2);	/* U+0080 */
	assert_int_equal(seq("\xdf\xbf", 2), 2);	/* U+07FF */
	assert_int_equal(seq("\xe0\xa0\x80", 3), 3);	/* U+0800 */
	assert_int_equal(seq("\xed\x9f\xbf", 3), 3);	/* U+D7FF */
	assert_int_equal(seq("\xee\x80\x80", 3), 3);	/* U+E000 */
	assert_int_equal(seq("\xef\xbf\xbf", 3), 3);	/* U+FFFF */
	assert_int_equal(seq("\xf0\x90\x80\x80", 4), 4);	/* U+10000 */
	assert_int_equal(seq("\xf4\x8f\xbf\xbf", 4), 4);	/* U+10FFFF */

	/* Overlong forms. */
	assert_int_equal(seq("\xc0\x80", 2), 0);
	assert_int_equal(seq("\xc1\xbf", 2), 0);
	assert_int_equal(seq("\xe0\x80\x80", 3), 0);
	assert_int_equal(seq("\xe0\x9f\xbf", 3), 0);
	assert_int_equal(seq("\xf0\x80\x80\x80", 4), 0);
	assert_int_equal(seq("\xf0\x8f\xbf\xbf", 4), 0);
	/* Surrogates U+D800-U+DFFF. */
	assert_int_equal(seq("\xed\xa0\x80", 3), 0);
	assert_int_equal(seq("\xed\xbf\xbf", 3), 0);
	/* Past U+10FFFF. */
	assert_int_equal(seq("\xf4\x90\x80\x80", 4), 0);
	assert_int_equal(seq("\xf5\x80\x80\x80", 4), 0);
	assert_int_equal(seq("\xff", 1), 0);
	/* Stray continuation, truncated sequences, bad continuations. */
	assert_int_equal(seq("\x80", 1), 0);
	assert_int_equal(seq("\xc3", 1), 0);
	assert_int_equal(seq("\xe2\x82", 2), 0);
	assert_int_equal(seq("\xf0\x9f\x98", 3), 0);
	assert_int_equal(seq("\xc3\x41", 2), 0);
	assert_int_equal(seq("\xe2\x82\x41", 3), 0);
	/* Nothing, and NUL, are not characters to pass. */
	assert_int_equal(seq("", 0), 0);
	assert_int_equal(seq("\0", 1), 0);
}

static void
test_utf8_scrub(void **state)
{
	char s[] = "ok \xc3\xa9 \xc0\x80 \xed\xa0\x80 \xf4\x90\x80\x80 "
	    "\xe2\x82";

	utf8_scrub(s, strlen(s));
	assert_string_equal(s, "ok \xc3\xa9 ?? ??? ???? ??");
	/* Same length, valid input untouched. */
	char t[] = "\xf0\x9f\x98\x80 emoji";
	utf8_scrub(t, strlen(t));
	assert_string_equal(t, "\xf0\x9f\x98\x80 emoji");
}

static void
test_utf8_prefix_and_cut(void **state)
{
	const char *s = "ab\xc3\xa9\xe2\x82\xac";	/* a b é € */
	char buf[16];

	assert_int_equal(utf8_prefix(s, 100), 7);
	assert_int_equal(utf8_prefix(s, 7), 7);
	assert_int_equal(utf8_prefix(s, 6), 4);	/* inside € */
	assert_int_equal(utf8_prefix(s, 5), 4);
	assert_int_equal(utf8_prefix(s, 4), 4);
	assert_int_equal(utf8_prefix(s, 3), 2);	/* inside é */
	assert_int_equal(utf8_prefix(s, 0), 0);

	strcpy(buf, "ab\xc3\xa9\xe2\x82");
	utf8_cut(buf);
	assert_string_equal(buf, "ab\xc3\xa9");
	strcpy(buf, "ab\xc3");
	utf8_cut(buf);
	assert_string_equal(buf, "ab");
	strcpy(buf, "ab\xc3\xa9");
	utf8_cut(buf);
	assert_string_equal(buf, "ab\xc3\xa9");
	strcpy(buf, "\xf0\x9f\x98");
	utf8_cut(buf);
	assert_string_equal(buf, "");
	buf[0] = '\0';
	utf8_cut(buf);
	assert_string_equal(buf, "");
}

/* ------------------------------------------------------------ I/O */

static void
test_write_all_pipe(void **state)
{
	size_t len = 1 << 20, got = 0;
	unsigned char *out = xmalloc(len), *in = xmalloc(len);
	int fds[2], status;
	ssize_t k;
	pid_t pid;

	for (size_t i = 0; i < len; i++)
		out[i] = (unsigned char)(i * 7 + 3);
	assert_int_equal(pipe(fds), 0);
	/* More than a pipe holds: the writer must wait for the reader. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int rc;

		close(fds[0]);
		rc = write_all(fds[1], out, len);
		/* Nothing left behind for valgrind to count in the child. */
		free(in);
		free(out);
		_exit(rc == 0 ? 0 : 1);
	}
	close(fds[1]);
	while ((k = read(fds[0], in + got, len - got)) > 0)
		got += (size_t)k;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(got, len);
	assert_memory_equal(in, out, len);

	/* A closed descriptor is an error, not a loop. */
	assert_int_equal(write_all(fds[1], out, 1), -1);
	assert_int_equal(write_all(fds[1], out, 0), 0);
	free(in);
	free(out);
}

/* A tree goes whole; a symlink in it goes, never what it points at. */
static void
test_remove_tree(void **state)
{
	char top[PATH_MAX], tree[PATH_MAX], p[PATH_MAX], outside[PATH_MAX];
	struct stat st;

	tu_mkdtemp(top, sizeof(top));
	tu_join(tree, sizeof(tree), top, "tree");
	tu_join(outside, sizeof(outside), top, "outside");
	assert_int_equal(mkdir(outside, 0700), 0);
	tu_join(p, sizeof(p), outside, "kept");
	tu_write_file(p, "kept");
	assert_int_equal(mkdir(tree, 0700), 0);
	tu_join(p, sizeof(p), tree, "a");
	assert_int_equal(mkdir(p, 0700), 0);
	tu_join(p, sizeof(p), tree, "a/file");
	tu_write_file(p, "x");
	tu_join(p, sizeof(p), tree, "a/link");
	assert_int_equal(symlink(outside, p), 0);

	assert_int_equal(remove_tree(tree), 0);
	assert_int_equal(lstat(tree, &st), -1);
	tu_join(p, sizeof(p), outside, "kept");
	assert_int_equal(stat(p, &st), 0);
	/* What is not there is gone already; a file alone goes too. */
	assert_int_equal(remove_tree(tree), 0);
	assert_int_equal(remove_tree(p), 0);
	assert_int_equal(lstat(p, &st), -1);
	tu_rmtree(top);
}

/* ------------------------------------------------------------ JSON */

static void
test_jget(void **state)
{
	json_t *o = json_pack("{s:I, s:s, s:b, s:f, s:n}", "n", (json_int_t)42,
	    "s", "text", "t", 1, "r", 1.5, "z");

	assert_int_equal(jget_int(o, "n", -1), 42);
	assert_int_equal(jget_int(o, "r", -1), -1);
	assert_int_equal(jget_int(o, "s", -1), -1);
	assert_int_equal(jget_int(o, "missing", 7), 7);
	assert_int_equal(jget_int(NULL, "n", 7), 7);
	assert_string_equal(jget_str(o, "s"), "text");
	assert_null(jget_str(o, "n"));
	assert_null(jget_str(o, "z"));
	assert_null(jget_str(NULL, "s"));
	assert_true(jget_bool(o, "t"));
	assert_false(jget_bool(o, "n"));
	assert_false(jget_bool(o, "missing"));
	json_decref(o);
}

/* ------------------------------------------------------------ memory */

static void
test_alloc(void **state)
{
	char *s = xasprintf("%s-%d", "a", 7), *t = xstrndup("abcdef", 3);
	int *v = xcalloc(4, sizeof(*v));

	assert_string_equal(s, "a-7");
	assert_string_equal(t, "abc");
	for (int i = 0; i < 4; i++)
		assert_int_equal(v[i], 0);
	v = xreallocarray(v, 1000, sizeof(*v));
	v[999] = 1;
	free(v);
	free(s);
	free(t);
	/* jansson allocates through them once util_init() ran. */
	util_init();
	json_t *j = json_pack("{s:s}", "k", "v");
	assert_string_equal(jget_str(j, "k"), "v");
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_round_trips),
		cmocka_unit_test(test_base64_bad_input),
		cmocka_unit_test(test_utf8_seq),
		cmocka_unit_test(test_utf8_scrub),
		cmocka_unit_test(test_utf8_prefix_and_cut),
		cmocka_unit_test(test_write_all_pipe),
		cmocka_unit_test(test_remove_tree),
		cmocka_unit_test(test_jget),
		cmocka_unit_test(test_alloc),
	};

	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
