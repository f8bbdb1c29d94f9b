/*
 * test_critic.c — the critic's diff and its verdicts (child/worker/
 * critic.c, critic_diff.c).
 *
 * critic_fit_diff: a diff that fits is sent as it is; one that does not
 * becomes a summary of every file and the hunks that fit, each file's
 * first before any file's second, whole, with a note for the rest; a
 * hunk larger than all the room is shown as its first lines with a note;
 * a budget too small for the summary gets its first line; across every
 * budget the text stays within it and no hunk is cut but with a note.
 * critic_next: a verdict is read; an answer that is not one is asked for
 * again with what was wrong, CRITIC_MAX_ASKS times in all, then the
 * round has no verdict ("unreadable_verdict"), never an approval; a
 * failed, rate-limited or cancelled call ends as the round's error.
 * critic_ask against tests/llmd/llmd.py (skipped without python3): the
 * critic's own model ([critic] over [llm]), an answer asked for again in
 * the same session, a change far larger than the window summarised to
 * fit it, three unreadable answers, a failed call, a cancel, a missing
 * critic.md.
 */
#include "testutil.h"

#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <jansson.h>
#include <uv.h>

#include "child/worker/critic.h"
#include "child/worker/worker.h"
#include "common/config.h"
#include "common/llm/llm.h"
#include "common/repo.h"
#include "common/util.h"

/* ------------------------------------------------------------ diffs */

/* a.py: a small hunk and a larger one; b.py: one larger hunk. */
static const char TWO_FILES[] =
    "diff --git a/a.py b/a.py\n"
    "--- a/a.py\n"
    "+++ b/a.py\n"
    "@@ -1,2 +1,2 @@\n"
    " def one():\n"
    "-    return 0\n"
    "+    return 1\n"
    "@@ -20,2 +20,11 @@\n"
    " def two():\n"
    "-    return 1\n"
    "+    x = 1\n"
    "+    x = 2\n"
    "+    x = 3\n"
    "+    x = 4\n"
    "+    x = 5\n"
    "+    x = 6\n"
    "+    x = 7\n"
    "+    x = 8\n"
    "+    x = 9\n"
    "+    return x\n"
    "diff --git a/b.py b/b.py\n"
    "--- a/b.py\n"
    "+++ b/b.py\n"
    "@@ -5,2 +5,12 @@\n"
    " import a\n"
    "+print(a.one(), 1)\n"
    "+print(a.one(), 2)\n"
    "+print(a.one(), 3)\n"
    "+print(a.one(), 4)\n"
    "+print(a.one(), 5)\n"
    "+print(a.one(), 6)\n"
    "+print(a.one(), 7)\n"
    "+print(a.one(), 8)\n"
    "+print(a.one(), 9)\n"
    "+print(a.two())\n";

#define A_HEAD \
    "diff --git a/a.py b/a.py\n" \
    "--- a/a.py\n" \
    "+++ b/a.py\n"
#define A_HUNK1 \
    "@@ -1,2 +1,2 @@\n" \
    " def one():\n" \
    "-    return 0\n" \
    "+    return 1\n"
#define A_HUNK2 \
    "@@ -20,2 +20,11 @@\n" \
    " def two():\n" \
    "-    return 1\n" \
    "+    x = 1\n" \
    "+    x = 2\n" \
    "+    x = 3\n" \
    "+    x = 4\n" \
    "+    x = 5\n" \
    "+    x = 6\n" \
    "+    x = 7\n" \
    "+    x = 8\n" \
    "+    x = 9\n" \
    "+    return x\n"
#define B_ALL \
    "diff --git a/b.py b/b.py\n" \
    "--- a/b.py\n" \
    "+++ b/b.py\n" \
    "@@ -5,2 +5,12 @@\n" \
    " import a\n" \
    "+print(a.one(), 1)\n" \
    "+print(a.one(), 2)\n" \
    "+print(a.one(), 3)\n" \
    "+print(a.one(), 4)\n" \
    "+print(a.one(), 5)\n" \
    "+print(a.one(), 6)\n" \
    "+print(a.one(), 7)\n" \
    "+print(a.one(), 8)\n" \
    "+print(a.one(), 9)\n" \
    "+print(a.two())\n"

