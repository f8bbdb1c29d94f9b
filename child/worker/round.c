/*
 * round.c — the stages of a directive's rounds and the decisions between
 * them: which answer is usable, when a round is rejected and the model
 * asked again, when the directive ends and how it is reported.  The work
 * of each stage is done through struct round_ops (see round.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child/worker/round.h"
#include "common/iface.h"
#include "common/log.h"
#include "common/util.h"

static const char *const stage_names[ROUND_NSTAGES] = {
	[ROUND_ASK_MODEL] = "ask_model",
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
    int64_t directive, const char *text)
{
	struct round *r = xcalloc(1, sizeof(*r));

	r->ops = ops;
	r->arg = arg;
	r->lim = *lim;
	r->domain = domain;
	r->task = task;
	r->directive = directive;
	r->text = xstrdup(text != NULL ? text : "");
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

void
round_free(struct round *r)
{
	if (r == NULL)
		return;
	forget_answer(r);
	json_decref(r->check_json);
	json_decref(r->iface);
	free(r->text);
	free(r->turn);
	free(r->reply);
	free(r->problem);
	free(r->feedback);
	free(r->error);
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

static void
stage_apply(struct round *r)
{
	char err[512], *refused;

	forget_answer(r);
	if (answer_parse(r->reply, r->domain, &r->answer, err,
	    sizeof(err)) != 0) {
		free(r->problem);
		r->problem = xstrdup(err);
		r->fail_stage = "invalid answer";
		r->stage = ROUND_RETRY;
		return;
	}
	r->have_answer = true;
	if ((refused = r->ops->apply_files(r, &r->answer)) != NULL) {
		log_warn("directive %lld: %s", (long long)r->directive,
		    refused);
		r->ops->roll_back(r, "refused");
		free(r->problem);
		r->problem = refused;
		r->fail_stage = "refused path";
		r->stage = ROUND_RETRY;
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
	r->turn = xasprintf("Your answer could not be used: %s\n\nAnswer "
	    "again with exactly one JSON object as your instructions "
	    "describe.", r->problem);
	r->stage = ROUND_ASK_MODEL;
}

static void
stage_checks(struct round *r)
{
	int rc;

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
	message = xasprintf("%.72s\n\n%s\n\nMasterd-Directive: %lld\n"
	    "Masterd-Round: %lld/%d\n", r->text, r->answer.summary,
	    (long long)r->directive, (long long)r->directive, r->round);
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
		r->ops->publish(r, r->iface);
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
		end(r, r->fail_stage, r->fail_stage, why, false);
		return;
	}
	m = round_body(r, r->round, false, r->fail_stage);
	json_object_set_new(m, "error", json_pack("{s:s}", "message",
	    feedback));
	r->ops->report(r, m);
	r->round++;
	r->invalid = 0;
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

void
round_answer(struct round *r, const struct llm_result *res)
{
	add_usage(r, &res->usage);
	if (r->cancelled || res->error == LLM_ERR_CANCELLED) {
		fail(r, "model", "cancelled", "cancelled by masterd");
	} else if (!res->ok && res->error == LLM_ERR_RATE_LIMITED) {
		/* Nothing was written; the master holds us until then. */
		r->until = res->retry_until;
		end(r, "model", "rate_limited", res->message, true);
	} else if (!res->ok) {
		fail(r, "model", "model", res->message);
	} else {
		free(r->reply);
		r->reply = xstrdup(res->text);
		r->stage = ROUND_APPLY;
	}
	resume(r);
}

static char *
checks_feedback(const struct check_result *res, size_t n, int round,
    int max)
{
	size_t cap = 0;
	char *s = NULL;
	FILE *f = open_memstream(&s, &cap);

	if (f == NULL)
		return NULL;
	fprintf(f, "The checks failed after your change (round %d of %d):\n",
	    round, max);
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
	fprintf(f, "\nFix the cause and answer with the JSON object again.\n");
	fclose(f);
	return s;
}

void
round_checks_done(struct round *r, const struct check_result *res, size_t n,
    bool passed, bool cancelled)
{
	json_decref(r->check_json);
	r->check_json = check_results_json(res, n);
	if (cancelled || r->cancelled) {
		fail(r, "checks", "cancelled", "cancelled by masterd");
		resume(r);
		return;
	}
	r->ops->progress(r, passed ? "checks passed" : "checks failed", NULL);
	if (passed) {
		r->stage = ROUND_CRITIC;
		resume(r);
		return;
	}
	free(r->feedback);
	r->feedback = checks_feedback(res, n, r->round, r->lim.max_rounds);
	if (r->feedback == NULL)
		r->feedback = xstrdup("the checks failed");
	r->ops->roll_back(r, "checks");
	r->fail_stage = "checks";
	r->stage = ROUND_NEXT_ROUND;
	resume(r);
}

void
round_verdict(struct round *r, const struct llm_result *res)
{
	char err[256], *feedback = NULL;
	bool complete;

	add_usage(r, &res->usage);
	if (r->cancelled || res->error == LLM_ERR_CANCELLED) {
		fail(r, "critic", "cancelled", "cancelled by masterd");
		resume(r);
		return;
	}
	if (!res->ok) {
		fail(r, "critic", res->error == LLM_ERR_RATE_LIMITED ?
		    "rate_limited" : "model", res->message);
		resume(r);
		return;
	}
	if (verdict_parse(res->text, &complete, &feedback, err,
	    sizeof(err)) != 0) {
		/* The checks passed; an unreadable review does not undo that. */
		log_warn("critic: unreadable verdict (%s); accepting", err);
		complete = true;
	}
	if (complete) {
		r->stage = ROUND_COMMIT;
	} else {
		free(r->feedback);
		r->feedback = xasprintf("A reviewer found the work "
		    "incomplete:\n\n%s\n\nAddress this and answer with the "
		    "JSON object again.", feedback ? feedback : "(no details)");
		r->ops->roll_back(r, "critic");
		r->fail_stage = "critic";
		r->stage = ROUND_NEXT_ROUND;
	}
	free(feedback);
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
