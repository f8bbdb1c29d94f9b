/*
 * test_probe.c — masterd's sandbox verdict (daemon/masterd/sandbox.c):
 * the probe run as a process with a deadline (fake workers: shell scripts
 * that answer, refuse, babble, fail, hang or leave a grandchild holding
 * the pipe), its JSON read, and the verdict said: `masterd -n`'s lines
 * and status's object.
 */
#include "testutil.h"

#include <signal.h>

#include "common/config.h"
#include "daemon/masterd/sandbox.h"

#define STRICT_OK \
	"{\"strict\": true, \"summary\": \"user, mount, PID and network " \
	"namespaces; Landlock ABI 6; seccomp\", \"features\": [], " \
	"\"missing\": [], \"notes\": [\"running as root\"]}"
#define STRICT_MISSING \
	"{\"strict\": false, \"summary\": \"\", \"missing\": [" \
	"{\"name\": \"user namespaces\", \"error\": \"unshare: EPERM\", " \
	"\"fix\": \"sysctl user.max_user_namespaces=15000\"}, " \
	"{\"name\": \"Landlock\", \"error\": \"not enabled\", " \
	"\"fix\": \"add landlock to lsm=\"}], \"notes\": []}"

struct ctx {
	char dir[PATH_MAX];
	char worker[PATH_MAX];
	struct masterd_conf *conf;
	struct sandbox_verdict v;
};

static int
setup(void **state)
{
	struct ctx *c = tu_fixture(sizeof(*c), offsetof(struct ctx, dir));
	char *errs = NULL;

	TU_JOIN(c->worker, c->dir, "masterd-worker");
	unsetenv("MASTERD_SANDBOX");
	assert_int_equal(conf_load(NULL, &c->conf, &errs), 0);
	sandbox_verdict_init(&c->v, c->conf);
	*state = c;
	return 0;
}

static int
teardown(void **state)
{
	struct ctx *c = *state;

	sandbox_verdict_free(&c->v);
	conf_free(c->conf);
	tu_rmtree(c->dir);
	free(c);
	return 0;
}

/* The fake worker: a script whose body is given; asserts it is asked
 * for --sandbox-probe. */
static void
fake_worker(struct ctx *c, const char *body)
{
	char *text = NULL;

	assert_true(asprintf(&text, "#!/bin/sh\n[ \"$1\" = --sandbox-probe ] "
	    "|| exit 9\n%s\n", body) > 0);
	tu_write_file(c->worker, text);
	assert_int_equal(chmod(c->worker, 0755), 0);
	free(text);
}

static void
probe(struct ctx *c, uint64_t timeout_ms)
{
	sandbox_probe(c->worker, c->conf, timeout_ms, &c->v);
}

/* missing[0].key contains piece. */
static void
missing_has(const struct ctx *c, const char *key, const char *piece)
{
	const char *s = json_string_value(json_object_get(json_array_get(
	    c->v.missing, 0), key));

	if (s == NULL || strstr(s, piece) == NULL)
		fail_msg("missing[0].%s is \"%s\", wanted \"%s\" in it", key,
		    s != NULL ? s : "(none)", piece);
}

static char *
printed(const struct sandbox_verdict *v)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	assert_non_null(f);
	sandbox_print(f, v);
	fclose(f);
	return s;
}

static void
test_available(void **state)
{
	struct ctx *c = *state;
	char *out;
	json_t *j;

	fake_worker(c, "echo '" STRICT_OK "'; exit 0");
	probe(c, 30000);
	assert_true(c->v.probed);
	assert_true(c->v.available);
	assert_true(sandbox_ok(&c->v));
	assert_string_equal(c->v.summary, "user, mount, PID and network "
	    "namespaces; Landlock ABI 6; seccomp");
	assert_int_equal(json_array_size(c->v.missing), 0);
	assert_int_equal(json_array_size(c->v.notes), 1);
	out = printed(&c->v);
	assert_string_equal(out, "sandbox: strict (user, mount, PID and "
	    "network namespaces; Landlock ABI 6; seccomp)\n"
	    "  note: running as root\n");
	free(out);
	j = sandbox_json(&c->v);
	assert_string_equal(json_string_value(json_object_get(j, "mode")),
	    "strict");
	assert_true(json_is_true(json_object_get(j, "available")));
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(j, "notes"), 0)), "running as root");
	assert_null(json_object_get(j, "said"));
	json_decref(j);
}

