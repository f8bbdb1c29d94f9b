/*
 * hooks.c — the operator's [notify] command.  On the moments of a task
 * that [notify] on names (done, failed, cancelled, paused, needs-input,
 * approval-needed) masterd runs
 * the command with /bin/sh -c and writes the event to its standard input
 * as one JSON object and a newline.
 *
 * The command is the operator's own, from the configuration: it runs as
 * masterd runs, outside the sandbox, in its own session, with a clean
 * environment (a few standard variables, MASTERD_*, and what [notify] env
 * lets through; never a provider's key).  At most HOOKS_RUNNING run at
 * once and HOOKS_QUEUED wait; one that outlives [notify] timeout is
 * killed with its process group.  What it prints is logged when it ends.
 * A stop waits for the commands running and drops those queued.
 *
 * Notifications are best effort: a moment whose command has not started
 * when masterd dies is not replayed (the event itself is in the registry,
 * for `watch`).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/masterd/masterd.h"
#include "daemon/masterd/task.h"

#define HOOKS_RUNNING	4
#define HOOKS_QUEUED	64
#define HOOK_OUTPUT_MAX	2048	/* bytes of its output kept for the log */
#define HOOK_ENV_MAX	32

/* A moment waiting for its turn. */
struct hook_job {
	TAILQ_ENTRY(hook_job) entry;
	char *moment;
	int64_t task;
	char *input;		/* the JSON line for its standard input */
};
TAILQ_HEAD(hook_jobs, hook_job);

/* A command running: its process, pipes and deadline close separately. */
struct hook_run {
	TAILQ_ENTRY(hook_run) entry;
	struct hooks *hooks;
	struct hook_job *job;
	uv_process_t proc;
	uv_pipe_t in, out, err;	/* its stdin, stdout and stderr */
	uv_timer_t deadline;
	uv_write_t wr;
	int open_handles;	/* freed when the last one has closed */
	bool exited, timed_out;
	int64_t status;
	int term_signal;
	char output[HOOK_OUTPUT_MAX];
	size_t output_len;
	bool output_cut;
};
TAILQ_HEAD(hook_runs, hook_run);

struct hooks {
	struct masterd *md;
	struct hook_jobs queued;
	struct hook_runs running;
	size_t nqueued, nrunning;
	void (*drained)(struct masterd *);	/* a stop waits for this */
};

static void hooks_next(struct hooks *);

static struct hooks *
hooks_get(struct masterd *md)
{
	if (md->hooks == NULL) {
		md->hooks = xcalloc(1, sizeof(*md->hooks));
		md->hooks->md = md;
		TAILQ_INIT(&md->hooks->queued);
		TAILQ_INIT(&md->hooks->running);
	}
	return md->hooks;
}

static void
job_free(struct hook_job *job)
{
	if (job == NULL)
		return;
	free(job->moment);
	free(job->input);
	free(job);
}

/* ------------------------------------------------------------ moments */

/* The moment ev stands for, or NULL when it is none the operator hears. */
static const char *
moment_of(enum event ev, const json_t *data)
{
	const char *state;

	if (ev == EV_TASK_PAUSED)
		return "paused";
	/* A person is waited for (task_ask.c). */
	if (ev == EV_QUESTION_ASKED)
		return "needs-input";
	if (ev == EV_APPROVAL_NEEDED)
		return "approval-needed";
	if (ev != EV_TASK_STATE || (state = jget_str(data, "state")) == NULL)
		return NULL;
	if (strcmp(state, "done") == 0 || strcmp(state, "failed") == 0 ||
	    strcmp(state, "cancelled") == 0)
		return state;
	return NULL;
}

static bool
moment_wanted(const struct masterd_conf *conf, const char *moment)
{
	if (conf->notify_on.n == 0)
		return true;
	for (size_t i = 0; i < conf->notify_on.n; i++)
		if (strcmp(conf->notify_on.v[i], moment) == 0)
			return true;
	return false;
}

