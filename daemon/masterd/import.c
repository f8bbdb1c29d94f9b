/*
 * import.c — the `import` request: an existing repository's history sent
 * up by masterctl as a git pack, in chunks, for a task to start from
 * (issue #18, `masterctl submit --repo`).  masterctl, running as the
 * user, reads the user's repository and packs a branch of it; masterd,
 * which may not read the user's home, only ever sees the pack.
 *
 * The pack is written under the state directory and held by the
 * connection that sends it (control_file_set), one per connection: its
 * end removes the file, and so does the `submit` that takes it
 * (import_submit).  Chunks come in order, each at the offset where the
 * last one ended, so a lost or repeated chunk is refused, not spliced.
 *
 * The submit checks every object of the pack and builds the task's
 * repository from it on libuv's thread pool, in a staging directory
 * (<state>/import-*.git), so a big project does not stall the loop; the
 * task is stored only once its repository stands, and takes the staging
 * directory whole.  A connection that goes meanwhile gets no task.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/repo.h"
#include "common/util.h"
#include "daemon/masterd/masterd.h"
#include "daemon/masterd/tasks.h"

#define IMPORT_PREFIX	"import-"
#define IMPORT_SUFFIX	".pack"

/* The token of the connection's import (the file's name between prefix
 * and suffix), or NULL when it holds none. */
static const char *
held_token(struct ctl_client *cl, char *buf, size_t len)
{
	const char *path = control_file_get(cl), *base, *p;
	size_t n;

	if (path == NULL || (base = strrchr(path, '/')) == NULL ||
	    strncmp(++base, IMPORT_PREFIX, strlen(IMPORT_PREFIX)) != 0)
		return NULL;
	p = base + strlen(IMPORT_PREFIX);
	n = strlen(p);
	if (n <= strlen(IMPORT_SUFFIX) || n - strlen(IMPORT_SUFFIX) >= len)
		return NULL;
	memcpy(buf, p, n - strlen(IMPORT_SUFFIX));
	buf[n - strlen(IMPORT_SUFFIX)] = '\0';
	return buf;
}

/* offset 0 starts a new file (replacing any the connection held). */
static int
open_for(struct masterd *md, struct ctl_client *cl, json_int_t offset,
    char *why, size_t len)
{
	const char *path;
	char *fresh, tok[64];
	int fd;

	if (offset == 0) {
		fresh = xasprintf("%s/" IMPORT_PREFIX "%ld-%lld" IMPORT_SUFFIX,
		    md->conf->state_dir, (long)getpid(),
		    (long long)masterd_next_id(md));
		fd = open(fresh, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			snprintf(why, len, "%s: %s", fresh, strerror(errno));
			free(fresh);
			return -1;
		}
		control_file_set(cl, fresh);
		return fd;
	}
	if (held_token(cl, tok, sizeof(tok)) == NULL) {
		snprintf(why, len, "no import in progress on this connection "
		    "(start at offset 0)");
		return -1;
	}
	path = control_file_get(cl);
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)) < 0)
		snprintf(why, len, "%s: %s", path, strerror(errno));
	return fd;
}

void
import_request(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	json_int_t offset = json_integer_value(json_object_get(req, "offset"));
	const char *data = json_string_value(json_object_get(req, "data"));
	unsigned char *buf = NULL;
	char why[512], tok[64];
	struct stat st;
	ssize_t n;
	json_t *r;
	int fd;

	if (data == NULL) {
		control_reply(cl, msg_reply_error(id, ERR_BAD_REQUEST,
		    "import: give offset and data (base64)"));
		return;
	}
	buf = xmalloc(strlen(data) + 1);
	if ((n = base64_decode(data, strlen(data), buf)) < 0) {
		control_reply(cl, msg_reply_error(id, ERR_BAD_REQUEST,
		    "import: data is not base64"));
		goto out;
	}
	if ((fd = open_for(md, cl, offset, why, sizeof(why))) < 0) {
		control_reply(cl, msg_reply_error(id, offset == 0 ?
		    ERR_STORAGE : ERR_CONFLICT, "import: %s", why));
		goto out;
	}
	if (fstat(fd, &st) != 0 || st.st_size != offset) {
		close(fd);
		control_reply(cl, msg_reply_error(id, ERR_CONFLICT,
		    "import: offset %lld, but %lld bytes are in", (long long)
		    offset, (long long)st.st_size));
		goto out;
	}
	if (offset + n > IMPORT_MAX_BYTES) {
		close(fd);
		control_file_set(cl, NULL);
		control_reply(cl, msg_reply_error(id, ERR_BAD_REQUEST,
		    "import: a pack of at most %lld bytes",
		    (long long)IMPORT_MAX_BYTES));
		goto out;
	}
	if (write_all(fd, buf, (size_t)n) != 0 || close(fd) != 0) {
		log_warn("import: %s: %s", control_file_get(cl),
		    strerror(errno));
		control_file_set(cl, NULL);
		control_reply(cl, msg_reply_error(id, ERR_STORAGE,
		    "import: writing the pack: %s", strerror(errno)));
		goto out;
	}
	r = msg_reply_ok(id);
	json_object_set_new(r, "token", json_string(held_token(cl, tok,
	    sizeof(tok))));
	json_object_set_new(r, "size", json_integer(offset + n));
	control_reply(cl, r);
out:
	free(buf);
}

