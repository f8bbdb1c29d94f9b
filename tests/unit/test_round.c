/*
 * test_round.c — whole rounds of a directive driven through round.c's
 * state machine with canned answers: fake round_ops record what the
 * machine asks for, and each test completes the model's, the checks' and
 * the critic's calls itself.  No server, no process, no clock.
 */
#include "testutil.h"

#include <stdarg.h>

#include <jansson.h>

#include "child/worker/answer.h"
#include "child/worker/round.h"
#include "common/util.h"

#define ANSWER_OK \
	"{\"summary\": \"add the app\", \"files\": [{\"path\": \"app.py\"," \
	" \"content\": \"print(1)\\n\"}], \"interface\": {\"domain\": " \
	"\"web\", \"summary\": \"the web\", \"consumes\": [], \"provides\": " \
	"[{\"name\": \"b\", \"kind\": \"function\", \"signature\": \"() -> " \
	"ok\"}, {\"name\": \"a\", \"kind\": \"function\", \"signature\": " \
	"\"() -> ok\"}]}}"
#define ANSWER_PLAIN \
	"{\"summary\": \"fix it\", \"files\": [{\"path\": \"app.py\"," \
	" \"content\": \"print(2)\\n\"}]}"
#define VERDICT_COMPLETE "{\"complete\": true}"
#define VERDICT_INCOMPLETE \
	"{\"complete\": false, \"feedback\": \"no tests\"}"

enum pending { NONE, MODEL, CHECKS, CRITIC };

struct fake {
	enum pending pending;
	int asks, applies, checks, critics, commits, rollbacks, cancels;
	int checks_rc;			/* what run_checks answers */
	int tools_run, drops;
	bool asked_results_only;	/* the last ask had no text */
	json_t *results;		/* every tool result kept */
	int commit_rc;			/* what commit answers */
	char *refuse;			/* apply_files refuses with this */
	char *last_turn;
	char *commit_message;
	json_t *committed_iface;
	json_t *published;
	json_t *declared;		/* the last declared interface */
	int declares;			/* declared publishes */
	int checks_at_declare;		/* checks started before it */
	int commits_at_declare;		/* commits made before it */
	json_t *reports;		/* every round body sent */
	uint64_t now;
	bool done;
};

/* ---------------------------------------------------------- fake ops */

static struct fake *
fake_of(struct round *r)
{
	return r->arg;
}

static int
fake_ask_model(struct round *r, const char *text)
{
	struct fake *f = fake_of(r);

	assert_int_equal(f->pending, NONE);
	f->asks++;
	free(f->last_turn);
	f->last_turn = text != NULL ? xstrdup(text) : NULL;
	f->asked_results_only = text == NULL;
	f->pending = MODEL;
	return 0;
}

static char *
fake_run_tool(struct round *r, const struct llm_tool_call *c,
    bool *is_error)
{
	struct fake *f = fake_of(r);

	f->tools_run++;
	*is_error = strcmp(c->name, "edit_file") == 0 &&
	    strstr(c->arguments, "missing") != NULL;
	return xasprintf("%s says %s", c->name, *is_error ? "no" : "yes");
}

static void
fake_tool_result(struct round *r, const struct llm_tool_call *c,
    const char *content, bool is_error)
{
	json_array_append_new(fake_of(r)->results, json_pack("{s:s, s:s, "
	    "s:s, s:b}", "id", c->id, "name", c->name, "content", content,
	    "error", is_error));
}

static char *
fake_drop_tools(struct round *r)
{
	fake_of(r)->drops++;
	return xstrdup("the JSON first turn");
}

static char *
fake_apply_files(struct round *r, const struct answer *a)
{
	struct fake *f = fake_of(r);

	f->applies++;
	assert_true(a->nfiles > 0);
	return f->refuse != NULL ? xstrdup(f->refuse) : NULL;
}

static int
fake_run_checks(struct round *r, const struct answer *a)
{
	struct fake *f = fake_of(r);

	(void)a;
	f->checks++;
	if (f->checks_rc == 0)
		f->pending = CHECKS;
	return f->checks_rc;
}

static int
fake_ask_critic(struct round *r, const json_t *checks, const char **code,
    char *err, size_t errlen)
{
	struct fake *f = fake_of(r);

	(void)checks; (void)code; (void)err; (void)errlen;
	f->critics++;
	f->pending = CRITIC;
	return 0;
}

static int
fake_commit(struct round *r, const char *message, const json_t *iface,
    char oid[REPO_OID_HEX], char *err, size_t errlen)
{
	struct fake *f = fake_of(r);

	f->commits++;
	free(f->commit_message);
	f->commit_message = xstrdup(message);
	json_decref(f->committed_iface);
	f->committed_iface = iface != NULL ? json_incref((json_t *)iface) :
	    NULL;
	if (f->commit_rc < 0)
		snprintf(err, errlen, "disk full");
	else
		snprintf(oid, REPO_OID_HEX, "%040d", 7);
	return f->commit_rc;
}

