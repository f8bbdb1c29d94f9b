/*
 * checks.c — running a domain's check commands on a libuv loop.
 *
 * Each command is spawned as `self --exec-check OPTIONS -- COMMAND` (see
 * checkexec.c: the limits and the sandbox as options), detached into its
 * own session so that its process group id is its pid and kill(-pid)
 * reaches everything it started (the sandbox's PID namespace the rest).
 * Its environment is an allow-list (check_env).  Its stdout and stderr
 * are the write end of one pipe(2), so the output interleaves as a
 * terminal would show it; stdin is /dev/null; descriptor 3 is the report
 * pipe, on which the sandbox says why it could not be built.
 *
 * Why uv_pipe() and UV_INHERIT_FD rather than UV_CREATE_PIPE: libuv makes
 * a socketpair for UV_CREATE_PIPE, and a second container cannot name
 * that stream (UV_INHERIT_STREAM of a pipe not yet open fails with
 * EINVAL).  A socket would also break `>/dev/stderr` in build scripts
 * (ENXIO on Linux); a real pipe does not.
 *
 * A command is over when it has exited and its output reached EOF.  A
 * background process that keeps the pipe open after the shell is gone
 * gets GRACE_MS, then the group is killed and the pipe closed.  The group
 * is killed at the end of every command in any case: a check must not
 * leave processes behind.
 *
 * Output is kept in one buffer per command, bounded whatever the command
 * prints: the first half of output_max, a ring holding the latest second
 * half, and room between them for the note that replaces the middle.
 * The result is made valid UTF-8 (bad bytes and NULs become '?') since it
 * goes into JSON and into a model's prompt.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child/worker/checks.h"
#include "child/worker/sandbox.h"
#include "common/util.h"

#define GRACE_MS	200		/* after exit, for the pipe's EOF */
#define READ_CHUNK	65536
#define NOTE_MAX	64		/* "\n[... N bytes omitted ...]\n" + NUL */
#define EXIT_NOT_RUN	127		/* could not start, as a shell says */
#define REPORT_MAX	1024		/* why a sandbox could not be built */

struct capture {
	char *buf;		/* head | NOTE_MAX | tail ring | NUL */
	size_t head_cap;
	size_t head_len;
	size_t tail_cap;
	size_t tail_len;
	size_t tail_pos;	/* next write; the oldest byte once full */
	uint64_t total;
};

struct check_run {
	uv_loop_t *loop;
	char *self;
	char *cwd;
	struct check_limits lim;
	checks_done_fn *done_fn;
	void *arg;
	struct check_result *results;
	size_t n;
	size_t cur;		/* the command running, or results so far */

	uv_process_t proc;
	uv_pipe_t pipe;
	int report_fd;		/* read end of the sandbox's report pipe */
	uv_timer_t timeout;
	uv_timer_t grace;
	bool proc_open;		/* handles of the current command */
	bool pipe_open;
	bool active;		/* spawned, end_command not yet run */
	bool exited;
	bool eof;
	pid_t pgid;		/* 0 when none; tested > 1: never kill(-1) */
	uint64_t t0;
	struct capture cap;

	int closing;		/* uv_close callbacks to come */
	bool cancelled;
	bool finishing;
	char rbuf[READ_CHUNK];
};

static void next_command(struct check_run *);
static void read_report(struct check_run *, struct check_result *);
static void close_report(struct check_run *);

/* ------------------------------------------------------------ output */

static int
cap_init(struct capture *c, size_t max)
{
	memset(c, 0, sizeof(*c));
	c->head_cap = max / 2;
	c->tail_cap = max - c->head_cap;
	c->buf = malloc(max + NOTE_MAX + 1);
	return c->buf != NULL ? 0 : -1;
}

static char *
cap_ring(struct capture *c)
{
	return c->buf + c->head_cap + NOTE_MAX;
}

static void
cap_add(struct capture *c, const char *data, size_t len)
{
	size_t n, first;
	char *ring = cap_ring(c);

	c->total += len;
	n = c->head_cap - c->head_len;
	if (n > len)
		n = len;
	memcpy(c->buf + c->head_len, data, n);
	c->head_len += n;
	data += n;
	len -= n;
	if (len == 0 || c->tail_cap == 0)
		return;
	if (len >= c->tail_cap) {
		memcpy(ring, data + len - c->tail_cap, c->tail_cap);
		c->tail_pos = 0;
		c->tail_len = c->tail_cap;
		return;
	}
	first = c->tail_cap - c->tail_pos;
	if (first > len)
		first = len;
	memcpy(ring + c->tail_pos, data, first);
	memcpy(ring, data + first, len - first);
	c->tail_pos = (c->tail_pos + len) % c->tail_cap;
	c->tail_len = c->tail_len + len < c->tail_cap ? c->tail_len + len :
	    c->tail_cap;
}

