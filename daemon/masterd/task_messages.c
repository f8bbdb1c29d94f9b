/*
 * task_messages.c — what children send, taken into the task: a child
 * ready for work, an interface published (validated once, kept per
 * domain, sent to the peers, its unresolved set turned into directives),
 * a round and a directive's outcome (its final round), merges into
 * main, rate-limit holds, retry-then-drop of failed directives, the
 * planner's plans and reviews, progress, a child gone down.
 *
 * Every registry write comes before the event or reply that reports it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/iface.h"
#include "common/log.h"
#include "common/repo.h"
#include "common/util.h"
#include "daemon/masterd/masterd.h"
#include "daemon/masterd/provider.h"
#include "daemon/masterd/supervise.h"
#include "daemon/masterd/task.h"
#include "daemon/masterd/task_decide.h"
#include "daemon/masterd/tasks.h"

void
tasks_child_ready(struct child *c)
{
	uint64_t calls = registry_calls(c->md->reg);

	/* What it must know before work: the providers held down. */
	providers_send(c->md, c);
	switch (c->role) {
	case ROLE_PLANNER:
		task_planner_ready(c);
		break;
	case ROLE_INTEGRATOR:
		task_integrator_ready(c);
		break;
	default:
		task_assign(c);
		break;
	}
	log_debug("domain %s (task %lld) ready: %llu registry statements",
	    c->name, (long long)c->task, (unsigned long long)
	    (registry_calls(c->md->reg) - calls));
}

/* ---------------------------------------------------------- interfaces */

/* Does d have an open interface directive for the item of text (a try
 * of it, retry note or not)? */
static bool
interface_open(const struct domain *d, const char *text)
{
	const struct directive *x;
	size_t n = strlen(text);

	TAILQ_FOREACH(x, &d->open, entry)
		if (x->source == SOURCE_INTERFACE &&
		    decide_interface_base(x->text) == n &&
		    strncmp(x->text, text, n) == 0)
			return true;
	return false;
}

/* Were the tries of the item of text used up?  Closed directives live in
 * the registry only: read when a due item has no open try. */
static bool
interface_given_up(const struct domain *d, const char *text)
{
	json_t *rows = registry_directives(d->task->md->reg, d->task->id,
	    d->id);
	bool given_up = decide_given_up(rows, text);

	json_decref(rows);
	return given_up;
}

/* The wanted directives that are due, each queued unless a try of it is
 * already open or its tries were used up (it stays in the unresolved
 * set, for the user to see). */
static void
queue_wanted(struct task *t, const json_t *wanted)
{
	const json_t *w;
	struct domain *d;
	char err[256];
	json_t *out;
	size_t i;

	json_array_foreach(wanted, i, w) {
		if (jget_bool(w, "wait") || (d = domain_find(t,
		    jget_str(w, "domain"))) == NULL ||
		    interface_open(d, jget_str(w, "text")) ||
		    interface_given_up(d, jget_str(w, "text")))
			continue;
		if (task_add_directive(t, d->name, SOURCE_INTERFACE,
		    jget_str(w, "text"), PRIORITY_INTERFACE, &out, err,
		    sizeof(err)) == 0)
			json_decref(out);
	}
}

/* Queued interface directives whose item left the unresolved set are
 * dropped. */
static void
drop_unwanted(struct task *t, const json_t *wanted)
{
	struct directive *x, *next;
	struct domain *d;

	TAILQ_FOREACH(d, &t->domains, entry) {
		for (x = TAILQ_FIRST(&d->open); x != NULL; x = next) {
			int64_t id = x->id;

			next = TAILQ_NEXT(x, entry);
			if (x->source != SOURCE_INTERFACE ||
			    x->state != DIRECTIVE_QUEUED ||
			    decide_still_wanted(wanted, x->text) ||
			    directive_set_state(d, x, DIRECTIVE_DROPPED,
			    "resolved before it ran") != 0)
				continue;
			event_emit(t->md, t->id, d->name, EV_DIRECTIVE_DROPPED,
			    json_pack("{s:I, s:s}", "directive", (json_int_t)id,
			    "reason", "resolved before it ran"));
		}
	}
}

/* The unresolved set becomes directives; queued ones no longer wanted
 * are dropped. */
