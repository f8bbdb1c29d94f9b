/*
 * test_config.c — masterd's configuration file and environment overrides
 * (common/config.c).
 *
 * Defaults; every value type (sizes, durations, log levels, repeated and
 * word lists, quoted strings with escapes, paths); [domain "name"]
 * sections; errors that name file:line and the key, several of them from
 * one call; MASTERD_* environment overrides and a bad one naming the
 * variable; the consistency checks; domain names; the default socket and
 * state directory from systemd's variables; the [llm] section (real and
 * boolean values, the provider name, the key source checks) and its
 * per-domain overrides as conf_llm merges them; the [critic] and [planner]
 * sections as conf_llm_role merges them over [llm]; the sandbox's keys
 * ([masterd] sandbox and sandbox_read, [checks], [domain] network and env)
 * and where the sandbox mode was said.
 */
#include "testutil.h"

#include <syslog.h>

#include "common/config.h"

extern char **environ;

struct ctx {
	char dir[PATH_MAX];
	char file[PATH_MAX];	/* dir/masterd.conf */
};

/* Unset every MASTERD_* variable (but the test harness's own). */
static void
clear_env(void)
{
	char *names[256];
	size_t n = 0;

	for (char **e = environ; *e != NULL && n < 256; e++) {
		const char *eq = strchr(*e, '=');

		if (strncmp(*e, "MASTERD_", 8) != 0 ||
		    strncmp(*e, "MASTERD_TEST_", 13) == 0 || eq == NULL)
			continue;
		names[n] = strndup(*e, (size_t)(eq - *e));
		assert_non_null(names[n]);
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		unsetenv(names[i]);
		free(names[i]);
	}
	unsetenv("STATE_DIRECTORY");
	unsetenv("RUNTIME_DIRECTORY");
}

static int
setup(void **state)
{
	struct ctx *c = tu_fixture(sizeof(*c), offsetof(struct ctx, dir));

	TU_JOIN(c->file, c->dir, "masterd.conf");
	clear_env();
	/* Fixed defaults for the directories, whoever runs the test. */
	setenv("STATE_DIRECTORY", "/state/test", 1);
	setenv("RUNTIME_DIRECTORY", "/run/test", 1);
	*state = c;
	return 0;
}

static int
teardown(void **state)
{
	struct ctx *c = *state;

	clear_env();
	tu_rmtree(c->dir);
	free(c);
	return 0;
}

/* Write text as the config file and load it. */
static int
load_text(struct ctx *c, const char *text, struct masterd_conf **conf,
    char **errs)
{
	tu_write_file(c->file, text);
	return conf_load(c->file, conf, errs);
}