static void
fake_roll_back(struct round *r, const char *why)
{
	(void)why;
	fake_of(r)->rollbacks++;
}

static void
fake_publish(struct round *r, const json_t *iface, bool declared)
{
	struct fake *f = fake_of(r);

	if (declared) {
		json_decref(f->declared);
		f->declared = json_incref((json_t *)iface);
		f->declares++;
		f->checks_at_declare = f->checks;
		f->commits_at_declare = f->commits;
		return;
	}
	json_decref(f->published);
	f->published = json_incref((json_t *)iface);
}

static void
fake_report(struct round *r, json_t *body)
{
	struct fake *f = fake_of(r);

	assert_false(f->done);
	json_array_append_new(f->reports, body);
}

static void
fake_cancel(struct round *r)
{
	fake_of(r)->cancels++;
}

static void
fake_progress(struct round *r, const char *stage, const char *text)
{
	(void)r; (void)stage; (void)text;
}

static uint64_t
fake_now(struct round *r)
{
	return fake_of(r)->now;
}

static void
fake_done(struct round *r)
{
	fake_of(r)->done = true;
}

static const struct round_ops fake_ops = {
	.ask_model = fake_ask_model,
	.run_tool = fake_run_tool,
	.tool_result = fake_tool_result,
	.drop_tools = fake_drop_tools,
	.apply_files = fake_apply_files,
	.run_checks = fake_run_checks,
	.ask_critic = fake_ask_critic,
	.commit = fake_commit,
	.roll_back = fake_roll_back,
	.publish = fake_publish,
	.report = fake_report,
	.cancel = fake_cancel,
	.progress = fake_progress,
	.now_ms = fake_now,
	.done = fake_done,
};

/* ---------------------------------------------------------- fixture */

struct fixture {
	struct fake fake;
	struct round *r;
};

static int
setup_mode(void **state, bool tools)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));
	struct round_limits lim = { .max_rounds = 3, .max_invalid = 2,
	    .max_calls = 4 };

	fx->fake.reports = json_array();
	fx->fake.results = json_array();
	fx->fake.checks_rc = 0;
	fx->fake.now = 1000;
	fx->r = round_new(&fake_ops, &fx->fake, &lim, "web", 9, 42,
	    "Build the web app", tools);
	*state = fx;
	return 0;
}

static int
setup(void **state)
{
	return setup_mode(state, false);
}

static int
setup_tools(void **state)
{
	return setup_mode(state, true);
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	round_free(fx->r);
	free(fx->fake.refuse);
	free(fx->fake.last_turn);
	free(fx->fake.commit_message);
	json_decref(fx->fake.committed_iface);
	json_decref(fx->fake.published);
	json_decref(fx->fake.declared);
	json_decref(fx->fake.reports);
	json_decref(fx->fake.results);
	free(fx);
	return 0;
}

static void
start(struct fixture *fx)
{
	round_start(fx->r, xstrdup("first turn"));
	assert_int_equal(fx->fake.pending, MODEL);
	assert_string_equal(fx->fake.last_turn, "first turn");
}

/* The critic's text, read as critic.c reads it. */
static void
verdict(struct fixture *fx, const char *text)
{
	struct critic_verdict v = { .model = "critic-test", .message = "" };
	char err[256], *feedback = NULL;

	v.usage.calls = 1;
	if (verdict_parse(text, &v.complete, &feedback, err,
	    sizeof(err)) == 0) {
		v.ok = true;
		v.feedback = feedback != NULL ? feedback : "";
	} else {
		v.code = "unreadable_verdict";
		v.message = err;
		v.error = LLM_ERR_PARSE;
	}
	round_verdict(fx->r, &v);
	free(feedback);
}

/* The model (or the critic) answers text. */
static void
reply(struct fixture *fx, enum pending who, const char *text)
{
	struct llm_result res = { .ok = true, .text = text,
	    .text_len = strlen(text), .message = "" };

	res.usage.input = 100;
	res.usage.output = 10;
	res.usage.calls = 1;
	assert_int_equal(fx->fake.pending, who);
	fx->fake.pending = NONE;
	fx->fake.now += 5;
	if (who == MODEL)
		round_answer(fx->r, &res);
	else
		verdict(fx, text);
}