void
task_on_publish(struct task *t)
{
	json_t *set = task_unresolved(t), *states = task_domain_states(t);
	json_t *wanted = decide_interface_directives(set, states);

	queue_wanted(t, wanted);
	drop_unwanted(t, wanted);
	event_emit(t->md, t->id, NULL, EV_INTERFACES_UNRESOLVED,
	    json_pack("{s:I}", "count", (json_int_t)json_array_size(set)));
	json_decref(wanted);
	json_decref(states);
	json_decref(set);
}

/*
 * A declared document is what the domain will provide and consume: kept
 * apart from the implemented ones, it is not sent to the peers (they see
 * what is implemented) but its needs reach the unresolved set at once.
 */
static void
on_publish(struct child *c, struct task *t, const json_t *msg)
{
	struct masterd *md = c->md;
	json_t *doc = json_object_get(msg, "interface");
	bool declared = jget_bool(msg, "declared");
	struct domain *d = domain_find(t, c->name);
	char err[256];
	bool changed;
	int version;

	if (d == NULL)
		return;
	if (iface_validate(doc, c->name, err, sizeof(err)) != 0) {
		log_warn("domain %s published an invalid interface (%s); "
		    "ignored", c->name, err);
		event_emit(md, c->task, c->name, EV_INTERFACE_REFUSED,
		    json_pack("{s:s}", "reason", err));
		return;
	}
	if (domain_publish(d, doc, declared, &version, &changed) != 0) {
		log_err("domain %s: interface not stored: %s", c->name,
		    registry_errmsg(md->reg));
		return;
	}
	if (!changed)
		return;
	event_emit(md, c->task, c->name, EV_INTERFACE_PUBLISHED,
	    json_pack("{s:i, s:b}", "version", version, "declared", declared));
	if (!declared)
		task_send_peers(t, c->name);
	task_on_publish(t);
}

/* ---------------------------------------------------------- outcomes */

/* Bring a domain's branch into main. */
void
task_merge_domain(struct task *t, const char *domain, const char *summary)
{
	struct masterd *md = t->md;
	char gitdir[4096], message[256], oid[REPO_OID_HEX], err[512];
	int rc;

	task_gitdir(md, t->id, gitdir, sizeof(gitdir));
	snprintf(message, sizeof(message), "Merge domain/%s: %.180s", domain,
	    summary ? summary : "accepted round");
	rc = repo_merge_domain(gitdir, domain, message, oid, err,
	    sizeof(err));
	if (rc < 0) {
		log_err("task %lld: merging domain %s: %s", (long long)t->id,
		    domain, err);
		event_emit(md, t->id, domain, EV_MERGE_FAILED,
		    json_pack("{s:s}", "reason", err));
		return;
	}
	if (rc == REPO_UNCHANGED)
		return;
	event_emit(md, t->id, domain, EV_MERGED, json_pack("{s:s}",
	    "commit", oid));
	task_integration_soon(t, oid);
}

/* An accepted round's branch into main, or, with [task] approve = merge,
 * its merge waits for a person (task_ask.c). */
static void
merge_domain(struct child *c, struct task *t, const char *commit,
    const char *summary)
{
	if (task_gate(t, "merge")) {
		task_ask_approval(t, "merge", c->name, commit, summary ?
		    summary : "accepted round");
		return;
	}
	task_merge_domain(t, c->name, summary);
}

/* A state change of the child's directive; nothing when it is not open
 * (its last write failed and it went back to the queue, say). */
static void
set_directive(struct task *t, int64_t id, enum directive_state state,
    const char *reason)
{
	struct domain *d;
	struct directive *x = directive_find(t, id, &d);

	if (x != NULL)
		directive_set_state(d, x, state, reason);
}

static void
defer_directive(struct task *t, int64_t id, double not_before, bool uncount)
{
	struct domain *d;
	struct directive *x = directive_find(t, id, &d);

	if (x != NULL && x->state == DIRECTIVE_QUEUED)
		directive_defer(d, x, not_before, uncount);
	if (not_before > 0)
		tasks_wake_at(t->md, not_before);
}

static int64_t
attempts_of(const struct task *t, int64_t id)
{
	struct domain *d;
	struct directive *x = directive_find(t, id, &d);

	return x != NULL ? x->attempts : 0;
}

/* Tell watchers what became of directive id: ev, with two fields that
 * may be NULL (its commit and summary, or its error code and reason). */
