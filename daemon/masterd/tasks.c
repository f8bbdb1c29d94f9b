/*
 * tasks.c — what the master does with a task: record it and its domains,
 * start one child per domain, assign the task, hand each idle child its
 * next queued directive, and take what children send back (interfaces,
 * progress, results) into the registry and out to the other domains.
 *
 * Every acknowledgement follows the registry write it reports, so a
 * kill -9 between the two loses nothing that was acknowledged.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/iface.h"
#include "common/log.h"
#include "common/repo.h"
#include "daemon/masterd/engine.h"
#include "daemon/masterd/masterd.h"
#include "daemon/masterd/registry.h"
#include "daemon/masterd/supervise.h"
#include "daemon/masterd/tasks.h"

#define TASK_TEXT_MAX	(64 * 1024)
#define TASK_DOMAINS_MAX 64

/* What every domain is asked first; the planner refines what follows. */
#define FIRST_DIRECTIVE "Build the first working version of your domain's " \
	"part of the task, with tests, and publish its interface."

/* <state>/tasks/<id>/repo.git, where the children's branches meet. */
static void
task_gitdir(const struct masterd *md, int64_t task, char *buf, size_t len)
{
	snprintf(buf, len, "%s/tasks/%lld/repo.git", md->conf->state_dir,
	    (long long)task);
}

bool
tasks_state_over(const char *state)
{
	return strcmp(state, TASK_DONE) == 0 ||
	    strcmp(state, TASK_FAILED) == 0 ||
	    strcmp(state, TASK_CANCELLED) == 0;
}

/* 0 when the task exists and is not over; else -1 saying why. */
static int
task_open(struct masterd *md, int64_t task, char *err, size_t errlen)
{
	json_t *t = registry_task_get(md->reg, task);
	bool over;

	if (t == NULL) {
		if (err != NULL)
			snprintf(err, errlen, "no task %lld", (long long)task);
		return TASKS_ENOENT;
	}
	over = tasks_state_over(json_string_value(json_object_get(t, "state")));
	json_decref(t);
	if (over) {
		if (err != NULL)
			snprintf(err, errlen, "task %lld is already over",
			    (long long)task);
		return TASKS_ECONFLICT;
	}
	return 0;
}

const char *
tasks_errcode(int rc)
{
	switch (rc) {
	case TASKS_ENOENT:	return ERR_NOT_FOUND;
	case TASKS_ECONFLICT:	return ERR_CONFLICT;
	case TASKS_ESTORAGE:	return ERR_STORAGE;
	default:		return ERR_BAD_REQUEST;
	}
}

void
tasks_set_state(struct masterd *md, int64_t task, const char *state,
    const char *reason)
{
	if (registry_task_set_state(md->reg, task, state, reason) != 0) {
		log_err("task %lld: cannot record state %s: %s",
		    (long long)task, state, registry_errmsg(md->reg));
		return;
	}
	event_emit(md, task, NULL, "task.state", json_pack("{s:s, s:s*}",
	    "state", state, "reason", reason));
}

/* ---------------------------------------------------------- children */

static struct child *
start_domain(struct masterd *md, int64_t task, int64_t domain,
    const char *name)
{
	struct child *c = child_new(md, task, domain, name);

	if (c == NULL)
		return NULL;
	if (child_start(c) != 0) {
		log_err("domain %s (task %lld): %s", name, (long long)task,
		    c->reason);
		registry_domain_set_state(md->reg, domain, DOMAIN_FATAL,
		    c->reason);
		c->state = CHILD_FATAL;
	}
	return c;
}

static void assign_domain(struct child *);
static void resume_task(struct masterd *, int64_t);
static bool child_busy_on(struct masterd *, int64_t, const char *);
static int add_domain(struct masterd *, int64_t, const char *, const char *,
    const json_t *, char *, size_t);

/* The latest interfaces of the task's domains other than `except`. */
static json_t *
peer_interfaces(struct masterd *md, int64_t task, const char *except)
{
	json_t *all = registry_interfaces_latest(md->reg, task), *peers, *i;
	size_t n;

	peers = json_array();
	json_array_foreach(all, n, i) {
		if (except == NULL ||
		    strcmp(json_string_value(json_object_get(i, "domain")),
		    except) != 0)
			json_array_append(peers, i);
	}
	json_decref(all);
	return peers;
}

static void
send_peers(struct masterd *md, int64_t task, const char *except)
{
	struct child *c;
	json_t *m;

	TAILQ_FOREACH(c, &md->children, entry) {
		if (c->task != task || c->state != CHILD_RUNNING ||
		    strcmp(c->name, except) == 0)
			continue;
		m = msg_new(MSG_INTERFACE_PEERS, masterd_next_id(md));
		json_object_set_new(m, "task", json_integer(task));
		json_object_set_new(m, "peers", peer_interfaces(md, task,
		    c->name));
		child_send(c, m);
	}
}

