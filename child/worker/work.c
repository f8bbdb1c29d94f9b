/*
 * work.c — a domain's directives, one at a time, each in rounds:
 *
 *   ask the model ─▶ apply its files ─▶ run the checks ─▶ ask the critic
 *        ▲  invalid answer, refused path,   │ fail            │ incomplete
 *        └──────── failing output, critic feedback ◀──────────┘
 *                                                  complete ─▶ commit,
 *                                                  publish the interface
 *
 * bounded by max_rounds per directive and max_invalid answers per round.
 * A round that ends without a commit leaves the branch where it was: its
 * files are kept in a snapshot ref and the worktree is cleaned.  Every
 * round is reported to the master (`round`), every directive ends with a
 * `result`.
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

#include "child/worker/answer.h"
#include "child/worker/checks.h"
#include "child/worker/worker.h"
#include "common/iface.h"
#include "common/llm/llm.h"
#include "common/log.h"
#include "child/worker/path.h"
#include "common/repo.h"
#include "proto/msg.h"

#define DIFF_MAX	(64 * 1024)
#define PROGRESS_EVERY_MS 100

struct work_round {
	struct worker *cx;
	json_t *msg;		/* the directive message */
	int64_t directive;
	int round;		/* 1..max_rounds */
	int invalid;		/* unusable answers in this round */
	uint64_t started_ms;
	struct llm_request *req;
	struct llm_session *critic;
	struct check_run *checks;
	struct answer answer;
	bool have_answer;
	json_t *check_json;	/* this round's check results */
	struct llm_usage usage;	/* the whole directive */
	struct llm_usage round_usage;	/* this round only */
	uint64_t round_started_ms;
	bool cancelled;
};

static void ask(struct work_round *, const char *text);
static int apply_one(int, const struct answer_file *, const char **);
static void maybe_start(struct worker *);
static void flush_delta(struct worker *);

/* ---------------------------------------------------------- reporting */

static json_t *
usage_json(const struct llm_usage *u)
{
	json_t *o = json_pack("{s:I, s:I, s:I, s:i}", "input",
	    (json_int_t)u->input, "output", (json_int_t)u->output, "cached",
	    (json_int_t)u->cached, "calls", (int)u->calls);

	if (u->priced)
		json_object_set_new(o, "cost", json_real(u->cost));
	return o;
}

/* One round's outcome, stored by the master per round. */
static void
report_round(struct work_round *w, bool ok, const char *stage,
    const char *commit, const char *error)
{
	struct worker *cx = w->cx;
	json_t *m = msg_new(MSG_ROUND, worker_next_id(cx));

	json_object_set_new(m, "task", json_integer(cx->task));
	json_object_set_new(m, "directive", json_integer(w->directive));
	json_object_set_new(m, "round", json_integer(w->round));
	json_object_set_new(m, "ok", json_boolean(ok));
	json_object_set_new(m, "stage", json_string(stage));
	/* Per round: the registry sums rounds into the scoreboard. */
	json_object_set_new(m, "duration_ms", json_integer((json_int_t)(
	    uv_now(cx->loop) - w->round_started_ms)));
	json_object_set_new(m, "usage", usage_json(&w->round_usage));
	if (w->check_json != NULL)
		json_object_set(m, "checks", w->check_json);
	if (commit != NULL)
		json_object_set_new(m, "commit", json_string(commit));
	if (error != NULL)
		json_object_set_new(m, "error", json_pack("{s:s}", "message",
		    error));
	if (w->have_answer && w->answer.summary != NULL)
		json_object_set_new(m, "summary",
		    json_string(w->answer.summary));
	worker_send(cx, m);
	memset(&w->round_usage, 0, sizeof(w->round_usage));
	w->round_started_ms = uv_now(cx->loop);
}

static void
free_round(struct work_round *w)
{
	if (w->critic != NULL)
		llm_session_free(w->critic);
	if (w->have_answer)
		answer_free(&w->answer);
	json_decref(w->check_json);
	json_decref(w->msg);
	free(w);
}

/*
 * End the directive: a result to the master, then the next directive.
 * error_code is NULL on success; "rate_limited" carries until.
 */