/* The model calls tools: names and arguments in pairs, n of them. */
static void
call(struct fixture *fx, bool truncated, size_t n, ...)
{
	struct llm_tool_call calls[8];
	struct llm_result res = { .ok = true, .text = "", .message = "",
	    .model = "gpt-test", .calls = calls, .ncalls = n,
	    .truncated = truncated };
	char ids[8][16];
	va_list ap;

	assert_true(n <= 8);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++) {
		snprintf(ids[i], sizeof(ids[i]), "call_%zu", i);
		calls[i].id = ids[i];
		calls[i].name = va_arg(ap, char *);
		calls[i].arguments = va_arg(ap, char *);
	}
	va_end(ap);
	res.usage.calls = 1;
	assert_int_equal(fx->fake.pending, MODEL);
	fx->fake.pending = NONE;
	round_answer(fx->r, &res);
}

/* Tool result i: its tool, its error flag and a piece of its text. */
static void
result_is(const struct fixture *fx, size_t i, const char *name, bool error,
    const char *piece)
{
	const json_t *o = json_array_get(fx->fake.results, i);

	if (o == NULL)
		fail_msg("no tool result %zu (%zu kept)", i,
		    json_array_size(fx->fake.results));
	assert_string_equal(jget_str(o, "name"), name);
	assert_int_equal(jget_bool(o, "error"), error);
	if (strstr(jget_str(o, "content"), piece) == NULL)
		fail_msg("result %zu \"%s\" lacks \"%s\"", i,
		    jget_str(o, "content"), piece);
}

static void
checks_end(struct fixture *fx, bool passed)
{
	struct check_result res = { .command = "make test",
	    .exit_status = passed ? 0 : 2, .passed = passed,
	    .duration_ms = 3, .output = passed ? "ok" : "1 test failed" };

	assert_int_equal(fx->fake.pending, CHECKS);
	fx->fake.pending = NONE;
	round_checks_done(fx->r, &res, 1, passed, false);
}

static const json_t *
report(const struct fixture *fx, size_t i)
{
	const json_t *m = json_array_get(fx->fake.reports, i);

	if (m == NULL)
		fail_msg("no report %zu (%zu sent)", i,
		    json_array_size(fx->fake.reports));
	return m;
}

static const json_t *
final_report(const struct fixture *fx)
{
	size_t n = json_array_size(fx->fake.reports);
	const json_t *m;

	assert_true(fx->fake.done);
	assert_true(n > 0);
	m = report(fx, n - 1);
	assert_true(json_is_true(json_object_get(m, "final")));
	/* Only the last report is final. */
	for (size_t i = 0; i + 1 < n; i++)
		assert_null(json_object_get(report(fx, i), "final"));
	return m;
}

static const char *
error_code(const json_t *m)
{
	return json_string_value(json_object_get(json_object_get(m, "error"),
	    "code"));
}

/* The final report, checked to be a success in round `round`. */
static const json_t *
final_ok(const struct fixture *fx, json_int_t round)
{
	const json_t *m = final_report(fx);

	assert_true(json_is_true(json_object_get(m, "ok")));
	assert_int_equal(json_integer_value(json_object_get(m, "round")),
	    round);
	return m;
}

/* The final report, checked to be a failure in round `round` with the
 * error `code`. */
static const json_t *
final_error(const struct fixture *fx, json_int_t round, const char *code)
{
	const json_t *m = final_report(fx);

	assert_false(json_is_true(json_object_get(m, "ok")));
	assert_int_equal(json_integer_value(json_object_get(m, "round")),
	    round);
	assert_string_equal(error_code(m), code);
	return m;
}

/* ---------------------------------------------------------- tests */

static void
test_stage_names(void **state)
{
	(void)state;
	for (int s = 0; s < ROUND_NSTAGES; s++) {
		const char *name = round_stage_name((enum round_stage)s);

		assert_non_null(name);
		assert_string_not_equal(name, "unknown");
	}
	assert_string_equal(round_stage_name(ROUND_NSTAGES), "unknown");
	assert_string_equal(round_stage_name(ROUND_CRITIC), "critic");
}

/* answer -> files -> checks pass -> critic approves -> commit -> publish
 * -> one final report. */
