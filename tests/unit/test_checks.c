/*
 * test_checks.c — check commands (child/worker/checks.c, child/worker/checkexec.c) run
 * for real on a libuv loop.
 *
 * Exit statuses and output ("hello\n" exactly), several commands reported
 * in order, stdout and stderr interleaved in one stream (/dev/stderr
 * usable), stdin on /dev/null, the working directory, a command that
 * cannot start; the wall-clock timeout killing the whole group, the CPU
 * and address-space limits; output trimmed to head + note + tail (50 MB
 * through a 4 KiB budget, exact boundaries, an odd budget, a zero one),
 * bytes that are not UTF-8; a background process holding the pipe open
 * after the shell exited, and one that does not (both gone afterwards);
 * secrets kept out of the environment; cancellation mid-command, at once,
 * twice; an empty run; the JSON shape; --exec-check's argument checks.
 *
 * The commands run through masterd-worker --exec-check: $MASTERD_WORKER_BIN
 * if set, else $BUILD/masterd-worker ($BUILD as tests/run sets it, under
 * $MASTERD_TOP when relative; "build" by default).  Tests that need it
 * fail when it is missing or does not know --exec-check.
 *
 * No fixed sleeps: each test drives its own loop until done_fn, under a
 * generous watchdog; waits for a process to die poll with a deadline.
 */
#include "testutil.h"

#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include <jansson.h>
#include <uv.h>

#include "child/worker/checks.h"
#include "child/worker/sandbox.h"

#define MAXR		8
#define WATCHDOG_MS	60000
#define DEATH_MS	10000
#define NOTE_SLACK	64

extern char **environ;

/* ------------------------------------------------------------ helpers */