/* Load text that must be accepted. */
static struct masterd_conf *
load_ok(struct ctx *c, const char *text)
{
	struct masterd_conf *conf = NULL;
	char *errs = NULL;

	if (load_text(c, text, &conf, &errs) != 0)
		fail_msg("config refused:\n%s", errs ? errs : "(no text)");
	assert_non_null(conf);
	assert_null(errs);
	return conf;
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/*
 * Load text that must be refused with exactly one error, on `line` (0:
 * no file position), containing `needle`.
 */
static void
expect_error(struct ctx *c, const char *text, unsigned line,
    const char *needle)
{
	struct masterd_conf *conf = (struct masterd_conf *)c;
	char *errs = NULL, where[PATH_MAX + 32];

	assert_int_equal(load_text(c, text, &conf, &errs), -1);
	assert_null(conf);
	assert_non_null(errs);
	if (count_lines(errs) != 1 || strstr(errs, needle) == NULL)
		fail_msg("for:\n%s\ngot:\n%swanted one line with: %s", text,
		    errs, needle);
	if (line > 0) {
		snprintf(where, sizeof(where), "%s:%u: ", c->file, line);
		if (strncmp(errs, where, strlen(where)) != 0)
			fail_msg("error does not start with %s: %s", where,
			    errs);
	}
	free(errs);
}

/* A config text refused with one error on line (0: no file position). */
struct bad_conf {
	const char *text;
	unsigned line;
	const char *needle;
};

static void
expect_errors(struct ctx *c, const struct bad_conf *bad, size_t n)
{
	for (size_t i = 0; i < n; i++)
		expect_error(c, bad[i].text, bad[i].line, bad[i].needle);
}

/* An int64_t member of a configuration struct, for tables of values. */
struct i64_field {
	const char *name;
	size_t off;
};

#define SUPERVISE(f) \
	{ "[supervise] " #f, offsetof(struct masterd_conf, f) }
#define LLM(f)	{ "[llm] " #f, offsetof(struct llm_conf, f) }

static const struct i64_field supervise_fields[] = {
	SUPERVISE(ping_interval), SUPERVISE(ping_timeout),
	SUPERVISE(hello_timeout), SUPERVISE(restart_delay),
	SUPERVISE(restart_delay_max), SUPERVISE(healthy_uptime),
	SUPERVISE(start_limit_burst), SUPERVISE(start_limit_interval),
	SUPERVISE(stop_grace),
};

static const struct i64_field llm_fields[] = {
	LLM(timeout), LLM(connect_timeout), LLM(max_tokens),
	LLM(context_tokens), LLM(max_attempts), LLM(retry_deadline),
	LLM(max_retry_wait),
};

/* Each field of obj against want[], both in the table's order. */
static void
assert_fields(const void *obj, const struct i64_field *field, size_t n,
    const int64_t *want, size_t nwant)
{
	int64_t got;

	assert_int_equal(n, nwant);
	for (size_t i = 0; i < n; i++) {
		memcpy(&got, (const char *)obj + field[i].off, sizeof(got));
		if (got != want[i])
			fail_msg("%s is %lld, wanted %lld", field[i].name,
			    (long long)got, (long long)want[i]);
	}
}

/* ------------------------------------------------------------ defaults */

static void
assert_defaults(const struct masterd_conf *conf)
{
	static const int64_t supervise[] = { 10000, 30000, 10000, 1000,
	    60000, 30000, 5, 300000, 10000 };

	assert_int_equal(conf->max_frame, 16 * 1024 * 1024);
	assert_int_equal(conf->max_clients_per_uid, 64);
	assert_int_equal(conf->log_level, LOG_INFO);
	assert_fields(conf, supervise_fields, TU_NITEMS(supervise_fields),
	    supervise, TU_NITEMS(supervise));
	assert_null(conf->control_group);
	assert_null(conf->child_path);
	assert_null(conf->prompts_dir);
	assert_int_equal(conf->ndomains, 0);
	assert_string_equal(conf->state_dir, "/state/test");
	assert_string_equal(conf->control_socket, "/run/test/control.sock");
}

static void
test_defaults_no_file(void **state)
{
	struct masterd_conf *conf = NULL;
	char *errs = NULL;

	assert_int_equal(conf_load(NULL, &conf, &errs), 0);
	assert_non_null(conf);
	assert_null(errs);
	assert_null(conf->file);
	assert_defaults(conf);
	assert_null(conf_domain(conf, "web"));
	conf_free(conf);
	conf_free(NULL);
}

static void
test_defaults_empty_file(void **state)
{
	struct ctx *c = *state;
	struct masterd_conf *conf;

	conf = load_ok(c, "# only comments\n\n; and blanks\n   \n\t\n"
	    "[masterd]\n[supervise]\n");
	assert_string_equal(conf->file, c->file);
	assert_defaults(conf);
	conf_free(conf);

	conf = load_ok(c, "");
	assert_defaults(conf);
	conf_free(conf);
}

/* ------------------------------------------------------------ types */

static void
test_every_key(void **state)
{
	static const int64_t supervise[] = { 250, 2000, 5 * 60000, 1000,
	    3600000, 90000, 3, 86400000, 1500 };
	struct ctx *c = *state;
	struct masterd_conf *conf;
	const struct domain_conf *d;

	conf = load_ok(c,
	    "# every key once\n"
	    "[masterd]\n"
	    "state_dir = /srv/masterd\n"
	    "control_socket=/run/m/ctl.sock\n"
	    "  control_group   =   wheel  \n"
	    "max_clients_per_uid = 8\n"
	    "max_frame = 64K\n"
	    "log_level = debug\n"
	    "child_path = /usr/libexec/masterd/masterd-child\n"
	    "prompts_dir = /usr/share/masterd/prompts\n"
	    "\n"
	    "[supervise]\n"
	    "ping_interval = 250ms\n"
	    "ping_timeout = 2\n"
	    "hello_timeout = 5m\n"
	    "restart_delay = 1s\n"
	    "restart_delay_max = 1h\n"
	    "healthy_uptime = 90 s\n"
	    "start_limit_burst = 3\n"
	    "start_limit_interval = 1d\n"
	    "stop_grace = 1500ms\n"
	    "\n"
	    "[domain \"frontend\"]\n"
	    "prompt = You build the UI.\n"
	    "check = npm test\n"
	    "check = npm run lint -- --max-warnings=0\n"
	    "depends = api, shared\n"
	    "[domain \"api\"]\n"
	    "prompt_file = api.md\n");
	assert_string_equal(conf->state_dir, "/srv/masterd");
	assert_string_equal(conf->control_socket, "/run/m/ctl.sock");
	assert_string_equal(conf->control_group, "wheel");
	assert_int_equal(conf->max_clients_per_uid, 8);
	assert_int_equal(conf->max_frame, 64 * 1024);
	assert_int_equal(conf->log_level, LOG_DEBUG);
	assert_string_equal(conf->child_path,
	    "/usr/libexec/masterd/masterd-child");
	assert_string_equal(conf->prompts_dir, "/usr/share/masterd/prompts");
	assert_fields(conf, supervise_fields, TU_NITEMS(supervise_fields),
	    supervise, TU_NITEMS(supervise));

	assert_int_equal(conf->ndomains, 2);
	assert_string_equal(conf->domains[0].name, "frontend");
	assert_string_equal(conf->domains[1].name, "api");
	d = conf_domain(conf, "frontend");
	assert_ptr_equal(d, &conf->domains[0]);
	assert_string_equal(d->prompt, "You build the UI.");
	assert_null(d->prompt_file);
	assert_int_equal(d->checks.n, 2);
	assert_string_equal(d->checks.v[0], "npm test");
	assert_string_equal(d->checks.v[1],
	    "npm run lint -- --max-warnings=0");
	assert_int_equal(d->depends.n, 2);
	assert_string_equal(d->depends.v[0], "api");
	assert_string_equal(d->depends.v[1], "shared");
	d = conf_domain(conf, "api");
	assert_non_null(d);
	assert_null(d->prompt);
	assert_string_equal(d->prompt_file, "api.md");
	assert_int_equal(d->checks.n, 0);
	assert_int_equal(d->depends.n, 0);
	assert_null(conf_domain(conf, "API"));
	assert_null(conf_domain(conf, "nope"));
	conf_free(conf);
}

/* A value parser's answers: good inputs and their values, bad inputs. */
struct parsed {
	const char *s;
	int64_t v;
};

static void
check_parser(const char *what, int (*parse)(const char *, int64_t *),
    const struct parsed *good, size_t ngood, const char *const *bad,
    size_t nbad)
{
	int64_t v;

	for (size_t i = 0; i < ngood; i++) {
		v = -7;
		if (parse(good[i].s, &v) != 0)
			fail_msg("%s \"%s\" refused", what, good[i].s);
		assert_int_equal(v, good[i].v);
	}
	for (size_t i = 0; i < nbad; i++) {
		if (parse(bad[i], &v) == 0)
			fail_msg("%s \"%s\" accepted", what, bad[i]);
	}
}

static void
test_parse_size(void **state)
{
	static const struct parsed good[] = {
		{ "0", 0 }, { "4096", 4096 }, { "10B", 10 }, { "64K", 65536 },
		{ "64k", 65536 }, { "64KiB", 65536 }, { "16M", 16 << 20 },
		{ "16 M", 16 << 20 }, { "2MiB", 2 << 20 }, { "1G", 1 << 30 },
		{ "3GiB", (int64_t)3 << 30 },
	};
	static const char *const bad[] = {
		"", "K", "-1", "+5", " 5", "1.5M", "12X", "16MB", "1T",
		"99999999999999999999", "9223372036854775807G", "0x10",
	};

	check_parser("size", conf_parse_size, good, TU_NITEMS(good), bad,
	    TU_NITEMS(bad));
}

static void
test_parse_duration(void **state)
{
	static const struct parsed good[] = {
		{ "250ms", 250 }, { "0ms", 0 }, { "10s", 10000 },
		{ "10sec", 10000 }, { "10 s", 10000 }, { "5m", 300000 },
		{ "5min", 300000 }, { "1h", 3600000 }, { "2d", 172800000 },
		{ "30", 30000 }, { "0", 0 }, { "10MS", 10 },
	};
	static const char *const bad[] = {
		"", "s", "ms", "-1s", "1.5s", "10x", "10 seconds", "1w",
		"99999999999999999999", "9223372036854775807h",
	};

	check_parser("duration", conf_parse_duration_ms, good,
	    TU_NITEMS(good), bad, TU_NITEMS(bad));
}

static void
test_parse_bool(void **state)
{
	static const char *const yes[] = { "1", "yes", "true", "on", "YES",
	    "True" };
	static const char *const no[] = { "0", "no", "false", "off", "OFF" };
	static const char *const bad[] = { "", "2", "y", "nope", "truee" };
	bool b;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = false;
		assert_int_equal(conf_parse_bool(yes[i], &b), 0);
		assert_true(b);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		b = true;
		assert_int_equal(conf_parse_bool(no[i], &b), 0);
		assert_false(b);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(conf_parse_bool(bad[i], &b), -1);
}

static void
test_sizes_and_durations_in_file(void **state)
{
	static const struct bad_conf bad[] = {
		{ "[masterd]\nmax_frame = 1023\n", 2,
		    "[masterd] max_frame: value out of range: '1023'" },
		{ "[masterd]\nmax_frame = 2G\n", 2,
		    "value out of range" },
		{ "[masterd]\nmax_frame = 16 MB\n", 2,
		    "[masterd] max_frame: expected a size" },
		{ "[supervise]\nping_interval = 50ms\n", 2,
		    "[supervise] ping_interval: value out of range" },
		{ "[supervise]\nhello_timeout = 2h\n", 2,
		    "[supervise] hello_timeout: value out of range" },
		{ "[supervise]\nstop_grace = 1.5s\n", 2,
		    "[supervise] stop_grace: expected a duration" },
		{ "[masterd]\nmax_clients_per_uid = 0\n", 2,
		    "max_clients_per_uid: value out of range" },
		{ "[masterd]\nmax_clients_per_uid = 12abc\n", 2,
		    "max_clients_per_uid: expected an integer: '12abc'" },
	};
	struct ctx *c = *state;
	struct masterd_conf *conf;

	conf = load_ok(c, "[masterd]\nmax_frame = 1G\n");
	assert_int_equal(conf->max_frame, 1 << 30);
	conf_free(conf);
	conf = load_ok(c, "[masterd]\nmax_frame = 1024\n");
	assert_int_equal(conf->max_frame, 1024);
	conf_free(conf);
	conf = load_ok(c, "[masterd]\nmax_frame = 2 MiB\n");
	assert_int_equal(conf->max_frame, 2 << 20);
	conf_free(conf);
	/* Durations: bare numbers are seconds. */
	conf = load_ok(c, "[supervise]\nping_interval = 3\n"
	    "ping_timeout = 1m\nstop_grace = 100ms\n");
	assert_int_equal(conf->ping_interval, 3000);
	assert_int_equal(conf->ping_timeout, 60000);
	assert_int_equal(conf->stop_grace, 100);
	conf_free(conf);

	/* The limits of each key. */
	expect_errors(c, bad, TU_NITEMS(bad));
}

static void
test_log_levels(void **state)
{
	struct ctx *c = *state;
	struct masterd_conf *conf;
	char text[128];

	for (size_t i = 0; i < tu_nlog_levels; i++) {
		snprintf(text, sizeof(text), "[masterd]\nlog_level = %s\n",
		    tu_log_levels[i].name);
		conf = load_ok(c, text);
		assert_int_equal(conf->log_level, tu_log_levels[i].level);
		conf_free(conf);
	}
	expect_error(c, "[masterd]\nlog_level = loud\n", 2,
	    "[masterd] log_level: expected err, warning, notice, info or "
	    "debug: 'loud'");
}

static void
test_lists(void **state)
{
	struct masterd_conf *conf = load_ok(*state,
	    "[domain \"web\"]\n"
	    "depends = api, db  cache,,queue\t mail\n"
	    "check = make test\n"
	    "depends = auth\n"
	    "check = make lint\n"
	    "check = \"sh -c 'exit 0'\"\n");
	const struct domain_conf *d = conf_domain(conf, "web");

	assert_non_null(d);
	assert_int_equal(d->depends.n, 6);
	assert_string_equal(d->depends.v[0], "api");
	assert_string_equal(d->depends.v[1], "db");
	assert_string_equal(d->depends.v[2], "cache");
	assert_string_equal(d->depends.v[3], "queue");
	assert_string_equal(d->depends.v[4], "mail");
	assert_string_equal(d->depends.v[5], "auth");
	assert_int_equal(d->checks.n, 3);
	assert_string_equal(d->checks.v[0], "make test");
	assert_string_equal(d->checks.v[1], "make lint");
	assert_string_equal(d->checks.v[2], "sh -c 'exit 0'");
	conf_free(conf);
}

static void
test_quoting(void **state)
{
	static const char text[] =
	    "[domain \"a\"]\n"
	    "prompt = \"  say \\\"hi\\\"\\n\\tthen \\\\ stop  \"\n"
	    "[domain \"b\"]\n"
	    "prompt = say \"hi\" # not a comment\n"
	    "[domain \"c\"]\n"
	    "prompt = \"\"\n"
	    "[masterd]\n"
	    "control_group = \"\"\n";
	struct ctx *c = *state;
	struct masterd_conf *conf = load_ok(c, text);
	const struct domain_conf *d = conf_domain(conf, "a");

	/* Quotes keep the outer spaces; escapes are decoded. */
	assert_string_equal(d->prompt, "  say \"hi\"\n\tthen \\ stop  ");
	d = conf_domain(conf, "b");
	assert_string_equal(d->prompt, "say \"hi\" # not a comment");
	/* An empty value unsets. */
	d = conf_domain(conf, "c");
	assert_null(d->prompt);
	assert_null(conf->control_group);
	conf_free(conf);

	expect_error(c, "[domain \"a\"]\nprompt = \"bad \\q\"\n", 2,
	    "[domain] prompt: bad quoting");
	expect_error(c, "[domain \"a\"]\nprompt = \"in\"side\"\n", 2,
	    "bad quoting");
}

static void
test_crlf_file(void **state)
{
	struct masterd_conf *conf = load_ok(*state, "[masterd]\r\n"
	    "state_dir = /crlf\r\n\r\n[domain \"w\"]\r\ncheck = make\r\n");
	assert_string_equal(conf->state_dir, "/crlf");
	assert_string_equal(conf_domain(conf, "w")->checks.v[0], "make");
	conf_free(conf);
}

/* ------------------------------------------------------------ errors */

static void
test_error_each(void **state)
{
	static const struct bad_conf bad[] = {
		{ "[masterd]\nbogus = 1\n", 2,
		    "unknown key 'bogus' in [masterd]" },
		{ "[masterd]\ncheck = make\n", 2,
		    "unknown key 'check' in [masterd]" },
		{ "[domain \"a\"]\nstate_dir = /x\n", 2,
		    "unknown key 'state_dir' in [domain]" },
		/* The keys of an unknown section are not reported again. */
		{ "[nosuch]\nx = 1\ny = 2\n", 1,
		    "unknown section [nosuch]" },
		{ "\n[supervise]\nping_interval = soon\n", 3,
		    "[supervise] ping_interval: expected a duration such as" },
		{ "[masterd]\nstate_dir = var/lib/masterd\n", 2,
		    "[masterd] state_dir: expected an absolute path: "
		    "'var/lib/masterd'" },
		{ "[masterd]\nchild_path = ./masterd-child\n", 2,
		    "child_path: expected an absolute path" },
		{ "[domain \"web\"]\n[domain \"web\"]\n", 2,
		    "domain \"web\" defined twice" },
		{ "[domain \"Web!\"]\nprompt = x\n", 1,
		    "[domain \"NAME\"] needs a name" },
		{ "[domain]\n", 1, "needs a name" },
		{ "[domain \"\"]\n", 1, "needs a name" },
		{ "[domain \"x]\n", 1, "unterminated section name" },
		{ "[masterd \"x\"]\n", 1, "section [masterd] takes no "
		    "name" },
		{ "# top\nstate_dir = /x\n[masterd]\n", 2,
		    "key 'state_dir' before any [section]" },
		{ "[masterd\nstate_dir = /x\n", 1, "expected ']'" },
		{ "[masterd]\njust words\n", 2, "expected key = value" },
	};
	struct ctx *c = *state;

	expect_errors(c, bad, TU_NITEMS(bad));
}

static void
test_error_missing_file(void **state)
{
	struct ctx *c = *state;
	struct masterd_conf *conf = (struct masterd_conf *)c;
	char *errs = NULL, path[PATH_MAX];

	tu_join(path, sizeof(path), c->dir, "absent.conf");
	assert_int_equal(conf_load(path, &conf, &errs), -1);
	assert_null(conf);
	assert_non_null(errs);
	assert_non_null(strstr(errs, path));
	assert_non_null(strstr(errs, strerror(ENOENT)));
	free(errs);
}

static void
test_errors_together(void **state)
{
	static const struct { unsigned line; const char *text; } want[] = {
		{ 1, "key 'early' before any [section]" },
		{ 3, "unknown key 'bogus' in [masterd]" },
		{ 4, "[masterd] max_frame: expected a size" },
		{ 5, "[masterd] state_dir: expected an absolute path" },
		{ 6, "unknown section [nosuch]" },
		{ 9, "domain \"web\" defined twice" },
		{ 11, "[domain \"NAME\"] needs a name" },
		{ 13, "expected ']'" },
		{ 15, "[supervise] ping_interval: expected a duration" },
		{ 16, "unknown key 'log_level' in [supervise]" },
		{ 17, "expected key = value" },
	};
	const char *text =
	    "early = 1\n"			/* 1 */
	    "[masterd]\n"			/* 2 */
	    "bogus = 1\n"			/* 3 */
	    "max_frame = lots\n"		/* 4 */
	    "state_dir = relative/dir\n"	/* 5 */
	    "[nosuch]\n"			/* 6 */
	    "x = 1\n"				/* 7: skipped */
	    "[domain \"web\"]\n"		/* 8 */
	    "[domain \"web\"]\n"		/* 9 */
	    "check = skipped\n"			/* 10 */
	    "[domain \"Bad Name\"]\n"		/* 11 */
	    "prompt = skipped\n"		/* 12 */
	    "[supervise\n"			/* 13 */
	    "[supervise]\n"			/* 14 */
	    "ping_interval = 10 parsecs\n"	/* 15 */
	    "log_level = loud\n"		/* 16 */
	    "novalue\n";			/* 17 */
	struct ctx *c = *state;
	struct masterd_conf *conf = (struct masterd_conf *)c;
	char *errs = NULL, *line, *save = NULL, where[PATH_MAX + 32];
	size_t i = 0;

	assert_int_equal(load_text(c, text, &conf, &errs), -1);
	assert_null(conf);
	assert_non_null(errs);
	assert_int_equal(count_lines(errs), sizeof(want) / sizeof(want[0]));
	/* In file order, each with its file:line and its reason. */
	for (line = strtok_r(errs, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save), i++) {
		snprintf(where, sizeof(where), "%s:%u: ", c->file,
		    want[i].line);
		if (strncmp(line, where, strlen(where)) != 0 ||
		    strstr(line, want[i].text) == NULL)
			fail_msg("error %zu is \"%s\", wanted %s...%s", i,
			    line, where, want[i].text);
	}
	free(errs);
}

/* ------------------------------------------------------------ environment */

/* Set or unset each variable of a { name, value } table. */
static void
set_env(const char *const (*vars)[2], size_t n, bool set)
{
	for (size_t i = 0; i < n; i++) {
		if (set)
			setenv(vars[i][0], vars[i][1], 1);
		else
			unsetenv(vars[i][0]);
	}
}

static void
test_env_override(void **state)
{
	static const char *const env[][2] = {
		{ "MASTERD_STATE_DIR", "/from/env" },
		{ "MASTERD_SUPERVISE_PING_TIMEOUT", "45s" },
		{ "MASTERD_LOG_LEVEL", "warning" },
		{ "MASTERD_MAX_FRAME", "1M" },
	};
	struct ctx *c = *state;
	struct masterd_conf *conf;

	set_env(env, TU_NITEMS(env), true);
	/* The environment wins over the file. */
	conf = load_ok(c, "[masterd]\nstate_dir = /from/file\n"
	    "log_level = debug\n[supervise]\nping_timeout = 20s\n"
	    "ping_interval = 5s\n");
	assert_string_equal(conf->state_dir, "/from/env");
	assert_int_equal(conf->ping_timeout, 45000);
	assert_int_equal(conf->ping_interval, 5000);
	assert_int_equal(conf->log_level, LOG_WARNING);
	assert_int_equal(conf->max_frame, 1 << 20);
	conf_free(conf);

	/* Without a file as well. */
	{
		char *errs = NULL;

		assert_int_equal(conf_load(NULL, &conf, &errs), 0);
		assert_string_equal(conf->state_dir, "/from/env");
		assert_int_equal(conf->ping_timeout, 45000);
		conf_free(conf);
	}

	/* Unset: back to the file's value. */
	set_env(env, 2, false);
	conf = load_ok(c, "[masterd]\nstate_dir = /from/file\n");
	assert_string_equal(conf->state_dir, "/from/file");
	assert_int_equal(conf->ping_timeout, 30000);
	conf_free(conf);
}

static void
test_env_bad_value(void **state)
{
	struct ctx *c = *state;
	struct masterd_conf *conf = (struct masterd_conf *)c;
	char *errs = NULL;

	setenv("MASTERD_SUPERVISE_PING_TIMEOUT", "forever", 1);
	assert_int_equal(conf_load(NULL, &conf, &errs), -1);
	assert_null(conf);
	assert_non_null(errs);
	assert_int_equal(count_lines(errs), 1);
	assert_non_null(strstr(errs, "MASTERD_SUPERVISE_PING_TIMEOUT"));
	assert_non_null(strstr(errs, "ping_timeout"));
	assert_non_null(strstr(errs, "forever"));
	free(errs);
	unsetenv("MASTERD_SUPERVISE_PING_TIMEOUT");

	/* A relative path from the environment, alongside a file error. */
	setenv("MASTERD_STATE_DIR", "relative", 1);
	assert_int_equal(load_text(c, "[masterd]\nbogus = 1\n", &conf, &errs),
	    -1);
	assert_int_equal(count_lines(errs), 2);
	assert_non_null(strstr(errs, "unknown key 'bogus'"));
	assert_non_null(strstr(errs, "MASTERD_STATE_DIR"));
	assert_non_null(strstr(errs, "expected an absolute path"));
	free(errs);
}

/* ------------------------------------------------------------ consistency */

static void
test_consistency(void **state)
{
	static const struct bad_conf bad[] = {
		{ "[supervise]\nping_interval = 5s\nping_timeout = 5s\n", 0,
		    "ping_timeout (5000 ms) must be longer than ping_interval "
		    "(5000 ms)" },
		{ "[supervise]\nping_interval = 5s\nping_timeout = 4s\n", 0,
		    "ping_timeout" },
		/* Against the default interval of 10 s. */
		{ "[supervise]\nping_timeout = 10s\n", 0, "ping_timeout" },
		{ "[supervise]\nrestart_delay = 2m\n"
		    "restart_delay_max = 1m\n", 0, "restart_delay" },
		{ "[domain \"w\"]\nprompt = x\nprompt_file = y.md\n", 0,
		    "[domain \"w\"] sets both prompt and prompt_file" },
		{ "[domain \"w\"]\ndepends = api, Bad.Name\n", 0,
		    "[domain \"w\"] depends: bad domain name 'Bad.Name'" },
	};
	struct ctx *c = *state;
	struct masterd_conf *conf;

	expect_errors(c, bad, TU_NITEMS(bad));
	conf = load_ok(c, "[supervise]\nping_interval = 5s\n"
	    "ping_timeout = 5001ms\n");
	assert_int_equal(conf->ping_timeout, 5001);
	conf_free(conf);
}

static void
test_domain_name_ok(void **state)
{
	static const struct { const char *name; bool ok; } names[] = {
		{ "a", true }, { "web", true }, { "frontend", true },
		{ "api-2", true }, { "db_main", true }, { "x1", true },
		{ "abcdefghijklmnopqrstuvwxyz012345", true },	/* 32 */
		{ "", false }, { "Web", false }, { "1abc", false },
		{ "-a", false }, { "_a", false }, { "a b", false },
		{ "a.b", false }, { "a/b", false }, { "..", false },
		{ "abcdefghijklmnopqrstuvwxyz0123456", false },	/* 33 */
		{ "caf\xc3\xa9", false }, { "a\n", false },
	};

	for (size_t i = 0; i < TU_NITEMS(names); i++) {
		if (conf_domain_name_ok(names[i].name) != names[i].ok)
			fail_msg("\"%s\" %s", names[i].name,
			    names[i].ok ? "refused" : "accepted");
	}
	assert_false(conf_domain_name_ok(NULL));
}

static void
test_default_dirs(void **state)
{
	char *s;

	setenv("RUNTIME_DIRECTORY", "/run/masterd-x", 1);
	s = conf_default_socket();
	assert_string_equal(s, "/run/masterd-x/control.sock");
	free(s);
	/* systemd may pass several directories: the first one is used. */
	setenv("RUNTIME_DIRECTORY", "/run/one:/run/two", 1);
	s = conf_default_socket();
	assert_string_equal(s, "/run/one/control.sock");
	free(s);
	/* A relative value is ignored. */
	setenv("RUNTIME_DIRECTORY", "relative", 1);
	s = conf_default_socket();
	assert_non_null(s);
	assert_true(s[0] == '/');
	assert_null(strstr(s, "relative"));
	free(s);

	setenv("STATE_DIRECTORY", "/var/lib/a:/var/lib/b", 1);
	s = conf_default_state_dir();
	assert_string_equal(s, "/var/lib/a");
	free(s);
	unsetenv("STATE_DIRECTORY");
	s = conf_default_state_dir();
	assert_non_null(s);
	assert_true(s[0] == '/');
	free(s);
}

static void
test_strlist(void **state)
{
	struct strlist l = { 0 };

	assert_int_equal(strlist_add(&l, "one"), 0);
	assert_int_equal(strlist_add(&l, ""), 0);
	assert_int_equal(strlist_add(&l, "three"), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0], "one");
	assert_string_equal(l.v[1], "");
	assert_string_equal(l.v[2], "three");
	strlist_free(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.v);
	strlist_free(&l);
}

/* ------------------------------------------------------------ [llm] */

static void
test_llm_defaults(void **state)
{
	/* max_tokens unset: the session's default (llm.h). */
	static const int64_t numbers[] = { 300000, 10000, -1, 0, 6, 300000,
	    60000 };
	struct ctx *c = *state;
	struct masterd_conf *conf = load_ok(c, "[llm]\n");
	const struct llm_conf *l = &conf->llm;

	assert_string_equal(l->provider, "openai-responses");
	assert_null(l->base_url);
	assert_null(l->model);
	assert_null(l->key_env);
	assert_null(l->key_file);
	assert_null(l->key_credential);
	assert_fields(l, llm_fields, TU_NITEMS(llm_fields), numbers,
	    TU_NITEMS(numbers));
	/* No default: not sent, not priced. */
	assert_true(l->temperature < 0);
	assert_true(l->price_input < 0);
	assert_true(l->price_output < 0);
	assert_true(l->price_cached < 0);
	assert_int_equal(l->stream, 1);
	assert_int_equal(l->store, 1);
	assert_int_equal(l->max_tokens_field, LLM_MAX_FIELD_AUTO);
	conf_free(conf);
}

static void
test_llm_every_key(void **state)
{
	static const int64_t numbers[] = { 120000, 500, 2048, 32768, 3, 90000,
	    0 };
	struct ctx *c = *state;
	struct masterd_conf *conf;
	const struct llm_conf *l;

	conf = load_ok(c, "[llm]\n"
	    "provider = chat\n"
	    "base_url = http://127.0.0.1:11434/v1\n"
	    "model = qwen2.5-coder:32b\n"
	    "key_env = OLLAMA_KEY\n"
	    "timeout = 2m\n"
	    "connect_timeout = 500ms\n"
	    "max_tokens = 2048\n"
	    "temperature = 0.2\n"
	    "context_tokens = 32768\n"
	    "price_input = 1.25\n"
	    "price_output = 10\n"
	    "price_cached = 0.125\n"
	    "stream = no\n"
	    "store = off\n"
	    "max_attempts = 3\n"
	    "retry_deadline = 90s\n"
	    "max_retry_wait = 0\n"
	    "max_tokens_field = max_completion_tokens\n");
	l = &conf->llm;
	assert_string_equal(l->provider, "chat");
	assert_string_equal(l->base_url, "http://127.0.0.1:11434/v1");
	assert_string_equal(l->model, "qwen2.5-coder:32b");
	assert_string_equal(l->key_env, "OLLAMA_KEY");
	assert_fields(l, llm_fields, TU_NITEMS(llm_fields), numbers,
	    TU_NITEMS(numbers));
	assert_float_equal(l->temperature, 0.2, 1e-12);
	assert_float_equal(l->price_input, 1.25, 1e-12);
	assert_float_equal(l->price_output, 10, 1e-12);
	assert_float_equal(l->price_cached, 0.125, 1e-12);
	assert_int_equal(l->stream, 0);
	assert_int_equal(l->store, 0);
	assert_int_equal(l->max_tokens_field,
	    LLM_MAX_FIELD_MAX_COMPLETION_TOKENS);
	conf_free(conf);

	/* max_tokens unset fits any window: the session takes a quarter. */
	conf = load_ok(c, "[llm]\nprovider = chat\ncontext_tokens = 4096\n");
	assert_int_equal(conf->llm.max_tokens, -1);
	conf_free(conf);
	conf = load_ok(c, "[llm]\nprovider = anthropic\nkey_file = /k\n");
	assert_string_equal(conf->llm.key_file, "/k");
	conf_free(conf);
	conf = load_ok(c, "[llm]\nkey_credential = openai-key\n");
	assert_string_equal(conf->llm.key_credential, "openai-key");
	conf_free(conf);
}

static void
test_llm_domain_override(void **state)
{
	struct ctx *c = *state;
	struct masterd_conf *conf;
	struct llm_conf l;

	conf = load_ok(c, "[llm]\nprovider = openai-responses\n"
	    "model = big\ntemperature = 0.3\nkey_env = OPENAI_KEY_2\n"
	    "price_input = 2\n"
	    "[domain \"web\"]\nprovider = chat\nmodel = small\n"
	    "context_tokens = 16384\nstream = no\ntemperature = 0\n"
	    "key_file = /etc/masterd/web.key\nmax_tokens_field = max_tokens\n"
	    "[domain \"db\"]\ncheck = make\n");
	conf_llm(conf, "web", &l);
	assert_string_equal(l.provider, "chat");
	assert_string_equal(l.model, "small");
	assert_int_equal(l.context_tokens, 16384);
	assert_int_equal(l.stream, 0);
	/* 0 is a value, not "unset". */
	assert_float_equal(l.temperature, 0, 1e-12);
	/* A domain's key source replaces the global one whole. */
	assert_string_equal(l.key_file, "/etc/masterd/web.key");
	assert_null(l.key_env);
	/* The rest comes from [llm]. */
	assert_float_equal(l.price_input, 2, 1e-12);
	assert_int_equal(l.timeout, 300000);
	assert_int_equal(l.store, 1);
	assert_int_equal(l.max_tokens_field, LLM_MAX_FIELD_MAX_TOKENS);

	conf_llm(conf, "db", &l);
	assert_int_equal(l.max_tokens_field, LLM_MAX_FIELD_AUTO);
	assert_string_equal(l.model, "big");
	assert_string_equal(l.key_env, "OPENAI_KEY_2");
	assert_float_equal(l.temperature, 0.3, 1e-12);
	conf_llm(conf, NULL, &l);
	assert_string_equal(l.provider, "openai-responses");
	conf_llm(conf, "nosuch", &l);
	assert_string_equal(l.model, "big");
	conf_free(conf);
}

static void
test_llm_errors(void **state)
{
	static const struct bad_conf bad[] = {
		{ "[llm]\nprovider = bard\n", 2, "[llm] provider: expected "
		    "openai-responses, chat or anthropic" },
		{ "[llm]\ntemperature = 2.5\n", 2,
		    "[llm] temperature: value out of range: '2.5'" },
		{ "[llm]\ntemperature = warm\n", 2,
		    "temperature: expected a number" },
		{ "[llm]\nprice_input = -1\n", 2, "out of range" },
		{ "[llm]\nprice_output = nan\n", 2,
		    "expected a number" },
		{ "[llm]\nstream = maybe\n", 2,
		    "[llm] stream: expected yes or no" },
		{ "[llm]\nmax_attempts = 0\n", 2, "out of range" },
		{ "[llm]\nmax_tokens_field = max\n", 2,
		    "[llm] max_tokens_field: expected auto, max_tokens or "
		    "max_completion_tokens" },
		{ "[llm]\nkey_file = relative.key\n", 2,
		    "expected an absolute path" },
		{ "[domain \"w\"]\ntemperature = 9\n", 2,
		    "[domain] temperature: value out of range" },
		/* Consistency: no file position. */
		{ "[llm]\nprovider = chat\n", 0,
		    "[llm] provider chat needs context_tokens" },
		{ "[llm]\nkey_env = A\nkey_file = /b\n", 0,
		    "[llm] sets more than one of key_env, key_file and "
		    "key_credential" },
		{ "[llm]\nkey_credential = ../x\n", 0,
		    "key_credential: a credential name, not a path" },
		{ "[llm]\nbase_url = ftp://x/v1\n", 0,
		    "base_url: expected an http:// or https:// URL" },
		{ "[llm]\nmax_tokens = 8192\ncontext_tokens = 8192\n", 0,
		    "max_tokens (8192) must be smaller than context_tokens" },
		{ "[llm]\nprovider = anthropic\n[domain \"w\"]\n"
		    "provider = chat\n", 0,
		    "[domain \"w\"] provider chat needs context_tokens" },
	};
	struct ctx *c = *state;

	expect_errors(c, bad, TU_NITEMS(bad));
}

/* A key pasted where a variable name belongs is refused, and the error
 * never shows it. */
static void
test_key_env_not_a_key(void **state)
{
	static const char *const keys[] = {
		"sk-proj-Abc123def456ghi789jkl012mno345pqr678",
		"sk-ant-api03-abcdefghijklmnop",
		"AbCdEf0123456789GhIjKl0123456789",	/* letters, digits */
		"gsk_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7dE9fG1hJ3kL5",
		"x123456789012345678901234567890123456789012345678901234567890"
		    "12345",			/* a name, but too long */
		"OPENAI KEY",
		"9LIVES",
	};
	static const char *const names[] = { "OPENAI_API_KEY", "LLMD_TEST_KEY",
	    "_K", "KEY2", "MY_PROVIDER_API_KEY_FOR_PROJECT_2026",
	    "openai_api_key_2" };
	struct ctx *c = *state;
	struct masterd_conf *conf;
	char text[256], *errs;

	for (size_t i = 0; i < TU_NITEMS(keys); i++) {
		snprintf(text, sizeof(text), "[llm]\nkey_env = %s\n", keys[i]);
		conf = NULL;
		errs = NULL;
		assert_int_equal(load_text(c, text, &conf, &errs), -1);
		assert_null(conf);
		assert_non_null(errs);
		if (strstr(errs, "[llm] key_env must name an environment "
		    "variable, not hold a key") == NULL ||
		    strstr(errs, keys[i]) != NULL || count_lines(errs) != 1)
			fail_msg("key_env = %s: %s", keys[i], errs);
		free(errs);
		assert_false(conf_key_env_ok(keys[i]));
	}
	for (size_t i = 0; i < TU_NITEMS(names); i++)
		assert_true(conf_key_env_ok(names[i]));
}

static void
test_llm_env(void **state)
{
	static const char *const env[][2] = {
		{ "MASTERD_LLM_MODEL", "from-env" },
		{ "MASTERD_LLM_TEMPERATURE", "0.9" },
		{ "MASTERD_LLM_STREAM", "false" },
	};
	struct masterd_conf *conf;

	set_env(env, TU_NITEMS(env), true);
	conf = load_ok(*state, "[llm]\nmodel = from-file\n");
	assert_string_equal(conf->llm.model, "from-env");
	assert_float_equal(conf->llm.temperature, 0.9, 1e-12);
	assert_int_equal(conf->llm.stream, 0);
	conf_free(conf);
	set_env(env, TU_NITEMS(env), false);
}

/* ------------------------------------------------------------ roles */

static void
test_llm_roles_inherit(void **state)
{
	struct masterd_conf *conf;
	struct llm_conf l;

	conf = load_ok(*state, "[llm]\nprovider = anthropic\nmodel = big\n"
	    "max_tokens = 2000\nkey_env = KEY_A\nprice_input = 3\n"
	    "[domain \"web\"]\nmodel = web-model\n");
	/* Nothing set for the roles: each is [llm] exactly. */
	conf_llm_role(conf, "critic", "web", &l);
	assert_memory_equal(&l, &conf->llm, sizeof(l));
	conf_llm_role(conf, "planner", NULL, &l);
	assert_memory_equal(&l, &conf->llm, sizeof(l));
	/* "domain" is conf_llm: the domain's override over [llm]. */
	conf_llm_role(conf, "domain", "web", &l);
	assert_string_equal(l.model, "web-model");
	assert_string_equal(l.provider, "anthropic");
	conf_llm_role(conf, "domain", "other", &l);
	assert_string_equal(l.model, "big");
	conf_free(conf);
}

static void
test_llm_roles_override(void **state)
{
	struct masterd_conf *conf;
	struct llm_conf l;

	conf = load_ok(*state, "[llm]\nprovider = anthropic\nmodel = big\n"
	    "max_tokens = 2000\nkey_env = KEY_A\nprice_input = 3\n"
	    "temperature = 0.5\n"
	    "[critic]\nprovider = chat\nbase_url = http://127.0.0.1:1/v1\n"
	    "model = cheap\ncontext_tokens = 16384\nkey_file = /k/critic\n"
	    "temperature = 0\nstream = no\ntools = no\n"
	    "max_tokens_field = max_completion_tokens\n"
	    "[planner]\nmodel = strong\nmax_tokens = 16000\n"
	    "[domain \"web\"]\nmodel = web-model\nmax_tokens = 1000\n");
	/* A domain's critic is the critic's model, not the domain's. */
	conf_llm_role(conf, "critic", "web", &l);
	assert_string_equal(l.provider, "chat");
	assert_string_equal(l.base_url, "http://127.0.0.1:1/v1");
	assert_string_equal(l.model, "cheap");
	assert_int_equal(l.context_tokens, 16384);
	assert_float_equal(l.temperature, 0, 1e-12);
	assert_int_equal(l.stream, 0);
	assert_int_equal(l.tools, 0);
	assert_int_equal(l.max_tokens_field,
	    LLM_MAX_FIELD_MAX_COMPLETION_TOKENS);
	/* The key source is replaced whole. */
	assert_string_equal(l.key_file, "/k/critic");
	assert_null(l.key_env);
	/* The rest is [llm]'s, not the domain's. */
	assert_int_equal(l.max_tokens, 2000);
	assert_float_equal(l.price_input, 3, 1e-12);
	assert_int_equal(l.store, 1);
	assert_int_equal(l.timeout, 300000);

	conf_llm_role(conf, "planner", NULL, &l);
	assert_string_equal(l.provider, "anthropic");
	assert_string_equal(l.model, "strong");
	assert_int_equal(l.max_tokens, 16000);
	assert_string_equal(l.key_env, "KEY_A");
	assert_float_equal(l.temperature, 0.5, 1e-12);
	assert_int_equal(l.tools, 1);
	assert_int_equal(l.max_tokens_field, LLM_MAX_FIELD_AUTO);

	conf_llm_role(conf, "domain", "web", &l);
	assert_string_equal(l.model, "web-model");
	assert_int_equal(l.max_tokens, 1000);
	/* [llm] itself is untouched by the roles. */
	assert_string_equal(conf->llm.model, "big");
	assert_null(conf->llm.base_url);
	conf_free(conf);
}

static void
test_llm_roles_env(void **state)
{
	static const char *const env[][2] = {
		{ "MASTERD_CRITIC_MODEL", "critic-env" },
		{ "MASTERD_PLANNER_MAX_TOKENS", "9000" },
	};
	struct masterd_conf *conf;
	struct llm_conf l;

	set_env(env, TU_NITEMS(env), true);
	conf = load_ok(*state, "[llm]\nmodel = base\n[critic]\n"
	    "model = critic-file\n");
	conf_llm_role(conf, "critic", NULL, &l);
	assert_string_equal(l.model, "critic-env");
	conf_llm_role(conf, "planner", NULL, &l);
	assert_string_equal(l.model, "base");
	assert_int_equal(l.max_tokens, 9000);
	conf_free(conf);
	set_env(env, TU_NITEMS(env), false);
}

static void
test_llm_roles_errors(void **state)
{
	static const struct bad_conf bad[] = {
		{ "[critic]\ntemperature = 9\n", 2,
		    "[critic] temperature: value out of range" },
		{ "[planner]\nwhatever = 1\n", 2,
		    "unknown key 'whatever' in [planner]" },
		{ "[critic \"x\"]\nmodel = m\n", 1,
		    "section [critic] takes no name" },
		{ "[critic]\nprovider = chat\n", 0,
		    "[critic] provider chat needs context_tokens" },
		{ "[llm]\ncontext_tokens = 8000\n[planner]\n"
		    "max_tokens = 8000\n", 0,
		    "[planner] max_tokens (8000) must be smaller than "
		    "context_tokens (8000)" },
		{ "[llm]\nkey_env = A\n[critic]\nkey_file = /b\n"
		    "key_env = C\n", 0,
		    "[critic] sets more than one of key_env, key_file" },
	};
	static const char *const env[][2] = {
		{ "MASTERD_CRITIC_STREAM", "perhaps" },
	};
	struct masterd_conf *conf = NULL;
	char *errs = NULL;

	expect_errors(*state, bad, TU_NITEMS(bad));
	set_env(env, TU_NITEMS(env), true);
	assert_int_equal(conf_load(NULL, &conf, &errs), -1);
	assert_non_null(errs);
	assert_non_null(strstr(errs, "environment MASTERD_CRITIC_STREAM: "
	    "[critic] stream: expected yes or no: 'perhaps'"));
	free(errs);
	set_env(env, TU_NITEMS(env), false);
}

/* [llm "NAME"]: a provider to fail over to, over [llm]; fallback lists;
 * endpoints; outage settings. */
static void
test_llm_named(void **state)
{
	struct masterd_conf *conf;
	struct llm_conf l;
	char *names[CONF_MAX_FALLBACKS], ep[320];
	size_t n;

	conf = load_ok(*state, "[llm]\nprovider = chat\n"
	    "base_url = http://127.0.0.1:1/v1\nmodel = primary\n"
	    "context_tokens = 32000\nkey_env = KEY_A\nprice_input = 1\n"
	    "fallback = backup, local\noutage_timeout = 2h\n"
	    "[llm \"backup\"]\nprovider = anthropic\nmodel = claude\n"
	    "key_credential = anthropic_key\nprice_input = 3\n"
	    "[llm \"local\"]\nbase_url = http://127.0.0.1:2/v1\n"
	    "model = qwen\n[domain \"web\"]\nfallback = local\n");
	assert_int_equal(conf->nproviders, 2);
	n = conf_llm_fallbacks(&conf->llm, names, CONF_MAX_FALLBACKS);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "backup");
	assert_string_equal(names[1], "local");
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	assert_int_equal(conf_llm_named(conf, "backup", &l), 0);
	assert_string_equal(l.provider, "anthropic");
	assert_string_equal(l.model, "claude");
	/* The key source whole, the rest inherited; no fallbacks of its
	 * own. */
	assert_string_equal(l.key_credential, "anthropic_key");
	assert_null(l.key_env);
	assert_float_equal(l.price_input, 3, 1e-12);
	assert_int_equal(l.context_tokens, 32000);
	assert_int_equal(l.outage_timeout, 2 * 3600 * 1000);
	assert_null(l.fallback);
	conf_llm_endpoint(&l, ep, sizeof(ep));
	/* base_url inherited from [llm]: the endpoint says so. */
	assert_string_equal(ep, "anthropic http://127.0.0.1:1/v1");
	assert_int_equal(conf_llm_named(conf, "local", &l), 0);
	conf_llm_endpoint(&l, ep, sizeof(ep));
	assert_string_equal(ep, "chat http://127.0.0.1:2/v1");
	l.base_url = "http://127.0.0.1:2/v1//";
	conf_llm_endpoint(&l, ep, sizeof(ep));
	assert_string_equal(ep, "chat http://127.0.0.1:2/v1");
	assert_string_equal(l.key_env, "KEY_A");
	assert_int_equal(conf_llm_named(conf, "nope", &l), -1);
	/* A domain's own list. */
	conf_llm_role(conf, "domain", "web", &l);
	n = conf_llm_fallbacks(&l, names, CONF_MAX_FALLBACKS);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "local");
	free(names[0]);
	/* Defaults. */
	assert_int_equal(conf->llm.outage_probe_max, 2 * 60 * 1000);
	conf_free(conf);

	conf = load_ok(*state, "[llm]\nprovider = anthropic\nmodel = m\n");
	conf_llm_endpoint(&conf->llm, ep, sizeof(ep));
	assert_string_equal(ep, "anthropic https://api.anthropic.com/v1");
	assert_int_equal(conf->llm.outage_timeout, 6 * 3600 * 1000);
	conf_free(conf);
}

