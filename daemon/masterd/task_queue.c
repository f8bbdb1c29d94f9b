/*
 * task_queue.c — each domain's open directives in memory: loaded with the
 * task, added or merged into an open twin, started, requeued, ended.
 * Every change goes to the registry first and to memory only when the
 * registry took it, so the queue in memory is always the registry's.
 * Closed directives (done, failed, dropped) leave memory: the registry
 * keeps them for `masterctl task`, and the task counts the ones done.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/masterd/masterd.h"
#include "daemon/masterd/task.h"

struct directive *
directive_new(struct domain *d, int64_t id, enum directive_source source,
    const char *text, int priority)
{
	struct directive *x = xcalloc(1, sizeof(*x));

	x->id = id;
	x->source = source;
	x->text = xstrdup(text);
	x->priority = priority;
	x->state = DIRECTIVE_QUEUED;
	TAILQ_INSERT_TAIL(&d->open, x, entry);
	d->task->nopen++;
	return x;
}

static void
directive_free(struct directive *x)
{
	free(x->text);
	free(x);
}

void
domain_free_directives(struct domain *d)
{
	struct directive *x;

	while ((x = TAILQ_FIRST(&d->open)) != NULL) {
		TAILQ_REMOVE(&d->open, x, entry);
		d->task->nopen--;
		directive_free(x);
	}
}

/* The open ones into their domains' queues; the done ones counted. */
int
task_load_directives(struct task *t)
{
	json_t *rows = registry_directives(t->md->reg, t->id, 0), *row;
	struct directive *x;
	struct domain *d;
	size_t i;

	if (rows == NULL)
		return -1;
	json_array_foreach(rows, i, row) {
		int state = vocab_find(directive_state_names,
		    DIRECTIVE_STATE_COUNT, jget_str(row, "state"));
		int source = vocab_find(source_names, SOURCE_COUNT,
		    jget_str(row, "source"));

		if (state == DIRECTIVE_DONE)
			t->done++;
		if ((state != DIRECTIVE_QUEUED && state != DIRECTIVE_RUNNING) ||
		    (d = domain_find(t, jget_str(row, "domain"))) == NULL)
			continue;
		x = directive_new(d, jget_int(row, "id", 0), source >= 0 ?
		    (enum directive_source)source : SOURCE_USER,
		    jget_str(row, "text"), (int)jget_int(row, "priority", 0));
		x->state = (enum directive_state)state;
		x->attempts = jget_int(row, "attempts", 0);
		x->not_before = json_number_value(json_object_get(row,
		    "not_before"));
	}
	json_decref(rows);
	return 0;
}

static struct directive *
open_by_id(const struct domain *d, int64_t id)
{
	struct directive *x;

	TAILQ_FOREACH(x, &d->open, entry)
		if (x->id == id)
			return x;
	return NULL;
}

int
directive_add(struct domain *d, enum directive_source source,
    const char *text, int priority, int64_t *id, bool *merged)
{
	struct task *t = d->task;
	struct directive *x;

	if (registry_directive_add(t->md->reg, t->id, d->id, source, text,
	    priority, id, merged) != 0)
		return -1;
	if (!*merged) {
		directive_new(d, *id, source, text, priority);
		return 0;
	}
	if ((x = open_by_id(d, *id)) != NULL && x->priority < priority)
		x->priority = priority;
	return 0;
}

int
directive_set_state(struct domain *d, struct directive *x,
    enum directive_state state, const char *reason)
{
	struct task *t = d->task;

	if (registry_directive_set_state(t->md->reg, x->id, state,
	    reason) != 0) {
		log_err("directive %lld: %s not stored: %s", (long long)x->id,
		    directive_state_names[state], registry_errmsg(t->md->reg));
		/* Left running with no child on it, maybe: the step looks. */
		t->check_orphans = true;
		return -1;
	}
	if (state == DIRECTIVE_RUNNING)
		x->attempts++;
	x->state = state;
	if (state == DIRECTIVE_QUEUED || state == DIRECTIVE_RUNNING)
		return 0;
	if (state == DIRECTIVE_DONE)
		t->done++;
	TAILQ_REMOVE(&d->open, x, entry);
	t->nopen--;
	directive_free(x);
	return 0;
}

int
directive_defer(struct domain *d, struct directive *x, double not_before,
    bool uncount)
{
	struct task *t = d->task;

	if (registry_directive_defer(t->md->reg, x->id, not_before,
	    uncount) != 0) {
		log_err("directive %lld: its retry time not stored: %s",
		    (long long)x->id, registry_errmsg(t->md->reg));
		return -1;
	}
	x->not_before = not_before;
	if (uncount && x->attempts > 0)
		x->attempts--;
	return 0;
}

/* Ids grow with insertion, so the oldest is the lowest id. */
struct directive *
directive_due(const struct domain *d, double now, double *wake)
{
	struct directive *x, *best = NULL;

	TAILQ_FOREACH(x, &d->open, entry) {
		if (x->state != DIRECTIVE_QUEUED)
			continue;
		if (x->not_before > now) {
			if (*wake == 0 || x->not_before < *wake)
				*wake = x->not_before;
			continue;
		}
		if (best == NULL || x->priority > best->priority ||
		    (x->priority == best->priority && x->id < best->id))
			best = x;
	}
	return best;
}

struct directive *
directive_next(const struct domain *d)
{
	struct directive *x, *best = NULL;

	TAILQ_FOREACH(x, &d->open, entry) {
		if (x->state != DIRECTIVE_QUEUED)
			continue;
		if (best == NULL || x->priority > best->priority ||
		    (x->priority == best->priority && x->id < best->id))
			best = x;
	}
	return best;
}

struct directive *
directive_find(const struct task *t, int64_t id, struct domain **dp)
{
	struct directive *x;
	struct domain *d;

	TAILQ_FOREACH(d, &t->domains, entry) {
		if ((x = open_by_id(d, id)) != NULL) {
			*dp = d;
			return x;
		}
	}
	return NULL;
}

/* Counted as they come and go: the step asks after every change. */
size_t
task_open_directives(const struct task *t)
{
	return t->nopen;
}