static void
reverse(char *p, size_t len)
{
	char t;

	for (size_t i = 0, j = len; i + 1 < j; i++, j--) {
		t = p[i];
		p[i] = p[j - 1];
		p[j - 1] = t;
	}
}

/*
 * The kept output as one string: the head, the note if anything was
 * dropped, the tail in order.  The buffer passes to the caller.
 */
static char *
cap_finish(struct capture *c, bool *truncated)
{
	char *ring = cap_ring(c), *out = c->buf + c->head_len, *s;
	uint64_t dropped = c->total - c->head_len - c->tail_len;
	int len;

	/* Rotate the ring left by tail_pos: oldest byte first. */
	if (c->tail_len == c->tail_cap && c->tail_pos != 0) {
		reverse(ring, c->tail_pos);
		reverse(ring + c->tail_pos, c->tail_len - c->tail_pos);
		reverse(ring, c->tail_len);
	}
	*truncated = dropped > 0;
	if (dropped > 0) {
		len = snprintf(out, NOTE_MAX, "\n[... %llu bytes omitted ...]\n",
		    (unsigned long long)dropped);
		out += len > 0 ? len : 0;
	}
	memmove(out, ring, c->tail_len);
	out += c->tail_len;
	*out = '\0';
	utf8_scrub(c->buf, (size_t)(out - c->buf));
	s = xrealloc(c->buf, (size_t)(out - c->buf) + 1);
	c->buf = NULL;
	return s;
}

/* ------------------------------------------------------------ environment */

/* What every check gets, whatever the worker's environment holds. */
#define DEFAULT_PATH	"/usr/local/bin:/usr/bin:/bin"
#define SANDBOX_HOME	"/tmp"		/* the sandbox's private tmpfs */

/* NAME=value from our environment into env[*n], if it is set. */
static void
pass_on(char **env, size_t *n, const char *name)
{
	const char *v = getenv(name);

	if (v != NULL)
		env[(*n)++] = xasprintf("%s=%s", name, v);
}

/*
 * The allow-list: PATH, HOME and TMPDIR (the private /tmp in the
 * sandbox, the worker's own when it is off), LANG, and the names the
 * domain passes on purpose.  Nothing else: not a key, not a token, not
 * our settings, whatever they are called.
 */
static char **
check_env(const struct check_sandbox *sb)
{
	char **env = xcalloc(5 + sb->nenv + 1, sizeof(*env));
	size_t n = 0;

	if (getenv("PATH") != NULL)
		pass_on(env, &n, "PATH");
	else
		env[n++] = xstrdup("PATH=" DEFAULT_PATH);
	if (sb->off) {
		pass_on(env, &n, "HOME");
		pass_on(env, &n, "TMPDIR");
	} else {
		env[n++] = xstrdup("HOME=" SANDBOX_HOME);
		env[n++] = xstrdup("TMPDIR=" SANDBOX_HOME);
	}
	pass_on(env, &n, "LANG");
	for (size_t i = 0; i < sb->nenv; i++)
		pass_on(env, &n, sb->env[i]);
	return env;
}