void
tasks_child_ready(struct child *c)
{
	if (c->planner) {
		engine_planner_ready(c);
		return;
	}
	assign_domain(c);
}

static void
assign_domain(struct child *c)
{
	struct masterd *md = c->md;
	json_t *task = registry_task_get(md->reg, c->task);
	json_t *dom = registry_domain_get(md->reg, c->domain), *m, *spec;

	if (task == NULL || dom == NULL)
		goto out;
	spec = json_object_get(task, "spec");
	m = msg_new(MSG_TASK_ASSIGN, masterd_next_id(md));
	json_object_set(m, "task", json_object_get(task, "id"));
	json_object_set(m, "text", json_object_get(task, "text"));
	json_object_set_new(m, "domain", json_string(c->name));
	if (json_is_string(json_object_get(dom, "prompt")))
		json_object_set(m, "prompt", json_object_get(dom, "prompt"));
	if (json_is_array(json_object_get(dom, "checks")))
		json_object_set(m, "checks", json_object_get(dom, "checks"));
	if (json_is_array(json_object_get(spec, "directives")))
		json_object_set(m, "directives",
		    json_object_get(spec, "directives"));
	if (json_is_object(json_object_get(spec, "budget")))
		json_object_set(m, "budget", json_object_get(spec, "budget"));
	json_object_set_new(m, "peers", peer_interfaces(md, c->task, c->name));
	child_send(c, m);
	tasks_kick(md, c->task);
out:
	json_decref(task);
	json_decref(dom);
}

/* ---------------------------------------------------------- directives */

static bool
task_runnable(struct masterd *md, int64_t id)
{
	json_t *t = registry_task_get(md->reg, id);
	bool ok;

	if (t == NULL)
		return false;
	ok = !json_is_true(json_object_get(t, "paused")) &&
	    !tasks_state_over(json_string_value(json_object_get(t, "state")));
	json_decref(t);
	return ok;
}

/*
 * A domain's first directive waits until the domains it depends on have
 * published an interface (or given up): providers before consumers.
 */
static bool
deps_ready(struct masterd *md, const struct child *c)
{
	json_t *t = registry_task_get(md->reg, c->task), *dep;
	const json_t *deps = json_object_get(json_object_get(json_object_get(t,
	    "spec"), "depends"), c->name);
	json_t *iface, *open;
	int64_t id;
	size_t i;
	bool ready = true;

	json_array_foreach(deps, i, dep) {
		if (registry_domain_find(md->reg, c->task,
		    json_string_value(dep), &id) != 0)
			continue;
		if ((iface = registry_interface_get(md->reg, id, 0)) != NULL) {
			json_decref(iface);
			continue;
		}
		open = registry_directive_next(md->reg, id);
		if (open != NULL || child_busy_on(md, c->task,
		    json_string_value(dep))) {
			ready = false;
			json_decref(open);
			break;
		}
	}
	json_decref(t);
	return ready;
}

/* Returns true when a directive was handed out. */
static bool
dispatch_one(struct child *c, bool honour_deps)
{
	struct masterd *md = c->md;
	json_t *d = registry_directive_next(md->reg, c->domain), *m;
	const char *src;
	int64_t id;

	if (d == NULL)
		return false;
	src = json_string_value(json_object_get(d, "source"));
	if (honour_deps && src != NULL && strcmp(src, "plan") == 0 &&
	    !deps_ready(md, c)) {
		json_decref(d);
		return false;
	}
	id = json_integer_value(json_object_get(d, "id"));
	if (registry_directive_set_state(md->reg, id, DIRECTIVE_RUNNING,
	    NULL) != 0) {
		json_decref(d);
		return false;
	}
	m = msg_new(MSG_DIRECTIVE, masterd_next_id(md));
	json_object_set_new(m, "task", json_integer(c->task));
	json_object_set_new(m, "directive", json_integer(id));
	json_object_set(m, "text", json_object_get(d, "text"));
	json_object_set(m, "source", json_object_get(d, "source"));
	json_object_set(m, "priority", json_object_get(d, "priority"));
	c->busy = true;
	c->directive = id;
	child_send(c, m);
	event_emit(md, c->task, c->name, "directive.running",
	    json_pack("{s:I}", "directive", (json_int_t)id));
	json_decref(d);
	return true;
}

static bool
child_busy_on(struct masterd *md, int64_t task, const char *name)
{
	struct child *c = child_find(md, task, name);

	return c != NULL && c->busy;
}

