/*
 * task_dispatch.c — work going out to children, and the step.
 *
 * Out to children: task.assign when a domain's child is ready, its peers'
 * interfaces, each idle child's next queued directive (providers before
 * consumers), cancel when a task pauses, the planner's plan and review
 * requests.  The step (run once per loop turn for a task marked dirty,
 * see task.c) hands out work, then takes the task's next step in life as
 * task_decide.c says; the housekeeping tick checks time budgets and puts
 * back directives no child works on.  A step after task_look looks at the
 * queued children alone, one after task_mark at all of them: what it
 * costs does not grow with the task when one child changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/masterd/masterd.h"
#include "daemon/masterd/provider.h"
#include "daemon/masterd/supervise.h"
#include "daemon/masterd/task.h"
#include "daemon/masterd/task_decide.h"
#include "daemon/masterd/tasks.h"

/* ---------------------------------------------------------- assign */

/*
 * The publisher's new interface, to each other domain of the task as an
 * update: the one that changed, not every interface (which made a publish
 * at N domains cost N^2 interfaces).  A child that starts gets the whole
 * set with task.assign.
 */
void
task_send_peers(struct task *t, const char *publisher)
{
	struct masterd *md = t->md;
	struct domain *d = domain_find(t, publisher);
	struct child *c;
	json_t *m, *changed;

	if (d == NULL || d->iface == NULL)
		return;
	changed = json_pack("[O]", d->iface);
	TAILQ_FOREACH(c, &md->children, entry) {
		if (c->task != t->id || c->state != CHILD_RUNNING ||
		    c->role != ROLE_DOMAIN || strcmp(c->name, publisher) == 0)
			continue;
		m = msg_new(MSG_INTERFACE_PEERS, masterd_next_id(md));
		json_object_set_new(m, "task", json_integer(t->id));
		json_object_set(m, "peers", changed);
		json_object_set_new(m, "update", json_true());
		child_send(c, m);
	}
	json_decref(changed);
}

void
task_assign(struct child *c)
{
	struct masterd *md = c->md;
	struct task *t = task_find(md, c->task);
	struct domain *d = domain_find(t, c->name);
	json_t *m;

	if (t == NULL || d == NULL)
		return;
	m = msg_new(MSG_TASK_ASSIGN, masterd_next_id(md));
	json_object_set_new(m, "task", json_integer(t->id));
	json_object_set_new(m, "text", json_string(t->text));
	json_object_set_new(m, "domain", json_string(c->name));
	if (d->folder != NULL)
		json_object_set_new(m, "folder", json_string(d->folder));
	if (d->prompt != NULL)
		json_object_set_new(m, "prompt", json_string(d->prompt));
	if (d->checks != NULL)
		json_object_set(m, "checks", d->checks);
	json_object_set(m, "directives", t->standing);
	if (t->budget.set != 0)
		json_object_set_new(m, "budget", budget_describe(&t->budget));
	json_object_set_new(m, "peers", task_interfaces(t, c->name));
	child_send(c, m);
	task_look(t, c);
}

void
tasks_child_released(struct child *c)
{
	struct task *t;

	/* Its time waited stays in the metric's total (metrics.c). */
	if (c->waiting[0] != '\0') {
		c->md->provider_wait_ms += uv_now(c->md->loop) -
		    c->waiting_since_ms;
		c->waiting[0] = '\0';
	}
	if ((!c->look_queued && !c->start_queued) ||
	    (t = task_find(c->md, c->task)) == NULL)
		return;
	if (c->look_queued)
		TAILQ_REMOVE(&t->look, c, look_entry);
	if (c->start_queued)
		TAILQ_REMOVE(&t->to_start, c, start_entry);
	c->look_queued = c->start_queued = false;
}

/* ---------------------------------------------------------- directives */

static bool
child_busy_on(struct masterd *md, int64_t task, const char *name)
{
	struct child *c = child_find(md, task, name);

	return c != NULL && c->busy;
}

/*
 * A domain's first directive waits until the domains it depends on have
 * published an interface (or given up): providers before consumers.
 */
