/*
 * work.c — a domain's directives, one at a time: the queue, the start of
 * each (the worktree prepared in libuv's thread pool, so that the loop
 * answers pings meanwhile; a directive found already committed after
 * a restart reported rather than redone, the branch given main's code of
 * the domain's peers, the model's session opened),
 * cancel, and the model's streamed text as progress.  A directive's rounds
 * are round.c's; their operations on this worker are roundops.c's.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "child/worker/commitmsg.h"
#include "child/worker/round.h"
#include "child/worker/tools.h"
#include "child/worker/worker.h"
#include "common/iface.h"
#include "common/llm/llm.h"
#include "common/log.h"
#include "common/repo.h"
#include "common/util.h"
#include "proto/msg.h"

#define PROGRESS_EVERY_MS 100

static void maybe_start(struct worker *);

/* Send our interface (canonical), declared or implemented, to the master
 * if it changed since the last one of its kind we sent. */
void
work_publish(struct worker *cx, const json_t *canon, bool declared)
{
	json_t **last = declared ? &cx->declared : &cx->published, *m;

	if (canon == NULL || (*last != NULL && json_equal(canon, *last)))
		return;
	json_decref(*last);
	*last = json_incref((json_t *)canon);
	m = msg_new(MSG_INTERFACE_PUBLISH, worker_next_id(cx));
	json_object_set_new(m, "task", json_integer(cx->task));
	json_object_set(m, "interface", *last);
	if (declared)
		json_object_set_new(m, "declared", json_true());
	worker_send(cx, m);
}

/* The canonical interface a commit carries, for a directive found already
 * committed; the file is read back from disk, so checked again. */
static json_t *
committed_interface(struct worker *cx)
{
	char path[4096], err[256];
	json_t *doc, *canon = NULL;

	snprintf(path, sizeof(path), "%s/%s/%s", cx->worktree,
	    worker_folder(cx), WORKER_INTERFACE_FILE);
	if ((doc = json_load_file(path, 0, NULL)) == NULL)
		return NULL;
	if (iface_validate(doc, cx->domain, err, sizeof(err)) == 0)
		canon = iface_canonical(doc);
	json_decref(doc);
	return canon;
}

/* The directive has ended (round.c's done): on to the next. */
void
work_round_done(struct worker *cx)
{
	struct round *r = cx->round;

	cx->round = NULL;
	if (!r->end_unplayed)
		context_directive_end(cx, r->directive, r->error_code == NULL,
		    r->have_answer ? r->answer.summary : r->error);
	work_round_free(r);
	maybe_start(cx);
}

/* ---------------------------------------------------------- directives */

/*
 * The child's conversation, opened on first use with the system prompt
 * system_of() writes, resuming the session file of an earlier run, and
 * saved after every turn.
 */