/*
 * One pass honouring dependencies; if that hands out nothing while no
 * child of the task works, a cycle in the depends would stall it: then
 * dependencies are ignored.
 */
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

static bool
can_take_work(const struct masterd *md, const struct child *c)
{
	return c->state == CHILD_RUNNING && !c->busy &&
	    c->hold_until <= time(NULL) &&
	    calls_in_flight(md) < md->conf->max_llm_calls;
}

static void
dispatch_task(struct masterd *md, int64_t task)
{
	struct child *c;
	bool any = false, busy = false, waiting = false;

	TAILQ_FOREACH(c, &md->children, entry) {
		if (c->task != task || c->planner)
			continue;
		/* A provider still starting is not a cycle: wait for it. */
		busy = busy || c->busy || c->state == CHILD_STARTING ||
		    c->state == CHILD_BACKOFF;
		if (!can_take_work(md, c))
			continue;
		if (dispatch_one(c, true))
			any = true;
		else
			waiting = true;
	}
	if (any || busy || !waiting)
		return;
	TAILQ_FOREACH(c, &md->children, entry) {
		if (c->task == task && !c->planner && can_take_work(md, c))
			dispatch_one(c, false);
	}
}

/*
 * Directives the registry says are running but no child works on (a
 * write that failed, say on a full disk, or a child that went away):
 * back to the queue, so the task cannot stall on them.
 */
static void
requeue_orphans(struct masterd *md, int64_t task)
{
	json_t *dirs = registry_directives(md->reg, task, 0), *d;
	struct child *c;
	size_t i;

	json_array_foreach(dirs, i, d) {
		json_int_t id = json_integer_value(json_object_get(d, "id"));
		const char *dom = json_string_value(json_object_get(d,
		    "domain"));

		if (strcmp(json_string_value(json_object_get(d, "state")),
		    DIRECTIVE_RUNNING) != 0 || dom == NULL)
			continue;
		c = child_find(md, task, dom);
		if (c != NULL && c->busy && c->directive == id)
			continue;
		registry_directive_set_state(md->reg, id, DIRECTIVE_QUEUED,
		    "no child was working on it; requeued");
	}
	json_decref(dirs);
}

/* Every few seconds: what events alone would not notice (time budgets,
 * writes that failed and can be retried now). */
void
tasks_tick(struct masterd *md)
{
	json_t *tasks = registry_tasks_unfinished(md->reg), *t;
	size_t i;

	json_array_foreach(tasks, i, t) {
		int64_t id = json_is_integer(t) ? json_integer_value(t) :
		    json_integer_value(json_object_get(t, "id"));

		engine_check_limits(md, id);
	}
	json_decref(tasks);
	tasks_kick(md, 0);
}

void
tasks_kick(struct masterd *md, int64_t task)
{
	struct child *c;
	json_t *tasks = json_object(), *v;
	const char *k;
	char key[32];

	TAILQ_FOREACH(c, &md->children, entry) {
		if (task != 0 && c->task != task)
			continue;
		snprintf(key, sizeof(key), "%lld", (long long)c->task);
		json_object_set_new(tasks, key, json_integer(c->task));
	}
	json_object_foreach(tasks, k, v) {
		int64_t t = json_integer_value(v);

		if (!task_runnable(md, t))
			continue;
		requeue_orphans(md, t);
		dispatch_task(md, t);
		/* A task with nothing left to hand out takes its next step. */
		engine_idle(md, t);
	}
	json_decref(tasks);
}

/*
 * New work for a finished task reopens it: its domains start again where
 * their branches are.  A cancelled task stays over.
 */
static int
reopen(struct masterd *md, int64_t task, char *err, size_t errlen)
{
	json_t *t = registry_task_get(md->reg, task);
	const char *state = t ? json_string_value(json_object_get(t, "state"))
	    : NULL;
	int rc = 0;

	if (state == NULL || !tasks_state_over(state))
		goto out;
	if (strcmp(state, TASK_CANCELLED) == 0) {
		snprintf(err, errlen, "task %lld was cancelled; submit a new "
		    "task", (long long)task);
		rc = -1;
		goto out;
	}
	tasks_set_state(md, task, TASK_BUILDING, "reopened by new work");
	resume_task(md, task);
out:
	json_decref(t);
	return rc;
}