static void
finish(struct work_round *w, const char *commit, const char *error_code,
    const char *error, time_t until)
{
	struct worker *cx = w->cx;
	json_t *m = msg_new(MSG_RESULT, worker_next_id(cx)), *e;

	json_object_set_new(m, "task", json_integer(cx->task));
	json_object_set_new(m, "directive", json_integer(w->directive));
	json_object_set_new(m, "round", json_integer(w->round));
	json_object_set_new(m, "ok", json_boolean(error_code == NULL));
	json_object_set_new(m, "commit", commit ? json_string(commit) :
	    json_null());
	json_object_set_new(m, "usage", usage_json(&w->usage));
	if (w->have_answer && w->answer.summary != NULL)
		json_object_set_new(m, "summary",
		    json_string(w->answer.summary));
	if (w->check_json != NULL)
		json_object_set(m, "checks", w->check_json);
	if (error_code != NULL) {
		e = json_pack("{s:s, s:s}", "code", error_code, "message",
		    error ? error : error_code);
		if (until > 0)
			json_object_set_new(e, "until", json_integer(until));
		json_object_set_new(m, "error", e);
	}
	worker_send(cx, m);
	if (error_code != NULL)
		log_info("directive %lld failed: %s", (long long)w->directive,
		    error ? error : error_code);
	else
		log_info("directive %lld done (%s)", (long long)w->directive,
		    commit ? commit : "no change");
	cx->round = NULL;
	free_round(w);
	maybe_start(cx);
}

/*
 * A ref name for a snapshot: unique across retries and restarts (time and
 * pid), and made of characters git allows.
 */