static void
test_accepted_round(void **state)
{
	struct fixture *fx = *state;
	const json_t *m, *provides;

	start(fx);
	reply(fx, MODEL, ANSWER_OK);
	assert_int_equal(fx->fake.applies, 1);
	assert_int_equal(fx->r->stage, ROUND_CHECKS);
	checks_end(fx, true);
	assert_int_equal(fx->r->stage, ROUND_CRITIC);
	reply(fx, CRITIC, VERDICT_COMPLETE);

	assert_int_equal(fx->fake.commits, 1);
	assert_non_null(strstr(fx->fake.commit_message,
	    "Build the web app\n\nadd the app\n"));
	assert_non_null(strstr(fx->fake.commit_message,
	    "Masterd-Directive: 42\nMasterd-Round: 42/1\n"));
	/* Canonical once: the committed document is the published one,
	 * its entries sorted. */
	assert_non_null(fx->fake.committed_iface);
	assert_ptr_equal(fx->fake.committed_iface, fx->fake.published);
	provides = json_object_get(fx->fake.published, "provides");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(provides, 0), "name")), "a");
	assert_int_equal(fx->fake.rollbacks, 0);

	assert_int_equal(json_array_size(fx->fake.reports), 1);
	m = final_ok(fx, 1);
	assert_int_equal(json_integer_value(json_object_get(m, "task")), 9);
	assert_int_equal(json_integer_value(json_object_get(m, "directive")),
	    42);
	assert_string_equal(json_string_value(json_object_get(m, "stage")),
	    "commit");
	assert_string_equal(json_string_value(json_object_get(m, "commit")),
	    "0000000000000000000000000000000000000007");
	assert_string_equal(json_string_value(json_object_get(m, "summary")),
	    "add the app");
	assert_null(json_object_get(m, "error"));
	assert_int_equal(json_array_size(json_object_get(m, "checks")), 1);
	/* Both calls of the round, model and critic. */
	assert_int_equal(json_integer_value(json_object_get(json_object_get(m,
	    "usage"), "calls")), 2);
	assert_int_equal(json_integer_value(json_object_get(m, "duration_ms")),
	    10);
	assert_int_equal(fx->r->stage, ROUND_DONE);
}

/* No check configured, nothing changed: approved, no commit id. */
static void
test_no_checks_unchanged(void **state)
{
	struct fixture *fx = *state;
	const json_t *m;

	fx->fake.checks_rc = 1;
	fx->fake.commit_rc = REPO_UNCHANGED;
	start(fx);
	reply(fx, MODEL, ANSWER_PLAIN);
	assert_int_equal(fx->fake.checks, 1);
	reply(fx, CRITIC, VERDICT_COMPLETE);
	m = final_report(fx);
	assert_true(json_is_true(json_object_get(m, "ok")));
	assert_null(json_object_get(m, "commit"));
	assert_null(json_object_get(m, "checks"));
	/* No interface in the answer: nothing published. */
	assert_null(fx->fake.published);
}

/* Failing checks: each failed round reported, its files kept for the
 * next, the output sent back to the model; after max_rounds the
 * directive fails and only then are its files rolled back. */
static void
test_checks_fail_retried_then_rolled_back(void **state)
{
	struct fixture *fx = *state;
	const json_t *m;

	start(fx);
	for (int round = 1; round <= 3; round++) {
		reply(fx, MODEL, ANSWER_PLAIN);
		checks_end(fx, false);
		assert_int_equal(fx->fake.rollbacks, round < 3 ? 0 : 1);
		if (round < 3) {
			assert_int_equal(fx->fake.pending, MODEL);
			assert_non_null(strstr(fx->fake.last_turn,
			    "1 test failed"));
			assert_non_null(strstr(fx->fake.last_turn,
			    "The checks failed after your change (round"));
		}
	}
	assert_int_equal(fx->fake.critics, 0);
	assert_int_equal(fx->fake.commits, 0);
	assert_int_equal(json_array_size(fx->fake.reports), 3);
	for (size_t i = 0; i < 2; i++) {
		m = report(fx, i);
		assert_false(json_is_true(json_object_get(m, "ok")));
		assert_int_equal(json_integer_value(json_object_get(m,
		    "round")), (json_int_t)i + 1);
		assert_string_equal(json_string_value(json_object_get(m,
		    "stage")), "checks");
	}
	m = final_error(fx, 3, "checks");
	assert_non_null(strstr(json_string_value(json_object_get(
	    json_object_get(m, "error"), "message")), "checks after 3 rounds"));
	assert_int_equal(fx->r->stage, ROUND_FAILED);
}

/* A failing round, then a passing one: accepted in round 2. */
static void
test_checks_fail_then_pass(void **state)
{
	struct fixture *fx = *state;

	start(fx);
	reply(fx, MODEL, ANSWER_PLAIN);
	checks_end(fx, false);
	reply(fx, MODEL, ANSWER_PLAIN);
	checks_end(fx, true);
	reply(fx, CRITIC, VERDICT_COMPLETE);
	assert_int_equal(json_array_size(fx->fake.reports), 2);
	final_ok(fx, 2);
	assert_non_null(strstr(fx->fake.commit_message, "Round: 42/2\n"));
}

/* An unusable answer goes back to the model, max_invalid times, within
 * the same round; then the directive fails. */
static void
test_invalid_answer_bounded(void **state)
{
	struct fixture *fx = *state;
	const json_t *m;

	start(fx);
	reply(fx, MODEL, "I cannot answer in JSON");
	assert_int_equal(fx->fake.pending, MODEL);
	assert_non_null(strstr(fx->fake.last_turn,
	    "Your answer could not be used"));
	reply(fx, MODEL, "{\"files\": []}");
	assert_int_equal(fx->fake.pending, MODEL);
	assert_non_null(strstr(fx->fake.last_turn, "summary"));
	reply(fx, MODEL, "still not");
	assert_int_equal(fx->fake.asks, 3);
	assert_int_equal(fx->fake.applies, 0);

	assert_int_equal(json_array_size(fx->fake.reports), 1);
	m = final_error(fx, 1, "invalid_answer");
	assert_string_equal(json_string_value(json_object_get(m, "stage")),
	    "invalid answer");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(m,
	    "usage"), "calls")), 3);
}