static bool
deps_ready(struct task *t, const struct child *c)
{
	struct domain *d = domain_find(t, c->name), *dep;
	json_t *name;
	size_t i;

	if (d == NULL)
		return true;
	json_array_foreach(d->depends, i, name) {
		dep = domain_find(t, json_string_value(name));
		if (dep == NULL || dep->iface != NULL)
			continue;
		if (directive_next(dep) != NULL ||
		    child_busy_on(t->md, t->id, dep->name))
			return false;
	}
	return true;
}

/* Does c have work that only its dependencies hold back? */
static bool
held_by_deps(struct task *t, const struct child *c)
{
	struct domain *d = domain_find(t, c->name);
	struct directive *x = d != NULL ? directive_next(d) : NULL;

	return x != NULL && x->source == SOURCE_PLAN && !deps_ready(t, c);
}

/* c's work waits for the provider at endpoint ("": no longer): said
 * once each way, to the task's watchers. */
static void
child_wait_for(struct child *c, const char *endpoint)
{
	json_t *w;

	if (strcmp(c->waiting, endpoint) == 0)
		return;
	if (*endpoint == '\0') {
		event_emit(c->md, c->task, c->name, EV_DOMAIN_RESUMED,
		    json_pack("{s:s}", "endpoint", c->waiting));
		c->waiting[0] = '\0';
		/* The metrics' time waited (metrics.c). */
		c->md->provider_wait_ms += uv_now(c->md->loop) -
		    c->waiting_since_ms;
		return;
	}
	if (c->waiting[0] == '\0')
		c->waiting_since_ms = uv_now(c->md->loop);
	snprintf(c->waiting, sizeof(c->waiting), "%s", endpoint);
	if ((w = provider_waiting(c->md, c)) == NULL)
		return;
	log_info("domain %s (task %lld): waiting for provider %s (%s) since "
	    "%.0f, next try at %.0f", c->name, (long long)c->task,
	    jget_str(w, "provider"), endpoint, json_number_value(
	    json_object_get(w, "since")), json_number_value(
	    json_object_get(w, "next_try")));
	event_emit(c->md, c->task, c->name, EV_DOMAIN_HELD, json_pack(
	    "{s:I, s:O, s:O, s:s}", "until", (json_int_t)json_number_value(
	    json_object_get(w, "next_try")), "reason", json_object_get(w,
	    "reason"), "provider", json_object_get(w, "provider"), "endpoint",
	    endpoint));
	json_decref(w);
}

/*
 * May c's work go out, as far as its providers go?  probe is set when
 * it is to probe one that is down (provider.h).
 */
static bool
providers_allow(struct child *c, char *probe, size_t len)
{
	char waiting[sizeof(c->waiting)];

	if (provider_gate(c->md, c, probe, len, waiting, sizeof(waiting)) ==
	    GATE_WAIT) {
		child_wait_for(c, waiting);
		return false;
	}
	child_wait_for(c, "");
	return true;
}

/* The work message goes with its probe, if it has one. */
static void
send_work(struct child *c, json_t *m, const char *probe)
{
	if (*probe != '\0') {
		json_object_set_new(m, "probe", json_string(probe));
		provider_probe_sent(c->md, c, probe);
	}
	c->busy = true;
	c->md->calls_hint++;
	child_send(c, m);
}

/* Returns true when a directive was handed out. */
static bool
dispatch_one(struct task *t, struct child *c, bool honour_deps)
{
	struct masterd *md = c->md;
	struct domain *d = domain_find(t, c->name);
	double wake = 0;
	struct directive *x = d != NULL ? directive_due(d, now_epoch(),
	    &wake) : NULL;
	char probe[sizeof(c->waiting)];
	json_t *m;

	if (wake > 0)
		tasks_wake_at(md, wake);
	/* needs-input: it waits for a person (task_ask.c). */
	if (x == NULL || d->asks_open > 0)
		return false;
	if (honour_deps && x->source == SOURCE_PLAN && !deps_ready(t, c))
		return false;
	if (!providers_allow(c, probe, sizeof(probe)))
		return false;
	if (directive_set_state(d, x, DIRECTIVE_RUNNING, NULL) != 0)
		return false;
	m = msg_new(MSG_DIRECTIVE, masterd_next_id(md));
	json_object_set_new(m, "task", json_integer(c->task));
	json_object_set_new(m, "directive", json_integer(x->id));
	json_object_set_new(m, "text", json_string(x->text));
	json_object_set_new(m, "source", json_string(source_names[x->source]));
	json_object_set_new(m, "priority", json_integer(x->priority));
	c->directive = x->id;
	send_work(c, m, probe);
	event_emit(md, c->task, c->name, EV_DIRECTIVE_RUNNING,
	    json_pack("{s:I}", "directive", (json_int_t)c->directive));
	return true;
}