/* A binary file (a header, no hunk), a new file and a deleted one. */
static const char KINDS[] =
    "diff --git a/logo.png b/logo.png\n"
    "index 5555555..6666666 100644\n"
    "Binary files a/logo.png and b/logo.png differ\n"
    "diff --git a/new.txt b/new.txt\n"
    "new file mode 100644\n"
    "index 0000000..3333333\n"
    "--- /dev/null\n"
    "+++ b/new.txt\n"
    "@@ -0,0 +1,2 @@\n"
    "+hello\n"
    "+world\n"
    "diff --git a/old.txt b/old.txt\n"
    "deleted file mode 100644\n"
    "index 4444444..0000000\n"
    "--- a/old.txt\n"
    "+++ /dev/null\n"
    "@@ -1 +0,0 @@\n"
    "-bye\n";

/* One file, one hunk of 20 added lines. */
static char *
big_hunk(void)
{
	char *s = xstrdup("diff --git a/big.py b/big.py\n--- a/big.py\n"
	    "+++ b/big.py\n@@ -1,0 +1,20 @@\n"), *t;

	for (int i = 1; i <= 20; i++) {
		t = xasprintf("%s+line %02d\n", s, i);
		free(s);
		s = t;
	}
	return s;
}

static void
expect_fit(const char *diff, size_t budget, const char *want)
{
	char *got = critic_fit_diff(diff, budget);

	if (strcmp(got, want) != 0)
		fail_msg("budget %zu:\n--- got:\n%s--- wanted:\n%s", budget,
		    got, want);
	assert_true(strlen(got) <= budget || strlen(want) > budget);
	free(got);
}

/* ------------------------------------------------------------ fitting */

static void
test_fit_whole(void **state)
{
	char *big = big_hunk();

	(void)state;
	expect_fit(TWO_FILES, strlen(TWO_FILES), TWO_FILES);
	expect_fit(TWO_FILES, 1 << 20, TWO_FILES);
	expect_fit(KINDS, strlen(KINDS), KINDS);
	expect_fit(big, strlen(big), big);
	expect_fit("", 0, "");
	free(big);
}

/* Every file's first hunk before any file's second: b.py's one hunk
 * takes the room a.py's second would have had. */
static void
test_fit_first_hunks_first(void **state)
{
	(void)state;
	expect_fit(TWO_FILES, 500,
	    "2 files changed; shown: 2 of 3 hunks\n"
	    "a.py +11 -2\n"
	    "b.py +10 -0\n"
	    "\n"
	    A_HEAD A_HUNK1
	    "[hunks of a.py not shown: 1]\n"
	    B_ALL);
}

/* b.py's hunk does not fit: a.py's second still does, whole. */
static void
test_fit_later_hunks(void **state)
{
	(void)state;
	expect_fit(TWO_FILES, 400,
	    "2 files changed; shown: 2 of 3 hunks\n"
	    "a.py +11 -2\n"
	    "b.py +10 -0\n"
	    "\n"
	    A_HEAD A_HUNK1 A_HUNK2
	    "[hunks of b.py not shown: 1]\n");
	/* Room for a.py's first hunk only. */
	expect_fit(TWO_FILES, 300,
	    "2 files changed; shown: 1 of 3 hunks\n"
	    "a.py +11 -2\n"
	    "b.py +10 -0\n"
	    "\n"
	    A_HEAD A_HUNK1
	    "[hunks of a.py not shown: 1]\n"
	    "[hunks of b.py not shown: 1]\n");
}

/* Paths from "+++ b/", "--- a/" (a deletion) and "diff --git" (binary);
 * a header with no hunk is shown when it fits. */
static void
test_fit_kinds(void **state)
{
	(void)state;
	expect_fit(KINDS, strlen(KINDS) - 1,
	    "3 files changed; shown: 0 of 2 hunks\n"
	    "logo.png +0 -0\n"
	    "new.txt +2 -0\n"
	    "old.txt +0 -1\n"
	    "\n"
	    "diff --git a/logo.png b/logo.png\n"
	    "index 5555555..6666666 100644\n"
	    "Binary files a/logo.png and b/logo.png differ\n"
	    "[hunks of new.txt not shown: 1]\n"
	    "[hunks of old.txt not shown: 1]\n");
}