/* A refused path is rolled back and sent back like an invalid answer;
 * a usable answer after it goes on. */
static void
test_refused_path_then_usable(void **state)
{
	struct fixture *fx = *state;

	fx->fake.refuse = xstrdup("files[0].path \"app.py\" refused: a "
	    "symbolic link");
	start(fx);
	reply(fx, MODEL, ANSWER_PLAIN);
	assert_int_equal(fx->fake.rollbacks, 1);
	assert_int_equal(fx->fake.pending, MODEL);
	assert_non_null(strstr(fx->fake.last_turn, "symbolic link"));
	free(fx->fake.refuse);
	fx->fake.refuse = NULL;
	reply(fx, MODEL, ANSWER_PLAIN);
	checks_end(fx, true);
	reply(fx, CRITIC, VERDICT_COMPLETE);
	assert_true(json_is_true(json_object_get(final_report(fx), "ok")));
	assert_int_equal(json_array_size(fx->fake.reports), 1);
}

/* The critic says incomplete: the round is reported, its files kept, its
 * feedback is the next round's turn. */
static void
test_critic_incomplete(void **state)
{
	struct fixture *fx = *state;
	const json_t *m;

	start(fx);
	reply(fx, MODEL, ANSWER_PLAIN);
	checks_end(fx, true);
	reply(fx, CRITIC, VERDICT_INCOMPLETE);
	assert_int_equal(fx->fake.commits, 0);
	assert_int_equal(fx->fake.rollbacks, 0);
	assert_false(fx->fake.done);
	assert_int_equal(fx->fake.pending, MODEL);
	assert_non_null(strstr(fx->fake.last_turn,
	    "A reviewer found the work incomplete:\n\nno tests"));
	m = report(fx, 0);
	assert_false(json_is_true(json_object_get(m, "ok")));
	assert_null(json_object_get(m, "final"));
	assert_string_equal(json_string_value(json_object_get(m, "stage")),
	    "critic");

	reply(fx, MODEL, ANSWER_PLAIN);
	checks_end(fx, true);
	reply(fx, CRITIC, VERDICT_COMPLETE);
	m = final_ok(fx, 2);
}

/* A verdict critic.c could not read is no approval: nothing committed. */
static void
test_critic_unreadable_fails(void **state)
{
	struct fixture *fx = *state;
	const json_t *m;

	start(fx);
	reply(fx, MODEL, ANSWER_PLAIN);
	checks_end(fx, true);
	reply(fx, CRITIC, "looks fine to me");
	assert_int_equal(fx->fake.commits, 0);
	assert_int_equal(fx->fake.rollbacks, 1);
	m = final_error(fx, 1, "unreadable_verdict");
	assert_string_equal(json_string_value(json_object_get(m,
	    "critic_model")), "critic-test");
}

/* Cancel while the checks run: they are stopped, the files rolled back,
 * and the directive ends with a final round 0 (no round played). */
static void
test_cancel_during_checks(void **state)
{
	struct fixture *fx = *state;
	struct check_result res = { .command = "make test",
	    .exit_status = -1, .term_signal = 9, .output = "" };

	start(fx);
	reply(fx, MODEL, ANSWER_PLAIN);
	round_cancel(fx->r);
	assert_int_equal(fx->fake.cancels, 1);
	assert_false(fx->fake.done);
	/* A second cancel asks nothing more. */
	round_cancel(fx->r);
	assert_int_equal(fx->fake.cancels, 1);
	fx->fake.pending = NONE;
	round_checks_done(fx->r, &res, 1, false, true);
	assert_int_equal(fx->fake.rollbacks, 1);
	assert_int_equal(fx->fake.critics, 0);
	assert_int_equal(json_array_size(fx->fake.reports), 1);
	final_error(fx, 0, "cancelled");
}

/* The checks' sandbox could not be built: the command did not run.
 * The directive fails with `sandbox` and the runner's reason, the model
 * is not asked again, nor the critic. */
static void
sandbox_fails(struct fixture *fx)
{
	struct check_result res[2] = {
		{ .command = "make", .passed = true, .output = "ok" },
		{ .command = "make test", .exit_status = 126,
		  .sandbox_failed = true,
		  .output = "sandbox: user namespaces: permission denied" },
	};

	assert_int_equal(fx->fake.pending, CHECKS);
	fx->fake.pending = NONE;
	round_checks_done(fx->r, res, 2, false, false);
}