static void
strv_free(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* ------------------------------------------------------------ argv */

static void
add_number(char **argv, size_t *n, const char *opt, uint64_t v)
{
	argv[(*n)++] = xstrdup(opt);
	argv[(*n)++] = xasprintf("%llu", (unsigned long long)v);
}

static void
add_list(char **argv, size_t *n, const char *opt, const char *const *v,
    size_t nv)
{
	for (size_t i = 0; i < nv; i++) {
		argv[(*n)++] = xstrdup(opt);
		argv[(*n)++] = xstrdup(v[i]);
	}
}

/* self --exec-check OPTIONS -- COMMAND, as checkexec.c reads it. */
static char **
check_argv(const struct check_run *run, const char *command)
{
	const struct check_limits *l = &run->lim;
	const struct check_sandbox *sb = &l->sandbox;
	const char *lacks = getenv(SANDBOX_LACKS_ENV);
	char **argv = xcalloc(2 + 2 + 10 + 2 * (sb->nread + sb->nhide) + 2 +
	    2 + 1, sizeof(*argv));
	size_t n = 0;

	argv[n++] = xstrdup(run->self);
	argv[n++] = xstrdup("--exec-check");
	if (sb->off)
		argv[n++] = xstrdup("--off");
	if (sb->network)
		argv[n++] = xstrdup("--network");
	add_number(argv, &n, "--cpu", l->cpu_seconds);
	add_number(argv, &n, "--memory", l->memory_bytes);
	add_number(argv, &n, "--processes", l->processes);
	add_number(argv, &n, "--file-size", l->file_size);
	add_number(argv, &n, "--tmp-size", l->tmp_size);
	add_list(argv, &n, "--read", sb->read, sb->nread);
	add_list(argv, &n, "--hide", sb->hide, sb->nhide);
	if (lacks != NULL && *lacks != '\0') {
		argv[n++] = xstrdup("--lacks");
		argv[n++] = xstrdup(lacks);
	}
	argv[n++] = xstrdup("--");
	argv[n++] = xstrdup(command);
	return argv;
}

/* checks_run's copy of the caller's lists, freed with the run. */
static const char *const *
strv_copy(const char *const *v, size_t n)
{
	char **c = xcalloc(n + 1, sizeof(*c));

	for (size_t i = 0; i < n; i++)
		c[i] = xstrdup(v[i]);
	return (const char *const *)c;
}

/* ------------------------------------------------------------ lifecycle */

static void
run_free(struct check_run *run)
{
	for (size_t i = 0; i < run->n; i++) {
		free(run->results[i].command);
		free(run->results[i].output);
	}
	free(run->results);
	free(run->self);
	free(run->cwd);
	strv_free((char **)run->lim.sandbox.read);
	strv_free((char **)run->lim.sandbox.hide);
	strv_free((char **)run->lim.sandbox.env);
	free(run);
}

/* Everything is closed: report, then the run is gone. */
static void
run_done(struct check_run *run)
{
	bool all = !run->cancelled;

	for (size_t i = 0; i < run->cur; i++)
		all = all && run->results[i].passed;
	if (run->done_fn != NULL)
		run->done_fn(run->results, run->cur, all, run->cancelled,
		    run->arg);
	run_free(run);
}

static void
on_closed(uv_handle_t *h)
{
	struct check_run *run = h->data;

	if (--run->closing > 0)
		return;
	if (run->finishing) {
		run_done(run);
		return;
	}
	run->cur++;
	next_command(run);
}

static void
close_handle(struct check_run *run, uv_handle_t *h)
{
	h->data = run;
	run->closing++;
	uv_close(h, on_closed);
}

/* Close the current command's handles; on_closed moves on. */
static void
close_command(struct check_run *run)
{
	if (run->pipe_open)
		close_handle(run, (uv_handle_t *)&run->pipe);
	if (run->proc_open)
		close_handle(run, (uv_handle_t *)&run->proc);
	run->pipe_open = run->proc_open = false;
	if (run->closing == 0) {
		run->cur++;
		next_command(run);
	}
}

static void
finish(struct check_run *run)
{
	run->finishing = true;
	close_handle(run, (uv_handle_t *)&run->timeout);
	close_handle(run, (uv_handle_t *)&run->grace);
}

/* The command could not start: say why, as its output. */
static void
not_run(struct check_run *run, int err)
{
	struct check_result *r = &run->results[run->cur];
	char text[1024];

	snprintf(text, sizeof(text), "masterd-child: cannot run the check "
	    "(%s --exec-check in %s): %s\n", run->self,
	    run->cwd != NULL ? run->cwd : ".", uv_strerror(err));
	free(r->output);
	r->output = xstrdup(text);
	r->exit_status = EXIT_NOT_RUN;
	r->passed = false;
	free(run->cap.buf);
	run->cap.buf = NULL;
}

static void
end_command(struct check_run *run)
{
	struct check_result *r = &run->results[run->cur];

	run->active = false;
	close_report(run);
	uv_timer_stop(&run->timeout);
	uv_timer_stop(&run->grace);
	/* Whatever is left of the group (background jobs, a process that
	 * held the pipe) goes with the command. */
	if (run->pgid > 1)
		(void)kill(-run->pgid, SIGKILL);
	run->pgid = 0;
	r->duration_ms = (uv_hrtime() - run->t0) / 1000000;
	r->passed = r->exit_status == 0 && r->term_signal == 0 &&
	    !r->timed_out && !run->cancelled;
	r->output = cap_finish(&run->cap, &r->truncated);
	close_command(run);
}

/* ------------------------------------------------------------ callbacks */

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct check_run *run = h->data;

	(void)hint;
	*buf = uv_buf_init(run->rbuf, sizeof(run->rbuf));
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct check_run *run = s->data;

	if (nread > 0) {
		cap_add(&run->cap, buf->base, (size_t)nread);
		return;
	}
	if (nread == 0)
		return;
	/* EOF or a read error: either way there is no more output. */
	uv_read_stop(s);
	run->eof = true;
	if (run->active && run->exited)
		end_command(run);
}