static void
directive_event(struct child *c, enum event ev, json_int_t id,
    const char *k1, const char *v1, const char *k2, const char *v2)
{
	event_emit(c->md, c->task, c->name, ev, json_pack("{s:I, s:s*, s:s*}",
	    "directive", id, k1, v1, k2, v2));
}

static void
directive_failed(struct child *c, struct task *t, json_int_t id,
    const json_t *e)
{
	const char *code = jget_str(e, "code");
	const char *why = jget_str(e, "message");
	char reason[1024];
	double at;

	switch (decide_failure(code, !task_state_over(t->state),
	    attempts_of(t, id), c->md->conf->directive_attempts)) {
	case FAILURE_WAIT:
		/* The provider's breaker (provider.c) holds the work back
		 * until it answers: no attempt of the directive's spent.  The
		 * first retry's delay all the same, should no breaker hold it
		 * (a worker on a provider a reload removed): never a loop. */
		set_directive(t, id, DIRECTIVE_QUEUED, why);
		defer_directive(t, id, now_epoch() + decide_retry_delay(
		    c->md->conf->retry_delay, 1), true);
		break;
	case FAILURE_PAUSE:
		set_directive(t, id, DIRECTIVE_QUEUED, why);
		if (strcmp(code, ERR_SETUP) == 0) {
			/* It never started: no attempt of it spent. */
			defer_directive(t, id, 0, true);
			snprintf(reason, sizeof(reason), "setup (domain %s): %s; "
			    "fix it (see `masterd -n`), then `masterctl resume`",
			    c->name, why != NULL ? why : "no reason given");
		} else {
			snprintf(reason, sizeof(reason), "the check sandbox "
			    "could not be built (%s): see `masterd -n`, then "
			    "`masterctl resume`", why != NULL ? why :
			    "no reason given");
		}
		task_limit(t, reason);
		break;
	case FAILURE_REQUEUE:
		set_directive(t, id, DIRECTIVE_QUEUED, "cancelled; requeued");
		break;
	case FAILURE_RETRY:
		set_directive(t, id, DIRECTIVE_QUEUED, why);
		at = now_epoch() + decide_retry_delay(c->md->conf->retry_delay,
		    attempts_of(t, id));
		defer_directive(t, id, at, false);
		event_emit(c->md, c->task, c->name, EV_DIRECTIVE_RETRY,
		    json_pack("{s:I, s:s*, s:s*, s:f}", "directive", id,
		    "code", code, "reason", why, "not_before", at));
		break;
	case FAILURE_DROP:
		set_directive(t, id, DIRECTIVE_DROPPED, why);
		directive_event(c, EV_DIRECTIVE_DROPPED, id, "code", code,
		    "reason", why);
		break;
	}
}

/*
 * An interface directive is done only when its gap is gone.  Its round
 * succeeded and what it published was taken before (the worker sends
 * interface.publish before its final round): if its item is still in
 * the unresolved set, this try failed (its accepted work is merged all
 * the same) and the next is queued, a new directive whose text says what
 * is still missing (one open row per text: each try's text is its own),
 * or, after [task] interface_attempts tries, it is dropped.  True when
 * the directive was settled here.
 */
static bool
interface_gap_open(struct child *c, struct task *t, json_int_t id)
{
	struct domain *d;
	struct directive *x = directive_find(t, id, &d);
	char *next = NULL, *why = NULL, err[256];
	json_t *set, *out;
	bool settled = true;

	if (x == NULL || x->source != SOURCE_INTERFACE)
		return false;
	set = task_unresolved(t);
	switch (decide_interface_outcome(set, x->text,
	    c->md->conf->interface_attempts, &next, &why)) {
	case IFACE_CLOSED:
		settled = false;
		break;
	case IFACE_AGAIN:
		if (directive_set_state(d, x, DIRECTIVE_FAILED, why) != 0)
			break;
		directive_event(c, EV_DIRECTIVE_RETRY, id, "code",
		    ERR_UNRESOLVED, "reason", why);
		if (task_add_directive(t, d->name, SOURCE_INTERFACE, next,
		    PRIORITY_INTERFACE, &out, err, sizeof(err)) == 0)
			json_decref(out);
		else
			log_warn("task %lld: interface directive not queued "
			    "again: %s", (long long)t->id, err);
		break;
	case IFACE_GIVE_UP:
		if (directive_set_state(d, x, DIRECTIVE_DROPPED, why) == 0)
			directive_event(c, EV_DIRECTIVE_DROPPED, id, "code",
			    ERR_UNRESOLVED, "reason", why);
		break;
	}
	free(next);
	free(why);
	json_decref(set);
	return settled;
}