static void
test_llm_named_errors(void **state)
{
	static const struct bad_conf bad[] = {
		{ "[llm]\nfallback = nowhere\n", 0,
		    "[llm] fallback: no section [llm \"nowhere\"]" },
		{ "[llm \"a\"]\nmodel = m\n[llm \"a\"]\nmodel = n\n", 3,
		    "provider \"a\" defined twice" },
		{ "[llm \"Bad Name\"]\nmodel = m\n", 1,
		    "[llm \"NAME\"] needs a name" },
		{ "[llm \"a\"]\nfallback = b\n[llm \"b\"]\nmodel = m\n", 0,
		    "[llm \"a\"] fallback: only a primary provider lists "
		    "fallbacks" },
		{ "[llm \"c\"]\nprovider = chat\n", 0,
		    "[llm \"c\"] provider chat needs context_tokens" },
		{ "[domain \"web\"]\nfallback = x\n", 0,
		    "[domain \"web\"] fallback: no section [llm \"x\"]" },
		{ "[llm]\noutage_timeout = 0\n", 2,
		    "[llm] outage_timeout: value out of range" },
	};

	expect_errors(*state, bad, TU_NITEMS(bad));
}

static void
test_parse_real(void **state)
{
	double v;

	(void)state;
	assert_int_equal(conf_parse_real("0.25", &v), 0);
	assert_float_equal(v, 0.25, 1e-12);
	assert_int_equal(conf_parse_real("3", &v), 0);
	assert_float_equal(v, 3, 1e-12);
	assert_int_equal(conf_parse_real("", &v), -1);
	assert_int_equal(conf_parse_real(" 1", &v), -1);
	assert_int_equal(conf_parse_real("1x", &v), -1);
	assert_int_equal(conf_parse_real("inf", &v), -1);
	assert_int_equal(conf_parse_real("1e999", &v), -1);
}