int
tasks_add_directive(struct masterd *md, int64_t task, const char *domain,
    const char *source, const char *text, int priority, json_t **out,
    char *err, size_t errlen)
{
	int64_t dom, id;
	bool merged;

	*out = NULL;
	if (text == NULL || *text == '\0' || strlen(text) > TASK_TEXT_MAX) {
		snprintf(err, errlen, "a directive needs 1 to %d bytes of text",
		    TASK_TEXT_MAX);
		return TASKS_EINVAL;
	}
	if (registry_domain_find(md->reg, task, domain, &dom) != 0) {
		snprintf(err, errlen, "task %lld has no domain \"%s\"",
		    (long long)task, domain);
		return TASKS_ENOENT;
	}
	if (reopen(md, task, err, errlen) != 0)
		return TASKS_ECONFLICT;
	if (registry_directive_add(md->reg, task, dom, source, text, priority,
	    &id, &merged) != 0) {
		snprintf(err, errlen, "registry: %s", registry_errmsg(md->reg));
		return TASKS_ESTORAGE;
	}
	*out = json_pack("{s:I, s:b}", "id", (json_int_t)id, "merged",
	    merged);
	event_emit(md, task, domain, merged ? "directive.merged" :
	    "directive.queued", json_pack("{s:I, s:s, s:s}", "directive",
	    (json_int_t)id, "source", source, "text", text));
	tasks_kick(md, task);
	return 0;
}

/* ---------------------------------------------------------- messages */

static void
on_publish(struct child *c, const json_t *msg)
{
	struct masterd *md = c->md;
	json_t *doc = json_object_get(msg, "interface");
	char err[256];
	bool changed;
	int version;

	if (iface_validate(doc, c->name, err, sizeof(err)) != 0) {
		log_warn("domain %s published an invalid interface (%s); "
		    "ignored", c->name, err);
		event_emit(md, c->task, c->name, "interface.refused",
		    json_pack("{s:s}", "reason", err));
		return;
	}
	if (registry_interface_add(md->reg, c->domain, doc, &version,
	    &changed) != 0) {
		log_err("domain %s: interface not stored: %s", c->name,
		    registry_errmsg(md->reg));
		return;
	}
	if (!changed)
		return;
	event_emit(md, c->task, c->name, "interface.published",
	    json_pack("{s:i}", "version", version));
	send_peers(md, c->task, c->name);
	engine_on_publish(md, c->task);
}

/* Bring an accepted round's branch into main. */
static void
merge_domain(struct child *c, const char *summary)
{
	struct masterd *md = c->md;
	char gitdir[4096], message[256], oid[REPO_OID_HEX], err[512];
	int rc;

	task_gitdir(md, c->task, gitdir, sizeof(gitdir));
	snprintf(message, sizeof(message), "Merge domain/%s: %.180s", c->name,
	    summary ? summary : "accepted round");
	rc = repo_merge_domain(gitdir, c->name, message, oid, err,
	    sizeof(err));
	if (rc < 0) {
		log_err("task %lld: merging domain %s: %s", (long long)c->task,
		    c->name, err);
		event_emit(md, c->task, c->name, "merge.failed",
		    json_pack("{s:s}", "reason", err));
		return;
	}
	if (rc != REPO_UNCHANGED)
		event_emit(md, c->task, c->name, "merged",
		    json_pack("{s:s}", "commit", oid));
}

static void
on_hold_over(uv_timer_t *t)
{
	struct child *c = t->data;

	c->hold_until = 0;
	event_emit(c->md, c->task, c->name, "domain.resumed", NULL);
	tasks_kick(c->md, c->task);
}

/* The provider said when to come back: hold this domain until then. */
static void
hold_domain(struct child *c, time_t until, const char *why)
{
	time_t now = time(NULL);

	c->hold_until = until > now ? until : now + 1;
	uv_timer_start(&c->hold_timer, on_hold_over,
	    (uint64_t)(c->hold_until - now) * 1000, 0);
	log_warn("domain %s (task %lld): rate limited; held until %lld: %s",
	    c->name, (long long)c->task, (long long)c->hold_until, why);
	event_emit(c->md, c->task, c->name, "domain.held",
	    json_pack("{s:I, s:s}", "until", (json_int_t)c->hold_until,
	    "reason", why));
}

static int64_t
directive_attempts(struct masterd *md, json_int_t id)
{
	json_t *d = registry_directive_get(md->reg, id);
	int64_t n = json_integer_value(json_object_get(d, "attempts"));

	json_decref(d);
	return n;
}

