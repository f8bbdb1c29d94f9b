/*
 * round.c — the stages of a directive's rounds and the decisions between
 * them: which answer is usable, when a round is rejected and the model
 * asked again, when the directive ends and how it is reported.  The work
 * of each stage is done through struct round_ops (see round.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child/worker/commitmsg.h"
#include "child/worker/round.h"
#include "child/worker/tools.h"
#include "common/iface.h"
#include "common/log.h"
#include "common/util.h"
#include "proto/vocab.h"

static const char *const stage_names[ROUND_NSTAGES] = {
	[ROUND_ASK_MODEL] = "ask_model",
	[ROUND_TOOLS] = "tools",
	[ROUND_APPLY] = "apply",
	[ROUND_RETRY] = "retry",
	[ROUND_CHECKS] = "checks",
	[ROUND_CRITIC] = "critic",
	[ROUND_COMMIT] = "commit",
	[ROUND_PUBLISH] = "publish",
	[ROUND_NEXT_ROUND] = "next_round",
	[ROUND_DONE] = "done",
	[ROUND_FAILED] = "failed",
};

const char *
round_stage_name(enum round_stage s)
{
	if ((unsigned)s >= ROUND_NSTAGES)
		return "unknown";
	return stage_names[s];
}

struct round *
round_new(const struct round_ops *ops, void *arg,
    const struct round_limits *lim, const char *domain, int64_t task,
    int64_t directive, const char *text, bool tools)
{
	struct round *r = xcalloc(1, sizeof(*r));

	r->ops = ops;
	r->arg = arg;
	r->lim = *lim;
	r->domain = domain;
	r->task = task;
	r->directive = directive;
	r->text = xstrdup(text != NULL ? text : "");
	r->tools = tools;
	r->stage = ROUND_ASK_MODEL;
	r->round = 1;
	r->round_started_ms = ops->now_ms(r);
	return r;
}

static void
forget_answer(struct round *r)
{
	if (r->have_answer)
		answer_free(&r->answer);
	r->have_answer = false;
}

static void
forget_calls(struct round *r)
{
	llm_tool_calls_free(r->calls, r->ncalls);
	r->calls = NULL;
	r->ncalls = r->next_call = 0;
}

static void
keep_calls(struct round *r, const struct llm_tool_call *calls, size_t n)
{
	forget_calls(r);
	r->calls = llm_tool_calls_copy(calls, n);
	r->ncalls = n;
}

void
round_free(struct round *r)
{
	if (r == NULL)
		return;
	forget_answer(r);
	forget_calls(r);
	json_decref(r->check_json);
	json_decref(r->iface);
	free(r->text);
	free(r->turn);
	free(r->reply);
	free(r->problem);
	free(r->feedback);
	free(r->error);
	free(r->limit);
	free(r);
}

/* ---------------------------------------------------------- reporting */

static json_t *
usage_json(const struct llm_usage *u)
{
	json_t *o = json_pack("{s:I, s:I, s:I, s:i}", "input",
	    (json_int_t)u->input, "output", (json_int_t)u->output, "cached",
	    (json_int_t)u->cached, "calls", (int)u->calls);

	if (u->priced)
		json_object_set_new(o, "cost", json_real(u->cost));
	return o;
}

/* A `round` message's body; the round's usage and clock start again. */
static json_t *
round_body(struct round *r, int number, bool ok, const char *stage)
{
	uint64_t now = r->ops->now_ms(r);
	json_t *m = json_object();

	json_object_set_new(m, "task", json_integer(r->task));
	json_object_set_new(m, "directive", json_integer(r->directive));
	json_object_set_new(m, "round", json_integer(number));
	json_object_set_new(m, "ok", json_boolean(ok));
	json_object_set_new(m, "stage", json_string(stage));
	/* Per round: the registry sums rounds into the scoreboard. */
	json_object_set_new(m, "duration_ms", json_integer((json_int_t)(
	    now - r->round_started_ms)));
	json_object_set_new(m, "usage", usage_json(&r->round_usage));
	if (r->check_json != NULL)
		json_object_set(m, "checks", r->check_json);
	if (r->have_answer && r->answer.summary != NULL)
		json_object_set_new(m, "summary",
		    json_string(r->answer.summary));
	if (r->model[0] != '\0')
		json_object_set_new(m, "model", json_string(r->model));
	if (r->provider[0] != '\0')
		json_object_set_new(m, "provider", json_string(r->provider));
	if (r->critic_model[0] != '\0')
		json_object_set_new(m, "critic_model",
		    json_string(r->critic_model));
	if (r->limit != NULL) {
		json_object_set_new(m, "limit", json_string(r->limit));
		free(r->limit);
		r->limit = NULL;
	}
	r->critic_model[0] = '\0';
	memset(&r->round_usage, 0, sizeof(r->round_usage));
	r->round_started_ms = now;
	return m;
}

