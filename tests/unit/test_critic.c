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
 */
#include "testutil.h"

#include <jansson.h>

#include "child/worker/critic.h"
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
	assert_string_equal(v.code, "rate_limited");
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
	};

	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