/* ------------------------------------------------------------ sandbox */

static void
assert_check_limits(const struct masterd_conf *conf, const int64_t want[7])
{
	const int64_t got[7] = { conf->check_timeout, conf->check_cpu_time,
	    conf->check_memory, conf->check_processes, conf->check_file_size,
	    conf->check_tmp_size, conf->check_output };

	for (size_t i = 0; i < 7; i++) {
		if (got[i] != want[i])
			fail_msg("[checks] limit %zu is %lld, wanted %lld", i,
			    (long long)got[i], (long long)want[i]);
	}
}

/* Strict by default, [checks] as CHECK_LIMITS_DEFAULT, no network nor
 * variables for a domain. */
static void
test_sandbox_defaults(void **state)
{
	static const int64_t want[7] = { 300000, 300000, 2ll << 30, 256,
	    256ll << 20, 256ll << 20, 16384 };
	struct ctx *c = *state;
	struct masterd_conf *conf;
	const struct domain_conf *d;

	conf = load_ok(c, "[domain \"web\"]\ncheck = make\n");
	assert_int_equal(conf->sandbox, CONF_SANDBOX_STRICT);
	assert_string_equal(conf_sandbox_name(conf->sandbox), "strict");
	assert_null(conf->sandbox_said);
	assert_int_equal(conf->sandbox_read.n, 0);
	assert_check_limits(conf, want);
	assert_non_null(d = conf_domain(conf, "web"));
	assert_int_equal(d->network, 0);
	assert_int_equal(d->env.n, 0);
	conf_free(conf);
}