static void
add_usage(struct round *r, const struct llm_usage *u)
{
	llm_usage_add(&r->usage, u);
	llm_usage_add(&r->round_usage, u);
}

/* ---------------------------------------------------------- outcomes */

/* The directive ends with this outcome (error_code NULL: success). */
static void
end(struct round *r, const char *stage, const char *error_code,
    const char *why, bool unplayed)
{
	r->end_stage = stage;
	r->error_code = error_code;
	free(r->error);
	r->error = why != NULL ? xstrdup(why) : NULL;
	r->end_unplayed = unplayed;
	r->stage = error_code == NULL ? ROUND_DONE : ROUND_FAILED;
}

/* The round's files are kept aside; a cancelled call is no round played. */
static void
fail(struct round *r, const char *stage, const char *code, const char *why)
{
	r->ops->roll_back(r, stage);
	end(r, stage, code, why, strcmp(code, "cancelled") == 0);
}

/* A completion arrived: go on, unless round_step is already running. */
static void
resume(struct round *r)
{
	r->waiting = false;
	if (!r->stepping)
		round_step(r);
}

/* ---------------------------------------------------------- the stages */

static void
stage_ask_model(struct round *r)
{
	char *turn = r->turn;

	r->turn = NULL;
	r->waiting = true;
	if (r->ops->ask_model(r, turn) != 0) {
		r->waiting = false;
		fail(r, "model", "model", "the model could not be asked");
	}
	free(turn);
}

/* What the model is told after a problem, in the words of its mode. */
static const char *
answer_again(const struct round *r)
{
	return r->tools ? "Go on with the tools, and call finish when the "
	    "work is done." : "Answer again with exactly one JSON object as "
	    "your instructions describe.";
}

/* The answer was unusable: tell the model why, in the same round. */
static void
unusable(struct round *r, const char *stage, char *problem)
{
	free(r->problem);
	r->problem = problem;
	r->fail_stage = stage;
	r->stage = ROUND_RETRY;
}

static void
stage_apply(struct round *r)
{
	char err[512], *refused;

	forget_answer(r);
	if (answer_parse(r->reply, r->domain, &r->answer, err,
	    sizeof(err)) != 0) {
		unusable(r, "invalid answer", xstrdup(err));
		return;
	}
	r->have_answer = true;
	if ((refused = r->ops->apply_files(r, &r->answer)) != NULL) {
		log_warn("directive %lld: %s", (long long)r->directive,
		    refused);
		/* Half an answer written is no state to build on. */
		r->ops->roll_back(r, "refused");
		unusable(r, "refused path", refused);
		return;
	}
	r->stage = ROUND_CHECKS;
}

/* An unusable answer is sent back, a bounded number of times per round. */
static void
stage_retry(struct round *r)
{
	if (++r->invalid > r->lim.max_invalid) {
		char why[400];

		snprintf(why, sizeof(why), "no usable answer after %d tries: "
		    "%.300s", r->invalid, r->problem);
		fail(r, r->fail_stage, "invalid_answer", why);
		return;
	}
	r->ops->progress(r, r->fail_stage, r->problem);
	free(r->turn);
	r->turn = xasprintf("Your answer could not be used: %s\n\n%s",
	    r->problem, answer_again(r));
	r->stage = ROUND_ASK_MODEL;
}

/* ---------------------------------------------------------- tools */

