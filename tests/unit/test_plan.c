/*
 * test_plan.c — the planner's answers (child/worker/plan.c's plan_check)
 * and the files it is shown of a failing integration
 * (child/worker/attribute.c).
 *
 * Shapes: a plan and a review with and without integration checks (one
 * line each, 1-20, at most 1024 bytes), the reserved domain names, an
 * attribution (1-8 directives, each to one of the context's domains, text
 * non-empty).  Files: those the failing output names, first mentioned
 * first, a name inside a longer one not taken, the domains' interface
 * files unless already published, a big file cut with a note, the budget
 * and what it leaves out, a commit the repository lacks.
 */
#include "testutil.h"

#include <jansson.h>

#include "child/worker/plan.h"
#include "common/repo.h"

/* ------------------------------------------------------------ helpers */

static const char *const domains_ctx =
    "{\"domains\": [\"logic\", \"web\"]}";

static void
expect_ok(const char *kind, const char *text)
{
	json_t *v = tu_json(text), *ctx = tu_json(domains_ctx);
	char err[512] = "";

	if (plan_check(v, kind, ctx, err, sizeof(err)) != 0)
		fail_msg("%s refused: %s\n--- %s", kind, err, text);
	json_decref(v);
	json_decref(ctx);
}

static void
expect_err(const char *kind, const char *text, const char *want)
{
	json_t *v = tu_json(text), *ctx = tu_json(domains_ctx);
	char err[512] = "";

	if (plan_check(v, kind, ctx, err, sizeof(err)) != -1)
		fail_msg("%s accepted, wanted \"%s\"\n--- %s", kind, want,
		    text);
	if (strstr(err, want) == NULL)
		fail_msg("got \"%s\", wanted \"%s\"", err, want);
	json_decref(v);
	json_decref(ctx);
}

/* {"domains":[{"name":"a"}], "integration_checks": [n commands]} */
static char *
plan_with_checks(size_t n, size_t len)
{
	json_t *p = tu_json("{\"domains\": [{\"name\": \"a\"}]}");
	json_t *list = json_array();
	char *cmd = malloc(len + 1), *s;

	memset(cmd, 'x', len);
	cmd[len] = '\0';
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, json_string(cmd));
	json_object_set_new(p, "integration_checks", list);
	s = json_dumps(p, 0);
	json_decref(p);
	free(cmd);
	return s;
}

/* ------------------------------------------------------------ shapes */

/* A plan may ask the user instead of naming its domains. */
static void
test_plan_questions(void **state)
{
	(void)state;
	expect_ok("plan", "{\"questions\": [{\"text\": \"Which language?\","
	    " \"assumption\": \"Python\"}]}");
	expect_ok("plan", "{\"questions\": [{\"text\": \"Which?\"}],"
	    " \"domains\": [{\"name\": \"a\"}]}");
	/* No question, no domains: still a plan without its domains. */
	expect_ok("plan", "{\"questions\": [{\"text\": \"Which?\","
	    " \"timeout\": 3600}]}");
	expect_err("plan", "{\"questions\": [{\"text\": \"Which?\","
	    " \"timeout\": 0}]}", "questions[0].timeout");
	expect_err("plan", "{\"questions\": []}", "domains");
	expect_err("plan", "{\"questions\": [{\"assumption\": \"x\"}]}",
	    "questions[0].text");
	expect_err("plan", "{\"questions\": [{\"text\": \"\"}]}",
	    "questions[0].text");
	expect_err("plan", "{\"questions\": [{\"text\": \"a\"},"
	    " {\"text\": \"b\"}, {\"text\": \"c\"}, {\"text\": \"d\"},"
	    " {\"text\": \"e\"}, {\"text\": \"f\"}, {\"text\": \"g\"},"
	    " {\"text\": \"h\"}, {\"text\": \"i\"}]}", "questions");
}