static void
on_grace(uv_timer_t *t)
{
	struct check_run *run = t->data;

	if (run->active)
		end_command(run);
}

static void
on_proc_exit(uv_process_t *p, int64_t status, int signum)
{
	struct check_run *run = p->data;
	struct check_result *r = &run->results[run->cur];

	run->exited = true;
	r->exit_status = signum != 0 ? -1 : (int)status;
	r->term_signal = signum;
	read_report(run, r);
	uv_timer_stop(&run->timeout);
	if (run->eof || run->cancelled)
		end_command(run);
	else
		uv_timer_start(&run->grace, on_grace, GRACE_MS, 0);
}

static void
on_timeout(uv_timer_t *t)
{
	struct check_run *run = t->data;

	run->results[run->cur].timed_out = true;
	if (run->pgid > 1)
		(void)kill(-run->pgid, SIGKILL);
}

/* ------------------------------------------------------------ spawning */

static int
open_output(struct check_run *run, uv_file fds[2])
{
	int err;

	if ((err = uv_pipe(fds, 0, 0)) != 0)
		return err;
	uv_pipe_init(run->loop, &run->pipe, 0);
	run->pipe.data = run;
	run->pipe_open = true;
	if ((err = uv_pipe_open(&run->pipe, fds[0])) != 0) {
		close(fds[0]);
		close(fds[1]);
	}
	return err;
}

static int
spawn(struct check_run *run, uv_file out, uv_file report)
{
	uv_process_options_t o = { 0 };
	uv_stdio_container_t stdio[4];
	char **args, **env;
	int err;

	args = check_argv(run, run->results[run->cur].command);
	env = check_env(&run->lim.sandbox);
	stdio[0].flags = UV_IGNORE;		/* /dev/null */
	stdio[1].flags = UV_INHERIT_FD;
	stdio[1].data.fd = out;
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = out;
	stdio[3].flags = UV_INHERIT_FD;		/* SANDBOX_REPORT_FD */
	stdio[3].data.fd = report;
	o.exit_cb = on_proc_exit;
	o.file = run->self;
	o.args = args;
	o.env = env;
	o.cwd = run->cwd;
	o.flags = UV_PROCESS_DETACHED;
	o.stdio_count = 4;
	o.stdio = stdio;
	err = uv_spawn(run->loop, &run->proc, &o);
	/* Initialised even when the spawn failed: it must be closed. */
	run->proc.data = run;
	run->proc_open = true;
	strv_free(args);
	strv_free(env);
	return err;
}

/* The report pipe: its read end ours, non-blocking, read at exit. */
static int
open_report(struct check_run *run, uv_file fds[2])
{
	int err;

	if ((err = uv_pipe(fds, UV_NONBLOCK_PIPE, 0)) != 0)
		return err;
	run->report_fd = fds[0];
	return 0;
}

static void
close_report(struct check_run *run)
{
	if (run->report_fd >= 0)
		close(run->report_fd);
	run->report_fd = -1;
}

/*
 * Whatever the sandbox said before the command could run.  Every writer
 * is gone by the time the --exec-check process has exited (the command
 * had it closed at exec), so one read sees it all.
 */
static void
read_report(struct check_run *run, struct check_result *r)
{
	char buf[REPORT_MAX];
	ssize_t n;

	if (run->report_fd < 0)
		return;
	while ((n = read(run->report_fd, buf, sizeof(buf) - 1)) < 0 &&
	    errno == EINTR)
		;
	close_report(run);
	if (n <= 0)
		return;
	/* The same line went to stderr, into the output. */
	r->sandbox_failed = true;
}

/*
 * Start results[cur].  0: callbacks carry on from here (even when the
 * start failed after a handle existed); -1: recorded as not run, no
 * handle to wait for.
 */
