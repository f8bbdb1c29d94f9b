/*
 * prune.c — what the retention policy (docs/operations.md, "What masterd
 * keeps") lets go, goes, in steps that leave the loop responsive:
 *
 * - progress events older than [masterd] event_retention: a batch of
 *   PRUNE_BATCH at every housekeeping tick, and on `prune` a batch per
 *   loop turn until none is left;
 * - on `prune`, the repository and worktrees of every cancelled task, and
 *   of tasks done or failed more than finished_days ago when asked:
 *   removed on libuv's thread pool.  Never anything of a task that is not
 *   over, or that still has a child.  The registry keeps every task's
 *   rows, and its sessions (transcripts) stay.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/masterd/masterd.h"
#include "daemon/masterd/registry.h"
#include "daemon/masterd/supervise.h"
#include "daemon/masterd/task.h"

#define PRUNE_BATCH	2000	/* events deleted in one step */
#define PRUNE_MAX_TREES	1024	/* task directories removed per request */

struct prune {
	struct masterd *md;
	uv_idle_t turn;
	bool busy;			/* a request is being served */
	struct ctl_client *cl;		/* NULL once its connection closed */
	json_int_t id;
	int64_t finished_days;
	int64_t events;			/* deleted so far */
	json_t *tasks;			/* ids whose files go */
	char *paths[2 * PRUNE_MAX_TREES];
	size_t npaths;
	int failures;			/* paths not removed (errno logged) */
	uv_work_t work;
};

/* Unix seconds before which progress events may go; 0: none may. */
static double
cutoff(const struct masterd *md)
{
	if (md->conf->event_retention <= 0)
		return 0;
	return (double)time(NULL) - (double)md->conf->event_retention /
	    1000.0;
}

/* One batch: how many went, -1 on error (logged by the registry). */
static int64_t
events_batch(struct masterd *md)
{
	double before = cutoff(md);
	int64_t n;

	if (before <= 0)
		return 0;
	if (registry_events_prune(md->reg, before, PRUNE_BATCH, &n) != 0)
		return -1;
	return n;
}

static bool
has_child(struct masterd *md, int64_t task)
{
	struct child *c;

	TAILQ_FOREACH(c, &md->children, entry)
		if (c->task == task)
			return true;
	return false;
}

/* May the files of t go?  Cancelled, or finished long enough ago. */
static bool
files_may_go(struct prune *p, const struct task *t)
{
	double age = (double)time(NULL) - t->updated;

	if (!task_state_over(t->state) || has_child(p->md, t->id))
		return false;
	if (t->state == TASK_CANCELLED)
		return true;
	return p->finished_days > 0 && age > (double)p->finished_days * 86400;
}

static void
add_path(struct prune *p, char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0) {
		free(path);	/* gone already */
		return;
	}
	p->paths[p->npaths++] = path;
}

static void
collect_trees(struct prune *p)
{
	struct masterd *md = p->md;
	struct task *t;
	size_t before;

	TAILQ_FOREACH(t, &md->tasks, entry) {
		if (p->npaths + 2 > sizeof(p->paths) / sizeof(p->paths[0]))
			break;
		if (!files_may_go(p, t))
			continue;
		before = p->npaths;
		add_path(p, xasprintf("%s/tasks/%lld/repo.git",
		    md->conf->state_dir, (long long)t->id));
		add_path(p, xasprintf("%s/tasks/%lld/domains",
		    md->conf->state_dir, (long long)t->id));
		if (p->npaths > before)
			json_array_append_new(p->tasks, json_integer(t->id));
	}
}

/* On the thread pool: no loop, no registry, only the files. */
static void
remove_trees(uv_work_t *w)
{
	struct prune *p = w->data;

	for (size_t i = 0; i < p->npaths; i++)
		if (remove_tree(p->paths[i]) != 0) {
			log_warn("prune: %s: not all of it could be removed",
			    p->paths[i]);
			p->failures++;
		}
}

static void
finish(struct prune *p, const char *error)
{
	json_t *r;

	if (p->cl != NULL) {
		if (error != NULL) {
			r = msg_reply_error(p->id, ERR_STORAGE, "%s", error);
		} else {
			r = msg_reply_ok(p->id);
			json_object_set_new(r, "events",
			    json_integer(p->events));
			json_object_set_new(r, "tasks", json_incref(p->tasks));
			json_object_set_new(r, "failures",
			    json_integer(p->failures));
		}
		control_reply(p->cl, r);
	}
	log_info("prune: %lld progress events, the files of %zu tasks "
	    "removed", (long long)p->events, json_array_size(p->tasks));
	for (size_t i = 0; i < p->npaths; i++)
		free(p->paths[i]);
	p->npaths = 0;
	json_decref(p->tasks);
	p->tasks = NULL;
	p->cl = NULL;
	p->busy = false;
}

static void
trees_removed(uv_work_t *w, int status)
{
	struct prune *p = w->data;

	(void)status;
	finish(p, NULL);
}

/* A loop turn of a request: a batch of events; then the files. */
static void
on_turn(uv_idle_t *h)
{
	struct prune *p = h->data;
	char why[512];
	int64_t n = events_batch(p->md);

	if (n < 0) {
		uv_idle_stop(&p->turn);
		snprintf(why, sizeof(why), "registry: %s",
		    registry_errmsg(p->md->reg));
		finish(p, why);
		return;
	}
	p->events += n;
	if (n == PRUNE_BATCH)
		return;		/* more next turn */
	uv_idle_stop(&p->turn);
	collect_trees(p);
	p->work.data = p;
	if (p->npaths == 0 || uv_queue_work(p->md->loop, &p->work,
	    remove_trees, trees_removed) != 0)
		finish(p, NULL);
}

static struct prune *
prune_of(struct masterd *md)
{
	struct prune *p = md->prune;

	if (p != NULL)
		return p;
	p = xcalloc(1, sizeof(*p));
	p->md = md;
	uv_idle_init(md->loop, &p->turn);
	p->turn.data = p;
	md->prune = p;
	return p;
}

void
prune_request(struct masterd *md, struct ctl_client *cl, json_int_t id,
    int64_t finished_days)
{
	struct prune *p = prune_of(md);

	if (finished_days < 0 || finished_days > 36500) {
		control_reply(cl, msg_reply_error(id, ERR_BAD_REQUEST,
		    "finished_days: %lld is out of range (0 to 36500)",
		    (long long)finished_days));
		return;
	}
	if (p->busy) {
		control_reply(cl, msg_reply_error(id, ERR_CONFLICT,
		    "a prune is already running"));
		return;
	}
	p->busy = true;
	p->cl = cl;
	p->id = id;
	p->finished_days = finished_days;
	p->events = 0;
	p->failures = 0;
	p->tasks = json_array();
	uv_idle_start(&p->turn, on_turn);
}

void
prune_tick(struct masterd *md)
{
	struct prune *p = md->prune;
	int64_t n;

	if (p != NULL && p->busy)
		return;
	if ((n = events_batch(md)) > 0)
		log_debug("retention: %lld progress events older than %lld s "
		    "deleted", (long long)n,
		    (long long)(md->conf->event_retention / 1000));
}

void
prune_forget(struct masterd *md, struct ctl_client *cl)
{
	if (md->prune != NULL && md->prune->cl == cl)
		md->prune->cl = NULL;
}

void
prune_free(struct masterd *md)
{
	struct prune *p = md->prune;

	if (p == NULL)
		return;
	for (size_t i = 0; i < p->npaths; i++)
		free(p->paths[i]);
	json_decref(p->tasks);
	free(p);
	md->prune = NULL;
}
