/*
 * test_setup.c — where the installed pieces are (common/paths.c) and the
 * setup checks of the keys (daemon/masterd/setup.c).
 *
 * The prompts of a worker: its build tree's, else those of the prefix it
 * sits in (a DESTDIR tree, a moved one), else the compiled-in ones.  The
 * keys: a 0600 file of masterd's user passes; 0644, empty, two lines and
 * missing fail with their fix; a key_env unset fails; a credential is a
 * warning outside systemd and an error in a service without it; each
 * source is checked once; the first error becomes the pause reason.
 */
#include "testutil.h"

#include "common/config.h"
#include "common/paths.h"
#include "daemon/masterd/setup.h"

struct fx {
	char dir[PATH_MAX];
};

static int
setup(void **state)
{
	*state = tu_fixture(sizeof(struct fx), offsetof(struct fx, dir));
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	tu_rmtree(f->dir);
	free(f);
	return 0;
}

static void
mkdirs(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		(void)mkdir(buf, 0755);
		*p = '/';
	}
	(void)mkdir(buf, 0755);
}

/* ---------------------------------------------------------- paths */

static void
test_prompts_of_a_moved_prefix(void **state)
{
	struct fx *f = *state;
	char worker[PATH_MAX], want[PATH_MAX], *p;

	/* A tree installed for MASTERD_PREFIX, under DIR. */
	snprintf(worker, sizeof(worker), "%s%s/masterd/masterd-worker",
	    f->dir, MASTERD_LIBEXECDIR);
	snprintf(want, sizeof(want), "%s%s/prompts", f->dir, MASTERD_DATADIR);
	p = paths_prompts(worker);
	assert_string_equal(p, want);
	free(p);
}

static void
test_prompts_of_a_build_tree(void **state)
{
	struct fx *f = *state;
	char worker[PATH_MAX], file[PATH_MAX], want[PATH_MAX], *p;

	/* build/VARIANT/masterd-worker with prompts/ two levels up. */
	snprintf(worker, sizeof(worker), "%s/src/build/san/masterd-worker",
	    f->dir);
	snprintf(file, sizeof(file), "%s/src/build/san", f->dir);
	mkdirs(file);
	snprintf(want, sizeof(want), "%s/src/prompts", f->dir);
	mkdirs(want);
	TU_JOIN(file, want, "domain.md");
	tu_write_file(file, "x\n");
	p = paths_prompts(worker);
	assert_string_equal(p, want);
	free(p);
}

static void
test_prompts_elsewhere(void **state)
{
	struct fx *f = *state;
	char worker[PATH_MAX], *p;

	/* Neither a build tree nor a prefix: the compiled-in path. */
	snprintf(worker, sizeof(worker), "%s/bin/masterd-worker", f->dir);
	p = paths_prompts(worker);
	assert_string_equal(p, MASTERD_DATADIR "/prompts");
	free(p);
	p = paths_prompts("masterd-worker");
	assert_string_equal(p, MASTERD_DATADIR "/prompts");
	free(p);
}

static void
test_relocate_unmoved(void **state)
{
	char *p;

	(void)state;
	/* The test binary is no installed masterd: nothing moves. */
	p = paths_relocate(MASTERD_SBINDIR, MASTERD_LIBEXECDIR "/masterd");
	assert_string_equal(p, MASTERD_LIBEXECDIR "/masterd");
	free(p);
	p = paths_libexec(MASTERD_SBINDIR, "masterd-child");
	assert_string_equal(p, MASTERD_LIBEXECDIR "/masterd/masterd-child");
	free(p);
}

/* ---------------------------------------------------------- keys */

static struct masterd_conf *
conf_with(struct fx *f, const char *llm_lines)
{
	char path[PATH_MAX], *text, *errors = NULL;
	struct masterd_conf *c = NULL;

	TU_JOIN(path, f->dir, "masterd.conf");
	assert_true(asprintf(&text, "[llm]\nprovider = chat\nbase_url = "
	    "http://127.0.0.1:9/v1\nmodel = m\ncontext_tokens = 8000\n%s\n",
	    llm_lines) > 0);
	tu_write_file(path, text);
	free(text);
	if (conf_load(path, &c, &errors) != 0)
		fail_msg("conf: %s", errors);
	return c;
}

static const json_t *
only_key(const json_t *findings)
{
	assert_int_equal(json_array_size(findings), 1);
	return json_array_get(findings, 0);
}

static void
assert_key(struct fx *f, const char *lines, const char *level,
    const char *error_has, const char *fix_has)
{
	struct masterd_conf *c = conf_with(f, lines);
	json_t *found = setup_check_keys(c, true);
	const json_t *k = only_key(found);

	assert_string_equal(json_string_value(json_object_get(k, "check")),
	    "key");
	assert_string_equal(json_string_value(json_object_get(k, "level")),
	    level);
	if (error_has != NULL)
		assert_non_null(strstr(json_string_value(json_object_get(k,
		    "error")), error_has));
	if (fix_has != NULL)
		assert_non_null(strstr(json_string_value(json_object_get(k,
		    "fix")), fix_has));
	json_decref(found);
	conf_free(c);
}