static void
call_result(struct round *r, const struct llm_tool_call *c,
    const char *content, bool is_error)
{
	r->ops->tool_result(r, c, content, is_error);
}

/* finish: the round's answer, or an error the model can act on. */
static void
call_finish(struct round *r, const struct llm_tool_call *c)
{
	char err[512];

	if (r->have_answer) {
		call_result(r, c, "finish was already called in this answer",
		    true);
		return;
	}
	if (tools_finish(c->arguments, r->domain, &r->answer, err,
	    sizeof(err)) != 0) {
		call_result(r, c, err, true);
		return;
	}
	r->have_answer = true;
	call_result(r, c, "Received. The domain's checks and a review "
	    "follow; you will hear the outcome.", false);
}

/*
 * Run the answer's calls in order.  run_checks leaves the machine
 * waiting; finish, once valid, ends the loop after the calls of its
 * answer (those after it are answered, not run).
 */
static void
stage_tools(struct round *r)
{
	const struct llm_tool_call *c;
	char *text;
	bool is_error;
	int rc;

	while (r->next_call < r->ncalls) {
		c = &r->calls[r->next_call++];
		r->round_calls++;
		if (r->have_answer) {
			call_result(r, c, "not run: finish ended the round",
			    true);
			continue;
		}
		if (r->round_calls > r->lim.max_calls &&
		    tools_kind(c->name) != TOOL_FINISH) {
			free(r->limit);
			r->limit = xasprintf("%d tool calls per round",
			    r->lim.max_calls);
			if (r->round_calls > 2 * r->lim.max_calls) {
				fail(r, "tools", "tool_limit", "the model "
				    "kept calling tools past the limit of "
				    "its round");
				return;
			}
			text = xasprintf("tool call limit (%d per round) "
			    "reached: call finish now", r->lim.max_calls);
			call_result(r, c, text, true);
			free(text);
			continue;
		}
		switch (tools_kind(c->name)) {
		case TOOL_SYNC:
			text = r->ops->run_tool(r, c, &is_error);
			call_result(r, c, text, is_error);
			free(text);
			break;
		case TOOL_CHECKS:
			r->checks_for_tool = true;
			r->waiting = true;
			if ((rc = r->ops->run_checks(r, NULL)) == 0)
				return;
			r->waiting = false;
			r->checks_for_tool = false;
			call_result(r, c, rc > 0 ? "no checks are configured "
			    "for this domain: propose some in finish's "
			    "checks" : "the checks could not start", rc < 0);
			break;
		case TOOL_FINISH:
			call_finish(r, c);
			break;
		case TOOL_UNKNOWN:
			text = xasprintf("unknown tool \"%.64s\"", c->name);
			call_result(r, c, text, true);
			free(text);
			break;
		}
	}
	forget_calls(r);
	free(r->turn);
	r->turn = NULL;		/* the results alone */
	r->stage = r->have_answer ? ROUND_CHECKS : ROUND_ASK_MODEL;
}

/*
 * Interface first: the answer's interface, validated with the answer, is
 * declared before the checks run, so that what the domain needs reaches
 * its providers even while its own checks fail for the lack of it.
 */
static void
declare(struct round *r)
{
	json_t *canon;

	if (r->answer.interface == NULL)
		return;
	canon = iface_canonical(r->answer.interface);
	r->ops->publish(r, canon, true);
	json_decref(canon);
}

static void
stage_checks(struct round *r)
{
	int rc;

	declare(r);
	r->waiting = true;
	rc = r->ops->run_checks(r, &r->answer);
	if (rc == 0)
		return;
	r->waiting = false;
	if (rc > 0)
		r->stage = ROUND_CRITIC;
	else
		fail(r, "checks", "internal", "the checks could not start");
}

static void
stage_critic(struct round *r)
{
	const char *code = "model";
	char err[256];

	r->ops->progress(r, "critic", NULL);
	r->waiting = true;
	if (r->ops->ask_critic(r, r->check_json, &code, err,
	    sizeof(err)) != 0) {
		r->waiting = false;
		fail(r, "critic", code, err);
	}
}

/*
 * The interface is made canonical here, once: the same document is
 * committed beside the code and published.
 */