static void
test_plan_shape(void **state)
{
	char *s;

	(void)state;
	expect_ok("plan", "{\"domains\": [{\"name\": \"a\"}]}");
	expect_ok("plan", "{\"domains\": [{\"name\": \"a\"}], "
	    "\"integration_checks\": [\"make -C a && ./a/run\"]}");
	expect_ok("plan", "{\"domains\": [{\"name\": \"a\"}], "
	    "\"integration_checks\": null}");
	s = plan_with_checks(20, 1024);
	expect_ok("plan", s);
	free(s);
	s = plan_with_checks(21, 10);
	expect_err("plan", s, "integration_checks: ");
	free(s);
	s = plan_with_checks(1, 1025);
	expect_err("plan", s, "integration_checks[0]: ");
	free(s);
	expect_err("plan", "{\"domains\": [{\"name\": \"a\"}], "
	    "\"integration_checks\": []}", "integration_checks: ");
	expect_err("plan", "{\"domains\": [{\"name\": \"a\"}], "
	    "\"integration_checks\": [\"\"]}", "integration_checks[0]: ");
	expect_err("plan", "{\"domains\": [{\"name\": \"a\"}], "
	    "\"integration_checks\": [\"ok\", \"make\\ntest\"]}",
	    "integration_checks[1]: must be one line");
	expect_err("plan", "{\"domains\": [{\"name\": \"a\"}], "
	    "\"integration_checks\": [3]}", "integration_checks[0]: ");
	expect_err("plan", "{\"domains\": [{\"name\": \"integration\"}]}",
	    "domains[0].name: must be");
	expect_err("plan", "{\"domains\": [{\"name\": \"planner\"}]}",
	    "domains[0].name: must be");
	expect_err("plan", "[]", "the plan must be a JSON object");
	/* A domain that owns an existing folder (issue #18). */
	expect_ok("plan", "{\"domains\": [{\"name\": \"api\", "
	    "\"folder\": \"server\"}]}");
	expect_err("plan", "{\"domains\": [{\"name\": \"api\", "
	    "\"folder\": \"\"}]}", "domains[0].folder");
}

static void
test_review_shape(void **state)
{
	(void)state;
	expect_ok("review", "{\"done\": true}");
	expect_ok("review", "{\"done\": false, \"directives\": [{\"domain\": "
	    "\"web\", \"text\": \"do it\"}], \"integration_checks\": "
	    "[\"curl -fsS http://127.0.0.1:8080/\"]}");
	expect_err("review", "{\"done\": false, \"integration_checks\": "
	    "[\"a\\rb\"]}", "integration_checks[0]: must be one line");
	expect_err("review", "{\"done\": false, \"domains\": [{\"name\": "
	    "\"integration\"}]}", "domains[0].name: ");
}

static void
test_attribute_shape(void **state)
{
	(void)state;
	expect_ok("attribute", "{\"reason\": \"web calls api.put\", "
	    "\"directives\": [{\"domain\": \"logic\", \"text\": "
	    "\"add put\"}]}");
	expect_ok("attribute", "{\"directives\": [{\"domain\": \"logic\", "
	    "\"text\": \"a\"}, {\"domain\": \"web\", \"text\": \"b\"}]}");
	expect_ok("attribute", "{\"directives\": [{\"domain\": \"web\", "
	    "\"text\": \"b\"}], \"reason\": null}");
	expect_err("attribute", "{\"reason\": \"x\"}", "directives: missing");
	expect_err("attribute", "{\"directives\": []}", "directives: ");
	expect_err("attribute", "{\"directives\": [{\"domain\": \"logic\", "
	    "\"text\": \"\"}]}", "directives[0].text: ");
	expect_err("attribute", "{\"directives\": [{\"domain\": \"web\", "
	    "\"text\": \"b\"}, {\"domain\": \"db\", \"text\": \"c\"}]}",
	    "directives[1].domain: \"db\" is not one of the task's domains");
	expect_err("attribute", "{\"directives\": [{\"domain\": \"web\", "
	    "\"text\": \"b\"}], \"reason\": 7}", "reason: ");
	expect_err("attribute", "{\"directives\": ["
	    "{\"domain\": \"web\", \"text\": \"1\"}, "
	    "{\"domain\": \"web\", \"text\": \"2\"}, "
	    "{\"domain\": \"web\", \"text\": \"3\"}, "
	    "{\"domain\": \"web\", \"text\": \"4\"}, "
	    "{\"domain\": \"web\", \"text\": \"5\"}, "
	    "{\"domain\": \"web\", \"text\": \"6\"}, "
	    "{\"domain\": \"web\", \"text\": \"7\"}, "
	    "{\"domain\": \"web\", \"text\": \"8\"}, "
	    "{\"domain\": \"web\", \"text\": \"9\"}]}", "directives: ");
	expect_err("attribute", "[\"logic\"]", "the attribute must be a "
	    "JSON object, not an array");
}