/* Children working on a directive, across all tasks. */
static int64_t
calls_in_flight(const struct masterd *md)
{
	const struct child *c;
	int64_t n = 0;

	TAILQ_FOREACH(c, &md->children, entry)
		n += c->busy;
	return n;
}

/* inflight: calls_in_flight, counted once per pass (a walk per child
 * made a pass quadratic in the number of domains). */
static bool
can_take_work(const struct masterd *md, const struct child *c,
    int64_t inflight)
{
	return c->state == CHILD_RUNNING && !c->busy &&
	    inflight < md->conf->max_llm_calls;
}

static void
look_clear(struct task *t)
{
	struct child *c;

	while ((c = TAILQ_FIRST(&t->look)) != NULL) {
		TAILQ_REMOVE(&t->look, c, look_entry);
		c->look_queued = false;
	}
}

/*
 * The full pass: every child of the task, honouring dependencies; if that
 * hands out nothing while no child of the task works, a cycle in the
 * depends would stall it: then dependencies are ignored.  It counts the
 * calls in flight afresh (calls_hint).
 */
static void
dispatch_all(struct task *t)
{
	struct masterd *md = t->md;
	struct child *c;
	bool any = false, busy = false, waiting = false;
	int64_t inflight = calls_in_flight(md);

	md->calls_hint = inflight;
	look_clear(t);
	TAILQ_FOREACH(c, &md->children, entry) {
		if (c->task != t->id || c->role != ROLE_DOMAIN)
			continue;
		/* A provider still starting is not a cycle: wait for it. */
		busy = busy || c->busy || c->state == CHILD_STARTING ||
		    c->state == CHILD_BACKOFF;
		if (!can_take_work(md, c, inflight))
			continue;
		if (dispatch_one(t, c, true)) {
			any = true;
			inflight++;
		} else {
			waiting = true;
		}
	}
	if (any || busy || !waiting)
		return;
	TAILQ_FOREACH(c, &md->children, entry) {
		if (c->task == t->id && c->role == ROLE_DOMAIN &&
		    can_take_work(md, c, inflight) && dispatch_one(t, c, false))
			inflight++;
	}
}

/*
 * Only the children queued to be looked at (task_look: they became
 * ready), so that N children starting cost N looks, not N passes over N.
 * What a look cannot settle alone goes to the full pass (a child held
 * back by its dependencies: the cycle rule needs every child) or waits
 * for it (no call slot free: a slot that frees marks every task).
 */
/*
 * Is the hint too close to the limit to be trusted?  It counts what this
 * file hands out; an integrator's run (task_integrate.c) is counted at
 * the next full pass only, and there is one a task at most.
 */
static bool
near_limit(const struct masterd *md)
{
	const struct task *t;
	int64_t slack = 0;

	TAILQ_FOREACH(t, &md->tasks, entry)
		slack += !task_state_over(t->state);
	return md->calls_hint + slack >= md->conf->max_llm_calls;
}

static void
dispatch_looked(struct task *t)
{
	struct masterd *md = t->md;
	struct child *c;
	bool counted = false;

	while ((c = TAILQ_FIRST(&t->look)) != NULL) {
		/* Near the limit, count afresh, once a step: slots may have
		 * freed since, or an integrator taken one. */
		if (!counted && near_limit(md)) {
			md->calls_hint = calls_in_flight(md);
			counted = true;
		}
		if (md->calls_hint >= md->conf->max_llm_calls)
			return;		/* a freed slot marks every task */
		TAILQ_REMOVE(&t->look, c, look_entry);
		c->look_queued = false;
		if (c->role != ROLE_DOMAIN || c->state != CHILD_RUNNING ||
		    c->busy)
			continue;
		if (!dispatch_one(t, c, true) && held_by_deps(t, c)) {
			dispatch_all(t);
			return;
		}
	}
}