static void
stage_commit(struct round *r)
{
	char oid[REPO_OID_HEX], err[256], *message;
	int rc;

	json_decref(r->iface);
	r->iface = r->answer.interface != NULL ?
	    iface_canonical(r->answer.interface) : NULL;
	message = commitmsg_build(r->text, r->answer.summary, r->directive,
	    r->round);
	rc = r->ops->commit(r, message, r->iface, oid, err, sizeof(err));
	free(message);
	if (rc < 0) {
		fail(r, "commit", "git", err);
		return;
	}
	snprintf(r->commit, sizeof(r->commit), "%s",
	    rc == REPO_UNCHANGED ? "" : oid);
	r->stage = ROUND_PUBLISH;
}

static void
stage_publish(struct round *r)
{
	if (r->iface != NULL)
		r->ops->publish(r, r->iface, false);
	end(r, "commit", NULL, NULL, false);
}

/* A rejected round is reported; the model has another, if any is left. */
static void
stage_next_round(struct round *r)
{
	const char *feedback = r->feedback ? r->feedback : r->fail_stage;
	json_t *m;

	if (r->round >= r->lim.max_rounds) {
		char why[300];

		snprintf(why, sizeof(why), "%s after %d rounds: %.200s",
		    r->fail_stage, r->round, feedback);
		r->ops->roll_back(r, r->fail_stage);
		end(r, r->fail_stage, r->fail_stage, why, false);
		return;
	}
	m = round_body(r, r->round, false, r->fail_stage);
	json_object_set_new(m, "error", json_pack("{s:s}", "message",
	    feedback));
	r->ops->report(r, m);
	r->round++;
	r->invalid = 0;
	r->round_calls = 0;
	forget_answer(r);
	json_decref(r->check_json);
	r->check_json = NULL;
	free(r->turn);
	r->turn = r->feedback;
	r->feedback = NULL;
	if (r->turn == NULL)
		r->turn = xstrdup(r->fail_stage);
	r->stage = ROUND_ASK_MODEL;
}

/* The report that ends the directive. */
static void
stage_final(struct round *r)
{
	bool ok = r->error_code == NULL;
	json_t *m, *e;

	m = round_body(r, r->end_unplayed ? 0 : r->round, ok, r->end_stage);
	json_object_set_new(m, "final", json_true());
	if (ok && r->commit[0] != '\0')
		json_object_set_new(m, "commit", json_string(r->commit));
	if (!ok) {
		e = json_pack("{s:s, s:s}", "code", r->error_code, "message",
		    r->error != NULL ? r->error : r->error_code);
		if (r->until > 0)
			json_object_set_new(e, "until", json_integer(r->until));
		json_object_set_new(m, "error", e);
		log_info("directive %lld failed: %s", (long long)r->directive,
		    r->error != NULL ? r->error : r->error_code);
	} else {
		log_info("directive %lld done (%s)", (long long)r->directive,
		    r->commit[0] != '\0' ? r->commit : "no change");
	}
	r->ops->report(r, m);
	r->ended = true;
	r->ops->done(r);
}

/*
 * The machine: each stage starts its work and names the next stage; an
 * asynchronous stage leaves the machine waiting for its completion.
 */
void
round_step(struct round *r)
{
	r->stepping = true;
	while (!r->waiting) {
		switch (r->stage) {
		case ROUND_ASK_MODEL:	stage_ask_model(r); break;
		case ROUND_TOOLS:	stage_tools(r); break;
		case ROUND_APPLY:	stage_apply(r); break;
		case ROUND_RETRY:	stage_retry(r); break;
		case ROUND_CHECKS:	stage_checks(r); break;
		case ROUND_CRITIC:	stage_critic(r); break;
		case ROUND_COMMIT:	stage_commit(r); break;
		case ROUND_PUBLISH:	stage_publish(r); break;
		case ROUND_NEXT_ROUND:	stage_next_round(r); break;
		case ROUND_DONE:
		case ROUND_FAILED:
			/* done() may free the round: nothing after it. */
			stage_final(r);
			return;
		case ROUND_NSTAGES:
			abort();
		}
	}
	r->stepping = false;
}