/* ------------------------------------------------------------ files */

struct fx {
	char	tmp[PATH_MAX];
	char	gitdir[PATH_MAX];
	char	commit[REPO_OID_HEX];
	char	err[512];
};

#define LOGIC_IFACE "{\"domain\": \"logic\", \"provides\": []}"
#define WEB_IFACE "{\"domain\": \"web\", \"consumes\": [\"api.put\"]}"

static void
put(const char *wt, const char *rel, const char *text)
{
	char path[PATH_MAX], *slash;

	tu_join(path, sizeof(path), wt, rel);
	for (slash = strchr(path + strlen(wt) + 1, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
		*slash = '/';
	}
	tu_write_file(path, text);
}

/* One domain's files committed and merged into main. */
static void
land(struct fx *f, const char *domain, const char *const *files)
{
	char wt[PATH_MAX], oid[REPO_OID_HEX], rel[64];

	snprintf(rel, sizeof(rel), "domains/%s", domain);
	tu_join(wt, sizeof(wt), f->tmp, rel);
	if (repo_worktree(f->gitdir, wt, domain, f->err, sizeof(f->err)) != 0)
		fail_msg("worktree: %s", f->err);
	for (; *files != NULL; files += 2)
		put(wt, files[0], files[1]);
	if (repo_commit(wt, domain, "c\n", oid, f->err, sizeof(f->err)) != 0 ||
	    repo_merge_domain(f->gitdir, domain, "m\n", f->commit, f->err,
	    sizeof(f->err)) != 0)
		fail_msg("commit: %s", f->err);
}

static int
setup(void **state)
{
	struct fx *f = tu_fixture(sizeof(*f), offsetof(struct fx, tmp));
	static char big[20001];
	const char *logic[] = { "logic/app.py", "def put(): pass\n",
	    "logic/util.py", "helper\n", "logic/.interface.json", LOGIC_IFACE,
	    NULL };
	const char *web[] = { "web/big.txt", big, "web/.interface.json",
	    WEB_IFACE, "web/page.html", "<p>\n", NULL };

	memset(big, 'b', sizeof(big) - 1);
	tu_join(f->gitdir, sizeof(f->gitdir), f->tmp, "repo.git");
	if (repo_init(f->gitdir, f->err, sizeof(f->err)) != 0)
		fail_msg("init: %s", f->err);
	land(f, "logic", logic);
	land(f, "web", web);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	tu_rmtree(f->tmp);
	free(f);
	return 0;
}

/* The context of an attribution of f's commit. */
static json_t *
context(struct fx *f, const char *output)
{
	json_t *c = json_pack("{s:s, s:[s, s], s:[{s:s, s:i, s:s, s:s}]}",
	    "commit", f->commit, "domains", "logic", "web", "failing",
	    "command", "python3 -m unittest", "exit_status", 1, "output",
	    output, "kind", "check");

	json_object_set_new(c, "interfaces", json_pack("[o]",
	    tu_json(LOGIC_IFACE)));
	return c;
}

static void
test_files_named(void **state)
{
	struct fx *f = *state;
	json_t *ctx = context(f, "reading web/big.txt\n  File "
	    "\"/srv/x/integration/logic/app.py\", line 1\nxlogic/util.py\n");
	char *s = attribute_files(f->gitdir, ctx, ATTRIBUTE_FILES_BUDGET);
	const char *big, *app, *web_iface;

	big = strstr(s, "### web/big.txt\n");
	app = strstr(s, "### logic/app.py\n\n```\ndef put(): pass\n```\n");
	web_iface = strstr(s, "### web/.interface.json\n\n```\n" WEB_IFACE
	    "\n```\n");
	if (big == NULL || app == NULL || web_iface == NULL)
		fail_msg("missing files:\n%s", s);
	assert_true(big < app && app < web_iface);
	assert_non_null(strstr(s, "[cut here: the first 16384 of its 20000 "
	    "bytes shown]"));
	/* Named only inside a longer name; published already; never named. */
	assert_null(strstr(s, "logic/util.py"));
	assert_null(strstr(s, "logic/.interface.json"));
	assert_null(strstr(s, "page.html"));
	assert_non_null(strstr(s, f->commit));
	free(s);
	json_decref(ctx);
}

static void
test_files_budget(void **state)
{
	struct fx *f = *state;
	json_t *ctx = context(f, "web/big.txt then logic/app.py");
	char *s = attribute_files(f->gitdir, ctx, 300);
	assert_non_null(strstr(s, "[cut here: the first 300 of its 20000 "
	    "bytes shown]"));
	assert_non_null(strstr(s, "Not shown, over the budget of 300 bytes: "
	    "logic/app.py logic/.interface.json web/.interface.json\n"));
	assert_null(strstr(s, "### logic/app.py"));
	free(s);
	json_decref(ctx);
}

static void
test_files_none(void **state)
{
	struct fx *f = *state;
	json_t *ctx = context(f, "segmentation fault");
	char *s = attribute_files(f->gitdir, ctx, ATTRIBUTE_FILES_BUDGET);

	assert_non_null(strstr(s, "No file of the commit is named"));
	assert_non_null(strstr(s, "### web/.interface.json"));
	free(s);
	json_object_set_new(ctx, "commit", json_string(
	    "0123456789abcdef0123456789abcdef01234567"));
	s = attribute_files(f->gitdir, ctx, ATTRIBUTE_FILES_BUDGET);
	assert_non_null(strstr(s, "could not be read: commit 0123456789abcdef"
	    "0123456789abcdef01234567 is not in the repository"));
	free(s);
	json_decref(ctx);
}

/* A domain that owns another folder: its interface is read there. */
static void
test_files_folder(void **state)
{
	struct fx *f = *state;
	const char *api[] = { "server/.interface.json",
	    "{\"domain\": \"api\"}", NULL };
	json_t *ctx = context(f, "segmentation fault");
	char *s;

	assert_int_equal(repo_set_folder(f->gitdir, "api", "server", f->err,
	    sizeof(f->err)), 0);
	land(f, "api", api);
	json_object_set_new(ctx, "commit", json_string(f->commit));
	json_array_append_new(json_object_get(ctx, "domains"),
	    json_string("api"));
	s = attribute_files(f->gitdir, ctx, ATTRIBUTE_FILES_BUDGET);
	assert_non_null(strstr(s, "### server/.interface.json"));
	assert_null(strstr(s, "api/.interface.json"));
	free(s);
	json_decref(ctx);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_shape),
		cmocka_unit_test(test_plan_questions),
		cmocka_unit_test(test_review_shape),
		cmocka_unit_test(test_attribute_shape),
		T(test_files_named),
		T(test_files_budget),
		T(test_files_none),
		T(test_files_folder),
	};
	int rc;

	tu_filter();
	repo_global_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	repo_global_shutdown();
	return rc;
}