/* A hunk larger than all the room: its first lines, and a note. */
static void
test_fit_cut_hunk(void **state)
{
	char *big = big_hunk();

	(void)state;
	expect_fit(big, 251,
	    "1 file changed; shown: 0 of 1 hunks\n"
	    "big.py +20 -0\n"
	    "\n"
	    "diff --git a/big.py b/big.py\n"
	    "--- a/big.py\n"
	    "+++ b/big.py\n"
	    "@@ -1,0 +1,20 @@\n"
	    "+line 01\n"
	    "+line 02\n"
	    "+line 03\n"
	    "+line 04\n"
	    "[hunk of big.py cut: its first 4 of 20 lines shown]\n");
	/* Too little room for a line of it: the summary says it all. */
	expect_fit(big, 200,
	    "1 file changed; shown: 0 of 1 hunks\n"
	    "big.py +20 -0\n"
	    "\n"
	    "[hunks of big.py not shown: 1]\n");
	free(big);
}

/* The summary does not fit: its first line and the file lines that do. */
static void
test_fit_summary_only(void **state)
{
	(void)state;
	expect_fit(TWO_FILES, 100,
	    "2 files changed; shown: 0 of 3 hunks\n"
	    "a.py +11 -2\n"
	    "b.py +10 -0\n");
	expect_fit(TWO_FILES, 71,
	    "2 files changed; shown: 0 of 3 hunks\n"
	    "a.py +11 -2\n"
	    "[files not listed: 1]\n");
	expect_fit(TWO_FILES, 0,
	    "2 files changed; shown: 0 of 3 hunks\n"
	    "[files not listed: 2]\n");
}

/* The hunk of the input whose "@@" line is at; its length. */
static size_t
input_hunk(const char *diff, const char *line, size_t line_len)
{
	const char *at = strstr(diff, line), *end;

	assert_non_null(at);
	for (end = at + line_len; *end != '\0'; end = strchr(end, '\n') + 1)
		if (strncmp(end, "@@", 2) == 0 ||
		    strncmp(end, "diff --git ", 11) == 0)
			break;
	return (size_t)(end - at);
}

/* Each "@@" of out is followed by its whole hunk, or by a cut note. */
static void
assert_hunks_whole(const char *diff, const char *out, size_t budget)
{
	char line[128];

	for (const char *p = strstr(out, "\n@@"); p != NULL;
	    p = strstr(p + 1, "\n@@")) {
		size_t n = strcspn(p + 1, "\n") + 1, whole;
		const char *next;

		snprintf(line, sizeof(line), "%.*s", (int)n, p + 1);
		whole = input_hunk(diff, line, n);
		if (strncmp(p + 1, strstr(diff, line), whole) == 0)
			continue;
		next = strstr(p + 1, "\n[hunk of ");
		if (next == NULL || strstr(next, " cut: ") == NULL)
			fail_msg("budget %zu: hunk %s cut without a note:\n%s",
			    budget, line, out);
	}
}

static void
check_every_budget(const char *diff)
{
	size_t len = strlen(diff);

	for (size_t budget = 0; budget <= len + 8; budget++) {
		char *out = critic_fit_diff(diff, budget);
		size_t first = strcspn(out, "\n") + 1;
		/* Below this, the first line and one note are all there is. */
		size_t least = first + sizeof("[files not listed: 99]");

		if (budget >= len)
			assert_string_equal(out, diff);
		else if (strlen(out) > budget && strlen(out) > least)
			fail_msg("budget %zu: %zu bytes:\n%s", budget,
			    strlen(out), out);
		assert_hunks_whole(diff, out, budget);
		free(out);
	}
}

static void
test_fit_every_budget(void **state)
{
	char *big = big_hunk();

	(void)state;
	check_every_budget(TWO_FILES);
	check_every_budget(KINDS);
	check_every_budget(big);
	free(big);
}

/* ------------------------------------------------------------ verdicts */

static struct llm_result
answer(const char *text)
{
	struct llm_result r = {
		.ok = true, .text = text, .text_len = strlen(text),
		.model = "", .finish = "stop", .code = "", .message = "",
	};

	return r;
}

