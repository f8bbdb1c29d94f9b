/*
 * task.c — the task structs: loading every task from the registry at
 * start, finding them (a task's domains by name through a hash table),
 * writing each change through to the registry, the wire form of a task,
 * the interfaces kept per domain, and the deferred step.
 *
 * A write goes to the registry first; memory changes only when the
 * registry took it, so what is in memory never runs ahead of what a
 * restart would load.
 *
 * The step is one uv_idle handle.  A change marks its task dirty and
 * starts the handle; the handle's callback runs decide and dispatch once
 * for each dirty task and stops itself.  An idle handle, rather than a
 * uv_check, because while one is active the loop polls without blocking:
 * a mark made in a timer callback is acted on in the same turn, where a
 * check handle would wait behind a poll that may block until the next
 * event.  A 0 ms timer would do the same with a timer's bookkeeping.
 * task_mark asks the step to look at every child of the task; task_look
 * (a child became ready) at that child alone (task_dispatch.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/iface.h"
#include "common/log.h"
#include "common/util.h"
#include "daemon/masterd/masterd.h"
#include "daemon/masterd/supervise.h"
#include "daemon/masterd/task.h"
#include "daemon/masterd/tasks.h"


static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

void
task_gitdir(const struct masterd *md, int64_t task, char *buf, size_t len)
{
	snprintf(buf, len, "%s/tasks/%lld/repo.git", md->conf->state_dir,
	    (long long)task);
}

/* ---------------------------------------------------------- the index */

/*
 * Domains by name, chained in buckets: domain_find is asked for every
 * child's message, every dispatch and every dependency, and a walk of
 * the list made a task's start O(domains^2) string compares.  Domains
 * are only ever added; the table doubles at load 1.
 */
static size_t
name_hash(const char *name)
{
	uint64_t h = 14695981039346656037ULL;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 29));
}

static void
index_put(struct task *t, struct domain *d)
{
	struct domain **slot = &t->dindex[name_hash(d->name) &
	    (t->dindex_cap - 1)];

	d->index_next = *slot;
	*slot = d;
}

static void
domain_index_add(struct task *t, struct domain *d)
{
	struct domain *x;

	if (++t->ndomains > t->dindex_cap) {
		free(t->dindex);
		t->dindex_cap = t->dindex_cap ? t->dindex_cap * 2 : 16;
		t->dindex = xcalloc(t->dindex_cap, sizeof(*t->dindex));
		TAILQ_FOREACH(x, &t->domains, entry)
			index_put(t, x);
		return;
	}
	index_put(t, d);
}

/* ---------------------------------------------------------- memory */

struct task *
task_new(struct masterd *md, int64_t id, const char *text,
    const json_t *standing, const struct budget *budget)
{
	struct task *t = xcalloc(1, sizeof(*t));

	t->md = md;
	t->id = id;
	t->text = xstrdup(text);
	t->state = TASK_PLANNED;
	t->created = t->updated = now_epoch();
	t->standing = json_is_array(standing) ? json_deep_copy(standing) :
	    json_array();
	if (budget != NULL)
		t->budget = *budget;
	t->integ.checks = json_array();
	t->integ.last = RUN_ERROR;	/* no run yet: nothing tested */
	TAILQ_INIT(&t->domains);
	TAILQ_INIT(&t->look);
	TAILQ_INIT(&t->to_start);
	TAILQ_INSERT_TAIL(&md->tasks, t, entry);
	return t;
}

struct domain *
domain_new(struct task *t, int64_t id, const char *name, const char *prompt,
    const json_t *checks, const json_t *depends, bool submitted)
{
	struct domain *d = xcalloc(1, sizeof(*d));

	d->task = t;
	d->id = id;
	d->name = xstrdup(name);
	d->prompt = dup_or_null(prompt);
	d->checks = json_is_array(checks) ? json_deep_copy(checks) : NULL;
	d->submitted = submitted;
	d->depends = json_is_array(depends) ? json_deep_copy(depends) : NULL;
	TAILQ_INIT(&d->open);
	TAILQ_INSERT_TAIL(&t->domains, d, entry);
	domain_index_add(t, d);
	return d;
}

