/*
 * pack.c — the `pack` request: a task's main as a git pack, for masterctl
 * to take into the user's repository (export, push; issue #18).  The
 * pack is written on libuv's thread pool (a big history must not stall
 * the loop) into the state directory, then held by the connection that
 * asked, which fetches it in chunks as it fetches a backup (commands.c)
 * and releases it; the connection's end removes it too.  A connection
 * that goes while its pack is made gets nothing, and the file goes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/repo_transfer.h"
#include "common/util.h"
#include "daemon/masterd/masterd.h"
#include "daemon/masterd/task.h"

#define PACK_HAVE_MAX	4096	/* commits a receiver may say it has */

struct pack_job {
	TAILQ_ENTRY(pack_job) entry;
	uv_work_t work;
	struct masterd *md;
	struct ctl_client *cl;	/* NULL once its connection closed */
	json_int_t id;
	int64_t task;
	char gitdir[4096];
	char *path;
	json_t *have;		/* owned; read on the pool only */
	/* Filled on the pool. */
	int rc;
	char commit[REPO_OID_HEX];
	size_t objects;
	char err[512];
};
TAILQ_HEAD(pack_jobs, pack_job);

static struct pack_jobs *
jobs_of(struct masterd *md)
{
	if (md->packs == NULL) {
		md->packs = xcalloc(1, sizeof(*md->packs));
		TAILQ_INIT(md->packs);
	}
	return md->packs;
}

static void
job_free(struct pack_job *job)
{
	json_decref(job->have);
	free(job->path);
	free(job);
}

/* On the pool: libgit2 only, nothing of the loop's. */
static void
make_pack(uv_work_t *w)
{
	struct pack_job *job = w->data;

	job->rc = repo_pack_ref(job->gitdir, "refs/heads/main", job->have,
	    job->path, job->commit, &job->objects, job->err,
	    sizeof(job->err));
}

static void
pack_made(uv_work_t *w, int status)
{
	struct pack_job *job = w->data;
	struct stat st;
	json_t *r;

	TAILQ_REMOVE(job->md->packs, job, entry);
	if (status != 0 && job->rc == 0) {
		job->rc = -1;
		snprintf(job->err, sizeof(job->err), "%s", uv_strerror(status));
	}
	if (job->cl == NULL) {
		unlink(job->path);
		goto out;
	}
	if (job->rc != 0 || stat(job->path, &st) != 0) {
		log_warn("pack of task %lld: %s", (long long)job->task,
		    job->err);
		unlink(job->path);
		control_reply(job->cl, msg_reply_error(job->id, ERR_STORAGE,
		    "pack of task %lld: %s", (long long)job->task, job->err));
		goto out;
	}
	log_info("pack of task %lld: main %s, %zu objects, %lld bytes",
	    (long long)job->task, job->commit, job->objects,
	    (long long)st.st_size);
	r = msg_reply_ok(job->id);
	json_object_set_new(r, "task", json_integer(job->task));
	json_object_set_new(r, "commit", json_string(job->commit));
	json_object_set_new(r, "objects", json_integer((json_int_t)
	    job->objects));
	json_object_set_new(r, "size", json_integer((json_int_t)st.st_size));
	control_file_set(job->cl, job->path);
	job->path = NULL;	/* the connection's now */
	control_reply(job->cl, r);
out:
	job_free(job);
}

/* have: hex commit ids, at most PACK_HAVE_MAX; 0, or -1 with why. */
static int
have_ok(const json_t *have, char *why, size_t len)
{
	size_t i;
	json_t *v;

	if (have == NULL)
		return 0;
	if (json_array_size(have) > PACK_HAVE_MAX) {
		snprintf(why, len, "have: at most %d commits", PACK_HAVE_MAX);
		return -1;
	}
	json_array_foreach(have, i, v) {
		const char *s = json_string_value(v);

		if (s == NULL || strlen(s) != REPO_OID_HEX - 1 ||
		    strspn(s, "0123456789abcdef") != REPO_OID_HEX - 1) {
			snprintf(why, len, "have[%zu]: not a commit id (40 "
			    "lowercase hex digits)", i);
			return -1;
		}
	}
	return 0;
}

void
pack_request(struct masterd *md, struct ctl_client *cl, json_int_t id,
    int64_t task, const json_t *have)
{
	struct pack_job *job;
	char why[128];
	int err;

	if (task_find(md, task) == NULL) {
		control_reply(cl, msg_reply_error(id, ERR_NOT_FOUND,
		    "no task %lld", (long long)task));
		return;
	}
	if (have_ok(have, why, sizeof(why)) != 0) {
		control_reply(cl, msg_reply_error(id, ERR_BAD_REQUEST, "%s",
		    why));
		return;
	}
	job = xcalloc(1, sizeof(*job));
	job->md = md;
	job->cl = cl;
	job->id = id;
	job->task = task;
	job->have = have != NULL ? json_deep_copy(have) : NULL;
	task_gitdir(md, task, job->gitdir, sizeof(job->gitdir));
	job->path = xasprintf("%s/pack-%ld-%lld.pack", md->conf->state_dir,
	    (long)getpid(), (long long)masterd_next_id(md));
	job->work.data = job;
	TAILQ_INSERT_TAIL(jobs_of(md), job, entry);
	if ((err = uv_queue_work(md->loop, &job->work, make_pack,
	    pack_made)) != 0) {
		TAILQ_REMOVE(md->packs, job, entry);
		control_reply(cl, msg_reply_error(id, ERR_INTERNAL, "pack: %s",
		    uv_strerror(err)));
		job_free(job);
	}
}

void
pack_forget(struct masterd *md, struct ctl_client *cl)
{
	struct pack_job *job;

	if (md->packs == NULL)
		return;
	TAILQ_FOREACH(job, md->packs, entry)
		if (job->cl == cl)
			job->cl = NULL;
}

void
pack_free(struct masterd *md)
{
	free(md->packs);	/* empty: the loop ran every job's end */
	md->packs = NULL;
}
