/*
 * test_ctlout.c — masterctl's text for people (daemon/masterctl/out.c,
 * table.c): text cut to a width on a character's boundary with an
 * ellipsis, control characters shown as escapes and counted as such, the
 * first line of a multi-line text; the nearest name for "did you mean";
 * what --since accepts; a table that fits its width, one line per row.
 */
#include "testutil.h"

#include "daemon/masterctl/ctl.h"

static void
test_fit(void **state)
{
	char out[256];

	fit("hello", 0, out, sizeof(out));
	assert_string_equal(out, "hello");
	fit("hello", 5, out, sizeof(out));
	assert_string_equal(out, "hello");
	fit("hello world", 6, out, sizeof(out));
	assert_string_equal(out, "hello\xe2\x80\xa6");
	assert_int_equal(text_width(out), 6);
	/* a multi-line text: its first line, and a mark that more follows */
	fit("first\nsecond", 0, out, sizeof(out));
	assert_string_equal(out, "first\xe2\x80\xa6");
	/* UTF-8 is cut between characters, and counted in characters */
	fit("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 3, out, sizeof(out));
	assert_string_equal(out, "\xc3\xa9\xc3\xa9\xe2\x80\xa6");
	/* control characters as termsafe shows them, in the width */
	fit("a\x1b[2Jb", 0, out, sizeof(out));
	assert_string_equal(out, "a\\x1b[2Jb");
	fit("a\xc2\x9b" "1m", 0, out, sizeof(out));
	assert_string_equal(out, "a\\u009b1m");
	fit("a\tb", 0, out, sizeof(out));
	assert_string_equal(out, "a b");
	fit("a\x1b[2Jb", 4, out, sizeof(out));
	assert_int_equal(text_width(out), 4);
	/* a small buffer ends on a whole character */
	fit("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 0, out, 8);
	assert_string_equal(out, "\xc3\xa9\xe2\x80\xa6");
}

static void
test_nearest(void **state)
{
	static const char *const names[] = { "status", "tasks", "task",
	    "transcript", "--json", "--task" };

	assert_string_equal(nearest("stauts", names, 6), "status");
	assert_string_equal(nearest("--jsno", names, 6), "--json");
	assert_string_equal(nearest("trans", names, 6), "transcript");
	assert_null(nearest("frobnicate", names, 6));
}

static void
test_since(void **state)
{
	double now = (double)time(NULL), t;

	t = parse_since("10m");
	assert_true(t <= now - 600 + 1 && t >= now - 600 - 2);
	assert_true(parse_since("2026-12-03T06:20:00Z") == 1796278800.0);
	assert_true(parse_since("07:20") > 0);
	assert_true(parse_since("2026-12-03 07:20") > 0);
	assert_true(parse_since("soon") < 0);
	assert_true(parse_since("10x") < 0);
}

static void
test_table(void **state)
{
	static const char *const heads[] = { "ID", "STATE", "TEXT" };
	char path[] = "/tmp/test_ctlout.XXXXXX", line[256];
	int fd = mkstemp(path), n = 0;
	FILE *saved = stdout, *f;
	struct table *t;

	assert_true(fd >= 0);
	stdout = fdopen(fd, "w");
	t = table_new(3, heads, "rll", 2);
	table_add(t, "1", "building", "a text\nof two lines");
	table_add(t, "12", "done", "a long text that does not fit in thirty "
	    "columns");
	table_print(t, 30);
	table_free(t);
	fclose(stdout);
	stdout = saved;
	f = fopen(path, "r");
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		assert_true(text_width(line) <= 30);
		n++;
	}
	fclose(f);
	unlink(path);
	assert_int_equal(n, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fit),
		cmocka_unit_test(test_nearest),
		cmocka_unit_test(test_since),
		cmocka_unit_test(test_table),
	};

	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