static void
test_sandbox_failed(void **state)
{
	struct fixture *fx = *state;
	const json_t *m;

	start(fx);
	reply(fx, MODEL, ANSWER_PLAIN);
	sandbox_fails(fx);
	assert_int_equal(fx->fake.critics, 0);
	assert_int_equal(fx->fake.rollbacks, 1);
	assert_int_equal(fx->fake.pending, NONE);
	m = final_error(fx, 1, "sandbox");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    m, "error"), "message")),
	    "sandbox: user namespaces: permission denied");
}

/* The same through the model's run_checks tool: no tool result says the
 * checks failed; the directive ends. */
static void
test_sandbox_failed_tool(void **state)
{
	struct fixture *fx = *state;

	start(fx);
	call(fx, false, 1, "run_checks", "{}");
	sandbox_fails(fx);
	assert_int_equal(json_array_size(fx->fake.results), 0);
	assert_int_equal(fx->fake.pending, NONE);
	final_error(fx, 1, "sandbox");
}

/* Cancel while the model thinks, in round 2: rounds played stay
 * reported; the final round is round 0. */
static void
test_cancel_during_model(void **state)
{
	struct fixture *fx = *state;
	struct llm_result res = { .ok = false, .text = "", .message =
	    "cancelled", .error = LLM_ERR_CANCELLED };

	start(fx);
	reply(fx, MODEL, ANSWER_PLAIN);
	checks_end(fx, false);
	round_cancel(fx->r);
	assert_int_equal(fx->fake.cancels, 1);
	fx->fake.pending = NONE;
	round_answer(fx->r, &res);
	assert_int_equal(json_array_size(fx->fake.reports), 2);
	final_error(fx, 0, "cancelled");
}

/* A rate limit (an outage past the retries) ends the directive as
 * provider_down, with the time to resume. */
static void
test_rate_limited(void **state)
{
	struct fixture *fx = *state;
	struct llm_result res = { .ok = false, .text = "", .message =
	    "429 slow down", .error = LLM_ERR_RATE_LIMITED,
	    .retry_until = 1700000000 };
	const json_t *m, *e;

	start(fx);
	fx->fake.pending = NONE;
	round_answer(fx->r, &res);
	m = final_error(fx, 0, "provider_down");
	e = json_object_get(m, "error");
	assert_string_equal(json_string_value(json_object_get(e, "message")),
	    "429 slow down");
	assert_int_equal(json_integer_value(json_object_get(e, "until")),
	    1700000000);
	assert_int_equal(fx->fake.rollbacks, 0);
}

/* A commit that fails ends the directive in that round. */
static void
test_commit_fails(void **state)
{
	struct fixture *fx = *state;

	fx->fake.commit_rc = -1;
	start(fx);
	reply(fx, MODEL, ANSWER_OK);
	checks_end(fx, true);
	reply(fx, CRITIC, VERDICT_COMPLETE);
	final_error(fx, 1, "git");
	assert_null(fx->fake.published);
	assert_int_equal(fx->fake.rollbacks, 1);
}

/* Ended before any round: a final round 0 with the outcome; a directive
 * found committed by an earlier run keeps its round. */
static void
test_end_early(void **state)
{
	struct fixture *fx = *state;

	round_end_early(fx->r, 0, "model", NULL, "model", "no key");
	final_error(fx, 0, "model");
	assert_int_equal(fx->fake.asks, 0);
}

static void
test_end_already_committed(void **state)
{
	struct fixture *fx = *state;
	const json_t *m;

	round_end_early(fx->r, 2, "commit", "abc123", NULL, NULL);
	m = final_ok(fx, 2);
	assert_string_equal(json_string_value(json_object_get(m, "commit")),
	    "abc123");
}

/* ---------------------------------------------------------- tool mode */

#define FINISH_OK \
	"{\"summary\": \"edited the app\", \"interface\": {\"domain\": " \
	"\"web\", \"summary\": \"the web\", \"consumes\": [], \"provides\": " \
	"[{\"name\": \"a\", \"kind\": \"function\", \"signature\": \"() -> " \
	"ok\"}]}}"

/* read, edit, run the checks, finish: the results go back with each next
 * turn (no text), then the round's checks, the critic and the commit. */