static void
test_next_verdicts(void **state)
{
	struct llm_result r = answer("```json\n{\"complete\": false, "
	    "\"feedback\": \"no test for two()\"}\n```");
	struct critic_verdict v;
	char *text;

	(void)state;
	assert_int_equal(critic_next(&r, 1, &v, &text), CRITIC_STEP_DONE);
	assert_true(v.ok);
	assert_false(v.complete);
	assert_string_equal(v.feedback, "no test for two()");
	assert_null(v.code);
	free(text);

	/* Read on the last ask too. */
	r = answer("{\"complete\": true}");
	assert_int_equal(critic_next(&r, CRITIC_MAX_ASKS, &v, &text),
	    CRITIC_STEP_DONE);
	assert_true(v.ok);
	assert_true(v.complete);
	assert_string_equal(v.feedback, "");
	assert_null(text);
}

/* Not a verdict: asked again, saying why, until the asks run out; then
 * no verdict, and never an approval. */
static void
test_next_unreadable(void **state)
{
	struct llm_result r = answer("Looks good to me.");
	struct critic_verdict v;
	char *text;

	(void)state;
	for (unsigned ask = 1; ask < CRITIC_MAX_ASKS; ask++) {
		assert_int_equal(critic_next(&r, ask, &v, &text),
		    CRITIC_STEP_ASK);
		assert_string_equal(text, "Your answer was not a verdict: the "
		    "verdict is not JSON: no JSON object found in the text. "
		    "Answer with one JSON object {\"complete\": true or "
		    "false, \"feedback\": \"what is missing or wrong\"}.");
		assert_false(v.ok);
		free(text);
	}
	assert_int_equal(critic_next(&r, CRITIC_MAX_ASKS, &v, &text),
	    CRITIC_STEP_DONE);
	assert_false(v.ok);
	assert_false(v.complete);
	assert_string_equal(v.code, "unreadable_verdict");
	assert_string_equal(v.message, "the critic gave no verdict in 3 asks: "
	    "the verdict is not JSON: no JSON object found in the text");
	free(text);

	/* JSON, but not a verdict's. */
	r = answer("{\"complete\": \"yes\"}");
	assert_int_equal(critic_next(&r, 1, &v, &text), CRITIC_STEP_ASK);
	assert_string_equal(text, "Your answer was not a verdict: complete: "
	    "must be true or false, not a string. Answer with one JSON "
	    "object {\"complete\": true or false, \"feedback\": \"what is "
	    "missing or wrong\"}.");
	free(text);
}

/* Cut at the length limit: said so, and asked to be brief. */
static void
test_next_truncated(void **state)
{
	struct llm_result r = answer("{\"complete\": false, \"feedback\": "
	    "\"the first of many problems is");
	struct critic_verdict v;
	char *text;

	(void)state;
	r.truncated = true;
	r.finish = "length";
	assert_int_equal(critic_next(&r, 1, &v, &text), CRITIC_STEP_ASK);
	assert_string_equal(text, "Your answer was not a verdict: it was cut "
	    "at the length limit. Answer with one JSON object {\"complete\": "
	    "true or false, \"feedback\": \"what is missing or wrong\"}, and "
	    "keep the feedback short.");
	free(text);
}

static void
test_next_failures(void **state)
{
	struct llm_result r = {
		.ok = false, .text = "", .model = "", .finish = "",
		.code = "", .message = "HTTP 500: upstream down",
		.error = LLM_ERR_HTTP,
	};
	struct critic_verdict v;
	char *text;

	(void)state;
	assert_int_equal(critic_next(&r, 1, &v, &text), CRITIC_STEP_DONE);
	assert_false(v.ok);
	assert_string_equal(v.code, "model");
	assert_string_equal(v.message, "HTTP 500: upstream down");
	assert_int_equal(v.error, LLM_ERR_HTTP);
	/* The message is the verdict's own, not the result's. */
	assert_ptr_equal(v.message, text);
	free(text);

	r.error = LLM_ERR_RATE_LIMITED;
	r.message = "429: slow down";
	r.retry_until = 1800000000;
	assert_int_equal(critic_next(&r, 2, &v, &text), CRITIC_STEP_DONE);
	assert_string_equal(v.code, "provider_down");
	assert_string_equal(v.message, "429: slow down");
	assert_int_equal(v.retry_until, 1800000000);
	free(text);

	r.error = LLM_ERR_CANCELLED;
	r.message = "cancelled";
	assert_int_equal(critic_next(&r, 1, &v, &text), CRITIC_STEP_DONE);
	assert_false(v.ok);
	assert_string_equal(v.code, "cancelled");
	assert_string_equal(v.message, "cancelled by masterd");
	assert_null(text);
}

