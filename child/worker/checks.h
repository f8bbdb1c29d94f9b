/*
 * checks.h — running check commands (build, lint, test, integration and
 * contract tests): model-written code, so each runs in the sandbox.
 *
 * Each command runs through `/bin/sh -c` in the directory being checked,
 * in its own session and process group (killed whole on timeout or
 * cancel), with stdin from /dev/null, rlimits, an allow-list environment
 * and its output (stdout and stderr together) captured and trimmed to a
 * budget: the head and the tail are kept, the middle is replaced by a
 * note.  The sandbox and the rlimits are set up by masterd-worker itself
 * re-executed as `masterd-worker --exec-check` (checkexec.c, sandbox.c),
 * since uv_spawn has no pre-exec hook.
 */
#ifndef CHILD_CHECKS_H
#define CHILD_CHECKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

/*
 * Where a command runs (sandbox.h says what each part means).  The
 * strings are borrowed for the duration of checks_run(): it copies what
 * it keeps.
 */
struct check_sandbox {
	bool off;		/* [masterd] sandbox = off: unconfined */
	bool network;		/* [domain] network = yes: the host's
				 * network, not a private loopback */
	const char *const *read;	/* more read-only trees */
	size_t nread;		/* ([masterd] sandbox_read) */
	const char *const *hide;	/* never visible: the state directory,
				 * key files, the credentials directory */
	size_t nhide;
	const char *const *env;	/* variables passed on by name
				 * ([domain] env), beyond PATH, HOME,
				 * LANG and TMPDIR */
	size_t nenv;
};

struct check_limits {
	uint64_t timeout_ms;	/* wall clock per command */
	uint64_t cpu_seconds;	/* RLIMIT_CPU */
	uint64_t memory_bytes;	/* RLIMIT_AS */
	uint64_t processes;	/* RLIMIT_NPROC in the sandbox */
	uint64_t file_size;	/* RLIMIT_FSIZE, bytes */
	uint64_t tmp_size;	/* the sandbox's private /tmp, bytes */
	size_t output_max;	/* bytes of output kept per command */
	struct check_sandbox sandbox;
};

/* 0 means "no limit" for every number but output_max. */
#define CHECK_LIMITS_DEFAULT { \
	.timeout_ms = 300000, .cpu_seconds = 300, .memory_bytes = 2ull << 30, \
	.processes = 256, .file_size = 256ull << 20, .tmp_size = 256ull << 20, \
	.output_max = 16384 }

struct check_result {
	char *command;
	int exit_status;	/* -1 when killed by a signal */
	int term_signal;
	bool timed_out;
	bool passed;		/* exit status 0, not timed out */
	uint64_t duration_ms;
	char *output;		/* trimmed, NUL-terminated */
	bool truncated;
	bool sandbox_failed;	/* the sandbox could not be built: the
				 * command did not run, output says why */
};

/* Called once, when every command has run or the run was cancelled.  The
 * results belong to the run and are freed after the callback. */
typedef void checks_done_fn(const struct check_result *results, size_t n,
    bool all_passed, bool cancelled, void *arg);

struct check_run;

/*
 * Run the commands one after the other (all of them, so that every failure
 * is reported) in cwd.  self is the path of the masterd-child executable.
 * Returns NULL (and calls nothing) if the run cannot start.
 */
struct check_run *checks_run(uv_loop_t *, const char *self, const char *cwd,
    char *const *commands, size_t n, const struct check_limits *,
    checks_done_fn *, void *arg);

/* Kill the running command's group; done_fn follows with cancelled. */
void checks_cancel(struct check_run *);

/* [{"command","passed","exit_status","signal","timed_out","duration_ms",
 *   "output","truncated"}] */
json_t *check_results_json(const struct check_result *, size_t n);

/* `masterd-worker --exec-check [OPTIONS] -- COMMAND` (checkexec.c says
 * which): build the sandbox, set the limits and run /bin/sh -c COMMAND;
 * returns its exit status. */
int checkexec_main(int argc, char **argv);

#endif