static void
dispatch_task(struct task *t)
{
	if (t->look_all) {
		t->look_all = false;
		dispatch_all(t);
	} else {
		dispatch_looked(t);
	}
}

/*
 * Directives the registry says are running but no child works on (a
 * write that failed, say on a full disk, or a child that went away):
 * back to the queue, so the task cannot stall on them.
 */
static void
requeue_orphans(struct task *t)
{
	struct directive *x;
	struct domain *d;
	struct child *c;

	if (!t->check_orphans)
		return;
	t->check_orphans = false;
	TAILQ_FOREACH(d, &t->domains, entry) {
		TAILQ_FOREACH(x, &d->open, entry) {
			if (x->state != DIRECTIVE_RUNNING)
				continue;
			c = child_find(t->md, t->id, d->name);
			if (c != NULL && c->busy && c->directive == x->id)
				continue;
			directive_set_state(d, x, DIRECTIVE_QUEUED,
			    "no child was working on it; requeued");
		}
	}
}

void
task_cancel_work(struct masterd *md, const struct task *t)
{
	struct child *c;
	json_t *m;

	TAILQ_FOREACH(c, &md->children, entry) {
		if (!c->busy || (t != NULL && c->task != t->id))
			continue;
		m = msg_new(MSG_CANCEL, masterd_next_id(md));
		json_object_set_new(m, "task", json_integer(c->task));
		json_object_set_new(m, "directive", json_integer(c->directive));
		child_send(c, m);
	}
}

/* ---------------------------------------------------------- planner */

static struct child *
planner_of(struct task *t)
{
	return child_find(t->md, t->id, PLANNER_NAME);
}

/* The planner runs one request at a time; it is started when needed. */
void
task_ask_planner(struct task *t, const char *kind, json_t *context)
{
	struct child *c = planner_of(t);

	if (c == NULL) {
		c = child_new(t->md, t->id, 0, PLANNER_NAME);
		if (c == NULL) {
			json_decref(context);
			return;
		}
		c->role = ROLE_PLANNER;
	}
	json_decref(c->plan_request);
	c->plan_request = json_pack("{s:s, s:o}", "kind", kind, "context",
	    context);
	if (c->state == CHILD_RUNNING)
		task_planner_ready(c);
	else if (!c->proc_running && child_start(c) != 0)
		log_err("task %lld: cannot start the planner: %s",
		    (long long)t->id, c->reason);
}

void
task_planner_ready(struct child *c)
{
	struct task *t = task_find(c->md, c->task);
	char probe[sizeof(c->waiting)];
	json_t *m;

	/* A paused task asks nothing new of its planner either. */
	if (c->plan_request == NULL || c->busy || c->state != CHILD_RUNNING ||
	    (t != NULL && t->paused) ||
	    !providers_allow(c, probe, sizeof(probe)))
		return;
	m = msg_new(MSG_PLAN_REQUEST, masterd_next_id(c->md));
	json_object_set_new(m, "task", json_integer(c->task));
	json_object_set(m, "kind", json_object_get(c->plan_request, "kind"));
	json_object_set(m, "context", json_object_get(c->plan_request,
	    "context"));
	send_work(c, m, probe);
}

static json_t *
plan_context(const struct task *t)
{
	return json_pack("{s:s, s:O}", "task", t->text,
	    "standing_directives", t->standing);
}

/* A plan's context holds what the user said to the planner: answers to
 * its questions, expired ones with its assumptions, rejected plans. */
static json_t *
plan_first_context(struct task *t)
{
	json_t *ctx = plan_context(t), *fb = task_plan_feedback(t);

	json_object_update(ctx, fb);
	json_decref(fb);
	return ctx;
}

void
task_plan(struct task *t)
{
	/* The planner waits for a person: its request goes on the answer. */
	if (t->planner_asks > 0)
		return;
	task_ask_planner(t, "plan", plan_first_context(t));
}

/* How many of the newest rounds a reviewer sees. */
#define REVIEW_ROUNDS	30

/* The rounds worth showing a reviewer: the newest few, in short.  Read
 * with a LIMIT: a review costs what it shows, not the task's rounds. */