/* ------------------------------------------------------------ asking */

#define KEY_VAR		"MASTERD_TEST_CRITIC_KEY"
#define KEY		"sk-critic-test-5e6f7a8b9c0d"
#define ASK_LIMIT_MS	30000

extern char **environ;

/*
 * The worker's channel to its relay lives in its main.c, which a test
 * cannot link (it has a main of its own); prompt.c reaches it through
 * context.c.  No message goes anywhere here.
 */
void
worker_progress(struct worker *cx, const char *stage, const char *text)
{
	(void)cx;
	(void)stage;
	(void)text;
}

/* The critic's provider reports (failover.c) go nowhere either. */
json_int_t
worker_next_id(struct worker *cx)
{
	(void)cx;
	return 1;
}

int
worker_send(struct worker *cx, json_t *msg)
{
	(void)cx;
	json_decref(msg);
	return 0;
}

/* llmd on 127.0.0.1, serving script; its dir holds the record. */
struct srv {
	pid_t pid;
	char dir[PATH_MAX];
	char record[PATH_MAX];
	char base[64];
};

static void
srv_start(struct srv *v, const char *script)
{
	const char *top = getenv("MASTERD_TOP");
	char llmd[PATH_MAX], sfile[PATH_MAX], pfile[PATH_MAX];
	char *argv[] = { "python3", llmd, "--script", sfile, "--record",
	    v->record, "--port-file", pfile, "--max-lifetime", "120", NULL };
	char *text = NULL;
	uint64_t deadline;
	int port;

	memset(v, 0, sizeof(*v));
	if (!tu_on_path("python3"))
		skip();
	snprintf(llmd, sizeof(llmd), "%s/tests/llmd/llmd.py",
	    top != NULL && *top != '\0' ? top : ".");
	if (access(llmd, R_OK) != 0)
		skip();
	tu_mkdtemp(v->dir, sizeof(v->dir));
	tu_join(sfile, sizeof(sfile), v->dir, "script.json");
	tu_join(pfile, sizeof(pfile), v->dir, "port");
	tu_join(v->record, sizeof(v->record), v->dir, "record.jsonl");
	tu_write_file(sfile, script);
	/* No LLMD_API_KEY in the environment: any key is taken. */
	unsetenv("LLMD_API_KEY");
	assert_int_equal(posix_spawnp(&v->pid, "python3", NULL, NULL, argv,
	    environ), 0);
	for (deadline = tu_mono_ms() + 10000; tu_mono_ms() < deadline;
	    tu_pause_ms(10)) {
		if ((text = tu_read_file(pfile)) != NULL &&
		    strchr(text, '\n') != NULL)
			break;
		free(text);
		text = NULL;
	}
	assert_non_null(text);
	port = atoi(text);
	free(text);
	assert_true(port > 0);
	snprintf(v->base, sizeof(v->base), "http://127.0.0.1:%d/v1", port);
}

static void
srv_stop(struct srv *v)
{
	int st;

	if (v->pid > 0) {
		kill(v->pid, SIGTERM);
		waitpid(v->pid, &st, 0);
	}
	if (v->dir[0] != '\0')
		tu_rmtree(v->dir);
}

/* The recorded API requests, in order. */
static json_t *
srv_requests(struct srv *v)
{
	json_t *all = json_array(), *line;
	FILE *f = fopen(v->record, "r");
	char *buf = NULL;
	size_t cap = 0;

	assert_non_null(f);
	while (getline(&buf, &cap, f) > 0) {
		line = json_loads(buf, 0, NULL);
		assert_non_null(line);
		if (json_object_get(line, "event") != NULL)
			json_decref(line);
		else
			json_array_append_new(all, line);
	}
	free(buf);
	fclose(f);
	return all;
}

/* A worker as critic_ask sees it: configuration, engine, prompts, the
 * task; its worktree does not exist, so the diff is "(no change)". */