static void
directive_failed(struct child *c, json_int_t id, const json_t *e)
{
	struct masterd *md = c->md;
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *why = json_string_value(json_object_get(e, "message"));
	json_int_t until = json_integer_value(json_object_get(e, "until"));

	if (code != NULL && strcmp(code, "rate_limited") == 0) {
		/* Not the directive's fault: it waits for the provider. */
		registry_directive_set_state(md->reg, id, DIRECTIVE_QUEUED, why);
		hold_domain(c, (time_t)until, why ? why : "rate limited");
		return;
	}
	if (code != NULL && strcmp(code, "cancelled") == 0 &&
	    task_open(md, c->task, NULL, 0) == 0) {
		/* Cut short by pause: it is redone on resume. */
		registry_directive_set_state(md->reg, id, DIRECTIVE_QUEUED,
		    "cancelled; requeued");
		return;
	}
	if (directive_attempts(md, id) < md->conf->directive_attempts) {
		registry_directive_set_state(md->reg, id, DIRECTIVE_QUEUED, why);
		event_emit(md, c->task, c->name, "directive.retry",
		    json_pack("{s:I, s:s*, s:s*}", "directive", id, "code",
		    code, "reason", why));
		return;
	}
	/* Dropped, not retried for ever: the loop must not spin. */
	registry_directive_set_state(md->reg, id, DIRECTIVE_DROPPED, why);
	event_emit(md, c->task, c->name, "directive.dropped",
	    json_pack("{s:I, s:s*, s:s*}", "directive", id, "code", code,
	    "reason", why));
}

static void
on_result(struct child *c, const json_t *msg)
{
	struct masterd *md = c->md;
	json_int_t id = json_integer_value(json_object_get(msg, "directive"));
	const char *commit = json_string_value(json_object_get(msg, "commit"));
	const char *summary = json_string_value(json_object_get(msg,
	    "summary"));

	if (id <= 0 || id != c->directive) {
		log_warn("domain %s: result for directive %lld, which it was "
		    "not given; ignored", c->name, (long long)id);
		return;
	}
	c->busy = false;
	c->directive = 0;
	if (json_is_true(json_object_get(msg, "ok"))) {
		registry_directive_set_state(md->reg, id, DIRECTIVE_DONE, NULL);
		event_emit(md, c->task, c->name, "directive.done",
		    json_pack("{s:I, s:s*, s:s*}", "directive", id, "commit",
		    commit, "summary", summary));
		if (commit != NULL)
			merge_domain(c, summary);
	} else {
		directive_failed(c, id, json_object_get(msg, "error"));
	}
	/* A call slot is free: any task may have been waiting for it. */
	tasks_kick(md, 0);
}

static bool
round_stored(struct masterd *md, const struct child *c, const char *commit)
{
	json_t *rounds, *r;
	size_t i;
	bool found = false;

	if (commit == NULL)
		return false;
	rounds = registry_rounds(md->reg, c->task, c->domain);
	json_array_foreach(rounds, i, r) {
		const char *have = json_string_value(json_object_get(r,
		    "commit"));

		if (have != NULL && strcmp(have, commit) == 0) {
			found = true;
			break;
		}
	}
	json_decref(rounds);
	return found;
}

static void
store_round(struct child *c, json_int_t id, const json_t *msg)
{
	struct masterd *md = c->md;
	const json_t *usage = json_object_get(msg, "usage");

	if (registry_round_add(md->reg, c->task, c->domain, id, msg,
	    NULL) != 0)
		log_err("domain %s: round not stored: %s", c->name,
		    registry_errmsg(md->reg));
	event_emit(md, c->task, c->name, "round", json_pack(
	    "{s:I, s:O, s:O, s:O, s:O*, s:O*, s:O*}", "directive", id,
	    "round", json_object_get(msg, "round"),
	    "ok", json_object_get(msg, "ok"),
	    "stage", json_object_get(msg, "stage"),
	    "commit", json_object_get(msg, "commit"),
	    "error", json_object_get(json_object_get(msg, "error"), "message"),
	    "usage", usage));
	engine_check_limits(md, c->task);
}

static void
on_round(struct child *c, const json_t *msg)
{
	struct masterd *md = c->md;
	json_int_t id = json_integer_value(json_object_get(msg, "directive"));

	if (id <= 0 || id != c->directive) {
		log_warn("domain %s: round of directive %lld, which it was not "
		    "given; ignored", c->name, (long long)id);
		return;
	}
	/* Round 0 of a final round: the directive ended before any round
	 * was played; there is only the outcome.  A round the child found
	 * committed is reported again after a restart: it is one round,
	 * stored once. */
	if (json_integer_value(json_object_get(msg, "round")) != 0 &&
	    !round_stored(md, c, json_string_value(json_object_get(msg,
	    "commit"))))
		store_round(c, id, msg);
	if (json_is_true(json_object_get(msg, "final")))
		on_result(c, msg);
}

