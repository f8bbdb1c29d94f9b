/*
 * test_log.c — the logger (common/log.c).
 *
 * A sink installed with log_set_sink sees each line once with its level;
 * the level filter drops what is below it; a newline or carriage return in
 * a message cannot forge a second line; a long message is cut, not split;
 * errno survives a log call; level names parse both ways; and without a
 * sink, exactly one plain line reaches stderr, or one "<N>"-prefixed line
 * when stderr is the journal's stream.
 */
#include "testutil.h"

#include <sys/stat.h>
#include <syslog.h>

#include "common/log.h"

#define MAX_LINES 16

struct capture {
	int n;
	int level[MAX_LINES];
	char line[MAX_LINES][8192];
};

static void
capture_sink(int level, const char *line, void *arg)
{
	struct capture *c = arg;

	assert_true(c->n < MAX_LINES);
	c->level[c->n] = level;
	snprintf(c->line[c->n], sizeof(c->line[0]), "%s", line);
	c->n++;
}

static int
setup(void **state)
{
	struct capture *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	unsetenv("JOURNAL_STREAM");
	log_init("testlog", LOG_INFO);
	log_set_sink(capture_sink, c);
	*state = c;
	return 0;
}

static int
teardown(void **state)
{
	log_set_sink(NULL, NULL);
	log_set_level(LOG_INFO);
	free(*state);
	return 0;
}

static void
test_sink_captures(void **state)
{
	struct capture *c = *state;

	log_info("hello %d %s", 42, "world");
	log_err("broken: %s", "disk");
	assert_int_equal(c->n, 2);
	assert_int_equal(c->level[0], LOG_INFO);
	assert_string_equal(c->line[0], "hello 42 world");
	assert_int_equal(c->level[1], LOG_ERR);
	assert_string_equal(c->line[1], "broken: disk");
	assert_int_equal(log_get_level(), LOG_INFO);
	assert_false(log_is_journal());
}

static void
test_level_filter(void **state)
{
	struct capture *c = *state;

	log_set_level(LOG_INFO);
	log_debug("hidden");
	log_info("shown info");
	log_notice("shown notice");
	assert_int_equal(c->n, 2);

	log_set_level(LOG_WARNING);
	assert_int_equal(log_get_level(), LOG_WARNING);
	log_info("hidden");
	log_notice("hidden");
	log_warn("shown warning");
	log_err("shown err");
	assert_int_equal(c->n, 4);
	assert_string_equal(c->line[2], "shown warning");
	assert_int_equal(c->level[2], LOG_WARNING);

	log_set_level(LOG_DEBUG);
	log_debug("shown debug");
	assert_int_equal(c->n, 5);
	assert_int_equal(c->level[4], LOG_DEBUG);

	log_set_level(LOG_ERR);
	log_warn("hidden");
	log_msg(LOG_CRIT, "shown crit");
	assert_int_equal(c->n, 6);
	assert_int_equal(c->level[5], LOG_CRIT);
}

static void
test_newlines_replaced(void **state)
{
	struct capture *c = *state;

	log_warn("user said: %s", "a\nFAKE 00:00 masterd: err: forged\r\nb");
	assert_int_equal(c->n, 1);
	assert_null(strchr(c->line[0], '\n'));
	assert_null(strchr(c->line[0], '\r'));
	assert_string_equal(c->line[0],
	    "user said: a FAKE 00:00 masterd: err: forged  b");
	log_info("\n");
	assert_int_equal(c->n, 2);
	assert_string_equal(c->line[1], " ");
}

static void
test_long_message_cut(void **state)
{
	struct capture *c = *state;
	char *big = malloc(20000);

	assert_non_null(big);
	memset(big, 'x', 19999);
	big[19999] = '\0';
	log_info("%s", big);
	assert_int_equal(c->n, 1);
	assert_true(strlen(c->line[0]) > 1000);
	assert_true(strlen(c->line[0]) < 4096);
	free(big);
}

