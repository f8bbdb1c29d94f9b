/*
 * checkexec.c — `masterd-worker --exec-check [OPTIONS] -- COMMAND`: the
 * last steps before a check command runs.
 *
 * uv_spawn has no pre-exec hook, so the checks runner (checks.c) spawns
 * masterd-worker again in this mode; it is already in its own session
 * (UV_PROCESS_DETACHED), with stdin on /dev/null, stdout and stderr on the
 * capture pipe and the sandbox's report pipe on descriptor 3.  Here the
 * options become a sandbox_spec and sandbox.c takes over.
 *
 *   --off                 sandbox = off: rlimits and the environment only
 *   --network             keep the host's network
 *   --cpu SECONDS  --memory BYTES  --processes N  --file-size BYTES
 *   --tmp-size BYTES      limits; 0 (the default) is no limit
 *   --read DIR            one more read-only tree (repeatable)
 *   --hide PATH           never visible to the command (repeatable)
 *   --lacks LIST          act as if the kernel lacked these (tests)
 *
 * The directory checked is the current one.  Errors exit 126 (bad
 * request, cannot set up) or 127 (/bin/sh not found), as a shell would,
 * with one line on stderr, which the runner captures as output.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
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
#include "child/worker/sandbox.h"

#define EXIT_CANNOT_EXEC	126

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

/* RLIMIT_CORE 0: core files could hold secrets from the command. */
static int
no_core(void)
{
	struct rlimit rl = { 0, 0 };

	return setrlimit(RLIMIT_CORE, &rl);
}

/*
 * Whatever masterd-worker inherited beyond stdio and the report pipe (its
 * channel to the relay, a descriptor someone forgot to mark
 * close-on-exec) must not reach generated code.
 */
static void
close_from(int first)
{
	long max;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)first, ~0U, 0U) == 0)
		return;
#endif
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (int fd = first; fd < max; fd++)
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
 * group (the sandbox's init dies with us, and its namespace with it).
 */
static int
watch_parent(void)
{
	signal(SIGTERM, on_parent_death);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
		sandbox_report("PR_SET_PDEATHSIG: %s", strerror(errno));
		return EXIT_CANNOT_EXEC;
	}
	if (getppid() == 1)	/* the parent died before the prctl */
		return EXIT_CANNOT_EXEC;
	return 0;
}

/* A list option: one more pointer into argv.  0, or -1. */
static int
push(char ***list, size_t *n, char *value)
{
	char **v = realloc(*list, (*n + 1) * sizeof(**list));

	if (v == NULL)
		return -1;
	v[(*n)++] = value;
	*list = v;
	return 0;
}

/* An option with a value: 0 when known and good, -1 otherwise. */
static int
option(struct sandbox_spec *s, const char *o, char *v)
{
	static const struct { const char *opt; size_t off; } numbers[] = {
		{ "--cpu", offsetof(struct sandbox_spec, cpu_seconds) },
		{ "--memory", offsetof(struct sandbox_spec, memory_bytes) },
		{ "--processes", offsetof(struct sandbox_spec, processes) },
		{ "--file-size", offsetof(struct sandbox_spec, file_size) },
		{ "--tmp-size", offsetof(struct sandbox_spec, tmp_size) },
	};

	for (size_t k = 0; k < sizeof(numbers) / sizeof(numbers[0]); k++) {
		if (strcmp(o, numbers[k].opt) != 0)
			continue;
		if (parse_u64(v, (uint64_t *)(void *)((char *)s +
		    numbers[k].off)) == 0)
			return 0;
		sandbox_report("--exec-check %s: not a number: %s", o, v);
		return -1;
	}
	if (strcmp(o, "--read") == 0 || strcmp(o, "--hide") == 0) {
		if ((o[2] == 'r' ? push(&s->read, &s->nread, v) :
		    push(&s->hide, &s->nhide, v)) == 0)
			return 0;
		sandbox_report("--exec-check: out of memory");
		return -1;
	}
	if (strcmp(o, "--lacks") == 0) {
		s->lacks = v;
		return 0;
	}
	sandbox_report("--exec-check: unknown option %s", o);
	return -1;
}

/* argv[2..] up to "--" into s; the command's index, or -1. */
static int
parse(int argc, char **argv, struct sandbox_spec *s)
{
	int i;

	for (i = 2; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--off") == 0)
			s->off = true;
		else if (strcmp(argv[i], "--network") == 0)
			s->network = true;
		else if (i + 1 >= argc || strcmp(argv[i + 1], "--") == 0) {
			sandbox_report("--exec-check %s: needs a value",
			    argv[i]);
			return -1;
		} else if (option(s, argv[i], argv[i + 1]) != 0)
			return -1;
		else
			i++;
	}
	if (i + 2 != argc || *argv[i + 1] == '\0') {
		sandbox_report("usage: masterd-worker --exec-check [OPTIONS] "
		    "-- COMMAND");
		return -1;
	}
	return i + 1;
}

int
checkexec_main(int argc, char **argv)
{
	struct sandbox_spec s = { 0 };
	char cwd[PATH_MAX];
	int cmd, rc;

	if (argc < 2 || strcmp(argv[1], "--exec-check") != 0 ||
	    (cmd = parse(argc, argv, &s)) < 0) {
		free(s.read);
		free(s.hide);
		return EXIT_CANNOT_EXEC;
	}
	reset_signals();
	close_from(SANDBOX_REPORT_FD + 1);
	/* The report pipe is ours, not the command's. */
	(void)fcntl(SANDBOX_REPORT_FD, F_SETFD, FD_CLOEXEC);
	rc = EXIT_CANNOT_EXEC;
	if (no_core() != 0)
		sandbox_report("RLIMIT_CORE: %s", strerror(errno));
	else if (getcwd(cwd, sizeof(cwd)) == NULL)
		sandbox_report("the current directory: %s", strerror(errno));
	else if ((rc = watch_parent()) == 0) {
		s.workdir = cwd;
		rc = sandbox_exec(&s, argv[cmd]);
	}
	free(s.read);
	free(s.hide);
	return rc;
}