void
tasks_child_message(struct child *c, const struct msg_spec *spec,
    json_t *msg)
{
	switch (spec->type) {
	case MSG_INTERFACE_PUBLISH:
		on_publish(c, msg);
		break;
	case MSG_ROUND:
		on_round(c, msg);
		break;
	case MSG_PLAN_RESULT:
		if (c->planner)
			engine_plan_result(c, msg);
		break;
	case MSG_PROGRESS:
		event_emit(c->md, c->task, c->name, "progress",
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
	/* The round in flight is redone by the next child. */
	if (c->busy && c->directive > 0)
		registry_directive_set_state(c->md->reg, c->directive,
		    DIRECTIVE_QUEUED, "child went down; requeued");
	c->busy = false;
	c->directive = 0;
}

/* ---------------------------------------------------------- requests */

static int
collect_domains(struct masterd *md, const json_t *req, json_t **out,
    char *err, size_t errlen)
{
	json_t *given = json_object_get(req, "domains"), *list, *v;
	size_t i;

	list = json_array();
	if (given != NULL) {
		json_array_foreach(given, i, v)
			json_array_append(list, v);
	} else {
		for (i = 0; i < md->conf->ndomains; i++)
			json_array_append_new(list,
			    json_string(md->conf->domains[i].name));
	}
	/* None named: the planner decides. */
	if (json_array_size(list) > TASK_DOMAINS_MAX) {
		snprintf(err, errlen, "at most %d domains", TASK_DOMAINS_MAX);
		goto fail;
	}
	json_array_foreach(list, i, v) {
		const char *name = json_string_value(v);

		if (!conf_domain_name_ok(name) ||
		    strcmp(name, PLANNER_NAME) == 0) {
			snprintf(err, errlen, "bad domain name: want 1-32 of "
			    "a-z 0-9 - _, starting with a letter, not \"%s\"",
			    PLANNER_NAME);
			goto fail;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(name, json_string_value(
			    json_array_get(list, j))) == 0) {
				snprintf(err, errlen, "domain %s named twice",
				    name);
				goto fail;
			}
		}
	}
	*out = list;
	return 0;
fail:
	json_decref(list);
	return -1;
}

/* Checks: the configuration's for the domain, else the plan's. */
static int
add_domain_row(struct masterd *md, int64_t task, const char *name,
    const char *prompt, const json_t *planned_checks, int64_t *id)
{
	const struct domain_conf *dc = conf_domain(md->conf, name);
	json_t *checks = json_array();
	int rc;

	if (dc != NULL) {
		for (size_t i = 0; i < dc->checks.n; i++)
			json_array_append_new(checks,
			    json_string(dc->checks.v[i]));
		if (prompt == NULL)
			prompt = dc->prompt;
	}
	if (json_array_size(checks) == 0 && json_is_array(planned_checks))
		json_array_extend(checks, (json_t *)planned_checks);
	/* A domain never stands without its first directive. */
	rc = registry_batch_begin(md->reg);
	if (rc == 0)
		rc = registry_domain_add(md->reg, task, name, prompt, checks,
		    id);
	if (rc == 0)
		rc = registry_directive_add(md->reg, task, *id, "plan",
		    FIRST_DIRECTIVE, 0, NULL, NULL);
	json_decref(checks);
	return registry_batch_end(md->reg, rc == 0) == 0 ? rc : -1;
}

/* Standing directives: the configuration's, then the submitter's. */
static json_t *
standing_directives(const struct masterd *md, const json_t *req)
{
	json_t *all = json_array();

	for (size_t i = 0; i < md->conf->standing.n; i++)
		json_array_append_new(all, json_string(md->conf->standing.v[i]));
	if (json_is_array(json_object_get(req, "directives")))
		json_array_extend(all, json_object_get(req, "directives"));
	return all;
}

/* Which domains each domain waits for: the configuration's depends. */
static json_t *
config_depends(const struct masterd *md, const json_t *domains)
{
	json_t *deps = json_object(), *v;
	size_t i;

	json_array_foreach(domains, i, v) {
		const struct domain_conf *dc = conf_domain(md->conf,
		    json_string_value(v));
		json_t *list = json_array();

		for (size_t j = 0; dc != NULL && j < dc->depends.n; j++)
			json_array_append_new(list,
			    json_string(dc->depends.v[j]));
		json_object_set_new(deps, json_string_value(v), list);
	}
	return deps;
}

static json_t *
submit_spec(const struct masterd *md, const json_t *req,
    const json_t *domains)
{
	json_t *spec = json_pack("{s:O, s:o, s:o}", "domains", domains,
	    "directives", standing_directives(md, req),
	    "depends", config_depends(md, domains));

	if (json_object_get(req, "budget") != NULL)
		json_object_set(spec, "budget", json_object_get(req, "budget"));
	return spec;
}

int
tasks_submit(struct masterd *md, const json_t *req, int64_t *id,
    char *err, size_t errlen)
{
	const char *text = json_string_value(json_object_get(req, "text"));
	json_t *domains = NULL, *spec, *v;
	char gitdir[4096];
	int64_t dom;
	size_t i;
	int rc = TASKS_ESTORAGE;

	if (*text == '\0' || strlen(text) > TASK_TEXT_MAX) {
		snprintf(err, errlen, "a task needs 1 to %d bytes of text",
		    TASK_TEXT_MAX);
		return TASKS_EINVAL;
	}
	if (collect_domains(md, req, &domains, err, errlen) != 0)
		return TASKS_EINVAL;
	spec = submit_spec(md, req, domains);
	/* The task and its domains are stored whole or not at all, with
	 * one fsync however many domains it names. */
	if (registry_batch_begin(md->reg) != 0)
		goto storage;
	if (registry_task_add(md->reg, text, spec, id) != 0)
		goto rollback;
	json_array_foreach(domains, i, v) {
		if (add_domain_row(md, *id, json_string_value(v), NULL, NULL,
		    &dom) != 0)
			goto rollback;
	}
	if (registry_batch_end(md->reg, true) != 0)
		goto storage;
	task_gitdir(md, *id, gitdir, sizeof(gitdir));
	if (repo_init(gitdir, err, errlen) != 0) {
		registry_task_set_state(md->reg, *id, TASK_FAILED, err);
		goto out;
	}
	event_emit(md, *id, NULL, "task.submitted", json_pack("{s:s, s:O}",
	    "text", text, "domains", domains));
	if (json_array_size(domains) == 0) {
		engine_plan(md, *id);
	} else {
		tasks_set_state(md, *id, TASK_BUILDING, NULL);
		json_array_foreach(domains, i, v) {
			if (registry_domain_find(md->reg, *id,
			    json_string_value(v), &dom) == 0)
				start_domain(md, *id, dom,
				    json_string_value(v));
		}
	}
	rc = 0;
	goto out;
rollback:
	snprintf(err, errlen, "registry: %s", registry_errmsg(md->reg));
	registry_batch_end(md->reg, false);
	goto out;
storage:
	snprintf(err, errlen, "registry: %s", registry_errmsg(md->reg));
out:
	json_decref(spec);
	json_decref(domains);
	return rc;
}

int
tasks_add_domain(struct masterd *md, int64_t task, const char *name,
    const char *prompt, char *err, size_t errlen)
{
	return add_domain(md, task, name, prompt, NULL, err, errlen);
}

int
tasks_add_planned(struct masterd *md, int64_t task, const json_t *d,
    char *err, size_t errlen)
{
	const char *name = json_string_value(json_object_get(d, "name"));
	json_t *t, *spec;
	int rc;

	if (name == NULL) {
		snprintf(err, errlen, "a planned domain needs a name");
		return TASKS_EINVAL;
	}
	rc = add_domain(md, task, name, json_string_value(json_object_get(d,
	    "prompt")), json_object_get(d, "checks"), err, errlen);
	if (rc != 0 || (t = registry_task_get(md->reg, task)) == NULL)
		return rc;
	/* Remember what it waits for, beside the configured depends. */
	spec = json_deep_copy(json_object_get(t, "spec"));
	if (json_is_object(spec)) {
		if (!json_is_object(json_object_get(spec, "depends")))
			json_object_set_new(spec, "depends", json_object());
		json_object_set(json_object_get(spec, "depends"), name,
		    json_is_array(json_object_get(d, "depends")) ?
		    json_object_get(d, "depends") : json_array());
		registry_task_set_spec(md->reg, task, spec);
	}
	json_decref(spec);
	json_decref(t);
	return 0;
}

static int
add_domain(struct masterd *md, int64_t task, const char *name,
    const char *prompt, const json_t *checks, char *err, size_t errlen)
{
	int64_t dom;
	int rc;

	if ((rc = task_open(md, task, err, errlen)) != 0)
		return rc;
	if (!conf_domain_name_ok(name) || strcmp(name, PLANNER_NAME) == 0) {
		snprintf(err, errlen, "bad domain name \"%s\"", name);
		return TASKS_EINVAL;
	}
	if (registry_domain_find(md->reg, task, name, &dom) == 0) {
		snprintf(err, errlen, "task %lld already has domain %s",
		    (long long)task, name);
		return TASKS_ECONFLICT;
	}
	if (add_domain_row(md, task, name, prompt, checks, &dom) != 0) {
		snprintf(err, errlen, "registry: %s", registry_errmsg(md->reg));
		return TASKS_ESTORAGE;
	}
	event_emit(md, task, name, "domain.added", NULL);
	start_domain(md, task, dom, name);
	return 0;
}

void
tasks_finish(struct masterd *md, int64_t task, const char *state,
    const char *reason)
{
	struct child *c, *next;

	tasks_set_state(md, task, state, reason);
	log_notice("task %lld %s: %s", (long long)task, state, reason);
	for (c = TAILQ_FIRST(&md->children); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->task == task)
			child_stop(c, reason, true);
	}
}