static void
iso_time(char *buf, size_t len, double epoch)
{
	time_t t = (time_t)epoch;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* What the command reads: the moment, the task, and the event itself. */
static char *
job_input(struct masterd *md, const char *moment, int64_t task_id,
    const char *event, int64_t seq, const json_t *data)
{
	struct task *t = task_find(md, task_id);
	char when[32];
	json_t *o;
	char *s;

	iso_time(when, sizeof(when), now_epoch());
	o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:O}", "moment", moment,
	    "event", event, "time", when, "seq", (json_int_t)seq,
	    "task", (json_int_t)task_id, "data", data);
	if (o == NULL)
		return NULL;
	if (t != NULL) {
		json_object_set_new(o, "text", json_string(t->text));
		json_object_set_new(o, "state",
		    json_string(task_state_names[t->state]));
		if (t->reason != NULL)
			json_object_set_new(o, "reason",
			    json_string(t->reason));
	}
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

void
hooks_event(struct masterd *md, int64_t task, enum event ev, int64_t seq,
    const json_t *data)
{
	const char *moment = moment_of(ev, data);
	struct hooks *h;
	struct hook_job *job;

	if (moment == NULL || md->conf->notify_command == NULL ||
	    md->stopping || !moment_wanted(md->conf, moment))
		return;
	h = hooks_get(md);
	if (h->nqueued >= HOOKS_QUEUED) {
		log_warn("notify: %zu commands already wait; the %s of task "
		    "%lld is not told", h->nqueued, moment, (long long)task);
		return;
	}
	job = xcalloc(1, sizeof(*job));
	job->moment = xstrdup(moment);
	job->task = task;
	if ((job->input = job_input(md, moment, task, event_defs[ev].name,
	    seq, data)) == NULL) {
		log_warn("notify: the %s of task %lld could not be encoded",
		    moment, (long long)task);
		job_free(job);
		return;
	}
	TAILQ_INSERT_TAIL(&h->queued, job, entry);
	h->nqueued++;
	hooks_next(h);
}

/* ------------------------------------------------------------ a run */

static void
run_free_if_closed(struct hook_run *r)
{
	struct hooks *h = r->hooks;

	if (--r->open_handles > 0)
		return;
	TAILQ_REMOVE(&h->running, r, entry);
	h->nrunning--;
	job_free(r->job);
	free(r);
	if (h->nrunning == 0 && h->drained != NULL) {
		void (*drained)(struct masterd *) = h->drained;

		h->drained = NULL;
		drained(h->md);
		return;
	}
	hooks_next(h);
}

static void
on_run_closed(uv_handle_t *handle)
{
	run_free_if_closed(handle->data);
}

static void
run_close_handle(struct hook_run *r, uv_handle_t *handle)
{
	if (!uv_is_closing(handle))
		uv_close(handle, on_run_closed);
}

/* One log line for the run, when both its exit and its output are in. */
static void
run_report(struct hook_run *r)
{
	const char *cut = r->output_cut ? " [cut]" : "";
	char *out;

	out = xstrndup(r->output, r->output_len);
	for (char *p = out; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	if (r->timed_out)
		log_warn("notify: command for the %s of task %lld killed after "
		    "%lld ms ([notify] timeout)%s%s%s", r->job->moment,
		    (long long)r->job->task,
		    (long long)r->hooks->md->conf->notify_timeout,
		    *out ? ": " : "", out, cut);
	else if (r->term_signal != 0)
		log_warn("notify: command for the %s of task %lld killed by "
		    "signal %d%s%s%s", r->job->moment, (long long)r->job->task,
		    r->term_signal, *out ? ": " : "", out, cut);
	else if (r->status != 0)
		log_warn("notify: command for the %s of task %lld exited %lld"
		    "%s%s%s", r->job->moment, (long long)r->job->task,
		    (long long)r->status, *out ? ": " : "", out, cut);
	else
		log_info("notify: command for the %s of task %lld done%s%s%s",
		    r->job->moment, (long long)r->job->task,
		    *out ? ": " : "", out, cut);
	free(out);
}

static bool
closing(const uv_pipe_t *p)
{
	return uv_is_closing((const uv_handle_t *)p) != 0;
}

static void
run_maybe_done(struct hook_run *r)
{
	if (!r->exited || !closing(&r->out) || !closing(&r->err))
		return;
	run_report(r);
	uv_timer_stop(&r->deadline);
	run_close_handle(r, (uv_handle_t *)&r->deadline);
	run_close_handle(r, (uv_handle_t *)&r->in);
	run_close_handle(r, (uv_handle_t *)&r->proc);
}

static void
on_hook_exit(uv_process_t *proc, int64_t status, int term_signal)
{
	struct hook_run *r = proc->data;

	r->exited = true;
	r->status = status;
	r->term_signal = term_signal;
	run_maybe_done(r);
}

static void
on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	static char sink[512];
	struct hook_run *r = handle->data;

	(void)suggested;
	/* Past the kept part the output is read and dropped. */
	if (r->output_len < sizeof(r->output))
		*buf = uv_buf_init(r->output + r->output_len,
		    (unsigned)(sizeof(r->output) - r->output_len));
	else
		*buf = uv_buf_init(sink, sizeof(sink));
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct hook_run *r = s->data;

	if (n > 0) {
		if (buf->base >= r->output &&
		    buf->base < r->output + sizeof(r->output))
			r->output_len += (size_t)n;
		else
			r->output_cut = true;
		return;
	}
	if (n == 0)
		return;
	/* EOF (or an error): every writer has gone. */
	uv_close((uv_handle_t *)s, on_run_closed);
	run_maybe_done(r);
}