struct live {
	uv_loop_t loop;
	struct worker cx;
	struct srv srv;
	char dir[PATH_MAX];
	/* what done() saw */
	bool done;
	int calls;
	struct critic_verdict v;
	char feedback[256], model[64], code[64], message[256];
};

static int
live_setup(void **state)
{
	struct live *l = calloc(1, sizeof(*l));

	assert_non_null(l);
	assert_int_equal(uv_loop_init(&l->loop), 0);
	l->cx.loop = &l->loop;
	l->cx.engine = llm_engine_new(&l->loop);
	assert_non_null(l->cx.engine);
	l->cx.domain = "calc";
	l->cx.assign = json_pack("{s:s}", "text", "Build a calculator.");
	tu_mkdtemp(l->dir, sizeof(l->dir));
	l->cx.prompts_dir = l->dir;
	l->cx.worktree = "/nonexistent/masterd-test/worktree";
	setenv(KEY_VAR, KEY, 1);
	*state = l;
	return 0;
}

static int
live_teardown(void **state)
{
	struct live *l = *state;

	llm_engine_free(l->cx.engine);
	uv_run(&l->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&l->loop), 0);
	conf_free(l->cx.conf);
	json_decref(l->cx.assign);
	srv_stop(&l->srv);
	tu_rmtree(l->dir);
	unsetenv(KEY_VAR);
	free(l);
	return 0;
}

/* llmd with script; [llm] (the domains') and [critic] aimed at it. */
static void
live_start(struct live *l, const char *script)
{
	char path[PATH_MAX], *text, *errs = NULL;

	srv_start(&l->srv, script);
	tu_join(path, sizeof(path), l->dir, "critic.md");
	tu_write_file(path, "You review one change. Answer with a verdict.");
	text = xasprintf("[llm]\nprovider = chat\nbase_url = %s\n"
	    "model = domain-model\ncontext_tokens = 8192\nmax_tokens = 512\n"
	    "key_env = %s\n[critic]\nmodel = critic-model\nstream = no\n",
	    l->srv.base, KEY_VAR);
	tu_join(path, sizeof(path), l->dir, "masterd.conf");
	tu_write_file(path, text);
	free(text);
	if (conf_load(path, &l->cx.conf, &errs) != 0)
		fail_msg("configuration: %s", errs);
}

static void
on_verdict(const struct critic_verdict *v, void *arg)
{
	struct live *l = arg;

	l->done = true;
	l->calls++;
	l->v = *v;
	/* The verdict's strings live until done returns. */
	snprintf(l->feedback, sizeof(l->feedback), "%s", v->feedback);
	snprintf(l->model, sizeof(l->model), "%s", v->model);
	snprintf(l->code, sizeof(l->code), "%s", v->code ? v->code : "");
	snprintf(l->message, sizeof(l->message), "%s",
	    v->message ? v->message : "");
}

static void
on_limit(uv_timer_t *timer)
{
	*(bool *)timer->data = true;
}

static void
ask_and_wait(struct live *l)
{
	json_t *directive = json_pack("{s:s}", "text", "Add sub().");
	json_t *checks = json_array();
	const char *code = NULL;
	struct critic *c;
	uv_timer_t limit;
	bool expired = false;
	char err[256];

	c = critic_ask(&l->cx, directive, checks, on_verdict, l, &code, err,
	    sizeof(err));
	if (c == NULL)
		fail_msg("critic_ask: %s: %s", code, err);
	/* Not before critic_ask returned. */
	assert_false(l->done);
	uv_timer_init(&l->loop, &limit);
	limit.data = &expired;
	uv_timer_start(&limit, on_limit, ASK_LIMIT_MS, 0);
	while (!l->done && !expired)
		uv_run(&l->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&limit, NULL);
	uv_run(&l->loop, UV_RUN_NOWAIT);
	assert_true(l->done);
	assert_int_equal(l->calls, 1);
	json_decref(directive);
	json_decref(checks);
}

/* The text of the request's last user message (chat). */
static const char *
last_user(json_t *req)
{
	json_t *msgs = json_object_get(json_object_get(req, "body"),
	    "messages");

	return json_string_value(json_object_get(json_array_get(msgs,
	    json_array_size(msgs) - 1), "content"));
}