int
tasks_cancel(struct masterd *md, int64_t task, char *err, size_t errlen)
{
	int rc;

	if ((rc = task_open(md, task, err, errlen)) != 0)
		return rc;
	tasks_finish(md, task, TASK_CANCELLED, "cancelled by the user");
	return 0;
}

/* Stop the calls in flight now; their directives go back to the queue. */
static void
cancel_work(struct masterd *md, int64_t task)
{
	struct child *c;
	json_t *m;

	TAILQ_FOREACH(c, &md->children, entry) {
		if (!c->busy || (task != 0 && c->task != task))
			continue;
		m = msg_new(MSG_CANCEL, masterd_next_id(md));
		json_object_set_new(m, "task", json_integer(c->task));
		json_object_set_new(m, "directive", json_integer(c->directive));
		child_send(c, m);
	}
}

void
tasks_pause_for(struct masterd *md, int64_t task, const char *why)
{
	if (registry_task_set_paused(md->reg, task, true, why) != 0) {
		log_err("task %lld: cannot record the pause: %s",
		    (long long)task, registry_errmsg(md->reg));
		return;
	}
	event_emit(md, task, NULL, "task.paused", json_pack("{s:s}", "reason",
	    why));
	cancel_work(md, task);
}

int
tasks_set_paused(struct masterd *md, int64_t task, bool paused)
{
	json_t *ids = task > 0 ? json_pack("[{s:I}]", "id", (json_int_t)task)
	    : registry_tasks_unfinished(md->reg), *t;
	size_t i;
	int n = 0;

	json_array_foreach(ids, i, t) {
		int64_t id = json_is_integer(t) ? json_integer_value(t) :
		    json_integer_value(json_object_get(t, "id"));

		if (registry_task_set_paused(md->reg, id, paused,
		    paused ? "paused by the user" : NULL) != 0) {
			json_decref(ids);
			return -1;
		}
		event_emit(md, id, NULL, paused ? "task.paused" :
		    "task.resumed", NULL);
		if (!paused)
			engine_resumed(md, id);
		n++;
	}
	json_decref(ids);
	if (paused)
		cancel_work(md, task);
	else
		tasks_kick(md, task);
	return n;
}

