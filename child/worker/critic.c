/*
 * critic.c — the reviewer of a domain's round: its own session on the
 * critic's model ([critic] over [llm]), the round's diff fitted to that
 * model's window (critic_diff.c), and a verdict that is read, never
 * guessed: an answer that is not a verdict is asked for again in the
 * same session, and after CRITIC_MAX_ASKS asks the round has none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child/worker/answer.h"
#include "child/worker/critic.h"
#include "child/worker/failover.h"
#include "child/worker/worker.h"
#include "common/log.h"
#include "common/repo.h"
#include "common/util.h"
#include "proto/vocab.h"

/* The most of the change read from git; critic_fit_diff does the rest. */
#define CRITIC_DIFF_MAX		(4 * 1024 * 1024)
/* A token is taken as 3 bytes, as llm_tokens_estimate does. */
#define CRITIC_BYTES_PER_TOKEN	3
/* Kept free per extra ask: an unreadable answer and the ask again. */
#define CRITIC_REASK_TOKENS	1024
/* The messages' own overhead, and rounding. */
#define CRITIC_OVERHEAD_TOKENS	64

struct critic {
	struct worker *cx;
	struct llm_conf conf;		/* the critic's; strings borrowed */
	struct llm_session *session;
	struct failover fo;		/* the critic's providers */
	struct llm_request *req;	/* the ask in flight */
	critic_done_fn *done;
	void *arg;
	unsigned asks;
	struct llm_usage usage;		/* every ask summed */
	char *model;			/* the model that answered last */
};

static void on_answer(const struct llm_result *, void *);

static const struct llm_callbacks critic_cbs = { .on_done = on_answer };

/* ------------------------------------------------------------ decisions */

enum critic_step
critic_next(const struct llm_result *res, unsigned asks,
    struct critic_verdict *v, char **text)
{
	char why[256], *feedback = NULL;
	bool complete;

	memset(v, 0, sizeof(*v));
	*text = NULL;
	v->feedback = v->model = "";
	if (res->error == LLM_ERR_CANCELLED) {
		v->code = "cancelled";
		v->message = "cancelled by masterd";
		v->error = res->error;
		return CRITIC_STEP_DONE;
	}
	if (!res->ok) {
		/* Nothing to judge by: the round fails as the call did. */
		v->code = llm_result_outage(res) ? ERR_PROVIDER_DOWN : "model";
		v->message = *text = xstrdup(res->message != NULL ?
		    res->message : "the critic's call failed");
		v->error = res->error;
		v->retry_until = res->retry_until;
		return CRITIC_STEP_DONE;
	}
	if (verdict_parse(res->text, &complete, &feedback, why,
	    sizeof(why)) == 0) {
		v->ok = true;
		v->complete = complete;
		if (feedback != NULL)
			v->feedback = *text = feedback;
		return CRITIC_STEP_DONE;
	}
	if (res->truncated)
		snprintf(why, sizeof(why), "it was cut at the length limit");
	if (asks >= CRITIC_MAX_ASKS) {
		v->code = "unreadable_verdict";
		v->message = *text = xasprintf("the critic gave no verdict "
		    "in %u asks: %s", asks, why);
		return CRITIC_STEP_DONE;
	}
	*text = xasprintf("Your answer was not a verdict: %s. Answer with "
	    "one JSON object {\"complete\": true or false, \"feedback\": "
	    "\"what is missing or wrong\"}%s.", why, res->truncated ?
	    ", and keep the feedback short" : "");
	return CRITIC_STEP_ASK;
}

/* ------------------------------------------------------------ budget */

/*
 * The bytes of diff the first ask may carry: what a request may hold
 * (the window less the answer), less the room the asks after it may
 * need, the messages' overhead and `rest`, the bytes of the turn without
 * the diff and of the system prompt.  Tokens are counted as the
 * provider layer estimates them, 3 bytes each.
 */
static size_t
diff_budget(const struct critic *c, size_t rest)
{
	/* The session knows the window and the answer's share, defaults
	 * included. */
	int64_t tokens = (int64_t)llm_session_budget(c->session);
	size_t bytes;

	tokens -= (int64_t)(CRITIC_MAX_ASKS - 1) * CRITIC_REASK_TOKENS +
	    CRITIC_OVERHEAD_TOKENS;
	bytes = tokens > 0 ? (size_t)tokens * CRITIC_BYTES_PER_TOKEN : 0;
	return bytes > rest ? bytes - rest : 0;
}