/* Does bin run `--exec-check -- 'exit 0'` and exit 0? */
static bool
supports_exec_check(const char *bin)
{
	char *argv[] = { (char *)bin, "--exec-check", "--",
	    "exit 0", NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st, rc;

	if (access(bin, X_OK) != 0)
		return false;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawn(&pid, bin, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return false;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* masterd-worker, which runs the checks with --exec-check.  tests/run
 * builds it first, so a missing one is a failure, not a skip. */
static const char *
child_bin(void)
{
	static char path[PATH_MAX];
	static int state;	/* 0 unknown, 1 usable, -1 not */
	const char *env = getenv("MASTERD_WORKER_BIN");
	const char *build = getenv("BUILD");
	const char *top = getenv("MASTERD_TOP");

	if (state == 0) {
		if (env != NULL && *env != '\0')
			snprintf(path, sizeof(path), "%s", env);
		else {
			if (build == NULL || *build == '\0')
				build = "build";
			if (*build == '/' || top == NULL || *top == '\0')
				snprintf(path, sizeof(path), "%s/masterd-worker",
				    build);
			else
				snprintf(path, sizeof(path),
				    "%s/%s/masterd-worker", top, build);
		}
		state = supports_exec_check(path) ? 1 : -1;
	}
	if (state < 0)
		fail_msg("%s is missing or has no --exec-check (build it, or "
		    "set MASTERD_WORKER_BIN)", path);
	return path;
}

/*
 * Gone: no such process, or a zombie.  An orphan is reparented to init,
 * which in a container may never reap it, so a killed grandchild can
 * linger as a zombie; it holds nothing and runs nothing.
 */
static bool
pid_gone(pid_t pid)
{
	char path[64], *stat, *p;
	bool zombie;

	if (kill(pid, 0) != 0 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((stat = tu_read_file(path)) == NULL)
		return kill(pid, 0) != 0;
	p = strrchr(stat, ')');
	zombie = p != NULL && p[1] == ' ' && p[2] == 'Z';
	free(stat);
	return zombie;
}

static void
assert_gone(pid_t pid)
{
	uint64_t deadline = tu_mono_ms() + DEATH_MS;

	while (!pid_gone(pid) && tu_mono_ms() < deadline)
		tu_pause_ms(10);
	assert_true(pid_gone(pid));
}

static pid_t
read_pid(const char *file)
{
	char *text = tu_read_file(file);
	long pid;

	assert_non_null(text);
	pid = strtol(text, NULL, 10);
	free(text);
	assert_true(pid > 1);
	return (pid_t)pid;
}

/* The limits a check runs under; ms 0 and max 0 are values too. */
static struct check_limits
limits(uint64_t timeout_ms, size_t output_max)
{
	struct check_limits lim = CHECK_LIMITS_DEFAULT;

	lim.timeout_ms = timeout_ms;
	lim.output_max = output_max;
	return lim;
}

/* ------------------------------------------------------------ driver */

struct drive {
	uv_loop_t loop;
	uv_timer_t watchdog;
	uv_timer_t poll;
	struct check_run *run;
	const char *cancel_file;	/* cancel once it holds a line */
	bool returned;			/* checks_run has returned */
	bool early;			/* done_fn before that */
	bool fired;			/* the watchdog */
	int calls;
	bool all;
	bool cancelled;
	size_t n;
	struct check_result r[MAXR];
	json_t *json;
	uint64_t t_start;
	uint64_t t_cancel;
	uint64_t t_done;
};

static void
on_done(const struct check_result *results, size_t n, bool all,
    bool cancelled, void *arg)
{
	struct drive *d = arg;

	d->calls++;
	d->early = !d->returned;
	d->all = all;
	d->cancelled = cancelled;
	d->n = n;
	d->t_done = tu_mono_ms();
	for (size_t i = 0; i < n && i < MAXR; i++) {
		d->r[i] = results[i];
		d->r[i].command = strdup(results[i].command);
		d->r[i].output = results[i].output != NULL ?
		    strdup(results[i].output) : NULL;
	}
	d->json = check_results_json(results, n);
	uv_close((uv_handle_t *)&d->watchdog, NULL);
	uv_close((uv_handle_t *)&d->poll, NULL);
}

static void
on_watchdog(uv_timer_t *t)
{
	struct drive *d = t->data;

	d->fired = true;
	checks_cancel(d->run);
}

static void
on_poll(uv_timer_t *t)
{
	struct drive *d = t->data;
	char *text;

	if (d->t_cancel != 0 || (text = tu_read_file(d->cancel_file)) == NULL)
		return;
	if (strchr(text, '\n') != NULL) {
		d->t_cancel = tu_mono_ms();
		checks_cancel(d->run);
		checks_cancel(d->run);	/* twice is harmless */
	}
	free(text);
}

static void
drive_start(struct drive *d, const char *self, const char *cwd,
    char *const *cmds, size_t n, const struct check_limits *lim)
{
	assert_int_equal(uv_loop_init(&d->loop), 0);
	uv_timer_init(&d->loop, &d->watchdog);
	uv_timer_init(&d->loop, &d->poll);
	d->watchdog.data = d->poll.data = d;
	uv_timer_start(&d->watchdog, on_watchdog, WATCHDOG_MS, 0);
	if (d->cancel_file != NULL)
		uv_timer_start(&d->poll, on_poll, 5, 5);
	d->t_start = tu_mono_ms();
	d->run = checks_run(&d->loop, self, cwd, cmds, n, lim, on_done, d);
	d->returned = true;
	assert_non_null(d->run);
}

static void
drive_finish(struct drive *d)
{
	uv_run(&d->loop, UV_RUN_DEFAULT);
	assert_false(d->fired);
	assert_int_equal(d->calls, 1);
	assert_false(d->early);
	assert_non_null(d->json);
	/* Every handle the runner made is closed. */
	assert_int_equal(uv_loop_close(&d->loop), 0);
}

static void
drive(struct drive *d, const char *cwd, char *const *cmds, size_t n,
    const struct check_limits *lim)
{
	drive_start(d, child_bin(), cwd, cmds, n, lim);
	drive_finish(d);
}

static void
drive_free(struct drive *d)
{
	for (size_t i = 0; i < d->n && i < MAXR; i++) {
		free(d->r[i].command);
		free(d->r[i].output);
	}
	json_decref(d->json);
}

/* One command, default limits but the timeout and output budget. */
static void
run1(struct drive *d, const char *cmd, uint64_t timeout_ms, size_t out_max)
{
	struct check_limits lim = limits(timeout_ms, out_max);
	char *cmds[] = { (char *)cmd };

	memset(d, 0, sizeof(*d));
	drive(d, NULL, cmds, 1, &lim);
	assert_int_equal(d->n, 1);
	assert_string_equal(d->r[0].command, cmd);
	assert_non_null(d->r[0].output);
}

/* One command under the limits given. */
static void
run_lim(struct drive *d, const char *cmd, const struct check_limits *lim)
{
	char *cmds[] = { (char *)cmd };

	memset(d, 0, sizeof(*d));
	drive(d, NULL, cmds, 1, lim);
	assert_int_equal(d->n, 1);
	assert_string_equal(d->r[0].command, cmd);
	assert_non_null(d->r[0].output);
}

/*
 * Run the command fmt makes of a pid file's path (its one %s) in a new
 * temporary directory (dir; the caller removes it), as the only check;
 * returns the pid the command wrote there.
 */
static pid_t
run_pidfile(struct drive *d, char *dir, size_t len, const char *fmt,
    uint64_t timeout_ms)
{
	char pidfile[PATH_MAX], cmd[PATH_MAX + 64];
	struct check_limits lim = limits(timeout_ms, 4096);

	tu_mkdtemp(dir, len);
	tu_join(pidfile, sizeof(pidfile), dir, "pid");
	snprintf(cmd, sizeof(cmd), fmt, pidfile);
	/* Unconfined: these watch the runner's own killing through a host
	 * pid written to the host's /tmp, which the sandbox hides.  The
	 * sandbox's killing is test_sandbox_setsid's. */
	lim.sandbox.off = true;
	run_lim(d, cmd, &lim);
	return read_pid(pidfile);
}

/* cmd alone, in time, passes; its output is exactly want. */
static void
expect_output(const char *cmd, const char *want)
{
	struct drive d;

	run1(&d, cmd, 30000, 4096);
	assert_false(d.r[0].timed_out);
	assert_true(d.r[0].passed);
	assert_string_equal(d.r[0].output, want);
	drive_free(&d);
}

/* ------------------------------------------------------------ basics */

static void
test_pass(void **state)
{
	struct drive d;

	run1(&d, "echo hello", 30000, 4096);
	assert_true(d.all);
	assert_false(d.cancelled);
	assert_true(d.r[0].passed);
	assert_int_equal(d.r[0].exit_status, 0);
	assert_int_equal(d.r[0].term_signal, 0);
	assert_false(d.r[0].timed_out);
	assert_false(d.r[0].truncated);
	assert_string_equal(d.r[0].output, "hello\n");
	assert_true(d.r[0].duration_ms < WATCHDOG_MS);
	drive_free(&d);
}

static void
test_fail(void **state)
{
	struct drive d;

	run1(&d, "echo failing; exit 3", 30000, 4096);
	assert_false(d.all);
	assert_false(d.r[0].passed);
	assert_string_equal(d.r[0].output, "failing\n");
	assert_int_equal(d.r[0].exit_status, 3);
	assert_int_equal(d.r[0].term_signal, 0);
	assert_false(d.r[0].timed_out);
	drive_free(&d);
}

static void
test_order(void **state)
{
	char *cmds[] = { "echo one", "echo two; exit 2", "echo three >&2",
	    "true" };
	struct check_limits lim = limits(30000, 4096);
	struct drive d = { 0 };

	drive(&d, NULL, cmds, 4, &lim);
	assert_int_equal(d.n, 4);
	assert_false(d.all);
	assert_false(d.cancelled);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(d.r[i].command, cmds[i]);
	assert_string_equal(d.r[0].output, "one\n");
	assert_string_equal(d.r[1].output, "two\n");
	assert_string_equal(d.r[2].output, "three\n");
	assert_string_equal(d.r[3].output, "");
	assert_true(d.r[0].passed);
	assert_false(d.r[1].passed);
	assert_int_equal(d.r[1].exit_status, 2);
	assert_true(d.r[2].passed);
	assert_true(d.r[3].passed);
	drive_free(&d);
}

static void
test_all_pass(void **state)
{
	char *cmds[] = { "true", "echo ok" };
	struct check_limits lim = limits(30000, 4096);
	struct drive d = { 0 };

	drive(&d, NULL, cmds, 2, &lim);
	assert_int_equal(d.n, 2);
	assert_true(d.all);
	drive_free(&d);
}

static void
test_interleaved(void **state)
{
	/* /dev/stderr works only when it is a pipe, not a socket. */
	expect_output("echo out; echo err >&2; echo out2; "
	    "printf x >/dev/stderr; echo y >/dev/stdout",
	    "out\nerr\nout2\nxy\n");
}

static void
test_stdin_null(void **state)
{
	expect_output("cat; echo rc=$?; test -c /dev/stdin && echo chr",
	    "rc=0\nchr\n");
}

static void
test_cwd(void **state)
{
	char dir[PATH_MAX], real[PATH_MAX], want[PATH_MAX + 2];
	char *cmds[] = { "pwd -P" };
	struct check_limits lim = limits(30000, 4096);
	struct drive d = { 0 };

	tu_mkdtemp(dir, sizeof(dir));
	assert_non_null(realpath(dir, real));
	snprintf(want, sizeof(want), "%s\n", real);
	drive(&d, dir, cmds, 1, &lim);
	if (!d.r[0].passed)
		print_message("exit %d signal %d output [%s]\n",
		    d.r[0].exit_status, d.r[0].term_signal, d.r[0].output);
	assert_true(d.r[0].passed);
	assert_string_equal(d.r[0].output, want);
	drive_free(&d);
	tu_rmtree(dir);
}

/* A missing directory: each command is reported as not run, 127. */
static void
test_cwd_missing(void **state)
{
	char dir[PATH_MAX], gone[PATH_MAX];
	char *cmds[] = { "echo a", "echo b" };
	struct check_limits lim = limits(30000, 4096);
	struct drive d = { 0 };

	tu_mkdtemp(dir, sizeof(dir));
	tu_join(gone, sizeof(gone), dir, "no-such-dir");
	drive(&d, gone, cmds, 2, &lim);
	assert_int_equal(d.n, 2);
	assert_false(d.all);
	for (size_t i = 0; i < 2; i++) {
		assert_false(d.r[i].passed);
		assert_int_equal(d.r[i].exit_status, 127);
		assert_non_null(strstr(d.r[i].output, "cannot run"));
	}
	drive_free(&d);
	tu_rmtree(dir);
}

/* A masterd-worker that is not there: the same, without the binary. */
static void
test_self_missing(void **state)
{
	char *cmds[] = { "echo a" };
	struct check_limits lim = limits(30000, 4096);
	struct drive d = { 0 };

	drive_start(&d, "/nonexistent/masterd-worker", NULL, cmds, 1, &lim);
	drive_finish(&d);
	assert_int_equal(d.n, 1);
	assert_false(d.all);
	assert_false(d.r[0].passed);
	assert_int_equal(d.r[0].exit_status, 127);
	assert_non_null(strstr(d.r[0].output, "cannot run"));
	drive_free(&d);
}

/* ------------------------------------------------------------ limits */

static void
test_timeout(void **state)
{
	char dir[PATH_MAX];
	struct drive d;
	pid_t left;

	left = run_pidfile(&d, dir, sizeof(dir),
	    "sh -c 'sleep 30 & echo $! >%s; sleep 30'", 300);
	assert_true(d.r[0].timed_out);
	assert_false(d.r[0].passed);
	assert_false(d.all);
	assert_int_equal(d.r[0].exit_status, -1);
	assert_int_equal(d.r[0].term_signal, SIGKILL);
	assert_true(d.r[0].duration_ms >= 250);
	assert_true(d.t_done - d.t_start < 20000);
	assert_gone(left);
	drive_free(&d);
	tu_rmtree(dir);
}

static void
test_cpu_limit(void **state)
{
	struct check_limits lim = limits(WATCHDOG_MS / 2, 4096);
	char *cmds[] = { "while :; do :; done" };
	struct drive d = { 0 };

	lim.cpu_seconds = 1;
	drive(&d, NULL, cmds, 1, &lim);
	assert_false(d.r[0].timed_out);
	assert_false(d.r[0].passed);
	assert_int_equal(d.r[0].exit_status, -1);
	assert_true(d.r[0].term_signal == SIGKILL ||
	    d.r[0].term_signal == SIGXCPU);
	drive_free(&d);
}

static void
test_memory_limit(void **state)
{
	struct check_limits lim = limits(WATCHDOG_MS / 2, 4096);
	char *cmds[] = { "python3 -c 'x = bytearray(1 << 30); "
	    "print(\"allocated\")'" };
	struct drive d = { 0 };

	(void)child_bin();
	if (!tu_on_path("python3")) {
		print_message("no python3: skipping the memory limit test\n");
		skip();
	}
	lim.memory_bytes = 64ull << 20;
	/* Unconfined: python3 may live in a home (pyenv) the sandbox does
	 * not show; the rlimits are the same code in both modes. */
	lim.sandbox.off = true;
	drive(&d, NULL, cmds, 1, &lim);
	assert_false(d.r[0].passed);
	assert_false(d.r[0].timed_out);
	assert_null(strstr(d.r[0].output, "allocated"));
	assert_non_null(strstr(d.r[0].output, "MemoryError"));
	drive_free(&d);
}

/* ------------------------------------------------------------ output */

static void
assert_all_y(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		assert_int_equal(s[i], i % 2 == 0 ? 'y' : '\n');
}

static void
test_trim_50mb(void **state)
{
	const char *note = "\n[... 49995904 bytes omitted ...]\n";
	struct rusage before, after;
	struct drive d;
	size_t len;

	getrusage(RUSAGE_SELF, &before);
	run1(&d, "yes | head -c 50000000", WATCHDOG_MS / 2, 4096);
	getrusage(RUSAGE_SELF, &after);
	assert_true(d.r[0].passed);
	assert_true(d.r[0].truncated);
	len = strlen(d.r[0].output);
	assert_true(len <= 4096 + NOTE_SLACK);
	assert_int_equal(len, 4096 + strlen(note));
	assert_all_y(d.r[0].output, 2048);
	assert_memory_equal(d.r[0].output + 2048, note, strlen(note));
	assert_all_y(d.r[0].output + 2048 + strlen(note), 2048);
	/* 50 MB went through; the peak did not grow by anything like it. */
	assert_true(after.ru_maxrss - before.ru_maxrss < 32 * 1024);
	drive_free(&d);
}

/* seq's output through a 1000-byte budget: exact head and tail. */
static void
test_trim_exact(void **state)
{
	char *all, note[64];
	size_t len = 0, cap = 2000000, dropped;
	struct drive d;
	int n;

	all = malloc(cap);
	assert_non_null(all);
	for (int i = 1; i <= 200000; i++) {
		n = snprintf(all + len, cap - len, "%d\n", i);
		len += (size_t)n;
	}
	run1(&d, "seq 1 200000", WATCHDOG_MS / 2, 1000);
	dropped = len - 1000;
	snprintf(note, sizeof(note), "\n[... %zu bytes omitted ...]\n",
	    dropped);
	assert_true(d.r[0].truncated);
	assert_int_equal(strlen(d.r[0].output), 1000 + strlen(note));
	assert_memory_equal(d.r[0].output, all, 500);
	assert_memory_equal(d.r[0].output + 500, note, strlen(note));
	assert_string_equal(d.r[0].output + 500 + strlen(note),
	    all + len - 500);
	free(all);
	drive_free(&d);
}

static void
test_trim_bounds(void **state)
{
	struct drive d;

	/* Exactly the budget: nothing dropped. */
	run1(&d, "head -c 1000 /dev/zero | tr '\\0' a", 30000, 1000);
	assert_false(d.r[0].truncated);
	assert_int_equal(strlen(d.r[0].output), 1000);
	assert_int_equal(strspn(d.r[0].output, "a"), 1000);
	drive_free(&d);

	/* One byte over. */
	run1(&d, "head -c 1001 /dev/zero | tr '\\0' a", 30000, 1000);
	assert_true(d.r[0].truncated);
	assert_int_equal(strlen(d.r[0].output), 1000 + 27);
	assert_int_equal(strspn(d.r[0].output, "a"), 500);
	assert_memory_equal(d.r[0].output + 500,
	    "\n[... 1 bytes omitted ...]\n", 27);
	assert_int_equal(strspn(d.r[0].output + 527, "a"), 500);
	drive_free(&d);

	/* An odd budget: 3 bytes of head, 4 of tail. */
	run1(&d, "printf abcdefghij", 30000, 7);
	assert_true(d.r[0].truncated);
	assert_string_equal(d.r[0].output,
	    "abc\n[... 3 bytes omitted ...]\nghij");
	drive_free(&d);

	/* No budget: only the note. */
	run1(&d, "echo hi", 30000, 0);
	assert_true(d.r[0].truncated);
	assert_string_equal(d.r[0].output, "\n[... 3 bytes omitted ...]\n");
	drive_free(&d);

	/* Small writes that wrap the ring many times. */
	run1(&d, "i=0; while [ $i -lt 300 ]; do printf '%03d' $i; "
	    "i=$((i + 1)); done", 30000, 10);
	assert_true(d.r[0].truncated);
	assert_string_equal(d.r[0].output,
	    "00000\n[... 890 bytes omitted ...]\n98299");
	drive_free(&d);
}

static void
test_not_utf8(void **state)
{
	expect_output("printf 'a\\377b\\000c\\303\\251\\355\\240\\200\\n'",
	    "a?b?c\xc3\xa9???\n");
}

/* ------------------------------------------------------------ processes */

static void
test_pipe_held_open(void **state)
{
	char dir[PATH_MAX];
	struct drive d;
	pid_t left;

	left = run_pidfile(&d, dir, sizeof(dir), "sh -c 'sleep 30 >/dev/stdout "
	    "& echo $! >%s; echo done'", WATCHDOG_MS / 2);
	assert_true(d.r[0].passed);
	assert_false(d.r[0].timed_out);
	assert_string_equal(d.r[0].output, "done\n");
	assert_true(d.t_done - d.t_start < 10000);
	assert_gone(left);
	drive_free(&d);
	tu_rmtree(dir);
}

/* A background job that let go of the pipe still goes with the check. */
static void
test_no_leftovers(void **state)
{
	char dir[PATH_MAX];
	struct drive d;
	pid_t left;

	left = run_pidfile(&d, dir, sizeof(dir),
	    "sleep 30 >/dev/null 2>&1 & echo $! >%s", WATCHDOG_MS / 2);
	assert_true(d.r[0].passed);
	assert_true(d.t_done - d.t_start < 10000);
	assert_gone(left);
	drive_free(&d);
	tu_rmtree(dir);
}

/* The allow-list: what a check sees of the worker's environment. */
static void
test_secrets(void **state)
{
	static const char *const secret[] = { "OPENAI_API_KEY",
	    "GITHUB_TOKEN", "MASTERD_TEST_SECRET", "CREDENTIALS_DIRECTORY",
	    "anthropic_api_key", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL" };
	static const char *const passed[] = { "PROJECT_FLAVOUR" };
	struct check_limits lim = CHECK_LIMITS_DEFAULT;
	struct drive d;
	size_t i;

	(void)state;
	(void)child_bin();
	for (i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
		assert_int_equal(setenv(secret[i], "sk-do-not-leak-4f2a", 1),
		    0);
	setenv("PROJECT_FLAVOUR", "yes-visible", 1);
	setenv("LANG", "C.UTF-8", 1);
	lim.sandbox.env = passed;
	lim.sandbox.nenv = 1;
	run_lim(&d, "env", &lim);
	for (i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
		unsetenv(secret[i]);
	unsetenv("PROJECT_FLAVOUR");
	assert_true(d.r[0].passed);
	assert_null(strstr(d.r[0].output, "sk-do-not-leak"));
	for (i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
		assert_null(strstr(d.r[0].output, secret[i]));
	assert_non_null(strstr(d.r[0].output, "PROJECT_FLAVOUR=yes-visible"));
	assert_non_null(strstr(d.r[0].output, "PATH="));
	assert_non_null(strstr(d.r[0].output, "HOME=/tmp"));
	assert_non_null(strstr(d.r[0].output, "TMPDIR=/tmp"));
	assert_non_null(strstr(d.r[0].output, "LANG=C.UTF-8"));
	drive_free(&d);
}

/* ------------------------------------------------------------ cancel */

static void
test_cancel(void **state)
{
	char dir[PATH_MAX], pidfile[PATH_MAX], cmd[PATH_MAX + 64];
	char *cmds[] = { cmd, "echo never" };
	struct check_limits lim = limits(WATCHDOG_MS / 2, 4096);
	struct drive d = { 0 };

	tu_mkdtemp(dir, sizeof(dir));
	tu_join(pidfile, sizeof(pidfile), dir, "pid");
	snprintf(cmd, sizeof(cmd), "echo started; sleep 30 & echo $! >%s; "
	    "wait", pidfile);
	d.cancel_file = pidfile;
	lim.sandbox.off = true;		/* the pid file: as run_pidfile */
	drive(&d, NULL, cmds, 2, &lim);
	assert_true(d.cancelled);
	assert_false(d.all);
	assert_true(d.t_cancel != 0);
	assert_true(d.t_done - d.t_cancel < 5000);
	assert_int_equal(d.n, 1);
	assert_false(d.r[0].passed);
	assert_false(d.r[0].timed_out);
	assert_int_equal(d.r[0].exit_status, -1);
	assert_int_equal(d.r[0].term_signal, SIGKILL);
	assert_string_equal(d.r[0].output, "started\n");
	assert_gone(read_pid(pidfile));
	drive_free(&d);
	tu_rmtree(dir);
}

static void
test_cancel_at_once(void **state)
{
	char *cmds[] = { "sleep 30", "echo never" };
	struct check_limits lim = limits(WATCHDOG_MS / 2, 4096);
	struct drive d = { 0 };

	drive_start(&d, child_bin(), NULL, cmds, 2, &lim);
	checks_cancel(d.run);
	checks_cancel(d.run);
	drive_finish(&d);
	assert_true(d.cancelled);
	assert_false(d.all);
	assert_true(d.n <= 1);
	assert_true(d.t_done - d.t_start < 5000);
	drive_free(&d);
}

static void
test_empty_run(void **state)
{
	struct drive d = { 0 };

	drive_start(&d, "/nonexistent/masterd-worker", NULL, NULL, 0, NULL);
	drive_finish(&d);
	assert_int_equal(d.n, 0);
	assert_true(d.all);
	assert_false(d.cancelled);
	assert_int_equal(json_array_size(d.json), 0);
	drive_free(&d);
}

/* ------------------------------------------------------------ JSON */

static void
test_json_shape(void **state)
{
	struct check_result r[2] = {
		{ "make test", 0, 0, false, true, 1234, "ok\n", false, false },
		{ "make lint", -1, SIGKILL, true, false, 300,
		    "bad \xff byte", true, false },
	};
	json_t *j = check_results_json(r, 2), *o;
	char *cmd = strdup("x \xc3");

	assert_non_null(j);
	assert_true(json_is_array(j));
	assert_int_equal(json_array_size(j), 2);
	o = json_array_get(j, 0);
	assert_int_equal(json_object_size(o), 8);
	assert_string_equal(json_string_value(json_object_get(o, "command")),
	    "make test");
	assert_true(json_is_true(json_object_get(o, "passed")));
	assert_int_equal(json_integer_value(json_object_get(o,
	    "exit_status")), 0);
	assert_int_equal(json_integer_value(json_object_get(o, "signal")), 0);
	assert_true(json_is_false(json_object_get(o, "timed_out")));
	assert_int_equal(json_integer_value(json_object_get(o,
	    "duration_ms")), 1234);
	assert_string_equal(json_string_value(json_object_get(o, "output")),
	    "ok\n");
	assert_true(json_is_false(json_object_get(o, "truncated")));
	o = json_array_get(j, 1);
	assert_true(json_is_false(json_object_get(o, "passed")));
	assert_int_equal(json_integer_value(json_object_get(o,
	    "exit_status")), -1);
	assert_int_equal(json_integer_value(json_object_get(o, "signal")),
	    SIGKILL);
	assert_true(json_is_true(json_object_get(o, "timed_out")));
	assert_true(json_is_true(json_object_get(o, "truncated")));
	/* Not UTF-8 in, valid JSON out. */
	assert_string_equal(json_string_value(json_object_get(o, "output")),
	    "bad ? byte");
	json_decref(j);

	/* A NULL output and a command cut mid-character. */
	r[0].output = NULL;
	r[0].command = cmd;
	j = check_results_json(r, 1);
	assert_non_null(j);
	o = json_array_get(j, 0);
	assert_string_equal(json_string_value(json_object_get(o, "output")),
	    "");
	assert_string_equal(json_string_value(json_object_get(o, "command")),
	    "x ?");
	json_decref(j);
	free(cmd);

	j = check_results_json(NULL, 0);
	assert_non_null(j);
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);
}

/* ------------------------------------------------------------ sandbox */

/*
 * These run the real sandbox (strict, the default) and assert what a
 * check inside it can and cannot do; tests/e2e/sandbox.sh tries the same
 * escapes through masterd.
 */

/* cmd in a new worktree dir (the caller removes it), under lim. */
static void
run_in(struct drive *d, char *dir, size_t len, const char *cmd,
    struct check_limits *lim)
{
	char *cmds[] = { (char *)cmd };

	tu_mkdtemp(dir, len);
	memset(d, 0, sizeof(*d));
	drive(d, dir, cmds, 1, lim);
	assert_int_equal(d->n, 1);
	assert_non_null(d->r[0].output);
	if (!d->r[0].passed)
		print_message("exit %d signal %d output [%s]\n",
		    d->r[0].exit_status, d->r[0].term_signal, d->r[0].output);
}

/* Files: the worktree and a private /tmp are writable, nothing else;
 * a hidden path is not there at all. */
static void
test_sandbox_files(void **state)
{
	char dir[PATH_MAX], secret_dir[PATH_MAX], secret[PATH_MAX],
	    cmd[4 * PATH_MAX], mark[PATH_MAX];
	struct check_limits lim = limits(WATCHDOG_MS / 2, 8192);
	const char *hide[1];
	struct drive d;

	(void)state;
	(void)child_bin();
	tu_mkdtemp(secret_dir, sizeof(secret_dir));
	tu_join(secret, sizeof(secret), secret_dir, "key");
	tu_write_file(secret, "sk-hidden-7d1e\n");
	hide[0] = secret_dir;
	lim.sandbox.hide = hide;
	lim.sandbox.nhide = 1;
	snprintf(mark, sizeof(mark), "/tmp/masterd-sandbox-mark.%d",
	    (int)getpid());
	snprintf(cmd, sizeof(cmd),
	    "cat %s; ls %s; echo x >%s/y || echo deny-secret-dir; "
	    "echo x >/etc/masterd-sandbox-test || echo deny-etc; "
	    "echo x >%s && echo private-tmp; "
	    "echo w >worktree-file && echo worktree-ok; exit 0",
	    secret, secret_dir, secret_dir, mark);
	run_in(&d, dir, sizeof(dir), cmd, &lim);
	assert_null(strstr(d.r[0].output, "sk-hidden"));
	assert_non_null(strstr(d.r[0].output, "deny-secret-dir"));
	assert_non_null(strstr(d.r[0].output, "deny-etc"));
	assert_non_null(strstr(d.r[0].output, "private-tmp"));
	assert_non_null(strstr(d.r[0].output, "worktree-ok"));
	assert_true(d.r[0].passed);
	/* The private /tmp was not the host's; the worktree was real. */
	assert_int_equal(access(mark, F_OK), -1);
	tu_join(mark, sizeof(mark), dir, "worktree-file");
	assert_int_equal(access(mark, F_OK), 0);
	drive_free(&d);
	tu_rmtree(dir);
	tu_rmtree(secret_dir);
}

/* A background process in a session of its own dies with the check. */
static void
test_sandbox_setsid(void **state)
{
	char dir[PATH_MAX], cmd[256];
	struct check_limits lim = limits(WATCHDOG_MS / 2, 4096);
	struct drive d;
	unsigned token = (unsigned)getpid();

	(void)state;
	(void)child_bin();
	/* A sleep whose length names it: nothing else runs `sleep 4321.N`. */
	snprintf(cmd, sizeof(cmd), "setsid sleep 4321.%u >/dev/null 2>&1 "
	    "</dev/null & echo started", token);
	run_in(&d, dir, sizeof(dir), cmd, &lim);
	assert_true(d.r[0].passed);
	snprintf(cmd, sizeof(cmd), "sleep 4321.%u", token);
	assert_false(tu_process_running(cmd));
	drive_free(&d);
	tu_rmtree(dir);
}

/* The network is a private loopback: a server of the check's own works,
 * the host's loopback does not answer. */
static void
test_sandbox_loopback(void **state)
{
	char dir[PATH_MAX];
	struct check_limits lim = limits(WATCHDOG_MS / 2, 4096);
	struct drive d;

	(void)state;
	(void)child_bin();
	if (access("/usr/bin/python3", X_OK) != 0)
		skip();
	run_in(&d, dir, sizeof(dir), "/usr/bin/python3 -c '"
	    "import socket\n"
	    "s = socket.socket(); s.bind((\"127.0.0.1\", 0)); s.listen()\n"
	    "c = socket.create_connection(s.getsockname()); a, _ = s.accept()\n"
	    "c.sendall(b\"ping\"); print(a.recv(4).decode())\n"
	    "try:\n"
	    "    socket.create_connection((\"192.0.2.1\", 80), timeout=2)\n"
	    "except OSError as e: print(\"unreachable\", e.errno)\n'", &lim);
	assert_true(d.r[0].passed);
	assert_non_null(strstr(d.r[0].output, "ping"));
	assert_non_null(strstr(d.r[0].output, "unreachable"));
	drive_free(&d);
	tu_rmtree(dir);
}

/* Processes and file size are bounded. */
static void
test_sandbox_limits(void **state)
{
	char dir[PATH_MAX];
	struct check_limits lim = limits(WATCHDOG_MS / 2, 8192);
	struct drive d;

	(void)state;
	(void)child_bin();
	lim.processes = 16;
	lim.file_size = 1 << 20;
	run_in(&d, dir, sizeof(dir), "head -c 2097152 /dev/zero >big; "
	    "echo size=$(wc -c <big); i=0; "
	    "while [ $i -lt 600 ]; do sleep 60 & i=$((i + 1)); done; "
	    "echo forked $i", &lim);
	assert_non_null(strstr(d.r[0].output, "size=1048576"));
	assert_null(strstr(d.r[0].output, "forked 600"));
	drive_free(&d);
	tu_rmtree(dir);
}

/* A sandbox that cannot be built is said so, and nothing runs. */
static void
test_sandbox_cannot(void **state)
{
	char dir[PATH_MAX], mark[PATH_MAX], cmd[PATH_MAX + 32];
	struct check_limits lim = limits(WATCHDOG_MS / 2, 4096);
	struct drive d;

	(void)state;
	(void)child_bin();
	setenv(SANDBOX_LACKS_ENV, "landlock", 1);
	tu_mkdtemp(dir, sizeof(dir));
	tu_join(mark, sizeof(mark), dir, "ran");
	snprintf(cmd, sizeof(cmd), "echo x >%s", mark);
	tu_rmtree(dir);
	run_in(&d, dir, sizeof(dir), cmd, &lim);
	unsetenv(SANDBOX_LACKS_ENV);
	assert_false(d.r[0].passed);
	assert_true(d.r[0].sandbox_failed);
	assert_non_null(strstr(d.r[0].output, "masterd sandbox: Landlock"));
	drive_free(&d);
	tu_rmtree(dir);
	/* And a command that fails on its own is not a sandbox failure. */
	run_in(&d, dir, sizeof(dir), "echo masterd sandbox: fake >&2; exit 126",
	    &lim);
	assert_false(d.r[0].passed);
	assert_false(d.r[0].sandbox_failed);
	drive_free(&d);
	tu_rmtree(dir);
}

/* ------------------------------------------------------------ exec-check */

/* checkexec_main's exit status, run in a child of ours: it writes to
 * descriptor 3, which is the report pipe only under the runner. */
static int
exec_check(const char *a1, const char *a2, const char *a3, const char *a4,
    const char *a5)
{
	char *argv[] = { "masterd-worker", (char *)a1, (char *)a2, (char *)a3,
	    (char *)a4, (char *)a5, NULL };
	int argc = 0, status, null;
	pid_t pid;

	while (argv[argc] != NULL)
		argc++;
	if ((pid = fork()) == 0) {
		null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		dup2(null, 3);
		_exit(checkexec_main(argc, argv));
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* Only failures: a valid request would replace the test with /bin/sh. */
static void
test_exec_check_args(void **state)
{
	static const char *const bad[][5] = {
		{ "--exec-check", NULL, NULL, NULL, NULL },
		{ "--exec-check", "--", NULL, NULL, NULL },
		{ "--exec-check", "true", NULL, NULL, NULL },
		{ "--exec-check", "--cpu", "2", "true", NULL },
		{ "--exec-check", "--cpu", "-1", "--", "true" },
		{ "--exec-check", "--memory", "+2", "--", "true" },
		{ "--exec-check", "--cpu", "1x", "--", "true" },
		{ "--exec-check", "--cpu", "", "--", "true" },
		{ "--exec-check", "--processes", " 1", "--", "true" },
		{ "--exec-check", "--file-size", "99999999999999999999999",
		    "--", "true" },
		{ "--exec-check", "--cpu", "--", "true", NULL },
		{ "--exec-check", "--", "", NULL, NULL },
		{ "--exec-check", "--", "true", "false", NULL },
		{ "--exec-check", "--bogus", "1", "--", "true" },
		{ "--other", "--", "true", NULL, NULL },
	};

	(void)state;
	for (size_t i = 0; i < TU_NITEMS(bad); i++)
		assert_int_equal(exec_check(bad[i][0], bad[i][1], bad[i][2],
		    bad[i][3], bad[i][4]), 126);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pass),
		cmocka_unit_test(test_fail),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_all_pass),
		cmocka_unit_test(test_interleaved),
		cmocka_unit_test(test_stdin_null),
		cmocka_unit_test(test_cwd),
		cmocka_unit_test(test_cwd_missing),
		cmocka_unit_test(test_self_missing),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_cpu_limit),
		cmocka_unit_test(test_memory_limit),
		cmocka_unit_test(test_trim_50mb),
		cmocka_unit_test(test_trim_exact),
		cmocka_unit_test(test_trim_bounds),
		cmocka_unit_test(test_not_utf8),
		cmocka_unit_test(test_pipe_held_open),
		cmocka_unit_test(test_no_leftovers),
		cmocka_unit_test(test_secrets),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_cancel_at_once),
		cmocka_unit_test(test_empty_run),
		cmocka_unit_test(test_json_shape),
		cmocka_unit_test(test_sandbox_files),
		cmocka_unit_test(test_sandbox_setsid),
		cmocka_unit_test(test_sandbox_loopback),
		cmocka_unit_test(test_sandbox_limits),
		cmocka_unit_test(test_sandbox_cannot),
		cmocka_unit_test(test_exec_check_args),
	};

	tu_filter();
	/* As masterd-worker does: the checks must get the default back. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
