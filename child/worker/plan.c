/*
 * plan.c — the planner: the master's own assistant session, run by a
 * masterd-worker started with --role planner.  It answers plan.request
 * messages: "plan" (which domains the task needs, each with a brief, its
 * checks and what it depends on, and the task's integration checks),
 * "review" (after the domains have built and integrated: what to improve
 * next, or that the task is done) and "attribute" (an integration check
 * failed on main: which domains must change what; the files involved are
 * attribute.c's).  Answers are checked for shape (plancheck.c) and sent
 * back to the model with the problem, a bounded number of times; the
 * master checks them again before acting on them.  The planner's model is
 * its own: [planner] over [llm].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child/worker/answer.h"
#include "child/worker/failover.h"
#include "child/worker/plan.h"
#include "child/worker/worker.h"
#include "common/llm/llm.h"
#include "common/log.h"
#include "common/util.h"
#include "proto/msg.h"

struct plan_job {
	struct worker *cx;
	char *kind;
	json_t *context;	/* the request's */
	int invalid;
	struct llm_usage usage;
	char *model;		/* the model that answered last, or NULL */
	const char *code;	/* why it failed: "model", "provider_down" */
	struct llm_request *req;	/* the ask in flight */
};

static void plan_ask(struct plan_job *, const char *text);

static void
plan_finish(struct plan_job *j, json_t *plan, const char *error)
{
	struct worker *cx = j->cx;
	json_t *m = msg_new(MSG_PLAN_RESULT, worker_next_id(cx));

	json_object_set_new(m, "task", json_integer(cx->task));
	json_object_set_new(m, "kind", json_string(j->kind));
	json_object_set_new(m, "ok", json_boolean(plan != NULL));
	if (j->model != NULL)
		json_object_set_new(m, "model", json_string(j->model));
	if (cx->fo->answered[0] != '\0')
		json_object_set_new(m, "provider",
		    json_string(cx->fo->answered));
	json_object_set_new(m, "usage", json_pack("{s:I, s:I, s:I, s:f}",
	    "input", (json_int_t)j->usage.input, "output",
	    (json_int_t)j->usage.output, "cached",
	    (json_int_t)j->usage.cached, "cost", j->usage.cost));
	if (plan != NULL)
		json_object_set_new(m, "plan", plan);
	else
		json_object_set_new(m, "error", json_pack("{s:s, s:s}", "code",
		    j->code != NULL ? j->code : "model", "message", error));
	worker_send(cx, m);
	log_info("%s %s%s", j->kind, plan ? "done" : "failed: ",
	    plan ? "" : error);
	json_decref(j->context);
	free(j->kind);
	free(j->model);
	free(j);
	cx->planning = NULL;
}

/* The provider's name for the model that answered, else the configured
 * one. */
static void
note_model(struct plan_job *j, const struct llm_result *r)
{
	const char *m = r->model != NULL && *r->model != '\0' ? r->model :
	    j->cx->llm.model;

	if (!r->ok || m == NULL)
		return;
	free(j->model);
	j->model = xstrdup(m);
}

static void
on_plan(const struct llm_result *r, void *arg)
{
	struct plan_job *j = arg;
	char err[400], *text;
	json_t *plan;

	j->req = NULL;
	llm_usage_add(&j->usage, &r->usage);
	note_model(j, r);
	if (!r->ok) {
		/* A provider down: masterd holds the request till it is up. */
		if (llm_result_outage(r))
			j->code = ERR_PROVIDER_DOWN;
		plan_finish(j, NULL, r->message);
		return;
	}
	if ((plan = answer_extract_json(r->text, j->kind, err,
	    sizeof(err))) != NULL) {
		if (plan_check(plan, j->kind, j->context, err,
		    sizeof(err)) == 0) {
			plan_finish(j, plan, NULL);
			return;
		}
		json_decref(plan);
	}
	if (++j->invalid > j->cx->max_invalid) {
		plan_finish(j, NULL, err);
		return;
	}
	text = xasprintf("Your answer could not be used: %s\n\nAnswer again "
	    "with exactly one JSON object as your instructions describe.", err);
	plan_ask(j, text);
	free(text);
}

static void
plan_ask(struct plan_job *j, const char *text)
{
	static const struct llm_callbacks cbs = { .on_done = on_plan };
	struct llm_input in = { .text = text };

	worker_progress(j->cx, j->kind, NULL);
	if (failover_send(j->cx->fo, j->cx->session, &in, &cbs, j,
	    &j->req) == NULL)
		plan_finish(j, NULL, "the model could not be asked");
}

void
plan_request(struct worker *cx, const json_t *msg)
{
	const char *kind = json_string_value(json_object_get(msg, "kind"));
	struct plan_job *j;
	char err[512], *turn;

	if (cx->planning != NULL)
		return;
	j = xcalloc(1, sizeof(*j));
	j->cx = cx;
	j->kind = xstrdup(strcmp(kind, "plan") == 0 ? "plan" :
	    strcmp(kind, "attribute") == 0 ? "attribute" : "review");
	j->context = json_deep_copy(json_object_get(msg, "context"));
	cx->planning = j;
	/* The session opens with the planner's model, not the domains'. */
	conf_llm_role(cx->conf, "planner", NULL, &cx->llm);
	if (worker_ensure_session(cx, prompt_planner_system, err,
	    sizeof(err)) != 0) {
		j->code = ERR_SETUP;
		plan_finish(j, NULL, err);
		return;
	}
	turn = prompt_planner_turn(cx, j->kind, j->context);
	if (turn == NULL) {
		plan_finish(j, NULL, "out of memory");
		return;
	}
	plan_ask(j, turn);
	free(turn);
}