void
round_start(struct round *r, char *first_turn)
{
	free(r->turn);
	r->turn = first_turn;
	r->stage = ROUND_ASK_MODEL;
	round_step(r);
}

void
round_end_early(struct round *r, int round, const char *stage,
    const char *commit, const char *error_code, const char *error)
{
	if (commit != NULL)
		snprintf(r->commit, sizeof(r->commit), "%s", commit);
	if (round > 0)
		r->round = round;
	end(r, stage, error_code, error, round == 0);
	round_step(r);
}

/* ---------------------------------------------------------- completions */

/* A cut answer is no format error: say what to do instead. */
static char *
cut_problem(const struct round *r)
{
	return xstrdup(r->tools ? "your answer was cut at the output limit "
	    "(max_tokens) before its tool calls were complete, so none was "
	    "run. Make smaller calls: change files with edit_file, and "
	    "write a large new file as a small first version, then grow it "
	    "with edit_file." : "your answer was cut at the output limit "
	    "(max_tokens). Answer with a smaller JSON object: give \"edits\" "
	    "(old/new pairs) instead of whole files, or change fewer files "
	    "in this answer.");
}

/* A tool-mode answer: its calls, or what was wrong with it. */
static void
take_calls(struct round *r, const struct llm_result *res)
{
	char err[256];

	if (res->truncated) {
		for (size_t i = 0; i < res->ncalls; i++)
			call_result(r, &res->calls[i], "not run: the answer "
			    "was cut before this call was complete", true);
		unusable(r, "cut answer", cut_problem(r));
		return;
	}
	if (res->ncalls > 0) {
		keep_calls(r, res->calls, res->ncalls);
		r->stage = ROUND_TOOLS;
		return;
	}
	/* Text alone: a model that answered in JSON is taken at its word. */
	if (answer_parse(res->text, r->domain, &r->answer, err,
	    sizeof(err)) == 0) {
		answer_free(&r->answer);
		r->stage = ROUND_APPLY;
		return;
	}
	unusable(r, "invalid answer", xasprintf("it called no tool, and its "
	    "text is no JSON answer either (%s). Look at your files with the "
	    "tools, change them, and call finish with your summary and "
	    "interface when the work is done.", err));
}

void
round_answer(struct round *r, const struct llm_result *res)
{
	char *turn;

	add_usage(r, &res->usage);
	if (res->ok && res->model != NULL && res->model[0] != '\0')
		snprintf(r->model, sizeof(r->model), "%s", res->model);
	if (r->cancelled || res->error == LLM_ERR_CANCELLED) {
		fail(r, "model", "cancelled", "cancelled by masterd");
	} else if (!res->ok && llm_result_outage(res)) {
		/* The provider is down past its retries and fallbacks:
		 * nothing is committed, masterd holds the work until it is
		 * up (it was told, provider.report). */
		r->until = res->retry_until;
		end(r, "model", ERR_PROVIDER_DOWN, res->message, true);
	} else if (!res->ok && r->tools && llm_result_tools_refused(res) &&
	    (turn = r->ops->drop_tools(r)) != NULL) {
		log_notice("directive %lld: the model refuses tools (%s): "
		    "JSON answers from now on", (long long)r->directive,
		    res->message);
		r->tools = false;
		free(r->turn);
		r->turn = turn;
		r->stage = ROUND_ASK_MODEL;
	} else if (!res->ok) {
		fail(r, "model", "model", res->message);
	} else {
		free(r->reply);
		r->reply = xstrdup(res->text);
		if (r->tools)
			take_calls(r, res);
		else if (res->truncated)
			unusable(r, "cut answer", cut_problem(r));
		else
			r->stage = ROUND_APPLY;
	}
	resume(r);
}

/* The failed checks' commands and output, for the model. */
static void
print_failures(FILE *f, const struct check_result *res, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (res[i].passed)
			continue;
		fprintf(f, "\n$ %s\n", res[i].command);
		if (res[i].timed_out)
			fprintf(f, "(timed out after %llu ms)\n",
			    (unsigned long long)res[i].duration_ms);
		else if (res[i].term_signal)
			fprintf(f, "(killed by signal %d)\n",
			    res[i].term_signal);
		else
			fprintf(f, "(exit status %d)\n", res[i].exit_status);
		fprintf(f, "%s\n", res[i].output);
	}
}