static void
test_sandbox_keys(void **state)
{
	static const int64_t want[7] = { 90000, 1000, 512ll << 20, 64, 0,
	    1ll << 30, 4096 };
	struct ctx *c = *state;
	struct masterd_conf *conf;
	const struct domain_conf *d;
	char where[PATH_MAX + 16];

	conf = load_ok(c,
	    "[masterd]\n"
	    "sandbox = off\n"
	    "sandbox_read = /home/dev/.pyenv\n"
	    "sandbox_read = /opt/tool chain\n"
	    "[checks]\n"
	    "timeout = 90s\n"
	    "cpu_time = 1\n"
	    "memory = 512M\n"
	    "processes = 64\n"
	    "file_size = 0\n"
	    "tmp_size = 1G\n"
	    "output = 4K\n"
	    "[domain \"web\"]\n"
	    "network = yes\n"
	    "env = NPM_CONFIG_REGISTRY\n"
	    "env = _private2\n"
	    "[domain \"db\"]\n"
	    "network = no\n");
	assert_int_equal(conf->sandbox, CONF_SANDBOX_OFF);
	assert_string_equal(conf_sandbox_name(conf->sandbox), "off");
	snprintf(where, sizeof(where), "%s:2", c->file);
	assert_string_equal(conf->sandbox_said, where);
	assert_int_equal(conf->sandbox_read.n, 2);
	assert_string_equal(conf->sandbox_read.v[0], "/home/dev/.pyenv");
	assert_string_equal(conf->sandbox_read.v[1], "/opt/tool chain");
	assert_check_limits(conf, want);
	assert_non_null(d = conf_domain(conf, "web"));
	assert_int_equal(d->network, 1);
	assert_int_equal(d->env.n, 2);
	assert_string_equal(d->env.v[0], "NPM_CONFIG_REGISTRY");
	assert_string_equal(d->env.v[1], "_private2");
	assert_non_null(d = conf_domain(conf, "db"));
	assert_int_equal(d->network, 0);
	conf_free(conf);

	/* Said twice: the last line is the one that counts. */
	conf = load_ok(c, "[masterd]\nsandbox = off\n\nsandbox = strict\n");
	assert_int_equal(conf->sandbox, CONF_SANDBOX_STRICT);
	snprintf(where, sizeof(where), "%s:4", c->file);
	assert_string_equal(conf->sandbox_said, where);
	conf_free(conf);
}