/* The domain's model asked the user (ask_user): the domain waits,
 * needs-input, and its answers come as a directive that goes on with
 * this one's text. */
static void
asked(struct task *t, const char *domain, json_int_t id,
    const json_t *questions)
{
	struct directive *x;
	struct domain *d;
	char *context;

	if (json_array_size(questions) == 0)
		return;
	x = directive_find(t, id, &d);
	context = x != NULL ? xstrdup(x->text) : NULL;
	task_ask_questions(t, domain, context, questions);
	free(context);
}

/* A directive ended: done with its commit and summary, or failed with
 * its error object. */
static void
directive_outcome(struct child *c, struct task *t, json_int_t id,
    const json_t *msg)
{
	struct masterd *md = c->md;
	const char *commit = jget_str(msg, "commit");
	const char *summary = jget_str(msg, "summary");

	c->busy = false;
	c->directive = 0;
	asked(t, c->name, id, json_object_get(msg, "questions"));
	if (jget_bool(msg, "ok")) {
		if (!interface_gap_open(c, t, id)) {
			set_directive(t, id, DIRECTIVE_DONE, NULL);
			directive_event(c, EV_DIRECTIVE_DONE, id, "commit",
			    commit, "summary", summary);
		}
		if (commit != NULL)
			merge_domain(c, t, commit, summary);
	} else {
		directive_failed(c, t, id, json_object_get(msg, "error"));
	}
	/* A call slot is free: any task may have been waiting for it. */
	task_mark_all(md);
}

static bool
given(const struct child *c, json_int_t id, const char *what)
{
	if (id > 0 && id == c->directive)
		return true;
	log_warn("domain %s: %s directive %lld, which it was not given; "
	    "ignored", c->name, what, (long long)id);
	return false;
}

static void
store_round(struct child *c, struct task *t, json_int_t id,
    const json_t *msg)
{
	struct masterd *md = c->md;
	const char *commit = jget_str(msg, "commit");

	/* A round the child found committed is reported again after a
	 * restart: it is one round, stored once.  Found by index: a burst
	 * of rounds costs the same per round however many are stored. */
	if (commit != NULL && registry_round_committed(md->reg, c->task,
	    c->domain, commit) == 1)
		return;
	if (registry_round_add(md->reg, c->task, c->domain, id, msg,
	    NULL) != 0)
		log_err("domain %s: round not stored: %s", c->name,
		    registry_errmsg(md->reg));
	else
		task_count_round(t, msg);
	event_emit(md, c->task, c->name, EV_ROUND, json_pack(
	    "{s:I, s:O, s:O, s:O, s:O*, s:O*, s:O*, s:O*, s:O*}", "directive",
	    id,
	    "round", json_object_get(msg, "round"),
	    "ok", json_object_get(msg, "ok"),
	    "stage", json_object_get(msg, "stage"),
	    "commit", json_object_get(msg, "commit"),
	    "error", json_object_get(json_object_get(msg, "error"), "message"),
	    "usage", json_object_get(msg, "usage"),
	    "model", json_object_get(msg, "model"),
	    "provider", json_object_get(msg, "provider")));
}

/* The provider failed the work (down, rate limited): it waits for the
 * provider (decide_failure), nothing of its own failed. */
static bool
waits_for_provider(const json_t *msg)
{
	const char *code = jget_str(json_object_get(msg, "error"), "code");

	return decide_failure(code, true, 0, 1) == FAILURE_WAIT;
}

static bool
setup_failed(const json_t *msg)
{
	const char *code = jget_str(json_object_get(msg, "error"), "code");

	return code != NULL && strcmp(code, ERR_SETUP) == 0;
}

/* Round 0 (no round was played: its model call failed) is kept when the
 * provider counted tokens for it: they were spent all the same. */
static bool
costs(const json_t *msg)
{
	const json_t *u = json_object_get(msg, "usage");

	return jget_int(u, "input", 0) > 0 || jget_int(u, "output", 0) > 0 ||
	    json_number_value(json_object_get(u, "cost")) > 0;
}