int
worker_ensure_session(struct worker *cx,
    char *(*system_of)(const struct worker *, char *, size_t), char *err,
    size_t errlen)
{
	char dir[4096];
	char *system;

	if (cx->session != NULL)
		return 0;
	if ((system = system_of(cx, err, errlen)) == NULL)
		return -1;
	cx->session = llm_session_new(cx->engine, &cx->llm, system, err,
	    errlen);
	free(system);
	if (cx->session == NULL)
		return -1;
	snprintf(dir, sizeof(dir), "%s/sessions", cx->task_dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	/* A restarted child continues the same conversation. */
	if (access(cx->session_path, F_OK) == 0 &&
	    llm_session_load(cx->session, cx->session_path, err,
	    errlen) != 0)
		log_warn("session %s not resumed: %s", cx->session_path, err);
	llm_session_autosave(cx->session, cx->session_path);
	return 0;
}

/* The domain's session as a round uses it: its tools and cache key. */
static int
open_session(struct worker *cx, char *err, size_t errlen)
{
	char key[160];
	json_t *tools;

	if (worker_ensure_session(cx, prompt_system, err, errlen) != 0)
		return -1;
	tools = cx->tools ? tools_schema() : NULL;
	llm_session_set_tools(cx->session, tools);
	json_decref(tools);
	/* One cache per domain: its requests share their prefix. */
	snprintf(key, sizeof(key), "masterd-%lld-%s", (long long)cx->task,
	    cx->domain);
	llm_session_set_cache_key(cx->session, key);
	return 0;
}

char *
worker_drop_tools(struct worker *cx, const json_t *msg)
{
	char err[256], *system;

	cx->tools = false;
	llm_session_set_tools(cx->session, NULL);
	if ((system = prompt_system(cx, err, sizeof(err))) == NULL) {
		log_err("JSON answers: %s", err);
		return NULL;
	}
	llm_session_set_system(cx->session, system);
	free(system);
	return prompt_first_turn(cx, msg);
}

/*
 * A directive whose commit is already on the branch (the worker died
 * between commit and its report) is reported, not redone: its commit and
 * the round that made it.  0 if none.  Only masterd's own trailers, the
 * last paragraph of the message, say whose commit it is (commitmsg.c):
 * a model's summary that names a directive does not.
 */
static int
already_committed(struct worker *cx, int64_t directive,
    char oid[REPO_OID_HEX])
{
	char branch[96], err[256];
	const json_t *c;
	json_t *log;
	int64_t committed;
	size_t i;
	int round = 0, r;

	snprintf(branch, sizeof(branch), "refs/heads/domain/%s", cx->domain);
	if (repo_log(cx->gitdir, branch, 20, &log, err, sizeof(err)) != 0)
		return 0;
	json_array_foreach(log, i, c) {
		const char *m = jget_str(c, "message");

		if (m == NULL || commitmsg_parse(m, &committed, &r) != 0 ||
		    committed != directive)
			continue;
		snprintf(oid, REPO_OID_HEX, "%s", jget_str(c, "id"));
		round = r;
		break;
	}
	json_decref(log);
	return round;
}

/*
 * The worktree made (or found) and a crash's leftovers kept, then cleaned:
 * in the loop's thread pool, as making a worktree may wait on a lock
 * that sibling workers hold (repo_worktree) and git's writes are synced.
 * The loop meanwhile answers pings and takes cancel.  The job holds
 * copies of what it reads, so the worker may change meanwhile.
 */
struct prepare {
	uv_work_t req;
	struct worker *cx;
	json_t *msg;		/* the directive, for the first turn */
	int64_t directive;
	char *gitdir, *worktree, *domain;
	atomic_bool give_up;	/* stop waiting for the lock: cancelled */
	int rc;
	char err[512];
};

static void started(struct worker *, json_t *msg);

static void
prepare_run(uv_work_t *req)
{
	struct prepare *p = req->data;
	char label[128], snap[REPO_OID_HEX];

	if (repo_worktree_until(p->gitdir, p->worktree, p->domain,
	    &p->give_up, p->err, sizeof(p->err)) != 0) {
		p->rc = -1;
		return;
	}
	/* Leftovers of a round cut short by a crash are kept, then cleaned. */
	work_snapshot_label(label, sizeof(label), p->directive, 0,
	    "leftover");
	p->rc = repo_snapshot_and_clean(p->worktree, p->domain, label, snap,
	    p->err, sizeof(p->err));
}

static void
prepare_free(struct prepare *p)
{
	json_decref(p->msg);
	free(p->gitdir);
	free(p->worktree);
	free(p->domain);
	free(p);
}

/* Back on the loop: the directive goes on, unless it failed or was
 * cancelled meanwhile. */
static void
prepare_done(uv_work_t *req, int status)
{
	struct prepare *p = req->data;
	struct worker *cx = p->cx;
	struct round *r = cx->round;
	json_t *msg = json_incref(p->msg);

	cx->preparing = NULL;
	if (status != 0 && p->rc == 0) {
		p->rc = -1;
		snprintf(p->err, sizeof(p->err), "preparing the worktree: %s",
		    uv_strerror(status));
	}
	if (r->cancelled)
		round_end_early(r, 0, "git", NULL, "cancelled",
		    "cancelled by masterd");
	else if (p->rc != 0)
		round_end_early(r, 0, "git", NULL, "git", p->err);
	else
		started(cx, json_incref(msg));
	json_decref(msg);
	prepare_free(p);
}

static void
prepare_tree(struct worker *cx, struct round *r, json_t *msg)
{
	struct prepare *p = xcalloc(1, sizeof(*p));
	int rc;

	p->req.data = p;
	p->cx = cx;
	p->msg = msg;
	p->directive = r->directive;
	p->gitdir = xstrdup(cx->gitdir);
	p->worktree = xstrdup(cx->worktree);
	p->domain = xstrdup(cx->domain);
	atomic_init(&p->give_up, false);
	if ((rc = uv_queue_work(cx->loop, &p->req, prepare_run,
	    prepare_done)) != 0) {
		round_end_early(r, 0, "git", NULL, "git", uv_strerror(rc));
		prepare_free(p);
		return;
	}
	cx->preparing = p;
}

/* The directive is cancelled, or the worker stops: a wait for the
 * worktree lock ends (the job then ends the directive as cancelled). */
static void
prepare_give_up(struct worker *cx)
{
	if (cx->preparing != NULL)
		atomic_store(&cx->preparing->give_up, true);
}

/*
 * The branch takes main's code of the domain's peers, so that its checks
 * run against what they have now (repo_refresh_domain); the domain's own
 * folder is not touched.
 */
static int
refresh_peers(struct worker *cx, int64_t directive, char *err,
    size_t errlen)
{
	char tip[REPO_OID_HEX];
	int r;

	r = repo_refresh_domain(cx->worktree, cx->domain, cx->peers_at, tip,
	    err, errlen);
	if (r < 0)
		return -1;
	if (r == REPO_UNCHANGED)
		log_debug("directive %lld: peers' code as on main %.12s",
		    (long long)directive, cx->peers_at);
	else
		log_info("directive %lld: domain/%s takes its peers' code from "
		    "main %.12s (now %.12s)", (long long)directive, cx->domain,
		    cx->peers_at, tip);
	return 0;
}

/*
 * Start a directive's rounds (msg taken): its tree is prepared off the
 * loop first (prepare_tree), then started() goes on.  What ends it
 * before any round is played still ends it through the round's final
 * report.
 */
static void
start(struct worker *cx, json_t *msg)
{
	struct round *r = work_round_new(cx, json_incref(msg));

	cx->round = r;
	log_info("directive %lld: %s", (long long)r->directive, r->text);
	prepare_tree(cx, r, msg);
}

/* The tree is ready (msg taken). */
static void
started(struct worker *cx, json_t *msg)
{
	struct round *r = cx->round;
	char err[512], oid[REPO_OID_HEX];
	int done_in;

	/* What the domain has committed is what it has published, or will. */
	json_decref(cx->own_iface);
	cx->own_iface = committed_interface(cx);
	/* Committed before the master heard of it: report the round that
	 * committed (stored once by the master), do not redo it. */
	if ((done_in = already_committed(cx, r->directive, oid)) > 0) {
		work_publish(cx, cx->own_iface, false);
		round_end_early(r, done_in, "commit", oid, NULL, NULL);
		goto done;
	}
	/* After the leftovers are kept and a done directive is reported:
	 * the work starts from main's peers' code. */
	if (refresh_peers(cx, r->directive, err, sizeof(err)) != 0) {
		round_end_early(r, 0, "git", NULL, "git", err);
		goto done;
	}
	/* No session (a key, a prompt it cannot read): the host's to fix,
	 * not the directive's. */
	if (open_session(cx, err, sizeof(err)) != 0) {
		round_end_early(r, 0, "model", NULL, ERR_SETUP, err);
		goto done;
	}
	json_object_clear(cx->shown);
	json_array_clear(cx->asked);
	/* What the last directive changed is shown first in JSON answers. */
	if (json_object_size(cx->changed) > 0) {
		json_decref(cx->recent);
		cx->recent = cx->changed;
		cx->changed = json_object();
	}
	cx->directive_turn = (size_t)-1;
	round_start(r, prompt_first_turn(cx, msg));
done:
	json_decref(msg);
}

static void
maybe_start(struct worker *cx)
{
	json_t *msg;

	if (cx->round != NULL || cx->stopping || cx->assign == NULL ||
	    json_array_size(cx->queue) == 0)
		return;
	msg = json_incref(json_array_get(cx->queue, 0));
	json_array_remove(cx->queue, 0);
	start(cx, msg);
}

/* ---------------------------------------------------------- messages */

void
work_assign(struct worker *cx, const json_t *msg)
{
	json_decref(cx->assign);
	cx->assign = json_deep_copy(msg);
	json_decref(cx->peers);
	cx->peers = json_incref(json_object_get(cx->assign, "peers"));
	log_info("assigned task %lld", (long long)cx->task);
	maybe_start(cx);
}

void
work_peers(struct worker *cx, const json_t *msg)
{
	if (!json_is_true(json_object_get(msg, "update")) ||
	    !json_is_array(cx->peers)) {
		json_decref(cx->peers);
		cx->peers = json_deep_copy(json_object_get(msg, "peers"));
		return;
	}
	/* In place: the set the assign holds is the same, and stays so. */
	msg_peers_merge(cx->peers, json_object_get(msg, "peers"));
}

void
work_directive(struct worker *cx, const json_t *msg)
{
	json_array_append_new(cx->queue, json_deep_copy(msg));
	maybe_start(cx);
}

void
work_cancel(struct worker *cx, const json_t *msg)
{
	json_int_t d = json_integer_value(json_object_get(msg, "directive"));

	if (cx->round != NULL && (d == 0 || d == cx->round->directive)) {
		round_cancel(cx->round);
		prepare_give_up(cx);
	}
}

void
work_shutdown(struct worker *cx)
{
	json_array_clear(cx->queue);
	if (cx->round != NULL)
		round_cancel(cx->round);
	prepare_give_up(cx);
	if (cx->session != NULL) {
		llm_session_free(cx->session);
		cx->session = NULL;
	}
	if (cx->engine != NULL) {
		llm_engine_free(cx->engine);
		cx->engine = NULL;
	}
}

/* ---------------------------------------------------------- progress */

void
work_flush_delta(struct worker *cx)
{
	char text[224];

	if (!cx->delta_pending)
		return;
	snprintf(text, sizeof(text), "%zu bytes: %s", cx->delta_bytes,
	    cx->delta_tail);
	cx->delta_pending = false;
	worker_progress(cx, "model", text);
}

void
work_delta_reset(struct worker *cx)
{
	cx->delta_bytes = 0;
	cx->delta_tail[0] = '\0';
	cx->delta_pending = false;
}

static void
on_progress_timer(uv_timer_t *t)
{
	work_flush_delta(t->data);
}

/* At most one progress message per PROGRESS_EVERY_MS; the first at once. */
void
work_delta(struct worker *cx, const char *piece, size_t len)
{
	size_t keep = sizeof(cx->delta_tail) - 1, have;

	cx->delta_bytes += len;
	if (len >= keep) {
		memcpy(cx->delta_tail, piece + len - keep, keep);
		cx->delta_tail[keep] = '\0';
	} else {
		have = strlen(cx->delta_tail);
		if (have + len > keep) {
			memmove(cx->delta_tail, cx->delta_tail + (have + len -
			    keep), keep - len);
			have = keep - len;
		}
		memcpy(cx->delta_tail + have, piece, len);
		cx->delta_tail[have + len] = '\0';
	}
	cx->delta_pending = true;
	if (uv_is_active((uv_handle_t *)&cx->progress_timer))
		return;
	work_flush_delta(cx);
	uv_timer_start(&cx->progress_timer, on_progress_timer,
	    PROGRESS_EVERY_MS, 0);
}