static int
start_command(struct check_run *run)
{
	struct check_result *r = &run->results[run->cur];
	uv_file fds[2], report[2];
	int err;

	run->exited = run->eof = false;
	run->t0 = uv_hrtime();
	if (cap_init(&run->cap, run->lim.output_max) != 0) {
		not_run(run, UV_ENOMEM);
		return -1;
	}
	if ((err = open_output(run, fds)) != 0)
		goto fail;
	if ((err = open_report(run, report)) != 0) {
		close(fds[1]);
		goto fail;
	}
	err = spawn(run, fds[1], report[1]);
	/* Ours closed, only the command holds the write ends: its EOF. */
	close(fds[1]);
	close(report[1]);
	if (err != 0)
		goto fail;
	run->active = true;
	run->pgid = run->proc.pid;
	if (uv_read_start((uv_stream_t *)&run->pipe, on_alloc, on_read) != 0)
		run->eof = true;
	if (run->lim.timeout_ms > 0)
		uv_timer_start(&run->timeout, on_timeout, run->lim.timeout_ms,
		    0);
	return 0;

fail:
	close_report(run);
	not_run(run, err);
	r->duration_ms = (uv_hrtime() - run->t0) / 1000000;
	if (!run->pipe_open && !run->proc_open)
		return -1;
	close_command(run);
	return 0;
}

static void
next_command(struct check_run *run)
{
	while (run->cur < run->n && !run->cancelled) {
		if (start_command(run) == 0)
			return;
		run->cur++;
	}
	finish(run);
}

/* ------------------------------------------------------------ interface */

struct check_run *
checks_run(uv_loop_t *loop, const char *self, const char *cwd,
    char *const *commands, size_t n, const struct check_limits *lim,
    checks_done_fn *done_fn, void *arg)
{
	static const struct check_limits defaults = CHECK_LIMITS_DEFAULT;
	struct check_run *run;

	if (loop == NULL || self == NULL || (commands == NULL && n > 0))
		return NULL;
	if (lim == NULL)
		lim = &defaults;
	if (lim->output_max > SIZE_MAX / 2)
		return NULL;
	run = xcalloc(1, sizeof(*run));
	run->results = xcalloc(n > 0 ? n : 1, sizeof(*run->results));
	run->self = xstrdup(self);
	run->cwd = cwd != NULL ? xstrdup(cwd) : NULL;
	for (size_t i = 0; i < n; i++)
		run->results[i].command = xstrdup(commands[i]);
	run->loop = loop;
	run->n = n;
	run->lim = *lim;
	run->lim.sandbox.read = strv_copy(lim->sandbox.read, lim->sandbox.nread);
	run->lim.sandbox.hide = strv_copy(lim->sandbox.hide, lim->sandbox.nhide);
	run->lim.sandbox.env = strv_copy(lim->sandbox.env, lim->sandbox.nenv);
	run->report_fd = -1;
	run->done_fn = done_fn;
	run->arg = arg;
	uv_timer_init(loop, &run->timeout);
	uv_timer_init(loop, &run->grace);
	run->timeout.data = run->grace.data = run;
	/* Nothing completes synchronously: done_fn comes from a callback. */
	next_command(run);
	return run;
}

void
checks_cancel(struct check_run *run)
{
	if (run == NULL || run->cancelled || run->finishing)
		return;
	run->cancelled = true;
	if (!run->active)
		return;		/* between commands: next_command stops */
	if (run->exited) {
		end_command(run);	/* was waiting for the pipe */
		return;
	}
	if (run->pgid > 1)
		(void)kill(-run->pgid, SIGKILL);
}

/* s as a JSON string, made valid UTF-8 if it is not. */
static json_t *
text_json(const char *s)
{
	json_t *j;
	char *copy;

	if (s == NULL)
		return json_string("");
	if ((j = json_string(s)) != NULL)
		return j;		/* NULL: not valid UTF-8 */
	copy = xstrdup(s);
	utf8_scrub(copy, strlen(copy));
	j = json_string(copy);
	free(copy);
	return j;
}

static json_t *
result_json(const struct check_result *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "command", text_json(r->command));
	json_object_set_new(o, "passed", json_boolean(r->passed));
	json_object_set_new(o, "exit_status", json_integer(r->exit_status));
	json_object_set_new(o, "signal", json_integer(r->term_signal));
	json_object_set_new(o, "timed_out", json_boolean(r->timed_out));
	json_object_set_new(o, "duration_ms",
	    json_integer((json_int_t)r->duration_ms));
	json_object_set_new(o, "output", text_json(r->output));
	json_object_set_new(o, "truncated", json_boolean(r->truncated));
	return o;
}

json_t *
check_results_json(const struct check_result *r, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, result_json(&r[i]));
	return a;
}