static void
test_key_file(void **state)
{
	struct fx *f = *state;
	char key[PATH_MAX], line[PATH_MAX + 16];

	TU_JOIN(key, f->dir, "key");
	snprintf(line, sizeof(line), "key_file = %s", key);
	assert_key(f, line, "error", "No such file", "install -m 600");
	tu_write_file(key, "sk-test\n");
	assert_int_equal(chmod(key, 0600), 0);
	assert_key(f, line, "ok", NULL, NULL);
	assert_int_equal(chmod(key, 0400), 0);
	assert_key(f, line, "ok", NULL, NULL);
	assert_int_equal(chmod(key, 0644), 0);
	assert_key(f, line, "error", "(mode 0644)", "chmod 600");
	assert_int_equal(chmod(key, 0600), 0);
	tu_write_file(key, "\n\n");
	assert_key(f, line, "error", "it is empty", NULL);
	tu_write_file(key, "sk-a\nsk-b\n");
	assert_key(f, line, "error", "more than one line", NULL);
}

static void
test_key_env_and_credential(void **state)
{
	struct fx *f = *state;
	char line[PATH_MAX];
	struct masterd_conf *c;
	json_t *found;
	char *why;

	unsetenv("SETUP_UNIT_KEY");
	assert_key(f, "key_env = SETUP_UNIT_KEY", "error", "is not set",
	    "EnvironmentFile=");
	setenv("SETUP_UNIT_KEY", "sk-unit", 1);
	assert_key(f, "key_env = SETUP_UNIT_KEY", "ok", NULL, NULL);
	unsetenv("SETUP_UNIT_KEY");

	unsetenv("CREDENTIALS_DIRECTORY");
	assert_key(f, "key_credential = api", "warning", "not checked",
	    "LoadCredential=api:");
	/* In the service, without it: an error, and the pause reason. */
	c = conf_with(f, "key_credential = api");
	found = setup_check_keys(c, false);
	assert_string_equal(json_string_value(json_object_get(only_key(found),
	    "level")), "error");
	assert_int_equal(setup_key_errors(found), 1);
	assert_int_equal(setup_install_errors(found), 0);
	why = setup_key_problem(found);
	assert_non_null(why);
	assert_true(strncmp(why, "setup: [llm] key (key_credential api;",
	    37) == 0);
	assert_non_null(strstr(why, "; fix: LoadCredential=api:"));
	free(why);
	json_decref(found);
	conf_free(c);

	setenv("CREDENTIALS_DIRECTORY", f->dir, 1);
	TU_JOIN(line, f->dir, "api");
	tu_write_file(line, "sk-cred\n");
	assert_key(f, "key_credential = api", "ok", NULL, NULL);
	unsetenv("CREDENTIALS_DIRECTORY");
}

static void
test_keys_once_each(void **state)
{
	struct fx *f = *state;
	struct masterd_conf *c;
	json_t *found;
	char *why;

	setenv("SETUP_UNIT_KEY", "sk-unit", 1);
	/* The critic and planner share [llm]'s key: one finding; the
	 * fallback's is its own. */
	c = conf_with(f, "key_env = SETUP_UNIT_KEY\nfallback = spare\n"
	    "[llm \"spare\"]\nkey_env = SETUP_UNIT_SPARE\n[critic]\nmodel = c\n");
	found = setup_check_keys(c, true);
	assert_int_equal(json_array_size(found), 2);
	assert_int_equal(setup_key_errors(found), 1);
	why = setup_key_problem(found);
	assert_non_null(strstr(why, "[llm \"spare\"] key (key_env "
	    "SETUP_UNIT_SPARE;"));
	free(why);
	json_decref(found);
	conf_free(c);
	unsetenv("SETUP_UNIT_KEY");
}

static void
test_no_key_public_endpoint(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX], *errors = NULL;
	struct masterd_conf *c = NULL;
	json_t *found;

	/* A local server needs no key; the public endpoint does. */
	unsetenv("OPENAI_API_KEY");
	assert_key(f, "", "ok", NULL, NULL);
	TU_JOIN(path, f->dir, "public.conf");
	tu_write_file(path, "[llm]\nmodel = m\n");
	if (conf_load(path, &c, &errors) != 0)
		fail_msg("conf: %s", errors);
	found = setup_check_keys(c, false);
	assert_string_equal(json_string_value(json_object_get(only_key(found),
	    "level")), "warning");
	assert_null(setup_key_problem(found));
	json_decref(found);
	conf_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_prompts_of_a_moved_prefix,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_prompts_of_a_build_tree,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_prompts_elsewhere, setup,
		    teardown),
		cmocka_unit_test(test_relocate_unmoved),
		cmocka_unit_test_setup_teardown(test_key_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_key_env_and_credential,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_once_each, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_key_public_endpoint,
		    setup, teardown),
	};

	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