static void
test_errno_preserved(void **state)
{
	struct capture *c = *state;

	errno = EACCES;
	log_err("failed: %s", strerror(errno));
	assert_int_equal(errno, EACCES);
	errno = ENOENT;
	log_debug("filtered out");
	assert_int_equal(errno, ENOENT);
	assert_int_equal(c->n, 1);
}

static void
test_level_parse(void **state)
{
	static const char *const bad[] = { "", "verbose", "trace", "5",
	    "info ", "debugging" };

	for (size_t i = 0; i < tu_nlog_levels; i++)
		assert_int_equal(log_level_parse(tu_log_levels[i].name),
		    tu_log_levels[i].level);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(log_level_parse(bad[i]), -1);
	assert_int_equal(log_level_parse(NULL), -1);

	/* Names round-trip. */
	for (int l = LOG_ERR; l <= LOG_DEBUG; l++)
		assert_int_equal(log_level_parse(log_level_name(l)), l);
	assert_string_equal(log_level_name(LOG_WARNING), "warning");
	assert_string_equal(log_level_name(-1), "?");
	assert_string_equal(log_level_name(8), "?");
}

/* Run fn with stderr redirected to a file; returns what was written. */
static char *
capture_stderr(void (*fn)(void), const char *journal)
{
	char dir[PATH_MAX], path[PATH_MAX], env[64];
	struct stat st;
	int fd, saved;
	char *text;

	tu_mkdtemp(dir, sizeof(dir));
	tu_join(path, sizeof(path), dir, "stderr");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	if (journal != NULL) {
		/* Name this very file as the journal's stream. */
		assert_int_equal(fstat(fd, &st), 0);
		snprintf(env, sizeof(env), "%llu:%llu",
		    (unsigned long long)st.st_dev,
		    (unsigned long long)st.st_ino);
		setenv("JOURNAL_STREAM", env, 1);
	}
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	log_set_sink(NULL, NULL);
	log_init("testlog", LOG_INFO);
	fn();
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	unsetenv("JOURNAL_STREAM");
	log_init("testlog", LOG_INFO);
	text = tu_read_file(path);
	assert_non_null(text);
	tu_rmtree(dir);
	return text;
}

static void
log_two_lines(void)
{
	log_info("to stderr\nno forgery");
	log_debug("filtered");
	log_err("second");
}

static void
test_stderr_plain(void **state)
{
	char *text = capture_stderr(log_two_lines, NULL), want[64];
	char *second;

	assert_false(log_is_journal());
	/* "YYYY-MM-DD HH:MM:SS.mmm testlog[pid] info: to stderr..." */
	snprintf(want, sizeof(want), " testlog[%ld] info: ", (long)getpid());
	assert_non_null(strstr(text, want));
	assert_true(text[4] == '-' && text[10] == ' ' && text[19] == '.');
	assert_non_null(strstr(text, "info: to stderr no forgery\n"));
	second = strchr(text, '\n') + 1;
	snprintf(want, sizeof(want), " testlog[%ld] err: second\n",
	    (long)getpid());
	assert_non_null(strstr(second, want));
	/* Exactly two lines, each ending in one newline. */
	assert_null(strchr(strchr(second, '\n') + 1, '\n'));
	assert_true(text[strlen(text) - 1] == '\n');
	free(text);
}

static void
test_stderr_journal(void **state)
{
	char *text = capture_stderr(log_two_lines, "journal");

	/* sd-daemon priority prefixes, no timestamp; an ident other than
	 * masterd's (a child's) names itself, as children share the stream. */
	assert_string_equal(text, "<6>testlog: to stderr no forgery\n"
	    "<3>testlog: second\n");
	free(text);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_sink_captures),
		T(test_level_filter),
		T(test_newlines_replaced),
		T(test_long_message_cut),
		T(test_errno_preserved),
		T(test_level_parse),
		T(test_stderr_plain),
		T(test_stderr_journal),
	};

	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