#define REASK "Your answer was not a verdict: the verdict is not JSON: no " \
	"JSON object found in the text. Answer with one JSON object " \
	"{\"complete\": true or false, \"feedback\": \"what is missing or " \
	"wrong\"}."

/* A prose answer, asked again in the same session, then a verdict: on
 * the critic's model, not the domain's. */
static void
test_ask_again_then_verdict(void **state)
{
	struct live *l = *state;
	json_t *reqs, *msgs;

	live_start(l, "[{\"match\": {\"system_contains\": \"You review one "
	    "change\"}, \"reply\": {\"texts\": [\"Looks fine to me.\", "
	    "{\"complete\": false, \"feedback\": \"sub() has no test\"}]}}]");
	ask_and_wait(l);
	assert_true(l->v.ok);
	assert_false(l->v.complete);
	assert_string_equal(l->feedback, "sub() has no test");
	assert_string_equal(l->model, "critic-model");
	assert_int_equal(l->v.usage.calls, 2);
	assert_true(l->v.usage.input > 0 && l->v.usage.output > 0);

	reqs = srv_requests(&l->srv);
	assert_int_equal(json_array_size(reqs), 2);
	for (size_t i = 0; i < 2; i++)
		assert_string_equal(json_string_value(json_object_get(
		    json_object_get(json_array_get(reqs, i), "body"),
		    "model")), "critic-model");
	assert_non_null(strstr(last_user(json_array_get(reqs, 0)),
	    "# The directive given to domain calc\n\nAdd sub()."));
	assert_non_null(strstr(last_user(json_array_get(reqs, 0)),
	    "```diff\n(no change)\n```"));
	/* The same session: the first turn and its answer, then the ask. */
	assert_string_equal(last_user(json_array_get(reqs, 1)), REASK);
	msgs = json_object_get(json_object_get(json_array_get(reqs, 1),
	    "body"), "messages");
	assert_int_equal(json_array_size(msgs), 4);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(msgs, 2), "content")), "Looks fine to me.");
	json_decref(reqs);
}

/*
 * A change far larger than the critic's window (8192 tokens, 512 of them
 * for the answer): the request carries the summary and the hunks that
 * fit, fits the window, and the verdict is read.
 */
static void
test_ask_large_change(void **state)
{
	struct live *l = *state;
	char gitdir[PATH_MAX], wt[PATH_MAX], file[PATH_MAX + 32], err[256];
	const char *turn;
	json_t *reqs;
	FILE *f;

	live_start(l, "[{\"match\": {\"system_contains\": \"You review one "
	    "change\"}, \"reply\": {\"json\": {\"complete\": true, "
	    "\"feedback\": \"\"}}}]");
	tu_join(gitdir, sizeof(gitdir), l->dir, "repo.git");
	tu_join(wt, sizeof(wt), l->dir, "calc-wt");
	if (repo_init(gitdir, err, sizeof(err)) != 0 ||
	    repo_worktree(gitdir, wt, "calc", err, sizeof(err)) != 0)
		fail_msg("repository: %s", err);
	/* 40 files of 3,000 lines each: about 1 MiB of diff. */
	snprintf(file, sizeof(file), "%s/calc", wt);
	assert_true(mkdir(file, 0755) == 0 || errno == EEXIST);
	for (int i = 0; i < 40; i++) {
		snprintf(file, sizeof(file), "%s/calc/mod%02d.py", wt, i);
		assert_non_null(f = fopen(file, "w"));
		for (int n = 0; n < 3000; n++)
			fprintf(f, "value_%d_%d = %d\n", i, n, n);
		fclose(f);
	}
	l->cx.worktree = wt;
	ask_and_wait(l);
	assert_true(l->v.ok);
	assert_true(l->v.complete);

	reqs = srv_requests(&l->srv);
	assert_int_equal(json_array_size(reqs), 1);
	turn = last_user(json_array_get(reqs, 0));
	assert_non_null(strstr(turn, "```diff\n40 files changed; shown: "));
	assert_non_null(strstr(turn, "\ncalc/mod39.py +3000 -0\n"));
	assert_non_null(strstr(turn, "[hunks of calc/mod39.py not shown: 1]"));
	/* Within what a request may hold: (8192 - 512) tokens of 3 bytes. */
	assert_true(strlen(turn) < (8192 - 512) * 3);
	json_decref(reqs);
}