/* ---------------------------------------------------------- restart */

static bool
task_in_state(struct masterd *md, int64_t task, const char *state)
{
	json_t *t = registry_task_get(md->reg, task);
	bool yes = t != NULL && strcmp(json_string_value(json_object_get(t,
	    "state")), state) == 0;

	json_decref(t);
	return yes;
}

static void
resume_task(struct masterd *md, int64_t task)
{
	json_t *doms = registry_domains(md->reg, task), *d;
	size_t i;

	json_array_foreach(doms, i, d) {
		const char *name = json_string_value(json_object_get(d, "name"));
		const char *state = json_string_value(json_object_get(d,
		    "state"));
		int64_t id = json_integer_value(json_object_get(d, "id"));
		struct child *c;

		if (strcmp(state, DOMAIN_FATAL) == 0) {
			/* Keep it visible and restartable, but down. */
			if ((c = child_new(md, task, id, name)) == NULL)
				continue;
			c->state = CHILD_FATAL;
			snprintf(c->reason, sizeof(c->reason), "%s",
			    json_string_value(json_object_get(d, "reason")) ?
			    json_string_value(json_object_get(d, "reason")) :
			    "failed before the restart");
			continue;
		}
		start_domain(md, task, id, name);
	}
	json_decref(doms);
}

void
tasks_resume_all(struct masterd *md)
{
	json_t *tasks = registry_tasks_unfinished(md->reg), *t, *dirs, *d;
	size_t i, j;

	json_array_foreach(tasks, i, t) {
		int64_t task = json_is_integer(t) ? json_integer_value(t) :
		    json_integer_value(json_object_get(t, "id"));

		/* Rounds cut short by the stop are redone. */
		dirs = registry_directives(md->reg, task, 0);
		json_array_foreach(dirs, j, d) {
			if (strcmp(json_string_value(json_object_get(d,
			    "state")), DIRECTIVE_RUNNING) == 0)
				registry_directive_set_state(md->reg,
				    json_integer_value(json_object_get(d, "id")),
				    DIRECTIVE_QUEUED, "requeued after restart");
		}
		json_decref(dirs);
		log_info("resuming task %lld", (long long)task);
		event_emit(md, task, NULL, "task.resumed_after_restart", NULL);
		resume_task(md, task);
		if (task_in_state(md, task, TASK_PLANNED))
			engine_plan(md, task);
	}
	json_decref(tasks);
}