static void
test_sandbox_errors(void **state)
{
	static const struct bad_conf bad[] = {
		{ "[masterd]\nsandbox = loose\n", 2,
		    "[masterd] sandbox: expected strict or off: 'loose'" },
		{ "[masterd]\nsandbox = Strict\n", 2,
		    "expected strict or off" },
		{ "[masterd]\nsandbox =\n", 2, "expected strict or off" },
		{ "[masterd]\nsandbox_read = opt/x\n", 2,
		    "[masterd] sandbox_read: expected an absolute path" },
		{ "[masterd]\nsandbox_read =\n", 2,
		    "sandbox_read: expected an absolute path" },
		{ "[domain \"web\"]\nnetwork = maybe\n", 2,
		    "[domain] network: expected yes or no" },
		{ "[domain \"web\"]\nenv = MASTERD_STATE_DIR\n", 2,
		    "[domain] env: expected a variable name" },
		{ "[domain \"web\"]\nenv = CREDENTIALS_DIRECTORY\n", 2,
		    "not MASTERD_* nor CREDENTIALS_DIRECTORY" },
		{ "[domain \"web\"]\nenv = 9LIVES\n", 2,
		    "expected a variable name" },
		{ "[domain \"web\"]\nenv = A-B\n", 2,
		    "expected a variable name" },
		{ "[domain \"web\"]\nenv = A B\n", 2,
		    "expected a variable name" },
		{ "[domain \"web\"]\nenv =\n", 2, "expected a variable name" },
		{ "[masterd]\nnetwork = yes\n", 2,
		    "unknown key 'network' in [masterd]" },
		{ "[checks]\ntimeout = 0\n", 2,
		    "[checks] timeout: value out of range" },
		{ "[checks]\ntimeout = soon\n", 2,
		    "[checks] timeout: expected a duration" },
		{ "[checks]\nmemory = lots\n", 2,
		    "[checks] memory: expected a size" },
		{ "[checks]\nprocesses = -1\n", 2,
		    "[checks] processes: value out of range" },
		{ "[checks]\noutput = 10\n", 2,
		    "[checks] output: value out of range" },
		{ "[checks]\nnetwork = yes\n", 2,
		    "unknown key 'network' in [checks]" },
		{ "[checks \"x\"]\n", 1, "section [checks] takes no name" },
	};
	struct ctx *c = *state;

	expect_errors(c, bad, TU_NITEMS(bad));
}

