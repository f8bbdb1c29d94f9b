/*
 * plan.c — the planner: the master's own assistant session, run by a
 * masterd-child started with --role planner.  It answers plan.request
 * messages: "plan" (which domains the task needs, each with a brief, its
 * checks and what it depends on) and "review" (after the domains have
 * built and integrated: what to improve next, or that the task is done).
 * Answers are checked here for shape and sent back to the model with the
 * problem, a bounded number of times; the master checks them again before
 * acting on them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child/worker/answer.h"
#include "child/worker/worker.h"
#include "common/llm/llm.h"
#include "common/log.h"
#include "proto/msg.h"

#define PLAN_DOMAINS_MAX 16
#define REVIEW_DIRECTIVES_MAX 32

struct plan_job {
	struct worker *cx;
	char *kind;
	int invalid;
	struct llm_usage usage;
};

static void plan_ask(struct plan_job *, const char *text);

static int
bad(char *err, size_t len, const char *what, size_t i, const char *why)
{
	snprintf(err, len, "%s[%zu]: %s", what, i, why);
	return -1;
}

static bool
string_list(const json_t *v, size_t max)
{
	const json_t *s;
	size_t i;

	if (v == NULL || json_is_null(v))
		return true;
	if (!json_is_array(v) || json_array_size(v) > max)
		return false;
	json_array_foreach(v, i, s) {
		if (!json_is_string(s))
			return false;
	}
	return true;
}

static int
check_domains(const json_t *list, size_t min, char *err, size_t len)
{
	const json_t *d;
	size_t i;

	if (list == NULL && min == 0)
		return 0;
	if (!json_is_array(list) || json_array_size(list) < min ||
	    json_array_size(list) > PLAN_DOMAINS_MAX) {
		snprintf(err, len, "\"domains\" must be an array of %zu to %d "
		    "domains", min, PLAN_DOMAINS_MAX);
		return -1;
	}
	json_array_foreach(list, i, d) {
		const char *name = json_string_value(json_object_get(d, "name"));

		if (!json_is_object(d))
			return bad(err, len, "domains", i, "not an object");
		if (!conf_domain_name_ok(name) || strcmp(name, "planner") == 0)
			return bad(err, len, "domains", i, "\"name\" must be "
			    "1-32 of a-z 0-9 - _, starting with a letter, and "
			    "not \"planner\"");
		if (!string_list(json_object_get(d, "checks"), 20) ||
		    !string_list(json_object_get(d, "depends"), PLAN_DOMAINS_MAX))
			return bad(err, len, "domains", i, "\"checks\" and "
			    "\"depends\" must be arrays of strings");
		if (json_object_get(d, "prompt") != NULL &&
		    !json_is_string(json_object_get(d, "prompt")))
			return bad(err, len, "domains", i, "\"prompt\" must be "
			    "a string");
	}
	return 0;
}

static int
check_review(const json_t *r, char *err, size_t len)
{
	const json_t *list = json_object_get(r, "directives"), *d;
	size_t i;

	if (!json_is_boolean(json_object_get(r, "done"))) {
		snprintf(err, len, "\"done\" must be true or false");
		return -1;
	}
	if (list != NULL && (!json_is_array(list) ||
	    json_array_size(list) > REVIEW_DIRECTIVES_MAX)) {
		snprintf(err, len, "\"directives\" must be an array of at most "
		    "%d directives", REVIEW_DIRECTIVES_MAX);
		return -1;
	}
	json_array_foreach(list, i, d) {
		if (!json_is_string(json_object_get(d, "domain")) ||
		    !json_is_string(json_object_get(d, "text")) ||
		    json_string_length(json_object_get(d, "text")) == 0)
			return bad(err, len, "directives", i, "needs a "
			    "\"domain\" and a non-empty \"text\"");
	}
	return check_domains(json_object_get(r, "domains"), 0, err, len);
}

static void
plan_finish(struct plan_job *j, json_t *plan, const char *error)
{
	struct worker *cx = j->cx;
	json_t *m = msg_new(MSG_PLAN_RESULT, worker_next_id(cx));

	json_object_set_new(m, "task", json_integer(cx->task));
	json_object_set_new(m, "kind", json_string(j->kind));
	json_object_set_new(m, "ok", json_boolean(plan != NULL));
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
	free(j);
	cx->planning = NULL;
}

static void
on_plan(const struct llm_result *r, void *arg)
{
	struct plan_job *j = arg;
	char err[400], *text;
	json_t *plan;
	int rc;

	llm_usage_add(&j->usage, &r->usage);
	if (!r->ok) {
		plan_finish(j, NULL, r->message);
		return;
	}
	if ((plan = answer_extract_json(r->text, j->kind, err,
	    sizeof(err))) != NULL) {
		rc = strcmp(j->kind, "plan") == 0 ?
		    check_domains(json_object_get(plan, "domains"), 1, err,
		    sizeof(err)) : check_review(plan, err, sizeof(err));
		if (rc == 0) {
			plan_finish(j, plan, NULL);
			return;
		}
		json_decref(plan);
	}
	if (++j->invalid > j->cx->max_invalid) {
		plan_finish(j, NULL, err);
		return;
	}
	if (asprintf(&text, "Your answer could not be used: %s\n\nAnswer "
	    "again with exactly one JSON object as your instructions "
	    "describe.", err) < 0) {
		plan_finish(j, NULL, "out of memory");
		return;
	}
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

static int
ensure_planner_session(struct worker *cx, char *err, size_t errlen)
{
	char *system;

	if (cx->session != NULL)
		return 0;
	if ((system = prompt_planner_system(cx, err, errlen)) == NULL)
		return -1;
	return worker_open_session(cx, system, err, errlen);
}

void
plan_request(struct worker *cx, const json_t *msg)
{
	const char *kind = json_string_value(json_object_get(msg, "kind"));
	struct plan_job *j;
	char err[512], *turn;

	if (cx->planning != NULL || (j = calloc(1, sizeof(*j))) == NULL)
		return;
	j->cx = cx;
	j->kind = strdup(strcmp(kind, "plan") == 0 ? "plan" : "review");
	cx->planning = j;
	if (ensure_planner_session(cx, err, sizeof(err)) != 0) {
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