/*
 * A round; a final one also ends the directive.  Round 0 of a final
 * round ran no round (a model error, a cancel, work found committed):
 * only its outcome counts.
 */
static void
on_round(struct child *c, struct task *t, const json_t *msg)
{
	json_int_t id = jget_int(msg, "directive", 0);
	bool final = jget_bool(msg, "final");

	if (!given(c, id, "round of"))
		return;
	if (final)
		provider_work_ended(c->md, c);
	if (final && waits_for_provider(msg)) {
		/* Its work is thrown away and redone once the provider is
		 * up: not a round played (the watchdog, the rounds budget),
		 * only what it cost. */
		if (costs(msg)) {
			json_t *zero = json_copy((json_t *)msg);

			json_object_set_new(zero, "round", json_integer(0));
			store_round(c, t, id, zero);
			json_decref(zero);
		}
	} else if (!final || jget_int(msg, "round", 0) > 0 || costs(msg)) {
		store_round(c, t, id, msg);
	}
	if (final)
		directive_outcome(c, t, id, msg);
	task_check_limits(t);
}

/* ---------------------------------------------------------- planner */

static void
add_planned_domains(struct task *t, const json_t *list)
{
	const json_t *d;
	char err[256];
	size_t i;

	json_array_foreach(list, i, d) {
		if (task_add_planned(t, d, err, sizeof(err)) != 0)
			log_warn("task %lld: planned domain %s not added: %s",
			    (long long)t->id, jget_str(d, "name"), err);
	}
}

void
task_plan_go(struct task *t)
{
	add_planned_domains(t, json_object_get(t->plan, "domains"));
	task_integration_add_checks(t, json_object_get(t->plan,
	    "integration_checks"));
	task_set_state(t, TASK_BUILDING, NULL);
}

/*
 * A plan with questions waits for their answers (or deadlines), and the
 * planner plans again with them; with [task] approve = plan, a plan
 * waits for a person's approval before its domains start.
 */
static void
on_plan(struct task *t, const json_t *plan, const char *model)
{
	const json_t *qs = json_object_get(plan, "questions");

	if (json_array_size(qs) > 0 &&
	    task_ask_questions(t, PLANNER_NAME, NULL, qs) > 0)
		return;
	if (task_set_plan(t, plan) != 0)
		return;
	event_emit(t->md, t->id, NULL, EV_TASK_PLANNED, json_pack(
	    "{s:O, s:s*}", "plan", plan, "model", model));
	if (task_gate(t, "plan")) {
		task_ask_approval(t, "plan", PLANNER_NAME, NULL,
		    jget_str(plan, "summary") != NULL ? jget_str(plan,
		    "summary") : "the plan");
		return;
	}
	task_plan_go(t);
}

static bool
integration_allows_done(const struct task *t)
{
	enum integration_status s = task_integration_status(t);

	return s == INTEG_NONE || s == INTEG_PASSED;
}

static void
on_review(struct task *t, const json_t *rev, const char *model)
{
	const json_t *list = json_object_get(rev, "directives"), *d;
	char err[256];
	json_t *out;
	size_t i, added = 0;

	event_emit(t->md, t->id, NULL, EV_TASK_REVIEWED, json_pack(
	    "{s:O, s:s*}", "review", rev, "model", model));
	add_planned_domains(t, json_object_get(rev, "domains"));
	task_integration_add_checks(t, json_object_get(rev,
	    "integration_checks"));
	json_array_foreach(list, i, d) {
		if (task_add_directive(t, jget_str(d, "domain"), SOURCE_REVIEW,
		    jget_str(d, "text"), (int)jget_int(d, "priority",
		    PRIORITY_REVIEW), &out, err, sizeof(err)) != 0) {
			log_warn("task %lld: review directive not added: %s",
			    (long long)t->id, err);
			continue;
		}
		json_decref(out);
		added++;
	}
	/* Never done on a main that has not passed: the step runs its
	 * checks first, and the next review decides. */
	if (added == 0 && jget_bool(rev, "done") &&
	    integration_allows_done(t))
		task_finish(t, TASK_DONE, "the review found the task "
		    "complete");
	else
		task_mark(t);
}


