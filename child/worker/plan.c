/*
 * plan.c — the planner: the master's own assistant session, run by a
 * masterd-worker started with --role planner.  It answers plan.request
 * messages: "plan" (which domains the task needs, each with a brief, its
 * checks and what it depends on) and "review" (after the domains have
 * built and integrated: what to improve next, or that the task is done).
 * Answers are checked here for shape and sent back to the model with the
 * problem, a bounded number of times; the master checks them again before
 * acting on them.  The planner's model is its own: [planner] over [llm].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child/worker/answer.h"
#include "child/worker/worker.h"
#include "common/llm/llm.h"
#include "common/log.h"
#include "common/shape.h"
#include "common/util.h"
#include "proto/msg.h"

#define PLAN_DOMAINS_MAX 16
#define REVIEW_DIRECTIVES_MAX 32

struct plan_job {
	struct worker *cx;
	char *kind;
	int invalid;
	struct llm_usage usage;
	char *model;		/* the model that answered last, or NULL */
};

static void plan_ask(struct plan_job *, const char *text);

/* ------------------------------------------------------------ shapes */

#define END	{ .name = NULL }

static const struct shape_field a_string = { .types = FT_STRING };
static const struct shape_field domain_fields[] = {
	{ .name = "name", .types = FT_STRING, .required = true },
	{ .name = "prompt", .types = FT_STRING },
	{ .name = "checks", .types = FT_ARRAY, .max_items = 20,
	    .items = &a_string },
	{ .name = "depends", .types = FT_ARRAY, .max_items = PLAN_DOMAINS_MAX,
	    .items = &a_string },
	END
};
static const struct shape_field a_domain = {
	.types = FT_OBJECT, .flags = SHAPE_NULL_ABSENT, .members = domain_fields
};
static const struct shape_field plan_fields[] = {
	{ .name = "domains", .types = FT_ARRAY, .required = true,
	    .min_items = 1, .max_items = PLAN_DOMAINS_MAX, .items = &a_domain },
	END
};
static const struct shape_field plan_shape = {
	.types = FT_OBJECT, .flags = SHAPE_NULL_ABSENT, .members = plan_fields
};
static const struct shape_field directive_fields[] = {
	{ .name = "domain", .types = FT_STRING, .required = true },
	{ .name = "text", .types = FT_STRING, .required = true, .min_len = 1 },
	END
};
static const struct shape_field a_directive = {
	.types = FT_OBJECT, .members = directive_fields
};
static const struct shape_field review_fields[] = {
	{ .name = "done", .types = FT_BOOL, .required = true,
	    .when_missing = "(true or false)" },
	{ .name = "directives", .types = FT_ARRAY,
	    .max_items = REVIEW_DIRECTIVES_MAX, .items = &a_directive },
	{ .name = "domains", .types = FT_ARRAY, .max_items = PLAN_DOMAINS_MAX,
	    .items = &a_domain },
	END
};
static const struct shape_field review_shape = {
	.types = FT_OBJECT, .flags = SHAPE_NULL_ABSENT, .members = review_fields
};

#undef END

/* The domains' names, once their shape is right. */
static int
check_names(const json_t *list, char *err, size_t len)
{
	const json_t *d;
	const char *name;
	size_t i;

	json_array_foreach(list, i, d) {
		name = json_string_value(json_object_get(d, "name"));
		if (!conf_domain_name_ok(name) || strcmp(name, "planner") == 0)
			return shape_error(err, len, "domains[%zu].name: must "
			    "be 1-32 of a-z 0-9 - _, starting with a letter, "
			    "and not \"planner\"", i);
	}
	return 0;
}

/* A plan or a review from the model: 0, or -1 with what to mend. */
static int
check_plan(const json_t *plan, const char *kind, char *err, size_t len)
{
	bool is_plan = strcmp(kind, "plan") == 0;

	if (!json_is_object(plan))
		return shape_error(err, len, "the %s must be a JSON object, "
		    "not %s", kind, shape_type_of(plan));
	if (shape_check(plan, is_plan ? &plan_shape : &review_shape, err,
	    len) == -1)
		return -1;
	return check_names(json_object_get(plan, "domains"), err, len);
}

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
	json_object_set_new(m, "usage", json_pack("{s:I, s:I, s:I, s:f}",
	    "input", (json_int_t)j->usage.input, "output",
	    (json_int_t)j->usage.output, "cached",
	    (json_int_t)j->usage.cached, "cost", j->usage.cost));
	if (plan != NULL)
		json_object_set_new(m, "plan", plan);
	else
		json_object_set_new(m, "error", json_pack("{s:s}", "message",
		    error));
	worker_send(cx, m);
	log_info("%s %s%s", j->kind, plan ? "done" : "failed: ",
	    plan ? "" : error);
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

	llm_usage_add(&j->usage, &r->usage);
	note_model(j, r);
	if (!r->ok) {
		plan_finish(j, NULL, r->message);
		return;
	}
	if ((plan = answer_extract_json(r->text, j->kind, err,
	    sizeof(err))) != NULL) {
		if (check_plan(plan, j->kind, err, sizeof(err)) == 0) {
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

	worker_progress(j->cx, j->kind, NULL);
	if (llm_session_send(j->cx->session, text, &cbs, j) == NULL)
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
	j->kind = xstrdup(strcmp(kind, "plan") == 0 ? "plan" : "review");
	cx->planning = j;
	/* The session opens with the planner's model, not the domains'. */
	conf_llm_role(cx->conf, "planner", NULL, &cx->llm);
	if (worker_ensure_session(cx, prompt_planner_system, err,
	    sizeof(err)) != 0) {
		plan_finish(j, NULL, err);
		return;
	}
	turn = prompt_planner_turn(cx, j->kind, json_object_get(msg,
	    "context"));
	if (turn == NULL) {
		plan_finish(j, NULL, "out of memory");
		return;
	}
	plan_ask(j, turn);
	free(turn);
}