/* The first turn: the directive, the checks and the diff that fits. */
static char *
first_turn(struct critic *c, const char *system, const json_t *directive,
    const json_t *checks)
{
	char *diff = NULL, *fitted, *bare, *turn, err[256];
	size_t budget;

	if (repo_diff(c->cx->worktree, c->cx->domain, CRITIC_DIFF_MAX, &diff,
	    err, sizeof(err)) != 0)
		log_warn("diff for the critic: %s", err);
	bare = prompt_critic_turn(c->cx, directive, "", checks);
	budget = diff_budget(c, strlen(bare) + strlen(system));
	free(bare);
	fitted = critic_fit_diff(diff != NULL ? diff : "", budget);
	if (diff != NULL && strlen(fitted) < strlen(diff))
		log_info("critic: the diff of %zu bytes shown as %zu (budget "
		    "%zu)", strlen(diff), strlen(fitted), budget);
	turn = prompt_critic_turn(c->cx, directive, fitted, checks);
	free(diff);
	free(fitted);
	return turn;
}

/* ------------------------------------------------------------ the asks */

static void
critic_free(struct critic *c)
{
	llm_session_free(c->session);
	failover_free(&c->fo);
	free(c->model);
	free(c);
}

/* The provider's name for the model that answered, else the conf's. */
static void
note_model(struct critic *c, const struct llm_result *res)
{
	const char *m = res->model != NULL && *res->model != '\0' ?
	    res->model : c->conf.model;

	if (!res->ok || m == NULL)
		return;
	free(c->model);
	c->model = xstrdup(m);
}

static void
finish(struct critic *c, struct critic_verdict *v)
{
	v->usage = c->usage;
	v->model = c->model != NULL ? c->model : "";
	if (!v->ok)
		log_warn("critic: no verdict (%s): %s", v->code, v->message);
	c->done(v, c->arg);
	critic_free(c);
}

/* One ask, through the critic's providers; c->req NULL if not sent. */
static void
ask(struct critic *c, const char *text)
{
	struct llm_input in = { .text = text };

	(void)failover_send(&c->fo, c->session, &in, &critic_cbs, c, &c->req);
}

static void
on_answer(const struct llm_result *res, void *arg)
{
	struct critic *c = arg;
	struct critic_verdict v;
	char *text;

	c->req = NULL;
	llm_usage_add(&c->usage, &res->usage);
	note_model(c, res);
	if (critic_next(res, c->asks, &v, &text) == CRITIC_STEP_ASK) {
		log_warn("critic: answer %u was not a verdict; asking again",
		    c->asks);
		ask(c, text);
		free(text);
		if (c->req != NULL) {
			c->asks++;
			return;
		}
		memset(&v, 0, sizeof(v));
		v.feedback = "";
		v.code = "model";
		v.message = "the critic could not be asked again";
		v.error = LLM_ERR_INVALID;
		text = NULL;
	}
	finish(c, &v);
	free(text);
}

struct critic *
critic_ask(struct worker *cx, const json_t *directive, const json_t *checks,
    critic_done_fn *done, void *arg, const char **code, char *err,
    size_t errlen)
{
	struct critic *c;
	char *system, *turn;

	if ((system = prompt_critic_system(cx, err, errlen)) == NULL) {
		*code = "config";
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->cx = cx;
	c->done = done;
	c->arg = arg;
	conf_llm_role(cx->conf, "critic", cx->domain, &c->conf);
	c->session = llm_session_new(cx->engine, &c->conf, system, err,
	    errlen);
	if (c->session == NULL) {
		free(system);
		free(c);
		*code = "model";
		return NULL;
	}
	failover_init(&c->fo, cx, "critic");
	turn = first_turn(c, system, directive, checks);
	free(system);
	ask(c, turn);
	free(turn);
	if (c->req == NULL) {
		critic_free(c);
		*code = "model";
		snprintf(err, errlen, "the critic could not be asked");
		return NULL;
	}
	c->asks = 1;
	return c;
}

void
critic_cancel(struct critic *c)
{
	/* The call's on_done (cancelled) ends the critic. */
	if (c->req != NULL)
		llm_request_cancel(c->req);
}