static char *
checks_feedback(const struct round *r, const struct check_result *res,
    size_t n)
{
	size_t cap = 0;
	char *s = NULL;
	FILE *f = open_memstream(&s, &cap);

	if (f == NULL)
		return NULL;
	fprintf(f, "The checks failed after your change (round %d of %d):\n",
	    r->round, r->lim.max_rounds);
	print_failures(f, res, n);
	fprintf(f, "\nYour changes are still in place. Fix the cause. %s\n",
	    answer_again(r));
	fclose(f);
	return s;
}

/* run_checks as a tool: the outcome is the call's result. */
static void
tool_checks_done(struct round *r, const struct check_result *res, size_t n,
    bool passed)
{
	const struct llm_tool_call *c = &r->calls[r->next_call - 1];
	size_t cap = 0;
	char *s = NULL;
	FILE *f = open_memstream(&s, &cap);

	r->checks_for_tool = false;
	if (f != NULL) {
		fprintf(f, "%s: %zu command%s\n", passed ? "passed" : "FAILED",
		    n, n == 1 ? "" : "s");
		for (size_t i = 0; i < n; i++)
			fprintf(f, "- %s: %s\n", res[i].command,
			    res[i].passed ? "passed" : "failed");
		print_failures(f, res, n);
		fclose(f);
	}
	call_result(r, c, s != NULL ? s : "the checks ran", !passed);
	free(s);
	r->stage = ROUND_TOOLS;
}

void
round_checks_done(struct round *r, const struct check_result *res, size_t n,
    bool passed, bool cancelled)
{
	if (cancelled || r->cancelled) {
		fail(r, "checks", "cancelled", "cancelled by masterd");
		resume(r);
		return;
	}
	/* Nothing ran: not the model's failure, never its feedback. */
	for (size_t i = 0; i < n; i++) {
		if (!res[i].sandbox_failed)
			continue;
		r->checks_for_tool = false;
		fail(r, "checks", ERR_SANDBOX, res[i].output);
		resume(r);
		return;
	}
	if (r->checks_for_tool) {
		tool_checks_done(r, res, n, passed);
		resume(r);
		return;
	}
	json_decref(r->check_json);
	r->check_json = check_results_json(res, n);
	r->ops->progress(r, passed ? "checks passed" : "checks failed", NULL);
	if (passed) {
		r->stage = ROUND_CRITIC;
		resume(r);
		return;
	}
	free(r->feedback);
	r->feedback = checks_feedback(r, res, n);
	if (r->feedback == NULL)
		r->feedback = xstrdup("the checks failed");
	r->fail_stage = "checks";
	r->stage = ROUND_NEXT_ROUND;
	resume(r);
}

/* A round is committed only on a verdict that approves it. */
void
round_verdict(struct round *r, const struct critic_verdict *v)
{
	add_usage(r, &v->usage);
	if (v->model != NULL && v->model[0] != '\0')
		snprintf(r->critic_model, sizeof(r->critic_model), "%s",
		    v->model);
	if (r->cancelled || v->error == LLM_ERR_CANCELLED) {
		fail(r, "critic", "cancelled", "cancelled by masterd");
	} else if (!v->ok) {
		r->until = v->retry_until;
		fail(r, "critic", v->code != NULL ? v->code : "model",
		    v->message);
	} else if (v->complete) {
		r->stage = ROUND_COMMIT;
	} else {
		free(r->feedback);
		r->feedback = xasprintf("A reviewer found the work "
		    "incomplete:\n\n%s\n\nYour changes are still in place. "
		    "Address this. %s", v->feedback != NULL &&
		    v->feedback[0] != '\0' ? v->feedback : "(no details)",
		    answer_again(r));
		r->fail_stage = "critic";
		r->stage = ROUND_NEXT_ROUND;
	}
	resume(r);
}

void
round_cancel(struct round *r)
{
	if (r->cancelled || r->ended)
		return;
	r->cancelled = true;
	/* The completion that follows ends the directive. */
	if (r->waiting)
		r->ops->cancel(r);
}
