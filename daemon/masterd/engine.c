/*
 * engine.c — the master's brain: what a task does next.
 *
 *  - planning: a task submitted without domains asks the planner (a child
 *    run with --role planner) which domains it needs;
 *  - the interface registry: after every publish, the unresolved set of
 *    the task (consumed but not provided, removed while consumed, changed
 *    under a consumer) becomes directives to the domains that can fix it,
 *    and queued ones that no longer apply are dropped;
 *  - the task's life: planned -> building -> integrating -> improving ->
 *    done, each step taken when the task goes idle;
 *  - budgets (tokens, cost, rounds, wall time) and the no-progress
 *    watchdog: a limit pauses the task and says which; raising it resumes.
 *
 * Everything it decides is written to the registry before it acts on it,
 * so a restarted master picks up where it was.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/iface.h"
#include "common/log.h"
#include "daemon/masterd/engine.h"
#include "daemon/masterd/masterd.h"
#include "daemon/masterd/registry.h"
#include "daemon/masterd/supervise.h"
#include "daemon/masterd/tasks.h"

#define PRIORITY_INTERFACE	5
#define PRIORITY_REVIEW		3

static json_int_t
jint(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static const char *
jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* A spec edit: f changes a copy of the task's spec, which is stored. */
static void
edit_spec(struct masterd *md, int64_t task,
    void (*f)(json_t *spec, const void *arg), const void *arg)
{
	json_t *t = registry_task_get(md->reg, task), *spec;

	if (t == NULL)
		return;
	spec = json_deep_copy(json_object_get(t, "spec"));
	if (!json_is_object(spec)) {
		json_decref(spec);
		spec = json_object();
	}
	f(spec, arg);
	if (registry_task_set_spec(md->reg, task, spec) != 0)
		log_err("task %lld: spec not stored: %s", (long long)task,
		    registry_errmsg(md->reg));
	json_decref(spec);
	json_decref(t);
}

/* ---------------------------------------------------------- unresolved */

/* Every domain's latest interface; {"domain": name} for the silent ones. */
static json_t *
latest_documents(struct masterd *md, int64_t task, json_t **previous)
{
	json_t *doms = registry_domains(md->reg, task), *latest = json_array();
	json_t *d, *v;
	size_t i;

	*previous = json_array();
	json_array_foreach(doms, i, d) {
		int64_t id = jint(d, "id");

		v = registry_interface_get(md->reg, id, 0);
		if (v == NULL) {
			json_array_append_new(latest, json_pack("{s:s}",
			    "domain", jstr(d, "name")));
			continue;
		}
		json_array_append(latest, json_object_get(v, "document"));
		if (jint(v, "version") > 1) {
			json_t *p = registry_interface_get(md->reg, id,
			    (int)jint(v, "version") - 1);

			if (p != NULL)
				json_array_append(*previous,
				    json_object_get(p, "document"));
			json_decref(p);
		}
		json_decref(v);
	}
	json_decref(doms);
	return latest;
}

json_t *
engine_unresolved(struct masterd *md, int64_t task)
{
	json_t *previous, *latest = latest_documents(md, task, &previous);
	json_t *set = iface_unresolved(latest, previous);

	json_decref(latest);
	json_decref(previous);
	return set ? set : json_array();
}

/* Has this domain published anything yet? */
static bool
has_published(const json_t *latest, const char *domain)
{
	const json_t *d;
	size_t i;

	json_array_foreach(latest, i, d) {
		if (strcmp(jstr(d, "domain"), domain) == 0)
			return json_object_get(d, "provides") != NULL;
	}
	return false;
}