static void
on_deadline(uv_timer_t *t)
{
	struct hook_run *r = t->data;

	r->timed_out = true;
	/* Its own session: the group is everything it started. */
	if (!r->exited)
		(void)uv_kill(-r->proc.pid, SIGKILL);
	/* A process that left the group may hold the pipes. */
	if (!closing(&r->out))
		uv_close((uv_handle_t *)&r->out, on_run_closed);
	if (!closing(&r->err))
		uv_close((uv_handle_t *)&r->err, on_run_closed);
	run_maybe_done(r);
}

static void
on_written(uv_write_t *wr, int status)
{
	struct hook_run *r = wr->data;

	(void)status;	/* a command that does not read is its business */
	run_close_handle(r, (uv_handle_t *)&r->in);
}

/* ------------------------------------------------------------ spawning */

static void
env_add(char **env, size_t *n, const char *name, const char *value)
{
	if (value == NULL || *n + 1 >= HOOK_ENV_MAX)
		return;
	env[(*n)++] = xasprintf("%s=%s", name, value);
}

/* A clean environment: never masterd's own, which may hold a key. */
static void
run_env(struct masterd *md, const struct hook_job *job, char **env)
{
	static const char *const pass[] = {
		"HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ",
	};
	const char *path = getenv("PATH");
	char task[32];
	size_t n = 0;

	env_add(env, &n, "PATH", path != NULL ? path :
	    "/usr/local/bin:/usr/bin:/bin");
	for (size_t i = 0; i < nitems(pass); i++)
		env_add(env, &n, pass[i], getenv(pass[i]));
	for (size_t i = 0; i < md->conf->notify_env.n; i++)
		env_add(env, &n, md->conf->notify_env.v[i],
		    getenv(md->conf->notify_env.v[i]));
	snprintf(task, sizeof(task), "%lld", (long long)job->task);
	env_add(env, &n, "MASTERD_MOMENT", job->moment);
	env_add(env, &n, "MASTERD_TASK", task);
	env_add(env, &n, "MASTERD_SOCKET", md->conf->control_socket);
	env[n] = NULL;
}

static int
run_spawn(struct hooks *h, struct hook_run *r)
{
	struct masterd *md = h->md;
	char *args[] = { "/bin/sh", "-c", md->conf->notify_command, NULL };
	char *env[HOOK_ENV_MAX] = { 0 };
	uv_stdio_container_t stdio[3] = {
		{ .flags = UV_CREATE_PIPE | UV_READABLE_PIPE,
		  .data.stream = (uv_stream_t *)&r->in },
		{ .flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE,
		  .data.stream = (uv_stream_t *)&r->out },
		{ .flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE,
		  .data.stream = (uv_stream_t *)&r->err },
	};
	uv_process_options_t opt = {
		.exit_cb = on_hook_exit, .file = args[0], .args = args,
		.env = env, .cwd = "/", .stdio = stdio, .stdio_count = 3,
		.flags = UV_PROCESS_DETACHED,
	};
	int err;

	run_env(md, r->job, env);
	uv_pipe_init(md->loop, &r->in, 0);
	uv_pipe_init(md->loop, &r->out, 0);
	uv_pipe_init(md->loop, &r->err, 0);
	r->in.data = r->out.data = r->err.data = r->proc.data = r;
	err = uv_spawn(md->loop, &r->proc, &opt);
	for (size_t i = 0; env[i] != NULL; i++)
		free(env[i]);
	return err;
}

