/*
 * roundops.c — the round's operations on the live worker: the domain's
 * model session (through context.c, which keeps it within its window),
 * its tools and files under path confinement, the check commands, the
 * critic, the task repository and the channel to the master.  The
 * decisions between them are round.c's.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "child/worker/critic.h"
#include "child/worker/failover.h"
#include "child/worker/path.h"
#include "child/worker/round.h"
#include "child/worker/tools.h"
#include "child/worker/worker.h"
#include "common/llm/llm.h"
#include "common/log.h"
#include "common/redact.h"
#include "common/repo.h"
#include "common/util.h"
#include "proto/msg.h"

/* What a round has in flight, for cancel and for the completions. */
struct round_io {
	struct worker *cx;
	json_t *msg;			/* the directive message */
	struct llm_request *req;	/* the model's call */
	struct critic *critic;		/* the critic's */
	struct check_run *checks;
	struct tool_ctx tools;		/* the tools' use in this round */
	int tools_round;		/* the round tools counts for */
	bool tools_open;
	bool off_warned;		/* sandbox = off dropped commands:
					 * said once per directive */
};

static struct worker *
worker_of(struct round *r)
{
	return ((struct round_io *)r->arg)->cx;
}

/* ---------------------------------------------------------- the model */

static void
on_answer(const struct llm_result *res, void *arg)
{
	struct round *r = arg;
	struct round_io *io = r->arg;

	io->req = NULL;
	if (res->ok)
		snprintf(r->provider, sizeof(r->provider), "%s",
		    io->cx->fo->answered);
	/* The last of the streamed text before what follows it. */
	uv_timer_stop(&io->cx->progress_timer);
	work_flush_delta(io->cx);
	round_answer(r, res);
}

static void
on_delta(const char *piece, size_t len, void *arg)
{
	work_delta(worker_of(arg), piece, len);
}

/* "attempt 2 of 6 in 740 ms: HTTP 529: Overloaded"; the next attempt's
 * text streams from its start, so the progress count does too. */
static void
on_retry(const struct llm_retry *rt, void *arg)
{
	struct worker *cx = worker_of(arg);
	char text[640];

	snprintf(text, sizeof(text), "attempt %u of %u in %llu ms: %s",
	    rt->attempt, rt->max_attempts, (unsigned long long)rt->delay_ms,
	    rt->reason);
	work_delta_reset(cx);
	worker_progress(cx, "model retry", text);
}

static int
ask_model(struct round *r, const char *text)
{
	static const struct llm_callbacks cbs = {
		.on_delta = on_delta,
		.on_retry = on_retry,
		.on_done = on_answer,
	};
	struct round_io *io = r->arg;

	worker_progress(io->cx, "model", NULL);
	work_delta_reset(io->cx);
	return context_send(io->cx, text, &cbs, r, &io->req);
}

/* The server refused tools: this worker answers in JSON from now on. */
static char *
drop_tools(struct round *r)
{
	struct round_io *io = r->arg;

	return worker_drop_tools(io->cx, io->msg);
}

/* ---------------------------------------------------------- files */

/* A JSON answer's edits of files[i], in order: 0, or -1 with *msg. */
static int
apply_edits(int dirfd, const struct answer_file *f, size_t i, char **msg)
{
	char *why = NULL;

	for (size_t e = 0; e < f->nedits; e++) {
		if (tools_edit(dirfd, f->path, f->edits[e].old,
		    f->edits[e].new, &why) == 0)
			continue;
		*msg = xasprintf("files[%zu] \"%s\" edits[%zu]: %s", i,
		    f->path, e, why != NULL ? why : "failed");
		free(why);
		return -1;
	}
	return 0;
}

static int
apply_one(int dirfd, const struct answer_file *f, const char **why)
{
	const unsigned opts = PATH_DENY_GIT | PATH_MKDIRS;
	int fd, rc;

	if (f->delete) {
		rc = path_unlink_beneath(dirfd, f->path, PATH_DENY_GIT, why);
		return rc != 0 && errno == ENOENT ? 0 : rc;
	}
	fd = path_open_beneath(dirfd, f->path, O_WRONLY | O_CREAT | O_TRUNC,
	    0644, opts, why);
	if (fd < 0)
		return -1;
	rc = write_all(fd, f->content, f->len);
	if (close(fd) != 0 || rc != 0) {
		*why = strerror(errno);
		return -1;
	}
	return 0;
}