static void
test_missing(void **state)
{
	struct ctx *c = *state;
	char *out;

	fake_worker(c, "echo '" STRICT_MISSING "'; exit 1");
	probe(c, 30000);
	assert_true(c->v.probed);
	assert_false(c->v.available);
	assert_false(sandbox_ok(&c->v));
	assert_int_equal(json_array_size(c->v.missing), 2);
	out = printed(&c->v);
	assert_string_equal(out, "sandbox: strict is NOT available here:\n"
	    "  user namespaces: unshare: EPERM; fix: sysctl "
	    "user.max_user_namespaces=15000\n"
	    "  Landlock: not enabled; fix: add landlock to lsm=\n");
	free(out);
}

/* A verdict and a status that disagree are not trusted. */
static void
test_disagreeing(void **state)
{
	struct ctx *c = *state;

	fake_worker(c, "echo '" STRICT_OK "'; exit 1");
	probe(c, 30000);
	assert_false(c->v.available);
	assert_int_equal(json_array_size(c->v.missing), 1);
	missing_has(c, "error", "not why");
	missing_has(c, "fix", c->worker);
}

static void
test_no_verdict(void **state)
{
	struct ctx *c = *state;

	fake_worker(c, "echo 'all good'; exit 0");
	probe(c, 30000);
	assert_false(c->v.available);
	missing_has(c, "name", "sandbox probe");
	missing_has(c, "error", "no verdict (exit status 0)");
	missing_has(c, "fix", "sandbox = off");

	fake_worker(c, "echo oops >&2; exit 2");
	probe(c, 30000);
	assert_false(c->v.available);
	missing_has(c, "error", "no verdict (exit status 2)");

	fake_worker(c, "kill -9 $$");
	probe(c, 30000);
	assert_false(c->v.available);
	missing_has(c, "error", "killed by signal 9");
}

static void
test_not_there(void **state)
{
	struct ctx *c = *state;

	probe(c, 30000);
	assert_true(c->v.probed);
	assert_false(c->v.available);
	missing_has(c, "error", "cannot run");
	missing_has(c, "error", c->worker);
}

static void
kill_grandchild(struct ctx *c)
{
	char path[PATH_MAX + 8], *text;

	snprintf(path, sizeof(path), "%s.pid", c->worker);
	assert_non_null(text = tu_read_file(path));
	assert_int_equal(kill((pid_t)atol(text), SIGKILL), 0);
	free(text);
}

/* A probe that hangs is killed at the deadline; one that answered but
 * left a grandchild on its output is believed. */
static void
test_deadline(void **state)
{
	struct ctx *c = *state;
	uint64_t t0 = tu_mono_ms();

	fake_worker(c, "exec sleep 60");
	probe(c, 300);
	assert_false(c->v.available);
	missing_has(c, "error", "did not answer in 300 ms");
	assert_true(tu_mono_ms() - t0 < 30000);

	fake_worker(c, "sleep 60 2>/dev/null & echo $! >\"$0.pid\"; "
	    "echo '" STRICT_OK "'; exit 0");
	probe(c, 300);
	assert_true(c->v.available);
	kill_grandchild(c);
}

/* Off: not probed, said where. */
static void
test_off(void **state)
{
	struct ctx *c = *state;
	struct masterd_conf *conf;
	char *errs = NULL, *out;
	json_t *j;

	setenv("MASTERD_SANDBOX", "off", 1);
	assert_int_equal(conf_load(NULL, &conf, &errs), 0);
	unsetenv("MASTERD_SANDBOX");
	sandbox_verdict_free(&c->v);
	sandbox_verdict_init(&c->v, conf);
	assert_false(c->v.probed);
	assert_true(sandbox_ok(&c->v));
	out = printed(&c->v);
	assert_string_equal(out, "sandbox: off — checks run unconfined (said "
	    "in environment MASTERD_SANDBOX)\n");
	free(out);
	j = sandbox_json(&c->v);
	assert_string_equal(json_string_value(json_object_get(j, "mode")),
	    "off");
	assert_true(json_is_null(json_object_get(j, "available")));
	assert_string_equal(json_string_value(json_object_get(j, "said")),
	    "environment MASTERD_SANDBOX");
	json_decref(j);
	conf_free(conf);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_available),
		T(test_missing),
		T(test_disagreeing),
		T(test_no_verdict),
		T(test_not_there),
		T(test_deadline),
		T(test_off),
	};

	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