static void
test_tool_loop(void **state)
{
	struct fixture *fx = *state;
	const json_t *m;

	start(fx);
	call(fx, false, 1, "read_file", "{\"path\": \"app.py\"}");
	assert_int_equal(fx->fake.tools_run, 1);
	assert_int_equal(fx->fake.pending, MODEL);
	assert_true(fx->fake.asked_results_only);
	result_is(fx, 0, "read_file", false, "read_file says yes");
	assert_string_equal(jget_str(json_array_get(fx->fake.results, 0),
	    "id"), "call_0");

	/* Two calls in one answer, one of them failing: both answered. */
	call(fx, false, 2, "edit_file", "{\"old\": \"missing\"}",
	    "edit_file", "{\"old\": \"x\"}");
	result_is(fx, 1, "edit_file", true, "no");
	result_is(fx, 2, "edit_file", false, "yes");
	assert_int_equal(fx->fake.pending, MODEL);

	/* run_checks: the machine waits for the checks, then goes on. */
	call(fx, false, 1, "run_checks", "{}");
	assert_int_equal(fx->fake.pending, CHECKS);
	checks_end(fx, false);
	result_is(fx, 3, "run_checks", true, "FAILED: 1 command");
	result_is(fx, 3, "run_checks", true, "1 test failed");
	assert_int_equal(fx->fake.pending, MODEL);
	assert_int_equal(json_array_size(fx->fake.reports), 0);

	call(fx, false, 1, "finish", FINISH_OK);
	result_is(fx, 4, "finish", false, "Received");
	assert_int_equal(fx->fake.checks, 2);
	checks_end(fx, true);
	reply(fx, CRITIC, VERDICT_COMPLETE);
	assert_int_equal(fx->fake.applies, 0);
	assert_non_null(strstr(fx->fake.commit_message, "edited the app"));
	m = final_ok(fx, 1);
	assert_string_equal(json_string_value(json_object_get(m, "model")),
	    "gpt-test");
	assert_string_equal(json_string_value(json_object_get(m,
	    "critic_model")), "critic-test");
	assert_non_null(fx->fake.published);
	/* Four model calls and the critic's. */
	assert_int_equal(json_integer_value(json_object_get(json_object_get(m,
	    "usage"), "calls")), 5);
}


/* Interface first: a JSON answer's interface is declared (canonical)
 * before its checks start, even when they then fail; the implemented one
 * only after the commit. */
static void
test_declared_before_checks(void **state)
{
	struct fixture *fx = *state;

	start(fx);
	reply(fx, MODEL, ANSWER_OK);
	assert_int_equal(fx->fake.declares, 1);
	assert_int_equal(fx->fake.checks_at_declare, 0);
	assert_int_equal(fx->fake.checks, 1);
	assert_null(fx->fake.published);
	/* Canonical: entries sorted. */
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(fx->fake.declared, "provides"), 0), "name")), "a");
	checks_end(fx, false);
	/* A failing round: declared, never implemented. */
	assert_null(fx->fake.published);
	reply(fx, MODEL, ANSWER_OK);
	assert_int_equal(fx->fake.declares, 2);
	checks_end(fx, true);
	reply(fx, CRITIC, VERDICT_COMPLETE);
	final_ok(fx, 2);
	assert_int_equal(fx->fake.commits_at_declare, 0);
	assert_non_null(fx->fake.published);
	assert_true(json_equal(fx->fake.published, fx->fake.declared));
}

/* An answer without an interface declares nothing. */
static void
test_no_interface_no_declare(void **state)
{
	struct fixture *fx = *state;

	start(fx);
	reply(fx, MODEL, ANSWER_PLAIN);
	checks_end(fx, true);
	reply(fx, CRITIC, VERDICT_COMPLETE);
	final_ok(fx, 1);
	assert_int_equal(fx->fake.declares, 0);
	assert_null(fx->fake.declared);
}

/* With tools: finish's interface is declared when finish is accepted,
 * before the round's checks; a run_checks before it declares nothing. */
static void
test_tool_finish_declares(void **state)
{
	struct fixture *fx = *state;

	start(fx);
	call(fx, false, 1, "run_checks", "{}");
	checks_end(fx, false);
	assert_int_equal(fx->fake.declares, 0);
	call(fx, false, 1, "finish", FINISH_OK);
	assert_int_equal(fx->fake.declares, 1);
	assert_int_equal(fx->fake.checks_at_declare, 1);
	assert_int_equal(fx->fake.checks, 2);
	assert_null(fx->fake.published);
	checks_end(fx, true);
	reply(fx, CRITIC, VERDICT_COMPLETE);
	final_ok(fx, 1);
	assert_non_null(fx->fake.published);
}

/* A finish that is not valid goes back as a tool error; calls after a
 * valid finish are answered, not run. */
static void
test_tool_finish_invalid_then_valid(void **state)
{
	struct fixture *fx = *state;

	start(fx);
	call(fx, false, 1, "finish", "{\"interface\": 3}");
	result_is(fx, 0, "finish", true, "summary");
	assert_int_equal(fx->fake.pending, MODEL);
	call(fx, false, 2, "finish", FINISH_OK, "read_file", "{}");
	result_is(fx, 1, "finish", false, "Received");
	result_is(fx, 2, "read_file", true, "not run");
	assert_int_equal(fx->fake.tools_run, 0);
	assert_int_equal(fx->fake.pending, CHECKS);
}