static void
domain_free(struct domain *d)
{
	domain_free_directives(d);
	free(d->name);
	free(d->folder);
	free(d->prompt);
	json_decref(d->checks);
	json_decref(d->depends);
	json_decref(d->iface);
	json_decref(d->iface_prev);
	json_decref(d->declared);
	free(d);
}

static void
task_free(struct task *t)
{
	struct domain *d;

	while ((d = TAILQ_FIRST(&t->domains)) != NULL) {
		TAILQ_REMOVE(&t->domains, d, entry);
		domain_free(d);
	}
	free(t->dindex);
	free(t->text);
	free(t->reason);
	json_decref(t->standing);
	json_decref(t->plan);
	task_integration_free(t);
	free(t);
}

void
task_free_all(struct masterd *md)
{
	struct task *t;

	while ((t = TAILQ_FIRST(&md->tasks)) != NULL) {
		TAILQ_REMOVE(&md->tasks, t, entry);
		task_free(t);
	}
}

struct task *
task_find(struct masterd *md, int64_t id)
{
	struct task *t;

	TAILQ_FOREACH(t, &md->tasks, entry)
		if (t->id == id)
			return t;
	return NULL;
}

struct domain *
domain_find(const struct task *t, const char *name)
{
	struct domain *d;

	if (t == NULL || name == NULL || t->dindex == NULL)
		return NULL;
	for (d = t->dindex[name_hash(name) & (t->dindex_cap - 1)]; d != NULL;
	    d = d->index_next)
		if (strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

bool
task_runnable(const struct task *t)
{
	return !t->paused && !task_state_over(t->state);
}

/* ---------------------------------------------------------- load */

static void
load_budget(const json_t *row, struct budget *b)
{
	static const char *const cols[BUDGET_KEY_COUNT] = {
		[BUDGET_TOKENS] = "budget_tokens",
		[BUDGET_COST] = "budget_cost",
		[BUDGET_ROUNDS] = "budget_rounds",
		[BUDGET_TIME] = "budget_time",
	};

	memset(b, 0, sizeof(*b));
	for (int k = 0; k < BUDGET_KEY_COUNT; k++) {
		const json_t *v = json_object_get(row, cols[k]);

		if (json_is_number(v)) {
			b->limit[k] = json_number_value(v);
			b->set |= 1u << k;
		}
	}
}

static void
load_interfaces(struct masterd *md, struct domain *d)
{
	json_t *prev;

	d->declared = registry_interface_latest(md->reg, d->id, true, 0);
	if ((d->iface = registry_interface_latest(md->reg, d->id, false,
	    0)) == NULL)
		return;
	prev = registry_interface_latest(md->reg, d->id, false,
	    (int)jget_int(d->iface, "version", 0));
	if (prev != NULL)
		d->iface_prev = json_incref(json_object_get(prev, "document"));
	json_decref(prev);
}

static int
load_domains(struct masterd *md, struct task *t)
{
	json_t *rows = registry_domains_load(md->reg, t->id), *row;
	struct domain *d;
	size_t i;

	if (rows == NULL)
		return -1;
	json_array_foreach(rows, i, row) {
		d = domain_new(t, jget_int(row, "id", 0), jget_str(row, "name"),
		    jget_str(row, "prompt"), json_object_get(row, "checks"),
		    json_object_get(row, "depends"),
		    jget_bool(row, "submitted"));
		d->folder = dup_or_null(jget_str(row, "folder"));
		load_interfaces(md, d);
	}
	json_decref(rows);
	return task_load_directives(t);
}

static struct task *
load_task(struct masterd *md, const json_t *row)
{
	struct budget b;
	struct task *t;
	int state = vocab_find(task_state_names, TASK_STATE_COUNT,
	    jget_str(row, "state"));

	load_budget(row, &b);
	t = task_new(md, jget_int(row, "id", 0), jget_str(row, "text"),
	    json_object_get(row, "standing"), &b);
	t->state = state >= 0 ? (enum task_state)state : TASK_FAILED;
	t->paused = jget_bool(row, "paused");
	t->reason = dup_or_null(jget_str(row, "reason"));
	t->created = json_number_value(json_object_get(row, "created"));
	t->updated = json_number_value(json_object_get(row, "updated"));
	if (json_is_object(json_object_get(row, "plan")))
		t->plan = json_incref(json_object_get(row, "plan"));
	t->reviews = jget_int(row, "reviews", 0);
	t->planner.input = jget_int(row, "planner_in", 0);
	t->planner.output = jget_int(row, "planner_out", 0);
	t->planner.cost = json_number_value(json_object_get(row,
	    "planner_cost"));
	t->progress_since = jget_int(row, "progress_since", 0);
	task_integration_load(t, row);
	/* The last master's running directives have no child now. */
	t->check_orphans = true;
	return t;
}

/* Every task, oldest first: a finished one may be reopened by new work,
 * and `tasks` lists them all. */
int
task_load_all(struct masterd *md)
{
	json_t *rows = registry_tasks(md->reg), *row;
	size_t i;

	if (rows == NULL)
		return -1;
	/* The registry gives newest first. */
	for (i = json_array_size(rows); i > 0; i--) {
		row = json_array_get(rows, i - 1);
		struct task *t = load_task(md, row);

		if (load_domains(md, t) != 0) {
			json_decref(rows);
			return -1;
		}
		task_asks_load(t);
	}
	json_decref(rows);
	return 0;
}

/* ---------------------------------------------------------- write-through */

static int
stored(struct task *t, int rc, const char *what)
{
	if (rc != 0) {
		log_err("task %lld: %s not stored: %s", (long long)t->id, what,
		    registry_errmsg(t->md->reg));
		return -1;
	}
	t->updated = now_epoch();
	return 0;
}

int
task_set_state(struct task *t, enum task_state state, const char *reason)
{
	if (stored(t, registry_task_set_state(t->md->reg, t->id, state,
	    reason), task_state_names[state]) != 0)
		return -1;
	t->state = state;
	free(t->reason);
	t->reason = dup_or_null(reason);
	event_emit(t->md, t->id, NULL, EV_TASK_STATE, json_pack("{s:s, s:s*}",
	    "state", task_state_names[state], "reason", reason));
	task_mark(t);
	return 0;
}

int
task_set_paused(struct task *t, bool paused, const char *reason)
{
	if (stored(t, registry_task_set_paused(t->md->reg, t->id, paused,
	    reason), "the pause") != 0)
		return -1;
	t->paused = paused;
	free(t->reason);
	t->reason = dup_or_null(reason);
	task_mark(t);
	return 0;
}

int
task_set_budget(struct task *t, const struct budget *b)
{
	if (stored(t, registry_task_set_budget(t->md->reg, t->id, b),
	    "the budget") != 0)
		return -1;
	t->budget = *b;
	return 0;
}

int
task_set_plan(struct task *t, const json_t *plan)
{
	if (stored(t, registry_task_set_plan(t->md->reg, t->id, plan),
	    "the plan") != 0)
		return -1;
	json_decref(t->plan);
	t->plan = json_deep_copy(plan);
	return 0;
}

int
task_count_review(struct task *t)
{
	if (stored(t, registry_task_set_reviews(t->md->reg, t->id,
	    t->reviews + 1), "the review count") != 0)
		return -1;
	t->reviews++;
	return 0;
}

int
task_add_planner_usage(struct task *t, const struct usage *u)
{
	struct usage sum = t->planner;

	sum.input += u->input;
	sum.output += u->output;
	sum.cost += u->cost;
	if (stored(t, registry_task_set_planner_usage(t->md->reg, t->id, &sum),
	    "the planner's usage") != 0)
		return -1;
	t->planner = sum;
	return 0;
}

int
task_mark_progress(struct task *t, int64_t round)
{
	if (stored(t, registry_task_set_progress(t->md->reg, t->id, round),
	    "the progress mark") != 0)
		return -1;
	t->progress_since = round;
	return 0;
}

int
domain_set_depends(struct domain *d, const json_t *depends)
{
	if (stored(d->task, registry_domain_set_depends(d->task->md->reg,
	    d->id, depends), "the depends") != 0)
		return -1;
	json_decref(d->depends);
	d->depends = json_deep_copy(depends);
	return 0;
}

/* ---------------------------------------------------------- wire form */

json_t *
budget_describe(const struct budget *b)
{
	json_t *o = json_object();

	for (int k = 0; k < BUDGET_KEY_COUNT; k++)
		if (b->set & (1u << k))
			json_object_set_new(o, budget_key_names[k],
			    json_real(b->limit[k]));
	return o;
}

/* The old "spec" object, rebuilt from the typed fields for masterctl. */
static json_t *
spec_json(const struct task *t)
{
	json_t *spec = json_object(), *names = json_array();
	json_t *depends = json_object();
	const struct domain *d;

	TAILQ_FOREACH(d, &t->domains, entry) {
		if (d->submitted)
			json_array_append_new(names, json_string(d->name));
		if (d->depends != NULL)
			json_object_set(depends, d->name, d->depends);
	}
	json_object_set_new(spec, "domains", names);
	json_object_set(spec, "directives", t->standing);
	json_object_set_new(spec, "depends", depends);
	if (t->budget.set != 0)
		json_object_set_new(spec, "budget", budget_describe(&t->budget));
	if (t->plan != NULL)
		json_object_set(spec, "plan", t->plan);
	if (t->reviews > 0)
		json_object_set_new(spec, "reviews", json_integer(t->reviews));
	if (t->planner.input != 0 || t->planner.output != 0 ||
	    t->planner.cost != 0)
		json_object_set_new(spec, "planner_usage", json_pack(
		    "{s:I, s:I, s:f}", "input", (json_int_t)t->planner.input,
		    "output", (json_int_t)t->planner.output, "cost",
		    t->planner.cost));
	if (t->progress_since > 0)
		json_object_set_new(spec, "progress_since",
		    json_integer(t->progress_since));
	return spec;
}

json_t *
task_describe(const struct task *t)
{
	return json_pack("{s:I, s:s, s:s, s:b, s:s*, s:f, s:f, s:o}",
	    "id", (json_int_t)t->id, "text", t->text,
	    "state", task_state_names[t->state], "paused", t->paused,
	    "reason", t->reason, "created", t->created, "updated", t->updated,
	    "spec", spec_json(t));
}

/* ---------------------------------------------------------- interfaces */

int
domain_publish(struct domain *d, const json_t *doc, bool declared,
    int *version, bool *changed)
{
	struct masterd *md = d->task->md;
	json_t *latest;

	if (registry_interface_add(md->reg, d->id, doc, declared, version,
	    changed) != 0)
		return -1;
	if (!*changed)
		return 0;
	/* The stored object, as a restart would load it: one read. */
	if ((latest = registry_interface_get(md->reg, d->id, *version)) ==
	    NULL)
		return -1;
	if (declared) {
		json_decref(d->declared);
		d->declared = latest;
		return 0;
	}
	json_decref(d->iface_prev);
	d->iface_prev = d->iface != NULL ?
	    json_incref(json_object_get(d->iface, "document")) : NULL;
	json_decref(d->iface);
	d->iface = latest;
	return 0;
}

const json_t *
domain_declared(const struct domain *d)
{
	if (d->declared == NULL || (d->iface != NULL &&
	    jget_int(d->declared, "version", 0) <
	    jget_int(d->iface, "version", 0)))
		return NULL;
	return json_object_get(d->declared, "document");
}

/* The document the unresolved set reads for d, or NULL when d has said
 * nothing: provides implemented, consumes the newest. */
static json_t *
unresolved_document(const struct domain *d)
{
	const json_t *impl = json_object_get(d->iface, "document");
	const json_t *decl = domain_declared(d);
	const json_t *newest = decl != NULL ? decl : impl;
	json_t *doc;

	if (newest == NULL)
		return NULL;
	doc = json_pack("{s:s, s:O*}", "domain", d->name, "consumes",
	    json_object_get(newest, "consumes"));
	if (impl != NULL)
		json_object_set(doc, "provides", json_object_get(impl,
		    "provides"));
	return doc;
}

void
task_documents(const struct task *t, json_t **latest, json_t **previous)
{
	const struct domain *d;
	json_t *doc;

	*latest = json_array();
	*previous = json_array();
	TAILQ_FOREACH(d, &t->domains, entry) {
		if ((doc = unresolved_document(d)) == NULL) {
			json_array_append_new(*latest, json_pack("{s:s}",
			    "domain", d->name));
			continue;
		}
		json_array_append_new(*latest, doc);
		if (d->iface_prev != NULL)
			json_array_append(*previous, d->iface_prev);
	}
}

json_t *
task_domain_states(const struct task *t)
{
	const struct domain *d;
	json_t *out = json_array(), *s;

	TAILQ_FOREACH(d, &t->domains, entry) {
		s = json_pack("{s:s, s:b, s:b}", "domain", d->name,
		    "published", d->iface != NULL,
		    "open", !TAILQ_EMPTY(&d->open));
		if (domain_declared(d) != NULL)
			json_object_set(s, "declared", (json_t *)
			    domain_declared(d));
		json_array_append_new(out, s);
	}
	return out;
}

static int
by_domain_name(const void *a, const void *b)
{
	const struct domain *x = *(const struct domain *const *)a;
	const struct domain *y = *(const struct domain *const *)b;

	return strcmp(x->name, y->name);
}

json_t *
task_interfaces(const struct task *t, const char *except)
{
	json_t *out = json_array();
	struct domain *d, **v;
	size_t n = 0, i;

	TAILQ_FOREACH(d, &t->domains, entry)
		n++;
	v = xcalloc(n + 1, sizeof(*v));
	n = 0;
	TAILQ_FOREACH(d, &t->domains, entry)
		if (d->iface != NULL)
			v[n++] = d;
	qsort(v, n, sizeof(*v), by_domain_name);
	for (i = 0; i < n; i++)
		if (except == NULL || strcmp(v[i]->name, except) != 0)
			json_array_append(out, v[i]->iface);
	free(v);
	return out;
}

json_t *
task_unresolved(const struct task *t)
{
	json_t *latest, *previous, *set;

	task_documents(t, &latest, &previous);
	set = iface_unresolved(latest, previous);
	json_decref(latest);
	json_decref(previous);
	return set != NULL ? set : json_array();
}

/* ---------------------------------------------------------- the step */

static void
on_step(uv_idle_t *h)
{
	struct masterd *md = h->data;
	struct task *t;
	uint64_t calls;

	uv_idle_stop(h);
	/* A task marked while this runs is dirty again: the handle is
	 * started again and takes it on the next turn. */
	TAILQ_FOREACH(t, &md->tasks, entry) {
		if (!t->dirty)
			continue;
		t->dirty = false;
		calls = registry_calls(md->reg);
		task_start_some(t);
		task_step(t);
		log_debug("task %lld step: %llu registry statements",
		    (long long)t->id, (unsigned long long)
		    (registry_calls(md->reg) - calls));
	}
}

static void
mark_dirty(struct task *t)
{
	struct masterd *md = t->md;

	t->dirty = true;
	if (md->step_ready && !uv_is_active((uv_handle_t *)&md->step))
		uv_idle_start(&md->step, on_step);
}

/* Any change: the step looks at every child of the task. */
void
task_mark(struct task *t)
{
	t->look_all = true;
	mark_dirty(t);
}

/* The step is due again (more children to start): no full pass for it. */
void
task_mark_again(struct task *t)
{
	mark_dirty(t);
}

/* One child's change: the step looks at it alone (task_dispatch.c). */
void
task_look(struct task *t, struct child *c)
{
	if (!c->look_queued) {
		c->look_queued = true;
		TAILQ_INSERT_TAIL(&t->look, c, look_entry);
	}
	mark_dirty(t);
}

void
task_mark_all(struct masterd *md)
{
	struct task *t;

	TAILQ_FOREACH(t, &md->tasks, entry)
		if (task_runnable(t))
			task_mark(t);
}

static void
on_wake(uv_timer_t *h)
{
	struct masterd *md = h->data;

	md->wake_at = 0;
	task_mark_all(md);
}

void
tasks_wake_at(struct masterd *md, double when)
{
	double now = now_epoch();
	uint64_t ms;

	if (!md->step_ready)
		return;
	if (md->wake_at > 0 && md->wake_at <= when && md->wake_at > now)
		return;
	md->wake_at = when;
	ms = when > now ? (uint64_t)((when - now) * 1000.0) + 1 : 0;
	uv_update_time(md->loop);
	uv_timer_start(&md->wake, on_wake, ms, 0);
}

void
task_step_init(struct masterd *md)
{
	uv_idle_init(md->loop, &md->step);
	md->step.data = md;
	uv_timer_init(md->loop, &md->integrate);
	md->integrate.data = md;
	uv_timer_init(md->loop, &md->wake);
	md->wake.data = md;
	md->step_ready = true;
}

/* ---------------------------------------------------------- reads */

/* main.c has closed every handle, the step's too. */
void
tasks_close(struct masterd *md)
{
	md->step_ready = false;
	task_free_all(md);
}

json_t *
tasks_describe(struct masterd *md, int64_t id)
{
	struct task *t = task_find(md, id);

	return t != NULL ? task_describe(t) : NULL;
}

json_t *
tasks_list(struct masterd *md)
{
	json_t *all = json_array();
	struct task *t;

	TAILQ_FOREACH_REVERSE(t, &md->tasks, task_list, entry)
		json_array_append_new(all, task_describe(t));
	return all;
}

bool
tasks_exists(struct masterd *md, int64_t id)
{
	return task_find(md, id) != NULL;
}

int64_t
tasks_newest_with(struct masterd *md, const char *domain)
{
	struct task *t;

	TAILQ_FOREACH_REVERSE(t, &md->tasks, task_list, entry)
		if (domain == NULL || domain_find(t, domain) != NULL)
			return t->id;
	return 0;
}

json_t *
tasks_interfaces(struct masterd *md, int64_t id)
{
	struct task *t = task_find(md, id);

	return t != NULL ? task_interfaces(t, NULL) : json_array();
}

json_t *
tasks_integration(struct masterd *md, int64_t id)
{
	struct task *t = task_find(md, id);

	return t != NULL ? task_integration_describe(t) : json_null();
}

json_t *
tasks_declared(struct masterd *md, int64_t id)
{
	struct task *t = task_find(md, id);
	const struct domain *d;
	json_t *out = json_array();

	if (t == NULL)
		return out;
	TAILQ_FOREACH(d, &t->domains, entry)
		if (domain_declared(d) != NULL)
			json_array_append(out, d->declared);
	return out;
}

json_t *
tasks_unresolved(struct masterd *md, int64_t id)
{
	struct task *t = task_find(md, id);

	return t != NULL ? task_unresolved(t) : json_array();
}
