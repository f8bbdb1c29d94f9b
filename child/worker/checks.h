/*
 * checks.h — running a domain's check commands (build, lint, test).
 *
 * Each command runs through `/bin/sh -c` in the domain's worktree, in its
 * own session and process group (killed whole on timeout or cancel), with
 * stdin from /dev/null, CPU and address-space rlimits, and its output
 * (stdout and stderr together) captured and trimmed to a budget: the head
 * and the tail are kept, the middle is replaced by a note.  The rlimits are
 * set by masterd-worker itself re-executed as `masterd-worker --exec-check`,
 * since uv_spawn has no pre-exec hook.
 */
#ifndef CHILD_CHECKS_H
#define CHILD_CHECKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

struct check_limits {
	uint64_t timeout_ms;	/* wall clock per command */
	uint64_t cpu_seconds;	/* RLIMIT_CPU */
	uint64_t memory_bytes;	/* RLIMIT_AS */
	size_t output_max;	/* bytes of output kept per command */
	const char *secret_env;	/* one more variable kept from commands
				 * (the configured key's), or NULL */
};

#define CHECK_LIMITS_DEFAULT { 300000, 300, 2ull << 30, 16384, NULL }

struct check_result {
	char *command;
	int exit_status;	/* -1 when killed by a signal */
	int term_signal;
	bool timed_out;
	bool passed;		/* exit status 0, not timed out */
	uint64_t duration_ms;
	char *output;		/* trimmed, NUL-terminated */
	bool truncated;
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

/* `masterd-worker --exec-check CPU_SECONDS MEMORY_BYTES -- COMMAND`: set
 * the limits and exec /bin/sh -c COMMAND.  Returns only on failure. */
int checkexec_main(int argc, char **argv);

#endif