/* ---------------------------------------------------------- submit */

struct import_job {
	TAILQ_ENTRY(import_job) entry;
	uv_work_t work;
	struct masterd *md;
	struct ctl_client *cl;	/* NULL once its connection closed */
	json_int_t id;
	json_t *req;		/* the submit */
	char *pack;		/* the job's own now */
	char *staging;		/* the repository being built */
	/* Filled on the pool. */
	int rc;
	char err[512];
};
TAILQ_HEAD(import_jobs, import_job);

static struct import_jobs *
jobs_of(struct masterd *md)
{
	if (md->imports == NULL) {
		md->imports = xcalloc(1, sizeof(*md->imports));
		TAILQ_INIT(md->imports);
	}
	return md->imports;
}

/* A staging repository nobody took (a refused or abandoned import). */
static void
remove_staging(const char *dir)
{
	if (dir != NULL)
		(void)remove_tree(dir);
}

static void
job_free(struct import_job *job)
{
	if (job->pack != NULL)
		unlink(job->pack);
	free(job->pack);
	free(job->staging);
	json_decref(job->req);
	free(job);
}

/* On the pool: libgit2 only, nothing of the loop's. */
static void
build_repo(uv_work_t *w)
{
	struct import_job *job = w->data;

	job->rc = repo_init_import(job->staging, job->pack, jget_str(
	    json_object_get(job->req, "import"), "commit"), job->err,
	    sizeof(job->err));
}

/* What the submit is answered, once its repository is built or not. */
static json_t *
job_answer(struct import_job *job)
{
	struct masterd *md = job->md;
	char err[512];
	int64_t task;
	json_t *r;
	int rc;

	if (job->rc != 0)
		return msg_reply_error(job->id, ERR_BAD_REQUEST,
		    "submit: the imported history: %s", job->err);
	if (md->stopping)
		return msg_reply_error(job->id, ERR_BUSY, "masterd is stopping");
	rc = tasks_submit(md, job->req, job->staging, &task, err, sizeof(err));
	if (rc != 0)
		return msg_reply_error(job->id, tasks_errcode(rc), "%s", err);
	r = msg_reply_ok(job->id);
	json_object_set_new(r, "task", json_integer(task));
	return r;
}

/*
 * The answer goes out only after the staging directory and the pack are
 * gone, so a client that has it finds nothing of a refused import left
 * under the state directory.
 */
static void
repo_built(uv_work_t *w, int status)
{
	struct import_job *job = w->data;
	struct ctl_client *cl = job->cl;
	json_t *answer = NULL;

	TAILQ_REMOVE(job->md->imports, job, entry);
	if (status != 0 && job->rc == 0) {
		job->rc = -1;
		snprintf(job->err, sizeof(job->err), "%s", uv_strerror(status));
	}
	if (cl != NULL)
		answer = job_answer(job);
	remove_staging(job->staging);	/* gone when the task took it */
	job_free(job);
	if (answer != NULL)
		control_reply(cl, answer);
}

void
import_submit(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	const char *token = jget_str(json_object_get(req, "import"), "token");
	struct import_job *job;
	char tok[64];
	int err;

	if (token == NULL || held_token(cl, tok, sizeof(tok)) == NULL ||
	    strcmp(tok, token) != 0) {
		control_reply(cl, msg_reply_error(id, ERR_CONFLICT, "submit: "
		    "no import %s on this connection (send it with `import` "
		    "first)", token != NULL ? token : ""));
		return;
	}
	job = xcalloc(1, sizeof(*job));
	job->md = md;
	job->cl = cl;
	job->id = id;
	job->req = json_deep_copy(req);
	/* The job's from now: the connection's end must not remove it. */
	job->pack = xasprintf("%s/" IMPORT_PREFIX "%s.taken",
	    md->conf->state_dir, tok);
	job->staging = xasprintf("%s/" IMPORT_PREFIX "%s.git",
	    md->conf->state_dir, tok);
	if (rename(control_file_get(cl), job->pack) != 0) {
		control_reply(cl, msg_reply_error(id, ERR_STORAGE, "submit: "
		    "%s: %s", control_file_get(cl), strerror(errno)));
		control_file_set(cl, NULL);
		job_free(job);
		return;
	}
	control_file_set(cl, NULL);
	job->work.data = job;
	TAILQ_INSERT_TAIL(jobs_of(md), job, entry);
	if ((err = uv_queue_work(md->loop, &job->work, build_repo,
	    repo_built)) != 0) {
		TAILQ_REMOVE(md->imports, job, entry);
		control_reply(cl, msg_reply_error(id, ERR_INTERNAL, "submit: "
		    "%s", uv_strerror(err)));
		job_free(job);
	}
}

void
import_forget(struct masterd *md, struct ctl_client *cl)
{
	struct import_job *job;

	if (md->imports == NULL)
		return;
	TAILQ_FOREACH(job, md->imports, entry)
		if (job->cl == cl)
			job->cl = NULL;
}

void
import_free(struct masterd *md)
{
	free(md->imports);	/* empty: the loop ran every job's end */
	md->imports = NULL;
}