static json_t *
recent_rounds(struct task *t)
{
	json_t *out = json_array(), *last;
	const json_t *r;
	size_t i;

	last = registry_rounds_last(t->md->reg, t->id, REVIEW_ROUNDS);
	json_array_foreach(last, i, r)
		json_array_append_new(out, json_pack("{s:s, s:I, s:b, s:s, "
		    "s:s*, s:s*}", "domain", jget_str(r, "domain"), "round",
		    jget_int(r, "round", 0), "ok", jget_bool(r, "ok"), "stage",
		    jget_str(r, "stage"), "summary", jget_str(r, "summary"),
		    "error", jget_str(r, "error")));
	json_decref(last);
	return out;
}

static void
review(struct task *t, const json_t *dirs)
{
	struct masterd *md = t->md;
	json_t *ctx = plan_context(t), *brief = json_array();
	const json_t *d;
	size_t i;

	json_array_foreach(dirs, i, d)
		json_array_append_new(brief, json_pack("{s:s*, s:s, s:s, s:s}",
		    "domain", jget_str(d, "domain"), "source", jget_str(d,
		    "source"), "text", jget_str(d, "text"), "state",
		    jget_str(d, "state")));
	json_object_set_new(ctx, "interfaces", task_interfaces(t, NULL));
	json_object_set_new(ctx, "unresolved", task_unresolved(t));
	json_object_set_new(ctx, "scoreboard", registry_scoreboard(md->reg,
	    t->id));
	json_object_set_new(ctx, "rounds", recent_rounds(t));
	json_object_set_new(ctx, "directives", brief);
	json_object_set_new(ctx, "integration", task_integration_evidence(t));
	task_ask_planner(t, "review", ctx);
}

/* ---------------------------------------------------------- budgets */

/* The rounds' part is kept in memory (see struct task), read once. */
static void
spent(struct task *t, struct spend *s)
{
	struct spend *r = &t->rounds_spent;

	if (!t->rounds_spent_known) {
		memset(r, 0, sizeof(*r));
		if (registry_task_spend(t->md->reg, t->id, &r->rounds,
		    &r->tokens, &r->cost) == 0)
			t->rounds_spent_known = true;
	}
	*s = *r;
	/* The planner's calls count too. */
	s->tokens += t->planner.input + t->planner.output;
	s->cost += t->planner.cost;
	s->seconds = (int64_t)(time(NULL) - (time_t)t->created);
}

void
task_count_round(struct task *t, const json_t *msg)
{
	struct spend *r = &t->rounds_spent;
	const json_t *usage = json_object_get(msg, "usage");

	if (!t->rounds_spent_known)
		return;		/* read whole at the next check */
	/* Round 0 only cost tokens: no round was played. */
	if (jget_int(msg, "round", 0) > 0)
		r->rounds++;
	r->tokens += json_integer_value(json_object_get(usage, "input")) +
	    json_integer_value(json_object_get(usage, "output"));
	r->cost += json_number_value(json_object_get(usage, "cost"));
}

static void
conf_limits(const struct masterd *md, struct budget *b)
{
	memset(b, 0, sizeof(*b));
	b->limit[BUDGET_TOKENS] = (double)md->conf->max_tokens;
	b->limit[BUDGET_COST] = md->conf->max_cost;
	b->limit[BUDGET_ROUNDS] = (double)md->conf->max_rounds;
	b->limit[BUDGET_TIME] = (double)md->conf->max_time / 1000.0;
}

int
task_over_budget(struct task *t, char *why, size_t len)
{
	struct budget defaults;
	struct spend s;

	spent(t, &s);
	conf_limits(t->md, &defaults);
	return decide_over_budget(&t->budget, &defaults, &s, why, len) >= 0;
}

/* The rounds since the watchdog's mark all made no commit: only the
 * newest n are read. */
static bool
stalled(struct task *t)
{
	int64_t n = t->md->conf->no_progress_rounds, count;
	bool committed;

	if (n <= 0 || registry_rounds_dry(t->md->reg, t->id,
	    t->progress_since, n, &count, &committed) != 0)
		return false;
	return count >= n && !committed;
}