/* Never a verdict: three asks, then none, and not an approval. */
static void
test_ask_unreadable(void **state)
{
	struct live *l = *state;
	json_t *reqs;

	live_start(l, "[{\"match\": {\"system_contains\": \"You review one "
	    "change\"}, \"reply\": {\"text\": \"All good, ship it!\"}}]");
	ask_and_wait(l);
	assert_false(l->v.ok);
	assert_false(l->v.complete);
	assert_string_equal(l->code, "unreadable_verdict");
	assert_string_equal(l->message, "the critic gave no verdict in 3 "
	    "asks: the verdict is not JSON: no JSON object found in the text");
	assert_string_equal(l->model, "critic-model");
	assert_int_equal(l->v.usage.calls, CRITIC_MAX_ASKS);
	reqs = srv_requests(&l->srv);
	assert_int_equal(json_array_size(reqs), CRITIC_MAX_ASKS);
	assert_string_equal(last_user(json_array_get(reqs, 2)), REASK);
	json_decref(reqs);
}

/* A failed call ends the critic with the call's error. */
static void
test_ask_model_error(void **state)
{
	struct live *l = *state;

	live_start(l, "[{\"match\": {\"system_contains\": \"You review one "
	    "change\"}, \"reply\": {\"text\": \"x\"}, \"fault\": "
	    "{\"status\": 400}}]");
	ask_and_wait(l);
	assert_false(l->v.ok);
	assert_string_equal(l->code, "model");
	assert_int_equal(l->v.error, LLM_ERR_HTTP);
	assert_string_equal(l->model, "");
}

/* Cancelled at once: done follows, cancelled, from critic_cancel. */
static void
test_ask_cancel(void **state)
{
	struct live *l = *state;
	json_t *directive = json_pack("{s:s}", "text", "Add sub().");
	const char *code = NULL;
	struct critic *c;
	char err[256];

	live_start(l, "[{\"match\": {\"system_contains\": \"You review one "
	    "change\"}, \"reply\": {\"text\": \"x\"}, \"fault\": "
	    "{\"delay\": 5}}]");
	c = critic_ask(&l->cx, directive, NULL, on_verdict, l, &code, err,
	    sizeof(err));
	assert_non_null(c);
	assert_false(l->done);
	critic_cancel(c);
	assert_true(l->done);
	assert_int_equal(l->calls, 1);
	assert_false(l->v.ok);
	assert_string_equal(l->code, "cancelled");
	json_decref(directive);
}

/* No critic.md: the round's "config" error, before any call. */
static void
test_ask_no_prompt(void **state)
{
	struct live *l = *state;
	json_t *directive = json_pack("{s:s}", "text", "Add sub().");
	const char *code = NULL;
	char err[256] = "", path[PATH_MAX];

	live_start(l, "[]");
	tu_join(path, sizeof(path), l->dir, "critic.md");
	unlink(path);
	assert_null(critic_ask(&l->cx, directive, NULL, on_verdict, l, &code,
	    err, sizeof(err)));
	assert_string_equal(code, "config");
	assert_non_null(strstr(err, "critic.md"));
	assert_false(l->done);
	json_decref(directive);
}

#define LIVE(f)	cmocka_unit_test_setup_teardown(f, live_setup, live_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fit_whole),
		cmocka_unit_test(test_fit_first_hunks_first),
		cmocka_unit_test(test_fit_later_hunks),
		cmocka_unit_test(test_fit_kinds),
		cmocka_unit_test(test_fit_cut_hunk),
		cmocka_unit_test(test_fit_summary_only),
		cmocka_unit_test(test_fit_every_budget),
		cmocka_unit_test(test_next_verdicts),
		cmocka_unit_test(test_next_unreadable),
		cmocka_unit_test(test_next_truncated),
		cmocka_unit_test(test_next_failures),
		LIVE(test_ask_again_then_verdict),
		LIVE(test_ask_large_change),
		LIVE(test_ask_unreadable),
		LIVE(test_ask_model_error),
		LIVE(test_ask_cancel),
		LIVE(test_ask_no_prompt),
	};
	int rc;

	tu_filter();
	util_init();
	llm_global_init();
	repo_global_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	repo_global_shutdown();
	llm_global_cleanup();
	return rc;
}