static int
open_domain_folder(struct worker *cx)
{
	char folder[4096];

	snprintf(folder, sizeof(folder), "%s/%s", cx->worktree,
	    worker_folder(cx));
	return open(folder, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Write the answer's files under the domain folder; NULL or the refusal. */
static char *
apply_files(struct round *r, const struct answer *a)
{
	struct worker *cx = worker_of(r);
	char folder[4096], *msg = NULL;
	const char *why = NULL;
	int dirfd;

	/* A JSON answer's questions go with the final round, as
	 * ask_user's. */
	if (a->questions != NULL && json_array_size(cx->asked) == 0)
		json_array_extend(cx->asked, a->questions);
	snprintf(folder, sizeof(folder), "%s/%s", cx->worktree,
	    worker_folder(cx));
	if (mkdir(folder, 0755) != 0 && errno != EEXIST)
		return xstrdup("cannot create the domain folder");
	if ((dirfd = open_domain_folder(cx)) < 0)
		return xstrdup("the domain folder is not a directory");
	for (size_t i = 0; i < a->nfiles; i++) {
		/* The model never edits a file it was not shown. */
		if (a->files[i].nedits > 0) {
			if (!json_is_true(json_object_get(cx->shown,
			    a->files[i].path))) {
				msg = xasprintf("files[%zu] \"%s\": edits "
				    "of a file you were not shown; give its "
				    "whole content", i, a->files[i].path);
				break;
			}
			if (apply_edits(dirfd, &a->files[i], i, &msg) != 0)
				break;
			json_object_set_new(cx->changed, a->files[i].path,
			    json_true());
			continue;
		}
		if (apply_one(dirfd, &a->files[i], &why) == 0) {
			json_object_set_new(cx->changed, a->files[i].path,
			    json_true());
			continue;
		}
		msg = xasprintf("files[%zu].path \"%s\" refused: %s", i,
		    a->files[i].path, why ? why : "write failed");
		break;
	}
	close(dirfd);
	return msg;
}

/*
 * A ref name for a snapshot: unique across retries and restarts (time and
 * pid), and made of characters git allows.
 */
void
work_snapshot_label(char *buf, size_t len, int64_t directive, int round,
    const char *why)
{
	struct timespec ts;
	char *p;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(buf, len, "directive-%lld-round-%d-%s-%lld.%09ld-%ld",
	    (long long)directive, round, why, (long long)ts.tv_sec,
	    ts.tv_nsec, (long)getpid());
	for (p = buf; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
			*p = '-';
	}
}

/* The round's files are kept in a snapshot ref, the worktree cleaned. */
static void
roll_back(struct round *r, const char *why)
{
	struct worker *cx = worker_of(r);
	char label[128], snap[REPO_OID_HEX], err[256];

	work_snapshot_label(label, sizeof(label), r->directive, r->round, why);
	if (repo_snapshot_and_clean(cx->worktree, cx->domain, label, snap,
	    err, sizeof(err)) != 0)
		log_err("roll back: %s", err);
	else if (snap[0] != '\0')
		log_info("round kept as snapshot %s (%s)", snap, label);
}

/* ---------------------------------------------------------- checks */

static void
on_checks(const struct check_result *res, size_t n, bool passed,
    bool cancelled, void *arg)
{
	struct round *r = arg;
	struct round_io *io = r->arg;

	io->checks = NULL;
	worker_redact_checks(io->cx, res, n);
	round_checks_done(r, res, n, passed, cancelled);
}

static int
run_checks(struct round *r, const struct answer *a)
{
	struct round_io *io = r->arg;
	struct worker *cx = io->cx;
	const json_t *list = json_object_get(cx->assign, "checks"), *v;
	struct check_policy pol;
	size_t n = json_array_size(list), i, kept;
	bool proposed = false;
	char **cmds;

	/* The model's own checks run only where policy allows, and only
	 * when nobody configured or planned any. */
	if (n == 0 && cx->conf->accept_proposed_checks && a != NULL &&
	    a->nchecks > 0) {
		n = a->nchecks;
		proposed = true;
	}
	if (n == 0)
		return 1;
	cmds = xcalloc(n, sizeof(*cmds));
	if (proposed) {
		for (i = 0; i < n; i++)
			cmds[i] = a->checks[i];
	} else {
		json_array_foreach(list, i, v)
			cmds[i] = (char *)json_string_value(v);
	}
	/* Planned and proposed commands are a model's: never unconfined. */
	kept = check_policy_keep(cx, cmds, n, !io->off_warned);
	io->off_warned = io->off_warned || kept < n;
	if (kept == 0) {
		free(cmds);
		return 1;
	}
	worker_progress(cx, "checks", NULL);
	check_policy_init(&pol, cx);
	io->checks = checks_run(cx->loop, cx->self, cx->worktree, cmds, kept,
	    &pol.lim, on_checks, r);
	check_policy_free(&pol);
	free(cmds);
	return io->checks != NULL ? 0 : -1;
}

/* ---------------------------------------------------------- tools */

/* The round's tool context, opened on the first call of each round. */
static struct tool_ctx *
round_tools(struct round *r)
{
	struct round_io *io = r->arg;
	struct tool_limits lim = TOOL_LIMITS_DEFAULT;
	char folder[4096];
	int dirfd;

	if (io->tools_open && io->tools_round == r->round)
		return &io->tools;
	if (io->tools_open) {
		close(io->tools.dirfd);
		tool_ctx_free(&io->tools);
		io->tools_open = false;
	}
	snprintf(folder, sizeof(folder), "%s/%s", io->cx->worktree,
	    worker_folder(io->cx));
	if (mkdir(folder, 0755) != 0 && errno != EEXIST)
		return NULL;
	if ((dirfd = open_domain_folder(io->cx)) < 0)
		return NULL;
	/* round.c counts the calls of a round; tools.c the bytes read. */
	lim.round_calls = INT32_MAX;
	lim.round_read = (size_t)io->cx->conf->max_read_bytes;
	tool_ctx_init(&io->tools, dirfd, io->cx->domain, io->cx->peers, &lim);
	io->tools_round = r->round;
	io->tools_open = true;
	return &io->tools;
}

static char *
run_tool(struct round *r, const struct llm_tool_call *c, bool *is_error)
{
	struct tool_ctx *t = round_tools(r);
	char *text;

	*is_error = true;
	if (t == NULL)
		return xstrdup("the domain folder cannot be opened");
	worker_progress(worker_of(r), "tool", c->name);
	text = tools_run(t, c->name, c->arguments, is_error);
	/* What the model has seen may be edited in a JSON answer later. */
	json_object_update(worker_of(r)->shown, t->shown);
	json_object_update(worker_of(r)->changed, t->changed);
	/* ask_user's questions go with the directive's final round. */
	json_array_extend(worker_of(r)->asked, t->questions);
	json_array_clear(t->questions);
	if (t->bytes_read >= t->lim.round_read && r->limit == NULL)
		r->limit = xasprintf("%zu bytes read per round",
		    t->lim.round_read);
	return text;
}

static void
tool_result(struct round *r, const struct llm_tool_call *c,
    const char *content, bool is_error)
{
	worker_tool_result(worker_of(r), c->id, c->name, content, is_error);
}

/* ---------------------------------------------------------- critic */

static void
on_verdict(const struct critic_verdict *v, void *arg)
{
	struct round *r = arg;

	((struct round_io *)r->arg)->critic = NULL;
	round_verdict(r, v);
}

static int
ask_critic(struct round *r, const json_t *checks, const char **code,
    char *err, size_t errlen)
{
	struct round_io *io = r->arg;

	io->critic = critic_ask(io->cx, io->msg, checks, on_verdict, r, code,
	    err, errlen);
	return io->critic != NULL ? 0 : -1;
}

/* ---------------------------------------------------------- commit */

/*
 * The interface travels with the code: <domain>/.interface.json in the
 * commit, so that a worker that restarts after committing (before the
 * master heard of it) can still publish what it committed.
 */
static void
keep_interface(struct worker *cx, const json_t *iface)
{
	struct answer_file f = { .path = WORKER_INTERFACE_FILE };
	const char *why;
	json_t *clean;
	char *text;
	int dirfd;

	if (iface == NULL)
		return;
	/* As published (worker_send redacts it): git keeps it for good. */
	clean = redact_json_copy(cx->redact, iface);
	text = json_dumps(clean, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(clean);
	dirfd = open_domain_folder(cx);
	if (text != NULL && dirfd >= 0) {
		f.content = text;
		f.len = strlen(text);
		if (apply_one(dirfd, &f, &why) != 0)
			log_warn("%s not kept: %s", WORKER_INTERFACE_FILE, why);
	}
	if (dirfd >= 0)
		close(dirfd);
	free(text);
}

static int
commit(struct round *r, const char *message, const json_t *iface,
    char oid[REPO_OID_HEX], char *err, size_t errlen)
{
	struct worker *cx = worker_of(r);
	char *clean = redact_str(cx->redact, message);
	int rc;

	keep_interface(cx, iface);
	/* The summary in it is the model's; git keeps it for good. */
	rc = repo_commit(cx->worktree, cx->domain, clean, oid, err, errlen);
	free(clean);
	return rc;
}

/* ---------------------------------------------------------- the master */

static void
publish(struct round *r, const json_t *iface, bool declared)
{
	work_publish(worker_of(r), iface, declared);
}

static void
report(struct round *r, json_t *body)
{
	struct worker *cx = worker_of(r);
	json_t *m = msg_new(MSG_ROUND, worker_next_id(cx));

	json_object_update(m, body);
	json_decref(body);
	if (json_is_true(json_object_get(m, "final")) &&
	    json_array_size(cx->asked) > 0) {
		json_object_set(m, "questions", cx->asked);
		json_decref(cx->asked);
		cx->asked = json_array();
	}
	worker_send(cx, m);
}

static void
cancel(struct round *r)
{
	struct round_io *io = r->arg;

	/* Each of these ends in its callback, which ends the directive. */
	if (io->req != NULL)
		llm_request_cancel(io->req);
	else if (io->critic != NULL)
		critic_cancel(io->critic);
	else if (io->checks != NULL)
		checks_cancel(io->checks);
}

static void
progress(struct round *r, const char *stage, const char *text)
{
	worker_progress(worker_of(r), stage, text);
}

static uint64_t
now_ms(struct round *r)
{
	return uv_now(worker_of(r)->loop);
}

static void
done(struct round *r)
{
	work_round_done(worker_of(r));
}

static const struct round_ops live_ops = {
	.ask_model = ask_model,
	.run_tool = run_tool,
	.tool_result = tool_result,
	.drop_tools = drop_tools,
	.apply_files = apply_files,
	.run_checks = run_checks,
	.ask_critic = ask_critic,
	.commit = commit,
	.roll_back = roll_back,
	.publish = publish,
	.report = report,
	.cancel = cancel,
	.progress = progress,
	.now_ms = now_ms,
	.done = done,
};

/* A directive's rounds on this worker; msg is the directive (taken). */
struct round *
work_round_new(struct worker *cx, json_t *msg)
{
	struct round_io *io = xcalloc(1, sizeof(*io));
	struct round_limits lim = { cx->max_rounds, cx->max_invalid,
	    cx->max_tool_calls };

	io->cx = cx;
	io->msg = msg;
	return round_new(&live_ops, io, &lim, cx->domain, cx->task,
	    json_integer_value(json_object_get(msg, "directive")),
	    json_string_value(json_object_get(msg, "text")), cx->tools);
}

void
work_round_free(struct round *r)
{
	struct round_io *io;

	if (r == NULL)
		return;
	io = r->arg;
	if (io->tools_open) {
		close(io->tools.dirfd);
		tool_ctx_free(&io->tools);
	}
	json_decref(io->msg);
	free(io);
	round_free(r);
}