/* A cut answer runs none of its calls and says how to avoid the cut. */
static void
test_tool_answer_cut(void **state)
{
	struct fixture *fx = *state;

	start(fx);
	call(fx, true, 1, "write_file", "{\"path\": \"big.py\", \"cont");
	assert_int_equal(fx->fake.tools_run, 0);
	result_is(fx, 0, "write_file", true, "cut");
	assert_int_equal(fx->fake.pending, MODEL);
	assert_non_null(strstr(fx->fake.last_turn, "cut at the output "
	    "limit"));
	assert_null(strstr(fx->fake.last_turn, "JSON"));
}

/* Past max_calls a call is refused with the limit; at twice it the
 * round fails; the limit is in the report. */
static void
test_tool_limit(void **state)
{
	struct fixture *fx = *state;
	const json_t *m;

	start(fx);
	call(fx, false, 5, "read_file", "{}", "read_file", "{}", "read_file",
	    "{}", "read_file", "{}", "read_file", "{}");
	assert_int_equal(fx->fake.tools_run, 4);
	result_is(fx, 4, "read_file", true, "tool call limit (4 per round)");
	call(fx, false, 4, "search", "{}", "search", "{}", "search", "{}",
	    "search", "{}");
	m = final_error(fx, 1, "tool_limit");
	assert_string_equal(json_string_value(json_object_get(m, "limit")),
	    "4 tool calls per round");
	assert_int_equal(fx->fake.rollbacks, 1);
}

/* Text without a call: a JSON answer is taken as one; anything else is
 * sent back. */
static void
test_tool_mode_json_text(void **state)
{
	struct fixture *fx = *state;

	start(fx);
	reply(fx, MODEL, "I think I am done.");
	assert_int_equal(fx->fake.pending, MODEL);
	assert_non_null(strstr(fx->fake.last_turn, "called no tool"));
	reply(fx, MODEL, ANSWER_PLAIN);
	assert_int_equal(fx->fake.applies, 1);
	assert_int_equal(fx->fake.pending, CHECKS);
}

/* A server that refuses tools: the directive goes on in JSON answers. */
static void
test_tools_refused(void **state)
{
	struct fixture *fx = *state;
	struct llm_result res = { .ok = false, .text = "", .model = "",
	    .message = "registry.ollama.ai/library/tiny does not support "
	    "tools", .error = LLM_ERR_HTTP, .http_status = 400 };

	start(fx);
	fx->fake.pending = NONE;
	round_answer(fx->r, &res);
	assert_int_equal(fx->fake.drops, 1);
	assert_false(fx->r->tools);
	assert_int_equal(fx->fake.pending, MODEL);
	assert_string_equal(fx->fake.last_turn, "the JSON first turn");
	reply(fx, MODEL, ANSWER_PLAIN);
	assert_int_equal(fx->fake.applies, 1);
}

/* JSON mode: a cut answer is no "not JSON". */
static void
test_json_answer_cut(void **state)
{
	struct fixture *fx = *state;
	struct llm_result res = { .ok = true, .text = "{\"summary\": \"a\", "
	    "\"files\": [{\"path\": \"x\", \"content\": \"", .message = "",
	    .model = "", .truncated = true };

	res.text_len = strlen(res.text);
	start(fx);
	fx->fake.pending = NONE;
	round_answer(fx->r, &res);
	assert_int_equal(fx->fake.pending, MODEL);
	assert_non_null(strstr(fx->fake.last_turn, "cut at the output limit "
	    "(max_tokens)"));
	assert_non_null(strstr(fx->fake.last_turn, "\"edits\""));
	assert_null(strstr(fx->fake.last_turn, "premature"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stage_names),
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_accepted_round),
		T(test_no_checks_unchanged),
		T(test_checks_fail_retried_then_rolled_back),
		T(test_checks_fail_then_pass),
		T(test_invalid_answer_bounded),
		T(test_refused_path_then_usable),
		T(test_critic_incomplete),
		T(test_critic_unreadable_fails),
		T(test_cancel_during_checks),
		T(test_cancel_during_model),
		T(test_sandbox_failed),
		T(test_rate_limited),
		T(test_commit_fails),
		T(test_end_early),
		T(test_end_already_committed),
		T(test_json_answer_cut),
#undef T
#define T(f) cmocka_unit_test_setup_teardown(f, setup_tools, teardown)
		T(test_tool_loop),
		T(test_declared_before_checks),
		T(test_no_interface_no_declare),
		T(test_tool_finish_declares),
		T(test_tool_finish_invalid_then_valid),
		T(test_tool_answer_cut),
		T(test_tool_limit),
		T(test_tool_mode_json_text),
		T(test_tools_refused),
		T(test_sandbox_failed_tool),
#undef T
	};

	util_init();
	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