void
task_limit(struct task *t, const char *why)
{
	log_warn("task %lld paused: %s", (long long)t->id, why);
	task_pause_for(t, why);
	event_emit(t->md, t->id, NULL, EV_TASK_LIMIT, json_pack("{s:s}",
	    "reason", why));
}

void
task_check_limits(struct task *t)
{
	char why[200];

	if (!task_runnable(t))
		return;
	if (task_over_budget(t, why, sizeof(why))) {
		task_limit(t, why);
	} else if (stalled(t)) {
		snprintf(why, sizeof(why), "no progress: the last %lld rounds "
		    "made no commit",
		    (long long)t->md->conf->no_progress_rounds);
		task_limit(t, why);
	}
}

/* ---------------------------------------------------------- the step */

/* Only what no directive can fix is left when integrating ends. */
static void
warn_unresolved(const struct task *t)
{
	json_t *set = task_unresolved(t);

	if (json_array_size(set) > 0)
		log_warn("task %lld: %zu interface problems remain",
		    (long long)t->id, json_array_size(set));
	json_decref(set);
}

/* The task's next step in life, once its work is handed out. */
static void
live(struct task *t)
{
	struct masterd *md = t->md;
	struct child *p = planner_of(t);
	struct life l = { .max_reviews = md->conf->max_reviews };
	json_t *dirs;

	/* Nothing moves on, nor ends, while a person is waited for. */
	if (t->asks_open > 0)
		return;
	for (;;) {
		l.state = t->state;
		l.paused = t->paused;
		l.planner_busy = p != NULL && p->busy;
		l.reviews = t->reviews;
		l.open = task_open_directives(t);
		l.done = t->done;
		/* Read only when it can matter: it lists the contract
		 * tests of every interface. */
		l.integration = l.paused || l.planner_busy || l.open > 0 ?
		    INTEG_NONE : task_integration_status(t);
		l.integration_failures = t->integ.failures;
		l.integration_attempts = md->conf->integration_attempts;
		switch (decide_life(&l)) {
		case LIFE_WAIT:
			return;
		case LIFE_FAIL:
			task_finish(t, TASK_FAILED, "no directive succeeded; "
			    "see masterctl task");
			return;
		case LIFE_INTEGRATE:
			if (task_set_state(t, TASK_INTEGRATING, NULL) != 0)
				return;
			task_on_publish(t);
			continue;
		case LIFE_IMPROVE:
			warn_unresolved(t);
			if (task_set_state(t, TASK_IMPROVING, NULL) != 0)
				return;
			continue;
		case LIFE_DONE:
			task_finish(t, TASK_DONE, "reviews used up");
			return;
		case LIFE_RUN_INTEGRATION:
			task_integration_run(t);
			return;
		case LIFE_ATTRIBUTE:
			task_integration_attribute(t);
			return;
		case LIFE_INTEGRATION_STUCK:
			task_integration_stuck(t);
			return;
		case LIFE_REVIEW:
			if (task_count_review(t) != 0)
				return;
			/* The reviewer sees every directive, closed ones
			 * too: from the registry. */
			if ((dirs = registry_directives(md->reg, t->id, 0)) !=
			    NULL)
				review(t, dirs);
			json_decref(dirs);
			return;
		}
	}
}

/* Only a task with children in hand has work to hand out. */
static bool
has_children(const struct task *t)
{
	const struct child *c;

	TAILQ_FOREACH(c, &t->md->children, entry)
		if (c->task == t->id)
			return true;
	return false;
}

void
task_step(struct task *t)
{
	if (!task_runnable(t) || !has_children(t))
		return;
	requeue_orphans(t);
	dispatch_task(t);
	/* A plan request held back for its provider goes when it can. */
	if (planner_of(t) != NULL)
		task_planner_ready(planner_of(t));
	task_integration_due(t);
	/* A task with nothing left to hand out takes its next step. */
	live(t);
}

/* Every few seconds: what events alone would not notice (time budgets,
 * writes that failed and can be retried now). */
void
tasks_tick(struct masterd *md)
{
	struct task *t;

	TAILQ_FOREACH(t, &md->tasks, entry) {
		task_check_limits(t);
		task_asks_tick(t);
		t->check_orphans = true;
	}
	task_mark_all(md);
}