static void
snapshot_label(char *buf, size_t len, int64_t directive, int round,
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
roll_back(struct work_round *w, const char *why)
{
	struct worker *cx = w->cx;
	char label[128], snap[REPO_OID_HEX], err[256];

	snapshot_label(label, sizeof(label), w->directive, w->round, why);
	if (repo_snapshot_and_clean(cx->worktree, cx->domain, label, snap,
	    err, sizeof(err)) != 0)
		log_err("roll back: %s", err);
	else if (snap[0] != '\0')
		log_info("round kept as snapshot %s (%s)", snap, label);
}

static void
fail(struct work_round *w, const char *stage, const char *code,
    const char *why)
{
	roll_back(w, stage);
	/* A call cut short by masterd is not a round the model played. */
	if (strcmp(code, "cancelled") != 0)
		report_round(w, false, stage, NULL, why);
	finish(w, NULL, code, why, 0);
}

/* ---------------------------------------------------------- commit */

static void
publish(struct worker *cx, const json_t *doc)
{
	json_t *canon, *m;

	if (doc == NULL)
		return;
	canon = iface_canonical(doc);
	if (canon == NULL || (cx->published != NULL &&
	    json_equal(canon, cx->published))) {
		json_decref(canon);
		return;
	}
	json_decref(cx->published);
	cx->published = canon;
	m = msg_new(MSG_INTERFACE_PUBLISH, worker_next_id(cx));
	json_object_set_new(m, "task", json_integer(cx->task));
	json_object_set(m, "interface", canon);
	worker_send(cx, m);
}

/*
 * The interface travels with the code: <domain>/.interface.json in the
 * commit, so that a child that restarts after committing (before the
 * master heard of it) can still publish what it committed.
 */
#define INTERFACE_FILE ".interface.json"

static void
keep_interface(struct work_round *w)
{
	struct worker *cx = w->cx;
	struct answer_file f = { .path = INTERFACE_FILE };
	char folder[4096], *text;
	const char *why;
	json_t *canon;
	int dirfd;

	if (w->answer.interface == NULL ||
	    (canon = iface_canonical(w->answer.interface)) == NULL)
		return;
	text = json_dumps(canon, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(canon);
	snprintf(folder, sizeof(folder), "%s/%s", cx->worktree, cx->domain);
	dirfd = open(folder, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (text != NULL && dirfd >= 0) {
		f.content = text;
		f.len = strlen(text);
		if (apply_one(dirfd, &f, &why) != 0)
			log_warn("%s not kept: %s", INTERFACE_FILE, why);
	}
	if (dirfd >= 0)
		close(dirfd);
	free(text);
}

/* The interface a commit carries, for a round found already committed. */
static json_t *
committed_interface(struct worker *cx)
{
	char path[4096], err[256];
	json_t *doc;

	snprintf(path, sizeof(path), "%s/%s/%s", cx->worktree, cx->domain,
	    INTERFACE_FILE);
	if ((doc = json_load_file(path, 0, NULL)) == NULL)
		return NULL;
	if (iface_validate(doc, cx->domain, err, sizeof(err)) != 0) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

static void
commit_round(struct work_round *w)
{
	struct worker *cx = w->cx;
	const char *text = json_string_value(json_object_get(w->msg, "text"));
	char *message, oid[REPO_OID_HEX], err[256];
	int rc;

	if (asprintf(&message, "%.72s\n\n%s\n\nMasterd-Directive: %lld\n"
	    "Masterd-Round: %lld/%d\n", text, w->answer.summary,
	    (long long)w->directive, (long long)w->directive, w->round) < 0) {
		fail(w, "commit", "internal", "out of memory");
		return;
	}
	keep_interface(w);
	rc = repo_commit(cx->worktree, cx->domain, message, oid, err,
	    sizeof(err));
	free(message);
	if (rc < 0) {
		fail(w, "commit", "git", err);
		return;
	}
	publish(cx, w->answer.interface);
	report_round(w, true, "commit", rc == REPO_UNCHANGED ? NULL : oid,
	    NULL);
	finish(w, rc == REPO_UNCHANGED ? NULL : oid, NULL, NULL, 0);
}

/* ---------------------------------------------------------- critic */

static void
next_round(struct work_round *w, const char *stage, const char *feedback)
{
	struct worker *cx = w->cx;

	report_round(w, false, stage, NULL, feedback);
	if (w->round >= cx->max_rounds) {
		char why[300];

		snprintf(why, sizeof(why), "%s after %d rounds: %.200s", stage,
		    w->round, feedback);
		roll_back(w, stage);
		finish(w, NULL, stage, why, 0);
		return;
	}
	w->round++;
	w->invalid = 0;
	ask(w, feedback);
}

static void
on_verdict(const struct llm_result *r, void *arg)
{
	struct work_round *w = arg;
	char err[256], *feedback = NULL, *text;
	bool complete;

	w->req = NULL;
	llm_usage_add(&w->usage, &r->usage);
	llm_usage_add(&w->round_usage, &r->usage);
	llm_session_free(w->critic);
	w->critic = NULL;
	if (w->cancelled || r->error == LLM_ERR_CANCELLED) {
		fail(w, "critic", "cancelled", "cancelled by masterd");
		return;
	}
	if (!r->ok) {
		fail(w, "critic", r->error == LLM_ERR_RATE_LIMITED ?
		    "rate_limited" : "model", r->message);
		return;
	}
	if (verdict_parse(r->text, &complete, &feedback, err,
	    sizeof(err)) != 0) {
		/* The checks passed; an unreadable review does not undo that. */
		log_warn("critic: unreadable verdict (%s); accepting", err);
		complete = true;
	}
	if (complete) {
		free(feedback);
		commit_round(w);
		return;
	}
	if (asprintf(&text, "A reviewer found the work incomplete:\n\n%s\n\n"
	    "Address this and answer with the JSON object again.",
	    feedback ? feedback : "(no details)") < 0)
		text = NULL;
	free(feedback);
	roll_back(w, "critic");
	next_round(w, "critic", text ? text : "incomplete");
	free(text);
}

static void
critique(struct work_round *w)
{
	static const struct llm_callbacks cbs = { .on_done = on_verdict };
	struct worker *cx = w->cx;
	char err[256], *system, *diff = NULL, *turn;

	worker_progress(cx, "critic", NULL);
	if ((system = prompt_critic_system(cx, err, sizeof(err))) == NULL) {
		fail(w, "critic", "config", err);
		return;
	}
	w->critic = llm_session_new(cx->engine, &cx->llm, system, err,
	    sizeof(err));
	free(system);
	if (w->critic == NULL) {
		fail(w, "critic", "model", err);
		return;
	}
	if (repo_diff(cx->worktree, cx->domain, DIFF_MAX, &diff, err,
	    sizeof(err)) != 0)
		log_warn("diff for the critic: %s", err);
	turn = prompt_critic_turn(cx, w->msg, diff, w->check_json);
	free(diff);
	w->req = turn ? llm_session_send(w->critic, turn, &cbs, w) : NULL;
	free(turn);
	if (w->req == NULL && w->critic != NULL)
		fail(w, "critic", "model", "the critic could not be asked");
}

/* ---------------------------------------------------------- checks */

static char *
checks_feedback(const struct check_result *res, size_t n, int round,
    int max)
{
	size_t len = 0, cap = 0;
	char *s = NULL;
	FILE *f = open_memstream(&s, &cap);

	if (f == NULL)
		return NULL;
	fprintf(f, "The checks failed after your change (round %d of %d):\n",
	    round, max);
	for (size_t i = 0; i < n; i++) {
		if (res[i].passed)
			continue;
		fprintf(f, "\n$ %s\n", res[i].command);
		if (res[i].timed_out)
			fprintf(f, "(timed out after %llu ms)\n",
			    (unsigned long long)res[i].duration_ms);
		else if (res[i].term_signal)
			fprintf(f, "(killed by signal %d)\n",
			    res[i].term_signal);
		else
			fprintf(f, "(exit status %d)\n", res[i].exit_status);
		fprintf(f, "%s\n", res[i].output);
	}
	fprintf(f, "\nFix the cause and answer with the JSON object again.\n");
	fclose(f);
	(void)len;
	return s;
}

static void
on_checks(const struct check_result *res, size_t n, bool passed,
    bool cancelled, void *arg)
{
	struct work_round *w = arg;
	char *feedback;

	w->checks = NULL;
	json_decref(w->check_json);
	w->check_json = check_results_json(res, n);
	if (cancelled || w->cancelled) {
		fail(w, "checks", "cancelled", "cancelled by masterd");
		return;
	}
	worker_progress(w->cx, passed ? "checks passed" : "checks failed",
	    NULL);
	if (passed) {
		critique(w);
		return;
	}
	feedback = checks_feedback(res, n, w->round, w->cx->max_rounds);
	roll_back(w, "checks");
	next_round(w, "checks", feedback ? feedback : "the checks failed");
	free(feedback);
}

static void
run_checks(struct work_round *w)
{
	struct worker *cx = w->cx;
	const json_t *list = json_object_get(cx->assign, "checks"), *v;
	struct check_limits lim = CHECK_LIMITS_DEFAULT;
	char **cmds;

	lim.secret_env = cx->llm.key_env;
	size_t n = json_array_size(list), i;
	bool proposed = false;

	/* The model's own checks run only where policy allows, and only
	 * when nobody configured or planned any. */
	if (n == 0 && cx->conf->accept_proposed_checks &&
	    w->answer.nchecks > 0) {
		n = w->answer.nchecks;
		proposed = true;
	}
	if (n == 0) {
		critique(w);
		return;
	}
	if ((cmds = calloc(n, sizeof(*cmds))) == NULL) {
		fail(w, "checks", "internal", "out of memory");
		return;
	}
	if (proposed) {
		for (i = 0; i < n; i++)
			cmds[i] = w->answer.checks[i];
	} else {
		json_array_foreach(list, i, v)
			cmds[i] = (char *)json_string_value(v);
	}
	worker_progress(cx, "checks", NULL);
	w->checks = checks_run(cx->loop, cx->self, cx->worktree, cmds, n, &lim,
	    on_checks, w);
	free(cmds);
	if (w->checks == NULL)
		fail(w, "checks", "internal", "the checks could not start");
}

/* ---------------------------------------------------------- files */

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		p += k;
		n -= (size_t)k;
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

/* Write the answer's files under the domain folder; NULL or the refusal. */
static char *
apply_files(struct work_round *w)
{
	struct worker *cx = w->cx;
	char folder[4096], *msg = NULL;
	const char *why = NULL;
	int dirfd;

	snprintf(folder, sizeof(folder), "%s/%s", cx->worktree, cx->domain);
	if (mkdir(folder, 0755) != 0 && errno != EEXIST)
		return strdup("cannot create the domain folder");
	if ((dirfd = open(folder, O_PATH | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return strdup("the domain folder is not a directory");
	for (size_t i = 0; i < w->answer.nfiles; i++) {
		if (apply_one(dirfd, &w->answer.files[i], &why) == 0)
			continue;
		if (asprintf(&msg, "files[%zu].path \"%s\" refused: %s", i,
		    w->answer.files[i].path, why ? why : "write failed") < 0)
			msg = strdup("a file was refused");
		break;
	}
	close(dirfd);
	return msg;
}

/* ---------------------------------------------------------- the model */

static void
retry_answer(struct work_round *w, const char *stage, const char *problem)
{
	char *text;

	if (++w->invalid > w->cx->max_invalid) {
		char why[400];

		snprintf(why, sizeof(why), "no usable answer after %d tries: "
		    "%.300s", w->invalid, problem);
		fail(w, stage, "invalid_answer", why);
		return;
	}
	worker_progress(w->cx, stage, problem);
	if (asprintf(&text, "Your answer could not be used: %s\n\nAnswer "
	    "again with exactly one JSON object as your instructions "
	    "describe.", problem) < 0) {
		fail(w, stage, "internal", "out of memory");
		return;
	}
	ask(w, text);
	free(text);
}

static void
on_model_failed(struct work_round *w, const struct llm_result *r)
{
	if (w->cancelled || r->error == LLM_ERR_CANCELLED) {
		fail(w, "model", "cancelled", "cancelled by masterd");
		return;
	}
	if (r->error == LLM_ERR_RATE_LIMITED) {
		/* Nothing was written; the master holds us until then. */
		finish(w, NULL, "rate_limited", r->message, r->retry_until);
		return;
	}
	fail(w, "model", "model", r->message);
}

static void
on_answer(const struct llm_result *r, void *arg)
{
	struct work_round *w = arg;
	char err[512], *refused;

	w->req = NULL;
	llm_usage_add(&w->usage, &r->usage);
	llm_usage_add(&w->round_usage, &r->usage);
	/* The last of the streamed text before what follows it. */
	uv_timer_stop(&w->cx->progress_timer);
	flush_delta(w->cx);
	if (!r->ok || w->cancelled) {
		on_model_failed(w, r);
		return;
	}
	if (w->have_answer) {
		answer_free(&w->answer);
		w->have_answer = false;
	}
	if (answer_parse(r->text, w->cx->domain, &w->answer, err,
	    sizeof(err)) != 0) {
		retry_answer(w, "invalid answer", err);
		return;
	}
	w->have_answer = true;
	if ((refused = apply_files(w)) != NULL) {
		log_warn("directive %lld: %s", (long long)w->directive,
		    refused);
		roll_back(w, "refused");
		retry_answer(w, "refused path", refused);
		free(refused);
		return;
	}
	run_checks(w);
}

static void
on_delta(const char *piece, size_t len, void *arg)
{
	struct work_round *w = arg;

	work_delta(w->cx, piece, len);
}

static void
on_retry(unsigned attempt, uint64_t delay_ms, const char *reason, void *arg)
{
	struct work_round *w = arg;
	char text[300];

	snprintf(text, sizeof(text), "attempt %u in %llu ms: %s", attempt,
	    (unsigned long long)delay_ms, reason);
	worker_progress(w->cx, "model retry", text);
}

static void
ask(struct work_round *w, const char *text)
{
	static const struct llm_callbacks cbs = {
		.on_delta = on_delta,
		.on_retry = on_retry,
		.on_done = on_answer,
	};

	worker_progress(w->cx, "model", NULL);
	w->cx->delta_bytes = 0;
	w->cx->delta_tail[0] = '\0';
	w->req = llm_session_send(w->cx->session, text, &cbs, w);
	if (w->req == NULL)
		fail(w, "model", "model", "the model could not be asked");
}

/* ---------------------------------------------------------- directives */

/*
 * Open the child's conversation with this system prompt (taken), resuming
 * the session file of an earlier run, and save it after every turn.
 */
int
worker_open_session(struct worker *cx, char *system, char *err,
    size_t errlen)
{
	char dir[4096];

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

static int
ensure_session(struct worker *cx, char *err, size_t errlen)
{
	char *system;

	if (cx->session != NULL)
		return 0;
	if ((system = prompt_system(cx, err, errlen)) == NULL)
		return -1;
	return worker_open_session(cx, system, err, errlen);
}

/*
 * A directive whose commit is already on the branch (the child died
 * between commit and result) is reported, not redone.
 */
static bool
already_committed(struct worker *cx, int64_t directive, char oid[41])
{
	char branch[96], want[64], err[256];
	const json_t *c;
	json_t *log;
	size_t i;
	bool found = false;

	snprintf(branch, sizeof(branch), "refs/heads/domain/%s", cx->domain);
	snprintf(want, sizeof(want), "Masterd-Directive: %lld\n",
	    (long long)directive);
	if (repo_log(cx->gitdir, branch, 20, &log, err, sizeof(err)) != 0)
		return false;
	json_array_foreach(log, i, c) {
		const char *m = json_string_value(json_object_get(c, "message"));

		if (m != NULL && strstr(m, want) != NULL) {
			snprintf(oid, 41, "%s", json_string_value(
			    json_object_get(c, "id")));
			found = true;
			break;
		}
	}
	json_decref(log);
	return found;
}

static int
prepare_tree(struct worker *cx, struct work_round *w, char *err,
    size_t errlen)
{
	char label[128], snap[REPO_OID_HEX];

	if (repo_worktree(cx->gitdir, cx->worktree, cx->domain, err,
	    errlen) != 0)
		return -1;
	/* Leftovers of a round cut short by a crash are kept, then cleaned. */
	snapshot_label(label, sizeof(label), w->directive, 0, "leftover");
	return repo_snapshot_and_clean(cx->worktree, cx->domain, label, snap,
	    err, errlen);
}

static void
start(struct worker *cx, json_t *msg)
{
	struct work_round *w = calloc(1, sizeof(*w));
	char err[512], oid[41];
	json_t *files = NULL;
	char *turn;

	if (w == NULL)
		return;
	w->cx = cx;
	w->msg = msg;
	w->directive = json_integer_value(json_object_get(msg, "directive"));
	w->round = 1;
	w->started_ms = uv_now(cx->loop);
	w->round_started_ms = w->started_ms;
	cx->round = w;
	log_info("directive %lld: %s", (long long)w->directive,
	    json_string_value(json_object_get(msg, "text")));
	if (prepare_tree(cx, w, err, sizeof(err)) != 0) {
		finish(w, NULL, "git", err, 0);
		return;
	}
	/* Committed before the master heard of it: report, do not redo. */
	if (already_committed(cx, w->directive, oid)) {
		json_t *doc = committed_interface(cx);

		publish(cx, doc);
		json_decref(doc);
		report_round(w, true, "commit", oid, NULL);
		finish(w, oid, NULL, NULL, 0);
		return;
	}
	if (repo_files(cx->worktree, cx->domain, &files, err,
	    sizeof(err)) != 0) {
		finish(w, NULL, "git", err, 0);
		return;
	}
	if (ensure_session(cx, err, sizeof(err)) != 0) {
		json_decref(files);
		finish(w, NULL, "model", err, 0);
		return;
	}
	turn = prompt_first_turn(cx, msg, files);
	json_decref(files);
	if (turn == NULL) {
		finish(w, NULL, "internal", "out of memory", 0);
		return;
	}
	ask(w, turn);
	free(turn);
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
	json_decref(cx->peers);
	cx->peers = json_deep_copy(json_object_get(msg, "peers"));
}

void
work_directive(struct worker *cx, const json_t *msg)
{
	json_array_append_new(cx->queue, json_deep_copy(msg));
	maybe_start(cx);
}

static void
cancel_round(struct work_round *w)
{
	w->cancelled = true;
	/* Each of these ends in its callback, which finishes the round. */
	if (w->req != NULL)
		llm_request_cancel(w->req);
	else if (w->checks != NULL)
		checks_cancel(w->checks);
}

void
work_cancel(struct worker *cx, const json_t *msg)
{
	json_int_t d = json_integer_value(json_object_get(msg, "directive"));

	if (cx->round != NULL && (d == 0 || d == cx->round->directive))
		cancel_round(cx->round);
}

void
work_shutdown(struct worker *cx)
{
	json_array_clear(cx->queue);
	if (cx->round != NULL)
		cancel_round(cx->round);
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

static void
flush_delta(struct worker *cx)
{
	char text[224];

	if (!cx->delta_pending)
		return;
	snprintf(text, sizeof(text), "%zu bytes: %s", cx->delta_bytes,
	    cx->delta_tail);
	cx->delta_pending = false;
	worker_progress(cx, "model", text);
}

static void
on_progress_timer(uv_timer_t *t)
{
	flush_delta(t->data);
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
	flush_delta(cx);
	uv_timer_start(&cx->progress_timer, on_progress_timer,
	    PROGRESS_EVERY_MS, 0);
}