/* The directive that fixes one unresolved item, and who gets it. */
static char *
directive_for(const json_t *item, const char **target)
{
	const char *problem = jstr(item, "problem");
	const char *kind = jstr(item, "kind"), *name = jstr(item, "name");
	const char *consumer = jstr(item, "consumer");
	const char *provider = jstr(item, "provider");
	char *s = NULL, *exp = NULL, *got = NULL;
	int n = -1;

	if (strcmp(problem, "missing") == 0) {
		*target = provider;
		n = asprintf(&s, "Provide %s `%s` and publish it in your "
		    "interface: domain %s consumes it from you.", kind, name,
		    consumer);
	} else if (strcmp(problem, "removed") == 0) {
		*target = provider;
		n = asprintf(&s, "Your interface no longer provides %s `%s`, "
		    "but domain %s still consumes it. Provide it again.", kind,
		    name, consumer);
	} else if (strcmp(problem, "changed") == 0) {
		*target = consumer;
		exp = json_dumps(json_object_get(item, "expected"),
		    JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
		got = json_dumps(json_object_get(item, "provided"),
		    JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
		n = asprintf(&s, "Domain %s changed %s `%s`: it now provides "
		    "%s, and you expect %s. Update your code and your consumes "
		    "entry to what it provides.", provider, kind, name,
		    got ? got : "?", exp ? exp : "?");
	} else if (strcmp(problem, "no_domain") == 0) {
		*target = consumer;
		n = asprintf(&s, "You consume %s `%s` from domain %s, which "
		    "this task does not have. Use what the existing domains "
		    "provide instead.", kind, name, provider);
	}
	free(exp);
	free(got);
	return n < 0 ? NULL : s;
}

/* Queued interface directives whose problem is gone are dropped. */
static void
drop_resolved(struct masterd *md, int64_t task, const json_t *wanted)
{
	json_t *dirs = registry_directives(md->reg, task, 0), *d;
	size_t i;

	json_array_foreach(dirs, i, d) {
		const char *src = jstr(d, "source"), *text = jstr(d, "text");

		if (src == NULL || strcmp(src, "interface") != 0 ||
		    strcmp(jstr(d, "state"), DIRECTIVE_QUEUED) != 0 ||
		    json_object_get(wanted, text) != NULL)
			continue;
		registry_directive_set_state(md->reg, jint(d, "id"),
		    DIRECTIVE_DROPPED, "resolved before it ran");
		event_emit(md, task, jstr(d, "domain"), "directive.dropped",
		    json_pack("{s:I, s:s}", "directive", jint(d, "id"),
		    "reason", "resolved before it ran"));
	}
	json_decref(dirs);
}

void
engine_on_publish(struct masterd *md, int64_t task)
{
	json_t *previous, *latest = latest_documents(md, task, &previous);
	json_t *set = iface_unresolved(latest, previous), *item, *d;
	json_t *wanted = json_object();
	char err[256];
	size_t i;

	json_array_foreach(set, i, item) {
		const char *target = NULL;
		char *text = directive_for(item, &target);

		/* A provider still building its first version is not late. */
		if (text != NULL && target != NULL &&
		    (strcmp(jstr(item, "problem"), "missing") != 0 ||
		    has_published(latest, target))) {
			json_object_set_new(wanted, text, json_true());
			if (tasks_add_directive(md, task, target, "interface",
			    text, PRIORITY_INTERFACE, &d, err,
			    sizeof(err)) == 0)
				json_decref(d);
		}
		free(text);
	}
	drop_resolved(md, task, wanted);
	event_emit(md, task, NULL, "interfaces.unresolved",
	    json_pack("{s:I}", "count", (json_int_t)json_array_size(set)));
	json_decref(wanted);
	json_decref(set);
	json_decref(latest);
	json_decref(previous);
}

/* ---------------------------------------------------------- budgets */

struct spend {
	int64_t tokens;
	double cost;
	int64_t rounds;
	int64_t seconds;
};

static void
spent(struct masterd *md, const json_t *task, struct spend *s)
{
	json_t *score = registry_scoreboard(md->reg, jint(task, "id")), *d;
	const json_t *pu;
	size_t i;

	memset(s, 0, sizeof(*s));
	json_array_foreach(score, i, d) {
		s->tokens += jint(d, "tokens_in") + jint(d, "tokens_out");
		s->cost += json_number_value(json_object_get(d, "cost"));
		s->rounds += jint(d, "rounds");
	}
	json_decref(score);
	/* The planner's calls count too. */
	pu = json_object_get(json_object_get(task, "spec"), "planner_usage");
	s->tokens += jint(pu, "input") + jint(pu, "output");
	s->cost += json_number_value(json_object_get(pu, "cost"));
	s->seconds = (int64_t)(time(NULL) -
	    (time_t)json_number_value(json_object_get(task, "created")));
}

/* A limit of the task: its own, else the configured default; 0: none. */
static double
limit(const struct masterd *md, const json_t *task, const char *key)
{
	const json_t *v = json_object_get(json_object_get(json_object_get(task,
	    "spec"), "budget"), key);

	if (json_is_number(v))
		return json_number_value(v);
	if (strcmp(key, "tokens") == 0)
		return (double)md->conf->max_tokens;
	if (strcmp(key, "cost") == 0)
		return md->conf->max_cost;
	if (strcmp(key, "rounds") == 0)
		return (double)md->conf->max_rounds;
	return (double)md->conf->max_time / 1000.0;
}

/* The first limit reached, as a reason, or 0 with why empty. */
static int
over_budget(struct masterd *md, const json_t *task, char *why, size_t len)
{
	struct spend s;
	double l;

	spent(md, task, &s);
	why[0] = '\0';
	if ((l = limit(md, task, "tokens")) > 0 && s.tokens >= l)
		snprintf(why, len, "budget: %lld tokens used, limit %.0f",
		    (long long)s.tokens, l);
	else if ((l = limit(md, task, "cost")) > 0 && s.cost >= l)
		snprintf(why, len, "budget: cost %.4f reached, limit %.4f",
		    s.cost, l);
	else if ((l = limit(md, task, "rounds")) > 0 && s.rounds >= l)
		snprintf(why, len, "budget: %lld rounds run, limit %.0f",
		    (long long)s.rounds, l);
	else if ((l = limit(md, task, "time")) > 0 && s.seconds >= l)
		snprintf(why, len, "budget: %lld s since submit, limit %.0f s",
		    (long long)s.seconds, l);
	return why[0] != '\0';
}

/* The last n rounds of the task all ended without a commit. */
/*
 * The last n rounds since `since` (a round id: the watchdog starts afresh
 * when the user resumes) all ended without a commit.
 */
static bool
stalled(struct masterd *md, int64_t task, int64_t since, int64_t n)
{
	json_t *rounds;
	size_t total, i, counted = 0;
	bool stuck = true;

	if (n <= 0)
		return false;
	rounds = registry_rounds(md->reg, task, 0);
	total = json_array_size(rounds);
	for (i = total; i > 0 && counted < (size_t)n && stuck; i--) {
		const json_t *r = json_array_get(rounds, i - 1);

		if (jint(r, "id") <= since)
			break;
		counted++;
		if (json_is_string(json_object_get(r, "commit")))
			stuck = false;
	}
	json_decref(rounds);
	return stuck && counted == (size_t)n;
}

static void
stop_task_for(struct masterd *md, int64_t task, const char *why)
{
	log_warn("task %lld paused: %s", (long long)task, why);
	tasks_pause_for(md, task, why);
	event_emit(md, task, NULL, "task.limit", json_pack("{s:s}", "reason",
	    why));
}

void
engine_check_limits(struct masterd *md, int64_t task)
{
	json_t *t = registry_task_get(md->reg, task);
	char why[200];

	if (t == NULL || json_is_true(json_object_get(t, "paused")) ||
	    tasks_state_over(jstr(t, "state"))) {
		json_decref(t);
		return;
	}
	if (over_budget(md, t, why, sizeof(why)))
		stop_task_for(md, task, why);
	else if (stalled(md, task, jint(json_object_get(t, "spec"),
	    "progress_since"), md->conf->no_progress_rounds)) {
		snprintf(why, sizeof(why), "no progress: the last %lld rounds "
		    "made no commit", (long long)md->conf->no_progress_rounds);
		stop_task_for(md, task, why);
	}
	json_decref(t);
}

int
engine_set_budget(struct masterd *md, int64_t task, const json_t *budget,
    char *err, size_t errlen)
{
	static const char *const keys[] = { "tokens", "cost", "rounds",
	    "time", NULL };
	json_t *t = registry_task_get(md->reg, task), *spec, *b;
	const char *reason;
	char why[200];
	int rc = 0;

	if (t == NULL) {
		snprintf(err, errlen, "no task %lld", (long long)task);
		return TASKS_ENOENT;
	}
	spec = json_deep_copy(json_object_get(t, "spec"));
	if (!json_is_object(spec)) {
		json_decref(spec);
		spec = json_object();
	}
	if (!json_is_object(b = json_object_get(spec, "budget"))) {
		b = json_object();
		json_object_set_new(spec, "budget", b);
	}
	for (int i = 0; keys[i] != NULL; i++) {
		const json_t *v = json_object_get(budget, keys[i]);

		if (v == NULL)
			continue;
		if (!json_is_number(v) || json_number_value(v) < 0) {
			snprintf(err, errlen, "budget %s must be a number >= 0 "
			    "(0: no limit)", keys[i]);
			rc = TASKS_EINVAL;
			goto out;
		}
		json_object_set(b, keys[i], (json_t *)v);
	}
	if (registry_task_set_spec(md->reg, task, spec) != 0) {
		snprintf(err, errlen, "registry: %s", registry_errmsg(md->reg));
		rc = TASKS_ESTORAGE;
		goto out;
	}
	event_emit(md, task, NULL, "task.budget", json_pack("{s:O}", "budget",
	    b));
	json_decref(t);
	t = registry_task_get(md->reg, task);
	reason = jstr(t, "reason");
	/* Stopped by a limit that no longer holds: go on. */
	if (json_is_true(json_object_get(t, "paused")) && reason != NULL &&
	    strncmp(reason, "budget:", 7) == 0 &&
	    !over_budget(md, t, why, sizeof(why)))
		tasks_set_paused(md, task, false);
out:
	json_decref(spec);
	json_decref(t);
	return rc;
}

/* ---------------------------------------------------------- planner */

static struct child *
planner_of(struct masterd *md, int64_t task)
{
	return child_find(md, task, PLANNER_NAME);
}

/* The planner runs one request at a time; it is started when needed. */
static void
ask_planner(struct masterd *md, int64_t task, const char *kind,
    json_t *context)
{
	struct child *c = planner_of(md, task);

	if (c == NULL) {
		c = child_new(md, task, 0, PLANNER_NAME);
		if (c == NULL) {
			json_decref(context);
			return;
		}
		c->planner = true;
	}
	json_decref(c->plan_request);
	c->plan_request = json_pack("{s:s, s:o}", "kind", kind, "context",
	    context);
	if (c->state == CHILD_RUNNING)
		engine_planner_ready(c);
	else if (!c->proc_running && child_start(c) != 0)
		log_err("task %lld: cannot start the planner: %s",
		    (long long)task, c->reason);
}

void
engine_planner_ready(struct child *c)
{
	json_t *m;

	if (c->plan_request == NULL || c->busy)
		return;
	m = msg_new(MSG_PLAN_REQUEST, masterd_next_id(c->md));
	json_object_set_new(m, "task", json_integer(c->task));
	json_object_set(m, "kind", json_object_get(c->plan_request, "kind"));
	json_object_set(m, "context", json_object_get(c->plan_request,
	    "context"));
	c->busy = true;
	child_send(c, m);
}

static void
plan_context(struct masterd *md, const json_t *task, json_t **ctx)
{
	*ctx = json_pack("{s:s, s:O*}", "task", jstr(task, "text"),
	    "standing_directives", json_object_get(json_object_get(task,
	    "spec"), "directives"));
}

void
engine_plan(struct masterd *md, int64_t task)
{
	json_t *t = registry_task_get(md->reg, task), *ctx;

	if (t == NULL)
		return;
	plan_context(md, t, &ctx);
	ask_planner(md, task, "plan", ctx);
	json_decref(t);
}

/* The rounds worth showing a reviewer: the newest few, in short. */
static json_t *
recent_rounds(struct masterd *md, int64_t task, size_t max)
{
	json_t *all = registry_rounds(md->reg, task, 0), *out = json_array();
	size_t n = json_array_size(all), i;

	for (i = n > max ? n - max : 0; i < n; i++) {
		const json_t *r = json_array_get(all, i);

		json_array_append_new(out, json_pack("{s:s, s:I, s:b, s:s, "
		    "s:s*, s:s*}", "domain", jstr(r, "domain"), "round",
		    jint(r, "round"), "ok", json_is_true(json_object_get(r,
		    "ok")), "stage", jstr(r, "stage"), "summary",
		    jstr(r, "summary"), "error", jstr(r, "error")));
	}
	json_decref(all);
	return out;
}

static void
review(struct masterd *md, const json_t *t)
{
	int64_t task = jint(t, "id");
	json_t *ctx, *dirs = registry_directives(md->reg, task, 0), *d;
	json_t *brief = json_array();
	size_t i;

	json_array_foreach(dirs, i, d)
		json_array_append_new(brief, json_pack("{s:s*, s:s, s:s, s:s}",
		    "domain", jstr(d, "domain"), "source", jstr(d, "source"),
		    "text", jstr(d, "text"), "state", jstr(d, "state")));
	json_decref(dirs);
	plan_context(md, t, &ctx);
	json_object_set_new(ctx, "interfaces",
	    registry_interfaces_latest(md->reg, task));
	json_object_set_new(ctx, "unresolved", engine_unresolved(md, task));
	json_object_set_new(ctx, "scoreboard", registry_scoreboard(md->reg,
	    task));
	json_object_set_new(ctx, "rounds", recent_rounds(md, task, 30));
	json_object_set_new(ctx, "directives", brief);
	ask_planner(md, task, "review", ctx);
}

static void
count_a_review(json_t *spec, const void *arg)
{
	(void)arg;
	json_object_set_new(spec, "reviews", json_integer(jint(spec,
	    "reviews") + 1));
}

static void
keep_plan(json_t *spec, const void *plan)
{
	json_object_set(spec, "plan", (json_t *)plan);
}

static void
add_planned_domains(struct masterd *md, int64_t task, const json_t *list)
{
	const json_t *d;
	char err[256];
	size_t i;

	json_array_foreach(list, i, d) {
		if (tasks_add_planned(md, task, d, err, sizeof(err)) != 0)
			log_warn("task %lld: planned domain %s not added: %s",
			    (long long)task, jstr(d, "name"), err);
	}
}

static void
on_plan(struct masterd *md, int64_t task, const json_t *plan)
{
	edit_spec(md, task, keep_plan, plan);
	event_emit(md, task, NULL, "task.planned", json_pack("{s:O}", "plan",
	    plan));
	add_planned_domains(md, task, json_object_get(plan, "domains"));
	tasks_set_state(md, task, TASK_BUILDING, NULL);
	tasks_kick(md, task);
}

static void
on_review(struct masterd *md, int64_t task, const json_t *rev)
{
	const json_t *list = json_object_get(rev, "directives"), *d;
	char err[256];
	json_t *out;
	size_t i, added = 0;

	event_emit(md, task, NULL, "task.reviewed", json_pack("{s:O}",
	    "review", rev));
	add_planned_domains(md, task, json_object_get(rev, "domains"));
	json_array_foreach(list, i, d) {
		if (tasks_add_directive(md, task, jstr(d, "domain"), "review",
		    jstr(d, "text"), json_is_integer(json_object_get(d,
		    "priority")) ? (int)jint(d, "priority") : PRIORITY_REVIEW,
		    &out, err, sizeof(err)) != 0) {
			log_warn("task %lld: review directive not added: %s",
			    (long long)task, err);
			continue;
		}
		json_decref(out);
		added++;
	}
	if (added == 0 && json_is_true(json_object_get(rev, "done")))
		tasks_finish(md, task, TASK_DONE, "the review found the task "
		    "complete");
	else
		tasks_kick(md, task);
}

static void
add_planner_usage(json_t *spec, const void *arg)
{
	const json_t *u = arg;
	json_t *sum = json_object_get(spec, "planner_usage");

	if (!json_is_object(sum)) {
		sum = json_pack("{s:I, s:I, s:f}", "input", (json_int_t)0,
		    "output", (json_int_t)0, "cost", 0.0);
		json_object_set_new(spec, "planner_usage", sum);
	}
	json_object_set_new(sum, "input", json_integer(jint(sum, "input") +
	    jint(u, "input")));
	json_object_set_new(sum, "output", json_integer(jint(sum, "output") +
	    jint(u, "output")));
	json_object_set_new(sum, "cost", json_real(json_number_value(
	    json_object_get(sum, "cost")) + json_number_value(
	    json_object_get(u, "cost"))));
}

static void
count_planner_usage(struct masterd *md, int64_t task, const json_t *usage)
{
	if (json_is_object(usage))
		edit_spec(md, task, add_planner_usage, usage);
}

static void
mark_progress_from(json_t *spec, const void *arg)
{
	json_object_set_new(spec, "progress_since",
	    json_integer(*(const int64_t *)arg));
}

void
engine_resumed(struct masterd *md, int64_t task)
{
	json_t *rounds = registry_rounds(md->reg, task, 0);
	int64_t last = jint(json_array_get(rounds, json_array_size(rounds) -
	    1), "id");

	json_decref(rounds);
	edit_spec(md, task, mark_progress_from, &last);
}

void
engine_plan_result(struct child *c, const json_t *msg)
{
	struct masterd *md = c->md;
	const char *kind = jstr(msg, "kind");
	const char *why = jstr(json_object_get(msg, "error"), "message");

	c->busy = false;
	json_decref(c->plan_request);
	c->plan_request = NULL;
	count_planner_usage(md, c->task, json_object_get(msg, "usage"));
	if (!json_is_true(json_object_get(msg, "ok"))) {
		log_err("task %lld: the planner's %s failed: %s",
		    (long long)c->task, kind, why ? why : "?");
		if (strcmp(kind, "plan") == 0)
			tasks_finish(md, c->task, TASK_FAILED,
			    why ? why : "planning failed");
		else
			tasks_finish(md, c->task, TASK_DONE, "review "
			    "unavailable; the work stands as it is");
		return;
	}
	if (strcmp(kind, "plan") == 0)
		on_plan(md, c->task, json_object_get(msg, "plan"));
	else
		on_review(md, c->task, json_object_get(msg, "plan"));
}

/* ---------------------------------------------------------- life */

/* Directives still queued or running for the task. */
static size_t
open_directives(struct masterd *md, int64_t task, size_t *done)
{
	json_t *dirs = registry_directives(md->reg, task, 0), *d;
	size_t i, n = 0;

	*done = 0;
	json_array_foreach(dirs, i, d) {
		const char *s = jstr(d, "state");

		if (strcmp(s, DIRECTIVE_QUEUED) == 0 ||
		    strcmp(s, DIRECTIVE_RUNNING) == 0)
			n++;
		else if (strcmp(s, DIRECTIVE_DONE) == 0)
			(*done)++;
	}
	json_decref(dirs);
	return n;
}

void
engine_idle(struct masterd *md, int64_t task)
{
	json_t *t = registry_task_get(md->reg, task), *set;
	struct child *p = planner_of(md, task);
	const char *state;
	size_t done;

	if (t == NULL || json_is_true(json_object_get(t, "paused")) ||
	    (p != NULL && p->busy) ||
	    open_directives(md, task, &done) > 0)
		goto out;
	state = jstr(t, "state");
	if (strcmp(state, TASK_BUILDING) == 0) {
		if (done == 0) {
			tasks_finish(md, task, TASK_FAILED, "no directive "
			    "succeeded; see masterctl task");
			goto out;
		}
		tasks_set_state(md, task, TASK_INTEGRATING, NULL);
		engine_on_publish(md, task);
		if (open_directives(md, task, &done) > 0)
			goto out;
		state = TASK_INTEGRATING;
	}
	if (strcmp(state, TASK_INTEGRATING) == 0) {
		set = engine_unresolved(md, task);
		if (json_array_size(set) > 0) {
			/* Only what no directive can fix is left. */
			log_warn("task %lld: %zu interface problems remain",
			    (long long)task, json_array_size(set));
		}
		json_decref(set);
		tasks_set_state(md, task, TASK_IMPROVING, NULL);
		state = TASK_IMPROVING;
	}
	if (strcmp(state, TASK_IMPROVING) == 0) {
		/* No reviews: the task waits for its user's directives. */
		if (md->conf->max_reviews == 0)
			goto out;
		if (jint(json_object_get(t, "spec"), "reviews") >=
		    md->conf->max_reviews) {
			tasks_finish(md, task, TASK_DONE, "reviews used up");
			goto out;
		}
		edit_spec(md, task, count_a_review, NULL);
		review(md, t);
	}
out:
	json_decref(t);
}
