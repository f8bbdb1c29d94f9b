/*
 * pushto.c — [task] push_to: after each integration run that passes,
 * the commit it passed on goes to branch masterd/task-N of the
 * repository or remote push_to names, as `masterctl push` would put it
 * there: never forced, never onto a branch a work tree has checked out.
 *
 * masterd does this itself, with its own rights (the user's own pushes
 * are masterctl's): libgit2 on the thread pool, one push per task at a
 * time; a pass that comes while one runs is pushed after it.  The outcome
 * is an event, task.pushed or task.push_failed; a failed push fails
 * nothing else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "common/log.h"
#include "common/repo_transfer.h"
#include "common/util.h"
#include "daemon/masterd/masterd.h"
#include "daemon/masterd/task.h"

struct push_job {
	TAILQ_ENTRY(push_job) entry;
	uv_work_t work;
	struct masterd *md;
	int64_t task;
	char gitdir[4096];
	char *to;		/* push_to, file:// taken off */
	char *pack;		/* the scratch pack, for a path */
	char branch[64];
	char commit[REPO_OID_HEX];
	char next[REPO_OID_HEX];	/* passed meanwhile: pushed after */
	/* Filled on the pool. */
	int rc;
	char was[REPO_OID_HEX];
	char err[512];
};
TAILQ_HEAD(push_jobs, push_job);

static void push_start(struct push_job *);

static struct push_jobs *
jobs_of(struct masterd *md)
{
	if (md->pushes == NULL) {
		md->pushes = xcalloc(1, sizeof(*md->pushes));
		TAILQ_INIT(md->pushes);
	}
	return md->pushes;
}

/* Into a repository at a path: only what it lacks, then the branch. */
static int
push_path(struct push_job *job)
{
	json_t *tips = NULL;
	size_t objects = 0;
	char packed[REPO_OID_HEX];
	int rc;

	if (repo_tips(job->to, &tips, job->err, sizeof(job->err)) != 0)
		return -1;
	rc = repo_pack_ref(job->gitdir, job->commit, tips, job->pack, packed,
	    &objects, job->err, sizeof(job->err));
	json_decref(tips);
	if (rc == 0 && objects > 0)
		rc = repo_pack_receive(job->to, job->pack, job->err,
		    sizeof(job->err));
	unlink(job->pack);
	if (rc != 0)
		return -1;
	return repo_branch_advance(job->to, job->branch, job->commit,
	    job->was, job->err, sizeof(job->err));
}

/* On the pool: libgit2 only. */
static void
push_work(uv_work_t *w)
{
	struct push_job *job = w->data;

	job->was[0] = '\0';
	job->rc = repo_is_url(job->to) ?
	    repo_push_url(job->gitdir, job->commit, job->to, job->branch,
	    job->err, sizeof(job->err)) : push_path(job);
}

static void
push_done(uv_work_t *w, int status)
{
	struct push_job *job = w->data;
	struct masterd *md = job->md;

	if (status != 0 && job->rc == 0) {
		job->rc = -1;
		snprintf(job->err, sizeof(job->err), "%s", uv_strerror(status));
	}
	/* The event first: whoever sees the log line finds it stored. */
	if (job->rc == 0) {
		event_emit(md, job->task, NULL, EV_TASK_PUSHED, json_pack(
		    "{s:s, s:s, s:s, s:s*}", "to", job->to, "branch",
		    job->branch, "commit", job->commit, "was",
		    job->was[0] != '\0' ? job->was : NULL));
		log_info("task %lld: main %.12s pushed to %s, branch %s",
		    (long long)job->task, job->commit, job->to, job->branch);
	} else {
		event_emit(md, job->task, NULL, EV_TASK_PUSH_FAILED, json_pack(
		    "{s:s, s:s, s:s, s:s}", "to", job->to, "branch",
		    job->branch, "commit", job->commit, "error", job->err));
		log_warn("task %lld: push of main %.12s to %s failed: %s",
		    (long long)job->task, job->commit, job->to, job->err);
	}
	if (job->next[0] != '\0' && !md->stopping) {
		memcpy(job->commit, job->next, sizeof(job->commit));
		job->next[0] = '\0';
		push_start(job);
		return;
	}
	TAILQ_REMOVE(md->pushes, job, entry);
	free(job->to);
	free(job->pack);
	free(job);
}

static void
push_start(struct push_job *job)
{
	int err;

	job->work.data = job;
	if ((err = uv_queue_work(job->md->loop, &job->work, push_work,
	    push_done)) != 0) {
		job->rc = -1;
		snprintf(job->err, sizeof(job->err), "%s", uv_strerror(err));
		push_done(&job->work, 0);
	}
}

void
pushto_passed(struct task *t, const char *commit)
{
	struct masterd *md = t->md;
	const char *to = md->conf->push_to;
	struct push_job *job;

	if (to == NULL || *to == '\0' || md->stopping)
		return;
	TAILQ_FOREACH(job, jobs_of(md), entry) {
		if (job->task == t->id) {
			snprintf(job->next, sizeof(job->next), "%s", commit);
			return;
		}
	}
	job = xcalloc(1, sizeof(*job));
	job->md = md;
	job->task = t->id;
	task_gitdir(md, t->id, job->gitdir, sizeof(job->gitdir));
	job->to = xstrdup(strncmp(to, "file://", 7) == 0 ? to + 7 : to);
	job->pack = xasprintf("%s/pushto-%ld-%lld.pack", md->conf->state_dir,
	    (long)getpid(), (long long)masterd_next_id(md));
	snprintf(job->branch, sizeof(job->branch), "masterd/task-%lld",
	    (long long)t->id);
	snprintf(job->commit, sizeof(job->commit), "%s", commit);
	TAILQ_INSERT_TAIL(md->pushes, job, entry);
	push_start(job);
}

void
pushto_free(struct masterd *md)
{
	free(md->pushes);	/* empty: the loop ran every job's end */
	md->pushes = NULL;
}