static void
on_plan_result(struct child *c, struct task *t, const json_t *msg)
{
	const char *kind = jget_str(msg, "kind");
	const char *why = jget_str(json_object_get(msg, "error"), "message");
	const json_t *u = json_object_get(msg, "usage");
	const char *model = jget_str(msg, "model");

	c->busy = false;
	provider_work_ended(c->md, c);
	if (json_is_object(u)) {
		struct usage add = { jget_int(u, "input", 0),
		    jget_int(u, "output", 0),
		    json_number_value(json_object_get(u, "cost")) };

		task_add_planner_usage(t, &add);
	}
	if (model != NULL && *model != '\0' &&
	    registry_task_set_planner_model(c->md->reg, t->id, model) != 0)
		log_err("task %lld: the planner's model not stored: %s",
		    (long long)t->id, registry_errmsg(c->md->reg));
	/* Its provider is down: the request waits for it (provider.c). */
	if (!jget_bool(msg, "ok") && waits_for_provider(msg)) {
		log_warn("task %lld: the planner's %s waits for its provider: "
		    "%s", (long long)t->id, kind, why ? why : "?");
		task_mark(t);
		return;
	}
	/* Nor is one whose session could not open (a key, a prompt): the
	 * task waits paused, the request kept for the resume. */
	if (!jget_bool(msg, "ok") && setup_failed(msg)) {
		char reason[1024];

		snprintf(reason, sizeof(reason), "setup (planner): %s; fix it "
		    "(see `masterd -n`), then `masterctl resume`",
		    why ? why : "no reason given");
		task_limit(t, reason);
		return;
	}
	json_decref(c->plan_request);
	c->plan_request = NULL;
	if (strcmp(kind, "attribute") == 0) {
		task_integration_attributed(t, jget_bool(msg, "ok"),
		    json_object_get(msg, "plan"), why);
		return;
	}
	if (!jget_bool(msg, "ok")) {
		log_err("task %lld: the planner's %s failed: %s",
		    (long long)t->id, kind, why ? why : "?");
		if (strcmp(kind, "plan") == 0)
			task_finish(t, TASK_FAILED, why ? why :
			    "planning failed");
		else
			task_finish(t, TASK_DONE, "review unavailable; the "
			    "work stands as it is");
		return;
	}
	if (strcmp(kind, "plan") == 0)
		on_plan(t, json_object_get(msg, "plan"), model);
	else
		on_review(t, json_object_get(msg, "plan"), model);
}

/* ---------------------------------------------------------- dispatch */

void
tasks_child_message(struct child *c, const struct msg_spec *spec,
    json_t *msg)
{
	struct task *t = task_find(c->md, c->task);
	uint64_t calls;

	if (spec->type == MSG_PROVIDER_REPORT) {
		provider_report(c->md, c, msg);
		return;
	}
	if (t == NULL)
		return;
	switch (spec->type) {
	case MSG_INTERFACE_PUBLISH:
		calls = registry_calls(c->md->reg);
		on_publish(c, t, msg);
		log_debug("domain %s (task %lld) publish: %llu registry "
		    "statements", c->name, (long long)c->task,
		    (unsigned long long)(registry_calls(c->md->reg) - calls));
		break;
	case MSG_ROUND:
		on_round(c, t, msg);
		break;
	case MSG_PLAN_RESULT:
		if (c->role == ROLE_PLANNER)
			on_plan_result(c, t, msg);
		break;
	case MSG_INTEGRATE_RESULT:
		if (c->role == ROLE_INTEGRATOR)
			task_integrator_result(c, t, msg);
		break;
	case MSG_PROGRESS:
		event_emit(c->md, c->task, c->name, EV_PROGRESS,
		    json_pack("{s:O, s:O*}", "stage", json_object_get(msg,
		    "stage"), "text", json_object_get(msg, "text")));
		break;
	default:
		break;
	}
}

void
tasks_child_down(struct child *c)
{
	struct task *t = task_find(c->md, c->task);

	if (c->role == ROLE_INTEGRATOR) {
		task_integrator_down(c, t);
		return;
	}
	provider_work_ended(c->md, c);
	/* The round in flight is redone by the next child. */
	if (t != NULL && c->busy && c->directive > 0)
		set_directive(t, c->directive, DIRECTIVE_QUEUED,
		    "child went down; requeued");
	c->busy = false;
	c->directive = 0;
}