static void
test_sandbox_env(void **state)
{
	struct ctx *c = *state;
	struct masterd_conf *conf;
	char *errs = NULL;

	setenv("MASTERD_SANDBOX", "off", 1);
	setenv("MASTERD_CHECKS_TIMEOUT", "20s", 1);
	setenv("MASTERD_CHECKS_MEMORY", "1G", 1);
	conf = load_ok(c, "[masterd]\nsandbox = strict\n");
	assert_int_equal(conf->sandbox, CONF_SANDBOX_OFF);
	assert_string_equal(conf->sandbox_said,
	    "environment MASTERD_SANDBOX");
	assert_int_equal(conf->check_timeout, 20000);
	assert_int_equal(conf->check_memory, 1ll << 30);
	conf_free(conf);

	setenv("MASTERD_SANDBOX", "none", 1);
	conf = (struct masterd_conf *)c;
	assert_int_equal(load_text(c, "", &conf, &errs), -1);
	assert_null(conf);
	assert_non_null(strstr(errs, "environment MASTERD_SANDBOX: "
	    "[masterd] sandbox: expected strict or off: 'none'"));
	free(errs);
}

static void
test_env_name_ok(void **state)
{
	static const char *const good[] = { "A", "_", "PATH_2", "http_proxy",
	    "MASTERD", "MASTERDX", "CREDENTIALS_DIRECTORY_X" };
	static const char *const bad[] = { "", "1A", "A-B", "A=B", "MASTERD_",
	    "MASTERD_X", "CREDENTIALS_DIRECTORY", "A B", "\xc3\xa9" };

	for (size_t i = 0; i < TU_NITEMS(good); i++)
		if (!conf_env_name_ok(good[i]))
			fail_msg("refused: %s", good[i]);
	for (size_t i = 0; i < TU_NITEMS(bad); i++)
		if (conf_env_name_ok(bad[i]))
			fail_msg("accepted: %s", bad[i]);
	assert_false(conf_env_name_ok(NULL));
	assert_string_equal(conf_sandbox_name(CONF_SANDBOX_STRICT), "strict");
	assert_string_equal(conf_sandbox_name(CONF_SANDBOX_OFF), "off");
	assert_string_equal(conf_sandbox_name(7), "?");
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_defaults_no_file),
		T(test_defaults_empty_file),
		T(test_every_key),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_bool),
		T(test_sizes_and_durations_in_file),
		T(test_log_levels),
		T(test_lists),
		T(test_quoting),
		T(test_crlf_file),
		T(test_error_each),
		T(test_error_missing_file),
		T(test_errors_together),
		T(test_env_override),
		T(test_env_bad_value),
		T(test_consistency),
		cmocka_unit_test(test_domain_name_ok),
		T(test_default_dirs),
		cmocka_unit_test(test_strlist),
		T(test_llm_defaults),
		T(test_llm_every_key),
		T(test_llm_domain_override),
		T(test_llm_errors),
		T(test_key_env_not_a_key),
		T(test_llm_env),
		T(test_llm_roles_inherit),
		T(test_llm_roles_override),
		T(test_llm_roles_env),
		T(test_llm_roles_errors),
		T(test_llm_named),
		T(test_llm_named_errors),
		cmocka_unit_test(test_parse_real),
		T(test_sandbox_defaults),
		T(test_sandbox_keys),
		T(test_sandbox_errors),
		T(test_sandbox_env),
		cmocka_unit_test(test_env_name_ok),
	};

	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
