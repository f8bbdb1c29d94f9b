/*
 * checkexec.c — `masterd-worker --exec-check CPU_SECONDS MEMORY_BYTES --
 * COMMAND`: the last step before a check command runs.
 *
 * uv_spawn has no pre-exec hook, so the checks runner (checks.c) spawns
 * masterd-worker again in this mode; it is already in its own session
 * (UV_PROCESS_DETACHED), with stdin on /dev/null and stdout and stderr on
 * the capture pipe.  Here the rlimits are set and /bin/sh replaces us.
 *
 * A limit of 0 means "no limit" for both numbers (a CPU limit of 0 seconds
 * would be useless, and Linux turns it into 1 s anyway).  Errors exit 126
 * (bad request, cannot set up) or 127 (/bin/sh not found), as a shell
 * would, with one line on stderr, which the runner captures as output.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child/worker/checks.h"

#define EXIT_CANNOT_EXEC	126
#define EXIT_NOT_FOUND		127
#define SHELL			"/bin/sh"

/*
 * One line to stderr without stdio: after RLIMIT_AS is set, a sanitizer
 * runtime or stdio buffer may fail to allocate, and the line matters more.
 */
static int
fail(int code, const char *what, const char *detail)
{
	char line[512];
	int n;

	n = snprintf(line, sizeof(line), "masterd-worker --exec-check: %s%s%s\n",
	    what, detail != NULL ? ": " : "", detail != NULL ? detail : "");
	if (n > 0)
		(void)write(STDERR_FILENO, line, (size_t)n < sizeof(line) ?
		    (size_t)n : sizeof(line) - 1);
	return code;
}

/* Decimal digits only: no sign, no blanks, no overflow. */
static int
parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/*
 * Set soft = hard = value, lowered to the hard limit we already have: an
 * unprivileged process cannot raise it, and a stricter limit set by the
 * administrator should win anyway.
 */
static int
limit(int resource, uint64_t value)
{
	struct rlimit rl;

	if (getrlimit(resource, &rl) != 0)
		return -1;
	if (rl.rlim_max != RLIM_INFINITY && value > rl.rlim_max)
		value = rl.rlim_max;
	rl.rlim_cur = rl.rlim_max = (rlim_t)value;
	return setrlimit(resource, &rl);
}

/*
 * Whatever masterd-worker inherited beyond stdio (its channel to the relay,
 * a descriptor someone forgot to mark close-on-exec) must not reach
 * generated code.
 */
static void
close_from_3(void)
{
	long max;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0)
		return;
#endif
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (int fd = 3; fd < max; fd++)
		(void)close(fd);
}

/* Default signal handling and an empty mask, whoever started us. */
static void
reset_signals(void)
{
	sigset_t none;

	(void)signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The command: its limits, then the shell. */
static void
run_command(uint64_t cpu, uint64_t mem, const char *command)
{
	if (cpu != 0 && limit(RLIMIT_CPU, cpu) != 0)
		_exit(fail(EXIT_CANNOT_EXEC, "RLIMIT_CPU", strerror(errno)));
	/* Last: from here on, this process itself may fail to allocate. */
	if (mem != 0 && limit(RLIMIT_AS, mem) != 0)
		_exit(fail(EXIT_CANNOT_EXEC, "RLIMIT_AS", strerror(errno)));
	execl(SHELL, "sh", "-c", command, (char *)NULL);
	_exit(fail(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC,
	    "cannot run " SHELL, strerror(errno)));
}

/* masterd-worker is gone: take the whole group down with us. */
static void
on_parent_death(int sig)
{
	(void)sig;
	kill(0, SIGKILL);
	_exit(EXIT_CANNOT_EXEC);
}

/*
 * We lead the command's process group (uv_spawn made us a session
 * leader), outside masterd-worker's group: if masterd-worker is killed,
 * nobody would end the command or enforce its timeout.  So we stay as a
 * small reaper: the kernel tells us when our parent dies, and we kill the
 * group; otherwise we pass the command's exit on as our own.
 */
static int
reap(uint64_t cpu, uint64_t mem, const char *command)
{
	int status;
	pid_t pid;

	signal(SIGTERM, on_parent_death);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0)
		return fail(EXIT_CANNOT_EXEC, "PR_SET_PDEATHSIG",
		    strerror(errno));
	if (getppid() == 1)	/* the parent died before the prctl */
		return EXIT_CANNOT_EXEC;
	if ((pid = fork()) < 0)
		return fail(EXIT_CANNOT_EXEC, "fork", strerror(errno));
	if (pid == 0) {
		signal(SIGTERM, SIG_DFL);
		run_command(cpu, mem, command);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return fail(EXIT_CANNOT_EXEC, "waitpid", strerror(errno));
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	/* Die the same death, so the runner reports the signal. */
	signal(WTERMSIG(status), SIG_DFL);
	raise(WTERMSIG(status));
	return 128 + WTERMSIG(status);
}

int
checkexec_main(int argc, char **argv)
{
	uint64_t cpu, mem;

	if (argc != 6 || strcmp(argv[1], "--exec-check") != 0 ||
	    strcmp(argv[4], "--") != 0)
		return fail(EXIT_CANNOT_EXEC, "usage: masterd-worker "
		    "--exec-check CPU_SECONDS MEMORY_BYTES -- COMMAND", NULL);
	if (parse_u64(argv[2], &cpu) != 0)
		return fail(EXIT_CANNOT_EXEC, "bad CPU seconds", argv[2]);
	if (parse_u64(argv[3], &mem) != 0)
		return fail(EXIT_CANNOT_EXEC, "bad memory bytes", argv[3]);
	if (*argv[5] == '\0')
		return fail(EXIT_CANNOT_EXEC, "empty command", NULL);

	reset_signals();
	close_from_3();
	/* Core files could hold secrets from the command's memory. */
	if (limit(RLIMIT_CORE, 0) != 0)
		return fail(EXIT_CANNOT_EXEC, "RLIMIT_CORE", strerror(errno));
	return reap(cpu, mem, argv[5]);
}
