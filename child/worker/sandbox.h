/*
 * sandbox.h — the confinement of model-written code: every check command
 * (configured, planned, proposed, run through a model's tool, integration
 * and contract tests) and everything it starts.
 *
 * Built from kernel interfaces, without root and without a helper daemon,
 * in `masterd-worker --exec-check` (checkexec.c), in three processes:
 *
 *   reaper   spawned by the checks runner, session leader, in the
 *            worker's namespaces; unshares a user, mount, PID and (unless
 *            the domain has network = yes) network namespace, maps its
 *            own uid and gid into it, and waits for the init below.
 *   init     pid 1 of the new PID namespace: mounts a private /proc, a
 *            private tmpfs on /tmp and /dev/shm, hides the state
 *            directory, key files and credentials behind empty mounts
 *            (the worktree is bound back where it was), brings up the
 *            private loopback, sets the process limit, forks the command
 *            and reaps.  When the command exits, init exits with its
 *            status and the kernel kills everything left in the
 *            namespace, setsid or not; init dies with the reaper.
 *   command  rlimits (CPU, address space, file size, processes, no
 *            core), no capabilities, no new privileges, Landlock (system
 *            directories read-only, the worktree and the private /tmp
 *            read-write, nothing else; signal and abstract-socket
 *            scoping where the ABI has them), a seccomp filter
 *            (libseccomp: no ptrace, mount, namespaces, keyctl, bpf,
 *            perf_event_open, ...), then /bin/sh -c COMMAND.
 *
 * `sandbox = off` (said explicitly in the configuration) skips all of it
 * but the rlimits and the environment.  A sandbox that cannot be built is
 * never replaced by a weaker one: the command does not run, and the
 * runner is told why on the report descriptor (SANDBOX_REPORT_FD).
 *
 * For tests, MASTERD_SANDBOX_LACKS=user,mount,pid,net,landlock,seccomp
 * makes the probe and the builder act as if the kernel lacked those.
 */
#ifndef CHILD_SANDBOX_H
#define CHILD_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The runner reads why a sandbox could not be built from this descriptor
 * of the --exec-check process (close-on-exec for the command). */
#define SANDBOX_REPORT_FD	3

#define SANDBOX_LACKS_ENV	"MASTERD_SANDBOX_LACKS"

struct sandbox_spec {
	bool off;		/* unconfined but for rlimits */
	const char *lacks;	/* MASTERD_SANDBOX_LACKS, or NULL */
	bool network;		/* keep the host's network */
	const char *workdir;	/* read-write: the directory checked */
	char **read;		/* more read-only trees */
	size_t nread;
	char **hide;		/* never visible */
	size_t nhide;
	uint64_t cpu_seconds;	/* 0: no limit, for each number */
	uint64_t memory_bytes;
	uint64_t processes;
	uint64_t file_size;
	uint64_t tmp_size;
};

/*
 * Run command under spec; returns the exit status to pass on (the command's,
 * or 126 when the sandbox could not be built, after a line on the report
 * descriptor and on stderr).  Called in the reaper: the process that
 * uv_spawn started.
 */
int sandbox_exec(const struct sandbox_spec *, const char *command);

/*
 * `masterd-worker --sandbox-probe`: whether `strict` can be built here,
 * as the checks would build it (same user, same unit), on stdout as one
 * JSON object:
 *
 *   {"strict": true|false,
 *    "summary": "user, mount, PID and network namespaces; Landlock ABI 7
 *                (signal scoping); seccomp; ...",
 *    "features": [{"name": "user namespaces", "ok": true,
 *                  "detail": "..."}, ...],
 *    "missing": [{"name": "...", "error": "...", "fix": "..."}, ...],
 *    "notes": ["...", ...]}
 *
 * Exit status 0 when strict is available, 1 when something is missing,
 * 2 when the probe itself failed.
 */
int sandbox_probe_main(int argc, char **argv);

/* ---------------------------------------------- between the sandbox's files */

/* One line "masterd sandbox: ..." on the report descriptor and stderr. */
void sandbox_report(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Whether the comma-separated list lacks names what. */
bool sandbox_lacks(const char *lacks, const char *what);

#endif