/* Start job as a run; false when it could not start (logged). */
static bool
run_start(struct hooks *h, struct hook_job *job)
{
	struct masterd *md = h->md;
	struct hook_run *r = xcalloc(1, sizeof(*r));
	uv_buf_t buf;
	int err;

	r->hooks = h;
	r->job = job;
	r->open_handles = 5;	/* in, out, err, proc, deadline */
	TAILQ_INSERT_TAIL(&h->running, r, entry);
	h->nrunning++;
	uv_timer_init(md->loop, &r->deadline);
	r->deadline.data = r;
	if ((err = run_spawn(h, r)) != 0) {
		log_warn("notify: cannot start the command for the %s of task "
		    "%lld: %s", job->moment, (long long)job->task,
		    uv_strerror(err));
		/* uv_spawn closes nothing it failed to start. */
		r->exited = true;
		run_close_handle(r, (uv_handle_t *)&r->out);
		run_close_handle(r, (uv_handle_t *)&r->err);
		run_close_handle(r, (uv_handle_t *)&r->in);
		run_close_handle(r, (uv_handle_t *)&r->proc);
		run_close_handle(r, (uv_handle_t *)&r->deadline);
		return false;
	}
	log_debug("notify: command for the %s of task %lld started, pid %d",
	    job->moment, (long long)job->task, r->proc.pid);
	uv_timer_start(&r->deadline, on_deadline,
	    (uint64_t)md->conf->notify_timeout, 0);
	uv_read_start((uv_stream_t *)&r->out, on_alloc, on_read);
	uv_read_start((uv_stream_t *)&r->err, on_alloc, on_read);
	buf = uv_buf_init(job->input, (unsigned)strlen(job->input));
	r->wr.data = r;
	/* The line and a newline, as one write of two buffers. */
	{
		uv_buf_t bufs[2] = { buf, uv_buf_init("\n", 1) };

		if (uv_write(&r->wr, (uv_stream_t *)&r->in, bufs, 2,
		    on_written) != 0)
			run_close_handle(r, (uv_handle_t *)&r->in);
	}
	return true;
}

static void
hooks_next(struct hooks *h)
{
	struct hook_job *job;

	while (h->nrunning < HOOKS_RUNNING && h->drained == NULL &&
	    (job = TAILQ_FIRST(&h->queued)) != NULL) {
		TAILQ_REMOVE(&h->queued, job, entry);
		h->nqueued--;
		run_start(h, job);
	}
}

/* ------------------------------------------------------------ stop */

void
hooks_drain(struct masterd *md, void (*drained)(struct masterd *))
{
	struct hooks *h = md->hooks;
	struct hook_job *job;

	if (h == NULL || (h->nrunning == 0 && h->nqueued == 0)) {
		drained(md);
		return;
	}
	while ((job = TAILQ_FIRST(&h->queued)) != NULL) {
		TAILQ_REMOVE(&h->queued, job, entry);
		h->nqueued--;
		log_warn("notify: stopping: the %s of task %lld is not told",
		    job->moment, (long long)job->task);
		job_free(job);
	}
	if (h->nrunning == 0) {
		drained(md);
		return;
	}
	log_info("notify: stopping: waiting for %zu command(s)", h->nrunning);
	h->drained = drained;
}

void
hooks_free(struct masterd *md)
{
	struct hooks *h = md->hooks;
	struct hook_job *job;
	struct hook_run *r;

	if (h == NULL)
		return;
	while ((job = TAILQ_FIRST(&h->queued)) != NULL) {
		TAILQ_REMOVE(&h->queued, job, entry);
		job_free(job);
	}
	/* After a forced stop: the loop has closed every handle. */
	while ((r = TAILQ_FIRST(&h->running)) != NULL) {
		TAILQ_REMOVE(&h->running, r, entry);
		job_free(r->job);
		free(r);
	}
	free(h);
	md->hooks = NULL;
}
